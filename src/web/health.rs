//! `GET /healthz`: database reachability and the state of every mailbox poller.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::api::ApiAgent;
use super::session::CurrentAgent;
use crate::auth::Role;
use crate::mailboxes;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// 200 with `{"status": "ok"|"degraded"}` when the database answers (a failing mailbox is
/// `degraded`, still 200); 503 with `{"status": "down"}` when it does not. Only an admin
/// (signed-in session or API token) also gets the details: `"database"` and `"mailboxes":
/// [...]`, whose addresses, node names and error strings describe the IMAP setup.
async fn healthz(
    State(state): State<AppState>,
    req: Request,
) -> (StatusCode, Json<serde_json::Value>) {
    let (mut parts, _) = req.into_parts();
    let details = is_admin(&mut parts, &state).await;
    match mailboxes::health_report(&state.pool).await {
        Ok(rows) => {
            let degraded = rows.iter().any(|r| r.consecutive_failures.unwrap_or(0) > 0);
            let status = if degraded { "degraded" } else { "ok" };
            let body = if details {
                serde_json::json!({ "status": status, "database": "ok", "mailboxes": rows })
            } else {
                serde_json::json!({ "status": status })
            };
            (StatusCode::OK, Json(body))
        }
        Err(e) => {
            tracing::error!(error = %e, "healthz: database unreachable");
            let body = if details {
                serde_json::json!({"status": "down", "database": "unreachable"})
            } else {
                serde_json::json!({"status": "down"})
            };
            (StatusCode::SERVICE_UNAVAILABLE, body.into())
        }
    }
}

/// Whether the caller is an admin: by `Authorization: Bearer` token when one is sent, else by
/// the session. Anything that fails (no session, a bad token, no database) is anonymous.
async fn is_admin(parts: &mut Parts, state: &AppState) -> bool {
    if parts.headers.contains_key(header::AUTHORIZATION) {
        ApiAgent::from_request_parts(parts, state)
            .await
            .is_ok_and(|a| a.agent.role == Role::Admin)
    } else {
        CurrentAgent::from_request_parts(parts, state)
            .await
            .is_ok_and(|a| a.agent.role == Role::Admin)
    }
}
