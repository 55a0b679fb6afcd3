//! `GET /search?q=`: full-text search over the agent's visible tickets.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::page::{PageError, render};
use super::session::CurrentAgent;
use super::{AppState, fmt};
use crate::auth::Agent;
use crate::search;

pub fn router() -> Router<AppState> {
    Router::new().route("/search", get(show_search))
}

#[derive(Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
}

struct HitView {
    number: i64,
    subject: String,
    status: String,
    customer: String,
    /// Last activity, in the agent's zone.
    at: super::fmt::Moment,
    /// Escaped text with `<mark>` around matches.
    excerpt_html: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    me: Agent,
    unread_notifications: i64,
    q: String,
    hits: Vec<HitView>,
    /// Filters the search left out, with what they take: `status:bogus (status: open, ...)`.
    ignored: Vec<String>,
}

async fn show_search(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(p): Query<SearchParams>,
) -> Result<Response, PageError> {
    let hits = search::search(&state.pool, who.visible.as_deref(), &p.q, 50).await?;
    let parsed = search::parse(&p.q);
    // `#17` opens ticket 17 when the agent may see it (else: no hits, as for any search).
    if parsed.ticket.is_some()
        && let [hit] = hits.as_slice()
    {
        return Ok(Redirect::to(&format!("/tickets/{}", hit.number)).into_response());
    }
    let ignored = parsed
        .unknown
        .iter()
        .map(|f| format!("{f} (status is one of {})", search::STATUSES.join(", ")))
        .collect();
    let unread_notifications =
        crate::tickets::actions::unread_notifications(&state.pool, who.agent.agent_id).await?;
    let tz = crate::timezone::AgentTimeZone::from_stored(&who.agent.time_zone);
    let now = time::OffsetDateTime::now_utc();
    let hits = hits
        .into_iter()
        .map(|h| HitView {
            number: h.number,
            customer: h.customer_name.or(h.customer_email).unwrap_or_default(),
            subject: h.subject,
            status: h.status,
            at: fmt::moment(h.last_message_at, now, &tz),
            excerpt_html: search::excerpt_html(&h.excerpt),
        })
        .collect();
    Ok(render(&SearchPage {
        me: who.agent,
        unread_notifications,
        q: p.q,
        hits,
        ignored,
    })?
    .into_response())
}
