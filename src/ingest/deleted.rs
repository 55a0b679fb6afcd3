//! Mail flagged `\Deleted` but not yet expunged (table `imap_deleted_uid`).
//!
//! The poller does not import such a message: the user is deleting it. The folder cursor may
//! still move past its UID (a later message is stored), so its UID is remembered here, and every
//! poll looks at the remembered UIDs again: one whose flag was removed is imported then, one
//! that was expunged (or whose folder changed UIDVALIDITY) is forgotten.

use sqlx::PgPool;

/// Remembers UIDs found flagged `\Deleted` in a folder (idempotent).
pub async fn remember(
    pool: &PgPool,
    mailbox_id: i64,
    folder: &str,
    uid_validity: u32,
    uids: &[u32],
) -> sqlx::Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let uids: Vec<i64> = uids.iter().map(|u| i64::from(*u)).collect();
    sqlx::query(
        "insert into imap_deleted_uid (mailbox_id, folder, uid_validity, uid)
         select $1, $2, $3, unnest($4::bigint[])
         on conflict do nothing",
    )
    .bind(mailbox_id)
    .bind(folder)
    .bind(i64::from(uid_validity))
    .bind(&uids)
    .execute(pool)
    .await?;
    Ok(())
}

/// The remembered UIDs of a folder up to `up_to` (the cursor), ascending. Rows of another
/// UIDVALIDITY are dropped first: those UIDs mean nothing any more, and the renumbered folder
/// is read again from its start anyway.
pub async fn remembered(
    pool: &PgPool,
    mailbox_id: i64,
    folder: &str,
    uid_validity: u32,
    up_to: u32,
) -> sqlx::Result<Vec<u32>> {
    sqlx::query(
        "delete from imap_deleted_uid where mailbox_id = $1 and folder = $2 and uid_validity <> $3",
    )
    .bind(mailbox_id)
    .bind(folder)
    .bind(i64::from(uid_validity))
    .execute(pool)
    .await?;
    let uids: Vec<i64> = sqlx::query_scalar(
        "select uid from imap_deleted_uid
         where mailbox_id = $1 and folder = $2 and uid_validity = $3 and uid <= $4
         order by uid",
    )
    .bind(mailbox_id)
    .bind(folder)
    .bind(i64::from(uid_validity))
    .bind(i64::from(up_to))
    .fetch_all(pool)
    .await?;
    Ok(uids.into_iter().map(|u| u as u32).collect())
}

/// Forgets UIDs: imported after all, or expunged.
pub async fn forget(
    pool: &PgPool,
    mailbox_id: i64,
    folder: &str,
    uid_validity: u32,
    uids: &[u32],
) -> sqlx::Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let uids: Vec<i64> = uids.iter().map(|u| i64::from(*u)).collect();
    sqlx::query(
        "delete from imap_deleted_uid
         where mailbox_id = $1 and folder = $2 and uid_validity = $3 and uid = any($4)",
    )
    .bind(mailbox_id)
    .bind(folder)
    .bind(i64::from(uid_validity))
    .bind(&uids)
    .execute(pool)
    .await?;
    Ok(())
}
