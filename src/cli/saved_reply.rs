//! `frontdesk saved-reply add|list`.

use std::io::Read;

use anyhow::bail;
use clap::Subcommand;
use sqlx::PgPool;

use super::table::{first_line, table};
use crate::audit::AuditActor;
use crate::tickets;

/// `frontdesk saved-reply ...`.
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

/// Runs one `saved-reply` subcommand.
pub(super) async fn run(pool: &PgPool, command: SavedReplyCommand) -> anyhow::Result<()> {
    match command {
        SavedReplyCommand::List => {
            let rows: Vec<Vec<String>> = tickets::reply::list_saved_replies(pool)
                .await?
                .into_iter()
                .map(|(id, name, body)| vec![id.to_string(), name, first_line(&body, 60)])
                .collect();
            print!("{}", table(&["ID", "NAME", "BODY"], &rows));
        }
        SavedReplyCommand::Add { name, body } => {
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
            // Shared with every agent; written to the audit log with actor `cli`.
            let input = tickets::saved_reply::SavedReplyInput {
                name,
                body,
                owner_agent_id: None,
            };
            let mut tx = pool.begin().await?;
            let id =
                tickets::saved_reply::create_saved_reply(&mut tx, &AuditActor::Cli, &input).await?;
            tx.commit().await?;
            println!("{id}");
        }
    }
    Ok(())
}
