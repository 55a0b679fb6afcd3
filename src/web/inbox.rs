//! The inbox page: sidebar folders with counts, filters, rows, keyset pages.

use askama::Template;
use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::flash::{self, Notice};
use super::page::{PageError, render};
use super::session::CurrentAgent;
use super::{AppError, AppState, fmt};
use crate::auth::{self, Agent};
use crate::tickets::inbox::{self, AssigneeFilter, Folder, InboxQuery, InboxRow, Sort};
use crate::tickets::saved_views::{self, SavedView};
use crate::tickets::sidebar_counts;
use crate::timezone::AgentTimeZone;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/inbox", get(show_inbox))
        .route("/inbox/sidebar-counts", get(get_sidebar_counts))
        .route("/inbox/bulk", axum::routing::post(post_bulk))
        .merge(super::views::router())
}

/// Query string of `/inbox`; every field optional, every value validated.
#[derive(Deserialize, Default)]
pub struct InboxParams {
    folder: Option<String>,
    mailbox: Option<String>,
    tag: Option<String>,
    assignee: Option<String>,
    priority: Option<String>,
    /// `yes`: VIP customers only.
    vip: Option<String>,
    /// A lifecycle stage's id: customers in that stage only.
    stage: Option<String>,
    /// `yes`: customers waiting for our answer only.
    waiting: Option<String>,
    sort: Option<String>,
    after: Option<String>,
    /// The saved view this list was opened from (its id); kept while filters change, so that
    /// the view can be updated to them.
    view: Option<String>,
}

impl InboxParams {
    /// Reads an inbox query string (`folder=open&sort=oldest`); unknown keys are ignored.
    fn from_query(raw: &str) -> InboxParams {
        let mut p = InboxParams::default();
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            let v = Some(v.into_owned());
            match &*k {
                "folder" => p.folder = v,
                "mailbox" => p.mailbox = v,
                "tag" => p.tag = v,
                "assignee" => p.assignee = v,
                "priority" => p.priority = v,
                "vip" => p.vip = v,
                "stage" => p.stage = v,
                "waiting" => p.waiting = v,
                "sort" => p.sort = v,
                _ => {}
            }
        }
        p
    }
}

/// Validates an inbox query string (filters and sort; a page cursor or view id in it is
/// dropped) with the inbox URL's own parser: the query and its canonical query string, the one
/// ticket links carry as `list` and saved views store. A wrong value is a 400 that names it.
pub(crate) fn canonical_query(raw: &str) -> Result<(InboxQuery, String), AppError> {
    let p = InboxParams::from_query(raw.trim().trim_start_matches('?'));
    let query = parse_params(&p)?;
    let qs = list_query_string(&FilterView::new(&p, &query));
    Ok((query, qs))
}

/// The inbox list a ticket was opened from. Ticket links and forms carry it as
/// `list=<the list's query string>`, so that closing a ticket can go on to the next ticket of
/// that list and "← Inbox" goes back to it.
#[derive(Debug, Clone)]
pub struct ListContext {
    query: InboxQuery,
    /// The list's canonical query string, without a page cursor.
    qs: String,
}

impl ListContext {
    /// Reads a `list` value; `None` when empty or not a valid inbox query (a stale or edited
    /// link still opens its ticket, just without a list).
    pub fn parse(raw: &str) -> Option<ListContext> {
        if raw.trim().is_empty() {
            return None;
        }
        let (query, qs) = canonical_query(raw).ok()?;
        Some(ListContext { query, qs })
    }

    /// The `list` value of ticket links and forms.
    pub fn as_str(&self) -> &str {
        &self.qs
    }

    /// The list itself.
    pub fn inbox_href(&self) -> String {
        format!("/inbox?{}", self.qs)
    }

    /// Ticket `number`, opened from this list.
    pub fn ticket_href(&self, number: i64) -> String {
        format!(
            "/tickets/{number}?list={}",
            percent_encoding::utf8_percent_encode(&self.qs, percent_encoding::NON_ALPHANUMERIC)
        )
    }

    /// Where ticket `current` stands in this list's order (whether or not it is in the list).
    /// Taken before the ticket changes, so that "next" is the one after it as the agent saw
    /// the list, even when a reply just made it the newest.
    pub async fn place_of(
        &self,
        state: &AppState,
        who: &CurrentAgent,
        current: i64,
    ) -> sqlx::Result<Option<(i64, i64)>> {
        inbox::cursor_of(
            &state.pool,
            who.visible.as_deref(),
            current,
            self.query.sort,
        )
        .await
    }

    /// The first ticket of this list, as it is now, after `place`.
    async fn next_after(
        &self,
        state: &AppState,
        who: &CurrentAgent,
        place: (i64, i64),
    ) -> sqlx::Result<Option<i64>> {
        let q = InboxQuery {
            after: Some(place),
            limit: 1,
            ..self.query.clone()
        };
        let (rows, _) =
            inbox::list(&state.pool, who.agent.agent_id, who.visible.as_deref(), &q).await?;
        Ok(rows.first().map(|r| r.number))
    }
}

/// Where closing a ticket leads: the next ticket of its list after `place` (from
/// [`ListContext::place_of`]), else the list, else (opened from no list) the inbox.
pub async fn after_closing(
    state: &AppState,
    who: &CurrentAgent,
    list: Option<&ListContext>,
    place: Option<(i64, i64)>,
) -> sqlx::Result<String> {
    let Some(list) = list else {
        return Ok("/inbox".to_string());
    };
    let next = match place {
        Some(p) => list.next_after(state, who, p).await?,
        None => None,
    };
    Ok(match next {
        Some(n) => list.ticket_href(n),
        None => list.inbox_href(),
    })
}

/// A sidebar link.
pub struct NavItem {
    pub label: String,
    pub href: String,
    pub count: i64,
    pub active: bool,
}

/// An entry of the sidebar's Views section: a saved view or a built-in one.
pub struct ViewItem {
    pub label: String,
    pub href: String,
    /// Tickets still to be done, when a fresh cached count exists ([`sidebar_counts::cached`]);
    /// `None` otherwise, and for a view of closed tickets or spam (see [`inbox::count_to_do`]).
    pub count: Option<i64>,
    /// Key of its count in `GET /inbox/sidebar-counts` (the page's script fills the slot);
    /// `None` for a saved view whose filters no longer parse, which is never counted.
    pub count_key: Option<String>,
    pub active: bool,
    /// `g` then this digit opens it (the first nine entries).
    pub key: Option<usize>,
    /// Who else sees it, for a shared saved view ("Team Billing", "Everyone").
    pub shared_with: Option<String>,
}

/// The saved view the list was opened from, for the "update" and "manage" controls.
struct ActiveView {
    id: i64,
    name: String,
    /// The filters or sort differ from the view's: offer to update the view to them.
    changed: bool,
    /// The agent may change it ([`saved_views::SavedView::changeable_by`]).
    changeable: bool,
}

#[derive(Template)]
#[template(path = "inbox/index.html")]
struct InboxPage {
    me: Agent,
    /// This page's URL, to come back to after a bulk action.
    here: String,
    unread_notifications: i64,
    folders: Vec<NavItem>,
    /// The agent's saved views in their order, then the built-in views ("At-risk accounts",
    /// "VIP waiting").
    views: Vec<ViewItem>,
    /// The saved view this list was opened from.
    active_view: Option<ActiveView>,
    /// The current list's canonical query string: what "Save view" stores.
    list_query: String,
    /// Visibility choices of "Save view" `(form value, label)`: personal, and for leads and
    /// admins everyone and each of their teams.
    share_choices: Vec<(String, String)>,
    mailboxes: Vec<NavItem>,
    tags: Vec<NavItem>,
    title: String,
    rows: Vec<RowView>,
    next_href: Option<String>,
    agents: Vec<Agent>,
    filters: FilterView,
    /// Lifecycle stages `(id, name)` for the stage filter.
    stages: Vec<(i64, String)>,
    /// What the last action did ("Closed #12").
    notices: Vec<Notice>,
    /// The agent sees no mailbox at all (no team grants one yet).
    no_mailboxes: bool,
}

/// Current filter values, for the filter form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct FilterView {
    folder: String,
    mailbox: String,
    tag: String,
    assignee: String,
    priority: String,
    /// `yes` or empty.
    vip: String,
    /// A stage id or empty.
    stage: String,
    /// `yes` or empty.
    waiting: String,
    sort: String,
}

impl FilterView {
    fn new(p: &InboxParams, q: &InboxQuery) -> FilterView {
        FilterView {
            folder: q.folder.key().to_string(),
            mailbox: q.mailbox_id.map(|m| m.to_string()).unwrap_or_default(),
            tag: q.tag.clone().unwrap_or_default(),
            // "anyone" is no filter: left out, so that a list has one spelling.
            assignee: non_empty(&p.assignee)
                .filter(|a| *a != "anyone")
                .unwrap_or("")
                .to_string(),
            priority: q.priority.map(|p| p.to_string()).unwrap_or_default(),
            vip: if q.vip { "yes".into() } else { String::new() },
            stage: q.stage.map(|s| s.to_string()).unwrap_or_default(),
            waiting: if q.waiting {
                "yes".into()
            } else {
                String::new()
            },
            sort: non_empty(&p.sort).unwrap_or("recent").to_string(),
        }
    }

    /// The shared views of the sidebar, with their filters: "At-risk accounts" (open tickets
    /// of customers in the seeded "at risk" stage `at_risk`; left out when that stage is
    /// gone) and "VIP waiting" (open tickets of VIP customers waiting for our answer), both
    /// least recent activity first.
    fn views(at_risk: Option<i64>) -> Vec<(&'static str, FilterView)> {
        let base = FilterView {
            folder: "open".into(),
            sort: "oldest".into(),
            ..Default::default()
        };
        let mut v = Vec::new();
        if let Some(stage) = at_risk {
            v.push((
                "At-risk accounts",
                FilterView {
                    stage: stage.to_string(),
                    ..base.clone()
                },
            ));
        }
        v.push((
            "VIP waiting",
            FilterView {
                vip: "yes".into(),
                waiting: "yes".into(),
                ..base
            },
        ));
        v
    }

    /// `/inbox?…` for these filters, plus `extra` pairs.
    fn href(&self, extra: &[(&str, &str)]) -> String {
        let mut pairs = vec![
            ("mailbox", self.mailbox.as_str()),
            ("tag", self.tag.as_str()),
            ("assignee", self.assignee.as_str()),
            ("priority", self.priority.as_str()),
            ("vip", self.vip.as_str()),
            ("stage", self.stage.as_str()),
            ("waiting", self.waiting.as_str()),
            ("sort", self.sort.as_str()),
        ];
        pairs.extend_from_slice(extra);
        href(&self.folder, &pairs)
    }
}

/// The query string of a list (no page cursor): what ticket links carry as `list`.
fn list_query_string(f: &FilterView) -> String {
    f.href(&[]).trim_start_matches("/inbox?").to_string()
}

struct RowView {
    number: i64,
    /// The ticket, opened from this list.
    href: String,
    subject: String,
    snippet: String,
    customer: String,
    /// The customer is VIP (a badge on the row).
    vip: bool,
    mailbox: String,
    assignee: String,
    tags: Vec<String>,
    priority: String,
    status: String,
    /// Last activity, in the agent's zone.
    at: fmt::Moment,
    /// How long the customer has been waiting for us (`relative` is the duration, `local` the
    /// start); `None` when we wrote last or the ticket is closed.
    waiting: Option<fmt::Moment>,
    /// Who wrote the latest message: `Customer` or the agent's name.
    last_writer: String,
    /// The nearest SLA due time as a countdown ("2 h 10 min", "overdue 20 min"), its CSS
    /// class (`sla-running`, `sla-at-risk`, `sla-overdue`) and the due time (`iso`, `local`).
    sla: Option<(String, &'static str, fmt::Moment)>,
    message_count: i32,
    unread: bool,
    /// Someone else is viewing the ticket / writing on it; names for the tooltip.
    viewing: bool,
    writing: bool,
    presence: String,
}

impl RowView {
    /// The row as the agent in `tz` sees it at `now`.
    fn new(r: InboxRow, now: time::OffsetDateTime, tz: &AgentTimeZone, list: &ListContext) -> Self {
        let waiting = r
            .waiting_since
            .filter(|_| r.status != "closed")
            .map(|since| fmt::Moment {
                relative: fmt::waited(since, now),
                ..fmt::moment(since, now, tz)
            });
        let sla = r.sla_due_at.filter(|_| r.status != "closed").map(|due| {
            let class = if due <= now {
                "sla-overdue"
            } else if r.sla_warned {
                "sla-at-risk"
            } else {
                "sla-running"
            };
            (
                crate::sla::clocks::countdown(due, now),
                class,
                fmt::moment(due, now, tz),
            )
        });
        RowView {
            sla,
            number: r.number,
            href: list.ticket_href(r.number),
            customer: r
                .customer_name
                .clone()
                .or(r.customer_email.clone())
                .unwrap_or_else(|| "(unknown sender)".into()),
            vip: r.customer_vip,
            subject: r.subject,
            snippet: r.snippet,
            mailbox: r.mailbox_address,
            assignee: r.assignee_name.unwrap_or_default(),
            tags: r.tags,
            priority: r.priority,
            status: r.status,
            at: fmt::moment(r.last_message_at, now, tz),
            waiting,
            last_writer: r.last_author_name.unwrap_or_else(|| "Customer".into()),
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
        Some(pr) => Some(
            pr.parse::<crate::tickets::Priority>()
                .map_err(|_| bad("priority", pr))?,
        ),
    };
    let yes = |what: &str, v: &Option<String>| match non_empty(v) {
        None | Some("no") => Ok(false),
        Some("yes") => Ok(true),
        Some(x) => Err(bad(what, x)),
    };
    let vip = yes("vip filter", &p.vip)?;
    let waiting = yes("waiting filter", &p.waiting)?;
    let stage = match non_empty(&p.stage) {
        None => None,
        Some(s) => Some(s.parse().map_err(|_| bad("lifecycle stage", s))?),
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
        vip,
        stage,
        waiting,
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

/// The seeded "at risk" lifecycle stage among `stages`, when it still exists.
fn at_risk_stage(stages: &[crate::customers::stages::Stage]) -> Option<i64> {
    stages
        .iter()
        .find(|s| s.builtin.as_deref() == Some(crate::customers::stages::AT_RISK))
        .map(|s| s.id)
}

/// Each of `saved` read back through the inbox's parser: its list and canonical query string,
/// `None` for a view whose stored filters no longer parse.
pub(crate) fn parse_saved(saved: &[SavedView]) -> Vec<Option<(InboxQuery, String)>> {
    saved
        .iter()
        .map(|v| canonical_query(&v.query).ok())
        .collect()
}

/// What `who`'s sidebar view counts are computed for: their mailboxes, their saved views
/// `saved` that parse (`parsed`, from [`parse_saved`]) and the at-risk stage.
pub(crate) fn count_scope<'a>(
    who: &'a CurrentAgent,
    saved: &[SavedView],
    parsed: &[Option<(InboxQuery, String)>],
    at_risk: Option<i64>,
) -> sidebar_counts::Scope<'a> {
    sidebar_counts::Scope {
        agent_id: who.agent.agent_id,
        visible: who.visible.as_deref(),
        views: saved
            .iter()
            .zip(parsed)
            .filter_map(|(v, p)| {
                p.as_ref()
                    .map(|(q, qs)| (v.saved_view_id, qs.clone(), q.clone()))
            })
            .collect(),
        at_risk,
    }
}

/// The scope of `who`'s sidebar view counts, read from the database (stages, saved views).
pub(crate) async fn load_count_scope<'a>(
    state: &AppState,
    who: &'a CurrentAgent,
) -> Result<(Vec<SavedView>, sidebar_counts::Scope<'a>), AppError> {
    use crate::customers::stages;
    let (at_risk, saved) = tokio::try_join!(
        stages::find_builtin(&state.pool, stages::AT_RISK),
        saved_views::list_for(&state.pool, who.agent.agent_id),
    )?;
    let scope = count_scope(who, &saved, &parse_saved(&saved), at_risk);
    Ok((saved, scope))
}

/// `GET /inbox/sidebar-counts`: the counts of the sidebar's Views section for the signed-in
/// agent, in their mailboxes only, as a JSON object keyed like the pages' `data-count-key`
/// slots: `{"view:<id>": n or null, "at-risk": n, "vip-waiting": n}` (`null`: a view of closed
/// tickets or spam). At most [`sidebar_counts::FRESH_FOR_SECS`] seconds old. Without a
/// session it redirects to the login page, as every page does.
async fn get_sidebar_counts(
    State(state): State<AppState>,
    who: CurrentAgent,
) -> Result<Response, AppError> {
    let (_, scope) = load_count_scope(&state, &who).await?;
    let counts = sidebar_counts::counts(&state.pool, &scope).await?;
    // Numbers, not mail: the browser's private cache may hold them, revalidated on every use.
    // Not `no-store` (every other answer's default): Chromium keeps no page in the
    // back/forward cache once a script of it received a `no-store` response.
    Ok(([(header::CACHE_CONTROL, "private, no-cache")], Json(counts)).into_response())
}

async fn show_inbox(
    State(state): State<AppState>,
    who: CurrentAgent,
    headers: axum::http::HeaderMap,
    Query(p): Query<InboxParams>,
) -> Result<impl IntoResponse, PageError> {
    let q = parse_params(&p)?;
    let view_param = match non_empty(&p.view) {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| AppError::BadRequest(format!("unknown view {v:?}")))?,
        ),
    };
    let visible = who.visible.as_deref();
    let me = who.agent.agent_id;
    // The page's queries are independent: run them at once on separate pool connections.
    let (stages, saved, my_teams) = tokio::try_join!(
        crate::customers::stages::list_uncounted(&state.pool),
        saved_views::list_for(&state.pool, me),
        saved_views::teams_of(&state.pool, me),
    )?;
    let at_risk = at_risk_stage(&stages);
    // Each saved view read back through the inbox's parser (a view that no longer parses is
    // listed without a count and opens the inbox's error).
    let saved_lists = parse_saved(&saved);
    // The Views section's counts only when cached and fresh: counting them takes hundreds of
    // milliseconds at a million tickets; the page's script fetches them otherwise.
    let scope = count_scope(&who, &saved, &saved_lists, at_risk);
    let ((rows, more), counts, view_counts, mailboxes, tags, unread_notifications, agents) = tokio::try_join!(
        inbox::list(&state.pool, me, visible, &q),
        inbox::folder_counts(&state.pool, me, visible),
        sidebar_counts::cached(&state.pool, &scope),
        inbox::mailbox_entries(&state.pool, visible),
        inbox::tag_entries(&state.pool, visible),
        crate::tickets::actions::unread_notifications(&state.pool, me),
        auth::list_agents(&state.pool),
    )?;

    let filters = FilterView::new(&p, &q);
    let list_query = list_query_string(&filters);
    // Only a view the agent sees counts as the one the list came from.
    let view_param = view_param.filter(|id| saved.iter().any(|v| v.saved_view_id == *id));
    let cached_count = |key: &str| {
        view_counts
            .as_ref()
            .and_then(|c| c.get(key).copied().flatten())
    };
    let mut views: Vec<ViewItem> = saved
        .iter()
        .zip(&saved_lists)
        .map(|(v, parsed)| {
            let (href, count_key, same) = match parsed {
                Some((_, qs)) => (
                    format!("/inbox?{qs}&view={}", v.saved_view_id),
                    Some(sidebar_counts::saved_view_key(v.saved_view_id)),
                    *qs == list_query,
                ),
                None => (
                    format!("/inbox?{}&view={}", v.query, v.saved_view_id),
                    None,
                    false,
                ),
            };
            ViewItem {
                label: v.name.clone(),
                href,
                count: count_key.as_deref().and_then(cached_count),
                count_key,
                active: view_param == Some(v.saved_view_id) || (view_param.is_none() && same),
                key: None,
                shared_with: (v.visibility() != saved_views::Visibility::Personal)
                    .then(|| v.shared_with()),
            }
        })
        .collect();
    // One entry highlighted at most: the first match.
    let mut seen_active = false;
    for v in &mut views {
        v.active = v.active && !seen_active;
        seen_active |= v.active;
    }
    let active_view = saved
        .iter()
        .zip(&saved_lists)
        .zip(&views)
        .find(|(_, item)| item.active)
        .map(|((v, parsed), _)| ActiveView {
            id: v.saved_view_id,
            name: v.name.clone(),
            changed: parsed.as_ref().map(|(_, qs)| qs) != Some(&list_query),
            changeable: v.changeable_by(&who.agent),
        });
    views.extend(FilterView::views(at_risk).into_iter().map(|(label, v)| {
        let key = if v.vip.is_empty() {
            sidebar_counts::AT_RISK_KEY
        } else {
            sidebar_counts::VIP_WAITING_KEY
        };
        ViewItem {
            label: label.to_string(),
            href: v.href(&[]),
            count: cached_count(key),
            count_key: Some(key.to_string()),
            active: active_view.is_none() && v == filters,
            key: None,
            shared_with: None,
        }
    }));
    for (i, v) in views.iter_mut().enumerate().take(9) {
        v.key = Some(i + 1);
    }
    let view_id = active_view
        .as_ref()
        .map(|v| v.id.to_string())
        .unwrap_or_default();
    let view_extra = [("view", view_id.as_str())];
    let share_choices = super::views::share_choices(&who.agent, &my_teams);
    let view_title = views.iter().find(|v| v.active).map(|v| v.label.clone());
    let only_folder = q.mailbox_id.is_none() && q.tag.is_none() && view_title.is_none();
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
        _ if view_title.is_some() => view_title.clone().unwrap_or_default(),
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
            filters.href(&[("after", &format!("{at}_{n}")), view_extra[0]])
        })
    } else {
        None
    };
    let here = filters.href(&view_extra);
    let list = ListContext {
        query: q.clone(),
        qs: list_query.clone(),
    };
    let tz = AgentTimeZone::from_stored(&who.agent.time_zone);
    let now = time::OffsetDateTime::now_utc();
    let rows = rows
        .into_iter()
        .map(|r| RowView::new(r, now, &tz, &list))
        .collect();
    let notices = flash::take(&who.session, &headers).await;
    let no_mailboxes = who.visible.as_ref().is_some_and(|v| v.is_empty());
    render(&InboxPage {
        notices,
        no_mailboxes,
        here,
        me: who.agent,
        unread_notifications,
        folders,
        views,
        active_view,
        list_query,
        share_choices,
        stages: stages.into_iter().map(|s| (s.id, s.name)).collect(),
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
        "status" => BulkAction::Status(value("status").parse().map_err(AppError::from)?),
        "tag" => match value("tag") {
            t if !t.is_empty() => BulkAction::AddTag(t),
            _ => return Err(AppError::BadRequest("type the tag to add".into()).into()),
        },
        "spam" => BulkAction::Spam,
        a => return Err(AppError::BadRequest(format!("unknown bulk action {a:?}")).into()),
    };
    let outcome = actions::bulk(
        &state.pool,
        who.actor(),
        who.visible.as_deref(),
        &numbers,
        &action,
    )
    .await
    .map_err(AppError::from)?;
    let tickets = |n: usize| {
        if n == 1 {
            "1 ticket".to_string()
        } else {
            format!("{n} tickets")
        }
    };
    let mut notices = vec![Notice::info(format!(
        "{} changed.",
        tickets(outcome.changed)
    ))];
    if let Some((n, name)) = outcome.assignee_cannot_see {
        notices.push(Notice::warning(format!(
            "{} not assigned: {name} cannot see their mailbox.",
            tickets(n)
        )));
    }
    flash::push(&who.session, notices).await;
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
