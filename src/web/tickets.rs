//! A ticket: the conversation page and every control on it (assign, status, priority, tags,
//! spam, internal notes, replies), plus message bodies and attachments for signed-in agents.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::flash::{self, Notice};
use super::inbox::{ListContext, after_closing};
use super::page::{PageError, render};
use super::session::CurrentAgent;
use super::{AppError, AppState, fmt};
use crate::auth::{self, Agent};
use crate::tickets::{self, actions, reply};
use crate::timezone::AgentTimeZone;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tickets/{number}", get(show_ticket))
        .route("/tickets/{number}/assign", post(post_assign))
        .route("/tickets/{number}/status", post(post_status))
        .route("/tickets/{number}/priority", post(post_priority))
        .route("/tickets/{number}/tags", post(post_tags))
        .route("/tickets/{number}/spam", post(post_spam))
        .route("/tickets/{number}/notes", post(post_note))
        .route("/tickets/{number}/mentionable", get(list_mentionable))
        .route(
            "/tickets/{number}/reply",
            // Attachments up to 25 MB in all, like common mail servers accept.
            post(post_reply).layer(axum::extract::DefaultBodyLimit::max(25 * 1024 * 1024)),
        )
        .route("/tickets/{number}/merge", post(post_merge))
        .route("/messages/{id}/retry", post(post_retry))
        .route("/messages/{id}/body", get(show_message_body))
        .route("/attachments/{id}", get(download_attachment))
        .route("/notifications", get(show_notifications))
}

fn parse_number(s: &str) -> Result<i64, AppError> {
    s.parse().map_err(|_| AppError::NotFound)
}

struct AttachmentView {
    id: i64,
    filename: String,
    size: String,
    inline: bool,
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
    quoted: String,
    has_html: bool,
    automated: String,
    delivery_state: String,
    delivery_error: String,
    attachments: Vec<AttachmentView>,
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
    /// The customer's company, from their address's domain (empty for free-mail domains).
    company: String,
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
    held: Option<Vec<i64>>,
}

impl TicketPage {
    /// Whether the assignee picker offers agent `id` (the current assignee always shows).
    fn offers_assignee(&self, id: &i64) -> bool {
        self.assignable.contains(id) || self.assignee_id == *id
    }
}

/// `acme.example.com` → `acme.example.com`; free-mail providers name no company.
fn company_of(email: &str) -> String {
    const FREE: [&str; 12] = [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
    ];
    let domain = email
        .rsplit_once('@')
        .map(|(_, d)| d.to_lowercase())
        .unwrap_or_default();
    if FREE.contains(&domain.as_str()) {
        String::new()
    } else {
        domain
    }
}

/// A saved reply with this ticket's variables filled in.
struct SavedReplyView {
    name: String,
    body: String,
}

/// Fills `{{customer.first_name}}`, `{{customer.name}}`, `{{agent.name}}`, `{{ticket.number}}`.
fn fill_saved_reply(
    body: &str,
    customer_name: &str,
    customer_email: &str,
    agent: &str,
    number: i64,
) -> String {
    let first = customer_name
        .split_whitespace()
        .next()
        .map(str::to_string)
        .unwrap_or_else(|| customer_email.split('@').next().unwrap_or("").to_string());
    let name = if customer_name.is_empty() {
        first.clone()
    } else {
        customer_name.to_string()
    };
    body.replace("{{customer.first_name}}", &first)
        .replace("{{customer.name}}", &name)
        .replace("{{agent.name}}", agent)
        .replace("{{ticket.number}}", &number.to_string())
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

fn event_text(kind: &str, detail: &serde_json::Value, agents: &[Agent]) -> String {
    let name = |v: &serde_json::Value| {
        v.as_i64()
            .and_then(|id| agents.iter().find(|a| a.agent_id == id))
            .map(|a| a.name.clone())
            .unwrap_or_else(|| "nobody".into())
    };
    match kind {
        "created" => "Ticket created from an email".into(),
        "assigned" => format!("assigned this to {}", name(&detail["to"])),
        "status_changed" => format!(
            "status: {} → {}{}",
            detail["from"].as_str().unwrap_or("?"),
            detail["to"].as_str().unwrap_or("?"),
            match detail["reason"].as_str() {
                Some("customer_reply") => " (the customer wrote)",
                Some("snooze_ended") => " (snooze ended)",
                Some("delivery_failed") => " (a reply could not be delivered)",
                Some("bulk_mail") => " (list or bulk mail)",
                _ => "",
            }
        ),
        "priority_changed" => format!(
            "priority: {} → {}",
            detail["from"].as_str().unwrap_or("?"),
            detail["to"].as_str().unwrap_or("?")
        ),
        "tags_changed" => {
            let list = |v: &serde_json::Value| {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|t| t.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            };
            match (list(&detail["added"]), list(&detail["removed"])) {
                (a, r) if r.is_empty() => format!("added tags {a}"),
                (a, r) if a.is_empty() => format!("removed tags {r}"),
                (a, r) => format!("added tags {a}, removed {r}"),
            }
        }
        "note_added" => "added an internal note".into(),
        "delivery_failed" => format!(
            "delivery failed: {}",
            detail["reason"]
                .as_str()
                .or(detail["error"].as_str())
                .unwrap_or("")
        ),
        "marked_spam" => "marked as spam".into(),
        "unmarked_spam" => "marked as not spam".into(),
        "merged_into" => format!("merged this into #{}", detail["target"]),
        "merged_from" => format!("merged #{} into this ticket", detail["source"]),
        other => other.replace('_', " "),
    }
}

#[derive(Deserialize)]
struct TicketQuery {
    /// The inbox list the ticket was opened from ([`ListContext`]).
    list: Option<String>,
}

async fn show_ticket(
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
struct HeldReply {
    form: ReplyForm,
    newer: Vec<i64>,
}

/// Renders the ticket page; with `held`, the composer keeps the agent's draft and a banner
/// lists what is new since they loaded the page.
async fn ticket_page(
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

    let tz = AgentTimeZone::from_stored(&who.agent.time_zone);
    let now = time::OffsetDateTime::now_utc();
    let mut items: Vec<(time::OffsetDateTime, i64, ItemView)> = Vec::new();
    for m in &t.messages {
        let (text, quoted) = fmt::split_quoted(&m.text);
        let delivery = m.delivery.as_ref().map(|d| d.0.clone()).unwrap_or_default();
        items.push((
            m.created_at,
            m.id,
            ItemView {
                kind: m.direction.clone(),
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
                quoted,
                has_html: m.html.is_some(),
                automated: m.automated.clone().unwrap_or_default(),
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
                        inline: a.inline,
                    })
                    .collect(),
            },
        ));
    }
    for e in &t.events {
        if e.kind == "note_added" || e.kind == "created" {
            continue; // the note or first message itself shows this
        }
        let actor = e
            .agent
            .as_ref()
            .and_then(|email| agents.iter().find(|a| &a.email == email))
            .map(|a| a.name.clone())
            .unwrap_or_else(|| "Frontdesk".into());
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
                text: event_text(&e.kind, &e.detail.0, &agents),
                quoted: String::new(),
                has_html: false,
                automated: String::new(),
                delivery_state: String::new(),
                delivery_error: String::new(),
                attachments: Vec::new(),
            },
        ));
    }
    items.sort_by_key(|(at, id, _)| (*at, *id));

    let previous = tickets::previous_tickets(&state.pool, visible, number).await?;
    let assignee_id = t
        .summary
        .assignee
        .as_ref()
        .and_then(|e| agents.iter().find(|a| &a.email == e))
        .map(|a| a.agent_id)
        .unwrap_or(0);
    let customer = t.summary.customer.as_ref().map(|c| c.0.clone());
    let saved = reply::saved_replies(&state.pool).await?;
    let (cname, cemail) = customer
        .as_ref()
        .map(|c| (c.name.clone().unwrap_or_default(), c.email.clone()))
        .unwrap_or_default();
    let saved_replies = saved
        .into_iter()
        .map(|(name, body)| SavedReplyView {
            body: fill_saved_reply(&body, &cname, &cemail, &who.agent.name, number),
            name,
        })
        .collect();
    let (reply_to_override, reply_cc_override) = match &held {
        Some(h) => (Some(h.form.to.clone()), Some(h.form.cc.clone())),
        None => (None, None),
    };
    let page = TicketPage {
        me: who.agent.clone(),
        unread_notifications,
        list: list.map(|l| l.as_str().to_string()).unwrap_or_default(),
        back_href: list
            .map(ListContext::inbox_href)
            .unwrap_or_else(|| "/inbox".into()),
        notices,
        number,
        subject: t.summary.subject.clone(),
        status: t.summary.status.clone(),
        priority: t.summary.priority.clone(),
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
        company: company_of(&cemail),
        reply_to: reply_to_override.unwrap_or_else(|| {
            customer
                .as_ref()
                .map(|c| c.email.clone())
                .unwrap_or_default()
        }),
        reply_cc: reply_cc_override.unwrap_or_else(|| {
            t.cc.iter()
                .map(|c| c.email.clone())
                .filter(|e| Some(e) != customer.as_ref().map(|c| &c.email))
                .collect::<Vec<_>>()
                .join(", ")
        }),
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
        held: held.as_ref().map(|h| h.newer.clone()),
        statuses: tickets::STATUSES.to_vec(),
        priorities: actions::PRIORITIES.to_vec(),
    };
    let status = if page.held.is_some() {
        axum::http::StatusCode::CONFLICT
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, render(&page)?).into_response())
}

/// The ticket page again, in the list it was opened from (`list`, as posted by its forms).
fn back(number: i64, list: &str) -> Redirect {
    Redirect::to(&ticket_href(number, list))
}

fn ticket_href(number: i64, list: &str) -> String {
    match ListContext::parse(list) {
        Some(l) => l.ticket_href(number),
        None => format!("/tickets/{number}"),
    }
}

/// Whether the page's script posted a sidebar field and wants JSON back
/// (`Accept: application/json`) rather than a redirect to the page.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// How a sidebar field answers: to the page's script, JSON with the saved value (errors as
/// `{"error"}` with their status); to a plain form post, a redirect back to the ticket
/// (errors as an error page).
fn field_answer(
    headers: &HeaderMap,
    result: Result<serde_json::Value, AppError>,
    number: i64,
    list: &str,
) -> Response {
    match (result, wants_json(headers)) {
        (Ok(saved), true) => Json(saved).into_response(),
        (Ok(_), false) => back(number, list).into_response(),
        (Err(e), true) => e.into_response(),
        (Err(e), false) => PageError(e).into_response(),
    }
}

#[derive(Deserialize)]
struct AssignForm {
    /// Agent id, or empty / "none" to unassign.
    assignee: String,
    #[serde(default)]
    list: String,
}

async fn post_assign(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(number): Path<String>,
    headers: HeaderMap,
    Form(f): Form<AssignForm>,
) -> Result<Response, PageError> {
    let number = parse_number(&number)?;
    let result = async {
        let assignee = match f.assignee.trim() {
            "" | "none" => None,
            "me" => Some(who.agent.agent_id),
            id => Some(
                id.parse::<i64>()
                    .map_err(|_| AppError::BadRequest(format!("invalid assignee {id:?}")))?,
            ),
        };
        actions::assign(
            &state.pool,
            who.agent.agent_id,
            who.visible.as_deref(),
            number,
            assignee,
        )
        .await?;
        let name = match assignee {
            Some(id) => auth::find_agent(&state.pool, id).await?.map(|a| a.name),
            None => None,
        };
        Ok::<_, AppError>(json!({ "assignee": assignee, "assignee_name": name }))
    }
    .await;
    Ok(field_answer(&headers, result, number, &f.list))
}

#[derive(Deserialize)]
struct StatusForm {
    status: String,
    /// `YYYY-MM-DDTHH:MM` from a datetime-local input, in the agent's time zone, for `snoozed`.
    snooze_until: Option<String>,
    #[serde(default)]
    list: String,
    /// `next`: done with this ticket, go on to the next one of `list` (the `e` shortcut).
    #[serde(default)]
    then: String,
}

/// Parses a `datetime-local` value as wall-clock time in the agent's zone (a time skipped by
/// a DST change counts from after the gap); returns the UTC instant.
fn parse_local(s: &str, tz: &AgentTimeZone) -> Result<time::OffsetDateTime, AppError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let bad = || {
        AppError::BadRequest(format!(
            "invalid snooze time {s:?} (expected YYYY-MM-DDTHH:MM)"
        ))
    };
    let local = time::PrimitiveDateTime::parse(s.trim(), &fmt).map_err(|_| bad())?;
    tz.from_local(local).ok_or_else(bad)
}

async fn post_status(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(number): Path<String>,
    headers: HeaderMap,
    Form(f): Form<StatusForm>,
) -> Result<Response, PageError> {
    let number = parse_number(&number)?;
    let status = f.status.trim();
    // For `then=next`: the ticket's place in its list, before it changes.
    let list = ListContext::parse(&f.list).filter(|_| f.then == "next");
    let place = match &list {
        Some(l) => l.place_of(&state, &who, number).await?,
        None => None,
    };
    let result = async {
        let until = match f
            .snooze_until
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => Some(parse_local(
                s,
                &AgentTimeZone::from_stored(&who.agent.time_zone),
            )?),
            None => None,
        };
        let mut tx = state.pool.begin().await?;
        actions::set_status(
            &mut tx,
            who.agent.agent_id,
            who.visible.as_deref(),
            number,
            status,
            until,
        )
        .await?;
        tx.commit().await?;
        let until = until.filter(|_| status == "snoozed");
        Ok::<_, AppError>(
            json!({ "status": status, "snoozed_until": until.map(|u| u.unix_timestamp()) }),
        )
    }
    .await;
    if f.then == "next" && result.is_ok() {
        // Done with it: on to the next ticket of the list it came from.
        let to = after_closing(&state, &who, list.as_ref(), place).await?;
        flash::push(
            &who.session,
            [Notice::info(format!("#{number} is now {status}."))],
        )
        .await;
        return Ok(Redirect::to(&to).into_response());
    }
    Ok(field_answer(&headers, result, number, &f.list))
}

#[derive(Deserialize)]
struct PriorityForm {
    priority: String,
    #[serde(default)]
    list: String,
}

async fn post_priority(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(number): Path<String>,
    headers: HeaderMap,
    Form(f): Form<PriorityForm>,
) -> Result<Response, PageError> {
    let number = parse_number(&number)?;
    let priority = f.priority.trim();
    let result = actions::set_priority(
        &state.pool,
        who.agent.agent_id,
        who.visible.as_deref(),
        number,
        priority,
    )
    .await
    .map(|()| json!({ "priority": priority }))
    .map_err(AppError::from);
    Ok(field_answer(&headers, result, number, &f.list))
}

#[derive(Deserialize)]
struct TagsForm {
    /// Comma-separated tag names.
    tags: String,
    #[serde(default)]
    list: String,
}

async fn post_tags(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(number): Path<String>,
    headers: HeaderMap,
    Form(f): Form<TagsForm>,
) -> Result<Response, PageError> {
    let number = parse_number(&number)?;
    let tags: Vec<String> = f.tags.split(',').map(String::from).collect();
    let result = actions::set_tags(
        &state.pool,
        who.agent.agent_id,
        who.visible.as_deref(),
        number,
        &tags,
    )
    .await
    .map(|saved| json!({ "tags": saved }))
    .map_err(AppError::from);
    Ok(field_answer(&headers, result, number, &f.list))
}

#[derive(Deserialize)]
struct SpamForm {
    spam: String,
    #[serde(default)]
    list: String,
}

async fn post_spam(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(number): Path<String>,
    Form(f): Form<SpamForm>,
) -> Result<Redirect, PageError> {
    let number = parse_number(&number)?;
    actions::set_spam(
        &state.pool,
        who.agent.agent_id,
        who.visible.as_deref(),
        number,
        f.spam == "true",
    )
    .await
    .map_err(AppError::from)?;
    Ok(back(number, &f.list))
}

#[derive(Deserialize)]
struct NoteForm {
    text: String,
    #[serde(default)]
    list: String,
}

/// Saves the note; each `@handle` that notified nobody is named in a notice on the page
/// that follows, so the author knows to tell that person another way.
async fn post_note(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(number): Path<String>,
    Form(f): Form<NoteForm>,
) -> Result<Redirect, PageError> {
    let number = parse_number(&number)?;
    let note = actions::add_note(
        &state.pool,
        who.agent.agent_id,
        who.visible.as_deref(),
        number,
        &f.text,
        &state.config.public_url,
    )
    .await
    .map_err(AppError::from)?;
    flash::push(
        &who.session,
        note.unresolved.iter().map(|u| Notice::warning(u.message())),
    )
    .await;
    Ok(Redirect::to(&format!(
        "{}#m{}",
        ticket_href(number, &f.list),
        note.id
    )))
}

/// `GET /tickets/{number}/mentionable`: the agents a note on this ticket can @mention (they
/// can see its mailbox; not the agent asking), as `[{"name", "handle"}]`, for the composer.
async fn list_mentionable(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(number): Path<String>,
) -> Result<Json<Vec<crate::tickets::mentions::Mentionable>>, AppError> {
    let number = parse_number(&number)?;
    crate::tickets::mentions::mentionable(
        &state.pool,
        who.visible.as_deref(),
        number,
        who.agent.agent_id,
    )
    .await?
    .map(Json)
    .ok_or(AppError::NotFound)
}

#[derive(Deserialize)]
struct MergeForm {
    /// The ticket number to merge this one into (`#` allowed).
    into: String,
    #[serde(default)]
    list: String,
}

async fn post_merge(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(number): Path<String>,
    Form(f): Form<MergeForm>,
) -> Result<Redirect, PageError> {
    let number = parse_number(&number)?;
    let target: i64 = f
        .into
        .trim()
        .trim_start_matches('#')
        .parse()
        .map_err(|_| AppError::BadRequest(format!("not a ticket number: {:?}", f.into)))?;
    actions::merge(
        &state.pool,
        who.agent.agent_id,
        who.visible.as_deref(),
        number,
        target,
    )
    .await
    .map_err(AppError::from)?;
    Ok(back(target, &f.list))
}

#[derive(Deserialize)]
struct ReplyForm {
    to: String,
    #[serde(default)]
    cc: String,
    text: String,
    /// `keep`, `pending` or `closed`.
    #[serde(default)]
    after: String,
    /// The newest message id on the agent's page (send-time guard); absent = no check.
    #[serde(default)]
    seen: String,
    /// The inbox list the ticket was opened from ([`ListContext`]).
    #[serde(default)]
    list: String,
}

/// The composer's post: `to`, `cc`, `text`, `after` and any number of `attachment` files
/// (multipart), or the same fields url-encoded without files.
async fn post_reply(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(number): Path<String>,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    use axum::extract::FromRequest;
    let number = parse_number(&number)?;
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut attachments = Vec::new();
    let f = if is_multipart {
        let mut mp = axum::extract::Multipart::from_request(req, &state)
            .await
            .map_err(|e| AppError::BadRequest(e.body_text()))?;
        let mut f = ReplyForm {
            to: String::new(),
            cc: String::new(),
            text: String::new(),
            after: String::new(),
            seen: String::new(),
            list: String::new(),
        };
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| AppError::BadRequest(e.body_text()))?
        {
            let name = field.name().unwrap_or("").to_string();
            if name == "attachment" {
                let filename = field.file_name().unwrap_or("").to_string();
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| AppError::BadRequest(e.body_text()))?;
                if !filename.is_empty() && !bytes.is_empty() {
                    attachments.push(crate::outbox::OutgoingAttachment {
                        filename,
                        content_type,
                        content: bytes.to_vec(),
                    });
                }
                continue;
            }
            let value = field
                .text()
                .await
                .map_err(|e| AppError::BadRequest(e.body_text()))?;
            match name.as_str() {
                "to" => f.to = value,
                "cc" => f.cc = value,
                "text" => f.text = value,
                "after" => f.after = value,
                "seen" => f.seen = value,
                "list" => f.list = value,
                _ => {}
            }
        }
        f
    } else {
        let Form(f) = Form::<ReplyForm>::from_request(req, &state)
            .await
            .map_err(|e| AppError::BadRequest(e.body_text()))?;
        f
    };
    let status_after = match f.after.as_str() {
        "" | "keep" => None,
        "pending" | "closed" => Some(f.after.clone()),
        other => return Err(AppError::BadRequest(format!("unknown action {other:?}")).into()),
    };
    let held_form = ReplyForm {
        to: f.to.clone(),
        cc: f.cc.clone(),
        text: f.text.clone(),
        after: f.after.clone(),
        seen: f.seen.clone(),
        list: f.list.clone(),
    };
    let input = reply::ReplyInput {
        to: reply::parse_address_list(&f.to).map_err(AppError::from)?,
        cc: reply::parse_address_list(&f.cc).map_err(AppError::from)?,
        text: f.text,
        status_after,
        attachments,
        seen_message_id: match f.seen.trim() {
            "" => None,
            v => Some(
                v.parse::<i64>()
                    .map_err(|_| AppError::BadRequest(format!("invalid seen message {v:?}")))?,
            ),
        },
    };
    // For "Send and close": the ticket's place in its list before the reply moves it.
    let list = ListContext::parse(&f.list).filter(|_| f.after == "closed");
    let place = match &list {
        Some(l) => l.place_of(&state, &who, number).await?,
        None => None,
    };
    match reply::create_reply(
        &state.pool,
        &who.agent,
        who.visible.as_deref(),
        number,
        &input,
    )
    .await
    {
        // "Send and close": done with it, on to the next ticket of the list.
        Ok(_) if f.after == "closed" => {
            let to = after_closing(&state, &who, list.as_ref(), place).await?;
            flash::push(
                &who.session,
                [Notice::info(format!(
                    "Reply sent; #{number} is now closed."
                ))],
            )
            .await;
            Ok(Redirect::to(&to).into_response())
        }
        Ok(id) => {
            Ok(Redirect::to(&format!("{}#m{id}", ticket_href(number, &f.list))).into_response())
        }
        // Someone wrote meanwhile: show what is new, keep the draft, send nothing.
        Err(reply::ReplyError::Stale(newer)) => {
            let list = ListContext::parse(&held_form.list);
            ticket_page(
                &state,
                &who,
                number,
                Some(HeldReply {
                    form: held_form,
                    newer,
                }),
                list.as_ref(),
                Vec::new(),
            )
            .await
        }
        Err(e) => Err(AppError::from(actions::ActionError::from(e)).into()),
    }
}

/// "Retry" on a failed reply: back into the outbox, due now.
async fn post_retry(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let ticket = tickets::ticket_of_outbound(&state.pool, who.visible.as_deref(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    crate::outbox::retry(&state.pool, id)
        .await
        .map_err(|e| AppError::Other(e.into()))?;
    Ok(Redirect::to(&format!("/tickets/{ticket}#m{id}")))
}

#[derive(Deserialize)]
struct BodyQuery {
    /// `1` to let this message load remote images.
    images: Option<String>,
}

/// The sanitised HTML of one message, as a document for a sandboxed iframe. Its own CSP allows
/// no script at all and images only from us (inline parts) unless the agent asked for remote
/// images for this message.
async fn show_message_body(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(id): Path<String>,
    Query(q): Query<BodyQuery>,
) -> Result<Response, PageError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let html = tickets::message_html(&state.pool, who.visible.as_deref(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let remote = q.images.as_deref() == Some("1");
    let csp = if remote {
        "default-src 'none'; img-src 'self' data: https: http:; style-src 'unsafe-inline'; sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox"
    } else {
        "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox"
    };
    let doc = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><base target=\"_blank\"><style>body{{font:14px/1.5 system-ui,sans-serif;margin:0;word-wrap:break-word}}img{{max-width:100%;height:auto}}summary{{cursor:pointer;color:#555;margin:.5em 0}}</style></head><body>{html}</body></html>"
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        doc,
    )
        .into_response())
}

#[derive(Deserialize)]
struct AttachmentQuery {
    inline: Option<String>,
}

/// An attachment for a signed-in agent. Images may be shown inline (`?inline=1`); anything
/// else is always a download, never rendered by the browser in our origin.
async fn download_attachment(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(id): Path<String>,
    Query(q): Query<AttachmentQuery>,
) -> Result<Response, PageError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let a = tickets::get_attachment(&state.pool, who.visible.as_deref(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let safe_image = matches!(
        a.content_type.as_str(),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    );
    if q.inline.as_deref() == Some("1") && safe_image {
        return Ok((
            [
                (header::CONTENT_TYPE, a.content_type.clone()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
                (header::CACHE_CONTROL, "private, max-age=3600".into()),
            ],
            a.content,
        )
            .into_response());
    }
    Ok(super::api::download(
        &a.filename,
        &a.content_type,
        a.content,
    ))
}

struct NotificationView {
    ticket: i64,
    subject: String,
    author: String,
    /// When, in the agent's zone.
    at: fmt::Moment,
    read: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    me: Agent,
    unread_notifications: i64,
    items: Vec<NotificationView>,
}

async fn show_notifications(
    State(state): State<AppState>,
    who: CurrentAgent,
) -> Result<Response, PageError> {
    let rows = actions::notifications(&state.pool, who.agent.agent_id).await?;
    let tz = AgentTimeZone::from_stored(&who.agent.time_zone);
    let now = time::OffsetDateTime::now_utc();
    let unread_notifications = rows.iter().filter(|r| !r.read).count() as i64;
    let items = rows
        .into_iter()
        .map(|r| NotificationView {
            ticket: r.ticket_id,
            subject: r.subject,
            author: r.author.unwrap_or_default(),
            at: fmt::moment(r.created_at, now, &tz),
            read: r.read,
        })
        .collect();
    Ok(render(&NotificationsPage {
        me: who.agent,
        unread_notifications,
        items,
    })?
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_reply_variables_are_filled() {
        let b = "Hallo {{customer.first_name}}, {{agent.name}} hier zu #{{ticket.number}}.";
        assert_eq!(
            fill_saved_reply(b, "Jana Roth", "jana@example.org", "Dana", 7),
            "Hallo Jana, Dana hier zu #7."
        );
        assert_eq!(
            fill_saved_reply(b, "", "jana@example.org", "Dana", 7),
            "Hallo jana, Dana hier zu #7."
        );
    }
}
