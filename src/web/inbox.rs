//! The inbox page: sidebar folders with counts, filters, rows, keyset pages.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use serde::Deserialize;

use super::page::{PageError, render};
use super::session::CurrentAgent;
use super::{AppError, AppState, fmt};
use crate::auth::{self, Agent};
use crate::tickets::inbox::{self, AssigneeFilter, Folder, InboxQuery, InboxRow, Sort};
use crate::timezone::AgentTimeZone;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/inbox", get(show_inbox))
        .route("/inbox/bulk", axum::routing::post(post_bulk))
}

/// Query string of `/inbox`; every field optional, every value validated.
#[derive(Deserialize, Default)]
pub struct InboxParams {
    folder: Option<String>,
    mailbox: Option<String>,
    tag: Option<String>,
    assignee: Option<String>,
    priority: Option<String>,
    sort: Option<String>,
    after: Option<String>,
}

/// A sidebar link.
pub struct NavItem {
    pub label: String,
    pub href: String,
    pub count: i64,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "inbox/index.html")]
struct InboxPage {
    me: Agent,
    /// This page's URL, to come back to after a bulk action.
    here: String,
    unread_notifications: i64,
    folders: Vec<NavItem>,
    mailboxes: Vec<NavItem>,
    tags: Vec<NavItem>,
    title: String,
    rows: Vec<RowView>,
    next_href: Option<String>,
    agents: Vec<Agent>,
    filters: FilterView,
}

/// Current filter values, for the filter form.
struct FilterView {
    folder: String,
    mailbox: String,
    tag: String,
    assignee: String,
    priority: String,
    sort: String,
}

struct RowView {
    number: i64,
    subject: String,
    snippet: String,
    customer: String,
    mailbox: String,
    assignee: String,
    tags: Vec<String>,
    priority: String,
    status: String,
    /// Last activity, in the agent's zone.
    at: fmt::Moment,
    message_count: i32,
    unread: bool,
    /// Someone else is viewing the ticket / writing on it; names for the tooltip.
    viewing: bool,
    writing: bool,
    presence: String,
}

impl RowView {
    /// The row as the agent in `tz` sees it at `now`.
    fn new(r: InboxRow, now: time::OffsetDateTime, tz: &AgentTimeZone) -> Self {
        RowView {
            number: r.number,
            customer: r
                .customer_name
                .clone()
                .or(r.customer_email.clone())
                .unwrap_or_else(|| "(unknown sender)".into()),
            subject: r.subject,
            snippet: r.snippet,
            mailbox: r.mailbox_address,
            assignee: r.assignee_name.unwrap_or_default(),
            tags: r.tags,
            priority: r.priority,
            status: r.status,
            at: fmt::moment(r.last_message_at, now, tz),
            message_count: r.message_count,
            unread: r.unread,
            viewing: !r.presence.is_empty(),
            writing: r.presence.contains("replying") || r.presence.contains("noting"),
            presence: r.presence,
        }
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Validates the query string; a wrong value is a 400 that names it.
fn parse_params(p: &InboxParams) -> Result<InboxQuery, AppError> {
    let bad = |what: &str, v: &str| AppError::BadRequest(format!("unknown {what} {v:?}"));
    let folder = match non_empty(&p.folder) {
        None => Folder::Open,
        Some(f) => Folder::parse(f).ok_or_else(|| bad("folder", f))?,
    };
    let mailbox_id = match non_empty(&p.mailbox) {
        None => None,
        Some(m) => Some(m.parse().map_err(|_| bad("mailbox", m))?),
    };
    let assignee = match non_empty(&p.assignee) {
        None | Some("anyone") => None,
        Some("me") => Some(AssigneeFilter::Me),
        Some("unassigned") => Some(AssigneeFilter::Unassigned),
        Some(a) => Some(AssigneeFilter::Agent(
            a.parse().map_err(|_| bad("assignee", a))?,
        )),
    };
    let priority = match non_empty(&p.priority) {
        None => None,
        Some(pr) if crate::tickets::actions::PRIORITIES.contains(&pr) => Some(pr.to_string()),
        Some(pr) => return Err(bad("priority", pr)),
    };
    let sort = match non_empty(&p.sort) {
        None => Sort::Recent,
        Some(s) => Sort::parse(s).ok_or_else(|| bad("sort", s))?,
    };
    let after = match non_empty(&p.after) {
        None => None,
        Some(a) => {
            let (at, n) = a.split_once('_').ok_or_else(|| bad("page cursor", a))?;
            Some((
                at.parse().map_err(|_| bad("page cursor", a))?,
                n.parse().map_err(|_| bad("page cursor", a))?,
            ))
        }
    };
    Ok(InboxQuery {
        folder,
        mailbox_id,
        tag: non_empty(&p.tag).map(String::from),
        assignee,
        priority,
        sort,
        after,
        limit: 50,
    })
}

fn href(folder: &str, extra: &[(&str, &str)]) -> String {
    let mut s = format!("/inbox?folder={folder}");
    for (k, v) in extra {
        if !v.is_empty() {
            s.push_str(&format!(
                "&{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            ));
        }
    }
    s
}

async fn show_inbox(
    State(state): State<AppState>,
    who: CurrentAgent,
    Query(p): Query<InboxParams>,
) -> Result<impl IntoResponse, PageError> {
    let q = parse_params(&p)?;
    let visible = who.visible.as_deref();
    let me = who.agent.agent_id;
    // The page's queries are independent: run them at once on separate pool connections.
    let ((rows, more), counts, mailboxes, tags, unread_notifications, agents) = tokio::try_join!(
        inbox::list(&state.pool, me, visible, &q),
        inbox::folder_counts(&state.pool, me, visible),
        inbox::mailbox_entries(&state.pool, visible),
        inbox::tag_entries(&state.pool, visible),
        crate::tickets::actions::unread_notifications(&state.pool, me),
        auth::list_agents(&state.pool),
    )?;

    let filters = FilterView {
        folder: q.folder.key().to_string(),
        mailbox: q.mailbox_id.map(|m| m.to_string()).unwrap_or_default(),
        tag: q.tag.clone().unwrap_or_default(),
        assignee: non_empty(&p.assignee).unwrap_or("").to_string(),
        priority: q.priority.clone().unwrap_or_default(),
        sort: non_empty(&p.sort).unwrap_or("recent").to_string(),
    };
    let only_folder = q.mailbox_id.is_none() && q.tag.is_none();
    let folders = Folder::ALL
        .iter()
        .filter(|(f, _, _)| *f != Folder::All)
        .map(|(f, key, label)| NavItem {
            label: label.to_string(),
            href: href(key, &[]),
            count: counts.get(*f),
            active: only_folder && *f == q.folder,
        })
        .collect();
    let mailbox_nav = mailboxes
        .iter()
        .map(|m| NavItem {
            label: m.name.clone(),
            href: href("open", &[("mailbox", &m.id.to_string())]),
            count: m.open,
            active: q.mailbox_id == Some(m.id),
        })
        .collect();
    let tag_nav = tags
        .iter()
        .map(|t| NavItem {
            label: t.name.clone(),
            href: href("open", &[("tag", &t.name)]),
            count: t.open,
            active: q
                .tag
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(&t.name)),
        })
        .collect();
    let title = match (&q.mailbox_id, &q.tag) {
        (Some(id), _) => mailboxes
            .iter()
            .find(|m| m.id == *id)
            .map(|m| m.name.clone())
            .unwrap_or_else(|| "Mailbox".into()),
        (None, Some(t)) => format!("#{t}"),
        _ => Folder::ALL
            .iter()
            .find(|(f, _, _)| *f == q.folder)
            .map(|(_, _, l)| l.to_string())
            .unwrap_or_default(),
    };
    let next_href = if more {
        rows.last().map(|r| {
            let (at, n) = r.cursor(q.sort);
            let cursor = format!("{at}_{n}");
            href(
                &filters.folder,
                &[
                    ("mailbox", &filters.mailbox),
                    ("tag", &filters.tag),
                    ("assignee", &filters.assignee),
                    ("priority", &filters.priority),
                    ("sort", &filters.sort),
                    ("after", &cursor),
                ],
            )
        })
    } else {
        None
    };
    let here = href(
        &filters.folder,
        &[
            ("mailbox", &filters.mailbox),
            ("tag", &filters.tag),
            ("assignee", &filters.assignee),
            ("priority", &filters.priority),
            ("sort", &filters.sort),
        ],
    );
    let tz = AgentTimeZone::from_stored(&who.agent.time_zone);
    let now = time::OffsetDateTime::now_utc();
    let rows = rows
        .into_iter()
        .map(|r| RowView::new(r, now, &tz))
        .collect();
    render(&InboxPage {
        here,
        me: who.agent,
        unread_notifications,
        folders,
        mailboxes: mailbox_nav,
        tags: tag_nav,
        title,
        rows,
        next_href,
        agents,
        filters,
    })
}

/// `POST /inbox/bulk`: `ticket=N` (repeated), `action` = `assign` | `status` | `tag` | `spam`,
/// and the action's value: `assignee` (an agent id, `me` or `none`), `status` or `tag`. The
/// bar sends all three fields; only the chosen action's is read. A plain `value` field is still
/// read when the action's own field is absent. `back` is the inbox URL to return to.
async fn post_bulk(
    State(state): State<AppState>,
    who: CurrentAgent,
    body: String,
) -> Result<Redirect, PageError> {
    use crate::tickets::actions::{self, BulkAction};
    let mut numbers = Vec::new();
    let (mut action, mut back) = (String::new(), String::from("/inbox"));
    let mut fields: std::collections::HashMap<String, String> = Default::default();
    for (k, v) in url::form_urlencoded::parse(body.as_bytes()) {
        match &*k {
            "ticket" => numbers.push(
                v.parse::<i64>()
                    .map_err(|_| AppError::BadRequest(format!("invalid ticket {v:?}")))?,
            ),
            "action" => action = v.into_owned(),
            "back" if v.starts_with("/inbox") => back = v.into_owned(),
            "value" | "assignee" | "status" | "tag" => {
                fields.insert(k.into_owned(), v.into_owned());
            }
            _ => {}
        }
    }
    if numbers.is_empty() {
        return Err(AppError::BadRequest("select at least one ticket".into()).into());
    }
    let value = |field: &str| {
        fields
            .get(field)
            .or(fields.get("value"))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let action = match action.as_str() {
        "assign" => BulkAction::Assign(bulk_assignee(&state, &who, &value("assignee")).await?),
        "status" => match value("status") {
            s if crate::tickets::STATUSES.contains(&s.as_str()) => BulkAction::Status(s),
            s => return Err(AppError::BadRequest(format!("unknown status {s:?}")).into()),
        },
        "tag" => match value("tag") {
            t if !t.is_empty() => BulkAction::AddTag(t),
            _ => return Err(AppError::BadRequest("type the tag to add".into()).into()),
        },
        "spam" => BulkAction::Spam,
        a => return Err(AppError::BadRequest(format!("unknown bulk action {a:?}")).into()),
    };
    actions::bulk(
        &state.pool,
        who.agent.agent_id,
        who.visible.as_deref(),
        &numbers,
        &action,
    )
    .await
    .map_err(AppError::from)?;
    Ok(Redirect::to(&back))
}

/// The agent a bulk assign names: `me`, `none` (or empty) for nobody, or an existing agent's
/// id. Anything else is a 400 that says what was wrong, before any ticket changes.
async fn bulk_assignee(
    state: &AppState,
    who: &CurrentAgent,
    value: &str,
) -> Result<Option<i64>, AppError> {
    match value {
        "" | "none" => Ok(None),
        "me" => Ok(Some(who.agent.agent_id)),
        v => {
            let unknown = || {
                AppError::BadRequest(format!("no agent {v:?}: choose an assignee from the list"))
            };
            let id: i64 = v.parse().map_err(|_| unknown())?;
            match auth::find_agent(&state.pool, id).await? {
                Some(a) => Ok(Some(a.agent_id)),
                None => Err(unknown()),
            }
        }
    }
}
