//! Saved views of the inbox: save the current filters and sort as a view, rename, share,
//! update, delete and reorder views (`/inbox/views`). Listing them in the sidebar with their
//! counts is the inbox page's job (`inbox.rs`, which also answers the counts to the pages'
//! script); the rules are in `tickets::saved_views`.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::extract::PathNumber;
use super::flash::{self, Notice};
use super::inbox::{canonical_query, load_count_scope};
use super::page::{PageError, render};
use super::session::CurrentAgent;
use super::{AppError, AppState};
use crate::auth::Agent;
use crate::tickets::inbox;
use crate::tickets::saved_views::{self, ViewInput, Visibility};
use crate::tickets::sidebar_counts;

/// The routes of saved views (merged into the inbox's router).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/inbox/views", get(show_views).post(create_view))
        .route("/inbox/views/{id}", post(update_view))
        .route("/inbox/views/{id}/delete", post(delete_view))
        .route("/inbox/views/{id}/move", post(move_view))
}

/// The fields of the save and change forms. On a change, a field left out keeps its value.
#[derive(Deserialize, Default)]
struct ViewForm {
    name: Option<String>,
    /// `personal`, `everyone` or `team:<id>`.
    visibility: Option<String>,
    /// An inbox query string (`folder=open&priority=urgent`), checked by the inbox's parser.
    query: Option<String>,
    /// After a change: `manage` goes back to `/inbox/views`, else to the view.
    back: Option<String>,
}

fn visibility(raw: &str) -> Result<Visibility, AppError> {
    Visibility::parse(raw)
        .ok_or_else(|| AppError::BadRequest(format!("unknown visibility {raw:?}")))
}

/// The inbox showing view `id` with its filters.
fn view_href(qs: &str, id: i64) -> String {
    format!("/inbox?{qs}&view={id}")
}

/// `POST /inbox/views`: saves the list `query` as a new view; opens it.
async fn create_view(
    State(state): State<AppState>,
    who: CurrentAgent,
    Form(f): Form<ViewForm>,
) -> Result<Redirect, PageError> {
    let (_, qs) = canonical_query(f.query.as_deref().unwrap_or(""))?;
    let input = ViewInput {
        name: f.name.unwrap_or_default(),
        query: qs.clone(),
        visibility: visibility(f.visibility.as_deref().unwrap_or("personal"))?,
    };
    let id = saved_views::create(&state.pool, &who.agent, &input).await?;
    flash::push(
        &who.session,
        [Notice::info(format!(
            "Saved view \u{201c}{}\u{201d}.",
            input.name.trim()
        ))],
    )
    .await;
    Ok(Redirect::to(&view_href(&qs, id)))
}

/// `POST /inbox/views/{id}`: renames, re-shares or gives new filters to a view (any of
/// `name`, `visibility`, `query`); back to the view, or to `/inbox/views` when the change
/// came from there (`back=manage`).
async fn update_view(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(id): PathNumber,
    Form(f): Form<ViewForm>,
) -> Result<Redirect, PageError> {
    let view = saved_views::find_for(&state.pool, who.agent.agent_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let qs = match f.query.as_deref() {
        Some(q) => canonical_query(q)?.1,
        None => view.query.clone(),
    };
    let input = ViewInput {
        name: f.name.unwrap_or_else(|| view.name.clone()),
        query: qs.clone(),
        visibility: match f.visibility.as_deref() {
            Some(v) => visibility(v)?,
            None => view.visibility(),
        },
    };
    saved_views::update(&state.pool, &who.agent, id, &input).await?;
    flash::push(
        &who.session,
        [Notice::info(format!(
            "Saved view \u{201c}{}\u{201d}.",
            input.name.trim()
        ))],
    )
    .await;
    Ok(Redirect::to(&if f.back.as_deref() == Some("manage") {
        "/inbox/views".to_string()
    } else {
        view_href(&qs, id)
    }))
}

/// `POST /inbox/views/{id}/delete`: deletes the view for everyone who saw it.
async fn delete_view(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(id): PathNumber,
) -> Result<Redirect, PageError> {
    let name = saved_views::delete(&state.pool, &who.agent, id).await?;
    flash::push(
        &who.session,
        [Notice::info(format!(
            "Deleted view \u{201c}{name}\u{201d}."
        ))],
    )
    .await;
    Ok(Redirect::to("/inbox/views"))
}

#[derive(Deserialize)]
struct MoveForm {
    /// `up` or `down`.
    direction: String,
}

/// `POST /inbox/views/{id}/move`: one place up or down in the agent's own order.
async fn move_view(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(id): PathNumber,
    Form(f): Form<MoveForm>,
) -> Result<Redirect, PageError> {
    let up = match f.direction.as_str() {
        "up" => true,
        "down" => false,
        d => return Err(AppError::BadRequest(format!("unknown direction {d:?}")).into()),
    };
    saved_views::move_view(&state.pool, who.agent.agent_id, id, up).await?;
    Ok(Redirect::to("/inbox/views"))
}

/// Each of `views`' count of tickets still to do for agent `agent_id` who sees `visible`
/// ([`inbox::count_to_do`], one statement); `None` for a view of closed tickets or spam, or
/// one whose stored filters no longer parse.
pub(crate) async fn counts(
    pool: &sqlx::PgPool,
    agent_id: i64,
    visible: Option<&[i64]>,
    views: &[saved_views::SavedView],
) -> Result<Vec<Option<i64>>, AppError> {
    let parsed: Vec<_> = views
        .iter()
        .map(|v| canonical_query(&v.query).ok())
        .collect();
    let lists: Vec<_> = parsed.iter().flatten().map(|(q, _)| q.clone()).collect();
    let mut counts = inbox::count_to_do(pool, agent_id, visible, &lists)
        .await?
        .into_iter();
    Ok(parsed
        .iter()
        .map(|p| p.as_ref().and_then(|_| counts.next().flatten()))
        .collect())
}

/// The visibility choices `(form value, label)` of `agent`'s save and change forms: only me,
/// and for leads and admins everyone and each team of theirs (`teams`, `(id, name)`).
pub(super) fn share_choices(agent: &Agent, teams: &[(i64, String)]) -> Vec<(String, String)> {
    let mut choices = vec![("personal".to_string(), "Only me".to_string())];
    if agent.sees_all_mailboxes() {
        choices.push(("everyone".into(), "Everyone".into()));
        choices.extend(
            teams
                .iter()
                .map(|(id, name)| (format!("team:{id}"), format!("Team {name}"))),
        );
    }
    choices
}

/// One row of the manage page.
struct ViewRow {
    id: i64,
    name: String,
    href: String,
    shared_with: String,
    /// The current visibility as a form value.
    visibility: String,
    owner: String,
    /// The filters, as the query string.
    filters: String,
    /// Its count as shown: tickets to do, `—` for a view that has none (closed or spam, or
    /// filters that no longer parse), empty when not cached (the page's script fills it).
    count: String,
    /// Key of its count in `GET /inbox/sidebar-counts`; `None` when it is never counted.
    count_key: Option<String>,
    changeable: bool,
}

#[derive(Template)]
#[template(path = "inbox/views.html")]
struct ViewsPage {
    me: Agent,
    unread_notifications: i64,
    notices: Vec<Notice>,
    views: Vec<ViewRow>,
    /// `(form value, label)`: personal, and for leads and admins everyone and their teams.
    share_choices: Vec<(String, String)>,
}

impl ViewsPage {
    /// Whether the visibility choices include `value` (a view shared by someone else with a
    /// team this agent is not offered keeps its own choice).
    fn offers(&self, value: &str) -> bool {
        self.share_choices.iter().any(|(v, _)| v == value)
    }
}

/// `GET /inbox/views`: the agent's views in their order, with who sees each, its count (when
/// cached, else filled by the page's script) and the controls they may use.
async fn show_views(
    State(state): State<AppState>,
    who: CurrentAgent,
    headers: axum::http::HeaderMap,
) -> Result<Response, PageError> {
    let me = who.agent.agent_id;
    let ((views, scope), teams, unread_notifications) = tokio::try_join!(
        load_count_scope(&state, &who),
        async { Ok(saved_views::teams_of(&state.pool, me).await?) },
        async { Ok(crate::tickets::actions::unread_notifications(&state.pool, me).await?) },
    )?;
    let cached = sidebar_counts::cached(&state.pool, &scope).await?;
    let rows = views
        .iter()
        .map(|v| {
            let key = sidebar_counts::saved_view_key(v.saved_view_id);
            let counted = scope.views.iter().any(|(id, _, _)| *id == v.saved_view_id);
            let count = match &cached {
                Some(c) if counted => c.get(&key).copied().flatten().map(|n| n.to_string()),
                None if counted => Some(String::new()),
                _ => None,
            };
            (
                v,
                count.unwrap_or_else(|| "—".into()),
                counted.then_some(key),
            )
        })
        .map(|(v, count, count_key)| ViewRow {
            id: v.saved_view_id,
            name: v.name.clone(),
            href: view_href(&v.query, v.saved_view_id),
            shared_with: v.shared_with(),
            visibility: v.visibility().form_value(),
            owner: v.owner_name.clone(),
            filters: v.query.clone(),
            count,
            count_key,
            changeable: v.changeable_by(&who.agent),
        })
        .collect();
    let share_choices = share_choices(&who.agent, &teams);
    let notices = flash::take(&who.session, &headers).await;
    Ok(render(&ViewsPage {
        me: who.agent,
        unread_notifications,
        notices,
        views: rows,
        share_choices,
    })?
    .into_response())
}
