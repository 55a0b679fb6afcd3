//! The ticket page: the conversation (messages, notes, timeline events), the sidebar and the
//! composer with its reply-all defaults.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::parse_number;
use super::reply::ReplyForm;
use crate::auth::{self, Agent};
use crate::tickets::recipients::Recipients;
use crate::tickets::saved_reply::fill_saved_reply;
use crate::tickets::timeline::{StatusReason, TimelineEvent};
use crate::tickets::{self, Priority, TicketStatus, actions, reply};
use crate::timezone::AgentTimeZone;
use crate::web::flash::{self, Notice};
use crate::web::inbox::ListContext;
use crate::web::page::{PageError, render};
use crate::web::session::CurrentAgent;
use crate::web::{AppError, AppState, fmt};

struct AttachmentView {
    id: i64,
    filename: String,
    size: String,
    /// `PDF`, `PNG image`, or the media type as sent.
    kind: String,
    inline: bool,
    /// A safe image: shown as a thumbnail.
    thumbnail: bool,
    /// The browser's viewer can open it (`?inline=1`); else it is a download only.
    viewable: bool,
}

/// A reader's name for a media type: `PDF`, `PNG image`, `Word document`; else the type.
fn kind_of(content_type: &str) -> String {
    match content_type {
        "application/pdf" => "PDF".into(),
        "application/zip" => "ZIP archive".into(),
        "application/msword"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
            "Word document".into()
        }
        "application/vnd.ms-excel"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => {
            "Excel spreadsheet".into()
        }
        "text/plain" => "Text".into(),
        "text/csv" => "CSV".into(),
        "message/rfc822" => "Email message".into(),
        t => match t.strip_prefix("image/") {
            Some(sub) if !sub.is_empty() => {
                let sub = sub
                    .trim_start_matches("x-")
                    .split('+')
                    .next()
                    .unwrap_or(sub);
                format!("{} image", sub.to_uppercase())
            }
            _ => t.to_string(),
        },
    }
}

/// One entry of the conversation: a message, a note, or a timeline event.
struct ItemView {
    /// `inbound`, `outbound`, `note` or `event`.
    kind: String,
    message_id: i64,
    author: String,
    author_email: String,
    to: String,
    cc: String,
    /// When, in the agent's zone.
    at: fmt::Moment,
    text: String,
    /// A note whose @mentions notified someone: its text as HTML, those mentions marked.
    /// Empty otherwise (the template shows `text`).
    mentions_html: String,
    quoted: String,
    has_html: bool,
    /// The HTML body refers to images on other servers (blocked until the agent asks).
    remote_images: bool,
    automated: String,
    delivery_state: String,
    delivery_error: String,
    attachments: Vec<AttachmentView>,
}

/// One SLA clock on the sidebar: "First response", "due in 2 h 10 min" / "overdue 20 min" /
/// "achieved" / "paused", with its state's CSS class and the due time in the agent's zone.
struct SlaClockView {
    label: &'static str,
    text: String,
    class: &'static str,
    /// The due (or result) time in the agent's time zone, for the title.
    when: String,
}

/// The sidebar's clocks: the latest run of each kind, in kind order.
fn sla_clock_views(
    clocks: &[crate::sla::clocks::Clock],
    now: time::OffsetDateTime,
    tz: &AgentTimeZone,
) -> Vec<SlaClockView> {
    use crate::sla::clocks::{ClockState, countdown};
    use crate::sla::policies::ClockKind;
    ClockKind::ALL
        .iter()
        .filter_map(|kind| {
            let c = clocks
                .iter()
                .filter(|c| c.kind == *kind)
                .max_by_key(|c| c.cycle)?;
            let state = c.state(now);
            let (text, at) = match state {
                ClockState::Achieved => ("achieved".to_string(), c.achieved_at),
                ClockState::Breached => ("breached".to_string(), c.breached_at),
                ClockState::Paused => ("paused".to_string(), None),
                ClockState::Overdue | ClockState::Running | ClockState::AtRisk => {
                    let due = c.due_at.unwrap_or(now);
                    let words = countdown(due, now);
                    let text = if words.starts_with("overdue") {
                        words
                    } else {
                        format!("due in {words}")
                    };
                    (text, c.due_at)
                }
            };
            Some(SlaClockView {
                label: kind.label(),
                text,
                class: state.class(),
                when: at.map(|t| fmt::datetime(t, tz)).unwrap_or_default(),
            })
        })
        .collect()
}

struct PreviousTicket {
    number: i64,
    subject: String,
    status: String,
}

#[derive(Template)]
#[template(path = "tickets/show.html")]
struct TicketPage {
    me: Agent,
    unread_notifications: i64,
    /// The inbox list this ticket was opened from (`list=` of its forms), or empty.
    list: String,
    /// "← Inbox": that list, or the inbox.
    back_href: String,
    /// What the last action did.
    notices: Vec<Notice>,
    number: i64,
    subject: String,
    status: String,
    priority: String,
    mailbox: String,
    assignee_id: i64,
    tags: String,
    customer_name: String,
    customer_email: String,
    /// The customer's account (effective and own attributes, company), for the sidebar's
    /// account box and its edit form; `None` without a customer.
    account: Option<crate::customers::Customer>,
    /// Every lifecycle stage's name, in order (the edit form's choices).
    stages: Vec<String>,
    cc: Vec<String>,
    items: Vec<ItemView>,
    previous: Vec<PreviousTicket>,
    agents: Vec<Agent>,
    /// Agents the ticket may be given to: active, and able to see its mailbox.
    assignable: Vec<i64>,
    statuses: Vec<&'static str>,
    priorities: Vec<&'static str>,
    reply_to: String,
    reply_cc: String,
    saved_replies: Vec<SavedReplyView>,
    /// The newest message or note on the page: the send-time guard's reference.
    seen_message_id: i64,
    /// The draft text when a reply was held back.
    draft: String,
    /// Messages and notes that arrived after the agent loaded the page (held reply).
    held: Option<Vec<HeldItemView>>,
    /// The ticket's SLA policy id (0 = none) and the policies to choose from.
    sla_policy_id: i64,
    sla_policies: Vec<(i64, String)>,
    sla_clocks: Vec<SlaClockView>,
    /// The customer's latest CSAT rating, and when it was given (agent's wall clock).
    csat: Option<crate::csat::survey::TicketCsat>,
    csat_when: String,
}

impl TicketPage {
    /// The CSAT rating's word ("Good", "Okay", "Not good").
    fn csat_label(&self) -> &'static str {
        self.csat
            .as_ref()
            .and_then(|c| c.rating())
            .map_or("", crate::csat::Rating::label)
    }

    /// Whether the assignee picker offers agent `id` (the current assignee always shows).
    fn offers_assignee(&self, id: &i64) -> bool {
        self.assignable.contains(id) || self.assignee_id == *id
    }

    /// The customer page's address.
    fn customer_href(&self) -> String {
        crate::web::customers::customer_href(&self.customer_email)
    }

    /// The company page's address (empty without a company).
    fn company_href(&self) -> String {
        self.account
            .as_ref()
            .and_then(|a| a.company.as_deref())
            .map(crate::web::customers::company_href)
            .unwrap_or_default()
    }
}

/// A message or note that arrived while the agent wrote a reply that was then held: named by
/// who wrote it and when (its id reads like a ticket number, so it is only the link target).
struct HeldItemView {
    message_id: i64,
    /// The sender's name or address, or the note's author.
    author: String,
    /// When, in the agent's zone.
    at: fmt::Moment,
}

/// A saved reply with this ticket's variables filled in.
struct SavedReplyView {
    name: String,
    body: String,
}

fn join_addrs(a: &[crate::ingest::parse::EmailAddress]) -> String {
    a.iter()
        .map(|x| match &x.name {
            Some(n) => format!("{n} <{}>", x.email),
            None => x.email.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Escapes `text` for HTML and marks each `@handle` that names one of `notified`
/// (`(email, name)`) as a mention that reached that agent.
fn mark_mentions(text: &str, notified: &[(&str, &str)]) -> String {
    fn escape(out: &mut String, s: &str) {
        for c in s.chars() {
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
        }
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for (range, handle) in crate::tickets::mentions::mention_spans(text) {
        let Some((_, name)) = notified
            .iter()
            .find(|(email, name)| crate::tickets::mentions::handle_names(&handle, email, name))
        else {
            continue;
        };
        escape(&mut out, &text[at..range.start]);
        out.push_str("<mark class=\"mention\" title=\"");
        escape(&mut out, &format!("{name} was notified"));
        out.push_str("\">");
        escape(&mut out, &text[range.clone()]);
        out.push_str("</mark>");
        at = range.end;
    }
    escape(&mut out, &text[at..]);
    out
}

/// One timeline line, after the actor's name ("Dana Lee assigned this to Lee Park").
fn event_text(event: &TimelineEvent, agents: &[Agent]) -> String {
    use TimelineEvent as E;
    let name = |id: &Option<i64>| {
        id.and_then(|id| agents.iter().find(|a| a.agent_id == id))
            .map(|a| a.name.clone())
            .unwrap_or_else(|| "nobody".into())
    };
    match event {
        E::Created { .. } => "Ticket created from an email".into(),
        E::MessageReceived { .. } => "received an email".into(),
        E::ReplyQueued { .. } => "replied".into(),
        E::NoteAdded { .. } => "added an internal note".into(),
        E::Assigned { to, .. } => format!("assigned this to {}", name(to)),
        E::StatusChanged {
            from, to, reason, ..
        } => format!(
            "status: {from} → {to}{}",
            match reason {
                Some(StatusReason::CustomerReply) => " (the customer wrote)",
                Some(StatusReason::SnoozeEnded) => " (snooze ended)",
                Some(StatusReason::DeliveryFailed) => " (a reply could not be delivered)",
                Some(StatusReason::BulkMail) => " (list or bulk mail)",
                Some(StatusReason::SlaAtRisk) => " (an SLA clock is at risk)",
                None => "",
            }
        ),
        E::PriorityChanged { from, to } => format!("priority: {from} → {to}"),
        E::TagsChanged { added, removed } => {
            let (a, r) = (added.join(", "), removed.join(", "));
            match () {
                _ if r.is_empty() => format!("added tags {a}"),
                _ if a.is_empty() => format!("removed tags {r}"),
                _ => format!("added tags {a}, removed {r}"),
            }
        }
        E::DeliveryFailed { error, .. } => format!("delivery failed: {error}"),
        E::BounceReceived { reason, .. } => format!("delivery failed: {reason}"),
        E::MarkedSpam {} => "marked as spam".into(),
        E::UnmarkedSpam {} => "marked as not spam".into(),
        E::MergedInto {
            target,
            cross_mailbox,
            ..
        } => format!("merged this into #{target}{}", across(cross_mailbox)),
        E::MergedFrom {
            source,
            cross_mailbox,
            ..
        } => format!("merged #{source} into this ticket{}", across(cross_mailbox)),
        E::TeamChanged { to, .. } => match to {
            Some(t) => format!("moved this to team {}", t.name),
            None => "took this off its team".into(),
        },
        E::RuleFired {
            matched, changes, ..
        } => {
            let what = if changes.is_empty() {
                "fired".to_string()
            } else {
                changes.join(", ")
            };
            if matched.is_empty() {
                what
            } else {
                format!("{what}, because {}", matched.join(", "))
            }
        }
        E::SlaWarning { clock, .. } => {
            format!("SLA warning: {} is at risk", clock.label().to_lowercase())
        }
        E::SlaBreached { clock, .. } => {
            format!("SLA breached: {}", clock.label().to_lowercase())
        }
        E::SlaPolicyChanged { to, .. } => match to {
            Some(p) => format!("set the SLA policy to {}", p.name),
            None => "removed the SLA policy".into(),
        },
        E::CsatRated { rating, comment } => match comment {
            Some(c) => format!("rated the support {}: “{c}”", rating.label().to_lowercase()),
            None => format!("rated the support {}", rating.label().to_lowercase()),
        },
    }
}

/// Who an event's line names: the agent, the rule (by the name its `rule_fired` events on
/// this ticket carry), or Frontdesk itself.
fn event_author(
    e: &crate::tickets::timeline::EventView,
    all: &[crate::tickets::timeline::EventView],
    agents: &[Agent],
) -> String {
    if let Some(a) = e
        .agent
        .as_ref()
        .and_then(|email| agents.iter().find(|a| &a.email == email))
    {
        return a.name.clone();
    }
    if let Some(id) = e.rule_id {
        let name = all.iter().find_map(|x| match &x.event {
            TimelineEvent::RuleFired { rule, .. } if rule.id == id => Some(rule.name.clone()),
            _ => None,
        });
        return match name {
            Some(n) => format!("Rule '{n}'"),
            None => format!("Rule #{id}"),
        };
    }
    if e.actor == "customer" {
        return "The customer".into();
    }
    "Frontdesk".into()
}

/// " (from billing@ into support@, N agents gained access)" for a merge across mailboxes.
fn across(cross: &Option<crate::tickets::timeline::CrossMailbox>) -> String {
    match cross {
        None => String::new(),
        Some(c) => format!(
            " (across mailboxes: from {} into {}; {} agent{} gained access)",
            c.from,
            c.into,
            c.gained_access.len(),
            if c.gained_access.len() == 1 { "" } else { "s" }
        ),
    }
}

#[derive(Deserialize)]
pub(super) struct TicketQuery {
    /// The inbox list the ticket was opened from ([`ListContext`]).
    list: Option<String>,
}

pub(super) async fn show_ticket(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(number): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TicketQuery>,
) -> Result<Response, PageError> {
    let number = parse_number(&number)?;
    let list = q.list.as_deref().and_then(ListContext::parse);
    let notices = flash::take(&who.session, &headers).await;
    ticket_page(&state, &who, number, None, list.as_ref(), notices).await
}

/// A reply the send-time guard held back: what the agent wrote, and what arrived meanwhile.
pub(super) struct HeldReply {
    pub(super) form: ReplyForm,
    pub(super) newer: Vec<i64>,
}

/// Renders the ticket page; with `held`, the composer keeps the agent's draft and a banner
/// lists what is new since they loaded the page.
pub(super) async fn ticket_page(
    state: &AppState,
    who: &CurrentAgent,
    number: i64,
    held: Option<HeldReply>,
    list: Option<&ListContext>,
    notices: Vec<Notice>,
) -> Result<Response, PageError> {
    let visible = who.visible.as_deref();
    let t = tickets::get_ticket(&state.pool, visible, number)
        .await?
        .ok_or(AppError::NotFound)?;
    let agents = auth::list_agents(&state.pool).await?;
    let assignable = auth::assignable_agents(&state.pool, number).await?;
    actions::mark_viewed(&state.pool, who.agent.agent_id, number).await?;
    actions::read_notifications(&state.pool, who.agent.agent_id, number).await?;
    let unread_notifications =
        actions::unread_notifications(&state.pool, who.agent.agent_id).await?;
    let notified = crate::tickets::mentions::notified_by_notes(&state.pool, number).await?;

    let tz = AgentTimeZone::from_stored(&who.agent.time_zone);
    let now = time::OffsetDateTime::now_utc();
    let mut items: Vec<(time::OffsetDateTime, i64, ItemView)> = Vec::new();
    for m in &t.messages {
        let (text, quoted) = fmt::split_quoted(&m.text);
        let reached: Vec<(&str, &str)> = notified
            .iter()
            .filter(|(id, _, _)| *id == m.id)
            .map(|(_, email, name)| (email.as_str(), name.as_str()))
            .collect();
        let mentions_html = if reached.is_empty() {
            String::new()
        } else {
            mark_mentions(&text, &reached)
        };
        let delivery = m.delivery.as_ref().map(|d| d.0.clone()).unwrap_or_default();
        items.push((
            m.created_at,
            m.id,
            ItemView {
                kind: m.direction.to_string(),
                message_id: m.id,
                author: m
                    .from
                    .as_ref()
                    .and_then(|f| f.0.name.clone())
                    .or(m.from.as_ref().map(|f| f.0.email.clone()))
                    .unwrap_or_default(),
                author_email: m
                    .from
                    .as_ref()
                    .map(|f| f.0.email.clone())
                    .unwrap_or_default(),
                to: join_addrs(&m.to.0),
                cc: join_addrs(&m.cc.0),
                at: fmt::moment(m.created_at, now, &tz),
                text,
                mentions_html,
                quoted,
                has_html: m.html.is_some(),
                remote_images: m
                    .html
                    .as_deref()
                    .is_some_and(super::body::has_remote_images),
                automated: m.automated.map(|a| a.to_string()).unwrap_or_default(),
                delivery_state: delivery["state"].as_str().unwrap_or("").to_string(),
                delivery_error: delivery["error"].as_str().unwrap_or("").to_string(),
                attachments: m
                    .attachments
                    .0
                    .iter()
                    .map(|a| AttachmentView {
                        id: a.id,
                        filename: a.filename.clone(),
                        size: fmt::size(a.size),
                        kind: kind_of(&a.content_type),
                        inline: a.inline,
                        thumbnail: super::attachments::is_safe_image(&a.content_type),
                        viewable: super::attachments::is_viewable(&a.content_type),
                    })
                    .collect(),
            },
        ));
    }
    for e in &t.events {
        if e.event.shown_as_message() {
            continue; // the message or note itself shows this
        }
        if e.rule_id.is_some() && !matches!(e.event, TimelineEvent::RuleFired { .. }) {
            continue; // the rule's `rule_fired` line lists what it changed, and why
        }
        let actor = event_author(e, &t.events, &agents);
        items.push((
            e.created_at,
            i64::MAX,
            ItemView {
                kind: "event".into(),
                message_id: 0,
                author: actor,
                author_email: String::new(),
                to: String::new(),
                cc: String::new(),
                at: fmt::moment(e.created_at, now, &tz),
                text: event_text(&e.event, &agents),
                mentions_html: String::new(),
                quoted: String::new(),
                has_html: false,
                remote_images: false,
                automated: String::new(),
                delivery_state: String::new(),
                delivery_error: String::new(),
                attachments: Vec::new(),
            },
        ));
    }
    items.sort_by_key(|(at, id, _)| (*at, *id));
    let held_items = held.as_ref().map(|h| {
        items
            .iter()
            .map(|(_, _, i)| i)
            .filter(|i| i.kind != "event" && h.newer.contains(&i.message_id))
            .map(|i| HeldItemView {
                message_id: i.message_id,
                author: i.author.clone(),
                at: i.at.clone(),
            })
            .collect()
    });

    let previous = tickets::previous_tickets(&state.pool, visible, number).await?;
    let assignee_id = t
        .summary
        .assignee
        .as_ref()
        .and_then(|e| agents.iter().find(|a| &a.email == e))
        .map(|a| a.agent_id)
        .unwrap_or(0);
    let customer = t.summary.customer.as_ref().map(|c| c.0.clone());
    let saved = reply::saved_replies(&state.pool, who.agent.agent_id).await?;
    let (cname, cemail) = customer
        .as_ref()
        .map(|c| (c.name.clone().unwrap_or_default(), c.email.clone()))
        .unwrap_or_default();
    let account = match &customer {
        Some(c) => crate::customers::find_customer(&state.pool, visible, &c.email).await?,
        None => None,
    };
    let stages = crate::customers::stages::list_uncounted(&state.pool)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let saved_replies = saved
        .into_iter()
        .map(|(name, body)| SavedReplyView {
            body: fill_saved_reply(&body, &cname, &cemail, &who.agent.name, number),
            name,
        })
        .collect();
    // The composer: reply-all, or what the agent had typed when their reply was held.
    let (reply_to, reply_cc) = match &held {
        Some(h) => (h.form.to.clone(), h.form.cc.clone()),
        None => {
            let r = Recipients::reply_all(&t);
            (r.to.join(", "), r.cc.join(", "))
        }
    };
    let (sla_policy_id, sla_clocks) =
        match crate::sla::clocks::ticket_clocks(&mut *state.pool.acquire().await?, number).await? {
            Some(((id, _), clocks)) => (id, sla_clock_views(&clocks, now, &tz)),
            None => (0, Vec::new()),
        };
    let sla_policies: Vec<(i64, String)> =
        sqlx::query_as("select sla_policy_id, name from sla_policy order by lower(name), name")
            .fetch_all(&state.pool)
            .await
            .map_err(AppError::from)?;
    let csat_when = t
        .csat
        .as_ref()
        .map(|c| fmt::moment(c.rated_at, now, &tz).local)
        .unwrap_or_default();
    let page = TicketPage {
        csat: t.csat.clone(),
        csat_when,
        sla_policy_id,
        sla_policies,
        sla_clocks,
        me: who.agent.clone(),
        unread_notifications,
        list: list.map(|l| l.as_str().to_string()).unwrap_or_default(),
        back_href: list
            .map(ListContext::inbox_href)
            .unwrap_or_else(|| "/inbox".into()),
        notices,
        number,
        subject: t.summary.subject.clone(),
        status: t.summary.status.to_string(),
        priority: t.summary.priority.to_string(),
        mailbox: t.summary.mailbox.0.address.clone(),
        assignee_id,
        tags: t.summary.tags.join(", "),
        customer_name: customer
            .as_ref()
            .and_then(|c| c.name.clone())
            .unwrap_or_default(),
        customer_email: customer
            .as_ref()
            .map(|c| c.email.clone())
            .unwrap_or_default(),
        account,
        stages,
        reply_to,
        reply_cc,
        cc: t.cc.iter().map(|c| c.email.clone()).collect(),
        items: items.into_iter().map(|(_, _, i)| i).collect(),
        previous: previous
            .into_iter()
            .map(|(number, subject, status)| PreviousTicket {
                number,
                subject,
                status,
            })
            .collect(),
        agents,
        assignable,
        saved_replies,
        seen_message_id: t.messages.iter().map(|m| m.id).max().unwrap_or(0),
        draft: held
            .as_ref()
            .map(|h| h.form.text.clone())
            .unwrap_or_default(),
        held: held_items,
        statuses: TicketStatus::ALL.iter().map(|s| s.as_str()).collect(),
        priorities: Priority::ALL.iter().map(|p| p.as_str()).collect(),
    };
    let status = if page.held.is_some() {
        axum::http::StatusCode::CONFLICT
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, render(&page)?).into_response())
}
