//! API: business-hours calendars and SLA policies (`crate::sla`). Writes need an admin's
//! token (403 otherwise); reads (and the two calculators) any signed-in token.
//!
//! - `GET /api/v1/calendars` → `{"calendars": [calendar]}`; `POST` (admin) `{"name",
//!   "time_zone", "hours": {"mon": ["09:00-12:00", "13:00-17:00"], ..., "sun": []},
//!   "holidays"?: ["2026-12-25"]}` → 201 calendar; `GET/PATCH/DELETE /api/v1/calendars/{id}`
//!   (PATCH takes any of the same fields; DELETE → 204, refused with 400 naming the policies
//!   while policies use it). Days absent from `hours` are closed; `"00:00-24:00"` is the
//!   whole day; `"22:00-06:00"` runs into the next day.
//! - `GET /api/v1/calendars/{id}/due?start=RFC3339&minutes=N` → `{"due_at": RFC3339 UTC}`
//!   (N whole business minutes > 0).
//! - `GET /api/v1/calendars/{id}/business-minutes?from=RFC3339&to=RFC3339` →
//!   `{"minutes": number}` (fractional when seconds are involved).
//! - `GET /api/v1/sla-policies` → `{"sla_policies": [policy]}`; `POST` (admin) `{"name",
//!   "calendar": id, "targets": {"urgent": {"first_response": 30, "next_response": 60,
//!   "resolution": 240}, "high": ..., "normal": ..., "low": ...}, "warning_percent"?: 25}` →
//!   201 policy; `GET/PATCH/DELETE /api/v1/sla-policies/{id}` (PATCH may give some targets
//!   only; `calendar` may also be the `{"id", ...}` object a policy shows; DELETE → 204).
//!
//! A calendar is `{"id", "name", "time_zone", "hours", "holidays", "created_at",
//! "updated_at"}`, a policy `{"id", "name", "calendar": {"id", "name"}, "targets",
//! "warning_percent", "created_at", "updated_at"}`; targets in business minutes. Bad input
//! → 400 naming the field or parameter; nothing is half-applied.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::admin::ApiAdmin;
use super::{ApiAgent, JsonBody};
use crate::sla::SlaError;
use crate::sla::calendar::DueError;
use crate::sla::calendars::{self, CalendarInput};
use crate::sla::policies::{self, PolicyInput};
use crate::web::extract::PathNumber;
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/calendars", get(list_calendars).post(create_calendar))
        .route(
            "/calendars/{id}",
            get(show_calendar)
                .patch(update_calendar)
                .delete(delete_calendar),
        )
        .route("/calendars/{id}/due", get(due))
        .route("/calendars/{id}/business-minutes", get(business_minutes))
        .route("/sla-policies", get(list_policies).post(create_policy))
        .route(
            "/sla-policies/{id}",
            get(show_policy).patch(update_policy).delete(delete_policy),
        )
}

impl From<SlaError> for AppError {
    fn from(e: SlaError) -> Self {
        match e {
            e @ SlaError::Invalid { .. } => AppError::BadRequest(e.to_string()),
            SlaError::InUse(m) => AppError::BadRequest(m),
            SlaError::NotFound => AppError::NotFound,
            SlaError::Db(e) => AppError::Db(e),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarBody {
    name: Option<String>,
    time_zone: Option<String>,
    hours: Option<BTreeMap<String, Vec<String>>>,
    holidays: Option<Vec<String>>,
}

impl From<CalendarBody> for CalendarInput {
    fn from(b: CalendarBody) -> CalendarInput {
        CalendarInput {
            name: b.name,
            time_zone: b.time_zone,
            hours: b.hours,
            holidays: b.holidays,
        }
    }
}

async fn list_calendars(
    State(state): State<AppState>,
    _who: ApiAgent,
) -> Result<Json<Value>, AppError> {
    let all = calendars::list(&state.pool).await?;
    let calendars: Vec<Value> = all.iter().map(|c| c.to_json()).collect();
    Ok(Json(json!({ "calendars": calendars })))
}

async fn show_calendar(
    State(state): State<AppState>,
    _who: ApiAgent,
    PathNumber(id): PathNumber,
) -> Result<Json<Value>, AppError> {
    let c = calendars::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(c.to_json()))
}

async fn create_calendar(
    State(state): State<AppState>,
    admin: ApiAdmin,
    JsonBody(body): JsonBody<CalendarBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let mut tx = state.pool.begin().await?;
    let c = calendars::create(&mut tx, &admin.actor(), body.into()).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(c.to_json())))
}

async fn update_calendar(
    State(state): State<AppState>,
    admin: ApiAdmin,
    PathNumber(id): PathNumber,
    JsonBody(body): JsonBody<CalendarBody>,
) -> Result<Json<Value>, AppError> {
    let mut tx = state.pool.begin().await?;
    let c = calendars::update(&mut tx, &admin.actor(), id, body.into()).await?;
    tx.commit().await?;
    Ok(Json(c.to_json()))
}

async fn delete_calendar(
    State(state): State<AppState>,
    admin: ApiAdmin,
    PathNumber(id): PathNumber,
) -> Result<StatusCode, AppError> {
    let mut tx = state.pool.begin().await?;
    calendars::delete(&mut tx, &admin.actor(), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A required RFC 3339 instant from the query, or a 400 naming the parameter.
fn instant(q: &HashMap<String, String>, name: &str) -> Result<jiff::Timestamp, AppError> {
    let text = q
        .get(name)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "{name}: required, an RFC 3339 time such as 2026-12-04T16:30:00+01:00"
            ))
        })?;
    text.parse::<jiff::Timestamp>().map_err(|_| {
        AppError::BadRequest(format!(
            "{name}: {text:?} is not an RFC 3339 time with an offset (e.g. 2026-12-04T16:30:00Z)"
        ))
    })
}

async fn due(
    State(state): State<AppState>,
    _who: ApiAgent,
    PathNumber(id): PathNumber,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    let c = calendars::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let start = instant(&q, "start")?;
    let minutes = q
        .get("minutes")
        .and_then(|m| m.trim().parse::<i64>().ok())
        .filter(|m| *m > 0 && *m <= 100 * 366 * 24 * 60)
        .ok_or_else(|| {
            AppError::BadRequest("minutes: must be a whole number of minutes > 0".into())
        })?;
    let due_at = c.calendar.due(start, minutes * 60).map_err(|e| match e {
        DueError::TargetNotPositive => {
            AppError::BadRequest("minutes: must be a whole number of minutes > 0".into())
        }
        DueError::BeyondHorizon => AppError::BadRequest(format!("minutes: {e}")),
    })?;
    Ok(Json(json!({ "due_at": due_at.to_string() })))
}

async fn business_minutes(
    State(state): State<AppState>,
    _who: ApiAgent,
    PathNumber(id): PathNumber,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AppError> {
    let c = calendars::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let from = instant(&q, "from")?;
    let to = instant(&q, "to")?;
    if to < from {
        return Err(AppError::BadRequest("to: must not be before from".into()));
    }
    if (to.as_second() - from.as_second()) > 100 * 366 * 86_400 {
        return Err(AppError::BadRequest(
            "to: at most 100 years after from".into(),
        ));
    }
    let minutes = c.calendar.business_seconds(from, to) / 60.0;
    Ok(Json(json!({ "minutes": minutes })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    name: Option<String>,
    /// A calendar id, or the `{"id", ...}` object a policy's JSON shows.
    calendar: Option<Value>,
    targets: Option<Value>,
    warning_percent: Option<Value>,
}

impl TryFrom<PolicyBody> for PolicyInput {
    type Error = AppError;

    fn try_from(b: PolicyBody) -> Result<PolicyInput, AppError> {
        let calendar = match b.calendar {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_i64()
                    .or_else(|| v.get("id").and_then(Value::as_i64))
                    .ok_or_else(|| {
                        AppError::BadRequest("calendar: expected a calendar id".into())
                    })?,
            ),
        };
        Ok(PolicyInput {
            name: b.name,
            calendar,
            targets: b.targets,
            warning_percent: b.warning_percent,
        })
    }
}

async fn list_policies(
    State(state): State<AppState>,
    _who: ApiAgent,
) -> Result<Json<Value>, AppError> {
    let all = policies::list(&state.pool).await?;
    let list: Vec<Value> = all.iter().map(|p| p.to_json()).collect();
    Ok(Json(json!({ "sla_policies": list })))
}

async fn show_policy(
    State(state): State<AppState>,
    _who: ApiAgent,
    PathNumber(id): PathNumber,
) -> Result<Json<Value>, AppError> {
    let p = policies::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(p.to_json()))
}

async fn create_policy(
    State(state): State<AppState>,
    admin: ApiAdmin,
    JsonBody(body): JsonBody<PolicyBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let mut tx = state.pool.begin().await?;
    let p = policies::create(&mut tx, &admin.actor(), body.try_into()?).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(p.to_json())))
}

async fn update_policy(
    State(state): State<AppState>,
    admin: ApiAdmin,
    PathNumber(id): PathNumber,
    JsonBody(body): JsonBody<PolicyBody>,
) -> Result<Json<Value>, AppError> {
    let mut tx = state.pool.begin().await?;
    let p = policies::update(&mut tx, &admin.actor(), id, body.try_into()?).await?;
    tx.commit().await?;
    Ok(Json(p.to_json()))
}

async fn delete_policy(
    State(state): State<AppState>,
    admin: ApiAdmin,
    PathNumber(id): PathNumber,
) -> Result<StatusCode, AppError> {
    let mut tx = state.pool.begin().await?;
    policies::delete(&mut tx, &admin.actor(), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
