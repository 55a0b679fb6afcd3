//! One-time notices for the page after a form post (post/redirect/get): "Closed #12",
//! "@foo matches no agent; nobody was notified". They wait in the session until a page shows
//! them, so they survive the redirect and are never shown twice.

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

const KEY: &str = "notices";

/// A notice at the top of the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Something went other than the agent may think (shown as an alert), or plain news.
    pub warning: bool,
    pub text: String,
}

impl Notice {
    /// News: "#12 is now closed."
    pub fn info(text: impl Into<String>) -> Notice {
        Notice {
            warning: false,
            text: text.into(),
        }
    }

    /// Something the agent must not miss: "@foo matches no agent; nobody was notified."
    pub fn warning(text: impl Into<String>) -> Notice {
        Notice {
            warning: true,
            text: text.into(),
        }
    }
}

/// Queues notices for the next page this session loads. A session store failure is logged,
/// not raised: the action itself has already succeeded.
pub async fn push(session: &Session, notices: impl IntoIterator<Item = Notice>) {
    let new: Vec<Notice> = notices.into_iter().collect();
    if new.is_empty() {
        return;
    }
    let mut all: Vec<Notice> = session.get(KEY).await.ok().flatten().unwrap_or_default();
    all.extend(new);
    if let Err(e) = session.insert(KEY, all).await {
        tracing::warn!(error = %e, "notice not kept for the next page");
    }
}

/// Takes the queued notices (the session is only written when there were some). A page's
/// script re-reading it in the background (`X-Frontdesk-Refresh`) takes none: they are for
/// the page the agent is shown.
pub async fn take(session: &Session, headers: &HeaderMap) -> Vec<Notice> {
    if headers.contains_key("x-frontdesk-refresh") {
        return Vec::new();
    }
    match session.get::<Vec<Notice>>(KEY).await {
        Ok(Some(n)) => {
            let _ = session.remove_value(KEY).await;
            n
        }
        _ => Vec::new(),
    }
}
