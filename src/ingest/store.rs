//! Stores fetched mail a batch at a time: dedupe, thread (RFC 5322 3.6.4, then subject token,
//! then reply subject), create or extend tickets, with a fixed number of statements per batch
//! (ingest runs at the database's pace, not at the pace of round trips).
//!
//! A batch is stored in two transactions: [`keep_raw`] commits its raw bytes (listed in
//! `raw_message_pending`), then [`store_kept_batch`] creates the tickets, clears the pending
//! list and advances the IMAP cursor. The poller keeps batch n+1 while it stores batch n, on
//! two connections. A crash between the two leaves pending rows and an unmoved cursor:
//! [`store_pending`] stores them before the next poll fetches anything, and the re-fetched
//! mail is then a duplicate, so every mail is stored exactly once.

use std::collections::HashMap;

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use super::classify::Automated;
use super::parse::{self, EmailAddress, InboundEmail};
use super::subject;
use crate::db::copy;
use crate::mailboxes::canonical_address;
use crate::tickets::messages::{self, Destination, Inbound, InboundMessage, ParticipantRole};
use crate::tickets::timeline::{self, PendingEvents};

/// One message as fetched from IMAP.
#[derive(Debug, Clone)]
pub struct FetchedMail {
    pub raw: Vec<u8>,
    pub folder: String,
    pub uid_validity: u32,
    pub uid: u32,
    /// IMAP INTERNALDATE (receipt time), UTC.
    pub internal_date: Option<OffsetDateTime>,
}

impl FetchedMail {
    /// A mail read back from the database (a kept raw row, a quarantined mail), with its
    /// folder, UIDVALIDITY and UID as stored (empty or 0 when unknown) and `received_at` as its
    /// INTERNALDATE.
    pub fn stored(
        raw: Vec<u8>,
        folder: Option<String>,
        uid_validity: Option<i64>,
        uid: Option<i64>,
        received_at: OffsetDateTime,
    ) -> Self {
        Self {
            raw,
            folder: folder.unwrap_or_default(),
            uid_validity: uid_validity
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0),
            uid: uid.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
            internal_date: Some(received_at),
        }
    }
}

/// The mailbox being ingested and what counts as our own mail.
#[derive(Debug, Clone)]
pub struct MailboxContext {
    pub mailbox_id: i64,
    /// Canonical addresses of every mailbox (see [`canonical_address`]).
    pub own_addresses: Vec<String>,
}

impl MailboxContext {
    fn is_own(&self, email: &str) -> bool {
        let c = canonical_address(email);
        self.own_addresses.contains(&c)
    }
}

/// What became of one fetched mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Opened a new ticket (its number).
    NewTicket(i64),
    /// Added to an existing ticket (its number).
    Threaded(i64),
    /// Automated mail (auto-reply, bounce) that belongs to no ticket: kept raw, no ticket.
    SkippedAutomated,
    /// Mail from one of our own addresses: kept raw, no ticket (breaks mail loops).
    OwnAddress,
    /// Already stored (same Message-ID and content): nothing written.
    Duplicate,
    /// Could not be parsed: kept with its reason in `quarantine`.
    Quarantined,
}

/// Running totals of a poll, printed by `frontdesk ingest --once`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestCounts {
    pub fetched: u64,
    pub new_tickets: u64,
    pub threaded: u64,
    pub skipped_automated: u64,
    pub own_address: u64,
    pub duplicates: u64,
    pub quarantined: u64,
}

impl IngestCounts {
    /// Adds one outcome.
    pub fn add(&mut self, o: StoreOutcome) {
        self.fetched += 1;
        match o {
            StoreOutcome::NewTicket(_) => self.new_tickets += 1,
            StoreOutcome::Threaded(_) => self.threaded += 1,
            StoreOutcome::SkippedAutomated => self.skipped_automated += 1,
            StoreOutcome::OwnAddress => self.own_address += 1,
            StoreOutcome::Duplicate => self.duplicates += 1,
            StoreOutcome::Quarantined => self.quarantined += 1,
        }
    }

    /// Adds another set of totals.
    pub fn merge(&mut self, o: IngestCounts) {
        self.fetched += o.fetched;
        self.new_tickets += o.new_tickets;
        self.threaded += o.threaded;
        self.skipped_automated += o.skipped_automated;
        self.own_address += o.own_address;
        self.duplicates += o.duplicates;
        self.quarantined += o.quarantined;
    }
}

impl std::fmt::Display for IngestCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fetched={} new_tickets={} threaded={} skipped_automated={} own_address={} duplicates={} quarantined={}",
            self.fetched,
            self.new_tickets,
            self.threaded,
            self.skipped_automated,
            self.own_address,
            self.duplicates,
            self.quarantined
        )
    }
}

/// A batch of fetched mail, parsed (CPU work that the poller does on a blocking thread while
/// the previous batch is being stored). Unparseable mail keeps its reason, for the quarantine.
#[derive(Debug)]
pub struct ParsedBatch {
    pub mails: Vec<FetchedMail>,
    parsed: Vec<Result<InboundEmail, String>>,
}

impl ParsedBatch {
    /// Parses every mail of the batch.
    pub fn parse(mails: Vec<FetchedMail>) -> Self {
        let parsed = mails
            .iter()
            .map(|m| parse::parse(&m.raw).map_err(|e| e.to_string()))
            .collect();
        Self { mails, parsed }
    }
}

/// Parses a batch of fetched mail, keeps its raw bytes ([`keep_raw`]) and stores it
/// ([`store_kept_batch`]): the two steps the poller overlaps, one after the other.
pub async fn store_batch(
    pool: &PgPool,
    ctx: &MailboxContext,
    mails: &[FetchedMail],
) -> sqlx::Result<IngestCounts> {
    let kept = keep_raw(pool, ctx, ParsedBatch::parse(mails.to_vec())).await?;
    store_kept_batch(pool, ctx, &kept).await
}

/// A parsed batch whose raw mail is kept ([`keep_raw`]), waiting for [`store_kept_batch`].
#[derive(Debug)]
pub struct KeptBatch {
    batch: ParsedBatch,
    /// Per mail of `batch`, in order.
    raw: Vec<Raw>,
}

/// What [`keep_raw`] did with one mail.
#[derive(Debug, Clone)]
enum Raw {
    /// Kept: its `raw_message` row, listed in `raw_message_pending`.
    Kept(i64),
    /// Not kept: unparseable, or equal to a kept mail (same mailbox, Message-ID and content).
    NotKept,
    /// The database refused the row (this reason): to quarantine.
    Refused(String),
}

/// Step one of storing a batch: keeps the raw bytes of every parsed mail that is not already
/// kept, as `raw_message` rows (disposition `ticket` until the store says otherwise) listed in
/// `raw_message_pending`, and commits. One look-up and one binary `COPY` for the batch
/// ([`insert_raw_batch`]); if the database refuses a row (an invalid Message-ID, or a row that
/// another node stored meanwhile), the batch is kept mail by mail under savepoints and the
/// refused mail goes to quarantine in step two.
///
/// The poller runs this for batch n+1 on a second connection while batch n is stored, so the
/// raw `COPY` (a third of a batch's database time) leaves the store's critical path. Nothing is
/// lost between the steps: the IMAP cursor moves only in step two, and rows still pending after
/// a crash are stored by [`store_pending`] before the next poll fetches anything.
pub async fn keep_raw(
    pool: &PgPool,
    ctx: &MailboxContext,
    batch: ParsedBatch,
) -> sqlx::Result<KeptBatch> {
    let mut tx = pool.begin().await?;
    match insert_raw_batch(&mut tx, ctx, &batch.mails, &batch.parsed).await {
        Ok(ids) => {
            tx.commit().await?;
            let raw = ids
                .into_iter()
                .map(|id| id.map_or(Raw::NotKept, Raw::Kept))
                .collect();
            return Ok(KeptBatch { batch, raw });
        }
        Err(StoreError::Db(e)) => return Err(e),
        Err(StoreError::Data(reason) | StoreError::Parse(reason)) => {
            tracing::warn!(mailbox.id = ctx.mailbox_id, %reason, "the database refused a raw mail; keeping the batch one mail at a time");
            tx.rollback().await?;
        }
    }
    let mut tx = pool.begin().await?;
    let mut raw = Vec::with_capacity(batch.mails.len());
    for (mail, email) in batch.mails.iter().zip(&batch.parsed) {
        let Ok(email) = email else {
            raw.push(Raw::NotKept);
            continue;
        };
        let mut sp = sqlx::Connection::begin(&mut *tx).await?;
        match insert_raw(&mut sp, ctx, mail, email).await {
            Ok(id) => {
                if let Some(id) = id {
                    mark_pending(&mut sp, &[id]).await?;
                }
                sp.commit().await?;
                raw.push(id.map_or(Raw::NotKept, Raw::Kept));
            }
            Err(e) => match StoreError::from(e) {
                StoreError::Db(e) => return Err(e),
                StoreError::Data(reason) | StoreError::Parse(reason) => {
                    sp.rollback().await?;
                    raw.push(Raw::Refused(reason));
                }
            },
        }
    }
    tx.commit().await?;
    Ok(KeptBatch { batch, raw })
}

/// Lists kept raw rows as waiting for the store.
async fn mark_pending(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query("insert into raw_message_pending (raw_message_id) select unnest($1::bigint[])")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Step two of storing a batch: claims the batch's `raw_message_pending` rows (a row another
/// store claimed first makes its mail a duplicate), threads and stores the kept mail as
/// tickets, quarantines what cannot be stored and advances the folder cursors, in one
/// transaction.
///
/// The batch is first stored in one go; if the database rejects one mail's data (bad encoding,
/// a constraint), the batch is retried with a savepoint per mail so that only that mail is
/// quarantined (its raw row moves to the quarantine). Any other error (connection lost,
/// deadlock) rolls the whole batch back and is returned for a retry; its raw rows stay pending.
pub async fn store_kept_batch(
    pool: &PgPool,
    ctx: &MailboxContext,
    kept: &KeptBatch,
) -> sqlx::Result<IngestCounts> {
    match store_kept(pool, ctx, kept, false).await {
        Err(StoreError::Data(reason)) => {
            tracing::warn!(mailbox.id = ctx.mailbox_id, %reason, "a mail was rejected; storing the batch one mail at a time");
            match store_kept(pool, ctx, kept, true).await {
                Ok(c) => Ok(c),
                Err(StoreError::Db(e)) => Err(e),
                Err(other) => Err(sqlx::Error::Protocol(other.to_string())),
            }
        }
        Err(StoreError::Db(e)) => Err(e),
        Err(StoreError::Parse(p)) => Err(sqlx::Error::Protocol(p)),
        Ok(c) => Ok(c),
    }
}

/// Stores the mail whose raw rows a crash left pending (kept by [`keep_raw`], never stored),
/// oldest first, a batch at a time; the poller calls it before fetching new mail. Usually
/// finds nothing (one probe of an empty table).
pub async fn store_pending(pool: &PgPool, ctx: &MailboxContext) -> sqlx::Result<IngestCounts> {
    #[derive(sqlx::FromRow)]
    struct Pending {
        raw_message_id: i64,
        raw: Vec<u8>,
        folder: Option<String>,
        uid_validity: Option<i64>,
        uid: Option<i64>,
        received_at: OffsetDateTime,
    }
    let mut total = IngestCounts::default();
    loop {
        let rows: Vec<Pending> = sqlx::query_as(
            "select r.raw_message_id, r.raw, r.folder, r.uid_validity, r.uid, r.received_at
             from raw_message_pending p join raw_message r using (raw_message_id)
             where r.mailbox_id = $1
             order by p.raw_message_id
             limit 500",
        )
        .bind(ctx.mailbox_id)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            return Ok(total);
        }
        tracing::warn!(
            mailbox.id = ctx.mailbox_id,
            count = rows.len(),
            "storing mail kept before a crash"
        );
        let raw = rows.iter().map(|r| Raw::Kept(r.raw_message_id)).collect();
        let mails = rows
            .into_iter()
            .map(|r| FetchedMail::stored(r.raw, r.folder, r.uid_validity, r.uid, r.received_at))
            .collect();
        let kept = KeptBatch {
            batch: ParsedBatch::parse(mails),
            raw,
        };
        total.merge(store_kept_batch(pool, ctx, &kept).await?);
    }
}

async fn store_kept(
    pool: &PgPool,
    ctx: &MailboxContext,
    kept: &KeptBatch,
    savepoints: bool,
) -> Result<IngestCounts, StoreError> {
    let mut laps = crate::telemetry::Laps::start();
    let (mails, parsed) = (&kept.batch.mails[..], &kept.batch.parsed[..]);
    let mut tx = pool.begin().await?;
    let mut counts = IngestCounts::default();
    let mut changed: Vec<(i64, bool)> = Vec::new();
    // The batch's timeline events, recorded in one statement before the commit.
    let mut events = PendingEvents::default();
    let note = |o: StoreOutcome, changed: &mut Vec<(i64, bool)>| match o {
        StoreOutcome::NewTicket(t) => changed.push((t, true)),
        StoreOutcome::Threaded(t) => changed.push((t, false)),
        _ => {}
    };
    // Claim the batch's kept rows first: a concurrent store of the same rows (`store_pending`
    // in an `ingest --once` beside the node holding the lease) waits here, then finds them gone
    // and counts them as duplicates.
    let kept_ids: Vec<i64> = kept
        .raw
        .iter()
        .filter_map(|r| match r {
            Raw::Kept(id) => Some(*id),
            _ => None,
        })
        .collect();
    let claimed: std::collections::HashSet<i64> = sqlx::query_scalar(
        "delete from raw_message_pending where raw_message_id = any($1) returning raw_message_id",
    )
    .bind(&kept_ids)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let mut items = Vec::with_capacity(mails.len());
    for ((mail, email), raw) in mails.iter().zip(parsed).zip(&kept.raw) {
        if matches!(raw, Raw::Kept(id) if !claimed.contains(id)) {
            counts.add(StoreOutcome::Duplicate);
            continue;
        }
        match (email, raw) {
            (Err(reason), raw) => {
                tracing::warn!(mailbox.id = ctx.mailbox_id, folder = %mail.folder, uid = mail.uid, %reason, "quarantining unparseable message");
                quarantine(&mut tx, ctx.mailbox_id, mail, reason).await?;
                if let Raw::Kept(id) = raw {
                    forget_raw(&mut tx, *id).await?;
                }
                counts.add(StoreOutcome::Quarantined);
            }
            (Ok(_), Raw::Refused(reason)) => {
                tracing::warn!(mailbox.id = ctx.mailbox_id, folder = %mail.folder, uid = mail.uid, %reason, "quarantining message");
                quarantine(&mut tx, ctx.mailbox_id, mail, reason).await?;
                counts.add(StoreOutcome::Quarantined);
            }
            (Ok(_), Raw::NotKept) => counts.add(StoreOutcome::Duplicate),
            (Ok(email), Raw::Kept(raw_id)) => items.push(Item {
                mail,
                email,
                raw_id: *raw_id,
            }),
        }
    }
    if !savepoints {
        // Fast path: the whole batch set-based (see [`store_mails`]).
        let outcomes = store_mails(&mut tx, ctx, &items, &mut events).await?;
        laps.lap("mails");
        for outcome in outcomes {
            note(outcome, &mut changed);
            counts.add(outcome);
        }
    } else {
        for item in &items {
            let mut sp = sqlx::Connection::begin(&mut *tx).await?;
            // This mail's events join the batch's only if its savepoint commits.
            let mut mine = PendingEvents::default();
            match store_mails(&mut sp, ctx, std::slice::from_ref(item), &mut mine).await {
                Ok(outcomes) => {
                    sp.commit().await?;
                    events.append(mine);
                    note(outcomes[0], &mut changed);
                    counts.add(outcomes[0]);
                }
                Err(StoreError::Parse(reason)) | Err(StoreError::Data(reason)) => {
                    sp.rollback().await?;
                    let mail = item.mail;
                    tracing::warn!(mailbox.id = ctx.mailbox_id, folder = %mail.folder, uid = mail.uid, %reason, "quarantining message");
                    quarantine(&mut tx, ctx.mailbox_id, mail, &reason).await?;
                    forget_raw(&mut tx, item.raw_id).await?;
                    counts.add(StoreOutcome::Quarantined);
                }
                Err(e) => return Err(e),
            }
        }
    }
    timeline::record_pending(&mut tx, events).await?;
    laps.lap("events");
    // One notification per changed ticket, in one statement, delivered at commit.
    changed.sort_unstable();
    changed.dedup();
    crate::tickets::notify_ingested(&mut tx, ctx.mailbox_id, &changed).await?;
    // The highest UID of the batch per folder (one, except for mail stored by `store_pending`).
    let mut cursors: Vec<(&str, u32, u32)> = Vec::new();
    for mail in mails.iter().filter(|m| !m.folder.is_empty()) {
        match cursors
            .iter_mut()
            .find(|(f, v, _)| *f == mail.folder && *v == mail.uid_validity)
        {
            Some(c) => c.2 = c.2.max(mail.uid),
            None => cursors.push((mail.folder.as_str(), mail.uid_validity, mail.uid)),
        }
    }
    for (folder, uid_validity, uid) in cursors {
        advance_cursor(&mut tx, ctx.mailbox_id, folder, uid_validity, uid).await?;
    }
    laps.lap("cursor");
    tx.commit().await?;
    laps.lap("commit");
    tracing::debug!(mailbox.id = ctx.mailbox_id, savepoints, steps = %laps, "batch store steps");
    Ok(counts)
}

/// Drops a kept raw row whose mail went to the quarantine (which holds its bytes).
async fn forget_raw(conn: &mut PgConnection, raw_id: i64) -> sqlx::Result<()> {
    sqlx::query("delete from raw_message where raw_message_id = $1")
        .bind(raw_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Errors of [`store_mail`], split by what the batch should do about them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The bytes are not a mail: quarantine.
    #[error("unparseable: {0}")]
    Parse(String),
    /// The database rejected this mail's data (bad encoding, constraint): quarantine.
    #[error("rejected by the database: {0}")]
    Data(String),
    /// The database is unavailable or the transaction failed: retry the batch.
    #[error(transparent)]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            // Connection (08), transaction rollback such as deadlock (40), resources (53),
            // operator intervention (57) and system errors (58) are about the server, not this
            // mail: retry the batch. Anything else the server says is about this mail's data
            // (bad encoding, a constraint, an over-long key) and would fail again forever.
            sqlx::Error::Database(d) => {
                let transient = d.code().is_some_and(|c| {
                    ["08", "40", "53", "57", "58"]
                        .iter()
                        .any(|p| c.starts_with(p))
                });
                if transient {
                    StoreError::Db(e)
                } else {
                    StoreError::Data(d.to_string())
                }
            }
            _ => StoreError::Db(e),
        }
    }
}

/// One parsed mail whose raw bytes are stored (`raw_message` row `raw_id`).
struct Item<'a> {
    mail: &'a FetchedMail,
    email: &'a InboundEmail,
    raw_id: i64,
}

impl Item<'_> {
    /// Receipt time at our server (IMAP INTERNALDATE, else now), UTC.
    fn received_at(&self) -> OffsetDateTime {
        self.mail
            .internal_date
            .unwrap_or_else(OffsetDateTime::now_utc)
    }

    /// The mail's date: its `Date`, else the receipt time.
    fn created_at(&self) -> OffsetDateTime {
        self.email.date.unwrap_or_else(|| self.received_at())
    }
}

/// Stores one mail on its own: the raw bytes always, plus a ticket message unless it is a
/// duplicate, our own mail, or automated mail that belongs to no ticket (see [`store_mails`]).
/// The ticket's timeline events go into `events`, for the caller to record. Used to retry
/// quarantined mail.
pub async fn store_mail(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    mail: &FetchedMail,
    email: &InboundEmail,
    events: &mut PendingEvents,
) -> Result<StoreOutcome, StoreError> {
    let Some(raw_id) = insert_raw(conn, ctx, mail, email).await? else {
        return Ok(StoreOutcome::Duplicate);
    };
    let item = Item {
        mail,
        email,
        raw_id,
    };
    let outcomes = store_mails(conn, ctx, &[item], events).await?;
    Ok(outcomes[0])
}

/// What threading decided for one mail of a batch.
#[derive(Debug, Clone, Copy)]
enum Decision {
    /// From one of our own addresses: kept raw, no ticket (breaks mail loops).
    Own,
    /// Auto-reply or bounce that belongs to no ticket: kept raw, no ticket.
    AutomatedDropped,
    /// Joins an existing ticket.
    Ticket(i64),
    /// Joins the ticket of an earlier mail of this batch (its index in the batch).
    SameAs(usize),
    /// Opens a ticket.
    New,
}

/// Stores a batch of mails whose raw rows exist, in order, with a fixed number of statements
/// for the common case: one look-up of every referenced Message-ID, one of the subject
/// fallback's candidates, then [`messages::store_inbound`]. Threading is decided for the whole
/// batch first, mail by mail in order, with the batch's own earlier mails counted as stored
/// (a reply that arrives with the mail it answers joins its ticket). Returns each mail's
/// outcome in order.
async fn store_mails(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    items: &[Item<'_>],
    events: &mut PendingEvents,
) -> Result<Vec<StoreOutcome>, StoreError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let decisions = thread_batch(conn, ctx, items).await?;

    // Raw rows keep what became of them (inserted as `ticket`).
    let (ids, dispositions): (Vec<i64>, Vec<&str>) = items
        .iter()
        .zip(&decisions)
        .filter_map(|(item, d)| {
            let disposition = match d {
                Decision::Own => "own_address",
                Decision::AutomatedDropped => "automated_dropped",
                Decision::Ticket(_) | Decision::SameAs(_) => "threaded",
                Decision::New => return None,
            };
            Some((item.raw_id, disposition))
        })
        .unzip();
    if !ids.is_empty() {
        sqlx::query(
            "update raw_message r set disposition = x.d
             from unnest($1::bigint[], $2::text[]) as x(id, d) where r.raw_message_id = x.id",
        )
        .bind(&ids)
        .bind(&dispositions)
        .execute(&mut *conn)
        .await?;
    }

    // The mails that join tickets, in order; `stored[i]` is mail i's index among them.
    let customers: Vec<Option<EmailAddress>> = items
        .iter()
        .map(|i| customer_address(ctx, i.email))
        .collect();
    let participants: Vec<Vec<(&EmailAddress, ParticipantRole)>> = items
        .iter()
        .zip(&customers)
        .map(|(i, c)| participants(ctx, i.email, c.as_ref()))
        .collect();
    let mut stored: Vec<Option<usize>> = vec![None; items.len()];
    let mut batch = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let to = match decisions[i] {
            Decision::Own => {
                tracing::info!(
                    mailbox.id = ctx.mailbox_id,
                    uid = item.mail.uid,
                    "mail from our own address: no ticket"
                );
                continue;
            }
            Decision::AutomatedDropped => {
                tracing::info!(mailbox.id = ctx.mailbox_id, uid = item.mail.uid, kind = ?item.email.automated, "automated mail for no known ticket: kept raw, no ticket");
                continue;
            }
            Decision::Ticket(t) => Destination::Ticket(t),
            Decision::SameAs(k) => Destination::SameAs(stored[k].ok_or(sqlx::Error::RowNotFound)?),
            Decision::New => Destination::NewTicket {
                customer: customers[i].as_ref(),
                starts_closed: item.email.bulk,
            },
        };
        let email = item.email;
        stored[i] = Some(batch.len());
        batch.push(Inbound {
            msg: InboundMessage {
                mailbox_id: ctx.mailbox_id,
                raw_message_id: item.raw_id,
                from: email.from.as_ref(),
                to: &email.to,
                cc: &email.cc,
                reply_to: &email.reply_to,
                subject: &email.subject,
                text: &email.text,
                html: email.html.as_deref(),
                header_message_id: email.message_id.as_deref(),
                in_reply_to: email.in_reply_to.first().map(String::as_str),
                references: &email.references,
                automated: email.automated,
                date: item.created_at(),
                received_at: item.received_at(),
                attachments: &email.attachments,
                participants: &participants[i],
            },
            to,
        });
    }
    let placed = messages::store_inbound(conn, &batch, events).await?;

    let mut outcomes = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(k) = stored[i] else {
            outcomes.push(match decisions[i] {
                Decision::Own => StoreOutcome::OwnAddress,
                _ => StoreOutcome::SkippedAutomated,
            });
            continue;
        };
        let (ticket, message_id) = placed[k];
        if item.email.automated == Some(Automated::Bounce) {
            let reason = bounce_reason(&item.email.text);
            messages::record_bounce(
                conn,
                ticket,
                message_id,
                &item.email.returned_message_ids,
                &reason,
            )
            .await?;
        }
        outcomes.push(match decisions[i] {
            Decision::New => StoreOutcome::NewTicket(ticket),
            _ => StoreOutcome::Threaded(ticket),
        });
    }
    Ok(outcomes)
}

/// Decides where each mail of a batch goes, in order (RFC 5322 3.6.4): In-Reply-To, then
/// References newest first, against every Message-ID stored or sent in this mailbox and those
/// of the batch's earlier mails (for bounces also the ids of the returned message); then a
/// `[#N]` subject token, only when the sender already takes part in ticket N; then, for a
/// subject without a token, the reply-subject fallback ([`subject_fallback`]). Mail from our
/// own addresses is never threaded; automated mail that finds no ticket opens none.
async fn thread_batch(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    items: &[Item<'_>],
) -> sqlx::Result<Vec<Decision>> {
    let own: Vec<bool> = items
        .iter()
        .map(|i| i.email.from.as_ref().is_some_and(|f| ctx.is_own(&f.email)))
        .collect();
    let refs: Vec<Vec<&str>> = items
        .iter()
        .map(|i| {
            let e = i.email;
            let mut ids: Vec<&str> = Vec::new();
            ids.extend(e.in_reply_to.iter().map(String::as_str));
            ids.extend(e.references.iter().rev().map(String::as_str));
            ids.extend(e.returned_message_ids.iter().map(String::as_str));
            ids.dedup();
            ids
        })
        .collect();
    // (Collected first: a future holding these iterators' closures would not be `Send`.)
    let ids: Vec<&str> = refs
        .iter()
        .zip(&own)
        .filter(|(_, own)| !**own)
        .flat_map(|(r, _)| r.iter().copied())
        .collect();
    let stored = stored_threads(conn, ctx, ids).await?;
    let roots: Vec<&str> = items
        .iter()
        .zip(&own)
        .filter(|(_, own)| !**own)
        .filter_map(|(i, _)| thread_root(i.email))
        .collect();
    let stored_roots = root_threads(conn, ctx, roots).await?;
    let wanted: Vec<(String, OffsetDateTime)> = items
        .iter()
        .zip(&own)
        .filter(|(i, own)| !**own && subject_token(&i.email.subject).is_none())
        .filter_map(|(i, _)| fallback_key(ctx, i.email).map(|(sender, _)| (sender, i.created_at())))
        .collect();
    let fallback = SubjectCandidates::load(conn, ctx, wanted).await?;

    let mut decisions = Vec::with_capacity(items.len());
    // Message-IDs of the batch's mails placed so far, and the tickets it opened (for the
    // subject fallback: customer, thread key, index).
    let mut placed: HashMap<&str, Decision> = HashMap::new();
    let mut opened: Vec<(String, String, usize)> = Vec::new();
    // The batch's mails placed so far under each thread root, with their people.
    let mut placed_roots: HashMap<&str, Vec<(Decision, Vec<String>)>> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let email = item.email;
        if own[i] {
            decisions.push(Decision::Own);
            continue;
        }
        let mut found = refs[i].iter().find_map(|id| {
            placed
                .get(id)
                .copied()
                .or_else(|| stored.get(*id).map(|&t| Decision::Ticket(t)))
        });
        let token = subject_token(&email.subject);
        if found.is_none()
            && let Some(number) = token
        {
            found = token_thread(conn, ctx, email, number)
                .await?
                .map(Decision::Ticket);
        }
        let people = people(ctx, email);
        let root = thread_root(email);
        if found.is_none()
            && let Some(root) = root
        {
            let shares = |others: &[String]| others.iter().any(|o| people.contains(o));
            found = placed_roots
                .get(root)
                .and_then(|v| v.iter().rev().find(|(_, p)| shares(p)).map(|(d, _)| *d))
                .or_else(|| {
                    stored_roots
                        .get(root)
                        .and_then(|v| v.iter().find(|(_, p)| shares(p)))
                        .map(|(t, _)| Decision::Ticket(*t))
                });
        }
        if found.is_none() && token.is_none() {
            found = fallback_key(ctx, email).and_then(|(sender, key)| {
                opened
                    .iter()
                    .rev()
                    .find(|(c, k, _)| *c == sender && *k == key)
                    .map(|&(_, _, k)| Decision::SameAs(k))
                    .or_else(|| {
                        fallback
                            .find(&sender, &key, item.created_at())
                            .map(Decision::Ticket)
                    })
            });
        }
        let decision = match (found, email.automated) {
            (Some(d), _) => d,
            (None, Some(Automated::AutoReply | Automated::Bounce)) => Decision::AutomatedDropped,
            (None, _) => {
                if let Some(c) = customer_address(ctx, email) {
                    opened.push((c.email, subject::thread_key(&email.subject), i));
                }
                Decision::New
            }
        };
        let placed_as = match decision {
            Decision::New => Some(Decision::SameAs(i)),
            d @ (Decision::Ticket(_) | Decision::SameAs(_)) => Some(d),
            _ => None,
        };
        if let Some(d) = placed_as {
            if let Some(id) = email.message_id.as_deref() {
                placed.insert(id, d);
            }
            if let Some(root) = root {
                placed_roots.entry(root).or_default().push((d, people));
            }
        }
        decisions.push(decision);
    }
    Ok(decisions)
}

/// The ticket of each stored or sent message of this mailbox whose Message-ID is among `ids`
/// (the newest message's ticket when an id occurs twice), in one statement.
async fn stored_threads(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    mut ids: Vec<&str>,
) -> sqlx::Result<HashMap<String, i64>> {
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    // The mailbox check is a scalar subquery so that the plan stays an index lookup per
    // candidate; a join let generic plans hash every ticket of the mailbox (O(tickets)).
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select c.header_message_id, c.ticket_id from (
            select m.ticket_id, m.header_message_id, m.message_id,
                   (select t.mailbox_id from ticket t where t.ticket_id = m.ticket_id) as mailbox_id
            from message m where m.header_message_id = any($2)
         ) c
         where c.mailbox_id = $1
         order by c.message_id desc",
    )
    .bind(ctx.mailbox_id)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for (id, ticket) in rows {
        out.entry(id).or_insert(ticket);
    }
    Ok(out)
}

/// A mail's thread root (RFC 5322 3.6.4): the first `References` id (each reply's References
/// starts with its parent's, so the first is the conversation's first message), else its
/// `In-Reply-To`; `None` for a mail that starts a conversation.
fn thread_root(email: &InboundEmail) -> Option<&str> {
    email
        .references
        .first()
        .or(email.in_reply_to.first())
        .map(String::as_str)
}

/// The people on a mail (`From`, `Reply-To`, `To`, `Cc`), lower-case, never our own addresses.
fn people(ctx: &MailboxContext, email: &InboundEmail) -> Vec<String> {
    email
        .from
        .iter()
        .chain(&email.reply_to)
        .chain(&email.to)
        .chain(&email.cc)
        .filter(|a| !ctx.is_own(&a.email))
        .map(|a| a.email.to_lowercase())
        .collect()
}

/// How many tickets [`root_threads`] gives for one root at most (the newest).
const ROOT_CANDIDATES: i64 = 20;

/// For each thread root among `roots` ([`thread_root`]), the tickets of this mailbox whose
/// messages have that root (at most [`ROOT_CANDIDATES`]), newest first, each with its
/// participants (lower-case), in one statement. A mail whose references match no stored Message-ID joins such a ticket only when
/// one of its people already takes part in it: two replies to a root we never received (it
/// went to a colleague's personal address) are one conversation, but replies of strangers to
/// one newsletter sent from another system are not.
async fn root_threads(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    mut roots: Vec<&str>,
) -> sqlx::Result<HashMap<String, Vec<(i64, Vec<String>)>>> {
    roots.sort_unstable();
    roots.dedup();
    if roots.is_empty() {
        return Ok(HashMap::new());
    }
    // As in `stored_threads`, the mailbox check is a scalar subquery (an index look-up per
    // candidate message). A root that many tickets share (a newsletter's) gives its newest
    // ROOT_CANDIDATES tickets only.
    let rows: Vec<(String, i64, Vec<String>)> = sqlx::query_as(&format!(
        r#"select r.root, c.ticket_id,
                  array(select lower(p.email) from ticket_participant p where p.ticket_id = c.ticket_id)
           from unnest($2::text[]) as r(root)
           cross join lateral (
               select m.ticket_id, max(m.message_id) as newest
               from message m
               where coalesce(m."references"[1], m.in_reply_to) = r.root
                 and (select t.mailbox_id from ticket t where t.ticket_id = m.ticket_id) = $1
               group by m.ticket_id
               order by newest desc
               limit {ROOT_CANDIDATES}) c
           order by c.newest desc"#
    ))
    .bind(ctx.mailbox_id)
    .bind(&roots)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: HashMap<String, Vec<(i64, Vec<String>)>> = HashMap::new();
    for (root, ticket, participants) in rows {
        out.entry(root).or_default().push((ticket, participants));
    }
    Ok(out)
}

/// Ticket `number` of this mailbox when one of the mail's senders (`From`, `Reply-To`) already
/// takes part in it.
async fn token_thread(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    email: &InboundEmail,
    number: i64,
) -> sqlx::Result<Option<i64>> {
    let senders: Vec<&str> = email
        .from
        .iter()
        .chain(email.reply_to.iter())
        .map(|a| a.email.as_str())
        .collect();
    sqlx::query_scalar(
        "select t.ticket_id from ticket t
         where t.ticket_id = $1 and t.mailbox_id = $2
           and exists (select 1 from ticket_participant p where p.ticket_id = t.ticket_id and p.email = any($3))",
    )
    .bind(number)
    .bind(ctx.mailbox_id)
    .bind(&senders)
    .fetch_optional(&mut *conn)
    .await
}

/// The subject fallback's key for a mail: its sender (the address a new ticket would take as
/// customer) and its subject's [`subject::thread_key`]; `None` when the fallback does not apply
/// (automated mail, a subject without a reply prefix, no sender).
fn fallback_key(ctx: &MailboxContext, email: &InboundEmail) -> Option<(String, String)> {
    if email.automated.is_some() || !subject::has_reply_prefix(&email.subject) {
        return None;
    }
    let key = subject::thread_key(&email.subject);
    if key.is_empty() {
        return None;
    }
    Some((customer_address(ctx, email)?.email, key))
}

/// The fallback for replies whose client sent no usable In-Reply-To/References and whose
/// subject has no `[#N]` token (webmail, phones, mail forwarded from another system): a
/// subject with a reply prefix (`Re:`, `AW:`, `SV:`, `回复：` … see [`subject`]) joins the
/// most recent ticket of the same mailbox whose customer is the mail's sender (its
/// `Reply-To`, else `From`, as for a new ticket), whose [`subject::thread_key`] is the same,
/// and whose last activity is at most [`SUBJECT_FALLBACK_WINDOW`] before the mail's date.
///
/// Never for automated mail (auto-replies, bounces and list mail have their own rules), never
/// for a subject without a reply prefix, never across senders or mailboxes, and never into a
/// ticket emptied by a merge. Holds, per sender of a batch, their most recent tickets (at most
/// [`SUBJECT_FALLBACK_CANDIDATES`], read through `ticket_customer_last_message_idx` in one
/// statement for the whole batch).
#[derive(Debug, Default)]
struct SubjectCandidates {
    /// Per sender: `(ticket, thread key, last activity)`, most recent first.
    by_sender: HashMap<String, Vec<(i64, String, OffsetDateTime)>>,
}

impl SubjectCandidates {
    /// Reads the candidates of every `(sender, mail date)` given.
    async fn load(
        conn: &mut PgConnection,
        ctx: &MailboxContext,
        wanted: Vec<(String, OffsetDateTime)>,
    ) -> sqlx::Result<Self> {
        let mut since: HashMap<String, OffsetDateTime> = HashMap::new();
        for (sender, at) in wanted {
            let from = at - SUBJECT_FALLBACK_WINDOW;
            since
                .entry(sender)
                .and_modify(|s| *s = (*s).min(from))
                .or_insert(from);
        }
        if since.is_empty() {
            return Ok(Self::default());
        }
        let (senders, froms): (Vec<String>, Vec<OffsetDateTime>) = since.into_iter().unzip();
        let rows: Vec<(String, i64, String, OffsetDateTime)> = sqlx::query_as(
            "select s.email, t.ticket_id, t.subject, t.last_message_at
             from unnest($1::text[], $2::timestamptz[]) as s(email, since)
             cross join lateral (
                select t.ticket_id, t.subject, t.last_message_at from ticket t
                where t.customer_id = (select customer_id from customer where lower(email) = lower(s.email))
                  and t.last_message_at >= s.since
                  and t.mailbox_id = $3
                  and t.message_count > 0
                order by t.last_message_at desc, t.ticket_id desc
                limit $4
             ) t
             order by s.email, t.last_message_at desc, t.ticket_id desc",
        )
        .bind(&senders)
        .bind(&froms)
        .bind(ctx.mailbox_id)
        .bind(SUBJECT_FALLBACK_CANDIDATES)
        .fetch_all(&mut *conn)
        .await?;
        let mut by_sender: HashMap<String, Vec<_>> = HashMap::new();
        for (sender, ticket, subject, last) in rows {
            by_sender.entry(sender).or_default().push((
                ticket,
                subject::thread_key(&subject),
                last,
            ));
        }
        Ok(Self { by_sender })
    }

    /// The sender's most recent ticket with this thread key, active at most
    /// [`SUBJECT_FALLBACK_WINDOW`] before `created_at`.
    fn find(&self, sender: &str, key: &str, created_at: OffsetDateTime) -> Option<i64> {
        let since = created_at - SUBJECT_FALLBACK_WINDOW;
        self.by_sender
            .get(sender)?
            .iter()
            .find(|(_, k, last)| *last >= since && k == key)
            .map(|&(t, _, _)| t)
    }
}

/// The customer of a new ticket: the first `Reply-To` that is not ours (web forms send
/// `From: noreply@`), else `From`.
fn customer_address(ctx: &MailboxContext, email: &InboundEmail) -> Option<EmailAddress> {
    email
        .reply_to
        .iter()
        .find(|a| !ctx.is_own(&a.email))
        .cloned()
        .or_else(|| email.from.clone().filter(|a| !ctx.is_own(&a.email)))
}

/// How recent a ticket's last activity must be for the subject fallback ([`SubjectCandidates`]) to join
/// a reply to it: 30 days before the reply's date.
pub const SUBJECT_FALLBACK_WINDOW: time::Duration = time::Duration::days(30);

/// How many of the sender's most recent tickets the subject fallback compares.
const SUBJECT_FALLBACK_CANDIDATES: i64 = 50;

/// The ticket number in a `[#N]` subject token, if any.
pub fn subject_token(subject: &str) -> Option<i64> {
    let mut rest = subject;
    while let Some(i) = rest.find("[#") {
        let after = &rest[i + 2..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() && after[digits.len()..].starts_with(']') {
            return digits.parse().ok();
        }
        rest = after;
    }
    None
}

/// The customer and everyone on Reply-To/From/To/Cc, never our own addresses; nobody for
/// automated mail (a mailer daemon or a list is not a participant).
fn participants<'a>(
    ctx: &MailboxContext,
    email: &'a InboundEmail,
    customer: Option<&'a EmailAddress>,
) -> Vec<(&'a EmailAddress, ParticipantRole)> {
    let mut out: Vec<(&EmailAddress, ParticipantRole)> = Vec::new();
    if email.automated.is_some() {
        return out;
    }
    let sender = email.reply_to.first().or(email.from.as_ref());
    for (a, role) in customer
        .map(|c| (c, ParticipantRole::Customer))
        .into_iter()
        .chain(sender.map(|s| (s, ParticipantRole::Cc)))
        .chain(
            email
                .to
                .iter()
                .chain(email.cc.iter())
                .map(|a| (a, ParticipantRole::Cc)),
        )
    {
        if ctx.is_own(&a.email) || out.iter().any(|(o, _)| o.email == a.email) {
            continue;
        }
        out.push((a, role));
    }
    out
}

/// Inserts one raw message (disposition `ticket`, corrected by [`store_mails`] when it
/// differs); `None` when it is already stored (same Message-ID and content).
async fn insert_raw(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    mail: &FetchedMail,
    email: &InboundEmail,
) -> sqlx::Result<Option<i64>> {
    let received_at = mail.internal_date.unwrap_or_else(OffsetDateTime::now_utc);
    sqlx::query_scalar(
        "insert into raw_message (mailbox_id, header_message_id, content_sha256, raw, folder, uid_validity, uid, received_at, disposition)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 'ticket')
         on conflict (mailbox_id, coalesce(header_message_id, ''), content_sha256) do nothing
         returning raw_message_id",
    )
    .bind(ctx.mailbox_id)
    .bind(&email.message_id)
    .bind(&email.content_sha256[..])
    .bind(&mail.raw)
    .bind(&mail.folder)
    .bind(i64::from(mail.uid_validity))
    .bind(i64::from(mail.uid))
    .bind(received_at)
    .fetch_optional(&mut *conn)
    .await
}

/// Inserts the raw rows of a whole batch (disposition `ticket`, corrected later for the few
/// that differ) with one look-up and one binary `COPY`: the look-up finds the mails already
/// stored (same mailbox, Message-ID and content, `raw_message_dedupe_key`) and allocates the new
/// rows' ids; of equal mails within the batch the first is kept. The new rows are listed in
/// `raw_message_pending`. A row that another node stored meanwhile makes the `COPY` fail on the
/// unique key, and the batch is then kept mail by mail (see [`keep_raw`]). Returns, per mail,
/// its new row id, or `None` for a duplicate or an unparseable mail.
async fn insert_raw_batch(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    mails: &[FetchedMail],
    parsed: &[Result<InboundEmail, String>],
) -> Result<Vec<Option<i64>>, StoreError> {
    let mut out = vec![None; mails.len()];
    // The parsed mails, each once: (index in the batch, email).
    let mut seen = std::collections::HashSet::new();
    let candidates: Vec<(usize, &InboundEmail)> = parsed
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.as_ref().ok().map(|e| (i, e)))
        .filter(|(_, e)| {
            seen.insert((e.message_id.as_deref().unwrap_or(""), &e.content_sha256[..]))
        })
        .collect();
    if candidates.is_empty() {
        return Ok(out);
    }
    let mids: Vec<&str> = candidates
        .iter()
        .map(|(_, e)| e.message_id.as_deref().unwrap_or(""))
        .collect();
    let hashes: Vec<&[u8]> = candidates
        .iter()
        .map(|(_, e)| &e.content_sha256[..])
        .collect();
    let (ids, stored): (Vec<i64>, Vec<i32>) = sqlx::query_as(
        // The sequence is looked up once (`offset 0` keeps the look-up from being evaluated
        // per id: 4 ms of a batch of 500).
        "select array(select nextval(q.seq)
                      from (select pg_get_serial_sequence('raw_message', 'raw_message_id')::regclass
                            as seq offset 0) q, generate_series(1, cardinality($2::text[]))),
                array(select (x.k - 1)::int from unnest($2::text[], $3::bytea[]) with ordinality as x(mid, sha, k)
                      where exists (select 1 from raw_message r
                                    where r.mailbox_id = $1 and coalesce(r.header_message_id, '') = x.mid
                                      and r.content_sha256 = x.sha))",
    )
    .bind(ctx.mailbox_id)
    .bind(&mids)
    .bind(&hashes)
    .fetch_one(&mut *conn)
    .await?;

    let stored: std::collections::HashSet<i32> = stored.into_iter().collect();
    if stored.len() == candidates.len() {
        return Ok(out);
    }
    let mut copy = copy::CopyIn::start(
        conn,
        "copy raw_message (raw_message_id, mailbox_id, header_message_id, content_sha256, raw,
                           folder, uid_validity, uid, received_at, disposition)
         from stdin with (format binary)",
    )
    .await?;
    for (k, &(i, email)) in candidates.iter().enumerate() {
        if stored.contains(&(k as i32)) {
            continue;
        }
        let mail = &mails[i];
        let data = copy.buf();
        copy::row(data, 10);
        copy::int8(data, ids[k]);
        copy::int8(data, ctx.mailbox_id);
        copy::opt_text(data, email.message_id.as_deref());
        copy::bytea(data, &email.content_sha256);
        copy::bytea(data, &mail.raw);
        copy::text(data, &mail.folder);
        copy::int8(data, i64::from(mail.uid_validity));
        copy::int8(data, i64::from(mail.uid));
        copy::timestamptz(
            data,
            mail.internal_date.unwrap_or_else(OffsetDateTime::now_utc),
        );
        copy::text(data, "ticket");
        copy.row_done().await?;
        out[i] = Some(ids[k]);
    }
    copy.finish().await?;
    let kept: Vec<i64> = out.iter().flatten().copied().collect();
    mark_pending(conn, &kept).await?;
    Ok(out)
}

/// The line of a bounce that says why delivery failed (an RFC 3463 `5.x.x` status or an SMTP
/// 550), else "delivery failed".
fn bounce_reason(text: &str) -> String {
    text.lines()
        .find(|l| l.contains(" 5.") || l.contains("550"))
        .unwrap_or("delivery failed")
        .trim()
        .to_string()
}

async fn quarantine(
    conn: &mut PgConnection,
    mailbox_id: i64,
    mail: &FetchedMail,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into quarantine (mailbox_id, folder, uid_validity, uid, raw, reason) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(mailbox_id)
    .bind(&mail.folder)
    .bind(i64::from(mail.uid_validity))
    .bind(i64::from(mail.uid))
    .bind(&mail.raw)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The highest UID already stored for this folder and UIDVALIDITY (0 when none).
pub async fn cursor(
    conn: &mut PgConnection,
    mailbox_id: i64,
    folder: &str,
    uid_validity: u32,
) -> sqlx::Result<u32> {
    let last: Option<i64> = sqlx::query_scalar(
        "select last_uid from imap_folder_state where mailbox_id = $1 and folder = $2 and uid_validity = $3",
    )
    .bind(mailbox_id)
    .bind(folder)
    .bind(i64::from(uid_validity))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(last.unwrap_or(0) as u32)
}

async fn advance_cursor(
    conn: &mut PgConnection,
    mailbox_id: i64,
    folder: &str,
    uid_validity: u32,
    uid: u32,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into imap_folder_state (mailbox_id, folder, uid_validity, last_uid) values ($1, $2, $3, $4)
         on conflict (mailbox_id, folder, uid_validity)
         do update set last_uid = greatest(imap_folder_state.last_uid, excluded.last_uid), updated_at = now()",
    )
    .bind(mailbox_id)
    .bind(folder)
    .bind(i64::from(uid_validity))
    .bind(i64::from(uid))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_token_finds_the_ticket_number() {
        assert_eq!(subject_token("VS: [#4711] Drucker"), Some(4711));
        assert_eq!(subject_token("Re: [#12]"), Some(12));
        assert_eq!(subject_token("[#] [#x] no"), None);
        assert_eq!(subject_token("a [#a] b [#7]"), Some(7));
    }
}
