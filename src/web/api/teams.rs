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

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::JsonBody;
use super::admin::ApiAdmin;
use crate::teams::{self, TeamChange, TeamError};
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/teams", get(list).post(create))
        .route("/teams/{name}", axum::routing::patch(update))
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

async fn list(State(state): State<AppState>, _admin: ApiAdmin) -> Result<Json<Value>, AppError> {
    let teams = teams::list(&state.pool).await?;
    Ok(Json(json!({ "teams": teams })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamBody {
    name: Option<String>,
    members: Option<Vec<String>>,
    mailboxes: Option<Vec<String>>,
    assignment: Option<String>,
    /// Absent: unchanged; null: never; minutes.
    #[serde(default, deserialize_with = "super::some_or_null")]
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

async fn update(
    State(state): State<AppState>,
    admin: ApiAdmin,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<TeamBody>,
) -> Result<Json<teams::Team>, AppError> {
    let team = teams::update(&state.pool, &admin.actor(), &name, body.into()).await?;
    Ok(Json(team))
}
