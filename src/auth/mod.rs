//! Agents, roles, password hashing (argon2id), sign-in, API tokens, and the administration
//! of agents (disable, new password) and tokens (list, revoke). `admin` holds the read-only
//! listings of the command line.

pub mod admin;
pub mod invite;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgExecutor};

/// An agent's role (`agent.role`): admins configure, leads read analytics, agents work tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize, utoipa::ToSchema)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Lead,
    Agent,
}

impl Role {
    /// Parses `admin`, `lead` or `agent`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "lead" => Some(Role::Lead),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }

    /// The stored word: `admin`, `lead` or `agent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Lead => "lead",
            Role::Agent => "agent",
        }
    }
}

/// An agent as loaded for access checks.
#[derive(Debug, Clone, FromRow)]
pub struct Agent {
    pub agent_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// IANA time zone name (`Europe/Berlin`, default `UTC`) that pages show times in.
    pub time_zone: String,
    /// False once an admin disabled the agent (`frontdesk agent disable`): no sign-in, no
    /// session, no token, not offered for assignment or mentions.
    pub active: bool,
    /// Available for new tickets (`true`) or away; set by the agent from the header or by an
    /// admin. Assignment offers new tickets only to available agents.
    pub available: bool,
    /// Bumped whenever the agent's sessions must end (new password, disabled). A session
    /// remembers the generation it signed in with ([`find_agent_seen`]).
    pub session_generation: i32,
}

impl Agent {
    /// Admins and leads see every mailbox; agents only those granted to their teams.
    pub fn sees_all_mailboxes(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Lead)
    }

    /// Admins configure Frontdesk (the admin console and admin API).
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Errors of agent management.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("an agent with email {0} already exists")]
    AgentExists(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Hashes a password with argon2id (PHC string). CPU-heavy: call from `spawn_blocking`.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Password checks running at once on this node (see [`authenticate`]).
static PASSWORD_CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Checks a password against a PHC hash; false on mismatch or a malformed hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A random secret of 32 bytes, hex-encoded (64 characters).
pub fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Creates an agent; fails with [`AuthError::AgentExists`] when the email is taken.
pub async fn create_agent(
    db: impl PgExecutor<'_>,
    email: &str,
    name: &str,
    role: Role,
    password_hash: &str,
) -> Result<i64, AuthError> {
    sqlx::query_scalar("insert into agent (email, name, role, password_hash) values ($1, $2, $3, $4) returning agent_id")
        .bind(email.trim())
        .bind(name.trim())
        .bind(role.as_str())
        .bind(password_hash)
        .fetch_one(db)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.constraint() == Some("agent_email_key") => AuthError::AgentExists(email.to_string()),
            _ => AuthError::Db(e),
        })
}

/// The agent with this email (case-insensitive).
pub async fn find_agent_by_email(
    db: impl PgExecutor<'_>,
    email: &str,
) -> sqlx::Result<Option<Agent>> {
    sqlx::query_as(
        "select agent_id, email, name, role, time_zone,
                disabled_at is null as active, available, session_generation
         from agent where lower(email) = lower($1)",
    )
    .bind(email.trim())
    .fetch_optional(db)
    .await
}

/// Creates an API token for the agent and returns it; only its sha256 is stored.
pub async fn create_api_token(db: impl PgExecutor<'_>, agent_id: i64) -> sqlx::Result<String> {
    create_named_api_token(db, agent_id, None)
        .await
        .map(|(_, token)| token)
}

/// Creates an API token with an optional label (`token list` shows it); returns its id and
/// the token, which is shown once: only its sha256 is stored.
pub async fn create_named_api_token(
    db: impl PgExecutor<'_>,
    agent_id: i64,
    name: Option<&str>,
) -> sqlx::Result<(i64, String)> {
    let token = format!("fd_{}", random_secret());
    let id = sqlx::query_scalar(
        "insert into api_token (agent_id, token_sha256, name) values ($1, $2, $3) returning api_token_id",
    )
    .bind(agent_id)
    .bind(&Sha256::digest(token.as_bytes())[..])
    .bind(name.map(str::trim).filter(|n| !n.is_empty()))
    .fetch_one(db)
    .await?;
    Ok((id, token))
}

/// The agent a bearer token belongs to, if the token is valid: not revoked, and its agent not
/// disabled. Records when it was used.
pub async fn agent_for_token(db: impl PgExecutor<'_>, token: &str) -> sqlx::Result<Option<Agent>> {
    sqlx::query_as(
        "update api_token t set last_used_at = now() from agent a
         where t.token_sha256 = $1 and a.agent_id = t.agent_id
           and t.revoked_at is null and a.disabled_at is null
         returning a.agent_id, a.email, a.name, a.role, a.time_zone, true as active, a.available, a.session_generation",
    )
    .bind(&Sha256::digest(token.as_bytes())[..])
    .fetch_optional(db)
    .await
}

/// Revokes every API token of the agent still valid (kept for the list, never accepted again);
/// returns how many. Offered with a password change, whose sessions' end tokens survive.
pub async fn revoke_api_tokens_of(db: impl PgExecutor<'_>, agent_id: i64) -> sqlx::Result<u64> {
    sqlx::query(
        "update api_token set revoked_at = now() where agent_id = $1 and revoked_at is null",
    )
    .bind(agent_id)
    .execute(db)
    .await
    .map(|r| r.rows_affected())
}

/// Mailbox ids the agent may see; `None` means all (admins and leads).
pub async fn visible_mailboxes(
    db: impl PgExecutor<'_>,
    agent: &Agent,
) -> sqlx::Result<Option<Vec<i64>>> {
    if agent.sees_all_mailboxes() {
        return Ok(None);
    }
    let ids = sqlx::query_scalar(
        "select distinct tm.mailbox_id from team_mailbox tm join team_member m on m.team_id = tm.team_id where m.agent_id = $1",
    )
    .bind(agent.agent_id)
    .fetch_all(db)
    .await?;
    Ok(Some(ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn new_passwords_are_counted_in_characters_and_capped_in_bytes() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("        ").is_err(), "only spaces");
        assert!(
            check_new_password("äöüäöüä").is_err(),
            "7 characters in 14 bytes"
        );
        assert!(check_new_password("äöüäöüäö").is_ok());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
        assert_eq!(generate_password().len(), 24);
        assert!(check_new_password(&generate_password()).is_ok());
    }
}

/// Why a login was refused. The message never says whether the email exists.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("Invalid email or password.")]
    Invalid,
    #[error("Too many failed attempts. Try again in a few minutes.")]
    RateLimited,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("password check failed: {0}")]
    Internal(String),
}

/// Failed attempts allowed per email, and per client IP, in [`LOGIN_WINDOW_MINUTES`].
pub const MAX_FAILED_PER_EMAIL: i64 = 10;
pub const MAX_FAILED_PER_IP: i64 = 50;
pub const LOGIN_WINDOW_MINUTES: i32 = 15;

/// A hash of a random password, verified when the email is unknown so that both cases take
/// the same time (no user enumeration by timing).
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&random_secret()).unwrap_or_default());

/// Checks email and password, with rate limiting shared by every node (failed attempts are
/// rows in `login_attempt`). Argon2 runs on the blocking pool. A disabled agent is refused
/// exactly like a wrong password: same error, same work (the hash is still checked), and the
/// attempt counts as failed, so sign-in never tells whether an account exists or is disabled.
pub async fn authenticate(
    pool: &sqlx::PgPool,
    email: &str,
    password: &str,
    ip: &str,
) -> Result<Agent, LoginError> {
    let email = email.trim().to_lowercase();
    if rate_limited(pool, &email, ip).await? {
        tracing::warn!(%ip, "login rate limited");
        return Err(LoginError::RateLimited);
    }
    type Row = (i64, String, String, Role, String, bool, bool, i32, String);
    let row: Option<(Agent, String)> = sqlx::query_as::<_, Row>(
        "select agent_id, email, name, role, time_zone, disabled_at is null, available, session_generation, password_hash
         from agent where lower(email) = $1",
    )
    .bind(&email)
    .fetch_optional(pool)
    .await?
    .map(|(agent_id, email, name, role, time_zone, active, available, session_generation, hash)| {
        (
            Agent {
                agent_id,
                email,
                name,
                role,
                time_zone,
                active,
                available,
                session_generation,
            },
            hash,
        )
    });
    let hash = row
        .as_ref()
        .map(|(_, h)| h.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let ok = verify_password_limited(password, hash).await?;
    match row {
        Some((agent, _)) if ok && agent.active => {
            sqlx::query("delete from login_attempt where email = $1")
                .bind(&email)
                .execute(pool)
                .await?;
            Ok(agent)
        }
        _ => {
            record_failed_attempt(pool, &email, ip).await?;
            tracing::info!(%ip, "failed login");
            Err(LoginError::Invalid)
        }
    }
}

/// Whether the email (lower-cased) or the client IP has used up its failed attempts of the
/// last [`LOGIN_WINDOW_MINUTES`].
async fn rate_limited(pool: &sqlx::PgPool, email: &str, ip: &str) -> sqlx::Result<bool> {
    let (by_email, by_ip): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where email = $1), count(*) filter (where ip = $2)
         from login_attempt where at > now() - make_interval(mins => $3) and (email = $1 or ip = $2)",
    )
    .bind(email)
    .bind(ip)
    .bind(LOGIN_WINDOW_MINUTES)
    .fetch_one(pool)
    .await?;
    Ok(by_email >= MAX_FAILED_PER_EMAIL || by_ip >= MAX_FAILED_PER_IP)
}

async fn record_failed_attempt(pool: &sqlx::PgPool, email: &str, ip: &str) -> sqlx::Result<()> {
    sqlx::query("insert into login_attempt (email, ip) values ($1, $2)")
        .bind(email)
        .bind(ip)
        .execute(pool)
        .await?;
    Ok(())
}

/// [`verify_password`] on the blocking pool, at most [`PASSWORD_CHECKS`] at once.
async fn verify_password_limited(password: &str, hash: String) -> Result<bool, LoginError> {
    // Each argon2 check takes ~19 MiB and tens of ms of a core: a burst of sign-ins (a team
    // starting its shift, or someone guessing) waits its turn instead of taking every core and
    // ~20 MiB per attempt at once (seen: 200 simultaneous logins left a node at 250 MB RSS).
    let _permit = PASSWORD_CHECKS
        .acquire()
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))?;
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))
}

/// [`hash_password`] on the blocking pool, under the same limit as password checks.
async fn hash_password_limited(password: &str) -> Result<String, LoginError> {
    let _permit = PASSWORD_CHECKS
        .acquire()
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))?;
    let pw = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))?
        .map_err(|e| LoginError::Internal(e.to_string()))
}

/// Shortest password accepted, in characters (NIST SP 800-63B's minimum for a chosen one).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in bytes: argon2 takes any length, but a megabyte-long one
/// would only cost us time.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Checks a password an agent or admin chose: the error says what is wrong.
pub fn check_new_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "The password must be at least {MIN_PASSWORD_CHARS} characters long."
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "The password must be at most {MAX_PASSWORD_BYTES} bytes long."
        ));
    }
    if password.trim().is_empty() {
        return Err("The password cannot be only spaces.".into());
    }
    Ok(())
}

/// A generated password: 24 hex characters, 96 random bits.
pub fn generate_password() -> String {
    random_secret()[..24].to_string()
}

/// Sets a new password hash and ends every session of the agent (their session generation
/// goes up). Returns the new generation, or `None` when there is no such agent.
pub async fn set_password(
    db: impl PgExecutor<'_>,
    agent_id: i64,
    password_hash: &str,
) -> sqlx::Result<Option<i32>> {
    // The agent's open live streams hear of it at once, on every node.
    sqlx::query_scalar(&format!(
        "with changed as (update agent set password_hash = $2, session_generation = session_generation + 1
                          where agent_id = $1 returning agent_id, session_generation)
         select session_generation from changed, {}",
        crate::live::SESSIONS_CHANGED_FROM
    ))
    .bind(agent_id)
    .bind(password_hash)
    .fetch_optional(db)
    .await
}

/// Why the settings page refused a password change.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("The current password is not correct.")]
    WrongPassword,
    #[error("{0}")]
    Invalid(String),
    #[error("Too many failed attempts. Try again in a few minutes.")]
    RateLimited,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("password check failed: {0}")]
    Internal(String),
}

impl From<LoginError> for PasswordChangeError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Invalid => PasswordChangeError::WrongPassword,
            LoginError::RateLimited => PasswordChangeError::RateLimited,
            LoginError::Db(d) => PasswordChangeError::Db(d),
            LoginError::Internal(m) => PasswordChangeError::Internal(m),
        }
    }
}

/// An agent changes their own password: the current one must be right (a wrong one counts as
/// a failed sign-in, under the same limits, so a left-open session cannot be used to guess
/// it), the new one must pass [`check_new_password`]. Every session of the agent ends; the
/// caller keeps its own alive by storing the returned generation in it.
pub async fn change_password(
    pool: &sqlx::PgPool,
    agent: &Agent,
    current: &str,
    new: &str,
    ip: &str,
) -> Result<i32, PasswordChangeError> {
    check_new_password(new).map_err(PasswordChangeError::Invalid)?;
    let email = agent.email.trim().to_lowercase();
    if rate_limited(pool, &email, ip).await? {
        tracing::warn!(%ip, agent.id = agent.agent_id, "password change rate limited");
        return Err(PasswordChangeError::RateLimited);
    }
    let hash: Option<String> = sqlx::query_scalar(
        "select password_hash from agent where agent_id = $1 and disabled_at is null",
    )
    .bind(agent.agent_id)
    .fetch_optional(pool)
    .await?;
    let Some(hash) = hash else {
        return Err(PasswordChangeError::WrongPassword);
    };
    if !verify_password_limited(current, hash).await? {
        record_failed_attempt(pool, &email, ip).await?;
        tracing::info!(%ip, agent.id = agent.agent_id, "password change with a wrong current password");
        return Err(PasswordChangeError::WrongPassword);
    }
    let new_hash = hash_password_limited(new).await?;
    let generation = set_password(pool, agent.agent_id, &new_hash)
        .await?
        .ok_or(PasswordChangeError::WrongPassword)?;
    tracing::info!(
        agent.id = agent.agent_id,
        "password changed; other sessions ended"
    );
    Ok(generation)
}

/// Disables (`disabled = true`) or enables an agent. Disabling also ends their sessions (a
/// later enable does not bring those back). Returns false when nothing changed (already in
/// that state, or no such agent).
pub async fn set_disabled(
    db: impl PgExecutor<'_>,
    agent_id: i64,
    disabled: bool,
) -> sqlx::Result<bool> {
    let sql = if disabled {
        // The agent's open live streams hear of it at once, on every node.
        format!(
            "with changed as (update agent set disabled_at = now(), session_generation = session_generation + 1
                              where agent_id = $1 and disabled_at is null returning agent_id)
             select changed.agent_id from changed, {}",
            crate::live::SESSIONS_CHANGED_FROM
        )
    } else {
        "update agent set disabled_at = null where agent_id = $1 and disabled_at is not null returning agent_id"
            .to_string()
    };
    let done: Option<i64> = sqlx::query_scalar(&sql)
        .bind(agent_id)
        .fetch_optional(db)
        .await?;
    Ok(done.is_some())
}

/// Loads an agent by id (for the session extractor).
pub async fn find_agent(db: impl PgExecutor<'_>, agent_id: i64) -> sqlx::Result<Option<Agent>> {
    sqlx::query_as(
        "select agent_id, email, name, role, time_zone,
                disabled_at is null as active, available, session_generation
         from agent where agent_id = $1",
    )
    .bind(agent_id)
    .fetch_optional(db)
    .await
}

/// `agent.last_seen_at` is written at most this often per agent (seconds), so that busy
/// pages and presence heartbeats do not write on every request.
pub const SEEN_EVERY_SECS: i32 = 60;

/// An agent not seen in the web UI for this long (seconds) is offline: @mentions reach them
/// by email as well. Seen means a signed-in browser request (pages, forms, presence heartbeats
/// every few seconds on a ticket page) or an open live-event stream, which renews it every
/// [`SEEN_EVERY_SECS`]. API tokens do not count: an integration is not a person at a screen.
pub const OFFLINE_AFTER_SECS: i32 = 300;

/// Loads an agent by id for a signed-in browser request and records that they were seen
/// (`last_seen_at`, UTC, at most once per [`SEEN_EVERY_SECS`]), in one statement. `None` when
/// the session no longer counts: the agent is gone or disabled, or `generation` (the one the
/// session signed in with) is not theirs any more (new password).
pub async fn find_agent_seen(
    db: impl PgExecutor<'_>,
    agent_id: i64,
    generation: i32,
) -> sqlx::Result<Option<Agent>> {
    // A data-modifying CTE runs even though the select does not read it.
    sqlx::query_as(
        "with seen as (
            update agent set last_seen_at = now()
            where agent_id = $1 and disabled_at is null and session_generation = $3
              and (last_seen_at is null or last_seen_at < now() - make_interval(secs => $2))
         )
         select agent_id, email, name, role, time_zone, true as active, available, session_generation from agent
         where agent_id = $1 and disabled_at is null and session_generation = $3",
    )
    .bind(agent_id)
    .bind(f64::from(SEEN_EVERY_SECS))
    .bind(generation)
    .fetch_optional(db)
    .await
}

/// Sets the agent's time zone (already validated against the database).
pub async fn set_time_zone(
    db: impl PgExecutor<'_>,
    agent_id: i64,
    tz: &crate::timezone::AgentTimeZone,
) -> sqlx::Result<()> {
    sqlx::query("update agent set time_zone = $2 where agent_id = $1")
        .bind(agent_id)
        .bind(tz.name())
        .execute(db)
        .await?;
    Ok(())
}

/// SQL condition: agent row `a` may see ticket `$1` (admins and leads see every mailbox,
/// agents those granted to one of their teams). The one definition behind assignment,
/// mentions and the assignee picker.
pub const AGENT_SEES_TICKET: &str = "(a.role in ('admin', 'lead') or exists (
     select 1 from team_member m join team_mailbox tm on tm.team_id = m.team_id
     join ticket t on t.mailbox_id = tm.mailbox_id
     where m.agent_id = a.agent_id and t.ticket_id = $1))";

/// Ids of the active agents who can see ticket `ticket`'s mailbox: the ones it may be
/// assigned to.
pub async fn assignable_agents(db: impl PgExecutor<'_>, ticket: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(&format!(
        "select a.agent_id from agent a where a.disabled_at is null and {AGENT_SEES_TICKET}"
    ))
    .bind(ticket)
    .fetch_all(db)
    .await
}

/// Every agent, by name, disabled ones too (`active`): pages name the authors of events and
/// the assignee from it, and offer only active agents for assignment.
pub async fn list_agents(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Agent>> {
    sqlx::query_as(
        "select agent_id, email, name, role, time_zone,
                disabled_at is null as active, available, session_generation
         from agent order by name, agent_id",
    )
    .fetch_all(db)
    .await
}
