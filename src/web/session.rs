//! Browser sessions (tower-sessions, stored in PostgreSQL so every node sees them) and the
//! `CurrentAgent` extractor that every page uses.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::AppState;
use crate::auth::{self, Agent};

/// Session key holding the signed-in agent's id.
pub const AGENT_KEY: &str = "agent_id";
/// Session key holding the agent's session generation at sign-in (see
/// [`auth::Agent::session_generation`]); absent in sessions older than it, which count as 0.
pub const GENERATION_KEY: &str = "generation";

/// Signs the agent in on this session: a new session id (against session fixation), their id
/// and their current session generation.
pub async fn sign_in(session: &Session, agent: &Agent) -> Result<(), super::AppError> {
    session
        .cycle_id()
        .await
        .map_err(|e| anyhow::anyhow!("session: {e}"))?;
    session
        .insert(AGENT_KEY, agent.agent_id)
        .await
        .map_err(|e| anyhow::anyhow!("session: {e}"))?;
    session
        .insert(GENERATION_KEY, agent.session_generation)
        .await
        .map_err(|e| anyhow::anyhow!("session: {e}"))?;
    Ok(())
}

/// The signed-in agent and the mailboxes they may see (`None` = all). Pages that take this
/// redirect to `/login` when nobody is signed in, and when the session no longer counts (the
/// agent was disabled or their password changed since it signed in: the session is deleted).
/// Taking it marks the agent as seen (online, see [`auth::OFFLINE_AFTER_SECS`]).
pub struct CurrentAgent {
    pub agent: Agent,
    pub visible: Option<Vec<i64>>,
    pub session: Session,
}

impl CurrentAgent {
    /// This agent as the actor of a ticket change (its timeline names them).
    pub fn actor(&self) -> crate::tickets::timeline::Actor {
        crate::tickets::timeline::Actor::Agent(self.agent.agent_id)
    }
}

/// Where an anonymous request goes: the login page, remembering the page asked for.
pub struct LoginRedirect(String);

impl IntoResponse for LoginRedirect {
    fn into_response(self) -> Response {
        Redirect::to(&format!(
            "/login?next={}",
            percent_encoding::utf8_percent_encode(&self.0, percent_encoding::NON_ALPHANUMERIC)
        ))
        .into_response()
    }
}

impl FromRequestParts<AppState> for CurrentAgent {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let next = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.path().to_string())
            .unwrap_or_else(|| parts.uri.path().to_string());
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let agent_id: Option<i64> = session.get(AGENT_KEY).await.ok().flatten();
        let Some(agent_id) = agent_id else {
            return Err(LoginRedirect(next).into_response());
        };
        let generation: i32 = session
            .get(GENERATION_KEY)
            .await
            .ok()
            .flatten()
            .unwrap_or(0);
        let agent = match auth::find_agent_seen(&state.pool, agent_id, generation).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                let _ = session.flush().await;
                return Err(LoginRedirect(next).into_response());
            }
            Err(e) => return Err(super::AppError::from(e).into_response()),
        };
        let visible = auth::visible_mailboxes(&state.pool, &agent)
            .await
            .map_err(|e| super::AppError::from(e).into_response())?;
        // the request's span (see telemetry::metrics::track_requests) names the agent
        tracing::Span::current().record("agent.id", agent.agent_id);
        Ok(CurrentAgent {
            agent,
            visible,
            session,
        })
    }
}
