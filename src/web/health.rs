//! `GET /healthz`: database reachability and the state of every mailbox poller.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use crate::mailboxes;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// 200 with `{"status": "ok"|"degraded", "database": "ok", "mailboxes": [...]}` when the
/// database answers (a failing mailbox is `degraded`, still 200); 503 when it does not.
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    match mailboxes::health_report(&state.pool).await {
        Ok(rows) => {
            let degraded = rows.iter().any(|r| r.consecutive_failures.unwrap_or(0) > 0);
            let body = serde_json::json!({
                "status": if degraded { "degraded" } else { "ok" },
                "database": "ok",
                "mailboxes": rows,
            });
            (StatusCode::OK, Json(body))
        }
        Err(e) => {
            tracing::error!(error = %e, "healthz: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "down", "database": "unreachable"})),
            )
        }
    }
}
