//! The IMAP poller: one loop per mailbox around [`sync_mailbox`], which fetches every new
//! message of every folder and stores it exactly once.
//!
//! Exactly once: the cursor (highest stored UID per folder and UIDVALIDITY) moves in the
//! transaction that stores the messages, and `raw_message` is unique on (mailbox, Message-ID,
//! content hash), so re-fetching after a crash, a UIDVALIDITY change, the same mail in two
//! folders, or two nodes polling at once stores nothing twice; raw mail kept just before a crash
//! is stored from the database at the next poll (see [`store`]). One node polls a mailbox at a
//! time: it holds a PostgreSQL advisory lock on a dedicated connection, which PostgreSQL
//! releases when that node dies, and another node takes over within [`LEASE_RETRY`].

use std::time::Duration;

use anyhow::{Context, anyhow};
use futures::TryStreamExt;
use sqlx::{Connection, PgConnection, PgPool};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::deleted;
use super::imap::{self, ImapSession};
use super::store::{self, FetchedMail, IngestCounts, MailboxContext};
use crate::config::{AfterImport, IngestConfig};
use crate::mailboxes::{self, ImapUrl, MailTls, Mailbox};

/// How often a node that does not hold a mailbox's lease checks whether it can take over.
pub const LEASE_RETRY: Duration = Duration::from_secs(3);

/// Fetches and stores all new mail in every folder of the mailbox, once.
///
/// `holds_lease`: whether the caller holds the mailbox's lease. Only the lease holder stores
/// raw mail kept before a crash ([`store::store_pending`]) first: beside a running node, pending
/// rows are that node's batch in flight, and storing them out of its order could split a thread.
#[tracing::instrument(skip_all, fields(mailbox.id = mailbox.mailbox_id))]
pub async fn sync_mailbox(
    pool: &PgPool,
    session: &mut ImapSession,
    mailbox: &Mailbox,
    url: &ImapUrl,
    cfg: &IngestConfig,
    holds_lease: bool,
) -> anyhow::Result<IngestCounts> {
    let ctx = MailboxContext {
        mailbox_id: mailbox.mailbox_id,
        own_addresses: mailboxes::own_addresses(pool).await?,
    };
    // Mail kept before a crash comes first: it is older than anything still on the server.
    let mut total = if holds_lease {
        store::store_pending(pool, &ctx).await?
    } else {
        IngestCounts::default()
    };
    for folder in &url.folders {
        total.merge(
            sync_folder(pool, session, &ctx, &mailbox.address, folder, cfg)
                .await
                .with_context(|| format!("folder {folder}"))?,
        );
    }
    Ok(total)
}

async fn sync_folder(
    pool: &PgPool,
    session: &mut ImapSession,
    ctx: &MailboxContext,
    address: &str,
    folder: &str,
    cfg: &IngestConfig,
) -> anyhow::Result<IngestCounts> {
    let selected = session.select(folder).await.context("SELECT")?;
    let uid_validity = selected
        .uid_validity
        .ok_or_else(|| anyhow!("the server sent no UIDVALIDITY"))?;
    let last = {
        let mut conn = pool.acquire().await?;
        store::cursor(&mut conn, ctx.mailbox_id, folder, uid_validity).await?
    };
    if selected.exists == 0 {
        return Ok(IngestCounts::default());
    }
    // "n:*" always matches the highest UID, even below n (RFC 3501 6.4.8), hence the filter.
    let query = match (last, cfg.backfill_since) {
        (0, Some(since)) => format!("UID 1:* SINCE {}", imap_date(since)),
        _ => format!("UID {}:*", last + 1),
    };
    let found: Vec<u32> = session
        .uid_search(&query)
        .await
        .context("UID SEARCH")?
        .into_iter()
        .filter(|u| *u > last)
        .collect();
    // Mail flagged \Deleted but not expunged is the user deleting it: not imported, remembered
    // (before the cursor can move past it) and looked at again on later polls.
    let deleted: Vec<u32> = if found.is_empty() {
        Vec::new()
    } else {
        session
            .uid_search(format!("{query} DELETED"))
            .await
            .context("UID SEARCH DELETED")?
            .into_iter()
            .collect()
    };
    let mut deleted_now: Vec<u32> = found
        .iter()
        .copied()
        .filter(|u| deleted.contains(u))
        .collect();
    deleted_now.sort_unstable();
    deleted::remember(pool, ctx.mailbox_id, folder, uid_validity, &deleted_now).await?;
    let mut uids: Vec<u32> = found
        .into_iter()
        .filter(|u| deleted_now.binary_search(u).is_err())
        .collect();
    uids.sort_unstable();
    let undeleted = undeleted_since(session, pool, ctx, folder, uid_validity, last).await?;

    let mut total = IngestCounts::default();
    for list in [&undeleted, &uids] {
        total
            .merge(store_uids(pool, session, ctx, address, folder, uid_validity, list, cfg).await?);
    }
    Ok(total)
}

/// Remembered `\Deleted` UIDs at or below the cursor that have lost the flag since, to be
/// imported now; remembered UIDs that are gone (expunged) are forgotten. UIDs above the cursor
/// are left to the normal search, which sees them again in order.
async fn undeleted_since(
    session: &mut ImapSession,
    pool: &PgPool,
    ctx: &MailboxContext,
    folder: &str,
    uid_validity: u32,
    last: u32,
) -> anyhow::Result<Vec<u32>> {
    let remembered = deleted::remembered(pool, ctx.mailbox_id, folder, uid_validity, last).await?;
    if remembered.is_empty() {
        return Ok(Vec::new());
    }
    let set = uid_set(&remembered);
    let still_there: Vec<u32> = session
        .uid_search(format!("UID {set}"))
        .await
        .context("UID SEARCH remembered")?
        .into_iter()
        .collect();
    let still_deleted: Vec<u32> = session
        .uid_search(format!("UID {set} DELETED"))
        .await
        .context("UID SEARCH remembered DELETED")?
        .into_iter()
        .collect();
    let gone: Vec<u32> = remembered
        .iter()
        .copied()
        .filter(|u| !still_there.contains(u))
        .collect();
    deleted::forget(pool, ctx.mailbox_id, folder, uid_validity, &gone).await?;
    Ok(remembered
        .into_iter()
        .filter(|u| still_there.contains(u) && !still_deleted.contains(u))
        .collect())
}

/// Fetches and stores the given UIDs (ascending) in batches, then runs the after-import action
/// on them and forgets any of them remembered as `\Deleted`. Each stored batch is counted in
/// the metrics under the mailbox's `address`.
#[allow(
    clippy::too_many_arguments,
    reason = "the folder's context, passed down as it is"
)]
async fn store_uids(
    pool: &PgPool,
    session: &mut ImapSession,
    ctx: &MailboxContext,
    address: &str,
    folder: &str,
    uid_validity: u32,
    uids: &[u32],
    cfg: &IngestConfig,
) -> anyhow::Result<IngestCounts> {
    // Store one batch while the next is fetched, parsed (on a blocking thread) and its raw
    // mail kept (on a second connection): IMAP, parsing and two PostgreSQL backends overlap.
    let mut total = IngestCounts::default();
    let chunks: Vec<&[u32]> = uids.chunks(cfg.fetch_batch).collect();
    let mut next = match chunks.first() {
        Some(c) => Some(fetch_kept(pool, session, ctx, folder, uid_validity, c).await?),
        None => None,
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let batch = next.take().expect("fetched ahead");
        let (stored, fetched) = match chunks.get(i + 1) {
            Some(following) => {
                let (s, f) = tokio::join!(
                    timed(store::store_kept_batch(pool, ctx, &batch)),
                    timed(fetch_kept(
                        pool,
                        session,
                        ctx,
                        folder,
                        uid_validity,
                        following
                    ))
                );
                (s, Some(f))
            }
            None => (
                timed(store::store_kept_batch(pool, ctx, &batch)).await,
                None,
            ),
        };
        let (stored, store_ms) = stored;
        let counts = stored?;
        let fetch_ms = fetched.as_ref().map(|f| f.1);
        next = fetched.map(|f| f.0).transpose()?;
        tracing::info!(folder, uid_validity, first_uid = chunk[0], %counts, store_ms, fetch_ms, "stored batch");
        crate::telemetry::metrics::record_batch(address, &counts);
        total.merge(counts);
    }
    if !uids.is_empty() {
        deleted::forget(pool, ctx.mailbox_id, folder, uid_validity, uids).await?;
        after_import(session, uids, &cfg.after_import).await;
    }
    Ok(total)
}

/// Runs `f` and measures it (milliseconds, for the log).
async fn timed<T>(f: impl std::future::Future<Output = T>) -> (T, u64) {
    let start = std::time::Instant::now();
    let out = f.await;
    (out, start.elapsed().as_millis() as u64)
}

/// [`fetch`], then parses the batch on a blocking thread and keeps its raw mail
/// ([`store::keep_raw`]).
async fn fetch_kept(
    pool: &PgPool,
    session: &mut ImapSession,
    ctx: &MailboxContext,
    folder: &str,
    uid_validity: u32,
    uids: &[u32],
) -> anyhow::Result<store::KeptBatch> {
    let mails = fetch(session, folder, uid_validity, uids).await?;
    let parsed = tokio::task::spawn_blocking(move || store::ParsedBatch::parse(mails))
        .await
        .context("parsing a fetched batch")?;
    Ok(store::keep_raw(pool, ctx, parsed).await?)
}

async fn fetch(
    session: &mut ImapSession,
    folder: &str,
    uid_validity: u32,
    uids: &[u32],
) -> anyhow::Result<Vec<FetchedMail>> {
    let set = uid_set(uids);
    let mut mails: Vec<FetchedMail> = session
        .uid_fetch(&set, "(UID INTERNALDATE BODY.PEEK[])")
        .await
        .context("UID FETCH")?
        .try_filter_map(|f| async move {
            let (Some(uid), Some(body)) = (f.uid, f.body()) else {
                return Ok(None);
            };
            Ok(Some(FetchedMail {
                raw: body.to_vec(),
                folder: folder.to_string(),
                uid_validity,
                uid,
                internal_date: f
                    .internal_date()
                    .and_then(|d| OffsetDateTime::from_unix_timestamp(d.timestamp()).ok()),
            }))
        })
        .try_collect()
        .await
        .context("reading UID FETCH results")?;
    mails.sort_by_key(|m| m.uid);
    mails.dedup_by_key(|m| m.uid);
    Ok(mails)
}

/// Compresses sorted UIDs into an IMAP sequence set: `1:5,7,9:10`.
fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        while i + 1 < uids.len() && uids[i + 1] == uids[i] + 1 {
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if uids[i] == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{}", uids[i]));
        }
        i += 1;
    }
    out
}

fn imap_date(d: time::Date) -> String {
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][d.month() as usize - 1];
    format!("{}-{month}-{}", d.day(), d.year())
}

/// Flags or moves stored messages. Failures are logged, never fatal: the messages are already
/// stored, and servers such as Exchange answer NO when a message vanished meanwhile.
async fn after_import(session: &mut ImapSession, uids: &[u32], what: &AfterImport) {
    let set = uid_set(uids);
    let result = match what {
        AfterImport::Keep => return,
        AfterImport::MarkSeen => match session.uid_store(&set, "+FLAGS.SILENT (\\Seen)").await {
            Ok(stream) => stream.try_collect::<Vec<_>>().await.map(|_| ()),
            Err(e) => Err(e),
        },
        AfterImport::Move(folder) => session.uid_mv(&set, folder).await,
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, uids = %set, "after-import action failed; messages are stored, continuing");
    }
}

/// A mailbox lease: a session-level advisory lock held on a connection of its own.
struct Lease {
    conn: PgConnection,
}

impl Lease {
    /// Takes the lease if no other node holds it.
    async fn try_acquire(pool: &PgPool, mailbox_id: i64) -> anyhow::Result<Option<Lease>> {
        // Detached from the pool: the lock must die with this connection, not go back to the pool.
        let mut conn = pool.acquire().await?.detach();
        let got: bool = sqlx::query_scalar("select pg_try_advisory_lock($1, $2)")
            .bind(LEASE_CLASS)
            .bind(mailbox_id as i32)
            .fetch_one(&mut conn)
            .await?;
        if got {
            Ok(Some(Lease { conn }))
        } else {
            conn.close().await.ok();
            Ok(None)
        }
    }

    /// Gives the lease up by closing its connection (PostgreSQL drops the lock with it).
    async fn release(self) {
        self.conn.close().await.ok();
    }

    /// Errors when the lease connection is gone (and with it the lock).
    async fn check(&mut self) -> anyhow::Result<()> {
        self.conn
            .ping()
            .await
            .context("lost the mailbox lease connection")
    }
}

/// First key of the advisory lock pair: "FD" + 1, so Frontdesk's locks are recognisable.
const LEASE_CLASS: i32 = 0x4644_0001;

/// Polls one mailbox until `shutdown`: takes the lease, connects, syncs, waits for new mail
/// (IMAP IDLE, RFC 2177, when the server has it and one folder is polled; otherwise the poll
/// interval), and retries with exponential backoff after any error. Never returns an error.
pub async fn run(
    pool: PgPool,
    mailbox: Mailbox,
    cfg: IngestConfig,
    trust: MailTls,
    node_id: String,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_secs(1);
    let mut mailbox = mailbox;
    while !shutdown.is_cancelled() {
        // Re-read before every connection: a changed mailbox is polled with its new settings,
        // a disabled one is not polled (checked again every LEASE_RETRY), a deleted one ends.
        match mailboxes::find_mailbox(&pool, mailbox.mailbox_id).await {
            Ok(Some(m)) => mailbox = m,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(mailbox.id = mailbox.mailbox_id, error = %e, "cannot read the mailbox");
                sleep_or_shutdown(backoff, &shutdown).await;
                backoff = (backoff * 2).min(cfg.max_backoff);
                continue;
            }
        }
        if !mailbox.enabled {
            sleep_or_shutdown(LEASE_RETRY, &shutdown).await;
            continue;
        }
        let lease = match Lease::try_acquire(&pool, mailbox.mailbox_id).await {
            Ok(Some(l)) => l,
            Ok(None) => {
                sleep_or_shutdown(LEASE_RETRY, &shutdown).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(mailbox.id = mailbox.mailbox_id, error = %format!("{e:#}"), "cannot take the mailbox lease");
                sleep_or_shutdown(backoff, &shutdown).await;
                backoff = (backoff * 2).min(cfg.max_backoff);
                continue;
            }
        };
        tracing::info!(mailbox.id = mailbox.mailbox_id, address = %mailbox.address, node = %node_id, "polling mailbox");
        match poll_with_lease(
            &pool,
            &mailbox,
            &cfg,
            &trust,
            &node_id,
            lease,
            &shutdown,
            &mut backoff,
        )
        .await
        {
            Ok(()) => {}
            Err(e) => {
                let msg = format!("{e:#}");
                tracing::error!(mailbox.id = mailbox.mailbox_id, address = %mailbox.address, error = %msg, retry_in_s = backoff.as_secs(), "mailbox poll failed");
                record_health(&pool, mailbox.mailbox_id, &node_id, Some(&msg)).await;
                sleep_or_shutdown(backoff, &shutdown).await;
                backoff = (backoff * 2).min(cfg.max_backoff);
            }
        }
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "the context of `run`'s loop, passed as it is"
)]
async fn poll_with_lease(
    pool: &PgPool,
    mailbox: &Mailbox,
    cfg: &IngestConfig,
    trust: &MailTls,
    node_id: &str,
    mut lease: Lease,
    shutdown: &CancellationToken,
    backoff: &mut Duration,
) -> anyhow::Result<()> {
    let url = mailbox.imap()?;
    let mut session = imap::connect(&url, cfg.allow_plaintext, trust).await?;
    let can_idle = url.folders.len() == 1 && session.capabilities().await?.has_str("IDLE");
    loop {
        let started = std::time::Instant::now();
        let synced = sync_mailbox(pool, &mut session, mailbox, &url, cfg, true).await;
        crate::telemetry::metrics::record_poll(
            &mailbox.address,
            started.elapsed().as_secs_f64(),
            synced.is_ok(),
        );
        let counts = synced?;
        if counts.fetched > 0 {
            tracing::info!(mailbox.id = mailbox.mailbox_id, %counts, "poll done");
        }
        record_health(pool, mailbox.mailbox_id, node_id, None).await;
        *backoff = Duration::from_secs(1);
        if can_idle {
            let mut idle = session.idle();
            idle.init().await.context("IDLE")?;
            let (wait, _stop) = idle.wait_with_timeout(cfg.idle_timeout);
            tokio::select! {
                r = wait => { r.context("waiting in IDLE")?; }
                _ = shutdown.cancelled() => return Ok(()),
            }
            session = idle.done().await.context("ending IDLE")?;
        } else if sleep_or_shutdown(cfg.poll_interval, shutdown).await {
            return Ok(());
        }
        if shutdown.is_cancelled() {
            session.logout().await.ok();
            return Ok(());
        }
        lease.check().await?;
        // A changed, disabled or removed mailbox: reconnect through `run`, which re-reads it.
        match mailboxes::find_mailbox(pool, mailbox.mailbox_id).await? {
            Some(m) if m.enabled && m.imap_url == mailbox.imap_url => {}
            _ => {
                session.logout().await.ok();
                return Ok(());
            }
        }
    }
}

/// Sleeps; returns true when shutdown was requested instead.
async fn sleep_or_shutdown(d: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shutdown.cancelled() => true,
    }
}

/// Records the outcome of a poll for `/healthz`; `error` is `None` after a good poll.
async fn record_health(pool: &PgPool, mailbox_id: i64, node_id: &str, error: Option<&str>) {
    let result = sqlx::query(
        "insert into mailbox_health (mailbox_id, polled_by, last_poll_at, last_ok_at, last_error, last_error_at, consecutive_failures)
         values ($1, $2, now(), case when $3::text is null then now() end, $3, case when $3::text is null then null else now() end,
                 case when $3::text is null then 0 else 1 end)
         on conflict (mailbox_id) do update set
            polled_by = excluded.polled_by,
            last_poll_at = now(),
            last_ok_at = coalesce(excluded.last_ok_at, mailbox_health.last_ok_at),
            last_error = coalesce(excluded.last_error, mailbox_health.last_error),
            last_error_at = coalesce(excluded.last_error_at, mailbox_health.last_error_at),
            consecutive_failures = case when $3::text is null then 0 else mailbox_health.consecutive_failures + 1 end",
    )
    .bind(mailbox_id)
    .bind(node_id)
    .bind(error)
    .execute(pool)
    .await;
    if let Err(e) = result {
        tracing::warn!(mailbox.id = mailbox_id, error = %e, "could not record mailbox health");
    }
}

/// Starts a poller for every mailbox, and for mailboxes added later (checked every 10 s), each
/// as a task of its own in `tasks` named after its mailbox. TLS certificates are checked
/// against `trust`.
pub async fn supervise(
    pool: PgPool,
    cfg: IngestConfig,
    trust: MailTls,
    node_id: String,
    tasks: crate::app::Tasks,
) {
    let shutdown = tasks.shutdown_token();
    let mut running = std::collections::HashSet::new();
    loop {
        match mailboxes::list_mailboxes(&pool).await {
            Ok(list) => {
                for mb in list {
                    if running.insert(mb.mailbox_id) {
                        let name = format!("mailbox poller {}", mb.address);
                        let poller = run(
                            pool.clone(),
                            mb,
                            cfg.clone(),
                            trust.clone(),
                            node_id.clone(),
                            shutdown.clone(),
                        );
                        tasks.spawn(name, async move {
                            poller.await;
                            Ok(())
                        });
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list mailboxes"),
        }
        if sleep_or_shutdown(Duration::from_secs(10), &shutdown).await {
            break;
        }
    }
}

/// Polls every mailbox (or the one with `only` as address) once: `frontdesk ingest --once`.
/// Returns the totals per mailbox address; a mailbox that fails is reported as an error.
/// TLS certificates are checked against `trust`. It takes each mailbox's lease for the poll
/// when no node holds it; beside a node that does, it polls without it (everything is still
/// stored once) and leaves mail kept before a crash to that node.
pub async fn ingest_once(
    pool: &PgPool,
    cfg: &IngestConfig,
    trust: &MailTls,
    only: Option<&str>,
) -> anyhow::Result<Vec<(String, anyhow::Result<IngestCounts>)>> {
    let mut list = mailboxes::list_mailboxes(pool).await?;
    list.retain(|m| m.enabled || only.is_some());
    if let Some(addr) = only {
        list.retain(|m| m.address.eq_ignore_ascii_case(addr));
        if list.is_empty() {
            anyhow::bail!("no mailbox with address {addr}");
        }
    }
    let mut out = Vec::new();
    for mb in list {
        let result = async {
            let url = mb.imap()?;
            let lease = Lease::try_acquire(pool, mb.mailbox_id).await?;
            if lease.is_none() {
                tracing::info!(mailbox = %mb.address, "a running node holds this mailbox's lease; polling beside it");
            }
            let mut session = imap::connect(&url, cfg.allow_plaintext, trust).await?;
            let counts =
                sync_mailbox(pool, &mut session, &mb, &url, cfg, lease.is_some()).await?;
            session.logout().await.ok();
            if let Some(lease) = lease {
                lease.release().await;
            }
            anyhow::Ok(counts)
        }
        .await;
        out.push((mb.address.clone(), result));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compressed() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[4]), "4");
    }

    #[test]
    fn imap_dates_use_rfc3501_format() {
        assert_eq!(imap_date(time::macros::date!(2025 - 03 - 04)), "4-Mar-2025");
    }
}
