//! What an admin sees and changes from the command line: agents with their teams, teams with
//! their members and mailboxes, API tokens (never their secrets), and token revocation.

use sqlx::{FromRow, PgExecutor};
use time::OffsetDateTime;

/// An agent as `frontdesk agent list` shows them.
#[derive(Debug, Clone, FromRow)]
pub struct AgentOverview {
    pub agent_id: i64,
    pub email: String,
    pub name: String,
    pub role: String,
    /// Names of the agent's teams, sorted.
    pub teams: Vec<String>,
    pub active: bool,
    /// Last signed-in browser request or open live stream (API tokens do not count).
    pub last_seen_at: Option<OffsetDateTime>,
}

/// Every agent, by email, with their teams.
pub async fn list_agent_overview(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<AgentOverview>> {
    sqlx::query_as(
        "select a.agent_id, a.email, a.name, a.role,
                coalesce(array_agg(t.name order by t.name) filter (where t.name is not null), '{}') as teams,
                a.disabled_at is null as active, a.last_seen_at
         from agent a
         left join team_member m on m.agent_id = a.agent_id
         left join team t on t.team_id = m.team_id
         group by a.agent_id
         order by lower(a.email)",
    )
    .fetch_all(db)
    .await
}

/// A team as `frontdesk team list` shows it.
#[derive(Debug, Clone, FromRow)]
pub struct TeamOverview {
    pub team_id: i64,
    pub name: String,
    /// Member emails, sorted.
    pub members: Vec<String>,
    /// Which of `members` are disabled.
    pub disabled_members: Vec<String>,
    /// Addresses of the mailboxes granted to the team, sorted.
    pub mailboxes: Vec<String>,
}

/// Every team, by name, with members and granted mailboxes.
pub async fn list_team_overview(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<TeamOverview>> {
    sqlx::query_as(
        "select t.team_id, t.name,
                coalesce((select array_agg(a.email order by lower(a.email)) from team_member m
                          join agent a using (agent_id) where m.team_id = t.team_id), '{}') as members,
                coalesce((select array_agg(a.email order by lower(a.email)) from team_member m
                          join agent a using (agent_id)
                          where m.team_id = t.team_id and a.disabled_at is not null), '{}') as disabled_members,
                coalesce((select array_agg(mb.address order by lower(mb.address)) from team_mailbox tm
                          join mailbox mb using (mailbox_id) where tm.team_id = t.team_id), '{}') as mailboxes
         from team t
         order by lower(t.name)",
    )
    .fetch_all(db)
    .await
}

/// An API token as `frontdesk token list` shows it: everything but the secret (which is not
/// stored; only its sha256 is).
#[derive(Debug, Clone, FromRow)]
pub struct TokenOverview {
    pub api_token_id: i64,
    pub agent_email: String,
    pub agent_active: bool,
    pub name: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// API tokens by id, of one agent or of all.
pub async fn list_tokens(
    db: impl PgExecutor<'_>,
    agent_id: Option<i64>,
) -> sqlx::Result<Vec<TokenOverview>> {
    sqlx::query_as(
        "select t.api_token_id, a.email as agent_email, a.disabled_at is null as agent_active,
                t.name, t.created_at, t.last_used_at, t.revoked_at
         from api_token t join agent a using (agent_id)
         where $1::bigint is null or t.agent_id = $1
         order by t.api_token_id",
    )
    .bind(agent_id)
    .fetch_all(db)
    .await
}

/// What revoking a token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// Revoked now; the token's agent.
    Now {
        agent_email: String,
    },
    /// It had been revoked before; nothing changed.
    Already {
        agent_email: String,
    },
    NoSuchToken,
}

/// Revokes an API token: from this statement on, every request with it gets a 401.
pub async fn revoke_token(db: impl PgExecutor<'_>, api_token_id: i64) -> sqlx::Result<Revoked> {
    // `old` reads the row as it was before the update, so the answer tells the two cases apart.
    let row: Option<(bool, String)> = sqlx::query_as(
        "with old as (select api_token_id, revoked_at is not null as was_revoked
                      from api_token where api_token_id = $1)
         update api_token t set revoked_at = coalesce(t.revoked_at, now())
         from old
         where t.api_token_id = old.api_token_id
         returning old.was_revoked, (select a.email from agent a where a.agent_id = t.agent_id)",
    )
    .bind(api_token_id)
    .fetch_optional(db)
    .await?;
    Ok(match row {
        None => Revoked::NoSuchToken,
        Some((true, agent_email)) => Revoked::Already { agent_email },
        Some((false, agent_email)) => Revoked::Now { agent_email },
    })
}
