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

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::ApiAdmin;
use super::{ApiAgent, ApiError, JsonBody};
use crate::sla::SlaError;
use crate::sla::calendar::DueError;
use crate::sla::calendars::{self, CalendarInput};
use crate::sla::policies::{self, PolicyInput};
use crate::web::extract::PathNumber;
use crate::web::{AppError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_calendars, create_calendar))
        .routes(routes!(show_calendar, update_calendar, delete_calendar))
        .routes(routes!(due))
        .routes(routes!(business_minutes))
        .routes(routes!(list_policies, create_policy))
        .routes(routes!(show_policy, update_policy, delete_policy))
}

/// A business-hours calendar.
#[derive(Serialize, ToSchema)]
pub struct Calendar {
    pub id: i64,
    pub name: String,
    /// IANA time zone name.
    pub time_zone: String,
    /// Open spans per weekday, all seven keyed `mon` … `sun` (closed days empty):
    /// `{"mon": ["09:00-12:00", "13:00-17:00"], ..., "sun": []}`.
    pub hours: BTreeMap<String, Vec<String>>,
    /// Closed local dates, `YYYY-MM-DD`.
    pub holidays: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
}

impl From<&calendars::StoredCalendar> for Calendar {
    fn from(c: &calendars::StoredCalendar) -> Calendar {
        let spec = c.calendar.spec();
        Calendar {
            id: c.id,
            name: c.name.clone(),
            time_zone: spec.time_zone,
            hours: spec.hours,
            holidays: spec.holidays,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Every calendar.
#[derive(Serialize, ToSchema)]
pub struct CalendarList {
    pub calendars: Vec<Calendar>,
}

/// An SLA policy: targets in business minutes per priority.
#[derive(Serialize, ToSchema)]
pub struct SlaPolicy {
    pub id: i64,
    pub name: String,
    /// The business-hours calendar its clocks run on.
    pub calendar: CalendarRef,
    pub targets: policies::PolicyTargets,
    /// Warn when this percentage of a target is left (1..=99).
    pub warning_percent: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
}

/// A calendar named by a policy.
#[derive(Serialize, ToSchema)]
pub struct CalendarRef {
    pub id: i64,
    pub name: String,
}

impl From<&policies::Policy> for SlaPolicy {
    fn from(p: &policies::Policy) -> SlaPolicy {
        SlaPolicy {
            id: p.id,
            name: p.name.clone(),
            calendar: CalendarRef {
                id: p.calendar_id,
                name: p.calendar_name.clone(),
            },
            targets: p.targets,
            warning_percent: p.warning_percent,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// Every SLA policy.
#[derive(Serialize, ToSchema)]
pub struct SlaPolicyList {
    pub sla_policies: Vec<SlaPolicy>,
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CalendarBody {
    /// Required to create.
    name: Option<String>,
    /// An IANA time zone (required to create).
    time_zone: Option<String>,
    /// `{"mon": ["09:00-12:00", "13:00-17:00"], ..., "sun": []}`; absent days are closed,
    /// `"00:00-24:00"` is the whole day, `"22:00-06:00"` runs into the next day.
    hours: Option<BTreeMap<String, Vec<String>>>,
    /// Closed days, `YYYY-MM-DD`.
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

/// `GET /api/v1/calendars`.
#[utoipa::path(get, path = "/calendars", tag = "sla",
    responses((status = 200, body = CalendarList)))]
async fn list_calendars(
    State(state): State<AppState>,
    _who: ApiAgent,
) -> Result<Json<CalendarList>, AppError> {
    let all = calendars::list(&state.pool).await?;
    Ok(Json(CalendarList {
        calendars: all.iter().map(Calendar::from).collect(),
    }))
}

/// `GET /api/v1/calendars/{id}`.
#[utoipa::path(get, path = "/calendars/{id}", tag = "sla", params(("id" = i64, Path, description = "The calendar's id.")),
    responses(
        (status = 200, body = Calendar),
        (status = 404, body = ApiError, description = "No such calendar."),
    ))]
async fn show_calendar(
    State(state): State<AppState>,
    _who: ApiAgent,
    PathNumber(id): PathNumber,
) -> Result<Json<Calendar>, AppError> {
    let c = calendars::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(Calendar::from(&c)))
}

/// `POST /api/v1/calendars`.
#[utoipa::path(post, path = "/calendars", tag = "sla", request_body = CalendarBody,
    responses(
        (status = 201, body = Calendar),
        (status = 400, body = ApiError, description = "A bad field (named)."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn create_calendar(
    State(state): State<AppState>,
    admin: ApiAdmin,
    JsonBody(body): JsonBody<CalendarBody>,
) -> Result<(StatusCode, Json<Calendar>), AppError> {
    let mut tx = state.pool.begin().await?;
    let c = calendars::create(&mut tx, &admin.actor(), body.into()).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(Calendar::from(&c))))
}

/// `PATCH /api/v1/calendars/{id}`: any of the fields.
#[utoipa::path(patch, path = "/calendars/{id}", tag = "sla", params(("id" = i64, Path, description = "The calendar's id.")), request_body = CalendarBody,
    responses(
        (status = 200, body = Calendar),
        (status = 400, body = ApiError, description = "A bad field (named); nothing was changed."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such calendar."),
    ))]
async fn update_calendar(
    State(state): State<AppState>,
    admin: ApiAdmin,
    PathNumber(id): PathNumber,
    JsonBody(body): JsonBody<CalendarBody>,
) -> Result<Json<Calendar>, AppError> {
    let mut tx = state.pool.begin().await?;
    let c = calendars::update(&mut tx, &admin.actor(), id, body.into()).await?;
    tx.commit().await?;
    Ok(Json(Calendar::from(&c)))
}

/// `DELETE /api/v1/calendars/{id}`.
#[utoipa::path(delete, path = "/calendars/{id}", tag = "sla", params(("id" = i64, Path, description = "The calendar's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, body = ApiError, description = "SLA policies use it (named)."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such calendar."),
    ))]
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

/// When a target of business minutes is due.
#[derive(Serialize, ToSchema)]
pub struct Due {
    /// RFC 3339 UTC.
    pub due_at: String,
}

/// `GET /api/v1/calendars/{id}/due?start=&minutes=`.
#[utoipa::path(get, path = "/calendars/{id}/due", tag = "sla",
    params(
        ("id" = i64, Path, description = "The calendar's id."),
        ("start" = String, Query, description = "An RFC 3339 time with an offset."),
        ("minutes" = i64, Query, description = "Whole business minutes > 0."),
    ),
    responses(
        (status = 200, body = Due),
        (status = 400, body = ApiError, description = "A bad or missing parameter (named)."),
        (status = 404, body = ApiError, description = "No such calendar."),
    ))]
async fn due(
    State(state): State<AppState>,
    _who: ApiAgent,
    PathNumber(id): PathNumber,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Due>, AppError> {
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
    Ok(Json(Due {
        due_at: due_at.to_string(),
    }))
}

/// Business minutes between two times.
#[derive(Serialize, ToSchema)]
pub struct BusinessMinutes {
    /// Fractional when seconds are involved.
    pub minutes: f64,
}

/// `GET /api/v1/calendars/{id}/business-minutes?from=&to=`.
#[utoipa::path(get, path = "/calendars/{id}/business-minutes", tag = "sla",
    params(
        ("id" = i64, Path, description = "The calendar's id."),
        ("from" = String, Query, description = "An RFC 3339 time with an offset."),
        ("to" = String, Query, description = "An RFC 3339 time with an offset, not before `from`."),
    ),
    responses(
        (status = 200, body = BusinessMinutes),
        (status = 400, body = ApiError, description = "A bad or missing parameter (named)."),
        (status = 404, body = ApiError, description = "No such calendar."),
    ))]
async fn business_minutes(
    State(state): State<AppState>,
    _who: ApiAgent,
    PathNumber(id): PathNumber,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<BusinessMinutes>, AppError> {
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
    Ok(Json(BusinessMinutes { minutes }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PolicyBody {
    /// Required to create.
    name: Option<String>,
    /// A calendar id, or the `{"id", ...}` object a policy's JSON shows (required to create).
    calendar: Option<Value>,
    /// `{"urgent": {"first_response": 30, "next_response": 60, "resolution": 240}, "high":
    /// ..., "normal": ..., "low": ...}` in business minutes; a PATCH may give some only.
    #[schema(value_type = Option<Object>)]
    targets: Option<Value>,
    /// Warn when this percent of a target is left (default 25).
    #[schema(value_type = Option<i64>)]
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

/// `GET /api/v1/sla-policies`.
#[utoipa::path(get, path = "/sla-policies", tag = "sla",
    responses((status = 200, body = SlaPolicyList)))]
async fn list_policies(
    State(state): State<AppState>,
    _who: ApiAgent,
) -> Result<Json<SlaPolicyList>, AppError> {
    let all = policies::list(&state.pool).await?;
    Ok(Json(SlaPolicyList {
        sla_policies: all.iter().map(SlaPolicy::from).collect(),
    }))
}

/// `GET /api/v1/sla-policies/{id}`.
#[utoipa::path(get, path = "/sla-policies/{id}", tag = "sla", params(("id" = i64, Path, description = "The policy's id.")),
    responses(
        (status = 200, body = SlaPolicy),
        (status = 404, body = ApiError, description = "No such policy."),
    ))]
async fn show_policy(
    State(state): State<AppState>,
    _who: ApiAgent,
    PathNumber(id): PathNumber,
) -> Result<Json<SlaPolicy>, AppError> {
    let p = policies::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(SlaPolicy::from(&p)))
}

/// `POST /api/v1/sla-policies`.
#[utoipa::path(post, path = "/sla-policies", tag = "sla", request_body = PolicyBody,
    responses(
        (status = 201, body = SlaPolicy),
        (status = 400, body = ApiError, description = "A bad field (named)."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn create_policy(
    State(state): State<AppState>,
    admin: ApiAdmin,
    JsonBody(body): JsonBody<PolicyBody>,
) -> Result<(StatusCode, Json<SlaPolicy>), AppError> {
    let mut tx = state.pool.begin().await?;
    let p = policies::create(&mut tx, &admin.actor(), body.try_into()?).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(SlaPolicy::from(&p))))
}

/// `PATCH /api/v1/sla-policies/{id}`: any of the fields.
#[utoipa::path(patch, path = "/sla-policies/{id}", tag = "sla", params(("id" = i64, Path, description = "The policy's id.")), request_body = PolicyBody,
    responses(
        (status = 200, body = SlaPolicy),
        (status = 400, body = ApiError, description = "A bad field (named); nothing was changed."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such policy."),
    ))]
async fn update_policy(
    State(state): State<AppState>,
    admin: ApiAdmin,
    PathNumber(id): PathNumber,
    JsonBody(body): JsonBody<PolicyBody>,
) -> Result<Json<SlaPolicy>, AppError> {
    let mut tx = state.pool.begin().await?;
    let p = policies::update(&mut tx, &admin.actor(), id, body.try_into()?).await?;
    tx.commit().await?;
    Ok(Json(SlaPolicy::from(&p)))
}

/// `DELETE /api/v1/sla-policies/{id}`.
#[utoipa::path(delete, path = "/sla-policies/{id}", tag = "sla", params(("id" = i64, Path, description = "The policy's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such policy."),
    ))]
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
