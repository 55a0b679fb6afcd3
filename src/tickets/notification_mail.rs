//! The notification mail worker: mails every in-app notification a rule's `notify` action
//! marked `mail_due` ([`super::actions::notify_agent_in`]) to its agent, through the outbox.
//!
//! The rule only writes the notification, inside the transaction of the change that fired it
//! (so a rule stays cheap on the ingest path and needs no public URL); one pass of this worker
//! ([`send_due`]) claims due notifications with `FOR UPDATE SKIP LOCKED`, queues one outbox
//! mail each (`outbox.notification_id` is unique) and clears `mail_due`, all in one
//! transaction: each notification is mailed once across nodes. Disabled agents get no mail.
//! [`run`] loops on it every [`POLL_INTERVAL`].

use std::time::Duration;

use anyhow::Context;
use sqlx::{FromRow, PgPool};
use tokio_util::sync::CancellationToken;

use crate::outbox::{self, NotificationEmail, OutboxError};
use crate::tickets::EmailAddress;

/// How often the worker looks for due notifications.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Notifications claimed per transaction.
const BATCH: i64 = 50;

#[derive(FromRow)]
struct Due {
    notification_id: i64,
    ticket_id: i64,
    text: Option<String>,
    agent_email: String,
    agent_name: String,
    agent_disabled: bool,
    subject: String,
    mailbox_id: i64,
    mailbox_name: String,
    mailbox_address: String,
}

/// The mail telling an agent about a rule's notification: `[#N] <text>: <subject>`, the
/// text, and a link to the ticket under `public_url`. Pure apart from the random part of the
/// Message-ID.
fn rule_mail(due: &Due, public_url: &str) -> NotificationEmail {
    let domain = due
        .mailbox_address
        .rsplit_once('@')
        .map(|(_, d)| d.to_string())
        .unwrap_or_else(|| "frontdesk.invalid".into());
    let text = due
        .text
        .as_deref()
        .unwrap_or("A rule asks you to look at this ticket");
    let link = format!(
        "{}/tickets/{}",
        public_url.trim_end_matches('/'),
        due.ticket_id
    );
    NotificationEmail {
        mailbox_id: due.mailbox_id,
        notification_id: due.notification_id,
        from_name: format!("Frontdesk via {}", due.mailbox_name),
        from_address: due.mailbox_address.clone(),
        to: EmailAddress {
            email: due.agent_email.clone(),
            name: Some(due.agent_name.clone()),
        },
        reply_to: None,
        subject: format!("[#{}] {}: {}", due.ticket_id, text, due.subject.trim()),
        header_message_id: format!(
            "fd.notify.{}.{}@{domain}",
            due.notification_id,
            &crate::auth::random_secret()[..16]
        ),
        text: format!(
            "{text}\n\nTicket #{n} \"{subject}\" in {mailbox}.\n\nOpen the ticket: {link}\n\n\
             -- \nA routing rule sent you this notification; it is also in your \
             notifications in Frontdesk. Nothing of it was sent to the customer.\n",
            n = due.ticket_id,
            subject = due.subject.trim(),
            mailbox = due.mailbox_name,
        ),
    }
}

/// One pass: queues the mail of every due notification, [`BATCH`] per transaction. Returns
/// how many mails were queued. A mail that cannot be built (an address the mail library
/// refuses) is logged and skipped; the in-app notification stands. `public_url` starts the
/// ticket links (`Config::public_url`).
pub async fn send_due(pool: &PgPool, public_url: &str) -> anyhow::Result<usize> {
    let mut queued = 0;
    loop {
        let mut tx = pool.begin().await.context("starting a transaction")?;
        let due: Vec<Due> = sqlx::query_as(
            "select n.notification_id, n.ticket_id, n.text,
                    a.email as agent_email, a.name as agent_name,
                    a.disabled_at is not null as agent_disabled,
                    t.subject, mb.mailbox_id, mb.name as mailbox_name,
                    mb.address as mailbox_address
             from notification n
             join agent a on a.agent_id = n.agent_id
             join ticket t on t.ticket_id = n.ticket_id
             join mailbox mb on mb.mailbox_id = t.mailbox_id
             where n.mail_due
             order by n.notification_id limit $1
             for update of n skip locked",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await
        .context("claiming due notifications")?;
        if due.is_empty() {
            return Ok(queued);
        }
        for d in due.iter().filter(|d| !d.agent_disabled) {
            match outbox::enqueue_notification(&mut tx, &rule_mail(d, public_url)).await {
                Ok(_) => queued += 1,
                Err(OutboxError::Compose(e)) => {
                    tracing::warn!(error = %e, notification.id = d.notification_id, ticket.number = d.ticket_id,
                        "rule notification mail cannot be built; in-app only");
                }
                Err(OutboxError::NotificationAlreadyQueued(_)) => {}
                Err(e) => {
                    return Err(anyhow::Error::from(e).context("queueing a notification mail"));
                }
            }
        }
        let ids: Vec<i64> = due.iter().map(|d| d.notification_id).collect();
        sqlx::query("update notification set mail_due = false where notification_id = any($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if due.len() < BATCH as usize {
            return Ok(queued);
        }
    }
}

/// The worker: mails due notifications until `shutdown`, looking every [`POLL_INTERVAL`]
/// (a partial index makes an idle look cheap). It holds no LISTEN connection: each would keep
/// one of the pool's connections for good. Database errors are logged and retried; never
/// returns an error.
pub async fn run(pool: PgPool, public_url: String, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        match send_due(&pool, &public_url).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(mails = n, "rule notification mails queued"),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "notification mail pass failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_names_the_ticket_and_links_to_it() {
        let due = Due {
            notification_id: 7,
            ticket_id: 42,
            text: Some("Nobody took this".into()),
            agent_email: "lee@example.com".into(),
            agent_name: "Lee Lead".into(),
            agent_disabled: false,
            subject: " Refund please ".into(),
            mailbox_id: 1,
            mailbox_name: "Support".into(),
            mailbox_address: "support@example.com".into(),
        };
        let mail = rule_mail(&due, "https://desk.example.com/");
        assert_eq!(mail.subject, "[#42] Nobody took this: Refund please");
        assert!(
            mail.text
                .contains("Open the ticket: https://desk.example.com/tickets/42")
        );
        assert!(mail.header_message_id.starts_with("fd.notify.7."));
        assert!(mail.header_message_id.ends_with("@example.com"));
        assert_eq!(mail.to.email, "lee@example.com");
    }
}
