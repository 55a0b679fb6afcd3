//! `GET/POST /settings`: the signed-in agent's own settings (their time zone).
//!
//! The form is protected against cross-site posts like every other form (tower-http's
//! `CsrfLayer` in `web::router`), and follows post/redirect/get.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::page::{PageError, render};
use super::session::CurrentAgent;
use super::{AppError, AppState};
use crate::auth::{self, Agent};
use crate::timezone::{self, AgentTimeZone};

pub fn router() -> Router<AppState> {
    Router::new().route("/settings", get(show_settings).post(post_settings))
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    me: Agent,
    unread_notifications: i64,
    /// Every IANA zone name, sorted.
    zones: Vec<String>,
    /// The agent's zone (canonical name).
    current: String,
    /// The current time in that zone, e.g. `2026-11-29 15:05 CET`.
    now_local: String,
    saved: bool,
}

#[derive(Deserialize)]
struct SettingsQuery {
    saved: Option<String>,
}

async fn show_settings(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<SettingsQuery>,
) -> Result<Response, PageError> {
    let unread_notifications =
        crate::tickets::actions::unread_notifications(&state.pool, who.agent.agent_id).await?;
    let tz = AgentTimeZone::from_stored(&who.agent.time_zone);
    Ok(render(&SettingsPage {
        now_local: super::fmt::datetime(time::OffsetDateTime::now_utc(), &tz),
        current: tz.name().to_string(),
        zones: timezone::names(),
        me: who.agent,
        unread_notifications,
        saved: q.saved.is_some(),
    })?
    .into_response())
}

#[derive(Deserialize)]
struct SettingsForm {
    /// An IANA name such as `Europe/Berlin`.
    time_zone: String,
}

/// Saves the agent's time zone; an unknown name is a 400 that says so.
async fn post_settings(
    State(state): State<AppState>,
    who: CurrentAgent,
    Form(f): Form<SettingsForm>,
) -> Result<Redirect, PageError> {
    let tz = AgentTimeZone::parse(&f.time_zone).map_err(|e| AppError::BadRequest(e.to_string()))?;
    auth::set_time_zone(&state.pool, who.agent.agent_id, &tz).await?;
    Ok(Redirect::to("/settings?saved=1"))
}
