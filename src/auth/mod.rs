//! Agents, roles, password hashing (argon2id) and API tokens.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgExecutor};

/// An agent's role: admins configure, leads read analytics, agents work tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    pub role: String,
}

impl Agent {
    /// Admins and leads see every mailbox; agents only those granted to their teams.
    pub fn sees_all_mailboxes(&self) -> bool {
        matches!(Role::parse(&self.role), Some(Role::Admin | Role::Lead))
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
    sqlx::query_as("select agent_id, email, name, role from agent where lower(email) = lower($1)")
        .bind(email.trim())
        .fetch_optional(db)
        .await
}

/// Creates an API token for the agent and returns it; only its sha256 is stored.
pub async fn create_api_token(db: impl PgExecutor<'_>, agent_id: i64) -> sqlx::Result<String> {
    let token = format!("fd_{}", random_secret());
    sqlx::query("insert into api_token (agent_id, token_sha256) values ($1, $2)")
        .bind(agent_id)
        .bind(&Sha256::digest(token.as_bytes())[..])
        .execute(db)
        .await?;
    Ok(token)
}

/// The agent a bearer token belongs to, if the token is valid.
pub async fn agent_for_token(db: impl PgExecutor<'_>, token: &str) -> sqlx::Result<Option<Agent>> {
    sqlx::query_as(
        "update api_token t set last_used_at = now() from agent a
         where t.token_sha256 = $1 and a.agent_id = t.agent_id
         returning a.agent_id, a.email, a.name, a.role",
    )
    .bind(&Sha256::digest(token.as_bytes())[..])
    .fetch_optional(db)
    .await
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
}
