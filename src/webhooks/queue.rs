//! The delivery queue (`webhook_delivery`). Rows are written in the caller's transaction
//! ([`on_events`] from the timeline's hook, [`enqueue_rule`] from a rule's action), so a
//! delivery exists exactly when the change committed. The worker claims one due row at a time
//! with [`claim_next`] (`FOR UPDATE SKIP LOCKED`, then the row's `next_attempt_at` is pushed
//! forward by a lease, so no other node takes it while it is being delivered; a node that dies
//! mid-delivery leaves it to be retried when the lease ends) and records the outcome with
//! [`delivered`] or [`failed`].

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{FromRow, PgConnection, PgPool};
use time::OffsetDateTime;

use crate::tickets::timeline::Recorded;

/// The ticket as deliveries show it (`ticket` in the payload), for the row alias `t`:
/// `{"number", "subject", "status", "priority", "mailbox", "assignee", "team", "tags",
/// "customer", "created_at"}` (emails for the mailbox, assignee and customer; `created_at` is
/// RFC 3339 UTC).
const TICKET_JSON: &str = "jsonb_build_object(
        'number', t.ticket_id, 'subject', t.subject, 'status', t.status,
        'priority', t.priority,
        'mailbox', (select address from mailbox where mailbox_id = t.mailbox_id),
        'assignee', (select email from agent where agent_id = t.assignee_agent_id),
        'team', (select name from team where team_id = t.team_id),
        'tags', (select coalesce(jsonb_agg(g.name order by g.name), '[]'::jsonb)
                 from ticket_tag tt join tag g on g.tag_id = tt.tag_id
                 where tt.ticket_id = t.ticket_id),
        'customer', (select email from customer where customer_id = t.customer_id),
        'created_at', to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))";

/// Queues a delivery, for every enabled endpoint subscribed to it, of each recorded event
/// that maps to a webhook event ([`super::event_name`]), in one statement for the whole
/// slice. The payload: `{"ticket": {...}, "change": {"kind", "detail"}, "actor": {"kind",
/// "agent_id", "rule_id"}}` (the timeline event as the API shows it).
///
/// The payloads are built only for events some enabled endpoint subscribes to (one look-up
/// first): without endpoints, an ingest batch's 500 payloads cost 5 ms of a 350 ms batch.
pub async fn on_events(conn: &mut PgConnection, recorded: &[Recorded<'_>]) -> sqlx::Result<()> {
    if !recorded
        .iter()
        .any(|r| super::event_name(r.event).is_some())
    {
        return Ok(());
    }
    let subscribed: Vec<String> =
        sqlx::query_scalar("select distinct unnest(events) from webhook_endpoint where enabled")
            .fetch_all(&mut *conn)
            .await?;
    if subscribed.is_empty() {
        return Ok(());
    }
    let mut tickets = Vec::new();
    let mut events = Vec::new();
    let mut changes = Vec::new();
    let mut actors = Vec::new();
    for r in recorded {
        let Some(name) = super::event_name(r.event) else {
            continue;
        };
        if !subscribed.iter().any(|s| s == name) {
            continue;
        }
        tickets.push(r.ticket);
        events.push(name);
        changes.push(json!({"kind": r.event.kind(), "detail": r.event.detail()}));
        actors.push(json!({
            "kind": r.actor.kind(),
            "agent_id": r.actor.agent_id(),
            "rule_id": match r.actor { crate::tickets::timeline::Actor::Rule(id) => Some(id), _ => None },
        }));
    }
    if tickets.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "insert into webhook_delivery (webhook_endpoint_id, event, ticket_id, payload)
            select e.webhook_endpoint_id, x.event, x.ticket,
                   jsonb_build_object('ticket', {TICKET_JSON}, 'change', x.change, 'actor', x.actor)
            from unnest($1::bigint[], $2::text[], $3::jsonb[], $4::jsonb[]) with ordinality
                 as x(ticket, event, change, actor, n)
            join webhook_endpoint e on e.enabled and x.event = any(e.events)
            join ticket t on t.ticket_id = x.ticket
            order by x.n, e.webhook_endpoint_id"
    ))
    .bind(&tickets)
    .bind(&events)
    .bind(&changes)
    .bind(&actors)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Queues a rule's `webhook` action for `ticket`: event [`super::RULE_EVENT`], payload
/// `{"ticket": {...}, "rule": {"id", "name"}}`, to `url` (already checked by the rule's
/// validation; the address is checked again at delivery), signed when `secret` is set.
pub async fn enqueue_rule(
    conn: &mut PgConnection,
    ticket: i64,
    rule: (i64, &str),
    url: &str,
    secret: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "insert into webhook_delivery (url, secret, rule_id, event, ticket_id, payload)
         select $1, $2, (select rule_id from rule where rule_id = $3), $4, t.ticket_id,
                jsonb_build_object('ticket', {TICKET_JSON},
                                   'rule', jsonb_build_object('id', $3::bigint, 'name', $5::text))
         from ticket t where t.ticket_id = $6"
    ))
    .bind(url.trim())
    .bind(secret.filter(|s| !s.is_empty()))
    .bind(rule.0)
    .bind(super::RULE_EVENT)
    .bind(rule.1)
    .bind(ticket)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    pub webhook_delivery_id: i64,
    /// The event id the receiver sees (stable across retries).
    pub event_id: String,
    pub event: String,
    /// When the event happened (the row's creation, UTC).
    pub created_at: OffsetDateTime,
    pub payload: sqlx::types::Json<Value>,
    /// The URL to call (the endpoint's current URL, or the rule action's).
    pub url: String,
    /// The HMAC key (`None`: a rule action without a secret; sent unsigned).
    pub secret: Option<String>,
    pub webhook_endpoint_id: Option<i64>,
    /// Attempts so far, this one included (1 on the first).
    pub attempts: i32,
}

impl Claimed {
    /// The JSON body: `{"id", "event", "at", ...payload}`, the same bytes at every attempt.
    pub fn body(&self) -> Vec<u8> {
        let mut obj = serde_json::Map::new();
        obj.insert("id".into(), json!(self.event_id));
        obj.insert("event".into(), json!(self.event));
        obj.insert(
            "at".into(),
            json!(
                self.created_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            ),
        );
        if let Value::Object(p) = &self.payload.0 {
            for (k, v) in p {
                obj.insert(k.clone(), v.clone());
            }
        }
        serde_json::to_vec(&Value::Object(obj)).expect("JSON serialises")
    }
}

/// Claims the oldest due pending delivery (of an enabled endpoint, or a rule's), for `lease`:
/// its attempt count goes up and its next attempt moves to now + `lease`, in one statement, so
/// exactly one node gets it. `None` when nothing is due.
pub async fn claim_next(pool: &PgPool, lease: Duration) -> sqlx::Result<Option<Claimed>> {
    sqlx::query_as(
        "update webhook_delivery d
         set attempts = d.attempts + 1, last_attempt_at = now(),
             next_attempt_at = now() + make_interval(secs => $1)
         from (select d2.webhook_delivery_id from webhook_delivery d2
               left join webhook_endpoint e on e.webhook_endpoint_id = d2.webhook_endpoint_id
               where d2.state = 'pending' and d2.next_attempt_at <= now()
                 and (d2.webhook_endpoint_id is null or e.enabled)
               order by d2.next_attempt_at, d2.webhook_delivery_id
               limit 1
               for update of d2 skip locked) c
         where d.webhook_delivery_id = c.webhook_delivery_id
         returning d.webhook_delivery_id, d.event_id, d.event, d.created_at, d.payload,
                   coalesce(d.url, (select url from webhook_endpoint
                                    where webhook_endpoint_id = d.webhook_endpoint_id)) as url,
                   coalesce(d.secret, (select secret from webhook_endpoint
                                       where webhook_endpoint_id = d.webhook_endpoint_id)) as secret,
                   d.webhook_endpoint_id, d.attempts",
    )
    .bind(lease.as_secs_f64())
    .fetch_optional(pool)
    .await
}

/// Records a 2xx: the delivery is done (never sent again) and its endpoint is no longer
/// failing.
pub async fn delivered(pool: &PgPool, claimed: &Claimed, status: u16) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "update webhook_delivery set state = 'delivered', delivered_at = now(),
                last_status = $2, last_error = null
         where webhook_delivery_id = $1",
    )
    .bind(claimed.webhook_delivery_id)
    .bind(i32::from(status))
    .execute(&mut *tx)
    .await?;
    if let Some(endpoint) = claimed.webhook_endpoint_id {
        sqlx::query(
            "update webhook_endpoint set failing_since = null where webhook_endpoint_id = $1",
        )
        .bind(endpoint)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// How long to wait after the `attempts`-th failed attempt: `base` doubled per attempt after
/// the first, at most an hour.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    base.saturating_mul(1 << doublings)
        .min(Duration::from_secs(3600))
        .max(base.min(Duration::from_secs(3600)))
}

/// What [`failed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailOutcome {
    /// The delivery is given up (older than the retry window).
    pub given_up: bool,
    /// Its endpoint was disabled by this failure (failing for longer than the window).
    pub endpoint_disabled: bool,
}

/// Records a failed attempt (`status`: the HTTP status if there was an answer; `error`: what
/// went wrong). The delivery is retried after [`backoff`], or given up (`failed`) when it is
/// older than `window` (24 hours by default). Its endpoint is marked failing since now unless
/// it already was; when it has been failing for longer than `window` it is disabled, with the
/// reason shown in the console.
pub async fn failed(
    pool: &PgPool,
    claimed: &Claimed,
    status: Option<u16>,
    error: &str,
    base: Duration,
    window: Duration,
) -> sqlx::Result<FailOutcome> {
    let mut tx = pool.begin().await?;
    let wait = backoff(base, claimed.attempts);
    let given_up: bool = sqlx::query_scalar(
        "update webhook_delivery
         set last_status = $2, last_error = $3,
             state = case when created_at <= now() - make_interval(secs => $5)
                          then 'failed' else 'pending' end,
             next_attempt_at = now() + make_interval(secs => $4)
         where webhook_delivery_id = $1
         returning state = 'failed'",
    )
    .bind(claimed.webhook_delivery_id)
    .bind(status.map(i32::from))
    .bind(error)
    .bind(wait.as_secs_f64())
    .bind(window.as_secs_f64())
    .fetch_one(&mut *tx)
    .await?;
    let mut endpoint_disabled = false;
    if let Some(endpoint) = claimed.webhook_endpoint_id {
        let reason = format!(
            "Disabled by Frontdesk: deliveries failed for more than {} hours (last error: {error}).",
            (window.as_secs_f64() / 3600.0).round()
        );
        endpoint_disabled = sqlx::query_scalar(
            "update webhook_endpoint
             set failing_since = coalesce(failing_since, now()),
                 enabled = enabled and not coalesce(failing_since <= now() - make_interval(secs => $2), false),
                 disabled_at = case when enabled and failing_since <= now() - make_interval(secs => $2)
                                    then now() else disabled_at end,
                 disabled_reason = case when enabled and failing_since <= now() - make_interval(secs => $2)
                                        then $3 else disabled_reason end
             where webhook_endpoint_id = $1
             returning not enabled and disabled_at = now()",
        )
        .bind(endpoint)
        .bind(window.as_secs_f64())
        .bind(&reason)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(false);
        if endpoint_disabled {
            tracing::warn!(
                webhook.endpoint = endpoint,
                url = %claimed.url,
                error,
                "webhook endpoint failing for a day: disabled"
            );
        }
    }
    tx.commit().await?;
    Ok(FailOutcome {
        given_up,
        endpoint_disabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_an_hour() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 1), Duration::from_secs(30));
        assert_eq!(backoff(base, 2), Duration::from_secs(60));
        assert_eq!(backoff(base, 4), Duration::from_secs(240));
        assert_eq!(backoff(base, 12), Duration::from_secs(3600));
        assert_eq!(backoff(base, 1000), Duration::from_secs(3600));
        assert_eq!(
            backoff(Duration::from_millis(200), 1),
            Duration::from_millis(200)
        );
    }
}
