//! The JSON API under `/api/v1`, authenticated with `Authorization: Bearer TOKEN`. Ticket
//! routes are here; the admin routes (agents, teams, mailboxes, audit) are in their own
//! modules and take [`admin::ApiAdmin`].

mod admin;
mod agents;
pub(crate) mod analytics;
mod audit;
mod customers;
mod mailboxes;
mod rules;
mod sla;
mod teams;
mod webhooks;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{AppError, AppState};
use crate::auth;
use crate::tickets::actions::{self, ActionError};
use crate::tickets::recipients::Recipients;
use crate::tickets::reply::{self, ReplyInput};
use crate::tickets::{self, Priority, TicketFilter, TicketStatus};
use crate::web::extract::PathNumber;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tickets", get(list_tickets))
        .route("/tickets/{number}", get(show_ticket).patch(patch_ticket))
        .route("/attachments/{id}", get(download_attachment))
        .route("/quarantine", get(list_quarantine))
        .route("/search", get(search_tickets))
        .route("/quarantine/{id}/raw", get(download_quarantined))
        .route("/tickets/{number}/replies", post(post_reply))
        .route("/tickets/{number}/notes", post(post_note))
        .route("/views", get(list_views))
        .merge(agents::router())
        .merge(analytics::router())
        .merge(teams::router())
        .merge(mailboxes::router())
        .merge(audit::router())
        .merge(rules::router())
        .merge(sla::router())
        .merge(customers::router())
        .merge(webhooks::router())
}

/// `GET /api/v1/views`: the caller's saved views in their order (the inbox sidebar's), each
/// `{"id", "name", "query", "shared_with": "personal" | "team" | "everyone", "team": name or
/// null, "owner": name, "count", "inbox_url"}`. `count` is the tickets still to do (not
/// closed, not spam) in the caller's mailboxes, `null` for a view of Closed or Spam; `query`
/// is the inbox query string, `inbox_url` the path that opens the view.
async fn list_views(
    State(state): State<AppState>,
    who: ApiAgent,
) -> Result<Json<serde_json::Value>, AppError> {
    let views = tickets::saved_views::list_for(&state.pool, who.agent.agent_id).await?;
    let counts = super::views::counts(
        &state.pool,
        who.agent.agent_id,
        who.visible.as_deref(),
        &views,
    )
    .await?;
    Ok(Json(serde_json::Value::Array(
        views
            .iter()
            .zip(counts)
            .map(|(v, count)| {
                serde_json::json!({
                    "id": v.saved_view_id,
                    "name": v.name,
                    "query": v.query,
                    "shared_with": v.visibility,
                    "team": v.team_name,
                    "owner": v.owner_name,
                    "count": count,
                    "inbox_url": format!("/inbox?{}&view={}", v.query, v.saved_view_id),
                })
            })
            .collect(),
    )))
}

/// The agent behind a valid bearer token, with the mailboxes they may see.
pub struct ApiAgent {
    pub agent: auth::Agent,
    /// `None` = every mailbox.
    pub visible: Option<Vec<i64>>,
}

impl ApiAgent {
    /// This agent as the actor of a ticket change.
    pub fn actor(&self) -> tickets::timeline::Actor {
        tickets::timeline::Actor::Agent(self.agent.agent_id)
    }
}

impl FromRequestParts<AppState> for ApiAgent {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AppError::Unauthorized)?;
        let agent = auth::agent_for_token(&state.pool, token)
            .await?
            .ok_or(AppError::Unauthorized)?;
        let visible = auth::visible_mailboxes(&state.pool, &agent).await?;
        // the request's span (see telemetry::metrics::track_requests) names the agent
        tracing::Span::current().record("agent.id", agent.agent_id);
        Ok(ApiAgent { agent, visible })
    }
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    mailbox: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

async fn list_tickets(
    State(state): State<AppState>,
    who: ApiAgent,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let limit = match non_empty(q.limit) {
        None => 50,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=200).contains(l))
            .ok_or_else(|| AppError::BadRequest(format!("limit must be 1..200, got {l:?}")))?,
    };
    let filter = TicketFilter {
        status: non_empty(q.status).map(|s| s.parse()).transpose()?,
        mailbox: non_empty(q.mailbox),
        limit,
        cursor: non_empty(q.cursor),
    };
    let (tickets, next_cursor) =
        tickets::list_tickets(&state.pool, who.visible.as_deref(), &filter).await?;
    Ok(Json(
        serde_json::json!({ "tickets": tickets, "next_cursor": next_cursor }),
    ))
}

async fn show_ticket(
    State(state): State<AppState>,
    who: ApiAgent,
    PathNumber(number): PathNumber,
) -> Result<Json<tickets::TicketDetail>, AppError> {
    tickets::get_ticket(&state.pool, who.visible.as_deref(), number)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

pub(super) fn download(filename: &str, content_type: &str, bytes: Vec<u8>) -> Response {
    // RFC 6266 filename* keeps non-ASCII names intact; the plain form is an ASCII fallback.
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(filename, percent_encoding::NON_ALPHANUMERIC);
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_string(),
            ),
        ],
        bytes,
    )
        .into_response()
}

async fn download_attachment(
    State(state): State<AppState>,
    who: ApiAgent,
    PathNumber(id): PathNumber,
) -> Result<Response, AppError> {
    let a = tickets::get_attachment(&state.pool, who.visible.as_deref(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(download(&a.filename, &a.content_type, a.content))
}

async fn list_quarantine(
    State(state): State<AppState>,
    who: ApiAgent,
) -> Result<Json<serde_json::Value>, AppError> {
    let entries = tickets::list_quarantine(&state.pool, who.visible.as_deref()).await?;
    let entries: Vec<_> = entries
        .into_iter()
        .map(|e| {
            let mut v = serde_json::to_value(&e).unwrap_or_default();
            v["raw_url"] = format!("/api/v1/quarantine/{}/raw", e.id).into();
            v
        })
        .collect();
    Ok(Json(serde_json::json!({ "quarantine": entries })))
}

async fn download_quarantined(
    State(state): State<AppState>,
    who: ApiAgent,
    PathNumber(id): PathNumber,
) -> Result<Response, AppError> {
    let raw = tickets::quarantine_raw(&state.pool, who.visible.as_deref(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(download(
        &format!("quarantine-{id}.eml"),
        "message/rfc822",
        raw,
    ))
}

/// A JSON body that failed to parse is a 400 with the reason, not axum's plain-text 422.
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<AppState> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(
        req: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(e) => Err(AppError::BadRequest(e.body_text())),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    text: String,
    /// Extra Cc addresses; the customer and the ticket's other participants are always included.
    #[serde(default)]
    cc: Option<Vec<String>>,
    /// `pending`, `closed`, ... after sending.
    #[serde(default)]
    status_after: Option<String>,
    /// The newest message or note id the client has seen (send-time guard).
    #[serde(default)]
    seen_message_id: Option<i64>,
    /// `false` with `status_after: "closed"`: close without a CSAT survey.
    #[serde(default)]
    survey: Option<bool>,
}

/// `POST /api/v1/tickets/{number}/replies`: queues a reply to the customer, reply-all by
/// default; answers 202 with the message id (`delivery` shows its progress on the ticket).
async fn post_reply(
    State(state): State<AppState>,
    who: ApiAgent,
    PathNumber(number): PathNumber,
    JsonBody(body): JsonBody<ReplyBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let ticket = tickets::get_ticket(&state.pool, who.visible.as_deref(), number)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut recipients = Recipients::reply_all(&ticket);
    recipients.add_cc(&body.cc.unwrap_or_default())?;
    let input = ReplyInput {
        to: recipients.to,
        cc: recipients.cc,
        text: body.text,
        status_after: match body.status_after.as_deref() {
            None | Some("" | "keep") => None,
            Some(s) => Some(s.parse()?),
        },
        attachments: Vec::new(),
        seen_message_id: body.seen_message_id,
        without_survey: body.survey == Some(false),
        survey_url: Some(state.config.public_url.clone()),
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
        Ok(id) => Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "id": id, "delivery": {"state": "queued", "error": null} })),
        )),
        Err(reply::ReplyError::Stale(ids)) => {
            // 409 with what the client has not seen; nothing was sent.
            let newer: Vec<_> = ticket
                .messages
                .into_iter()
                .filter(|m| ids.contains(&m.id))
                .collect();
            let newer = if newer.len() == ids.len() {
                newer
            } else {
                tickets::get_ticket(&state.pool, who.visible.as_deref(), number)
                    .await?
                    .map(|t| {
                        t.messages
                            .into_iter()
                            .filter(|m| ids.contains(&m.id))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            Ok((
                StatusCode::CONFLICT,
                Json(
                    serde_json::json!({ "error": "the ticket has new messages since the one you have seen; nothing was sent", "newer": newer }),
                ),
            ))
        }
        Err(e) => Err(ActionError::from(e).into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    text: String,
}

/// `POST /api/v1/tickets/{number}/notes`: an internal note. 201 with its `id`, the addresses
/// of the agents `notified`, and `unresolved_mentions`: each `@handle` that reached nobody,
/// with a `reason` (`no_such_agent`, or `no_access` and the `agent` it names).
async fn post_note(
    State(state): State<AppState>,
    who: ApiAgent,
    PathNumber(number): PathNumber,
    JsonBody(body): JsonBody<NoteBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let note = actions::add_note(
        &state.pool,
        who.agent.agent_id,
        who.visible.as_deref(),
        number,
        &body.text,
        &state.config.public_url,
    )
    .await?;
    let notified: Vec<&str> = note.notified.iter().map(|m| m.email.as_str()).collect();
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "id": note.id,
            "notified": notified,
            "unresolved_mentions": note.unresolved,
        })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    status: Option<String>,
    priority: Option<String>,
    /// An agent's email, or null to unassign; absent leaves the assignee alone.
    #[serde(default, deserialize_with = "some_or_null")]
    assignee: Option<Option<String>>,
    tags: Option<Vec<String>>,
    /// An SLA policy id, or null for none; absent leaves the policy alone.
    #[serde(default, deserialize_with = "some_or_null")]
    sla_policy: Option<Option<i64>>,
    /// `false` with `"status": "closed"`: close without a CSAT survey.
    survey: Option<bool>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub(super) fn some_or_null<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// `PATCH /api/v1/tickets/{number}`: changes status, priority, assignee, tags and the SLA
/// policy (`"sla_policy": id | null`); `"survey": false` with a close closes without a CSAT
/// survey. Answers with the updated ticket.
async fn patch_ticket(
    State(state): State<AppState>,
    who: ApiAgent,
    PathNumber(number): PathNumber,
    JsonBody(body): JsonBody<PatchBody>,
) -> Result<Json<tickets::TicketDetail>, AppError> {
    let visible = who.visible.as_deref();
    let me = who.actor();
    // A ticket the caller cannot see is a 404 whatever the body says (so that the body's
    // errors tell nothing, such as which agent e-mails exist, about tickets they cannot see).
    tickets::visible_mailbox_of(&state.pool, visible, number)
        .await?
        .ok_or(AppError::NotFound)?;
    // Validate everything before changing anything...
    let status: Option<TicketStatus> = body.status.as_deref().map(str::parse).transpose()?;
    let priority: Option<Priority> = body.priority.as_deref().map(str::parse).transpose()?;
    let assignee: Option<Option<i64>> = match &body.assignee {
        None => None,
        Some(None) => Some(None),
        Some(Some(email)) => {
            let a = auth::find_agent_by_email(&state.pool, email)
                .await?
                .ok_or_else(|| AppError::BadRequest(format!("no agent with email {email}")))?;
            if !a.active {
                return Err(AppError::BadRequest(format!(
                    "agent {email} is disabled and cannot be assigned tickets"
                )));
            }
            Some(Some(a.agent_id))
        }
    };
    // ...then apply everything in one transaction: a change refused on the way (an assignee
    // who cannot see the mailbox, a bad tag) leaves the ticket as it was.
    let mut tx = state.pool.begin().await?;
    if let Some(status) = status {
        actions::set_status(&mut tx, me, visible, number, status, None).await?;
        if status == TicketStatus::Closed && body.survey == Some(false) {
            crate::csat::survey::withdraw(&mut tx, number).await?;
        }
    }
    if let Some(priority) = priority {
        actions::set_priority_in(&mut tx, me, visible, number, priority).await?;
    }
    if let Some(assignee) = assignee {
        actions::assign_in(&mut tx, me, visible, number, assignee).await?;
    }
    if let Some(tags) = &body.tags {
        actions::set_tags_in(&mut tx, me, visible, number, tags).await?;
    }
    if let Some(policy) = body.sla_policy {
        actions::set_sla_policy_in(&mut tx, me, visible, number, policy).await?;
    }
    tx.commit().await?;
    tickets::get_ticket(&state.pool, visible, number)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    limit: Option<i64>,
}

/// `GET /api/v1/search?q=`: `{"results": [{"number", "subject", "status", "customer",
/// "last_message_at", "excerpt"}]}`, best match first; matches in `excerpt` are wrapped in `**`.
async fn search_tickets(
    State(state): State<AppState>,
    who: ApiAgent,
    Query(q): Query<SearchQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    if q.q.trim().is_empty() {
        return Err(AppError::BadRequest("q is required".into()));
    }
    let hits = crate::search::search(
        &state.pool,
        who.visible.as_deref(),
        &q.q,
        q.limit.unwrap_or(50),
    )
    .await?;
    let results: Vec<serde_json::Value> = hits
        .into_iter()
        .map(|h| {
            serde_json::json!({
                "number": h.number,
                "subject": h.subject,
                "status": h.status,
                "customer": {"email": h.customer_email, "name": h.customer_name},
                "last_message_at": h.last_message_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "excerpt": crate::search::excerpt_text(&h.excerpt),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "results": results })))
}
