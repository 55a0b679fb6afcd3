//! Quarantined mail as admins handle it: try again (re-parse the stored bytes with the current
//! code and store the mail through the normal ingest path) or delete.
//!
//! Ingest writes `quarantine` rows ([`super::store`]); this module takes them out again. Both
//! operations write the audit log in the transaction that changes the row.

use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::parse;
use super::store::{self, FetchedMail, MailboxContext, StoreError, StoreOutcome};
use crate::audit::{self, AuditActor};
use crate::tickets::timeline::{self, PendingEvents};

/// What "try again" did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// The mail was stored (a new ticket, threaded into one, or kept without a ticket as
    /// ingest would have kept it); the quarantine row is gone.
    Stored(StoreOutcome),
    /// It still cannot be stored: the row stays, with this new reason.
    StillFailing(String),
}

/// No quarantine row with that id.
#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    #[error("no such quarantined mail")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct Row {
    mailbox_id: i64,
    folder: Option<String>,
    uid_validity: Option<i64>,
    uid: Option<i64>,
    raw: Vec<u8>,
    reason: String,
    created_at: time::OffsetDateTime,
}

async fn lock(conn: &mut PgConnection, id: i64) -> Result<Row, QuarantineError> {
    sqlx::query_as(
        "select mailbox_id, folder, uid_validity, uid, raw, reason, created_at
         from quarantine where quarantine_id = $1 for update",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(QuarantineError::NotFound)
}

/// Re-parses quarantined mail `id` and stores it as ingest would (the receipt time is when it
/// was quarantined). On success the row is deleted and `quarantine.retry` is audited, all in
/// one transaction; on failure the row keeps the mail with the new reason (nothing audited,
/// nothing else written).
pub async fn retry(
    pool: &PgPool,
    actor: &AuditActor,
    id: i64,
) -> Result<RetryOutcome, QuarantineError> {
    let mut tx = pool.begin().await?;
    let row = lock(&mut tx, id).await?;
    let mail = FetchedMail::stored(
        row.raw,
        row.folder.clone(),
        row.uid_validity,
        row.uid,
        row.created_at,
    );
    let outcome = match parse::parse(&mail.raw) {
        Err(e) => Err(e.to_string()),
        Ok(email) => {
            let ctx = MailboxContext {
                mailbox_id: row.mailbox_id,
                own_addresses: crate::mailboxes::own_addresses(&mut *tx).await?,
            };
            let mut sp = sqlx::Connection::begin(&mut *tx).await?;
            let mut events = PendingEvents::default();
            match store::store_mail(&mut sp, &ctx, &mail, &email, &mut events).await {
                Ok(o) => {
                    timeline::record_pending(&mut sp, events).await?;
                    sp.commit().await?;
                    Ok(o)
                }
                Err(StoreError::Parse(r) | StoreError::Data(r)) => {
                    sp.rollback().await?;
                    Err(r)
                }
                Err(StoreError::Db(e)) => return Err(e.into()),
            }
        }
    };
    match outcome {
        Ok(o) => {
            let changed = match o {
                StoreOutcome::NewTicket(t) => vec![(t, true)],
                StoreOutcome::Threaded(t) => vec![(t, false)],
                _ => Vec::new(),
            };
            crate::tickets::notify_ingested(&mut tx, row.mailbox_id, &changed).await?;
            sqlx::query("delete from quarantine where quarantine_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let result = match o {
                StoreOutcome::NewTicket(t) => format!("new ticket #{t}"),
                StoreOutcome::Threaded(t) => format!("added to ticket #{t}"),
                StoreOutcome::SkippedAutomated => "automated mail, kept without a ticket".into(),
                StoreOutcome::OwnAddress => "from our own address, kept without a ticket".into(),
                StoreOutcome::Duplicate => "already stored".into(),
                StoreOutcome::Quarantined => "quarantined".into(),
            };
            audit::record(
                &mut *tx,
                actor,
                "quarantine.retry",
                &format!("quarantine #{id}"),
                Some(json!({"reason": row.reason})),
                Some(json!({"result": result})),
            )
            .await?;
            tx.commit().await?;
            Ok(RetryOutcome::Stored(o))
        }
        Err(reason) => {
            sqlx::query("update quarantine set reason = $2 where quarantine_id = $1")
                .bind(id)
                .bind(&reason)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(RetryOutcome::StillFailing(reason))
        }
    }
}

/// Deletes quarantined mail `id` (its bytes are gone for good); `quarantine.delete` in the
/// audit log with its mailbox, reason and size.
pub async fn delete(pool: &PgPool, actor: &AuditActor, id: i64) -> Result<(), QuarantineError> {
    let mut tx = pool.begin().await?;
    let (address, reason, size): (String, String, i32) = sqlx::query_as(
        "delete from quarantine q using mailbox mb
         where q.quarantine_id = $1 and mb.mailbox_id = q.mailbox_id
         returning mb.address, q.reason, octet_length(q.raw)",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(QuarantineError::NotFound)?;
    audit::record(
        &mut *tx,
        actor,
        "quarantine.delete",
        &format!("quarantine #{id}"),
        Some(json!({"mailbox": address, "reason": reason, "size": size})),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
