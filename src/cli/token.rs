//! `frontdesk token create|list|revoke`.

use anyhow::bail;
use clap::Subcommand;
use sqlx::PgPool;

use super::agent::agent_by_email;
use super::table::{table, utc};
use crate::audit::{self, AuditActor};
use crate::auth;

/// `frontdesk token ...`.
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for an agent and print it (it is stored hashed). Its id goes to
    /// standard error.
    Create {
        #[arg(long)]
        agent: String,
        /// A label that `token list` shows, e.g. "zapier".
        #[arg(long)]
        name: Option<String>,
    },
    /// List API tokens (never their secrets): id, agent, label, created, last used, state.
    List {
        /// Only this agent's tokens.
        #[arg(long)]
        agent: Option<String>,
    },
    /// Revoke an API token by id: requests with it are refused (401) from now on.
    Revoke { id: i64 },
}

/// Runs one `token` subcommand.
pub(super) async fn run(pool: &PgPool, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { agent, name } => {
            let a = agent_by_email(pool, &agent).await?;
            if !a.active {
                bail!("agent {} is disabled; enable them first", a.email);
            }
            let mut tx = pool.begin().await?;
            let (id, token) =
                auth::create_named_api_token(&mut *tx, a.agent_id, name.as_deref()).await?;
            audit::record(
                &mut *tx,
                &AuditActor::Cli,
                "token.create",
                &a.email,
                None,
                Some(serde_json::json!({ "id": id, "name": name, "token": audit::SECRET_CHANGED })),
            )
            .await?;
            tx.commit().await?;
            // The token alone on stdout, so that `$(frontdesk token create ...)` captures it.
            eprintln!("token {id} created for {}", a.email);
            println!("{token}");
        }
        TokenCommand::List { agent } => {
            let agent_id = match &agent {
                Some(email) => Some(agent_by_email(pool, email).await?.agent_id),
                None => None,
            };
            let rows: Vec<Vec<String>> = auth::admin::list_tokens(pool, agent_id)
                .await?
                .into_iter()
                .map(|t| {
                    let state = match (t.revoked_at, t.agent_active) {
                        (Some(at), _) => format!("revoked {}", utc(Some(at))),
                        (None, false) => "agent disabled".to_string(),
                        (None, true) => "active".to_string(),
                    };
                    vec![
                        t.api_token_id.to_string(),
                        t.agent_email,
                        t.name.unwrap_or_else(|| "-".into()),
                        utc(Some(t.created_at)),
                        utc(t.last_used_at),
                        state,
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &["ID", "AGENT", "NAME", "CREATED", "LAST USED", "STATE"],
                    &rows
                )
            );
        }
        TokenCommand::Revoke { id } => {
            let mut tx = pool.begin().await?;
            let revoked = auth::admin::revoke_token(&mut *tx, id).await?;
            if let auth::admin::Revoked::Now { agent_email } = &revoked {
                audit::record(
                    &mut *tx,
                    &AuditActor::Cli,
                    "token.revoke",
                    agent_email,
                    Some(serde_json::json!({ "id": id, "revoked": false })),
                    Some(serde_json::json!({ "id": id, "revoked": true })),
                )
                .await?;
            }
            tx.commit().await?;
            revoked_message(id, revoked)?;
        }
    }
    Ok(())
}

fn revoked_message(id: i64, revoked: auth::admin::Revoked) -> anyhow::Result<()> {
    match revoked {
        auth::admin::Revoked::Now { agent_email } => {
            println!("token {id} ({agent_email}) revoked");
        }
        auth::admin::Revoked::Already { agent_email } => {
            println!("token {id} ({agent_email}) was already revoked");
        }
        auth::admin::Revoked::NoSuchToken => bail!("no API token with id {id}"),
    }
    Ok(())
}
