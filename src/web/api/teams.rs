//! Admin API: teams.
//!
//! - `GET /api/v1/teams` → `{"teams": [{"name", "assignment", "away_after_minutes",
//!   "members": [emails], "mailboxes": [addresses]}]}`, by name.
//! - `POST /api/v1/teams` `{"name", "members"?, "mailboxes"?, "assignment"?,
//!   "away_after_minutes"?}` → 201 team.
//! - `PATCH /api/v1/teams/{name}` the same fields, all optional (lists replace) → team.
//!
//! `assignment` is `manual` (default), `round_robin` or `least_loaded`; `away_after_minutes`
//! (1..=10080, or null: never) counts members not seen in the web UI for that long as away. An unknown agent or
//! mailbox, a taken name or a bad mode → 400 naming the field; nothing is half-applied.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::ApiAdmin;
use super::{ApiError, JsonBody};
use crate::teams::{self, TeamChange, TeamError};
use crate::web::{AppError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update))
}

/// Every team, by name.
#[derive(Serialize, ToSchema)]
pub struct TeamList {
    pub teams: Vec<teams::Team>,
}

impl From<TeamError> for AppError {
    fn from(e: TeamError) -> Self {
        match e {
            e @ TeamError::Invalid { .. } => AppError::BadRequest(e.to_string()),
            TeamError::NotFound => AppError::NotFound,
            TeamError::Db(e) => AppError::Db(e),
        }
    }
}

/// `GET /api/v1/teams`.
#[utoipa::path(get, path = "/teams", tag = "teams",
    responses(
        (status = 200, body = TeamList),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn list(State(state): State<AppState>, _admin: ApiAdmin) -> Result<Json<TeamList>, AppError> {
    let teams = teams::list(&state.pool).await?;
    Ok(Json(TeamList { teams }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TeamBody {
    /// Required to create.
    name: Option<String>,
    /// Agent emails (replaces the members).
    members: Option<Vec<String>>,
    /// Mailbox addresses (replaces them).
    mailboxes: Option<Vec<String>>,
    /// `manual` (default), `round_robin` or `least_loaded`.
    assignment: Option<String>,
    /// Absent: unchanged; null: never; minutes (1..=10080).
    #[serde(default, deserialize_with = "super::some_or_null")]
    #[schema(value_type = Option<i32>)]
    away_after_minutes: Option<Option<i32>>,
}

impl From<TeamBody> for TeamChange {
    fn from(b: TeamBody) -> Self {
        TeamChange {
            name: b.name,
            members: b.members,
            mailboxes: b.mailboxes,
            assignment: b.assignment,
            away_after_minutes: b.away_after_minutes,
        }
    }
}

/// `POST /api/v1/teams`.
#[utoipa::path(post, path = "/teams", tag = "teams", request_body = TeamBody,
    responses(
        (status = 201, body = teams::Team),
        (status = 400, body = ApiError, description = "A bad field (named): an unknown agent or mailbox, a taken name, a bad mode."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn create(
    State(state): State<AppState>,
    admin: ApiAdmin,
    JsonBody(body): JsonBody<TeamBody>,
) -> Result<(StatusCode, Json<teams::Team>), AppError> {
    if body.name.is_none() {
        return Err(AppError::BadRequest("name: a team needs a name".into()));
    }
    let team = teams::create(&state.pool, &admin.actor(), body.into()).await?;
    Ok((StatusCode::CREATED, Json(team)))
}

/// `PATCH /api/v1/teams/{name}`.
#[utoipa::path(patch, path = "/teams/{name}", tag = "teams",
    params(("name" = String, Path, description = "The team's name.")),
    request_body = TeamBody,
    responses(
        (status = 200, body = teams::Team),
        (status = 400, body = ApiError, description = "A bad field (named); nothing was changed."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such team."),
    ))]
async fn update(
    State(state): State<AppState>,
    admin: ApiAdmin,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<TeamBody>,
) -> Result<Json<teams::Team>, AppError> {
    let team = teams::update(&state.pool, &admin.actor(), &name, body.into()).await?;
    Ok(Json(team))
}
