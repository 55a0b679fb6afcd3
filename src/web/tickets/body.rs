//! A message's HTML body, served to the sandboxed frame of the ticket page.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::tickets;
use crate::web::extract::PathNumber;
use crate::web::page::PageError;
use crate::web::session::CurrentAgent;
use crate::web::{AppError, AppState};

#[derive(Deserialize)]
pub(super) struct BodyQuery {
    /// `1` to let this message load remote images.
    images: Option<String>,
}

/// The sanitised HTML of one message, as a document for a sandboxed iframe. Its own CSP allows
/// no script at all and images only from us (inline parts) unless the agent asked for remote
/// images for this message.
pub(super) async fn show_message_body(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(id): PathNumber,
    Query(q): Query<BodyQuery>,
) -> Result<Response, PageError> {
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
