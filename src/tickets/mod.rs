//! Tickets, their messages, attachments and timeline.
//!
//! This module is the only writer of `ticket`, ticket `message` rows, `ticket_tag` and
//! `ticket_event` (the counters follow by trigger): `messages` appends inbound mail and
//! replies and records delivery outcomes, `actions` holds what agents (and Frontdesk itself)
//! change, and every change ends in [`timeline::record`], which appends one typed event, runs
//! the hook and sends the live notification. This file is the read side used by the API and
//! UI; `inbox` lists and counts.
//!
//! Every query takes the caller's visible mailboxes (`None` = all) so that access control is
//! applied in SQL, not after the fact.

pub mod actions;
pub mod drafts;
pub mod inbox;
pub mod mentions;
pub mod messages;
pub mod model;
pub mod notification_mail;
pub mod recipients;
pub mod reply;
pub mod saved_reply;
pub mod saved_views;
pub mod sidebar_counts;
pub mod tags;
pub mod timeline;

pub use model::{Automated, Direction, EmailAddress, Priority, TicketStatus, UnknownValue};

use serde::Serialize;
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor};
use time::OffsetDateTime;

/// A mailbox reference as shown on a ticket.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MailboxRef {
    pub id: i64,
    pub address: String,
}

/// A ticket row of the list (`GET /api/v1/tickets`).
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct TicketSummary {
    pub number: i64,
    pub subject: String,
    pub status: TicketStatus,
    pub priority: Priority,
    #[schema(value_type = MailboxRef)]
    pub mailbox: Json<MailboxRef>,
    /// The assignee's email, or null.
    pub assignee: Option<String>,
    /// The team the ticket is with (its name), or null.
    pub team: Option<String>,
    pub tags: Vec<String>,
    /// `{"email", "name", "vip", "lifecycle_stage", "health", "company"}` or null (the
    /// account attributes are the effective ones: see `crate::customers`).
    #[schema(value_type = Option<crate::customers::TicketCustomer>)]
    pub customer: Option<Json<crate::customers::TicketCustomer>>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_message_at: OffsetDateTime,
    pub message_count: i32,
}

/// Filters of the ticket list.
#[derive(Debug, Default, Clone)]
pub struct TicketFilter {
    pub status: Option<TicketStatus>,
    /// Mailbox id or address.
    pub mailbox: Option<String>,
    /// Page size, 1..=200.
    pub limit: i64,
    /// Opaque keyset cursor from the previous page.
    pub cursor: Option<String>,
}

static SUMMARY_SELECT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "select t.ticket_id as number, t.subject, t.status, t.priority,
           json_build_object('id', mb.mailbox_id, 'address', mb.address) as mailbox,
           a.email as assignee, tm.name as team,
           coalesce((select array_agg(g.name order by g.name) from ticket_tag tt join tag g on g.tag_id = tt.tag_id
                     where tt.ticket_id = t.ticket_id), '{{}}') as tags,
           {} as customer,
           t.created_at, t.last_message_at, t.message_count
    from ticket t
    join mailbox mb on mb.mailbox_id = t.mailbox_id
    {}
    left join agent a on a.agent_id = t.assignee_agent_id
    left join team tm on tm.team_id = t.team_id",
        crate::customers::TICKET_CUSTOMER_JSON,
        crate::customers::TICKET_CUSTOMER_JOINS
    )
});

/// A bad filter value, with a message for the API client.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

/// Lists tickets newest activity first, with keyset pagination. Returns the page and the
/// cursor of the next page (`None` on the last page).
pub async fn list_tickets(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
    f: &TicketFilter,
) -> Result<(Vec<TicketSummary>, Option<String>), ListError> {
    let (cursor_at, cursor_id) = match &f.cursor {
        None => (None, None),
        Some(c) => {
            let (at, id) = decode_cursor(c)
                .ok_or_else(|| ListError::Filter(FilterError("invalid cursor".into())))?;
            (Some(at), Some(id))
        }
    };
    let (mailbox_id, mailbox_address) = match &f.mailbox {
        None => (None, None),
        Some(m) => match m.parse::<i64>() {
            Ok(id) => (Some(id), None),
            Err(_) => (None, Some(m.clone())),
        },
    };
    let sql = format!(
        "{}
        where ($1::bigint[] is null or t.mailbox_id = any($1))
          and ($2::text is null or t.status = $2)
          and ($3::bigint is null or t.mailbox_id = $3)
          and ($4::text is null or lower(mb.address) = lower($4))
          and ($5::timestamptz is null or (t.last_message_at, t.ticket_id) < ($5, $6))
        order by t.last_message_at desc, t.ticket_id desc
        limit $7",
        *SUMMARY_SELECT
    );
    let limit = f.limit.clamp(1, 200);
    let mut rows: Vec<TicketSummary> = sqlx::query_as(&sql)
        .bind(visible)
        .bind(f.status)
        .bind(mailbox_id)
        .bind(mailbox_address)
        .bind(cursor_at)
        .bind(cursor_id)
        .bind(limit + 1)
        .fetch_all(db)
        .await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|r| encode_cursor(r.last_message_at, r.number))
    } else {
        None
    };
    Ok((rows, next))
}

/// Errors of [`list_tickets`].
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn encode_cursor(at: OffsetDateTime, id: i64) -> String {
    format!("{}_{id}", at.unix_timestamp_nanos() / 1000)
}

fn decode_cursor(c: &str) -> Option<(OffsetDateTime, i64)> {
    let (micros, id) = c.split_once('_')?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(micros.parse::<i128>().ok()? * 1000).ok()?;
    Some((at, id.parse().ok()?))
}

/// One attachment's metadata.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AttachmentMeta {
    pub id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub inline: bool,
    pub content_id: Option<String>,
}

/// A message of a ticket (`GET /api/v1/tickets/{number}`).
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct MessageView {
    pub id: i64,
    pub direction: Direction,
    #[schema(value_type = Option<EmailAddress>)]
    pub from: Option<Json<EmailAddress>>,
    #[schema(value_type = Vec<EmailAddress>)]
    pub to: Json<Vec<EmailAddress>>,
    #[schema(value_type = Vec<EmailAddress>)]
    pub cc: Json<Vec<EmailAddress>>,
    #[schema(value_type = Vec<EmailAddress>)]
    pub reply_to: Json<Vec<EmailAddress>>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// The sender's `Date` for inbound mail (else the receipt time); when it was written for
    /// replies and notes. UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Receipt time at our server (IMAP INTERNALDATE) for inbound mail; when it was written for
    /// replies and notes. UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    pub automated: Option<Automated>,
    #[schema(value_type = Vec<AttachmentMeta>)]
    pub attachments: Json<Vec<AttachmentMeta>>,
    /// Outbound only: `{"state", "error"}`.
    #[schema(value_type = Option<Object>)]
    pub delivery: Option<Json<serde_json::Value>>,
}

pub use timeline::EventView;

/// A whole ticket.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub summary: TicketSummary,
    /// `null`, or `{"policy": {"id", "name"}, "first_response": clock, "next_response": clock,
    /// "resolution": clock}` with `clock = null | {"due_at", "achieved_at", "breached_at",
    /// "paused"}` (times RFC 3339 UTC): [`crate::sla::clocks::ticket_sla_json`].
    #[schema(value_type = Option<Object>)]
    pub sla: serde_json::Value,
    /// Participant addresses other than the customer.
    pub cc: Vec<EmailAddress>,
    pub messages: Vec<MessageView>,
    /// Timeline entries `{"id", "kind", "detail", "actor", "agent", "rule_id", "created_at"}`.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<EventView>,
    /// The customer's latest CSAT rating: `null | {"rating", "comment", "rated_at"}`.
    pub csat: Option<crate::csat::survey::TicketCsat>,
}

/// Loads a ticket if it exists and is in a visible mailbox.
pub async fn get_ticket(
    pool: &sqlx::PgPool,
    visible: Option<&[i64]>,
    number: i64,
) -> sqlx::Result<Option<TicketDetail>> {
    let sql = format!(
        "{} where t.ticket_id = $1 and ($2::bigint[] is null or t.mailbox_id = any($2))",
        *SUMMARY_SELECT
    );
    let Some(summary) = sqlx::query_as::<_, TicketSummary>(&sql)
        .bind(number)
        .bind(visible)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let cc: Vec<(String, Option<String>)> =
        sqlx::query_as("select email, name from ticket_participant where ticket_id = $1 and role = 'cc' order by email")
            .bind(number)
            .fetch_all(pool)
            .await?;
    let messages: Vec<MessageView> = sqlx::query_as(
        r#"select m.message_id as id, m.direction,
                  case when m.from_email is null then null else json_build_object('email', m.from_email, 'name', m.from_name) end as "from",
                  m.to_addrs as "to", m.cc_addrs as cc, m.reply_to_addrs as reply_to, m.subject,
                  m.text_body as text, m.html_body as html, m.header_message_id as message_id, m.in_reply_to,
                  m."references", m.created_at, m.received_at, m.automated,
                  coalesce((select json_agg(json_build_object('id', a.attachment_id, 'filename', a.filename,
                              'content_type', a.content_type, 'size', a.size, 'sha256', encode(a.sha256, 'hex'),
                              'inline', a.inline, 'content_id', a.content_id) order by a.attachment_id)
                            from attachment a where a.message_id = m.message_id), '[]'::json) as attachments,
                  case when m.direction = 'outbound'
                       then json_build_object('state', m.delivery_state, 'error', m.delivery_error) end as delivery
           from message m where m.ticket_id = $1 order by m.created_at, m.message_id"#,
    )
    .bind(number)
    .fetch_all(pool)
    .await?;
    // The API's HTML is safe on its own: inline parts by their API URL, nothing remote loads.
    let messages = messages
        .into_iter()
        .map(|mut m| {
            if let Some(html) = &m.html {
                let inline = m
                    .attachments
                    .iter()
                    .filter_map(|a| {
                        let cid = a.content_id.clone()?;
                        Some((cid, format!("/api/v1/attachments/{}", a.id)))
                    })
                    .collect();
                m.html = Some(crate::ingest::sanitize::render(
                    html,
                    inline,
                    crate::ingest::sanitize::Remote::Hold,
                ));
            }
            m
        })
        .collect();
    let mut conn = pool.acquire().await?;
    let events = timeline::events(&mut conn, number).await?;
    let sla = crate::sla::clocks::ticket_sla_json(&mut conn, number).await?;
    let csat = crate::csat::survey::ticket_csat(&mut *conn, number).await?;
    Ok(Some(TicketDetail {
        summary,
        sla,
        csat,
        cc: cc
            .into_iter()
            .map(|(email, name)| EmailAddress { email, name })
            .collect(),
        messages,
        events,
    }))
}

/// An attachment's bytes, if it exists and its ticket's mailbox is visible.
#[derive(Debug, FromRow)]
pub struct AttachmentContent {
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// Loads an attachment's bytes, applying mailbox access.
pub async fn get_attachment(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
    id: i64,
) -> sqlx::Result<Option<AttachmentContent>> {
    sqlx::query_as(
        "select a.filename, a.content_type, a.content from attachment a
         join message m on m.message_id = a.message_id join ticket t on t.ticket_id = m.ticket_id
         where a.attachment_id = $1 and ($2::bigint[] is null or t.mailbox_id = any($2))",
    )
    .bind(id)
    .bind(visible)
    .fetch_optional(db)
    .await
}

/// A quarantined mail (without its bytes).
#[derive(Debug, Clone, Serialize, FromRow, utoipa::ToSchema)]
pub struct QuarantineEntry {
    pub id: i64,
    #[schema(value_type = MailboxRef)]
    pub mailbox: Json<MailboxRef>,
    pub folder: Option<String>,
    pub uid_validity: Option<i64>,
    pub uid: Option<i64>,
    pub reason: String,
    pub size: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Quarantined mail of the visible mailboxes, newest first.
pub async fn list_quarantine(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
) -> sqlx::Result<Vec<QuarantineEntry>> {
    sqlx::query_as(
        "select q.quarantine_id as id, json_build_object('id', mb.mailbox_id, 'address', mb.address) as mailbox,
                q.folder, q.uid_validity, q.uid, q.reason, octet_length(q.raw) as size, q.created_at
         from quarantine q join mailbox mb on mb.mailbox_id = q.mailbox_id
         where ($1::bigint[] is null or q.mailbox_id = any($1))
         order by q.quarantine_id desc limit 500",
    )
    .bind(visible)
    .fetch_all(db)
    .await
}

/// The raw bytes of a quarantined mail, applying mailbox access.
pub async fn quarantine_raw(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
    id: i64,
) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar("select raw from quarantine where quarantine_id = $1 and ($2::bigint[] is null or mailbox_id = any($2))")
        .bind(id)
        .bind(visible)
        .fetch_optional(db)
        .await
}

/// The mailbox of a ticket, if the ticket exists and is visible (`None` otherwise).
pub async fn visible_mailbox_of(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
    number: i64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("select mailbox_id from ticket where ticket_id = $1 and ($2::bigint[] is null or mailbox_id = any($2))")
        .bind(number)
        .bind(visible)
        .fetch_optional(db)
        .await
}

/// The customer's other visible tickets, latest activity first (10): `(number, subject, status)`.
pub async fn previous_tickets(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
    number: i64,
) -> sqlx::Result<Vec<(i64, String, String)>> {
    sqlx::query_as(
        "select t.ticket_id, t.subject, t.status from ticket t
         where t.customer_id = (select customer_id from ticket where ticket_id = $1) and t.ticket_id <> $1
           and ($2::bigint[] is null or t.mailbox_id = any($2))
         order by t.last_message_at desc limit 10",
    )
    .bind(number)
    .bind(visible)
    .fetch_all(db)
    .await
}

/// The ticket of a visible outbound message (for "retry").
pub async fn ticket_of_outbound(
    db: impl PgExecutor<'_>,
    visible: Option<&[i64]>,
    message_id: i64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "select m.ticket_id from message m join ticket t using (ticket_id)
         where m.message_id = $1 and m.direction = 'outbound' and ($2::bigint[] is null or t.mailbox_id = any($2))",
    )
    .bind(message_id)
    .bind(visible)
    .fetch_optional(db)
    .await
}

/// A visible message's sanitised HTML with its `cid:` references pointing at the stored inline
/// parts (`/attachments/{id}?inline=1`) and remote resources held back unless `remote` says
/// load them (see [`crate::ingest::sanitize::render`]); `None` when the message is not visible.
pub async fn message_html(
    pool: &sqlx::PgPool,
    visible: Option<&[i64]>,
    message_id: i64,
    remote: crate::ingest::sanitize::Remote,
) -> sqlx::Result<Option<String>> {
    let row: Option<(Option<String>,)> = sqlx::query_as(
        "select m.html_body from message m join ticket t on t.ticket_id = m.ticket_id
         where m.message_id = $1 and ($2::bigint[] is null or t.mailbox_id = any($2))",
    )
    .bind(message_id)
    .bind(visible)
    .fetch_optional(pool)
    .await?;
    let Some((html,)) = row else {
        return Ok(None);
    };
    let cids: Vec<(i64, String)> =
        sqlx::query_as("select attachment_id, content_id from attachment where message_id = $1 and content_id is not null")
            .bind(message_id)
            .fetch_all(pool)
            .await?;
    let inline = cids
        .into_iter()
        .map(|(att, cid)| (cid, format!("/attachments/{att}?inline=1")))
        .collect();
    Ok(Some(crate::ingest::sanitize::render(
        &html.unwrap_or_default(),
        inline,
        remote,
    )))
}

/// Tells every node's browsers about tickets that an ingest batch opened (`ticket` event) or
/// added mail to (`message` event), `(ticket, opened)` pairs, in one statement delivered when
/// the caller's transaction commits.
pub async fn notify_ingested(
    conn: &mut sqlx::PgConnection,
    mailbox: i64,
    changed: &[(i64, bool)],
) -> sqlx::Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let payloads: Vec<String> = changed
        .iter()
        .map(|&(ticket, opened)| {
            let ev = if opened {
                crate::live::LiveEvent::Ticket { ticket, mailbox }
            } else {
                crate::live::LiveEvent::Message { ticket, mailbox }
            };
            serde_json::to_string(&ev).expect("events serialise")
        })
        .collect();
    sqlx::query("select pg_notify($1, p) from unnest($2::text[]) as p")
        .bind(crate::live::CHANNEL)
        .bind(&payloads)
        .execute(conn)
        .await?;
    Ok(())
}
