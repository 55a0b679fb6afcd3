//! Sign-in and sign-out.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::AppState;
use super::page::{PageError, render};
use super::session::{self, CurrentAgent};
use crate::auth::{self, LoginError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(show_login).post(post_login))
        .route("/logout", post(post_logout))
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only local paths are followed after login (no open redirect).
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or_else(|| "/inbox".into())
}

async fn show_login(Query(q): Query<NextQuery>) -> Result<impl IntoResponse, PageError> {
    render(&LoginPage {
        next: safe_next(q.next),
        email: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

async fn post_login(
    State(state): State<AppState>,
    session: Session,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let ip = connect
        .map(|c| c.0.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let next = safe_next(form.next);
    match auth::authenticate(&state.pool, &form.email, &form.password, &ip).await {
        Ok(agent) => {
            session::sign_in(&session, &agent).await?;
            tracing::info!(agent.id = agent.agent_id, "signed in");
            Ok(Redirect::to(&next).into_response())
        }
        Err(e @ (LoginError::Invalid | LoginError::RateLimited)) => {
            let status = if matches!(e, LoginError::RateLimited) {
                axum::http::StatusCode::TOO_MANY_REQUESTS
            } else {
                axum::http::StatusCode::UNAUTHORIZED
            };
            let page = render(&LoginPage {
                next,
                email: form.email,
                error: Some(e.to_string()),
            })?;
            Ok((status, page).into_response())
        }
        Err(LoginError::Db(e)) => Err(e.into()),
        Err(LoginError::Internal(e)) => Err(anyhow::anyhow!(e).into()),
    }
}

async fn post_logout(who: CurrentAgent) -> Result<Redirect, PageError> {
    who.session
        .flush()
        .await
        .map_err(|e| anyhow::anyhow!("session: {e}"))?;
    Ok(Redirect::to("/login"))
}
