//! `/invite/{token}`: the one-time link of an invitation or a password reset
//! (`crate::auth::invite`). `GET` shows the form to choose a password, or a page saying the
//! link was used or has expired; `POST` sets the password and signs the agent in (then
//! `/inbox`). The page is sent with `Referrer-Policy: no-referrer`, so the token in its URL
//! never leaves in a Referer header.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::AppState;
use super::page::{PageError, render};
use super::session;
use crate::auth::MIN_PASSWORD_CHARS;
use crate::auth::invite::{self, AcceptError, LinkPurpose, LinkState};

pub fn router() -> Router<AppState> {
    Router::new().route("/invite/{token}", get(show_link).post(post_link))
}

#[derive(Template)]
#[template(path = "auth/invite.html")]
struct LinkPage {
    state: LinkState,
    token: String,
    error: Option<String>,
    min_password: usize,
}

impl LinkPage {
    fn is_invite(&self) -> bool {
        matches!(
            self.state,
            LinkState::Valid {
                purpose: LinkPurpose::Invite,
                ..
            }
        )
    }
}

/// The page with the status a link's state calls for: 200 usable, 410 used or expired, 404
/// unknown; 400 when a password was refused.
fn respond(page: LinkPage) -> Result<Response, PageError> {
    let status = match (&page.state, &page.error) {
        (LinkState::Valid { .. }, None) => StatusCode::OK,
        (LinkState::Valid { .. }, Some(_)) => StatusCode::BAD_REQUEST,
        (LinkState::Used | LinkState::Expired, _) => StatusCode::GONE,
        (LinkState::Unknown, _) => StatusCode::NOT_FOUND,
    };
    Ok((
        status,
        [
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        render(&page)?,
    )
        .into_response())
}

async fn show_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let link = invite::link_state(&state.pool, &token).await?;
    respond(LinkPage {
        state: link,
        token,
        error: None,
        min_password: MIN_PASSWORD_CHARS,
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
    /// The password typed a second time.
    confirm_password: String,
}

async fn post_link(
    State(state): State<AppState>,
    session: Session,
    Path(token): Path<String>,
    Form(f): Form<PasswordForm>,
) -> Result<Response, PageError> {
    let refused = |error: String| async {
        let link = invite::link_state(&state.pool, &token).await?;
        respond(LinkPage {
            state: link,
            token: token.clone(),
            error: Some(error),
            min_password: MIN_PASSWORD_CHARS,
        })
    };
    if f.password != f.confirm_password {
        return refused("The two passwords are not the same.".into()).await;
    }
    match invite::accept(&state.pool, &token, &f.password).await {
        Ok(agent) => {
            session::sign_in(&session, &agent).await?;
            tracing::info!(agent.id = agent.agent_id, "signed in with a link");
            Ok(Redirect::to("/inbox").into_response())
        }
        Err(AcceptError::Password(m)) => refused(m).await,
        Err(AcceptError::Link(link)) => respond(LinkPage {
            state: link,
            token,
            error: None,
            min_password: MIN_PASSWORD_CHARS,
        }),
        Err(AcceptError::Db(e)) => Err(e.into()),
        Err(AcceptError::Internal(e)) => Err(anyhow::anyhow!(e).into()),
    }
}
