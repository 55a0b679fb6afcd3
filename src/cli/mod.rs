//! The `frontdesk` command line. Scripts and tests depend on these exact commands and flags.
//!
//! This file holds the top-level clap definitions and the dispatch; each noun (`agent`,
//! `mailbox`, `team`, `token`, `saved-reply`, `ingest`, `analytics`) has its subcommands and their
//! handlers in a file of its own, and `table` formats what the list commands print.

mod agent;
mod analytics;
mod ingest;
mod mailbox;
mod saved_reply;
mod table;
mod team;
mod token;

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Parser, Subcommand};

pub use agent::AgentCommand;
pub use analytics::AnalyticsCommand;
pub use mailbox::MailboxCommand;
pub use saved_reply::SavedReplyCommand;
pub use team::{TeamCommand, TeamMemberCommand};
pub use token::TokenCommand;

use crate::config::Config;
use crate::{app, db};

/// Frontdesk: shared mailboxes as tickets.
#[derive(Parser, Debug)]
#[command(name = "frontdesk", version, about)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
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
    /// Analytics: fill the stored metric values of old tickets.
    Analytics {
        #[command(subcommand)]
        command: AnalyticsCommand,
    },
}

/// Runs a parsed command. Returns the process exit code.
///
/// # Errors
/// Invalid input (checked before the database is opened), a database that cannot be reached
/// or migrated, and anything a command did not find (an unknown email, team, mailbox or token
/// id), each with a message for standard error.
pub async fn run(cli: Cli, mut config: Config) -> anyhow::Result<i32> {
    // Validate input before starting anything.
    match &cli.command {
        Command::Mailbox { command } => mailbox::validate(command, &config)?,
        Command::Agent { command } => agent::validate(command)?,
        _ => {}
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
        Command::Agent { command } => {
            agent::run(&pool, command).await?;
            0
        }
        Command::Mailbox { command } => {
            mailbox::run(&pool, command).await?;
            0
        }
        Command::Ingest { once: _, mailbox } => {
            ingest::ingest_once(&pool, &config, mailbox.as_deref()).await?
        }
        Command::Team { command } => {
            team::run(&pool, command).await?;
            0
        }
        Command::SavedReply { command } => {
            saved_reply::run(&pool, command).await?;
            0
        }
        Command::Token { command } => {
            token::run(&pool, command).await?;
            0
        }
        Command::Analytics { command } => {
            analytics::run(&pool, command).await?;
            0
        }
    };
    pool.close().await;
    if let Some(pg) = database.embedded.as_mut() {
        pg.stop();
    }
    Ok(code)
}
