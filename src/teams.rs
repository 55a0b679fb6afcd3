//! Teams: groups of agents (`team_member`) who work some mailboxes (`team_mailbox`), and how
//! their new tickets are assigned (stored now, used by routing rules). Every change is
//! validated whole, then written in one transaction with its audit entry.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{FromRow, PgExecutor, PgPool, Postgres, Transaction};

use crate::audit::{self, AuditActor};

/// How a team's new tickets are assigned.
pub const ASSIGNMENT_MODES: [&str; 3] = ["manual", "round_robin", "least_loaded"];

/// A team with its members and mailboxes.
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct Team {
    #[serde(skip)]
    pub team_id: i64,
    pub name: String,
    /// `manual`, `round_robin` or `least_loaded`.
    pub assignment: String,
    /// Member emails, sorted.
    pub members: Vec<String>,
    /// Which of `members` are disabled.
    #[serde(skip)]
    pub disabled_members: Vec<String>,
    /// Addresses of the mailboxes the team works, sorted.
    pub mailboxes: Vec<String>,
    /// Members not seen in the web UI for this many minutes count as away for this team's
    /// assignment (`null`: only their own available / away switch counts).
    pub away_after_minutes: Option<i32>,
}

const SELECT: &str = "select t.team_id, t.name, t.assignment, t.away_after_minutes,
        coalesce((select array_agg(a.email order by lower(a.email)) from team_member m
                  join agent a using (agent_id) where m.team_id = t.team_id), '{}') as members,
        coalesce((select array_agg(a.email order by lower(a.email)) from team_member m
                  join agent a using (agent_id)
                  where m.team_id = t.team_id and a.disabled_at is not null), '{}') as disabled_members,
        coalesce((select array_agg(mb.address order by lower(mb.address)) from team_mailbox tm
                  join mailbox mb using (mailbox_id) where tm.team_id = t.team_id), '{}') as mailboxes
    from team t";

/// Every team, by name.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Team>> {
    sqlx::query_as(&format!("{SELECT} order by lower(t.name)"))
        .fetch_all(db)
        .await
}

/// The team with this exact name.
pub async fn get(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<Option<Team>> {
    sqlx::query_as(&format!("{SELECT} where t.name = $1"))
        .bind(name)
        .fetch_optional(db)
        .await
}

/// Why a team change was refused: `field` names the input at fault.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no such team")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn invalid(field: &'static str, message: impl Into<String>) -> TeamError {
    TeamError::Invalid {
        field,
        message: message.into(),
    }
}

/// A team to create or the change to make; `None` leaves a field alone, lists replace.
#[derive(Debug, Clone, Default)]
pub struct TeamChange {
    pub name: Option<String>,
    /// Agent emails.
    pub members: Option<Vec<String>>,
    /// Mailbox addresses.
    pub mailboxes: Option<Vec<String>>,
    pub assignment: Option<String>,
    /// `Some(None)` turns automatic away off; `Some(Some(n))` needs 1..=10080 (a week).
    pub away_after_minutes: Option<Option<i32>>,
}

/// Resolved ids of a validated change.
struct Resolved {
    members: Option<Vec<i64>>,
    mailboxes: Option<Vec<i64>>,
}

async fn resolve(
    tx: &mut Transaction<'_, Postgres>,
    change: &TeamChange,
) -> Result<Resolved, TeamError> {
    if let Some(a) = &change.assignment
        && !ASSIGNMENT_MODES.contains(&a.as_str())
    {
        return Err(invalid(
            "assignment",
            format!("{a:?} is not one of manual, round_robin, least_loaded"),
        ));
    }
    if let Some(Some(n)) = change.away_after_minutes
        && !(1..=10080).contains(&n)
    {
        return Err(invalid(
            "away_after_minutes",
            format!("must be 1 to 10080 minutes (a week), or empty for never; got {n}"),
        ));
    }
    let members = match &change.members {
        None => None,
        Some(emails) => {
            let mut ids = Vec::new();
            for e in emails {
                let id: i64 =
                    sqlx::query_scalar("select agent_id from agent where lower(email) = lower($1)")
                        .bind(e.trim())
                        .fetch_optional(&mut **tx)
                        .await?
                        .ok_or_else(|| invalid("members", format!("no agent with email {e}")))?;
                ids.push(id);
            }
            Some(ids)
        }
    };
    let mailboxes = match &change.mailboxes {
        None => None,
        Some(addresses) => {
            let mut ids = Vec::new();
            for a in addresses {
                let id: i64 = sqlx::query_scalar(
                    "select mailbox_id from mailbox where lower(address) = lower($1)",
                )
                .bind(a.trim())
                .fetch_optional(&mut **tx)
                .await?
                .ok_or_else(|| invalid("mailboxes", format!("no mailbox with address {a}")))?;
                ids.push(id);
            }
            Some(ids)
        }
    };
    Ok(Resolved { members, mailboxes })
}

async fn check_name(
    tx: &mut Transaction<'_, Postgres>,
    name: &str,
    own_id: Option<i64>,
) -> Result<(), TeamError> {
    if name.is_empty() {
        return Err(invalid("name", "enter a team name"));
    }
    let taken: Option<i64> = sqlx::query_scalar("select team_id from team where name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    if taken.is_some_and(|id| Some(id) != own_id) {
        return Err(invalid(
            "name",
            format!("a team named {name:?} already exists"),
        ));
    }
    Ok(())
}

async fn apply(tx: &mut Transaction<'_, Postgres>, team_id: i64, r: &Resolved) -> sqlx::Result<()> {
    if let Some(ids) = &r.members {
        sqlx::query("delete from team_member where team_id = $1 and agent_id <> all($2)")
            .bind(team_id)
            .bind(ids)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "insert into team_member (team_id, agent_id) select $1, unnest($2::bigint[]) on conflict do nothing",
        )
        .bind(team_id)
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(ids) = &r.mailboxes {
        sqlx::query("delete from team_mailbox where team_id = $1 and mailbox_id <> all($2)")
            .bind(team_id)
            .bind(ids)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "insert into team_mailbox (team_id, mailbox_id) select $1, unnest($2::bigint[]) on conflict do nothing",
        )
        .bind(team_id)
        .bind(ids)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn audit_json(t: &Team) -> Value {
    json!({"name": t.name, "assignment": t.assignment, "away_after_minutes": t.away_after_minutes,
           "members": t.members, "mailboxes": t.mailboxes})
}

/// Creates a team (`name` required; assignment `manual` unless given).
pub async fn create(
    pool: &PgPool,
    actor: &AuditActor,
    change: TeamChange,
) -> Result<Team, TeamError> {
    let mut tx = pool.begin().await?;
    let name = change.name.as_deref().unwrap_or("").trim().to_string();
    check_name(&mut tx, &name, None).await?;
    let resolved = resolve(&mut tx, &change).await?;
    let team_id: i64 =
        sqlx::query_scalar(
            "insert into team (name, assignment, away_after_minutes) values ($1, $2, $3) returning team_id",
        )
            .bind(&name)
            .bind(change.assignment.as_deref().unwrap_or("manual"))
            .bind(change.away_after_minutes.flatten())
            .fetch_one(&mut *tx)
            .await?;
    apply(&mut tx, team_id, &resolved).await?;
    let team = get(&mut *tx, &name).await?.ok_or(TeamError::NotFound)?;
    audit::record(
        &mut *tx,
        actor,
        "team.create",
        &team.name,
        None,
        Some(audit_json(&team)),
    )
    .await?;
    tx.commit().await?;
    Ok(team)
}

/// Changes the team named `name`; the audit entry holds only what changed (none: no entry).
pub async fn update(
    pool: &PgPool,
    actor: &AuditActor,
    name: &str,
    change: TeamChange,
) -> Result<Team, TeamError> {
    let mut tx = pool.begin().await?;
    let team_id: i64 = sqlx::query_scalar("select team_id from team where name = $1 for update")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(TeamError::NotFound)?;
    let old = get(&mut *tx, name).await?.ok_or(TeamError::NotFound)?;
    let new_name = change
        .name
        .as_deref()
        .map(str::trim)
        .unwrap_or(name)
        .to_string();
    check_name(&mut tx, &new_name, Some(team_id)).await?;
    let resolved = resolve(&mut tx, &change).await?;
    sqlx::query(
        "update team set name = $2, assignment = coalesce($3, assignment),
                away_after_minutes = case when $4 then $5 else away_after_minutes end
         where team_id = $1",
    )
    .bind(team_id)
    .bind(&new_name)
    .bind(change.assignment.as_deref())
    .bind(change.away_after_minutes.is_some())
    .bind(change.away_after_minutes.flatten())
    .execute(&mut *tx)
    .await?;
    apply(&mut tx, team_id, &resolved).await?;
    let team = get(&mut *tx, &new_name).await?.ok_or(TeamError::NotFound)?;
    if let Some((before, after)) = audit::changed_fields(&audit_json(&old), &audit_json(&team)) {
        audit::record(
            &mut *tx,
            actor,
            "team.update",
            &old.name,
            Some(before),
            Some(after),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(team)
}
