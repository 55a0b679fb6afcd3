//! Messages joining tickets: inbound mail opening or extending a ticket, an agent's reply,
//! and what the outbox learns about a reply's delivery. The only writer of `message` rows for
//! ticket messages, of the ticket columns they move (`last_message_at`, `message_count`,
//! `snippet`, `waiting_since`, `last_author_agent_id`, the reopening status) and of their
//! timeline events.

use sqlx::PgConnection;
use time::OffsetDateTime;

use super::model::{Automated, EmailAddress, TicketStatus, snippet};
use super::timeline::{self, Actor, PendingEvents, StatusReason, TimelineEvent, Via};

/// A decoded attachment or inline part of a message.
#[derive(Debug, Clone)]
pub struct AttachmentData {
    /// Decoded file name, always valid UTF-8.
    pub filename: String,
    /// `type/subtype`, lower-case.
    pub content_type: String,
    /// Decoded bytes.
    pub content: Vec<u8>,
    /// `Content-ID` without angle brackets.
    pub content_id: Option<String>,
    /// True for parts shown in the body (referenced by `cid:` or `Content-Disposition: inline`).
    pub inline: bool,
}

/// How a person takes part in a ticket (`ticket_participant.role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantRole {
    /// The ticket's customer.
    Customer,
    /// Anyone else on the conversation; reply-all includes them.
    Cc,
}

impl ParticipantRole {
    fn as_str(self) -> &'static str {
        match self {
            ParticipantRole::Customer => "customer",
            ParticipantRole::Cc => "cc",
        }
    }
}

/// An inbound mail, decoded, as it joins a ticket. Ingest builds it from its parsed mail.
#[derive(Debug, Clone)]
pub struct InboundMessage<'a> {
    /// The mailbox that received it.
    pub mailbox_id: i64,
    /// Its `raw_message` row (the bytes, kept whatever becomes of the mail).
    pub raw_message_id: i64,
    pub from: Option<&'a EmailAddress>,
    pub to: &'a [EmailAddress],
    pub cc: &'a [EmailAddress],
    pub reply_to: &'a [EmailAddress],
    /// Decoded subject; empty when absent.
    pub subject: &'a str,
    pub text: &'a str,
    /// Sanitised HTML body.
    pub html: Option<&'a str>,
    /// `Message-ID` without angle brackets (RFC 5322 3.6.4).
    pub header_message_id: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    pub automated: Option<Automated>,
    /// The sender's `Date` (UTC) when plausible, else the receipt time.
    pub date: OffsetDateTime,
    /// Receipt time at our server (IMAP INTERNALDATE, else when fetched), UTC.
    pub received_at: OffsetDateTime,
    pub attachments: &'a [AttachmentData],
    /// People to add to the ticket's participants (never our own addresses).
    pub participants: &'a [(&'a EmailAddress, ParticipantRole)],
}

/// Opens a ticket for an inbound mail and stores the mail as its first message. The ticket is
/// created at the mail's receipt time; it starts `closed` when `starts_closed` (list or bulk
/// mail: kept and searchable, but nobody's work until a person writes). Returns the ticket
/// number and the message id. Its timeline events (`created`, and `status_changed` for bulk
/// mail) go into `pending`, which the caller records with the rest of its batch
/// ([`timeline::record_pending`]) before it commits; no live notification is sent: ingest
/// notifies a whole batch at once ([`super::notify_ingested`]).
pub async fn open_ticket(
    conn: &mut PgConnection,
    msg: &InboundMessage<'_>,
    customer: Option<&EmailAddress>,
    starts_closed: bool,
    pending: &mut PendingEvents,
) -> sqlx::Result<(i64, i64)> {
    let subject = if msg.subject.trim().is_empty() {
        "(no subject)"
    } else {
        msg.subject
    };
    let status = if starts_closed {
        TicketStatus::Closed
    } else {
        TicketStatus::Open
    };
    let ticket: i64 = sqlx::query_scalar(
        // A new customer gets the company of their address's domain ($10: none for
        // free-mail), created on first sight. Only for a new customer: the upsert locks and
        // rewrites the company row, which every ticket from a big company would queue on.
        "with co as (
            insert into company (domain, name)
            select $10, $10 where $10::text is not null
              and not exists (select 1 from customer where lower(email) = lower($1))
            on conflict (domain) do update set domain = excluded.domain
            returning company_id
         ), c as (
            insert into customer (email, name, company_id) select $1, $2, (select company_id from co)
            where $1::text is not null
            on conflict (lower(email)) do update set name = coalesce(customer.name, excluded.name)
            returning customer_id
         )
         insert into ticket (mailbox_id, subject, customer_id, created_at, last_message_at, message_count, snippet, status,
                             waiting_since)
         values ($3, $4, (select customer_id from c), $5, $6, 1, $7, $8, case when $9 then $5 end) returning ticket_id",
    )
    .bind(customer.map(|c| &c.email))
    .bind(customer.and_then(|c| c.name.as_ref()))
    .bind(msg.mailbox_id)
    .bind(subject)
    .bind(msg.received_at)
    .bind(msg.date)
    .bind(snippet(msg.text))
    .bind(status)
    // A person's mail starts the wait; bulk mail and auto-replies are nobody's work yet.
    .bind(!starts_closed && msg.automated.is_none())
    .bind(customer.and_then(|c| crate::customers::company_domain(&c.email)))
    .fetch_one(&mut *conn)
    .await?;
    let message_id = insert_inbound(conn, ticket, msg).await?;
    let mut events = vec![(
        TimelineEvent::Created {
            via: Via::Email,
            automated: msg.automated,
            message_id: Some(message_id),
        },
        Some(msg.received_at),
    )];
    if starts_closed {
        events.push((
            TimelineEvent::StatusChanged {
                from: TicketStatus::Open,
                to: TicketStatus::Closed,
                reason: Some(StatusReason::BulkMail),
                snoozed_until: None,
            },
            Some(msg.received_at),
        ));
    }
    for (event, at) in events {
        pending.push(ticket, Actor::Customer, event, at);
    }
    Ok((ticket, message_id))
}

/// Adds an inbound mail to an existing ticket. A person's mail reopens a pending, snoozed or
/// closed ticket (and ends a snooze) and starts the customer's wait (`waiting_since`, unless
/// they are already waiting); automated mail never does (RFC 3834's spirit). Returns
/// the message id. Like [`open_ticket`], leaves its events in `pending` and the live
/// notification to the batch.
pub async fn append_inbound(
    conn: &mut PgConnection,
    ticket: i64,
    msg: &InboundMessage<'_>,
    pending: &mut PendingEvents,
) -> sqlx::Result<i64> {
    let message_id = insert_inbound(conn, ticket, msg).await?;
    let reopen = msg.automated.is_none();
    let (old, new): (TicketStatus, TicketStatus) = sqlx::query_as(
        "update ticket t set
            last_message_at = greatest(t.last_message_at, $2),
            message_count = t.message_count + 1,
            snippet = case when $2 >= t.last_message_at then $4 else t.snippet end,
            status = case when $3 then 'open' else t.status end,
            snoozed_until = case when $3 then null else t.snoozed_until end,
            -- A person's mail starts the wait unless they are waiting already. Counted from
            -- its receipt at our server, not its Date: a sender's clock (or a mail written
            -- before our reply but arriving after it) must not hide that they wait.
            waiting_since = case when $3 then coalesce(t.waiting_since, $5) else t.waiting_since end,
            last_author_agent_id = case when $3 then null else t.last_author_agent_id end
         from (select status from ticket where ticket_id = $1 for update) old
         where t.ticket_id = $1
         returning old.status, t.status",
    )
    .bind(ticket)
    .bind(msg.date)
    .bind(reopen)
    .bind(snippet(msg.text))
    .bind(msg.received_at)
    .fetch_one(&mut *conn)
    .await?;
    let mut events = vec![(
        TimelineEvent::MessageReceived {
            message_id,
            automated: msg.automated,
        },
        None,
    )];
    if old != new {
        events.push((
            TimelineEvent::StatusChanged {
                from: old,
                to: new,
                reason: Some(StatusReason::CustomerReply),
                snoozed_until: None,
            },
            None,
        ));
    }
    for (event, at) in events {
        pending.push(ticket, Actor::Customer, event, at);
    }
    Ok(message_id)
}

/// Inserts the message with its attachments and adds its people to the ticket's participants,
/// in one statement.
async fn insert_inbound(
    conn: &mut PgConnection,
    ticket: i64,
    msg: &InboundMessage<'_>,
) -> sqlx::Result<i64> {
    use sha2::{Digest, Sha256};
    let atts = msg.attachments;
    sqlx::query_scalar(
        r#"with m as (
            insert into message (ticket_id, raw_message_id, direction, from_email, from_name, to_addrs, cc_addrs,
                reply_to_addrs, subject, text_body, html_body, header_message_id, in_reply_to, "references",
                automated, created_at, received_at)
            values ($1, $2, 'inbound', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $26)
            returning message_id
         ), a as (
            insert into attachment (message_id, filename, content_type, size, sha256, inline, content_id, content)
            select m.message_id, x.filename, x.content_type, x.size, x.sha256, x.inline, x.content_id, x.content
            from m, unnest($16::text[], $17::text[], $18::bigint[], $19::bytea[], $20::bool[], $21::text[], $22::bytea[])
                 as x(filename, content_type, size, sha256, inline, content_id, content)
         ), p as (
            insert into ticket_participant (ticket_id, email, name, role)
            select $1, x.e, x.n, x.r from unnest($23::text[], $24::text[], $25::text[]) as x(e, n, r)
            on conflict (ticket_id, email) do update set name = coalesce(ticket_participant.name, excluded.name)
         )
         select message_id from m"#,
    )
    .bind(ticket)
    .bind(msg.raw_message_id)
    .bind(msg.from.map(|a| &a.email))
    .bind(msg.from.and_then(|a| a.name.as_ref()))
    .bind(sqlx::types::Json(msg.to))
    .bind(sqlx::types::Json(msg.cc))
    .bind(sqlx::types::Json(msg.reply_to))
    .bind(msg.subject)
    .bind(msg.text)
    .bind(msg.html)
    .bind(msg.header_message_id)
    .bind(msg.in_reply_to)
    .bind(msg.references)
    .bind(msg.automated)
    .bind(msg.date)
    .bind(atts.iter().map(|a| a.filename.as_str()).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.content_type.as_str()).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.content.len() as i64).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| Sha256::digest(&a.content).to_vec()).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.inline).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.content_id.as_deref()).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.content.as_slice()).collect::<Vec<_>>())
    .bind(msg.participants.iter().map(|(a, _)| a.email.as_str()).collect::<Vec<_>>())
    .bind(msg.participants.iter().map(|(a, _)| a.name.as_deref()).collect::<Vec<_>>())
    .bind(msg.participants.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>())
    .bind(msg.received_at)
    .fetch_one(&mut *conn)
    .await
}

/// Records a bounce (RFC 3464) that arrived on a ticket as message `bounce_message_id`: the
/// replies whose Message-IDs it returns become `failed` with `reason`, and the timeline says so.
pub async fn record_bounce(
    conn: &mut PgConnection,
    ticket: i64,
    bounce_message_id: i64,
    returned_message_ids: &[String],
    reason: &str,
) -> sqlx::Result<()> {
    let failed: Vec<i64> = sqlx::query_scalar(
        "update message set delivery_state = 'failed', delivery_error = $3
         where ticket_id = $1 and direction = 'outbound' and header_message_id = any($2)
         returning message_id",
    )
    .bind(ticket)
    .bind(returned_message_ids)
    .bind(reason)
    .fetch_all(&mut *conn)
    .await?;
    timeline::record(
        conn,
        ticket,
        Actor::System,
        &TimelineEvent::BounceReceived {
            bounce_message_id,
            failed_message_ids: failed,
            reason: reason.to_string(),
        },
    )
    .await
}

/// An agent's reply as written, before it is queued for sending.
#[derive(Debug, Clone)]
pub struct OutboundReply<'a> {
    /// Who wrote it: an agent, or a rule (an automatic reply: it does not end the customer's
    /// wait, and first response time does not count it).
    pub author: Actor,
    /// The mailbox's address (`From`).
    pub from_email: &'a str,
    /// `From` display name ("Dana via Support").
    pub from_name: &'a str,
    pub to: &'a [EmailAddress],
    pub cc: &'a [EmailAddress],
    pub subject: &'a str,
    /// The body as sent (signature included).
    pub text: &'a str,
    /// Our fixed Message-ID for it (RFC 5322 3.6.4), without angle brackets.
    pub header_message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    /// Files the agent attached.
    pub attachments: &'a [crate::outbox::OutgoingAttachment],
}

/// Stores an agent's reply on the ticket as `queued`, moves the ticket's last activity, ends the
/// customer's wait (the agent wrote last) and
/// records [`TimelineEvent::ReplyQueued`] (live: `message`). The caller queues the outbox row in
/// the same transaction. Returns the message id.
pub async fn append_reply(
    conn: &mut PgConnection,
    ticket: i64,
    reply: &OutboundReply<'_>,
) -> sqlx::Result<i64> {
    use sha2::{Digest, Sha256};
    let atts = reply.attachments;
    let message_id: i64 = sqlx::query_scalar(
        r#"with m as (
            insert into message (ticket_id, direction, author_agent_id, from_email, from_name, to_addrs, cc_addrs, subject,
                text_body, header_message_id, in_reply_to, "references", created_at, received_at, delivery_state)
            values ($1, 'outbound', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), now(), 'queued')
            returning message_id
         ), a as (
            insert into attachment (message_id, filename, content_type, size, sha256, inline, content)
            select m.message_id, x.filename, x.content_type, x.size, x.sha256, false, x.content
            from m, unnest($12::text[], $13::text[], $14::bigint[], $15::bytea[], $16::bytea[])
                 as x(filename, content_type, size, sha256, content)
         ), t as (
            update ticket set last_message_at = now(), message_count = message_count + 1, snippet = $17,
                waiting_since = case when $2::bigint is null then waiting_since end,
                last_author_agent_id = coalesce($2, last_author_agent_id)
            where ticket_id = $1
         )
         select message_id from m"#,
    )
    .bind(ticket)
    .bind(reply.author.agent_id())
    .bind(reply.from_email)
    .bind(reply.from_name)
    .bind(sqlx::types::Json(reply.to))
    .bind(sqlx::types::Json(reply.cc))
    .bind(reply.subject)
    .bind(reply.text)
    .bind(reply.header_message_id)
    .bind(reply.in_reply_to)
    .bind(reply.references)
    .bind(atts.iter().map(|a| a.filename.as_str()).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.content_type.as_str()).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.content.len() as i64).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| Sha256::digest(&a.content).to_vec()).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.content.as_slice()).collect::<Vec<_>>())
    .bind(snippet(reply.text))
    .fetch_one(&mut *conn)
    .await?;
    timeline::record(
        conn,
        ticket,
        reply.author,
        &TimelineEvent::ReplyQueued { message_id },
    )
    .await?;
    Ok(message_id)
}

/// The outbox sent the reply: its delivery state becomes `sent`.
pub async fn mark_delivered(conn: &mut PgConnection, message_id: i64) -> sqlx::Result<()> {
    set_delivery(conn, message_id, "sent", None).await
}

/// An agent asked to send a failed reply again: `queued`, error cleared.
pub async fn mark_delivery_requeued(conn: &mut PgConnection, message_id: i64) -> sqlx::Result<()> {
    set_delivery(conn, message_id, "queued", None).await
}

/// A reply failed permanently (`error` is the SMTP server's answer): the message becomes
/// `failed`, the timeline gets [`TimelineEvent::DeliveryFailed`], and the ticket is reopened
/// (unless open) so that an agent sees it; open pages and inboxes are told at commit.
pub async fn record_delivery_failure(
    conn: &mut PgConnection,
    ticket: i64,
    message_id: i64,
    error: &str,
) -> sqlx::Result<()> {
    set_delivery(conn, message_id, "failed", Some(error)).await?;
    timeline::record(
        conn,
        ticket,
        Actor::System,
        &TimelineEvent::DeliveryFailed {
            message_id,
            error: error.to_string(),
        },
    )
    .await?;
    super::actions::reopen(conn, ticket, Actor::System, StatusReason::DeliveryFailed).await
}

async fn set_delivery(
    conn: &mut PgConnection,
    message_id: i64,
    state: &str,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update message set delivery_state = $2, delivery_error = $3 where message_id = $1",
    )
    .bind(message_id)
    .bind(state)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
