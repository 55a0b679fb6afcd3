//! A message's HTML body, served to the sandboxed frame of the ticket page.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::ingest::sanitize::Remote;
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

/// The sanitised HTML of one message, as a document for a sandboxed iframe. Remote resources
/// are held in placeholders (nothing loads) and its own CSP allows no script at all and images
/// only from us (inline parts), unless the agent asked for remote images for this message
/// ("Show with remote images", `?images=1`).
pub(super) async fn show_message_body(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(id): PathNumber,
    Query(q): Query<BodyQuery>,
) -> Result<Response, PageError> {
    let remote = q.images.as_deref() == Some("1");
    let load = if remote { Remote::Load } else { Remote::Hold };
    let html = tickets::message_html(&state.pool, who.visible.as_deref(), id, load)
        .await?
        .ok_or(AppError::NotFound)?;
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
