//! Stores one fetched mail: dedupe, thread (RFC 5322 3.6.4, then subject token, then reply
//! subject), create or extend a ticket.
//!
//! Everything here runs inside the caller's transaction, which also advances the IMAP cursor,
//! so a crash at any point either stores a batch and its cursor or neither.

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use super::classify::Automated;
use super::parse::{self, EmailAddress, InboundEmail};
use super::subject;
use crate::mailboxes::canonical_address;
use crate::tickets::messages::{self, InboundMessage, ParticipantRole};
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

/// Stores a batch of fetched mail and advances the folder cursor, in one transaction.
///
/// Mail is parsed before the transaction; unparseable mail is quarantined. The batch is first
/// stored in one go; if the database rejects one mail's data (bad encoding, a constraint), the
/// batch is retried with a savepoint per mail so that only that mail is quarantined. Any other
/// error (connection lost, deadlock) rolls the whole batch back and is returned for a retry.
pub async fn store_batch(
    pool: &PgPool,
    ctx: &MailboxContext,
    mails: &[FetchedMail],
) -> sqlx::Result<IngestCounts> {
    let parsed: Vec<Result<InboundEmail, String>> = mails
        .iter()
        .map(|m| parse::parse(&m.raw).map_err(|e| e.to_string()))
        .collect();
    match store_parsed(pool, ctx, mails, &parsed, false).await {
        Err(StoreError::Data(reason)) => {
            tracing::warn!(mailbox.id = ctx.mailbox_id, %reason, "a mail was rejected; storing the batch one mail at a time");
            match store_parsed(pool, ctx, mails, &parsed, true).await {
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

async fn store_parsed(
    pool: &PgPool,
    ctx: &MailboxContext,
    mails: &[FetchedMail],
    parsed: &[Result<InboundEmail, String>],
    savepoints: bool,
) -> Result<IngestCounts, StoreError> {
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
    // Fast path: all raw rows in one statement; `None` marks a duplicate.
    let raw_ids = if savepoints {
        Vec::new()
    } else {
        insert_raw_batch(&mut tx, ctx, mails, parsed).await?
    };
    for (i, (mail, email)) in mails.iter().zip(parsed).enumerate() {
        let email = match email {
            Ok(e) => e,
            Err(reason) => {
                tracing::warn!(mailbox.id = ctx.mailbox_id, folder = %mail.folder, uid = mail.uid, %reason, "quarantining unparseable message");
                quarantine(&mut tx, ctx.mailbox_id, mail, reason).await?;
                counts.add(StoreOutcome::Quarantined);
                continue;
            }
        };
        if !savepoints {
            let outcome = match raw_ids[i] {
                Some(raw_id) => {
                    store_mail(&mut tx, ctx, mail, email, Some(raw_id), &mut events).await?
                }
                None => StoreOutcome::Duplicate,
            };
            note(outcome, &mut changed);
            counts.add(outcome);
            continue;
        }
        let mut sp = sqlx::Connection::begin(&mut *tx).await?;
        // This mail's events join the batch's only if its savepoint commits.
        let mut mine = PendingEvents::default();
        match store_mail(&mut sp, ctx, mail, email, None, &mut mine).await {
            Ok(outcome) => {
                sp.commit().await?;
                events.append(mine);
                note(outcome, &mut changed);
                counts.add(outcome);
            }
            Err(StoreError::Parse(reason)) | Err(StoreError::Data(reason)) => {
                sp.rollback().await?;
                tracing::warn!(mailbox.id = ctx.mailbox_id, folder = %mail.folder, uid = mail.uid, %reason, "quarantining message");
                quarantine(&mut tx, ctx.mailbox_id, mail, &reason).await?;
                counts.add(StoreOutcome::Quarantined);
            }
            Err(e) => return Err(e),
        }
    }
    timeline::record_pending(&mut tx, events).await?;
    // One notification per changed ticket, in one statement, delivered at commit.
    changed.sort_unstable();
    changed.dedup();
    crate::tickets::notify_ingested(&mut tx, ctx.mailbox_id, &changed).await?;
    if let Some(last) = mails.last() {
        let max_uid = mails.iter().map(|m| m.uid).max().unwrap_or(0);
        advance_cursor(
            &mut tx,
            ctx.mailbox_id,
            &last.folder,
            last.uid_validity,
            max_uid,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(counts)
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

/// Stores one mail: the raw bytes always, plus a ticket message unless it is a duplicate,
/// our own mail, or automated mail that belongs to no ticket. `raw_id` is the mail's
/// `raw_message` row when the caller already inserted it (see [`insert_raw_batch`]). The
/// ticket's timeline events go into `events`, for the caller to record with its batch.
pub async fn store_mail(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    mail: &FetchedMail,
    email: &InboundEmail,
    raw_id: Option<i64>,
    events: &mut PendingEvents,
) -> Result<StoreOutcome, StoreError> {
    let received_at = mail.internal_date.unwrap_or_else(OffsetDateTime::now_utc);

    let created_at = email.date.unwrap_or(received_at);
    let from_email = email.from.as_ref().map(|a| a.email.clone());
    let own = from_email.as_deref().is_some_and(|f| ctx.is_own(f));
    let ticket = if own {
        None
    } else {
        find_thread(conn, ctx, email, created_at).await?
    };

    let disposition = match (own, ticket, email.automated) {
        (true, _, _) => "own_address",
        (false, Some(_), _) => "threaded",
        (false, None, Some(Automated::AutoReply | Automated::Bounce)) => "automated_dropped",
        (false, None, _) => "ticket",
    };
    let raw_id = match raw_id {
        Some(id) => {
            if disposition != "ticket" {
                sqlx::query("update raw_message set disposition = $2 where raw_message_id = $1")
                    .bind(id)
                    .bind(disposition)
                    .execute(&mut *conn)
                    .await?;
            }
            id
        }
        None => match insert_raw(conn, ctx, mail, email, received_at, disposition).await? {
            Some(id) => id,
            None => return Ok(StoreOutcome::Duplicate),
        },
    };

    match disposition {
        "own_address" => {
            tracing::info!(
                mailbox.id = ctx.mailbox_id,
                uid = mail.uid,
                "mail from our own address: no ticket"
            );
            return Ok(StoreOutcome::OwnAddress);
        }
        "automated_dropped" => {
            tracing::info!(mailbox.id = ctx.mailbox_id, uid = mail.uid, kind = ?email.automated, "automated mail for no known ticket: kept raw, no ticket");
            return Ok(StoreOutcome::SkippedAutomated);
        }
        _ => {}
    }

    let customer = customer_address(ctx, email);
    let participants = participants(ctx, email, customer.as_ref());
    let msg = InboundMessage {
        mailbox_id: ctx.mailbox_id,
        raw_message_id: raw_id,
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
        date: created_at,
        received_at,
        attachments: &email.attachments,
        participants: &participants,
    };
    let (ticket_id, message_id, outcome) = match ticket {
        Some(t) => {
            let m = messages::append_inbound(conn, t, &msg, events).await?;
            (t, m, StoreOutcome::Threaded(t))
        }
        None => {
            let (t, m) =
                messages::open_ticket(conn, &msg, customer.as_ref(), email.bulk, events).await?;
            (t, m, StoreOutcome::NewTicket(t))
        }
    };
    if email.automated == Some(Automated::Bounce) {
        let reason = bounce_reason(&email.text);
        messages::record_bounce(
            conn,
            ticket_id,
            message_id,
            &email.returned_message_ids,
            &reason,
        )
        .await?;
    }
    Ok(outcome)
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

/// How recent a ticket's last activity must be for [`find_thread`]'s subject fallback to join
/// a reply to it: 30 days before the reply's date.
pub const SUBJECT_FALLBACK_WINDOW: time::Duration = time::Duration::days(30);

/// How many of the sender's most recent tickets the subject fallback compares.
const SUBJECT_FALLBACK_CANDIDATES: i64 = 50;

/// Finds the ticket a mail belongs to (RFC 5322 3.6.4): In-Reply-To, then References newest
/// first, against every Message-ID stored or sent in this mailbox; for bounces also the ids of
/// the returned message; then a `[#N]` subject token, only when the sender already takes part
/// in ticket N; then, for a subject without a token, [`find_thread_by_subject`].
/// `created_at` is the mail's date (its `Date`, else the receipt time).
async fn find_thread(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    email: &InboundEmail,
    created_at: OffsetDateTime,
) -> sqlx::Result<Option<i64>> {
    let mut ids: Vec<&str> = Vec::new();
    ids.extend(email.in_reply_to.iter().map(String::as_str));
    ids.extend(email.references.iter().rev().map(String::as_str));
    ids.extend(email.returned_message_ids.iter().map(String::as_str));
    ids.dedup();
    if !ids.is_empty() {
        // The mailbox check is a scalar subquery so that the plan stays an index lookup per
        // candidate; a join let generic plans hash every ticket of the mailbox (O(tickets)).
        let found: Option<i64> = sqlx::query_scalar(
            "select c.ticket_id from (
                select m.ticket_id, m.header_message_id, m.message_id,
                       (select t.mailbox_id from ticket t where t.ticket_id = m.ticket_id) as mailbox_id
                from message m where m.header_message_id = any($2)
             ) c
             where c.mailbox_id = $1
             order by array_position($2, c.header_message_id), c.message_id desc
             limit 1",
        )
        .bind(ctx.mailbox_id)
        .bind(&ids)
        .fetch_optional(&mut *conn)
        .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    let Some(number) = subject_token(&email.subject) else {
        return find_thread_by_subject(conn, ctx, email, created_at).await;
    };
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

/// The fallback for replies whose client sent no usable In-Reply-To/References and whose
/// subject has no `[#N]` token (webmail, phones, mail forwarded from another system): a
/// subject with a reply prefix (`Re:`, `AW:`, `SV:`, `回复：` … see [`subject`]) joins the
/// most recent ticket of the same mailbox whose customer is the mail's sender (its
/// `Reply-To`, else `From`, as for a new ticket), whose [`subject::thread_key`] is the same,
/// and whose last activity is at most [`SUBJECT_FALLBACK_WINDOW`] before `created_at`.
///
/// Never for automated mail (auto-replies, bounces and list mail have their own rules), never
/// for a subject without a reply prefix, never across senders or mailboxes, and never into a
/// ticket emptied by a merge. The lookup reads one sender's recent tickets through
/// `ticket_customer_last_message_idx`, at most [`SUBJECT_FALLBACK_CANDIDATES`] of them.
async fn find_thread_by_subject(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    email: &InboundEmail,
    created_at: OffsetDateTime,
) -> sqlx::Result<Option<i64>> {
    if email.automated.is_some() || !subject::has_reply_prefix(&email.subject) {
        return Ok(None);
    }
    let key = subject::thread_key(&email.subject);
    if key.is_empty() {
        return Ok(None);
    }
    let Some(sender) = customer_address(ctx, email) else {
        return Ok(None);
    };
    let candidates: Vec<(i64, String)> = sqlx::query_as(
        "select t.ticket_id, t.subject from ticket t
         where t.customer_id = (select customer_id from customer where lower(email) = lower($1))
           and t.last_message_at >= $3
           and t.mailbox_id = $2
           and t.message_count > 0
         order by t.last_message_at desc, t.ticket_id desc
         limit $4",
    )
    .bind(&sender.email)
    .bind(ctx.mailbox_id)
    .bind(created_at - SUBJECT_FALLBACK_WINDOW)
    .bind(SUBJECT_FALLBACK_CANDIDATES)
    .fetch_all(&mut *conn)
    .await?;
    Ok(candidates
        .into_iter()
        .find(|(_, s)| subject::thread_key(s) == key)
        .map(|(t, _)| t))
}

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

/// Inserts one raw message; `None` when it is already stored (same Message-ID and content).
async fn insert_raw(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    mail: &FetchedMail,
    email: &InboundEmail,
    received_at: OffsetDateTime,
    disposition: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "insert into raw_message (mailbox_id, header_message_id, content_sha256, raw, folder, uid_validity, uid, received_at, disposition)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
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
    .bind(disposition)
    .fetch_optional(&mut *conn)
    .await
}

/// Inserts the raw rows of a whole batch in one statement (disposition `ticket`, corrected
/// later for the few that differ). Returns, per mail, its new row id, or `None` for a
/// duplicate or an unparseable mail.
async fn insert_raw_batch(
    conn: &mut PgConnection,
    ctx: &MailboxContext,
    mails: &[FetchedMail],
    parsed: &[Result<InboundEmail, String>],
) -> Result<Vec<Option<i64>>, StoreError> {
    let mut idx = Vec::new();
    let mut ids = Vec::new();
    let mut hashes = Vec::new();
    let mut raws = Vec::new();
    let mut uids = Vec::new();
    let mut received = Vec::new();
    for (i, (m, e)) in mails.iter().zip(parsed).enumerate() {
        if let Ok(e) = e {
            idx.push(i as i32);
            ids.push(e.message_id.as_deref());
            hashes.push(&e.content_sha256[..]);
            raws.push(m.raw.as_slice());
            uids.push(i64::from(m.uid));
            received.push(m.internal_date.unwrap_or_else(OffsetDateTime::now_utc));
        }
    }
    let mut out = vec![None; mails.len()];
    let (Some(first), false) = (mails.first(), idx.is_empty()) else {
        return Ok(out);
    };
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "insert into raw_message (mailbox_id, header_message_id, content_sha256, raw, folder, uid_validity, uid, received_at, disposition)
         select $1, x.mid, x.sha, x.raw, $2, $3, x.uid, x.received, 'ticket'
         from unnest($4::int[], $5::text[], $6::bytea[], $7::bytea[], $8::bigint[], $9::timestamptz[])
              as x(i, mid, sha, raw, uid, received)
         on conflict (mailbox_id, coalesce(header_message_id, ''), content_sha256) do nothing
         returning uid, raw_message_id",
    )
    .bind(ctx.mailbox_id)
    .bind(&first.folder)
    .bind(i64::from(first.uid_validity))
    .bind(&idx)
    .bind(&ids)
    .bind(&hashes)
    .bind(&raws)
    .bind(&uids)
    .bind(&received)
    .fetch_all(&mut *conn)
    .await?;
    // UIDs are unique within a batch (one folder, one UIDVALIDITY).
    for (uid, id) in rows {
        if let Some(i) = mails.iter().position(|m| i64::from(m.uid) == uid) {
            out[i] = Some(id);
        }
    }
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
