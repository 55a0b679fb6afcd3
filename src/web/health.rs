//! `GET /healthz`: database reachability and the state of every mailbox poller.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use time::OffsetDateTime;

use super::AppState;

#[derive(Serialize, sqlx::FromRow)]
struct MailboxHealth {
    address: String,
    polled_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    last_ok_at: Option<OffsetDateTime>,
    last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    last_error_at: Option<OffsetDateTime>,
    consecutive_failures: Option<i32>,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// 200 with `{"status": "ok"|"degraded", "database": "ok", "mailboxes": [...]}` when the
/// database answers (a failing mailbox is `degraded`, still 200); 503 when it does not.
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let rows: Result<Vec<MailboxHealth>, _> = sqlx::query_as(
        "select m.address, h.polled_by, h.last_ok_at, h.last_error, h.last_error_at, h.consecutive_failures
         from mailbox m left join mailbox_health h on h.mailbox_id = m.mailbox_id order by m.mailbox_id",
    )
    .fetch_all(&state.pool)
    .await;
    match rows {
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
