//! `frontdesk agent add|list|disable|enable|password`.

use std::io::{IsTerminal, Read};

use anyhow::{Context, bail};
use clap::Subcommand;
use sqlx::PgPool;

use super::table::{list_or_dash, table, utc};
use crate::audit::{self, AuditActor};
use crate::auth::invite::{self, AgentChange};
use crate::auth::{self, Role};
use crate::timezone::AgentTimeZone;

/// `frontdesk agent ...`.
#[derive(Subcommand, Debug)]
pub enum AgentCommand {
    /// Add an agent. Without --password-stdin a generated password is printed once.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// admin, lead or agent.
        #[arg(long)]
        role: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// IANA time zone the agent's pages show times in, e.g. Europe/Berlin (default UTC).
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// List agents: email, name, role, teams, active or disabled, last seen in the web UI.
    List,
    /// Disable an agent: no sign-in, their sessions and API tokens stop working, not offered
    /// for assignment or mentions. Their tickets stay assigned to them.
    Disable { email: String },
    /// Enable a disabled agent again (their old sessions stay ended).
    Enable { email: String },
    /// Set a new password, read from standard input (or generated with --generate), and end
    /// every session of the agent.
    Password {
        email: String,
        /// Generate a strong password and print it once instead of reading one.
        #[arg(long)]
        generate: bool,
    },
}

/// Checks `agent add`'s role, time zone and email before the database is opened.
pub(super) fn validate(command: &AgentCommand) -> anyhow::Result<()> {
    if let AgentCommand::Add {
        role,
        email,
        time_zone,
        ..
    } = command
    {
        if Role::parse(&role.to_lowercase()).is_none() {
            bail!("invalid --role {role:?}: expected admin, lead or agent");
        }
        if let Some(tz) = time_zone {
            AgentTimeZone::parse(tz).context("invalid --time-zone")?;
        }
        if !email.contains('@') {
            bail!("invalid --email {email:?}");
        }
    }
    Ok(())
}

/// Runs one `agent` subcommand (validated by [`validate`]).
pub(super) async fn run(pool: &PgPool, command: AgentCommand) -> anyhow::Result<()> {
    match command {
        AgentCommand::List => agent_list(pool).await?,
        AgentCommand::Disable { email } => {
            let a = agent_by_email(pool, &email).await?;
            if !a.active {
                println!("agent {} was already disabled", a.email);
            } else {
                set_disabled(pool, &a, true).await?;
                println!(
                    "agent {} disabled: they cannot sign in, their sessions and API tokens no longer work",
                    a.email
                );
            }
        }
        AgentCommand::Enable { email } => {
            let a = agent_by_email(pool, &email).await?;
            if a.active {
                println!("agent {} was not disabled", a.email);
            } else {
                set_disabled(pool, &a, false).await?;
                println!(
                    "agent {} enabled: they can sign in again (their old sessions stay ended)",
                    a.email
                );
            }
        }
        AgentCommand::Password { email, generate } => {
            let a = agent_by_email(pool, &email).await?;
            let password = if generate {
                auth::generate_password()
            } else if std::io::stdin().is_terminal() {
                bail!(
                    "no password given: pipe it on standard input \
                     (printf '%s\\n' \"$PW\" | frontdesk agent password {email}), or use --generate"
                );
            } else {
                read_password_stdin()?
            };
            let hash = {
                let pw = password.clone();
                tokio::task::spawn_blocking(move || auth::hash_password(&pw)).await??
            };
            let mut tx = pool.begin().await?;
            auth::set_password(&mut *tx, a.agent_id, &hash)
                .await?
                .with_context(|| format!("no agent with email {email}"))?;
            audit::record(
                &mut *tx,
                &AuditActor::Cli,
                "agent.password_set",
                &a.email,
                None,
                Some(serde_json::json!({ "password": audit::SECRET_CHANGED, "sessions": "ended" })),
            )
            .await?;
            tx.commit().await?;
            if generate {
                println!(
                    "password of {} changed; their sessions were ended; new password (shown once): {password}",
                    a.email
                );
            } else {
                println!("password of {} changed; their sessions were ended", a.email);
            }
        }
        AgentCommand::Add {
            email,
            name,
            role,
            password_stdin,
            time_zone,
        } => {
            let role = Role::parse(&role.to_lowercase()).expect("validated above");
            let (password, generated) = if password_stdin {
                (read_password_stdin()?, false)
            } else {
                (auth::generate_password(), true)
            };
            let hash = tokio::task::spawn_blocking(move || {
                auth::hash_password(&password).map(|h| (h, password))
            })
            .await??;
            let mut tx = pool.begin().await?;
            let id = auth::create_agent(&mut *tx, &email, &name, role, &hash.0).await?;
            let tz = time_zone.map(|tz| AgentTimeZone::parse(&tz).expect("validated above"));
            if let Some(tz) = &tz {
                auth::set_time_zone(&mut *tx, id, tz).await?;
            }
            audit::record(
                &mut *tx,
                &AuditActor::Cli,
                "agent.create",
                &email.trim().to_lowercase(),
                None,
                Some(serde_json::json!({
                    "email": email.trim(),
                    "name": name.trim(),
                    "role": role.as_str(),
                    "time_zone": tz.as_ref().map(|t| t.name()).unwrap_or("UTC"),
                    "password": audit::SECRET_CHANGED,
                })),
            )
            .await?;
            tx.commit().await?;
            if generated {
                println!("agent {id} created; password (shown once): {}", hash.1);
            } else {
                println!("agent {id} created");
            }
        }
    }
    Ok(())
}

/// Disables or enables through [`invite::update_agent`]: audited with actor `cli`, and the
/// last active admin cannot be disabled.
async fn set_disabled(pool: &PgPool, a: &auth::Agent, disabled: bool) -> anyhow::Result<()> {
    let change = AgentChange {
        disabled: Some(disabled),
        ..AgentChange::default()
    };
    invite::update_agent(pool, &AuditActor::Cli, &a.email, &change).await?;
    Ok(())
}

async fn agent_list(pool: &PgPool) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = auth::admin::list_agent_overview(pool)
        .await?
        .into_iter()
        .map(|a| {
            vec![
                a.email,
                a.name,
                a.role,
                list_or_dash(&a.teams),
                if a.active { "active" } else { "disabled" }.to_string(),
                utc(a.last_seen_at),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["EMAIL", "NAME", "ROLE", "TEAMS", "STATE", "LAST SEEN"],
            &rows
        )
    );
    Ok(())
}

/// The agent with this email, or an error that names it.
pub(super) async fn agent_by_email(pool: &PgPool, email: &str) -> anyhow::Result<auth::Agent> {
    auth::find_agent_by_email(pool, email)
        .await?
        .with_context(|| format!("no agent with email {email}"))
}

/// A password from standard input: everything up to the end, without the final line break,
/// checked against [`auth::check_new_password`].
fn read_password_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("reading the password from standard input")?;
    let pw = s.trim_end_matches(['\r', '\n']).to_string();
    auth::check_new_password(&pw).map_err(anyhow::Error::msg)?;
    Ok(pw)
}
