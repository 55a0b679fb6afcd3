//! `frontdesk mailbox add|list|disable|enable`. Changes go through `mailboxes::settings`, so
//! they are validated like the admin console's and written to the audit log (actor `cli`).

use anyhow::{Context, bail};
use clap::Subcommand;
use sqlx::PgPool;

use super::table::table;
use crate::audit::AuditActor;
use crate::config::Config;
use crate::mailboxes::{self, settings};

/// `frontdesk mailbox ...`.
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

/// Checks `mailbox add`'s URLs and address before the database is opened: plain IMAP only to
/// loopback unless allowed (per URL or by `config`).
pub(super) fn validate(command: &MailboxCommand, config: &Config) -> anyhow::Result<()> {
    if let MailboxCommand::Add {
        imap_url,
        smtp_url,
        address,
        ..
    } = command
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
    Ok(())
}

/// Enables or disables a mailbox, with its audit entry.
async fn set_enabled(pool: &PgPool, address: &str, enabled: bool) -> anyhow::Result<()> {
    let Some(m) = mailboxes::find_mailbox_by_address(pool, address).await? else {
        bail!("no mailbox with address {address}");
    };
    let change = settings::MailboxChange {
        enabled: Some(enabled),
        ..Default::default()
    };
    settings::update(pool, &AuditActor::Cli, m.mailbox_id, change, true).await?;
    Ok(())
}

/// Runs one `mailbox` subcommand (validated by [`validate`]).
pub(super) async fn run(pool: &PgPool, command: MailboxCommand) -> anyhow::Result<()> {
    match command {
        MailboxCommand::Add {
            name,
            address,
            imap_url,
            smtp_url,
        } => {
            // `validate` has applied the plain-text rule with the node's configuration.
            let allow_plaintext = true;
            let existing = mailboxes::find_mailbox_by_address(pool, address.trim()).await?;
            let mut change = settings::MailboxChange {
                name: Some(name),
                address: Some(address.trim().to_string()),
                imap_url: Some(imap_url.trim().to_string()),
                smtp_url: smtp_url.map(Some),
                ..Default::default()
            };
            let m = match existing {
                Some(m) => {
                    change.address = None;
                    settings::update(
                        pool,
                        &AuditActor::Cli,
                        m.mailbox_id,
                        change,
                        allow_plaintext,
                    )
                    .await?
                }
                None => settings::create(pool, &AuditActor::Cli, change, allow_plaintext).await?,
            };
            println!("{}", m.mailbox_id);
        }
        MailboxCommand::Disable { address } => {
            set_enabled(pool, &address, false).await?;
            println!(
                "mailbox {address} disabled; running nodes stop polling it within a poll cycle"
            );
        }
        MailboxCommand::Enable { address } => {
            set_enabled(pool, &address, true).await?;
            println!("mailbox {address} enabled");
        }
        MailboxCommand::List => {
            let rows: Vec<Vec<String>> = mailboxes::list_mailboxes(pool)
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
        }
    }
    Ok(())
}
