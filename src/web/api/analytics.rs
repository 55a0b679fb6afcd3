//! The analytics API (issue #13), for any agent's token: leads and admins see every figure of
//! the mailboxes they may see; an agent's token gets only their own figures (tickets assigned
//! to them; an `agent` parameter naming someone else is a 403).
//!
//! Common query parameters: `from`, `to` (dates `YYYY-MM-DD`, inclusive, in `tz`; default the
//! 30 days up to today), `tz` (IANA; default the caller's time zone), `mailbox` (id or
//! address), `team` (name), `agent` (email: tickets assigned to them now), `tag` (name),
//! `priority`, `lifecycle_stage` (a stage's name or id: tickets whose customer is in it, their
//! own stage else their company's), `vip` (`yes`/`true` or `no`/`false`: tickets of VIP
//! customers, or of everyone else). Unknown values are a 400 naming the parameter.
//!
//! - `GET /api/v1/analytics/summary` → the period's [`queries::Figures`] plus `previous` (the same for
//!   the period of as many days just before).
//! - `GET /api/v1/analytics/agents` → `{"agents": [...]}`.
//! - `GET /api/v1/analytics/busiest` → `{"tz", "grid"}`: 7 rows (Monday first) of 24 counts of
//!   tickets created, by local hour.
//! - `GET /api/v1/analytics/tickets.csv` → `text/csv`, one row per ticket created in the period
//!   (times RFC 3339 UTC to the second, durations in seconds to the millisecond),
//!   by ticket number.
//! - `GET /api/v1/analytics/tags` → [`breakdown::TagReport`]: per tag volume, trend, time to
//!   resolve, and the tags rising.
//! - `GET /api/v1/analytics/mailboxes` → `{"mailboxes": [row]}`, `/teams` → `{"teams": [row]}`,
//!   `/customers` → `{"lifecycle_stages": [row], "vip": [row]}`, each row a
//!   [`breakdown::GroupRow`]: `{"id", "name", "created", "closed", "resolved",
//!   "first_response": dur, "resolution": dur, "sla": {"achieved", "breached", "percent"},
//!   "csat": {...}, "previous": {the same figures for the previous period}}`.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiAgent, ApiError};
use crate::analytics::{Period, Scope};
use crate::analytics::{breakdown, queries};
use crate::auth::Agent;
use crate::web::{AppError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_summary))
        .routes(routes!(get_agents))
        .routes(routes!(get_busiest))
        .routes(routes!(get_tickets_csv))
        .routes(routes!(get_tags))
        .routes(routes!(get_mailboxes))
        .routes(routes!(get_teams))
        .routes(routes!(get_customers))
}

/// The common query parameters, as given.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AnalyticsQuery {
    /// First day, `YYYY-MM-DD` in `tz` (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day, inclusive (default: today in `tz`).
    pub to: Option<String>,
    /// An IANA time zone (default: the caller's).
    pub tz: Option<String>,
    /// A mailbox id or address.
    pub mailbox: Option<String>,
    /// A team's name.
    pub team: Option<String>,
    /// An agent's email: tickets assigned to them now (an agent's token: only their own).
    pub agent: Option<String>,
    /// A tag's name.
    pub tag: Option<String>,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: Option<String>,
    /// A lifecycle stage's name or id.
    pub lifecycle_stage: Option<String>,
    /// `yes`/`true` or `no`/`false`.
    pub vip: Option<String>,
}

fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// What a request asks for, resolved and checked against the caller.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub scope: Scope,
    pub period: Period,
}

/// Resolves the parameters for `viewer` (who sees `visible` mailboxes, `None` = all).
///
/// # Errors
/// 400 naming the parameter for a bad date, zone, priority, VIP value or an unknown mailbox
/// (also one the viewer may not see), team, agent or lifecycle stage; 403 when an agent asks for someone else's figures.
pub async fn resolve(
    pool: &PgPool,
    viewer: &Agent,
    visible: Option<&[i64]>,
    q: &AnalyticsQuery,
) -> Result<Resolved, AppError> {
    let tz = given(&q.tz)
        .unwrap_or(viewer.time_zone.as_str())
        .to_string();
    let date = |name: &str, v: &str| {
        v.parse::<jiff::civil::Date>().map_err(|_| {
            AppError::BadRequest(format!("{name}: expected a date YYYY-MM-DD, got {v:?}"))
        })
    };
    let to = match given(&q.to) {
        Some(v) => date("to", v)?,
        None => Period::today_in(&tz),
    };
    let from = match given(&q.from) {
        Some(v) => date("from", v)?,
        None => to
            .checked_sub(jiff::Span::new().days(29))
            .map_err(|e| AppError::BadRequest(format!("to: {e}")))?,
    };
    let period = Period::new(from, to, &tz).map_err(|e| AppError::BadRequest(e.0))?;

    let mut scope = Scope {
        visible: visible.map(<[i64]>::to_vec),
        ..Scope::default()
    };
    if let Some(m) = given(&q.mailbox) {
        let id: Option<i64> = sqlx::query_scalar(
            "select mailbox_id from mailbox where mailbox_id::text = $1 or lower(address) = lower($1)",
        )
        .bind(m)
        .fetch_optional(pool)
        .await?;
        let id = id
            .filter(|id| visible.is_none_or(|v| v.contains(id)))
            .ok_or_else(|| AppError::BadRequest(format!("mailbox: no mailbox {m:?}")))?;
        scope.mailbox = Some(id);
    }
    if let Some(t) = given(&q.team) {
        let id: Option<i64> =
            sqlx::query_scalar("select team_id from team where lower(name) = lower($1)")
                .bind(t)
                .fetch_optional(pool)
                .await?;
        scope.team = Some(id.ok_or_else(|| AppError::BadRequest(format!("team: no team {t:?}")))?);
    }
    if let Some(a) = given(&q.agent) {
        let found = crate::auth::find_agent_by_email(pool, a)
            .await?
            .ok_or_else(|| AppError::BadRequest(format!("agent: no agent {a:?}")))?;
        if !viewer.sees_all_mailboxes() && found.agent_id != viewer.agent_id {
            return Err(AppError::Forbidden(
                "agents see only their own figures".into(),
            ));
        }
        scope.agent = Some(found.agent_id);
    }
    if !viewer.sees_all_mailboxes() {
        scope.agent = Some(viewer.agent_id);
    }
    scope.tag = given(&q.tag).map(str::to_string);
    if let Some(p) = given(&q.priority) {
        scope.priority = Some(
            p.parse()
                .map_err(|e| AppError::BadRequest(format!("priority: {e}")))?,
        );
    }
    if let Some(s) = given(&q.lifecycle_stage) {
        let id: Option<i64> = sqlx::query_scalar(
            "select lifecycle_stage_id from lifecycle_stage
             where lifecycle_stage_id::text = $1 or lower(name) = lower($1)",
        )
        .bind(s)
        .fetch_optional(pool)
        .await?;
        scope.lifecycle_stage = Some(id.ok_or_else(|| {
            AppError::BadRequest(format!("lifecycle_stage: no lifecycle stage {s:?}"))
        })?);
    }
    if let Some(v) = given(&q.vip) {
        scope.vip = Some(match v.to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" => true,
            "no" | "false" | "0" => false,
            _ => {
                return Err(AppError::BadRequest(format!(
                    "vip: expected yes or no, got {v:?}"
                )));
            }
        });
    }
    Ok(Resolved { scope, period })
}

async fn resolved(
    state: &AppState,
    who: &ApiAgent,
    q: &AnalyticsQuery,
) -> Result<Resolved, AppError> {
    resolve(&state.pool, &who.agent, who.visible.as_deref(), q).await
}

/// `GET /api/v1/analytics/summary`.
#[utoipa::path(get, path = "/analytics/summary", tag = "analytics", params(AnalyticsQuery),
    responses(
        (status = 200, body = queries::Summary),
        (status = 400, body = ApiError, description = "A bad parameter (named): date, zone, priority, VIP value, or an unknown mailbox, team, agent or stage."),
        (status = 403, body = ApiError, description = "An agent's token asking for someone else's figures."),
    ))]
async fn get_summary(
    State(state): State<AppState>,
    who: ApiAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Json<queries::Summary>, AppError> {
    let r = resolved(&state, &who, &q).await?;
    Ok(Json(
        queries::summary(&state.reports, &r.scope, &r.period).await?,
    ))
}

/// Per-agent figures, by name.
#[derive(Serialize, ToSchema)]
pub struct AgentsReport {
    pub agents: Vec<queries::AgentFigures>,
}

/// `GET /api/v1/analytics/agents`.
#[utoipa::path(get, path = "/analytics/agents", tag = "analytics", params(AnalyticsQuery),
    responses(
        (status = 200, body = AgentsReport),
        (status = 400, body = ApiError, description = "A bad parameter (named): date, zone, priority, VIP value, or an unknown mailbox, team, agent or stage."),
        (status = 403, body = ApiError, description = "An agent's token asking for someone else's figures."),
    ))]
async fn get_agents(
    State(state): State<AppState>,
    who: ApiAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Json<AgentsReport>, AppError> {
    let r = resolved(&state, &who, &q).await?;
    let agents = queries::agents(&state.reports, &r.scope, &r.period, r.scope.agent).await?;
    Ok(Json(AgentsReport { agents }))
}

/// Tickets created by local weekday and hour.
#[derive(Serialize, ToSchema)]
pub struct Busiest {
    /// 7 rows, Monday first, of 24 counts (local hours 0-23).
    pub grid: [[i64; 24]; 7],
    /// The time zone of the hours.
    pub tz: String,
}

/// `GET /api/v1/analytics/busiest`.
#[utoipa::path(get, path = "/analytics/busiest", tag = "analytics", params(AnalyticsQuery),
    responses(
        (status = 200, body = Busiest),
        (status = 400, body = ApiError, description = "A bad parameter (named): date, zone, priority, VIP value, or an unknown mailbox, team, agent or stage."),
        (status = 403, body = ApiError, description = "An agent's token asking for someone else's figures."),
    ))]
async fn get_busiest(
    State(state): State<AppState>,
    who: ApiAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Json<Busiest>, AppError> {
    let r = resolved(&state, &who, &q).await?;
    let grid = queries::busiest(&state.reports, &r.scope, &r.period).await?;
    Ok(Json(Busiest {
        grid,
        tz: r.period.tz_name,
    }))
}

/// A CSV download named `name`.
pub fn csv_response(name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/v1/analytics/tickets.csv`.
#[utoipa::path(get, path = "/analytics/tickets.csv", tag = "analytics", params(AnalyticsQuery),
    responses(
        (status = 200, description = "One row per ticket created in the period, by ticket number, with a header row.", content_type = "text/csv", body = String),
        (status = 400, body = ApiError, description = "A bad parameter (named): date, zone, priority, VIP value, or an unknown mailbox, team, agent or stage."),
        (status = 403, body = ApiError, description = "An agent's token asking for someone else's figures."),
    ))]
async fn get_tickets_csv(
    State(state): State<AppState>,
    who: ApiAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Response, AppError> {
    let r = resolved(&state, &who, &q).await?;
    tickets_csv_response(&state, r.scope, r.period).await
}

/// `tickets.csv` streamed as it is read ([`queries::tickets_csv_chunks`]); an error before the
/// first chunk is an error response, a later one cuts the download short (logged).
pub async fn tickets_csv_response(
    state: &AppState,
    scope: crate::analytics::Scope,
    period: crate::analytics::Period,
) -> Result<Response, AppError> {
    use futures::StreamExt;
    let name = format!("tickets-{}-{}.csv", period.from, period.to);
    let mut chunks = queries::tickets_csv_chunks(state.reports.clone(), scope, period);
    let first = match chunks.recv().await {
        Some(first) => first?,
        None => return Err(anyhow::anyhow!("tickets.csv: the export task ended early").into()),
    };
    let rest = futures::stream::unfold(chunks, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let body = futures::stream::once(async move { Ok::<_, sqlx::Error>(first) }).chain(rest);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// `GET /api/v1/analytics/tags`.
#[utoipa::path(get, path = "/analytics/tags", tag = "analytics", params(AnalyticsQuery),
    responses(
        (status = 200, body = breakdown::TagReport),
        (status = 400, body = ApiError, description = "A bad parameter (named): date, zone, priority, VIP value, or an unknown mailbox, team, agent or stage."),
        (status = 403, body = ApiError, description = "An agent's token asking for someone else's figures."),
    ))]
async fn get_tags(
    State(state): State<AppState>,
    who: ApiAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Json<breakdown::TagReport>, AppError> {
    let r = resolved(&state, &who, &q).await?;
    Ok(Json(
        breakdown::tags(&state.reports, &r.scope, &r.period).await?,
    ))
}

/// Figures per mailbox.
#[derive(Serialize, ToSchema)]
pub struct MailboxesReport {
    pub mailboxes: Vec<breakdown::GroupRow>,
}

/// `GET /api/v1/analytics/mailboxes`.
#[utoipa::path(get, path = "/analytics/mailboxes", tag = "analytics", params(AnalyticsQuery),
    responses(
        (status = 200, body = MailboxesReport),
        (status = 400, body = ApiError, description = "A bad parameter (named): date, zone, priority, VIP value, or an unknown mailbox, team, agent or stage."),
        (status = 403, body = ApiError, description = "An agent's token asking for someone else's figures."),
    ))]
async fn get_mailboxes(
    State(state): State<AppState>,
    who: ApiAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Json<MailboxesReport>, AppError> {
    let r = resolved(&state, &who, &q).await?;
    let mailboxes = breakdown::mailboxes(&state.reports, &r.scope, &r.period).await?;
    Ok(Json(MailboxesReport { mailboxes }))
}

/// Figures per team.
#[derive(Serialize, ToSchema)]
pub struct TeamsReport {
    pub teams: Vec<breakdown::GroupRow>,
}

/// `GET /api/v1/analytics/teams`.
#[utoipa::path(get, path = "/analytics/teams", tag = "analytics", params(AnalyticsQuery),
    responses(
        (status = 200, body = TeamsReport),
        (status = 400, body = ApiError, description = "A bad parameter (named): date, zone, priority, VIP value, or an unknown mailbox, team, agent or stage."),
        (status = 403, body = ApiError, description = "An agent's token asking for someone else's figures."),
    ))]
async fn get_teams(
    State(state): State<AppState>,
    who: ApiAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Json<TeamsReport>, AppError> {
    let r = resolved(&state, &who, &q).await?;
    let teams = breakdown::teams(&state.reports, &r.scope, &r.period).await?;
    Ok(Json(TeamsReport { teams }))
}

/// Figures per lifecycle stage and VIP or not.
#[derive(Serialize, ToSchema)]
pub struct CustomersReport {
    pub lifecycle_stages: Vec<breakdown::GroupRow>,
    pub vip: Vec<breakdown::GroupRow>,
}

/// `GET /api/v1/analytics/customers`.
#[utoipa::path(get, path = "/analytics/customers", tag = "analytics", params(AnalyticsQuery),
    responses(
        (status = 200, body = CustomersReport),
        (status = 400, body = ApiError, description = "A bad parameter (named): date, zone, priority, VIP value, or an unknown mailbox, team, agent or stage."),
        (status = 403, body = ApiError, description = "An agent's token asking for someone else's figures."),
    ))]
async fn get_customers(
    State(state): State<AppState>,
    who: ApiAgent,
    Query(q): Query<AnalyticsQuery>,
) -> Result<Json<CustomersReport>, AppError> {
    let r = resolved(&state, &who, &q).await?;
    let (stages, vip) = breakdown::customers(&state.reports, &r.scope, &r.period).await?;
    Ok(Json(CustomersReport {
        lifecycle_stages: stages,
        vip,
    }))
}
