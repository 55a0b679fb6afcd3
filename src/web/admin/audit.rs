//! Admin console: the audit log. `GET /admin/audit?actor=&kind=&cursor=` shows the newest
//! changes first, 50 a page, filtered by actor (an email, `cli`, `system`) and kind (the
//! action's noun: `tag`, `agent`, ...); times in the viewer's time zone; before → after per
//! changed field.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;

use super::AdminAgent;
use crate::audit::{self, AuditFilter};
use crate::auth::Agent;
use crate::timezone::AgentTimeZone;
use crate::web::page::{PageError, render};
use crate::web::{AppError, AppState, fmt};

/// Entries per page.
const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/audit", get(show))
}

/// One changed field: its name and its value before and after, as text.
struct FieldChange {
    field: String,
    before: String,
    after: String,
}

struct Entry {
    id: i64,
    /// In the viewer's time zone.
    at: String,
    at_iso: String,
    actor: String,
    action: String,
    target: String,
    changes: Vec<FieldChange>,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    entries: Vec<Entry>,
    actors: Vec<String>,
    kinds: Vec<String>,
    actor: String,
    kind: String,
    /// The query string of the next page, when there is one.
    next: Option<String>,
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    cursor: String,
}

/// A JSON value as a person reads it: strings bare, null as "—", lists comma-separated.
fn readable(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "yes".into(),
        Some(Value::Bool(false)) => "no".into(),
        Some(Value::Array(a)) if a.is_empty() => "none".into(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| readable(Some(x)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

/// The fields of `before` and `after` (objects, or absent), in order of first appearance.
fn changes(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let mut fields: Vec<String> = Vec::new();
    for v in [before, after].into_iter().flatten() {
        match v {
            Value::Object(m) => {
                for k in m.keys() {
                    if !fields.contains(k) {
                        fields.push(k.clone());
                    }
                }
            }
            _ => {
                if !fields.iter().any(|f| f.is_empty()) {
                    fields.push(String::new());
                }
            }
        }
    }
    let get = |v: Option<&Value>, k: &str| -> Option<Value> {
        match v? {
            Value::Object(m) => m.get(k).cloned(),
            other if k.is_empty() => Some(other.clone()),
            _ => None,
        }
    };
    fields
        .into_iter()
        .map(|f| FieldChange {
            before: if before.is_some() {
                readable(get(before, &f).as_ref())
            } else {
                String::new()
            },
            after: if after.is_some() {
                readable(get(after, &f).as_ref())
            } else {
                String::new()
            },
            field: f,
        })
        .collect()
}

async fn show(
    State(state): State<AppState>,
    who: AdminAgent,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let before_id = match q.cursor.trim() {
        "" => None,
        c => Some(c.parse::<i64>().ok().filter(|c| *c > 0).ok_or_else(|| {
            PageError(AppError::BadRequest("cursor: not a page of the log".into()))
        })?),
    };
    let actor = q.actor.trim().to_string();
    let kind = q.kind.trim().to_string();
    let filter = AuditFilter {
        actor: (!actor.is_empty()).then(|| actor.clone()),
        action: (!kind.is_empty()).then(|| kind.clone()),
        before_id,
        limit: PAGE_SIZE,
    };
    let (events, next_cursor) = audit::list(&state.pool, &filter).await?;
    let (actors, kinds) = audit::filter_choices(&state.pool).await?;
    let tz = AgentTimeZone::from_stored(&who.agent.time_zone);
    let entries = events
        .into_iter()
        .map(|e| Entry {
            id: e.id,
            at: fmt::datetime(e.at, &tz),
            at_iso: e
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            changes: changes(
                e.before.as_ref().map(|j| &j.0),
                e.after.as_ref().map(|j| &j.0),
            ),
            actor: e.actor,
            action: e.action,
            target: e.target,
        })
        .collect();
    let next = next_cursor.map(|c| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if !actor.is_empty() {
            s.append_pair("actor", &actor);
        }
        if !kind.is_empty() {
            s.append_pair("kind", &kind);
        }
        s.append_pair("cursor", &c.to_string());
        s.finish()
    });
    Ok(render(&AuditPage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "audit",
        entries,
        actors,
        kinds,
        actor,
        kind,
        next,
    })?
    .into_response())
}
