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

/// Only local paths are followed after login (no open redirect); anything else goes to
/// `/inbox`. See [`is_local_path`].
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| is_local_path(n))
        .unwrap_or_else(|| "/inbox".into())
}

/// A path on this site and nothing else: visible ASCII only (no control character, which
/// browsers strip so that `/\t/evil.example` reads as `//evil.example`, no space, nothing a
/// header cannot carry), no backslash anywhere (browsers read it as `/`), and one `/` followed
/// by a path character (RFC 3986 `pchar`), so never `//host` or `/\host`.
pub(super) fn is_local_path(next: &str) -> bool {
    let visible = next.bytes().all(|b| b.is_ascii_graphic()) && !next.contains('\\');
    let mut bytes = next.bytes();
    let pchar = |b: u8| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=:@".contains(&b);
    visible && bytes.next() == Some(b'/') && bytes.next().is_some_and(pchar)
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

/// Ends this session, and with it (on every node, at once) the live streams it opened.
async fn post_logout(
    State(state): State<AppState>,
    who: CurrentAgent,
) -> Result<Redirect, PageError> {
    who.session
        .flush()
        .await
        .map_err(|e| anyhow::anyhow!("session: {e}"))?;
    crate::live::notify(
        &state.pool,
        &crate::live::LiveEvent::SessionsChanged {
            agent: who.agent.agent_id,
        },
    )
    .await?;
    tracing::info!(agent.id = who.agent.agent_id, "signed out");
    Ok(Redirect::to("/login"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for ok in [
            "/inbox",
            "/tickets/12",
            "/search?q=a%20b",
            "/t/12#m3",
            "/~x",
            "/%2F/x",
        ] {
            assert_eq!(safe_next(Some(ok.into())), ok, "{ok:?} is local");
        }
        let hostile = [
            "//evil.example",
            "/\t/evil.example",
            "/\t\t//evil.example",
            "\t//evil.example",
            "/\n/x",
            "/\r\n/x",
            "/\0/x",
            "/\x0b/x",
            "/\x7f/x",
            "/\u{85}/x",
            "/\u{2028}/x",
            "/ /evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/x\\..\\y",
            "https://evil.example",
            "http:/evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/",
            "/?x",
            "/\u{ff0f}evil.example",
            "/é",
        ];
        for bad in hostile {
            assert_eq!(
                safe_next(Some(bad.into())),
                "/inbox",
                "{bad:?} must not be followed"
            );
        }
        assert_eq!(safe_next(None), "/inbox");
    }
}
