//! Admin API: the audit log. `GET /api/v1/audit?limit=&cursor=&actor=` →
//! `{"events": [{"id", "at", "actor", "action", "target", "before", "after"}], "next_cursor"}`,
//! newest first; `at` is RFC 3339 UTC; `before` / `after` hold the changed fields (null for a
//! creation's before or a deletion's after); `next_cursor` is null on the last page. `limit`
//! is 1..=500 (default 50); `cursor` is a previous `next_cursor`; `actor` an email, `cli` or
//! `system`. A bad `limit` or `cursor` is a 400 naming it. Admin token only.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::admin::ApiAdmin;
use crate::audit::{self, AuditFilter};
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(list))
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<String>,
    cursor: Option<String>,
    actor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Query(q): Query<AuditQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let limit = match q.limit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => 50,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| AppError::BadRequest(format!("limit must be 1..500, got {l:?}")))?,
    };
    let before_id = match q.cursor.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(c) => Some(c.parse::<i64>().ok().filter(|c| *c > 0).ok_or_else(|| {
            AppError::BadRequest(format!(
                "cursor must be a next_cursor from an earlier page, got {c:?}"
            ))
        })?),
    };
    let filter = AuditFilter {
        actor: q
            .actor
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty()),
        action: None,
        before_id,
        limit,
    };
    let (events, next_cursor) = audit::list(&state.pool, &filter).await?;
    Ok(Json(
        serde_json::json!({ "events": events, "next_cursor": next_cursor.map(|c| c.to_string()) }),
    ))
}
