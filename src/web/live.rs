//! `GET /events` (Server-Sent Events) and presence heartbeats.
//!
//! Each browser tab holds one SSE connection to the node it talks to; that node forwards the
//! live events of the mailboxes the agent may see, whichever node caused them.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Form, Json, Router};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::session::CurrentAgent;
use super::{AppError, AppState};
use crate::auth;
use crate::live::{self, LiveEvent};
use crate::tickets::drafts;
use crate::web::extract::{PathNumber, number_in_path};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(stream_events))
        .route(
            "/tickets/{number}/presence",
            get(show_presence).post(post_presence),
        )
        .route("/tickets/{number}/drafts", get(show_drafts))
        .route(
            "/tickets/{number}/drafts/{kind}",
            axum::routing::post(post_draft),
        )
        .route(
            "/tickets/{number}/drafts/{kind}/take",
            axum::routing::post(post_take_draft),
        )
        .route(
            "/tickets/{number}/drafts/{kind}/discard",
            axum::routing::post(post_discard_draft),
        )
}

/// The agent's live events, each with an id. The first event is `ready`; a browser that
/// reconnects sends the last id it saw (`Last-Event-ID`, which `EventSource` does by itself)
/// and gets a `resync` first, since events of the gap are not kept. A slow client that falls
/// behind gets a `resync` too. While the stream is open the agent counts as seen (online),
/// renewed every [`auth::SEEN_EVERY_SECS`]. A stream whose session no longer counts (signed
/// out, agent disabled, password changed) ends: at once when [`LiveEvent::SessionsChanged`]
/// names its agent (sent by those changes, from any node) or after a `resync` (events may have
/// been missed), else at the periodic check. Every stream ends when the node shuts down.
async fn stream_events(
    State(state): State<AppState>,
    who: CurrentAgent,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    struct Open {
        rx: tokio::sync::broadcast::Receiver<LiveEvent>,
        visible: Option<Vec<i64>>,
        pool: sqlx::PgPool,
        agent_id: i64,
        generation: i32,
        seen: tokio::time::Interval,
        id: u64,
        hub: live::Hub,
        session: Option<tower_sessions::session::Id>,
        /// Counts the stream in `frontdesk_live_streams_open` until it ends.
        _counted: crate::telemetry::metrics::LiveStream,
    }
    impl Open {
        /// Whether this stream's session still counts (it also marks the agent as seen).
        async fn session_counts(&self) -> bool {
            match auth::find_agent_seen(&self.pool, self.agent_id, self.generation).await {
                Ok(Some(_)) => {}
                Ok(None) => return false,
                Err(e) => {
                    tracing::warn!(error = %e, agent.id = self.agent_id, "cannot record that an agent is online");
                    return true;
                }
            }
            let Some(id) = &self.session else {
                return true;
            };
            let store = tower_sessions_sqlx_store::PostgresStore::new(self.pool.clone());
            match tower_sessions::SessionStore::load(&store, id).await {
                Ok(found) => found.is_some(),
                Err(e) => {
                    tracing::warn!(error = %e, agent.id = self.agent_id, "cannot check a live stream's session");
                    true
                }
            }
        }
    }
    let mut seen = tokio::time::interval(Duration::from_secs(auth::SEEN_EVERY_SECS as u64));
    seen.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let open = Open {
        _counted: crate::telemetry::metrics::LiveStream::open(),
        rx: state.live.subscribe(),
        visible: who.visible,
        pool: state.pool.clone(),
        agent_id: who.agent.agent_id,
        generation: who.agent.session_generation,
        seen,
        id: 0,
        hub: state.live.clone(),
        session: who.session.id(),
    };
    let first = if headers.contains_key("last-event-id") {
        Event::default()
            .event("resync")
            .data("{\"kind\":\"resync\"}")
    } else {
        Event::default().event("ready").data("{}")
    };
    let head = futures::stream::once(async move { Ok(first.id("0")) });
    let events = futures::stream::unfold(open, |mut open| async move {
        loop {
            let ev = tokio::select! {
                // The node is shutting down: end the stream now (graceful shutdown waits for
                // every response); the browser reconnects, to another node if there is one.
                _ = open.hub.closed() => return None,
                r = open.rx.recv() => match r {
                    Ok(ev) => ev,
                    Err(RecvError::Lagged(_)) => LiveEvent::Resync,
                    Err(RecvError::Closed) => return None,
                },
                _ = open.seen.tick() => {
                    // Signed out, disabled, or signed out everywhere by a new password: the
                    // stream ends, and the browser's reconnect is sent to the login page.
                    if !open.session_counts().await {
                        return None;
                    }
                    continue;
                }
            };
            match ev {
                LiveEvent::SessionsChanged { agent } => {
                    if agent == open.agent_id && !open.session_counts().await {
                        return None;
                    }
                    continue;
                }
                LiveEvent::Resync if !open.session_counts().await => return None,
                _ => {}
            }
            let allowed = match (ev.mailbox(), &open.visible) {
                (None, _) | (_, None) => true,
                (Some(m), Some(v)) => v.contains(&m),
            };
            if allowed {
                open.id += 1;
                let data = serde_json::to_string(&ev).unwrap_or_default();
                let event = Event::default()
                    .event(ev.name())
                    .id(open.id.to_string())
                    .data(data);
                return Some((Ok(event), open));
            }
        }
    });
    Sse::new(head.chain(events)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn visible_ticket_mailbox(
    state: &AppState,
    who: &CurrentAgent,
    number: i64,
) -> Result<(i64, i64), AppError> {
    let mailbox =
        crate::tickets::visible_mailbox_of(&state.pool, who.visible.as_deref(), number).await?;
    Ok((number, mailbox.ok_or(AppError::NotFound)?))
}

#[derive(Deserialize)]
struct PresenceForm {
    /// `viewing`, `replying`, `noting` or `left`.
    activity: String,
}

/// A heartbeat from an open ticket page (every few seconds), or `left` when it closes.
async fn post_presence(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
    Form(f): Form<PresenceForm>,
) -> Result<StatusCode, AppError> {
    if !matches!(
        f.activity.as_str(),
        "viewing" | "replying" | "noting" | "left"
    ) {
        return Err(AppError::BadRequest(format!(
            "unknown activity {:?}",
            f.activity
        )));
    }
    let (number, mailbox) = visible_ticket_mailbox(&state, &who, number).await?;
    live::set_presence(
        &state.pool,
        who.agent.agent_id,
        number,
        mailbox,
        &f.activity,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who else is on the ticket: `[{"agent_id", "name", "activity"}]`.
async fn show_presence(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
) -> Result<impl IntoResponse, AppError> {
    let (number, _) = visible_ticket_mailbox(&state, &who, number).await?;
    Ok(Json(
        live::presence_on(&state.pool, number, who.agent.agent_id).await?,
    ))
}

/// The ticket's shared drafts: `[{"kind", "owner_agent_id", "owner_name", "body", "to_addrs",
/// "cc_addrs", "version", "updated_at"}]`.
async fn show_drafts(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
) -> Result<impl IntoResponse, AppError> {
    let drafts = drafts::drafts_of(&state.pool, who.visible.as_deref(), number).await?;
    Ok(Json(drafts))
}

/// Autosave: 200 `{"version"}`, or 409 `{"error", "draft"}` with the current draft when
/// someone else owns it or saved meanwhile (`"draft": null` when it was sent or discarded).
async fn post_draft(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path((number, kind)): Path<(String, String)>,
    Form(text): Form<drafts::DraftText>,
) -> Result<axum::response::Response, AppError> {
    let number = number_in_path(&number)?;
    match drafts::save(&state.pool, who.agent.agent_id, who.visible.as_deref(), number, &kind, &text).await {
        Ok(version) => Ok(Json(serde_json::json!({ "version": version })).into_response()),
        Err(drafts::DraftError::Conflict(current)) => Ok((
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": format!("{} changed this draft", current.owner_name), "draft": current })),
        )
            .into_response()),
        Err(drafts::DraftError::Gone) => Ok((
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": "the draft was sent or discarded", "draft": null })),
        )
            .into_response()),
        Err(drafts::DraftError::Action(a)) => Err(a.into()),
        Err(drafts::DraftError::Db(d)) => Err(d.into()),
    }
}

async fn post_take_draft(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path((number, kind)): Path<(String, String)>,
) -> Result<impl IntoResponse, AppError> {
    let v = drafts::take_over(
        &state.pool,
        who.agent.agent_id,
        who.visible.as_deref(),
        number_in_path(&number)?,
        &kind,
    )
    .await?;
    Ok(Json(serde_json::json!({ "version": v })))
}

async fn post_discard_draft(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path((number, kind)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    drafts::discard(
        &state.pool,
        who.visible.as_deref(),
        number_in_path(&number)?,
        &kind,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
