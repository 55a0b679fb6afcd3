//! The admin console under `/admin`: the pages where admins configure Frontdesk. Each area
//! (mailboxes, agents, teams, tags, saved replies, rules, quarantine, audit log, business
//! hours, SLA policies, lifecycle stages, webhooks) is a module with its own router; every handler takes [`AdminAgent`], so an
//! agent or a lead gets a plain 403 page, and every change is written to the audit log
//! (`crate::audit`) in the transaction that makes it.
//!
//! Pages extend `templates/admin/layout.html`, which needs `me`, `unread_notifications` and
//! `section` (the nav entry to mark current, e.g. `"agents"`).

mod agents;
mod audit;
mod mailboxes;
mod quarantine;
mod rules;
mod saved_replies;
mod sla;
mod stages;
mod tags;
mod teams;
mod webhooks;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::page::PageError;
use super::session::CurrentAgent;
use super::{AppError, AppState};
use crate::audit::AuditActor;
use crate::auth::Agent;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin",
            get(|_: AdminAgent| async { Redirect::to("/admin/mailboxes") }),
        )
        .merge(mailboxes::router())
        .merge(agents::router())
        .merge(teams::router())
        .merge(tags::router())
        .merge(saved_replies::router())
        .merge(rules::router())
        .merge(quarantine::router())
        .merge(audit::router())
        .merge(sla::router())
        .merge(stages::router())
        .merge(webhooks::router())
}

/// A signed-in admin, with what every admin page's header shows. Anyone else signed in gets
/// a 403 page; nobody signed in goes to `/login` (as [`CurrentAgent`]).
pub struct AdminAgent {
    pub agent: Agent,
    pub unread_notifications: i64,
}

impl AdminAgent {
    /// This admin as the actor of an audit entry.
    pub fn actor(&self) -> AuditActor {
        AuditActor::agent(&self.agent)
    }
}

impl FromRequestParts<AppState> for AdminAgent {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = CurrentAgent::from_request_parts(parts, state).await?;
        if !who.agent.is_admin() {
            return Err(PageError(AppError::Forbidden(
                "This page is for admins. Ask an admin of your Frontdesk if you need a change here.".into(),
            ))
            .into_response());
        }
        let unread_notifications =
            crate::tickets::actions::unread_notifications(&state.pool, who.agent.agent_id)
                .await
                .map_err(|e| PageError(e.into()).into_response())?;
        Ok(AdminAgent {
            agent: who.agent,
            unread_notifications,
        })
    }
}
