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

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;

use super::admin::ApiAdmin;
use super::{ApiAgent, JsonBody};
use crate::auth::invite::{self, AgentAdminError, AgentChange, AgentSummary, NewAgent};
use crate::outbox::OutboxError;
use crate::timezone::AgentTimeZone;
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list_agents).post(create_agent))
        .route("/agents/{email}", patch(patch_agent))
        .route("/me", patch(patch_me))
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

async fn list_agents(
    State(state): State<AppState>,
    _: ApiAdmin,
) -> Result<Json<serde_json::Value>, AppError> {
    let agents = invite::list_agents(&state.pool).await?;
    Ok(Json(serde_json::json!({ "agents": agents })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    email: String,
    name: String,
    role: String,
    #[serde(default)]
    teams: Vec<String>,
    time_zone: Option<String>,
}

/// `POST /api/v1/agents`: invites an agent; 201 with the agent.
async fn create_agent(
    State(state): State<AppState>,
    admin: ApiAdmin,
    JsonBody(body): JsonBody<CreateBody>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    name: Option<String>,
    role: Option<String>,
    disabled: Option<bool>,
    available: Option<bool>,
    /// Absent: unchanged; null: no cap; a number: the cap.
    #[serde(default, deserialize_with = "super::some_or_null")]
    max_open_tickets: Option<Option<i64>>,
}

/// `PATCH /api/v1/agents/{email}`: changes an agent; answers with the agent.
async fn patch_agent(
    State(state): State<AppState>,
    admin: ApiAdmin,
    Path(email): Path<String>,
    JsonBody(body): JsonBody<PatchBody>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeBody {
    available: Option<bool>,
    time_zone: Option<String>,
}

/// `PATCH /api/v1/me`: the caller sets themselves available or away, and their time zone.
async fn patch_me(
    State(state): State<AppState>,
    who: ApiAgent,
    JsonBody(body): JsonBody<MeBody>,
) -> Result<Json<serde_json::Value>, AppError> {
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
    Ok(Json(serde_json::json!({
        "email": me.email,
        "available": me.available,
        "time_zone": me.time_zone,
    })))
}
