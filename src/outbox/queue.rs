//! The `outbox` table: enqueue, claim the next due row (`FOR UPDATE SKIP LOCKED`), record
//! what became of a send. Every function runs on the caller's connection or transaction.
//!
//! A row carries either an agent's reply (`message_id`) or a notification mail
//! (`notification_id`, an @mention mailed to an offline agent); see [`DueMail::notification_id`],
//! or a system mail without a ticket (`invitation_id`, the link of an invitation or a
//! password reset), or a CSAT survey mail (`csat_survey_id`, `crate::csat`).
//!
//! A row is `queued` until a send outcome is recorded: `sent`, or `failed` for a permanent
//! failure. The claim's row lock is held while the mail is handed to SMTP, so two workers
//! never send the same row at once, and a worker that dies mid-send releases it with its
//! connection.

use sqlx::{FromRow, PgConnection, PgPool};

use super::compose::Composed;

/// The NOTIFY channel that wakes the sender when a row becomes due.
pub const CHANNEL: &str = "outbox";

/// A claimed outbox row with what the sender needs to send it.
#[derive(Debug, Clone, FromRow)]
pub struct DueMail {
    pub outbox_id: i64,
    /// The reply's `message` row; `None` for a notification mail.
    pub message_id: Option<i64>,
    /// The `notification` a notification mail tells about; `None` for a reply. Its outcome
    /// touches neither a message nor the ticket.
    pub notification_id: Option<i64>,
    pub mailbox_id: i64,
    /// The ticket of the reply or of the notification; `None` for a system mail.
    pub ticket_id: Option<i64>,
    pub envelope_from: String,
    pub envelope_to: Vec<String>,
    pub raw: Vec<u8>,
    /// Attempts made before this one.
    pub attempts: i32,
    /// The mailbox's `smtp[s]://` URL; holds a secret, never log it.
    pub smtp_url: Option<String>,
}

/// Inserts the outbox row for the reply `message_id` and wakes the sender when the caller's
/// transaction commits (NOTIFY is delivered at commit).
pub async fn insert(
    conn: &mut PgConnection,
    mailbox_id: i64,
    message_id: i64,
    mail: &Composed,
) -> sqlx::Result<i64> {
    insert_row(conn, mailbox_id, Some(message_id), None, None, None, mail).await
}

/// Inserts the outbox row for a notification mail about `notification_id` and wakes the
/// sender when the caller's transaction commits. A second row for the same notification
/// violates `outbox_notification_id_key`.
pub async fn insert_notification(
    conn: &mut PgConnection,
    mailbox_id: i64,
    notification_id: i64,
    mail: &Composed,
) -> sqlx::Result<i64> {
    insert_row(
        conn,
        mailbox_id,
        None,
        Some(notification_id),
        None,
        None,
        mail,
    )
    .await
}

/// Inserts the outbox row for the system mail of `invitation_id` (its one-time link) and
/// wakes the sender when the caller's transaction commits. Its outcome touches no ticket.
pub async fn insert_invitation(
    conn: &mut PgConnection,
    mailbox_id: i64,
    invitation_id: i64,
    mail: &Composed,
) -> sqlx::Result<i64> {
    insert_row(
        conn,
        mailbox_id,
        None,
        None,
        Some(invitation_id),
        None,
        mail,
    )
    .await
}

/// Inserts the outbox row for the survey mail of `csat_survey_id` and wakes the sender when
/// the caller's transaction commits. A second row for the same survey violates
/// `outbox_csat_survey_id_key`. Its outcome touches no ticket.
pub async fn insert_csat_survey(
    conn: &mut PgConnection,
    mailbox_id: i64,
    csat_survey_id: i64,
    mail: &Composed,
) -> sqlx::Result<i64> {
    insert_row(
        conn,
        mailbox_id,
        None,
        None,
        None,
        Some(csat_survey_id),
        mail,
    )
    .await
}

/// One outbox row about exactly one of a message, a notification, an invitation or a survey
/// (the table checks it).
async fn insert_row(
    conn: &mut PgConnection,
    mailbox_id: i64,
    message_id: Option<i64>,
    notification_id: Option<i64>,
    invitation_id: Option<i64>,
    csat_survey_id: Option<i64>,
    mail: &Composed,
) -> sqlx::Result<i64> {
    let id = sqlx::query_scalar(
        "insert into outbox (message_id, notification_id, invitation_id, csat_survey_id, mailbox_id, envelope_from, envelope_to, raw)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         returning outbox_id",
    )
    .bind(message_id)
    .bind(notification_id)
    .bind(invitation_id)
    .bind(csat_survey_id)
    .bind(mailbox_id)
    .bind(&mail.envelope_from)
    .bind(&mail.envelope_to)
    .bind(&mail.raw)
    .fetch_one(&mut *conn)
    .await?;
    notify(conn).await?;
    Ok(id)
}

async fn notify(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("select pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

/// Locks and returns the queued row that has been due longest, skipping rows another worker
/// holds. The lock lasts until the caller's transaction ends.
pub async fn claim_due(conn: &mut PgConnection) -> sqlx::Result<Option<DueMail>> {
    sqlx::query_as(
        "select o.outbox_id, o.message_id, o.notification_id, o.mailbox_id,
                coalesce(m.ticket_id, n.ticket_id, s.ticket_id) as ticket_id, o.envelope_from,
                o.envelope_to, o.raw, o.attempts, mb.smtp_url
         from outbox o
         left join message m on m.message_id = o.message_id
         left join notification n on n.notification_id = o.notification_id
         left join csat_survey s on s.csat_survey_id = o.csat_survey_id
         join mailbox mb on mb.mailbox_id = o.mailbox_id
         where o.state = 'queued' and o.next_attempt_at <= now()
         order by o.next_attempt_at, o.outbox_id
         limit 1
         for update of o skip locked",
    )
    .fetch_optional(conn)
    .await
}

/// The mail was accepted by the SMTP server.
pub async fn mark_sent(conn: &mut PgConnection, mail: &DueMail) -> sqlx::Result<()> {
    sqlx::query(
        "update outbox set state = 'sent', sent_at = now(), attempts = attempts + 1,
                last_error = null
         where outbox_id = $1",
    )
    .bind(mail.outbox_id)
    .execute(&mut *conn)
    .await?;
    if let Some(message_id) = mail.message_id {
        crate::tickets::messages::mark_delivered(conn, message_id).await?;
    }
    Ok(())
}

/// A temporary failure: stays queued, next attempt in `retry_in_s` seconds.
pub async fn mark_retry(
    conn: &mut PgConnection,
    mail: &DueMail,
    error: &str,
    retry_in_s: f64,
) -> sqlx::Result<()> {
    sqlx::query(
        "update outbox set attempts = attempts + 1, last_error = $2,
                next_attempt_at = now() + make_interval(secs => $3)
         where outbox_id = $1",
    )
    .bind(mail.outbox_id)
    .bind(error)
    .bind(retry_in_s)
    .execute(conn)
    .await?;
    Ok(())
}

/// A permanent failure: the row and the message become `failed` with the error, the ticket
/// gets a `delivery_failed` event and is reopened so that an agent sees it. For a
/// notification or system mail only the row fails: the in-app notification is still there, and the
/// customer's ticket is none of its business.
pub async fn mark_failed(conn: &mut PgConnection, mail: &DueMail, error: &str) -> sqlx::Result<()> {
    sqlx::query(
        "update outbox set state = 'failed', attempts = attempts + 1, last_error = $2
         where outbox_id = $1",
    )
    .bind(mail.outbox_id)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    let (Some(message_id), Some(ticket_id)) = (mail.message_id, mail.ticket_id) else {
        return Ok(());
    };
    crate::tickets::messages::record_delivery_failure(conn, ticket_id, message_id, error).await
}

/// Puts a failed (or still queued) message back in the queue, due now, with a fresh attempt
/// count. Returns false when the message has no outbox row or was already sent.
pub async fn requeue(pool: &PgPool, message_id: i64) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    // A row being sent right now is locked: this waits for the outcome, and the state
    // check is evaluated again after the wait, so a row that just became 'sent' stays sent.
    let requeued: Option<i64> = sqlx::query_scalar(
        "update outbox set state = 'queued', next_attempt_at = now(), attempts = 0
         where message_id = $1 and state in ('queued', 'failed')
         returning outbox_id",
    )
    .bind(message_id)
    .fetch_optional(&mut *tx)
    .await?;
    if requeued.is_none() {
        return Ok(false);
    }
    crate::tickets::messages::mark_delivery_requeued(&mut tx, message_id).await?;
    notify(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}
