//! Messages joining tickets: inbound mail opening or extending a ticket, an agent's reply,
//! and what the outbox learns about a reply's delivery. The only writer of `message` rows for
//! ticket messages, of the ticket columns they move (`last_message_at`, `message_count`,
//! `snippet`, `waiting_since`, `last_author_agent_id`, the reopening status) and of their
//! timeline events.

use std::collections::HashMap;

use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::db::copy;

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

/// Where an inbound mail goes, as ingest's threading decided (RFC 5322 3.6.4, then the
/// subject fallbacks: `ingest::store`).
#[derive(Debug, Clone, Copy)]
pub enum Destination<'a> {
    /// A new ticket with this customer; `starts_closed` for list or bulk mail (kept and
    /// searchable, but nobody's work until a person writes).
    NewTicket {
        customer: Option<&'a EmailAddress>,
        starts_closed: bool,
    },
    /// An existing ticket (its number).
    Ticket(i64),
    /// The ticket of the `k`th mail of the same batch (a reply that arrived with the mail that
    /// opened its ticket); `k` is smaller than this mail's position.
    SameAs(usize),
}

/// One inbound mail of a batch and where it goes.
#[derive(Debug, Clone)]
pub struct Inbound<'a> {
    pub msg: InboundMessage<'a>,
    pub to: Destination<'a>,
}

/// A ticket's columns that inbound mail moves, as they evolve over a batch.
#[derive(Debug, Clone)]
struct TicketState {
    status: TicketStatus,
    last_message_at: OffsetDateTime,
    /// Set when a mail of the batch is the latest so far.
    snippet: Option<String>,
    added: i32,
    /// A person (not automated mail) wrote in this batch: ends a snooze and the last agent
    /// author, starts the wait.
    person: bool,
    waiting_since: Option<OffsetDateTime>,
}

impl TicketState {
    /// What one more inbound mail does (the rules [`store_inbound`] documents); returns the
    /// status before and after.
    fn add(&mut self, msg: &InboundMessage<'_>) -> (TicketStatus, TicketStatus) {
        let old = self.status;
        if msg.date >= self.last_message_at {
            self.snippet = Some(snippet(msg.text));
        }
        self.last_message_at = self.last_message_at.max(msg.date);
        self.added += 1;
        if msg.automated.is_none() {
            self.person = true;
            self.status = TicketStatus::Open;
            // Counted from its receipt at our server, not its Date: a sender's clock (or a
            // mail written before our reply but arriving after it) must not hide that they wait.
            self.waiting_since = self.waiting_since.or(Some(msg.received_at));
        }
        (old, self.status)
    }
}

/// Stores a batch of inbound mail, in order, with a fixed number of statements whatever its
/// size: the customers (and their companies) of new tickets, the new tickets, every message
/// with its attachments and participants, and the tickets that gained mail.
///
/// A new ticket is created at its first mail's receipt time; it starts `closed` for list or
/// bulk mail. A person's mail on a ticket reopens it when pending, snoozed or closed (and ends
/// a snooze) and starts the customer's wait (`waiting_since`, unless they are waiting already);
/// automated mail never does (RFC 3834's spirit). A new customer gets the company of their
/// address's domain (none for free-mail), created on first sight.
///
/// Returns `(ticket number, message id)` per mail, in the batch's order. The timeline events
/// (`created`, `message_received`, `status_changed`) go into `pending` in the same order, for
/// the caller to record with the rest of its batch ([`timeline::record_pending`]) before it
/// commits; no live notification is sent: ingest notifies a whole batch at once
/// ([`super::notify_ingested`]).
pub async fn store_inbound(
    conn: &mut PgConnection,
    batch: &[Inbound<'_>],
    pending: &mut PendingEvents,
) -> sqlx::Result<Vec<(i64, i64)>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let customers = ensure_customers(conn, batch).await?;
    let new_count = batch
        .iter()
        .filter(|b| matches!(b.to, Destination::NewTicket { .. }))
        .count();
    let (ticket_ids, message_ids): (Vec<i64>, Vec<i64>) = sqlx::query_as(
        // Each sequence is looked up once (`offset 0` keeps the look-up from being evaluated
        // per id: 4 ms of a batch of 500).
        "select array(select nextval(q.seq)
                      from (select pg_get_serial_sequence('ticket', 'ticket_id')::regclass as seq
                            offset 0) q, generate_series(1, $1)),
                array(select nextval(q.seq)
                      from (select pg_get_serial_sequence('message', 'message_id')::regclass as seq
                            offset 0) q, generate_series(1, $2))",
    )
    .bind(new_count as i32)
    .bind(batch.len() as i32)
    .fetch_one(&mut *conn)
    .await?;

    // Each mail's ticket; the state of every ticket the batch touches.
    let mut tickets = Vec::with_capacity(batch.len());
    let mut next_new = ticket_ids.into_iter();
    for b in batch {
        let t = match b.to {
            Destination::NewTicket { .. } => next_new.next().ok_or(sqlx::Error::RowNotFound)?,
            Destination::Ticket(t) => t,
            Destination::SameAs(k) => *tickets.get(k).ok_or(sqlx::Error::RowNotFound)?,
        };
        tickets.push(t);
    }
    let existing: Vec<i64> = batch
        .iter()
        .filter_map(|b| match b.to {
            Destination::Ticket(t) => Some(t),
            _ => None,
        })
        .collect();
    let mut states: HashMap<i64, TicketState> = HashMap::new();
    if !existing.is_empty() {
        let rows: Vec<(i64, TicketStatus, OffsetDateTime, Option<OffsetDateTime>)> =
            sqlx::query_as(
                "select ticket_id, status, last_message_at, waiting_since from ticket
                 where ticket_id = any($1) order by ticket_id for update",
            )
            .bind(&existing)
            .fetch_all(&mut *conn)
            .await?;
        for (t, status, last_message_at, waiting_since) in rows {
            states.insert(
                t,
                TicketState {
                    status,
                    last_message_at,
                    snippet: None,
                    added: 0,
                    person: false,
                    waiting_since,
                },
            );
        }
    }

    // Walk the batch in order: events, and each ticket's state after it.
    let mut new_tickets = Vec::with_capacity(new_count);
    for (i, b) in batch.iter().enumerate() {
        let (ticket, message_id, msg) = (tickets[i], message_ids[i], &b.msg);
        if let Destination::NewTicket { starts_closed, .. } = b.to {
            new_tickets.push(i);
            pending.push(
                ticket,
                Actor::Customer,
                TimelineEvent::Created {
                    via: Via::Email,
                    automated: msg.automated,
                    message_id: Some(message_id),
                },
                Some(msg.received_at),
            );
            let status = if starts_closed {
                pending.push(
                    ticket,
                    Actor::Customer,
                    TimelineEvent::StatusChanged {
                        from: TicketStatus::Open,
                        to: TicketStatus::Closed,
                        reason: Some(StatusReason::BulkMail),
                        snoozed_until: None,
                    },
                    Some(msg.received_at),
                );
                TicketStatus::Closed
            } else {
                TicketStatus::Open
            };
            // A person's mail starts the wait; bulk mail and auto-replies are nobody's work yet.
            let waits = !starts_closed && msg.automated.is_none();
            states.insert(
                ticket,
                TicketState {
                    status,
                    last_message_at: msg.date,
                    snippet: Some(snippet(msg.text)),
                    added: 1,
                    person: false,
                    waiting_since: waits.then_some(msg.received_at),
                },
            );
            continue;
        }
        let state = states.get_mut(&ticket).ok_or(sqlx::Error::RowNotFound)?;
        let (old, new) = state.add(msg);
        pending.push(
            ticket,
            Actor::Customer,
            TimelineEvent::MessageReceived {
                message_id,
                automated: msg.automated,
            },
            None,
        );
        if old != new {
            pending.push(
                ticket,
                Actor::Customer,
                TimelineEvent::StatusChanged {
                    from: old,
                    to: new,
                    reason: Some(StatusReason::CustomerReply),
                    snoozed_until: None,
                },
                None,
            );
        }
    }

    // New tickets, already in their state after the batch.
    if !new_tickets.is_empty() {
        let mut ids = Vec::new();
        let mut mailboxes = Vec::new();
        let mut subjects = Vec::new();
        let mut customer_ids = Vec::new();
        let mut created = Vec::new();
        let mut last = Vec::new();
        let mut counts = Vec::new();
        let mut snippets = Vec::new();
        let mut statuses = Vec::new();
        let mut waiting = Vec::new();
        let (mut due, mut at_risk) = (Vec::new(), Vec::new());
        let mut box_ids: Vec<i64> = new_tickets
            .iter()
            .map(|&i| batch[i].msg.mailbox_id)
            .collect();
        box_ids.sort_unstable();
        box_ids.dedup();
        let clocks = crate::sla::clocks::NewTicketClocks::load(conn, &box_ids).await?;
        for &i in &new_tickets {
            let (b, t) = (&batch[i], tickets[i]);
            let s = &states[&t];
            let customer = match b.to {
                Destination::NewTicket {
                    customer: Some(c), ..
                } => customers.get(c.email.as_str()).copied(),
                _ => None,
            };
            ids.push(t);
            mailboxes.push(b.msg.mailbox_id);
            subjects.push(if b.msg.subject.trim().is_empty() {
                "(no subject)"
            } else {
                b.msg.subject
            });
            customer_ids.push(customer);
            created.push(b.msg.received_at);
            last.push(s.last_message_at);
            counts.push(s.added);
            snippets.push(s.snippet.clone().unwrap_or_default());
            statuses.push(s.status.as_str());
            waiting.push(s.waiting_since);
            let person = b.msg.automated.is_none().then_some(b.msg.received_at);
            let (d, r) = clocks.first(b.msg.mailbox_id, s.status, person);
            due.push(d);
            at_risk.push(r);
        }
        sqlx::query(
            // With their mailbox's default SLA policy and its first due time already: a later
            // update would write every index of the new rows again.
            "insert into ticket (ticket_id, mailbox_id, subject, customer_id, created_at, last_message_at,
                                 message_count, snippet, status, waiting_since, sla_due_at,
                                 sla_at_risk, sla_policy_id)
             overriding system value
             select x.*, mb.sla_policy_id
             from unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::timestamptz[],
                         $6::timestamptz[], $7::int[], $8::text[], $9::text[], $10::timestamptz[],
                         $11::timestamptz[], $12::bool[])
                  as x(ticket_id, mailbox_id, subject, customer_id, created_at, last_message_at,
                       message_count, snippet, status, waiting_since, sla_due_at, sla_at_risk)
             join mailbox mb on mb.mailbox_id = x.mailbox_id",
        )
        .bind(&ids)
        .bind(&mailboxes)
        .bind(&subjects)
        .bind(&customer_ids)
        .bind(&created)
        .bind(&last)
        .bind(&counts)
        .bind(&snippets)
        .bind(&statuses)
        .bind(&waiting)
        .bind(&due)
        .bind(&at_risk)
        .execute(&mut *conn)
        .await?;
    }

    insert_messages(conn, batch, &tickets, &message_ids).await?;

    // Existing tickets that gained mail.
    if !existing.is_empty() {
        let mut ids = Vec::new();
        let mut last = Vec::new();
        let mut added = Vec::new();
        let mut snippets = Vec::new();
        let mut statuses = Vec::new();
        let mut person = Vec::new();
        let mut waiting = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for &t in &existing {
            if !seen.insert(t) {
                continue;
            }
            let s = &states[&t];
            ids.push(t);
            last.push(s.last_message_at);
            added.push(s.added);
            snippets.push(s.snippet.clone());
            statuses.push(s.status.as_str());
            person.push(s.person);
            waiting.push(s.waiting_since);
        }
        sqlx::query(
            "update ticket t set
                last_message_at = x.last_message_at,
                message_count = t.message_count + x.added,
                snippet = coalesce(x.snippet, t.snippet),
                status = x.status,
                snoozed_until = case when x.person then null else t.snoozed_until end,
                waiting_since = x.waiting_since,
                last_author_agent_id = case when x.person then null else t.last_author_agent_id end
             from unnest($1::bigint[], $2::timestamptz[], $3::int[], $4::text[], $5::text[], $6::bool[],
                         $7::timestamptz[])
                  as x(ticket_id, last_message_at, added, snippet, status, person, waiting_since)
             where t.ticket_id = x.ticket_id",
        )
        .bind(&ids)
        .bind(&last)
        .bind(&added)
        .bind(&snippets)
        .bind(&statuses)
        .bind(&person)
        .bind(&waiting)
        .execute(&mut *conn)
        .await?;
    }
    Ok(tickets.into_iter().zip(message_ids).collect())
}

/// The customers of the batch's new tickets, created on first sight with the company of their
/// address's domain (itself created on first sight; none for free-mail), in one statement.
/// An existing customer keeps their company and gains a name if they had none. Returns
/// customer ids by (lower-case) address.
async fn ensure_customers(
    conn: &mut PgConnection,
    batch: &[Inbound<'_>],
) -> sqlx::Result<HashMap<String, i64>> {
    // One row per address (a statement may not upsert a row twice): its first name given.
    let mut order: Vec<&EmailAddress> = Vec::new();
    let mut names: HashMap<&str, Option<&str>> = HashMap::new();
    for b in batch {
        if let Destination::NewTicket {
            customer: Some(c), ..
        } = b.to
        {
            match names.get_mut(c.email.as_str()) {
                Some(name) => {
                    if name.is_none() {
                        *name = c.name.as_deref();
                    }
                }
                None => {
                    names.insert(&c.email, c.name.as_deref());
                    order.push(c);
                }
            }
        }
    }
    if order.is_empty() {
        return Ok(HashMap::new());
    }
    let emails: Vec<&str> = order.iter().map(|c| c.email.as_str()).collect();
    let rows: Vec<(String, i64)> = sqlx::query_as(
        // Only new customers' domains become companies: the upsert locks and rewrites the
        // company row, which every ticket from a big company would otherwise queue on.
        "with x as (
            select * from unnest($1::text[], $2::text[], $3::text[]) as x(email, name, domain)
         ), co as (
            insert into company (domain, name)
            select distinct x.domain, x.domain from x
            where x.domain is not null
              and not exists (select 1 from customer c where lower(c.email) = lower(x.email))
            order by 1
            on conflict (domain) do update set domain = excluded.domain
            returning company_id, domain
         )
         insert into customer (email, name, company_id)
         select x.email, x.name, co.company_id from x left join co on co.domain = x.domain
         on conflict (lower(email)) do update set name = coalesce(customer.name, excluded.name)
         returning lower(email), customer_id",
    )
    .bind(&emails)
    .bind(
        order
            .iter()
            .map(|c| names[c.email.as_str()])
            .collect::<Vec<_>>(),
    )
    .bind(
        order
            .iter()
            .map(|c| crate::customers::company_domain(&c.email))
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Inserts the batch's messages (ids allocated by the caller) in one binary `COPY`, then their
/// attachments and their people (added to the tickets' participants) in one statement.
async fn insert_messages(
    conn: &mut PgConnection,
    batch: &[Inbound<'_>],
    tickets: &[i64],
    message_ids: &[i64],
) -> sqlx::Result<()> {
    use sha2::{Digest, Sha256};
    let msgs = || batch.iter().map(|b| &b.msg);
    // Attachments, flattened, each with its message's id.
    let mut att_message = Vec::new();
    let mut atts: Vec<&AttachmentData> = Vec::new();
    for (m, &id) in msgs().zip(message_ids) {
        for a in m.attachments {
            att_message.push(id);
            atts.push(a);
        }
    }
    // Participants: one row per (ticket, address), as if added mail by mail: the first role,
    // the first name given.
    let mut people: Vec<(i64, &str, Option<&str>, &str)> = Vec::new();
    let mut at: HashMap<(i64, &str), usize> = HashMap::new();
    for (m, &t) in msgs().zip(tickets) {
        for (a, role) in m.participants {
            match at.get(&(t, a.email.as_str())) {
                Some(&k) => {
                    if people[k].2.is_none() {
                        people[k].2 = a.name.as_deref();
                    }
                }
                None => {
                    at.insert((t, &a.email), people.len());
                    people.push((t, &a.email, a.name.as_deref(), role.as_str()));
                }
            }
        }
    }
    // The messages in one binary COPY (the text bodies are most of a batch's bytes), sent
    // while they are written.
    let mut copy = copy::CopyIn::start(
        conn,
        r#"copy message (message_id, ticket_id, raw_message_id, direction, from_email, from_name,
                         to_addrs, cc_addrs, reply_to_addrs, subject, text_body, html_body,
                         header_message_id, in_reply_to, "references", automated, created_at, received_at)
           from stdin with (format binary)"#,
    )
    .await?;
    for ((m, &id), &ticket) in msgs().zip(message_ids).zip(tickets) {
        let json = |addrs: &[EmailAddress]| {
            serde_json::to_string(addrs).map_err(|e| sqlx::Error::Encode(Box::new(e)))
        };
        let data = copy.buf();
        copy::row(data, 18);
        copy::int8(data, id);
        copy::int8(data, ticket);
        copy::int8(data, m.raw_message_id);
        copy::text(data, "inbound");
        copy::opt_text(data, m.from.map(|a| a.email.as_str()));
        copy::opt_text(data, m.from.and_then(|a| a.name.as_deref()));
        copy::jsonb(data, &json(m.to)?);
        copy::jsonb(data, &json(m.cc)?);
        copy::jsonb(data, &json(m.reply_to)?);
        copy::text(data, m.subject);
        copy::text(data, m.text);
        copy::opt_text(data, m.html);
        copy::opt_text(data, m.header_message_id);
        copy::opt_text(data, m.in_reply_to);
        copy::text_array(data, m.references);
        copy::opt_text(data, m.automated.map(Automated::as_str));
        copy::timestamptz(data, m.date);
        copy::timestamptz(data, m.received_at);
        copy.row_done().await?;
    }
    copy.finish().await?;
    if atts.is_empty() && people.is_empty() {
        return Ok(());
    }
    sqlx::query(
        r#"with a as (
            insert into attachment (message_id, filename, content_type, size, sha256, inline, content_id, content)
            select x.message_id, x.filename, x.content_type, x.size, x.sha256, x.inline, x.content_id, x.content
            from unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bytea[], $6::bool[],
                        $7::text[], $8::bytea[])
                 as x(message_id, filename, content_type, size, sha256, inline, content_id, content)
         )
         insert into ticket_participant (ticket_id, email, name, role)
         select x.t, x.e, x.n, x.r from unnest($9::bigint[], $10::text[], $11::text[], $12::text[]) as x(t, e, n, r)
         on conflict (ticket_id, email) do update set name = coalesce(ticket_participant.name, excluded.name)"#,
    )
    .bind(&att_message)
    .bind(atts.iter().map(|a| a.filename.as_str()).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.content_type.as_str()).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.content.len() as i64).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| Sha256::digest(&a.content).to_vec()).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.inline).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.content_id.as_deref()).collect::<Vec<_>>())
    .bind(atts.iter().map(|a| a.content.as_slice()).collect::<Vec<_>>())
    .bind(people.iter().map(|p| p.0).collect::<Vec<_>>())
    .bind(people.iter().map(|p| p.1).collect::<Vec<_>>())
    .bind(people.iter().map(|p| p.2).collect::<Vec<_>>())
    .bind(people.iter().map(|p| p.3).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
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
