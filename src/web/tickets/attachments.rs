//! Attachments of ticket messages, for signed-in agents.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde::Deserialize;

use crate::tickets;
use crate::web::extract::PathNumber;
use crate::web::page::PageError;
use crate::web::session::CurrentAgent;
use crate::web::{AppError, AppState};

#[derive(Deserialize)]
pub(super) struct AttachmentQuery {
    inline: Option<String>,
}

/// Images a browser shows by itself, safely (no SVG: it can hold script).
const SAFE_IMAGES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// A thumbnail of this attachment can be shown (a safe image).
pub(super) fn is_safe_image(content_type: &str) -> bool {
    SAFE_IMAGES.contains(&content_type)
}

/// The browser may open this attachment in its own viewer (`?inline=1`): safe images and PDF.
pub(super) fn is_viewable(content_type: &str) -> bool {
    is_safe_image(content_type) || content_type == "application/pdf"
}

/// An attachment for a signed-in agent. Safe images and PDFs open in the browser's viewer
/// with `?inline=1` (their own type, `nosniff`, and a CSP sandbox: no script, no same-origin
/// access even if a viewer ran one); anything else is always a download, never rendered by
/// the browser in our origin.
pub(super) async fn download_attachment(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(id): PathNumber,
    Query(q): Query<AttachmentQuery>,
) -> Result<Response, PageError> {
    let a = tickets::get_attachment(&state.pool, who.visible.as_deref(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut resp = crate::web::api::download(&a.filename, &a.content_type, a.content);
    if q.inline.as_deref() == Some("1") && is_viewable(&a.content_type) {
        let h = resp.headers_mut();
        if let Some(d) = h
            .get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("attachment"))
            .and_then(|rest| HeaderValue::from_str(&format!("inline{rest}")).ok())
        {
            h.insert(header::CONTENT_DISPOSITION, d);
        }
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
            ),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=3600"),
        );
    }
    Ok(resp)
}
