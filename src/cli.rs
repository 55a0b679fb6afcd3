//! The `frontdesk` command line. Scripts and tests depend on these exact commands and flags.

use crate::timezone::AgentTimeZone;
use std::io::{IsTerminal, Read};
use std::net::SocketAddr;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::auth::{self, Role};
use crate::config::Config;
use crate::{app, db, ingest, mailboxes};

/// Frontdesk: shared mailboxes as tickets.
#[derive(Parser, Debug)]
#[command(name = "frontdesk", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply database migrations.
    Migrate,
    /// Run the web server and all workers (mailbox pollers).
    Serve {
        /// Address to listen on (overrides FRONTDESK_BIND).
        #[arg(long)]
        bind: Option<SocketAddr>,
    },
    /// Manage agents.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Manage shared mailboxes.
    Mailbox {
        #[command(subcommand)]
        command: MailboxCommand,
    },
    /// Poll mailboxes.
    Ingest {
        /// Poll once, wait until everything fetched is stored, print counts and exit.
        #[arg(long, required = true)]
        once: bool,
        /// Only the mailbox with this address.
        #[arg(long)]
        mailbox: Option<String>,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Teams: groups of agents with access to mailboxes.
    Team {
        #[command(subcommand)]
        command: TeamCommand,
    },
    /// Saved replies that agents insert in the composer.
    SavedReply {
        #[command(subcommand)]
        command: SavedReplyCommand,
    },
    /// Fill an empty database with generated tickets for benchmarks (PostgreSQL COPY).
    Seed {
        #[arg(long)]
        tickets: u64,
        /// Average emails per ticket (internal notes come on top).
        #[arg(long, default_value_t = 3)]
        messages_per_ticket: u32,
        #[arg(long, default_value_t = 3)]
        mailboxes: u32,
        /// Agents with role agent (an admin is added).
        #[arg(long, default_value_t = 20)]
        agents: u32,
        /// Generator seed: the same seed gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

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

#[derive(Subcommand, Debug)]
pub enum MailboxCommand {
    /// Add a mailbox (or update the one with the same address). Prints its id.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        address: String,
        /// imap[s]://user:pass@host:port/FOLDER (user and password percent-encoded).
        #[arg(long)]
        imap_url: String,
        /// smtp[s]://user:pass@host:port (left as it is when an existing mailbox is updated
        /// without it)
        #[arg(long)]
        smtp_url: Option<String>,
    },
    /// List mailboxes (without secrets).
    List,
    /// Stop polling a mailbox (its tickets stay).
    Disable {
        #[arg(long)]
        address: String,
    },
    /// Resume polling a mailbox.
    Enable {
        #[arg(long)]
        address: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TeamCommand {
    /// Create a team.
    Add { name: String },
    /// Team membership.
    Member {
        #[command(subcommand)]
        command: TeamMemberCommand,
    },
    /// Give a team's agents access to a mailbox.
    Grant {
        team: String,
        mailbox_address: String,
    },
    /// List teams with their members and granted mailboxes.
    List,
}

#[derive(Subcommand, Debug)]
pub enum TeamMemberCommand {
    /// Add an agent (by email) to a team.
    Add { team: String, email: String },
}

#[derive(Subcommand, Debug)]
pub enum SavedReplyCommand {
    /// Add a saved reply; the body may use {{customer.first_name}}, {{customer.name}},
    /// {{agent.name}} and {{ticket.number}}.
    Add {
        #[arg(long)]
        name: String,
        /// The body text (or - to read it from standard input).
        #[arg(long)]
        body: String,
    },
    /// List saved replies (id, name, first line of the body).
    List,
}

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

/// Runs a parsed command. Returns the process exit code.
pub async fn run(cli: Cli, mut config: Config) -> anyhow::Result<i32> {
    // Validate input before starting anything.
    if let Command::Mailbox {
        command:
            MailboxCommand::Add {
                imap_url,
                smtp_url,
                address,
                ..
            },
    } = &cli.command
    {
        let url = mailboxes::ImapUrl::parse(imap_url).context("invalid --imap-url")?;
        if url.security == mailboxes::Security::Plain
            && !url.is_loopback()
            && !url.allow_plaintext
            && !config.ingest.allow_plaintext
        {
            bail!(
                "invalid --imap-url: unencrypted IMAP to {} would send the password in clear text; \
                 use imaps:// or ?starttls=true (or add allow_plaintext=true if you really mean it)",
                url.host
            );
        }
        if let Some(s) = smtp_url {
            mailboxes::check_smtp_url(s).context("invalid --smtp-url")?;
        }
        if !address.contains('@') {
            bail!("invalid --address {address:?}: expected an email address");
        }
    }
    if let Command::Agent {
        command:
            AgentCommand::Add {
                role,
                email,
                time_zone,
                ..
            },
    } = &cli.command
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

    // Only these may create a new embedded database; any other command run in the wrong
    // directory must say so rather than work on an empty database.
    let may_create = matches!(cli.command, Command::Migrate | Command::Serve { .. });
    let mut database = db::connect(&config.db, may_create).await?;
    db::migrate(&database.pool).await?;
    let pool = database.pool.clone();
    let code = match cli.command {
        Command::Migrate => {
            println!("migrations applied");
            0
        }
        Command::Serve { bind } => {
            if let Some(b) = bind {
                config.set_bind(b);
            }
            let listener = tokio::net::TcpListener::bind(config.bind)
                .await
                .with_context(|| format!("binding {}", config.bind))?;
            tracing::info!(url = %format!("http://{}", listener.local_addr()?), node = %config.node_id, "frontdesk listening");
            app::run(config, pool.clone(), listener, app::shutdown_on_signal()).await?;
            0
        }
        Command::Agent {
            command: AgentCommand::List,
        } => {
            agent_list(&pool).await?;
            0
        }
        Command::Agent {
            command: AgentCommand::Disable { email },
        } => {
            let a = agent_by_email(&pool, &email).await?;
            if auth::set_disabled(&pool, a.agent_id, true).await? {
                println!(
                    "agent {} disabled: they cannot sign in, their sessions and API tokens no longer work",
                    a.email
                );
            } else {
                println!("agent {} was already disabled", a.email);
            }
            0
        }
        Command::Agent {
            command: AgentCommand::Enable { email },
        } => {
            let a = agent_by_email(&pool, &email).await?;
            if auth::set_disabled(&pool, a.agent_id, false).await? {
                println!(
                    "agent {} enabled: they can sign in again (their old sessions stay ended)",
                    a.email
                );
            } else {
                println!("agent {} was not disabled", a.email);
            }
            0
        }
        Command::Agent {
            command: AgentCommand::Password { email, generate },
        } => {
            let a = agent_by_email(&pool, &email).await?;
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
            auth::set_password(&pool, a.agent_id, &hash)
                .await?
                .with_context(|| format!("no agent with email {email}"))?;
            if generate {
                println!(
                    "password of {} changed; their sessions were ended; new password (shown once): {password}",
                    a.email
                );
            } else {
                println!("password of {} changed; their sessions were ended", a.email);
            }
            0
        }
        Command::Agent {
            command:
                AgentCommand::Add {
                    email,
                    name,
                    role,
                    password_stdin,
                    time_zone,
                },
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
            if let Some(tz) = time_zone {
                let tz = AgentTimeZone::parse(&tz).expect("validated above");
                auth::set_time_zone(&mut *tx, id, &tz).await?;
            }
            tx.commit().await?;
            if generated {
                println!("agent {id} created; password (shown once): {}", hash.1);
            } else {
                println!("agent {id} created");
            }
            0
        }
        Command::Mailbox {
            command:
                MailboxCommand::Add {
                    name,
                    address,
                    imap_url,
                    smtp_url,
                },
        } => {
            let id = mailboxes::upsert_mailbox(
                &pool,
                &name,
                address.trim(),
                imap_url.trim(),
                smtp_url.as_deref(),
            )
            .await?;
            println!("{id}");
            0
        }
        Command::Mailbox {
            command: MailboxCommand::Disable { address },
        } => {
            if !mailboxes::set_enabled(&pool, &address, false).await? {
                bail!("no mailbox with address {address}");
            }
            println!(
                "mailbox {address} disabled; running nodes stop polling it within a poll cycle"
            );
            0
        }
        Command::Mailbox {
            command: MailboxCommand::Enable { address },
        } => {
            if !mailboxes::set_enabled(&pool, &address, true).await? {
                bail!("no mailbox with address {address}");
            }
            println!("mailbox {address} enabled");
            0
        }
        Command::Mailbox {
            command: MailboxCommand::List,
        } => {
            let rows: Vec<Vec<String>> = mailboxes::list_mailboxes(&pool)
                .await?
                .into_iter()
                .map(|m| {
                    let imap = m
                        .imap()
                        .map(|u| u.redacted())
                        .unwrap_or_else(|e| format!("invalid: {e}"));
                    let state = if m.enabled { "enabled" } else { "disabled" };
                    vec![
                        m.mailbox_id.to_string(),
                        m.address,
                        m.name,
                        state.to_string(),
                        imap,
                    ]
                })
                .collect();
            print!(
                "{}",
                table(&["ID", "ADDRESS", "NAME", "STATE", "IMAP"], &rows)
            );
            0
        }
        Command::Ingest { once: _, mailbox } => {
            let results =
                ingest::poller::ingest_once(&pool, &config.ingest, mailbox.as_deref()).await?;
            let mut total = ingest::store::IngestCounts::default();
            let mut failed = 0;
            for (address, r) in results {
                match r {
                    Ok(c) => {
                        println!("{address}: {c}");
                        total.merge(c);
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("{address}: FAILED: {e:#}");
                    }
                }
            }
            println!("total: {total}");
            if failed > 0 { 1 } else { 0 }
        }
        Command::Seed {
            tickets,
            messages_per_ticket,
            mailboxes,
            agents,
            seed,
        } => {
            let opts = crate::seed::SeedOptions {
                tickets,
                messages_per_ticket,
                mailboxes,
                agents,
                seed,
            };
            println!("{}", crate::seed::run(&pool, &opts).await?);
            0
        }
        Command::Team { command } => {
            team_command(&pool, command).await?;
            0
        }
        Command::SavedReply {
            command: SavedReplyCommand::List,
        } => {
            let rows: Vec<Vec<String>> = crate::tickets::reply::list_saved_replies(&pool)
                .await?
                .into_iter()
                .map(|(id, name, body)| vec![id.to_string(), name, first_line(&body, 60)])
                .collect();
            print!("{}", table(&["ID", "NAME", "BODY"], &rows));
            0
        }
        Command::SavedReply {
            command: SavedReplyCommand::Add { name, body },
        } => {
            let body = if body == "-" {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                s
            } else {
                body
            };
            if name.trim().is_empty() || body.trim().is_empty() {
                bail!("a saved reply needs a name and a body");
            }
            let id: i64 = sqlx::query_scalar(
                "insert into saved_reply (name, body) values ($1, $2) returning saved_reply_id",
            )
            .bind(name.trim())
            .bind(body.trim_end())
            .fetch_one(&pool)
            .await?;
            println!("{id}");
            0
        }
        Command::Token { command } => {
            token_command(&pool, command).await?;
            0
        }
    };
    pool.close().await;
    if let Some(pg) = database.embedded.as_mut() {
        pg.stop();
    }
    Ok(code)
}

async fn team_command(pool: &sqlx::PgPool, command: TeamCommand) -> anyhow::Result<()> {
    let team_id = |name: String| async move {
        sqlx::query_scalar::<_, i64>("select team_id from team where name = $1")
            .bind(&name)
            .fetch_optional(pool)
            .await?
            .with_context(|| {
                format!("no team named {name:?} (create it with `frontdesk team add`)")
            })
    };
    match command {
        TeamCommand::Add { name } => {
            let id: i64 = sqlx::query_scalar(
                "insert into team (name) values ($1) on conflict (name) do update set name = excluded.name returning team_id",
            )
            .bind(name.trim())
            .fetch_one(pool)
            .await?;
            println!("{id}");
        }
        TeamCommand::Member {
            command: TeamMemberCommand::Add { team, email },
        } => {
            let team = team_id(team).await?;
            let agent = auth::find_agent_by_email(pool, &email)
                .await?
                .with_context(|| format!("no agent with email {email}"))?;
            sqlx::query("insert into team_member (team_id, agent_id) values ($1, $2) on conflict do nothing")
                .bind(team)
                .bind(agent.agent_id)
                .execute(pool)
                .await?;
            println!("{email} is in the team");
        }
        TeamCommand::Grant {
            team,
            mailbox_address,
        } => {
            let team = team_id(team).await?;
            let mb = mailboxes::find_mailbox_by_address(pool, &mailbox_address)
                .await?
                .with_context(|| format!("no mailbox with address {mailbox_address}"))?;
            sqlx::query("insert into team_mailbox (team_id, mailbox_id) values ($1, $2) on conflict do nothing")
                .bind(team)
                .bind(mb.mailbox_id)
                .execute(pool)
                .await?;
            println!("the team can work {mailbox_address}");
        }
        TeamCommand::List => {
            let rows: Vec<Vec<String>> = auth::admin::list_team_overview(pool)
                .await?
                .into_iter()
                .map(|t| {
                    let members = t
                        .members
                        .iter()
                        .map(|m| {
                            if t.disabled_members.contains(m) {
                                format!("{m} (disabled)")
                            } else {
                                m.clone()
                            }
                        })
                        .collect::<Vec<_>>();
                    vec![t.name, list_or_dash(&members), list_or_dash(&t.mailboxes)]
                })
                .collect();
            print!("{}", table(&["TEAM", "MEMBERS", "MAILBOXES"], &rows));
        }
    }
    Ok(())
}

async fn token_command(pool: &sqlx::PgPool, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { agent, name } => {
            let a = agent_by_email(pool, &agent).await?;
            if !a.active {
                bail!("agent {} is disabled; enable them first", a.email);
            }
            let (id, token) =
                auth::create_named_api_token(pool, a.agent_id, name.as_deref()).await?;
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
        TokenCommand::Revoke { id } => match auth::admin::revoke_token(pool, id).await? {
            auth::admin::Revoked::Now { agent_email } => {
                println!("token {id} ({agent_email}) revoked");
            }
            auth::admin::Revoked::Already { agent_email } => {
                println!("token {id} ({agent_email}) was already revoked");
            }
            auth::admin::Revoked::NoSuchToken => bail!("no API token with id {id}"),
        },
    }
    Ok(())
}

async fn agent_list(pool: &sqlx::PgPool) -> anyhow::Result<()> {
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
async fn agent_by_email(pool: &sqlx::PgPool, email: &str) -> anyhow::Result<auth::Agent> {
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

/// `2026-11-29 15:05 UTC`, or `never`.
fn utc(at: Option<time::OffsetDateTime>) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.and_then(|t| t.to_offset(time::UtcOffset::UTC).format(&format).ok())
        .unwrap_or_else(|| "never".into())
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

/// The first non-empty line of `text`, cut to `max` characters with `…`.
fn first_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() > max {
        let cut: String = line.chars().take(max - 1).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// A plain table: a header row, then one line per row, each column padded to its widest cell
/// and two spaces from the next; the last column is not padded, and no line ends in spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_leave_no_trailing_spaces() {
        let rows = vec![
            vec!["1".into(), "dana@example.com".into(), "Dana Lee".into()],
            vec!["12".into(), "jo@example.com".into(), String::new()],
        ];
        assert_eq!(
            table(&["ID", "EMAIL", "NAME"], &rows),
            "ID  EMAIL             NAME\n\
             1   dana@example.com  Dana Lee\n\
             12  jo@example.com\n"
        );
    }

    #[test]
    fn first_lines_are_cut_on_characters() {
        assert_eq!(first_line("\n  Hallo Jürgen,\nmore", 40), "Hallo Jürgen,");
        assert_eq!(first_line("äöüäöü", 4), "äöü…");
    }
}
