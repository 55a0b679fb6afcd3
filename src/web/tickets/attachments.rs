//! Attachments of ticket messages, for signed-in agents.

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
pub(super) struct AttachmentQuery {
    inline: Option<String>,
}

/// An attachment for a signed-in agent. Images may be shown inline (`?inline=1`); anything
/// else is always a download, never rendered by the browser in our origin.
pub(super) async fn download_attachment(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(id): PathNumber,
    Query(q): Query<AttachmentQuery>,
) -> Result<Response, PageError> {
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
    Ok(crate::web::api::download(
        &a.filename,
        &a.content_type,
        a.content,
    ))
}
