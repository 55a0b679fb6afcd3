//! Admin API: the audit log. `GET /api/v1/audit?limit=&cursor=&actor=` →
//! `{"events": [{"id", "at", "actor", "action", "target", "before", "after"}], "next_cursor"}`,
//! newest first; `at` is RFC 3339 UTC; `before` / `after` hold the changed fields (null for a
//! creation's before or a deletion's after); `next_cursor` is null on the last page. `limit`
//! is 1..=500 (default 50); `cursor` is a previous `next_cursor`; `actor` an email, `cli` or
//! `system`. A bad `limit` or `cursor` is a 400 naming it. Admin token only.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiError;
use super::admin::ApiAdmin;
use crate::audit::{self, AuditFilter};
use crate::web::{AppError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// 1..=500 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// A previous page's `next_cursor`.
    cursor: Option<String>,
    /// An agent's email, `cli` or `system`.
    actor: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// `{"id", "at", "actor", "action", "target", "before", "after"}` each.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<audit::AuditEvent>,
    /// The next page's `cursor`; null on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/audit`.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, body = ApiError, description = "A bad `limit` or `cursor`."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn list(
    State(state): State<AppState>,
    _admin: ApiAdmin,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
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
    Ok(Json(AuditPage {
        events,
        next_cursor: next_cursor.map(|c| c.to_string()),
    }))
}
