//! A ticket: the conversation page and every control on it, plus message bodies, attachments
//! and notifications for signed-in agents. One file per job; this one holds the router and
//! what the handlers share (the ticket number in the path, the way back to the page).

mod attachments;
mod body;
mod merge;
mod notes;
mod notifications;
mod reply;
mod show;
mod sidebar;

use axum::Json;
use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::inbox::ListContext;
use super::page::PageError;
use super::{AppError, AppState};

/// The routes of the ticket page and its controls.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tickets/{number}", get(show::show_ticket))
        .route("/tickets/{number}/assign", post(sidebar::post_assign))
        .route("/tickets/{number}/status", post(sidebar::post_status))
        .route("/tickets/{number}/priority", post(sidebar::post_priority))
        .route(
            "/tickets/{number}/sla-policy",
            post(sidebar::post_sla_policy),
        )
        .route("/tickets/{number}/tags", post(sidebar::post_tags))
        .route("/tickets/{number}/spam", post(sidebar::post_spam))
        .route("/tickets/{number}/customer", post(sidebar::post_customer))
        .route("/tickets/{number}/notes", post(notes::post_note))
        .route(
            "/tickets/{number}/mentionable",
            get(notes::list_mentionable),
        )
        .route(
            "/tickets/{number}/reply",
            // Attachments up to 25 MB in all, like common mail servers accept. GET: the
            // address bar after a held reply; reloading it opens the ticket.
            post(reply::post_reply)
                .layer(axum::extract::DefaultBodyLimit::max(25 * 1024 * 1024))
                .get(reply::redirect_to_ticket),
        )
        .route("/tickets/{number}/merge", post(merge::post_merge))
        .route("/messages/{id}/retry", post(reply::post_retry))
        .route("/messages/{id}/body", get(body::show_message_body))
        .route("/attachments/{id}", get(attachments::download_attachment))
        .route("/notifications", get(notifications::show_notifications))
}

/// A ticket number or message id from the path; anything but an integer is a 404.
fn parse_number(s: &str) -> Result<i64, AppError> {
    s.parse().map_err(|_| AppError::NotFound)
}

/// The ticket page again, in the list it was opened from (`list`, as posted by its forms).
fn back(number: i64, list: &str) -> Redirect {
    Redirect::to(&ticket_href(number, list))
}

/// The ticket page's address, carrying `list` when it is a valid inbox list.
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
