//! Admin API: agents, and `PATCH /api/v1/me` (any agent, for themselves).
//!
//! - `GET /api/v1/agents` → `{"agents": [{"email", "name", "role", "teams", "available",
//!   "disabled", "max_open_tickets", "open_tickets", "last_seen_at"}]}` (`last_seen_at` RFC 3339
//!   UTC or null; `max_open_tickets` null = no cap).
//! - `POST /api/v1/agents` `{"email", "name", "role", "teams"?: [names], "time_zone"?}` → 201
//!   the agent; an invitation with a one-time link is mailed (see `crate::auth::invite`).
//! - `PATCH /api/v1/agents/{email}` `{"name"?, "role"?, "disabled"?, "available"?,
//!   "max_open_tickets"?}` → the agent; `"max_open_tickets": null` clears the cap.
//! - `PATCH /api/v1/me` `{"available"?, "time_zone"?}` → `{"email", "available", "time_zone"}`.
//!
//! Bad input is a 400 `{"error"}` naming the field; nothing is half-applied.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::ApiAdmin;
use super::{ApiAgent, ApiError, JsonBody};
use crate::auth::invite::{self, AgentAdminError, AgentChange, AgentSummary, NewAgent};
use crate::outbox::OutboxError;
use crate::timezone::AgentTimeZone;
use crate::web::{AppError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agents, create_agent))
        .routes(routes!(patch_agent))
        .routes(routes!(patch_me))
}

/// Every agent, by name.
#[derive(Serialize, ToSchema)]
pub struct AgentList {
    pub agents: Vec<AgentSummary>,
}

impl From<AgentAdminError> for AppError {
    fn from(e: AgentAdminError) -> Self {
        match e {
            e @ (AgentAdminError::Invalid { .. } | AgentAdminError::NoSender) => {
                AppError::BadRequest(e.to_string())
            }
            AgentAdminError::NotFound(_) => AppError::NotFound,
            AgentAdminError::Outbox(OutboxError::Compose(c)) => {
                AppError::BadRequest(format!("email: the invitation cannot be mailed: {c}"))
            }
            AgentAdminError::Outbox(e) => AppError::Other(e.into()),
            AgentAdminError::Db(d) => AppError::Db(d),
        }
    }
}

/// `GET /api/v1/agents`: every agent.
#[utoipa::path(get, path = "/agents", tag = "agents",
    responses(
        (status = 200, body = AgentList),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn list_agents(
    State(state): State<AppState>,
    _: ApiAdmin,
) -> Result<Json<AgentList>, AppError> {
    let agents = invite::list_agents(&state.pool).await?;
    Ok(Json(AgentList { agents }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AgentInvite {
    email: String,
    name: String,
    /// `admin`, `lead` or `agent`.
    role: String,
    /// Team names.
    #[serde(default)]
    teams: Vec<String>,
    /// An IANA time zone (default: the server's).
    time_zone: Option<String>,
}

/// `POST /api/v1/agents`: invites an agent; 201 with the agent.
#[utoipa::path(post, path = "/agents", tag = "agents", request_body = AgentInvite,
    responses(
        (status = 201, body = AgentSummary, description = "Invited: a one-time link was mailed."),
        (status = 400, body = ApiError, description = "A bad field (named), or the invitation cannot be mailed."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn create_agent(
    State(state): State<AppState>,
    admin: ApiAdmin,
    JsonBody(body): JsonBody<AgentInvite>,
) -> Result<(StatusCode, Json<AgentSummary>), AppError> {
    let invited = invite::invite(
        &state.pool,
        &admin.actor(),
        &NewAgent {
            email: body.email,
            name: body.name,
            role: body.role,
            teams: body.teams,
            time_zone: body.time_zone,
        },
        &state.config.public_url,
    )
    .await?;
    let agent = invite::agent_summary(&state.pool, &invited.email)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::CREATED, Json(agent)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AgentPatch {
    name: Option<String>,
    /// `admin`, `lead` or `agent`.
    role: Option<String>,
    disabled: Option<bool>,
    available: Option<bool>,
    /// Absent: unchanged; null: no cap; a number: the cap.
    #[serde(default, deserialize_with = "super::some_or_null")]
    #[schema(value_type = Option<i64>)]
    max_open_tickets: Option<Option<i64>>,
}

/// `PATCH /api/v1/agents/{email}`: changes an agent; answers with the agent.
#[utoipa::path(patch, path = "/agents/{email}", tag = "agents",
    params(("email" = String, Path, description = "The agent's email.")),
    request_body = AgentPatch,
    responses(
        (status = 200, body = AgentSummary),
        (status = 400, body = ApiError, description = "A bad field (named); nothing was changed."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such agent."),
    ))]
async fn patch_agent(
    State(state): State<AppState>,
    admin: ApiAdmin,
    Path(email): Path<String>,
    JsonBody(body): JsonBody<AgentPatch>,
) -> Result<Json<AgentSummary>, AppError> {
    let agent = invite::update_agent(
        &state.pool,
        &admin.actor(),
        &email,
        &AgentChange {
            name: body.name,
            role: body.role,
            disabled: body.disabled,
            available: body.available,
            max_open_tickets: body.max_open_tickets,
        },
    )
    .await?;
    Ok(Json(agent))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MePatch {
    /// Available (true) or away (false) for assignment.
    available: Option<bool>,
    /// An IANA time zone.
    time_zone: Option<String>,
}

/// The caller's own settings.
#[derive(Serialize, ToSchema)]
pub struct Me {
    pub available: bool,
    pub email: String,
    pub time_zone: String,
}

/// `PATCH /api/v1/me`: the caller sets themselves available or away, and their time zone.
#[utoipa::path(patch, path = "/me", tag = "agents", request_body = MePatch,
    responses(
        (status = 200, body = Me),
        (status = 400, body = ApiError, description = "A bad body or time zone; nothing was changed."),
    ))]
async fn patch_me(
    State(state): State<AppState>,
    who: ApiAgent,
    JsonBody(body): JsonBody<MePatch>,
) -> Result<Json<Me>, AppError> {
    let tz = body
        .time_zone
        .as_deref()
        .map(|z| {
            AgentTimeZone::parse(z.trim())
                .map_err(|e| AppError::BadRequest(format!("time_zone: {e}")))
        })
        .transpose()?;
    let mut tx = state.pool.begin().await?;
    if let Some(available) = body.available {
        invite::set_available(&mut tx, who.agent.agent_id, available).await?;
    }
    if let Some(tz) = &tz {
        crate::auth::set_time_zone(&mut *tx, who.agent.agent_id, tz).await?;
    }
    tx.commit().await?;
    let me = crate::auth::find_agent(&state.pool, who.agent.agent_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(Me {
        available: me.available,
        email: me.email,
        time_zone: me.time_zone,
    }))
}
