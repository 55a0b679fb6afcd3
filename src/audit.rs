//! The audit log: who changed Frontdesk's configuration, when, and from what to what.
//!
//! Every admin change (agents, teams, mailboxes, tags, saved replies, quarantine, and later
//! rules and SLA policies) calls [`record`] in the transaction that makes the change, from
//! the admin pages, the admin API and the CLI alike, so the log cannot miss a change that
//! happened or show one that was rolled back. Ticket changes are not here: they live on each
//! ticket's timeline (`tickets::timeline`).
//!
//! Secrets (mailbox passwords, agents' passwords, tokens) are never written: callers pass
//! [`SECRET_CHANGED`] in their place, or leave the field out when it did not change.

use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use time::OffsetDateTime;

/// What the log shows in place of a secret that changed (a password, a URL's password).
pub const SECRET_CHANGED: &str = "changed";

/// Who made a configuration change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditActor {
    /// A signed-in admin (web page or API token): their id and email.
    Agent { agent_id: i64, email: String },
    /// The `frontdesk` command line on the server.
    Cli,
    /// Frontdesk itself (an invitation that expired, a migration).
    System,
    /// A routing rule's action (e.g. `set_customer_vip`); `label` is `rule 'Name'`.
    Rule { rule_id: i64, label: String },
}

impl AuditActor {
    /// A rule as actor, shown as `rule 'Name'`.
    pub fn rule(rule_id: i64, name: &str) -> AuditActor {
        AuditActor::Rule {
            rule_id,
            label: format!("rule '{name}'"),
        }
    }

    /// An agent as actor.
    pub fn agent(agent: &crate::auth::Agent) -> AuditActor {
        AuditActor::Agent {
            agent_id: agent.agent_id,
            email: agent.email.clone(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            AuditActor::Agent { .. } => "agent",
            AuditActor::Cli => "cli",
            AuditActor::System => "system",
            AuditActor::Rule { .. } => "rule",
        }
    }

    fn agent_id(&self) -> Option<i64> {
        match self {
            AuditActor::Agent { agent_id, .. } => Some(*agent_id),
            _ => None,
        }
    }

    /// The actor as the log shows it: an email, `cli`, `system` or `rule 'Name'`.
    pub fn label(&self) -> &str {
        match self {
            AuditActor::Agent { email, .. } => email,
            AuditActor::Cli => "cli",
            AuditActor::System => "system",
            AuditActor::Rule { label, .. } => label,
        }
    }
}

/// Appends one entry to the audit log, in the caller's transaction.
///
/// `action` is `noun.verb` (`agent.invite`, `mailbox.update`); `target` names what changed
/// as people name it (an email, an address, a team name). `before` / `after` hold the changed
/// fields only (`None` for a creation's before or a deletion's after), with secrets replaced
/// by [`SECRET_CHANGED`].
pub async fn record(
    db: impl PgExecutor<'_>,
    actor: &AuditActor,
    action: &str,
    target: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into audit_event (actor_kind, agent_id, actor_label, action, target, before, after)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(actor.kind())
    .bind(actor.agent_id())
    .bind(actor.label())
    .bind(action)
    .bind(target)
    .bind(before.map(sqlx::types::Json))
    .bind(after.map(sqlx::types::Json))
    .execute(db)
    .await?;
    tracing::info!(
        actor = actor.label(),
        action,
        target,
        "configuration changed"
    );
    Ok(())
}

/// The fields of `before` and `after` (JSON objects) whose values differ, as two objects
/// holding only those fields; `None` when nothing changed. For logging an update with
/// exactly what it changed.
pub fn changed_fields(before: &Value, after: &Value) -> Option<(Value, Value)> {
    let (Value::Object(b), Value::Object(a)) = (before, after) else {
        return (before != after).then(|| (before.clone(), after.clone()));
    };
    let mut old = serde_json::Map::new();
    let mut new = serde_json::Map::new();
    for (k, v) in a {
        let was = b.get(k).unwrap_or(&Value::Null);
        if was != v {
            old.insert(k.clone(), was.clone());
            new.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in b {
        if !a.contains_key(k) {
            old.insert(k.clone(), v.clone());
            new.insert(k.clone(), Value::Null);
        }
    }
    (!new.is_empty()).then_some((Value::Object(old), Value::Object(new)))
}

/// One entry of the log as pages and `GET /api/v1/audit` show it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct AuditEvent {
    #[sqlx(rename = "audit_event_id")]
    pub id: i64,
    /// UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// An agent's email, `cli` or `system`.
    #[sqlx(rename = "actor_label")]
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<sqlx::types::Json<Value>>,
    pub after: Option<sqlx::types::Json<Value>>,
}

/// Which entries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor (an email, `cli` or `system`; case ignored).
    pub actor: Option<String>,
    /// Only actions of this noun (`agent`) or this exact action (`agent.invite`).
    pub action: Option<String>,
    /// Entries older than this id (the previous page's `next_cursor`).
    pub before_id: Option<i64>,
    /// At most this many (1..=500).
    pub limit: i64,
}

/// A page of the log, newest first, and the cursor of the next page (`None` at the end).
pub async fn list(
    db: impl PgExecutor<'_>,
    filter: &AuditFilter,
) -> sqlx::Result<(Vec<AuditEvent>, Option<i64>)> {
    let limit = filter.limit.clamp(1, 500);
    let mut events: Vec<AuditEvent> = sqlx::query_as(
        "select audit_event_id, at, actor_label, action, target, before, after
         from audit_event
         where ($1::text is null or lower(actor_label) = lower($1))
           and ($2::text is null or action = $2 or action like $2 || '.%')
           and ($3::bigint is null or audit_event_id < $3)
         order by audit_event_id desc
         limit $4",
    )
    .bind(filter.actor.as_deref())
    .bind(filter.action.as_deref())
    .bind(filter.before_id)
    .bind(limit + 1)
    .fetch_all(db)
    .await?;
    let next = if events.len() as i64 > limit {
        events.truncate(limit as usize);
        events.last().map(|e| e.id)
    } else {
        None
    };
    Ok((events, next))
}

/// The distinct actors and action nouns in the log, for the audit page's filters.
pub async fn filter_choices(
    db: impl PgExecutor<'_> + Copy,
) -> sqlx::Result<(Vec<String>, Vec<String>)> {
    let actors = sqlx::query_scalar("select distinct actor_label from audit_event order by 1")
        .fetch_all(db)
        .await?;
    let nouns = sqlx::query_scalar(
        "select distinct split_part(action, '.', 1) from audit_event order by 1",
    )
    .fetch_all(db)
    .await?;
    Ok((actors, nouns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_fields_keeps_only_what_differs() {
        let (b, a) = changed_fields(
            &json!({"name": "Dana", "role": "agent", "cap": null}),
            &json!({"name": "Dana", "role": "lead", "cap": 5}),
        )
        .unwrap();
        assert_eq!(b, json!({"role": "agent", "cap": null}));
        assert_eq!(a, json!({"role": "lead", "cap": 5}));
        assert!(changed_fields(&json!({"x": 1}), &json!({"x": 1})).is_none());
    }
}
