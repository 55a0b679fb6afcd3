//! OUTBOUND mail: the durable send queue and the SMTP sender (lettre).
//!
//! An agent's reply is written as a `message` row and, in the same transaction, an `outbox`
//! row holding the exact bytes to send ([`enqueue`]), so a committed reply is never lost.
//! The worker ([`run`], one pass is [`send_due`]) sends due rows through the mailbox's
//! `smtp_url` and records the outcome:
//!
//! - accepted → `sent` (outbox.state, message.delivery_state);
//! - temporary failure (connection refused, timeout, TLS, SMTP 4xx) → stays `queued`,
//!   `attempts` and `last_error` updated, retried after 10 s, 30 s, 1, 2, 5, 10, then every
//!   15 min, until it has been retried for about 24 h;
//! - permanent failure (SMTP 5xx, no or invalid `smtp_url`), or 24 h of temporary ones →
//!   `failed` with `message.delivery_error`, a `delivery_failed` ticket event, and the ticket
//!   reopened, in one transaction. [`retry`] puts it back in the queue.
//!
//! Delivery is at-least-once: a crash between the server's "250" and the commit of `sent`
//! sends the mail again. The bytes and the Message-ID are fixed at enqueue, so such a
//! resend is the same mail, never a different one.
//!
//! Notification mail (an @mention mailed to an offline agent, [`enqueue_notification`]) goes
//! through the same queue, retries and worker. Its row references the `notification`, not a
//! message: it is never shown on the ticket, and its outcome never touches the ticket.
//!
//! System mail (the one-time link of an invitation or a password reset, [`enqueue_invitation`])
//! goes through the same queue too. Its row references the `invitation` and no ticket; it is
//! sent From the first enabled mailbox with an SMTP URL (see `crate::auth::invite`).
//!
//! A CSAT survey mail ([`enqueue_csat_survey`], `crate::csat`) is system mail about a ticket:
//! its row references the `csat_survey`; its outcome never touches the ticket either.
//!
//! `compose` builds the bytes (pure), `queue` is the SQL, `sender` the worker; the mailbox's
//! `smtp[s]://` URL is parsed by [`crate::mailboxes::SmtpUrl`]. The reply's `message` row and
//! its ticket are changed only through `crate::tickets::messages` (delivered, failed,
//! requeued).

pub mod compose;
pub mod queue;
pub mod sender;

pub use compose::{
    ComposeError, NotificationEmail, OutgoingAttachment, OutgoingEmail, SystemEmail,
};
pub use sender::{run, send_due, send_due_trusting};

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

/// Why a reply could not be queued or requeued.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The reply's data cannot make a mail (bad address, no recipient, bad Message-ID).
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// This message already has an outbox row: a message is sent once.
    #[error("message {0} is already in the outbox")]
    AlreadyQueued(i64),
    /// This notification already has an outbox row: it is mailed once.
    #[error("notification {0} is already in the outbox")]
    NotificationAlreadyQueued(i64),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Builds a system mail about `invitation_id` ([`compose::build_system`], dated now) and
/// inserts its outbox row inside the caller's transaction. Returns the outbox id.
#[tracing::instrument(skip_all, fields(mailbox.id = mail.mailbox_id, invitation.id = invitation_id))]
pub async fn enqueue_invitation(
    conn: &mut PgConnection,
    invitation_id: i64,
    mail: &SystemEmail,
) -> Result<i64, OutboxError> {
    let composed = compose::build_system(mail, OffsetDateTime::now_utc())?;
    Ok(queue::insert_invitation(conn, mail.mailbox_id, invitation_id, &composed).await?)
}

/// Builds a CSAT survey mail ([`compose::build_system`]: auto-generated, dated now) and
/// inserts its outbox row inside the caller's transaction. Returns the outbox id.
#[tracing::instrument(skip_all, fields(mailbox.id = mail.mailbox_id, csat_survey.id = csat_survey_id))]
pub async fn enqueue_csat_survey(
    conn: &mut PgConnection,
    csat_survey_id: i64,
    mail: &SystemEmail,
) -> Result<i64, OutboxError> {
    let composed = compose::build_system(mail, OffsetDateTime::now_utc())?;
    Ok(queue::insert_csat_survey(conn, mail.mailbox_id, csat_survey_id, &composed).await?)
}

/// Builds the bytes ([`compose::build`], dated now) and inserts the outbox row, inside the
/// caller's transaction; the sender is woken when it commits. Returns the outbox id.
#[tracing::instrument(skip_all, fields(mailbox.id = mail.mailbox_id, message.id = mail.message_id))]
pub async fn enqueue(conn: &mut PgConnection, mail: &OutgoingEmail) -> Result<i64, OutboxError> {
    let composed = compose::build(mail, OffsetDateTime::now_utc())?;
    queue::insert(conn, mail.mailbox_id, mail.message_id, &composed)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.constraint() == Some("outbox_message_id_key") => {
                OutboxError::AlreadyQueued(mail.message_id)
            }
            _ => OutboxError::Db(e),
        })
}

/// Builds a notification mail ([`compose::build_notification`], dated now) and inserts its
/// outbox row inside the caller's transaction. Returns the outbox id.
#[tracing::instrument(skip_all, fields(mailbox.id = mail.mailbox_id, notification.id = mail.notification_id))]
pub async fn enqueue_notification(
    conn: &mut PgConnection,
    mail: &NotificationEmail,
) -> Result<i64, OutboxError> {
    let composed = compose::build_notification(mail, OffsetDateTime::now_utc())?;
    queue::insert_notification(conn, mail.mailbox_id, mail.notification_id, &composed)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(d) if d.constraint() == Some("outbox_notification_id_key") => {
                OutboxError::NotificationAlreadyQueued(mail.notification_id)
            }
            _ => OutboxError::Db(e),
        })
}

/// Agent pressed "retry" on a failed message: back to queued, due now, with a fresh attempt
/// count (another 24 h of retries). Also makes a queued message due now. Returns false when
/// the message has no outbox row or was already sent.
#[tracing::instrument(skip_all, fields(message.id = message_id))]
pub async fn retry(pool: &PgPool, message_id: i64) -> Result<bool, OutboxError> {
    Ok(queue::requeue(pool, message_id).await?)
}
