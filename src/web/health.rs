//! `GET /healthz`: database reachability and the state of every mailbox poller.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use super::api::ApiAgent;
use super::session::CurrentAgent;
use crate::auth::Role;
use crate::mailboxes;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

/// `GET /metrics`: Prometheus text format ([`crate::telemetry::metrics`]) for an admin (API
/// token, or a signed-in admin); anyone else gets 403 and nothing. The separate listener of
/// `FRONTDESK_METRICS_BIND` serves it without a token ([`metrics_router`]).
async fn metrics(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    if !is_admin(&mut parts, &state).await {
        return (StatusCode::FORBIDDEN, "admin token required\n").into_response();
    }
    exposition(&state.pool).await
}

async fn exposition(pool: &sqlx::PgPool) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::telemetry::metrics::render(pool).await,
    )
        .into_response()
}

/// The router of the `FRONTDESK_METRICS_BIND` listener: `GET /metrics` only, without a token
/// (whoever can reach that address may read it).
pub fn metrics_router(pool: sqlx::PgPool) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(pool): State<sqlx::PgPool>| async move { exposition(&pool).await }),
        )
        .with_state(pool)
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
