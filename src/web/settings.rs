//! `GET/POST /settings`: the signed-in agent's own settings (their time zone), and
//! `POST /settings/password`: changing their password, and `POST /me/availability`: the
//! header's available / away switch.
//!
//! The forms are protected against cross-site posts like every other form (tower-http's
//! `CsrfLayer` in `web::router`), and follow post/redirect/get.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use serde::Deserialize;

use super::page::{PageError, render};
use super::session::{CurrentAgent, GENERATION_KEY};
use super::{AppError, AppState};
use crate::auth::{self, Agent, PasswordChangeError};
use crate::timezone::{self, AgentTimeZone};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings", get(show_settings).post(post_settings))
        .route("/settings/password", post(post_password))
        .route("/me/availability", post(post_availability))
}

#[derive(Deserialize)]
struct AvailabilityForm {
    /// `available` or `away`.
    availability: String,
    /// The page to go back to; only a local path is followed. Without it, the path of the
    /// Referer (the page the header's button was on); else `/inbox`.
    next: Option<String>,
}

/// The agent sets themselves available or away (assignment offers new tickets only to
/// available agents), then goes back to the page they were on.
async fn post_availability(
    State(state): State<AppState>,
    who: CurrentAgent,
    headers: axum::http::HeaderMap,
    Form(f): Form<AvailabilityForm>,
) -> Result<Redirect, PageError> {
    let available = match f.availability.as_str() {
        "available" => true,
        "away" => false,
        other => {
            return Err(AppError::BadRequest(format!(
                "availability must be available or away, got {other:?}"
            ))
            .into());
        }
    };
    let mut tx = state.pool.begin().await?;
    crate::auth::invite::set_available(&mut tx, who.agent.agent_id, available).await?;
    tx.commit().await?;
    let referer = headers
        .get(axum::http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        });
    let next = f
        .next
        .or(referer)
        .filter(|n| super::login::is_local_path(n))
        .unwrap_or_else(|| "/inbox".into());
    Ok(Redirect::to(&next))
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
    /// The password was just changed.
    password_changed: bool,
    /// Why the last password change was refused.
    password_error: Option<String>,
    /// Shortest new password accepted, for the form's `minlength`.
    min_password: usize,
}

#[derive(Deserialize)]
struct SettingsQuery {
    saved: Option<String>,
    password: Option<String>,
}

async fn settings_page(
    state: &AppState,
    who: CurrentAgent,
    saved: bool,
    password_changed: bool,
    password_error: Option<String>,
) -> Result<SettingsPage, PageError> {
    let unread_notifications =
        crate::tickets::actions::unread_notifications(&state.pool, who.agent.agent_id).await?;
    let tz = AgentTimeZone::from_stored(&who.agent.time_zone);
    Ok(SettingsPage {
        now_local: super::fmt::datetime(time::OffsetDateTime::now_utc(), &tz),
        current: tz.name().to_string(),
        zones: timezone::names(),
        me: who.agent,
        unread_notifications,
        saved,
        password_changed,
        password_error,
        min_password: auth::MIN_PASSWORD_CHARS,
    })
}

async fn show_settings(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(q): Query<SettingsQuery>,
) -> Result<Response, PageError> {
    let page = settings_page(
        &state,
        who,
        q.saved.is_some(),
        q.password.as_deref() == Some("changed"),
        None,
    )
    .await?;
    Ok(render(&page)?.into_response())
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

#[derive(Deserialize)]
struct PasswordForm {
    current_password: String,
    new_password: String,
    /// The new password typed a second time.
    confirm_password: String,
    /// The "End my API tokens too" checkbox (checked by default).
    end_tokens: Option<String>,
    /// Set by the form that shows that checkbox; without it (an older form or a script)
    /// tokens end too, the safe default.
    tokens_choice: Option<String>,
}

/// Changes the agent's password (argon2id, through the same limits as sign-in) and ends every
/// other session of theirs, on every node (and their API tokens, unless they unticked that);
/// this one stays signed in under a new session id.
/// A refusal re-renders the page with the reason: 400 for an unacceptable new password, 403
/// for a wrong current one, 429 when rate limited.
async fn post_password(
    State(state): State<AppState>,
    who: CurrentAgent,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(f): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let ip = connect
        .map(|c| c.0.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let result = if f.new_password != f.confirm_password {
        Err(PasswordChangeError::Invalid(
            "The two new passwords are not the same.".into(),
        ))
    } else {
        auth::change_password(
            &state.pool,
            &who.agent,
            &f.current_password,
            &f.new_password,
            &ip,
        )
        .await
    };
    let err = match result {
        Ok(generation) => {
            if f.end_tokens.is_some() || f.tokens_choice.is_none() {
                let n = auth::revoke_api_tokens_of(&state.pool, who.agent.agent_id).await?;
                tracing::info!(
                    agent.id = who.agent.agent_id,
                    tokens = n,
                    "API tokens ended with the password change"
                );
            }
            // Keep this session: it carries the new generation, under a new id.
            who.session
                .insert(GENERATION_KEY, generation)
                .await
                .map_err(|e| anyhow::anyhow!("session: {e}"))?;
            who.session
                .cycle_id()
                .await
                .map_err(|e| anyhow::anyhow!("session: {e}"))?;
            return Ok(Redirect::to("/settings?password=changed").into_response());
        }
        Err(e) => e,
    };
    let message = Some(err.to_string());
    let status = match err {
        PasswordChangeError::Invalid(_) => StatusCode::BAD_REQUEST,
        PasswordChangeError::WrongPassword => StatusCode::FORBIDDEN,
        PasswordChangeError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        PasswordChangeError::Db(e) => return Err(e.into()),
        PasswordChangeError::Internal(e) => return Err(anyhow::anyhow!(e).into()),
    };
    let page = settings_page(&state, who, false, false, message).await?;
    Ok((status, render(&page)?).into_response())
}
