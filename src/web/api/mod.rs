//! The JSON API under `/api/v1`, authenticated with `Authorization: Bearer TOKEN`. Ticket
//! routes are here; the admin routes (agents, teams, mailboxes, audit) are in their own
//! modules and take [`admin::ApiAdmin`]. Every route is registered with utoipa-axum's
//! `routes!`, so that the router and the OpenAPI document ([`openapi`]) come from the same code.

mod admin;
mod agents;
pub(crate) mod analytics;
mod audit;
mod customers;
mod mailboxes;
pub mod openapi;
mod rules;
mod sla;
mod teams;
mod webhooks;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use openapi::ApiError;

use super::{AppError, AppState};
use crate::auth;
use crate::tickets::actions::{self, ActionError};
use crate::tickets::recipients::Recipients;
use crate::tickets::reply::{self, ReplyInput};
use crate::tickets::{self, Priority, TicketFilter, TicketStatus};
use crate::web::extract::PathNumber;

/// The API's routes, to be nested under `/api/v1`.
pub fn router() -> Router<AppState> {
    routes().split_for_parts().0
}

/// The routes with their documentation (see [`openapi::document`]).
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(openapi::get_openapi))
        .routes(routes!(list_tickets))
        .routes(routes!(show_ticket, patch_ticket))
        .routes(routes!(download_attachment))
        .routes(routes!(list_quarantine))
        .routes(routes!(search_tickets))
        .routes(routes!(download_quarantined))
        .routes(routes!(post_reply))
        .routes(routes!(post_note))
        .routes(routes!(list_views))
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
#[utoipa::path(get, path = "/views", tag = "views",
    responses((status = 200, body = Vec<SavedViewJson>)))]
async fn list_views(
    State(state): State<AppState>,
    who: ApiAgent,
) -> Result<Json<Vec<SavedViewJson>>, AppError> {
    let views = tickets::saved_views::list_for(&state.pool, who.agent.agent_id).await?;
    let counts = super::views::counts(
        &state.pool,
        who.agent.agent_id,
        who.visible.as_deref(),
        &views,
    )
    .await?;
    Ok(Json(
        views
            .iter()
            .zip(counts)
            .map(|(v, count)| SavedViewJson {
                id: v.saved_view_id,
                name: v.name.clone(),
                query: v.query.clone(),
                shared_with: v.visibility.clone(),
                team: v.team_name.clone(),
                owner: v.owner_name.clone(),
                count,
                inbox_url: format!("/inbox?{}&view={}", v.query, v.saved_view_id),
            })
            .collect(),
    ))
}

/// One saved view of `GET /api/v1/views`.
#[derive(Serialize, ToSchema)]
pub struct SavedViewJson {
    pub id: i64,
    pub name: String,
    /// The inbox query string the view holds.
    pub query: String,
    /// `personal`, `team` or `everyone`.
    pub shared_with: String,
    /// The team's name when shared with a team.
    pub team: Option<String>,
    /// The owner's name.
    pub owner: String,
    /// Tickets still to do (not closed, not spam) in the caller's mailboxes; null for a view
    /// of Closed or Spam.
    pub count: Option<i64>,
    /// The path that opens the view.
    pub inbox_url: String,
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `open`, `pending`, `snoozed` or `closed`.
    status: Option<String>,
    /// A mailbox id or address.
    mailbox: Option<String>,
    /// Page size, 1..=200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of tickets, most recent message first.
#[derive(Serialize, ToSchema)]
pub struct TicketList {
    /// The next page's `cursor`, or null on the last page.
    pub next_cursor: Option<String>,
    pub tickets: Vec<tickets::TicketSummary>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// `GET /api/v1/tickets`: the tickets of the mailboxes the caller may see.
#[utoipa::path(get, path = "/tickets", tag = "tickets", params(ListQuery),
    responses(
        (status = 200, body = TicketList),
        (status = 400, body = ApiError, description = "A bad `status`, `mailbox`, `limit` or `cursor`."),
    ))]
async fn list_tickets(
    State(state): State<AppState>,
    who: ApiAgent,
    Query(q): Query<ListQuery>,
) -> Result<Json<TicketList>, AppError> {
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
    Ok(Json(TicketList {
        next_cursor,
        tickets,
    }))
}

/// `GET /api/v1/tickets/{number}`: the ticket with its messages, timeline and SLA clocks.
#[utoipa::path(get, path = "/tickets/{number}", tag = "tickets",
    params(("number" = i64, Path, description = "The ticket number.")),
    responses(
        (status = 200, body = tickets::TicketDetail),
        (status = 404, body = ApiError, description = "No such ticket, or not in a mailbox the caller may see."),
    ))]
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

/// `GET /api/v1/attachments/{id}`: an attachment's bytes, as a download.
#[utoipa::path(get, path = "/attachments/{id}", tag = "tickets",
    params(("id" = i64, Path, description = "The attachment id (`attachments[].id` of a message).")),
    responses(
        (status = 200, description = "The bytes, with the attachment's content type.", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = ApiError, description = "No such attachment, or not in a mailbox the caller may see."),
    ))]
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

/// Quarantined mail: what ingest could not turn into a ticket.
#[derive(Serialize, ToSchema)]
pub struct QuarantineList {
    /// Newest first, at most 500.
    pub quarantine: Vec<QuarantinedMail>,
}

/// A quarantined mail and where to download it.
#[derive(Serialize, ToSchema)]
pub struct QuarantinedMail {
    #[serde(flatten)]
    pub entry: tickets::QuarantineEntry,
    /// `/api/v1/quarantine/{id}/raw`.
    pub raw_url: String,
}

/// `GET /api/v1/quarantine`: the quarantined mail of the mailboxes the caller may see.
#[utoipa::path(get, path = "/quarantine", tag = "tickets",
    responses((status = 200, body = QuarantineList)))]
async fn list_quarantine(
    State(state): State<AppState>,
    who: ApiAgent,
) -> Result<Json<QuarantineList>, AppError> {
    let entries = tickets::list_quarantine(&state.pool, who.visible.as_deref()).await?;
    let quarantine = entries
        .into_iter()
        .map(|entry| QuarantinedMail {
            raw_url: format!("/api/v1/quarantine/{}/raw", entry.id),
            entry,
        })
        .collect();
    Ok(Json(QuarantineList { quarantine }))
}

/// `GET /api/v1/quarantine/{id}/raw`: the quarantined mail as it arrived (`message/rfc822`).
#[utoipa::path(get, path = "/quarantine/{id}/raw", tag = "tickets",
    params(("id" = i64, Path, description = "The quarantine entry's id.")),
    responses(
        (status = 200, description = "The raw mail.", content_type = "message/rfc822", body = Vec<u8>),
        (status = 404, body = ApiError, description = "No such entry, or not in a mailbox the caller may see."),
    ))]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplyBody {
    /// The reply, plain text.
    text: String,
    /// Extra Cc addresses; the customer and the ticket's other participants are always included.
    #[serde(default)]
    cc: Option<Vec<String>>,
    /// `keep` (default), `open`, `pending`, `snoozed` or `closed` after sending.
    #[serde(default)]
    status_after: Option<String>,
    /// The newest message or note id the client has seen (send-time guard).
    #[serde(default)]
    seen_message_id: Option<i64>,
    /// `false` with `status_after: "closed"`: close without a CSAT survey.
    #[serde(default)]
    survey: Option<bool>,
}

/// A reply queued for sending.
#[derive(Serialize, ToSchema)]
pub struct ReplyQueued {
    /// Where sending stands; the ticket's message shows its progress.
    pub delivery: ReplyDelivery,
    /// The new message's id.
    pub id: i64,
}

/// A reply's delivery state when it was queued.
#[derive(Serialize, ToSchema)]
pub struct ReplyDelivery {
    /// Always null here.
    pub error: Option<String>,
    /// `queued`.
    pub state: String,
}

/// Nothing was sent: the ticket has messages the client has not seen (`seen_message_id`).
#[derive(Serialize, ToSchema)]
pub struct ReplyConflict {
    pub error: String,
    /// The messages newer than `seen_message_id`.
    pub newer: Vec<tickets::MessageView>,
}

/// `POST /api/v1/tickets/{number}/replies`: queues a reply to the customer, reply-all by
/// default; answers 202 with the message id (`delivery` shows its progress on the ticket).
#[utoipa::path(post, path = "/tickets/{number}/replies", tag = "tickets",
    params(("number" = i64, Path, description = "The ticket number.")),
    request_body = ReplyBody,
    responses(
        (status = 202, body = ReplyQueued, description = "Queued for sending."),
        (status = 400, body = ApiError, description = "A bad body, Cc address or `status_after`."),
        (status = 404, body = ApiError, description = "No such ticket, or not in a mailbox the caller may see."),
        (status = 409, body = ReplyConflict, description = "Newer messages than `seen_message_id`; nothing was sent."),
    ))]
async fn post_reply(
    State(state): State<AppState>,
    who: ApiAgent,
    PathNumber(number): PathNumber,
    JsonBody(body): JsonBody<ReplyBody>,
) -> Result<Response, AppError> {
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
            Json(ReplyQueued {
                delivery: ReplyDelivery {
                    error: None,
                    state: "queued".into(),
                },
                id,
            }),
        )
            .into_response()),
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
                Json(ReplyConflict {
                    error:
                        "the ticket has new messages since the one you have seen; nothing was sent"
                            .into(),
                    newer,
                }),
            )
                .into_response())
        }
        Err(e) => Err(ActionError::from(e).into()),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    /// The note, plain text; `@handle` mentions notify agents who see the ticket.
    text: String,
}

/// A note added.
#[derive(Serialize, ToSchema)]
pub struct NoteCreated {
    /// The note's message id.
    pub id: i64,
    /// The addresses of the agents notified of a mention.
    pub notified: Vec<String>,
    /// Each `@handle` that reached nobody.
    pub unresolved_mentions: Vec<crate::tickets::mentions::UnresolvedMention>,
}

/// `POST /api/v1/tickets/{number}/notes`: an internal note. 201 with its `id`, the addresses
/// of the agents `notified`, and `unresolved_mentions`: each `@handle` that reached nobody,
/// with a `reason` (`no_such_agent`, or `no_access` and the `agent` it names).
#[utoipa::path(post, path = "/tickets/{number}/notes", tag = "tickets",
    params(("number" = i64, Path, description = "The ticket number.")),
    request_body = NoteBody,
    responses(
        (status = 201, body = NoteCreated),
        (status = 400, body = ApiError, description = "A bad body."),
        (status = 404, body = ApiError, description = "No such ticket, or not in a mailbox the caller may see."),
    ))]
async fn post_note(
    State(state): State<AppState>,
    who: ApiAgent,
    PathNumber(number): PathNumber,
    JsonBody(body): JsonBody<NoteBody>,
) -> Result<(StatusCode, Json<NoteCreated>), AppError> {
    let note = actions::add_note(
        &state.pool,
        who.agent.agent_id,
        who.visible.as_deref(),
        number,
        &body.text,
        &state.config.public_url,
    )
    .await?;
    let notified = note.notified.iter().map(|m| m.email.clone()).collect();
    Ok((
        StatusCode::CREATED,
        Json(NoteCreated {
            id: note.id,
            notified,
            unresolved_mentions: note.unresolved,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TicketPatch {
    /// `open`, `pending`, `snoozed` or `closed`.
    status: Option<String>,
    /// `low`, `normal`, `high` or `urgent`.
    priority: Option<String>,
    /// An agent's email, or null to unassign; absent leaves the assignee alone.
    #[serde(default, deserialize_with = "some_or_null")]
    #[schema(value_type = Option<String>)]
    assignee: Option<Option<String>>,
    /// The ticket's tags (replaces them).
    tags: Option<Vec<String>>,
    /// An SLA policy id, or null for none; absent leaves the policy alone.
    #[serde(default, deserialize_with = "some_or_null")]
    #[schema(value_type = Option<i64>)]
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
#[utoipa::path(patch, path = "/tickets/{number}", tag = "tickets",
    params(("number" = i64, Path, description = "The ticket number.")),
    request_body = TicketPatch,
    responses(
        (status = 200, body = tickets::TicketDetail),
        (status = 400, body = ApiError, description = "A bad body, value or assignee; nothing was changed."),
        (status = 404, body = ApiError, description = "No such ticket, or not in a mailbox the caller may see."),
    ))]
async fn patch_ticket(
    State(state): State<AppState>,
    who: ApiAgent,
    PathNumber(number): PathNumber,
    JsonBody(body): JsonBody<TicketPatch>,
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// The search, with filters such as `status:open` (required).
    #[serde(default)]
    q: String,
    /// At most this many results (default 50).
    limit: Option<i64>,
}

/// Search results, best match first.
#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    pub results: Vec<SearchHit>,
}

/// A ticket matching a search.
#[derive(Serialize, ToSchema)]
pub struct SearchHit {
    pub customer: SearchCustomer,
    /// Where it matched; matches are wrapped in `**`.
    pub excerpt: String,
    /// RFC 3339 UTC.
    pub last_message_at: String,
    pub number: i64,
    #[schema(value_type = TicketStatus)]
    pub status: String,
    pub subject: String,
}

/// The customer of a search hit.
#[derive(Serialize, ToSchema)]
pub struct SearchCustomer {
    pub email: Option<String>,
    pub name: Option<String>,
}

/// `GET /api/v1/search?q=`: `{"results": [{"number", "subject", "status", "customer",
/// "last_message_at", "excerpt"}]}`, best match first; matches in `excerpt` are wrapped in `**`.
#[utoipa::path(get, path = "/search", tag = "tickets", params(SearchQuery),
    responses(
        (status = 200, body = SearchResults),
        (status = 400, body = ApiError, description = "No `q`, or a bad filter in it."),
    ))]
async fn search_tickets(
    State(state): State<AppState>,
    who: ApiAgent,
    Query(q): Query<SearchQuery>,
) -> Result<Json<SearchResults>, AppError> {
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
    let results = hits
        .into_iter()
        .map(|h| SearchHit {
            customer: SearchCustomer {
                email: h.customer_email,
                name: h.customer_name,
            },
            excerpt: crate::search::excerpt_text(&h.excerpt),
            last_message_at: h
                .last_message_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            number: h.number,
            status: h.status,
            subject: h.subject,
        })
        .collect();
    Ok(Json(SearchResults { results }))
}
