//! The JSON read API under `/api/v1`, authenticated with `Authorization: Bearer TOKEN`.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::{AppError, AppState};
use crate::auth;
use crate::tickets::{self, TicketFilter};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tickets", get(list_tickets))
        .route("/tickets/{number}", get(show_ticket))
        .route("/attachments/{id}", get(download_attachment))
        .route("/quarantine", get(list_quarantine))
        .route("/quarantine/{id}/raw", get(download_quarantined))
}

/// The agent behind a valid bearer token, with the mailboxes they may see.
pub struct ApiAgent {
    /// `None` = every mailbox.
    pub visible: Option<Vec<i64>>,
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
        tracing::debug!(agent.id = agent.agent_id, "api request");
        Ok(ApiAgent { visible })
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
        status: non_empty(q.status),
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
    Path(number): Path<String>,
) -> Result<Json<tickets::TicketDetail>, AppError> {
    let number: i64 = number.parse().map_err(|_| AppError::NotFound)?;
    tickets::get_ticket(&state.pool, who.visible.as_deref(), number)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

fn download(filename: &str, content_type: &str, bytes: Vec<u8>) -> Response {
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
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
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
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let raw = tickets::quarantine_raw(&state.pool, who.visible.as_deref(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(download(
        &format!("quarantine-{id}.eml"),
        "message/rfc822",
        raw,
    ))
}
