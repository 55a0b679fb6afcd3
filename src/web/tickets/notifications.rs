//! The agent's notifications page (@mentions in notes, and rules' `notify`).

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::auth::Agent;
use crate::tickets::actions;
use crate::timezone::AgentTimeZone;
use crate::web::page::{PageError, render};
use crate::web::session::CurrentAgent;
use crate::web::{AppState, fmt};

struct NotificationView {
    ticket: i64,
    subject: String,
    author: String,
    /// A rule's words (`None` for a mention).
    rule_text: Option<String>,
    /// When, in the agent's zone.
    at: fmt::Moment,
    read: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    me: Agent,
    unread_notifications: i64,
    items: Vec<NotificationView>,
}

pub(super) async fn show_notifications(
    State(state): State<AppState>,
    who: CurrentAgent,
) -> Result<Response, PageError> {
    let rows = actions::notifications(&state.pool, who.agent.agent_id).await?;
    let tz = AgentTimeZone::from_stored(&who.agent.time_zone);
    let now = time::OffsetDateTime::now_utc();
    let unread_notifications = rows.iter().filter(|r| !r.read).count() as i64;
    let items = rows
        .into_iter()
        .map(|r| NotificationView {
            ticket: r.ticket_id,
            subject: r.subject,
            author: r.author.unwrap_or_default(),
            rule_text: if r.kind == "rule" {
                Some(r.text.unwrap_or_default())
            } else {
                None
            },
            at: fmt::moment(r.created_at, now, &tz),
            read: r.read,
        })
        .collect();
    Ok(render(&NotificationsPage {
        me: who.agent,
        unread_notifications,
        items,
    })?
    .into_response())
}
