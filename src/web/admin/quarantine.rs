//! Admin console: quarantine, the mail that could not become a ticket. `GET /admin/quarantine`
//! lists it (reason, mailbox, received, size); `GET /admin/quarantine/{id}/raw` downloads the
//! mail as `.eml`; `POST /admin/quarantine/{id}/retry` re-parses and stores it with the current
//! code (`ingest::quarantine::retry`); `POST /admin/quarantine/{id}/delete` deletes it.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::AdminAgent;
use crate::auth::Agent;
use crate::ingest::quarantine::{self, QuarantineError, RetryOutcome};
use crate::ingest::store::StoreOutcome;
use crate::timezone::AgentTimeZone;
use crate::web::extract::PathNumber;
use crate::web::page::{PageError, render};
use crate::web::{AppError, AppState, fmt};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/quarantine", get(list))
        .route("/admin/quarantine/{id}/raw", get(raw))
        .route("/admin/quarantine/{id}/retry", post(retry))
        .route("/admin/quarantine/{id}/delete", post(delete))
}

/// One quarantined mail as the page shows it.
struct Row {
    id: i64,
    mailbox: String,
    reason: String,
    /// In the viewer's time zone.
    received: String,
    size: String,
}

#[derive(Template)]
#[template(path = "admin/quarantine.html")]
struct QuarantinePage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    rows: Vec<Row>,
    notice: Option<String>,
    /// A "try again" that failed again: the mail's id and the new reason.
    failed: Option<(i64, String)>,
}

#[derive(Deserialize)]
struct DoneQuery {
    deleted: Option<i64>,
    ticket: Option<i64>,
    stored: Option<String>,
}

fn size(bytes: i32) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", f64::from(b) / 1024.0),
        b => format!("{:.1} MB", f64::from(b) / (1024.0 * 1024.0)),
    }
}

async fn page(
    state: &AppState,
    who: AdminAgent,
    notice: Option<String>,
    failed: Option<(i64, String)>,
) -> Result<Response, PageError> {
    let tz = AgentTimeZone::from_stored(&who.agent.time_zone);
    let rows = crate::tickets::list_quarantine(&state.pool, None)
        .await?
        .into_iter()
        .map(|e| Row {
            id: e.id,
            mailbox: e.mailbox.0.address.clone(),
            reason: e.reason,
            received: fmt::datetime(e.created_at, &tz),
            size: size(e.size),
        })
        .collect();
    let status = if failed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let html = render(&QuarantinePage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "quarantine",
        rows,
        notice,
        failed,
    })?;
    Ok((status, html).into_response())
}

async fn list(
    State(state): State<AppState>,
    who: AdminAgent,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let notice = match (q.deleted, q.ticket, q.stored.as_deref()) {
        (Some(id), _, _) => Some(format!("Quarantined mail {id} deleted.")),
        (_, Some(t), _) => Some(format!("The mail is now on ticket #{t}.")),
        (_, _, Some("no_ticket")) => {
            Some("The mail was stored without a ticket (automated or from our own address).".into())
        }
        (_, _, Some("duplicate")) => Some("The mail had been stored already.".into()),
        _ => None,
    };
    page(&state, who, notice, None).await
}

async fn raw(
    State(state): State<AppState>,
    _who: AdminAgent,
    PathNumber(id): PathNumber,
) -> Result<Response, PageError> {
    let bytes = crate::tickets::quarantine_raw(&state.pool, None, id)
        .await?
        .ok_or(PageError(AppError::NotFound))?;
    Ok(crate::web::api::download(
        &format!("quarantine-{id}.eml"),
        "message/rfc822",
        bytes,
    ))
}

fn not_found(e: QuarantineError) -> PageError {
    match e {
        QuarantineError::NotFound => PageError(AppError::NotFound),
        QuarantineError::Db(e) => e.into(),
    }
}

async fn retry(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
) -> Result<Response, PageError> {
    let outcome = quarantine::retry(&state.pool, &who.actor(), id)
        .await
        .map_err(not_found)?;
    let to = match outcome {
        RetryOutcome::StillFailing(reason) => {
            return page(&state, who, None, Some((id, reason))).await;
        }
        RetryOutcome::Stored(StoreOutcome::NewTicket(t) | StoreOutcome::Threaded(t)) => {
            format!("/admin/quarantine?ticket={t}")
        }
        RetryOutcome::Stored(StoreOutcome::Duplicate) => {
            "/admin/quarantine?stored=duplicate".into()
        }
        RetryOutcome::Stored(_) => "/admin/quarantine?stored=no_ticket".into(),
    };
    Ok(Redirect::to(&to).into_response())
}

async fn delete(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
) -> Result<Response, PageError> {
    quarantine::delete(&state.pool, &who.actor(), id)
        .await
        .map_err(not_found)?;
    Ok(Redirect::to(&format!("/admin/quarantine?deleted={id}")).into_response())
}
