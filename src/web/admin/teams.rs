//! Admin console: teams.
//!
//! - `GET /admin/teams`: every team with its members, mailboxes and assignment mode, and the
//!   form to create one (`POST /admin/teams`).
//! - `GET|POST /admin/teams/{id}`: edit a team: name, assignment mode, members (agents) and
//!   the mailboxes they work (checkboxes; what is not ticked is removed).

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::AdminAgent;
use crate::auth::Agent;
use crate::teams::{self, ASSIGNMENT_MODES, Team, TeamChange, TeamError};
use crate::web::page::{PageError, render};
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/teams", get(list).post(create))
        .route("/admin/teams/{id}", get(edit_form).post(update))
}

/// The assignment modes as the form offers them: (value, label).
fn modes() -> Vec<(&'static str, &'static str)> {
    ASSIGNMENT_MODES
        .iter()
        .map(|m| {
            (
                *m,
                match *m {
                    "round_robin" => "Round robin",
                    "least_loaded" => "Least loaded",
                    _ => "Manual",
                },
            )
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/teams.html")]
struct ListPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    teams: Vec<Team>,
    modes: Vec<(&'static str, &'static str)>,
    notice: Option<String>,
    /// The create form's values and error (field, message).
    new_name: String,
    new_assignment: String,
    error: Option<(String, String)>,
}

#[derive(Deserialize)]
struct Notice {
    saved: Option<String>,
}

async fn list_page(
    state: &AppState,
    admin: AdminAgent,
    notice: Option<String>,
    new_name: String,
    new_assignment: String,
    error: Option<(String, String)>,
) -> Result<Response, PageError> {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = ListPage {
        me: admin.agent,
        unread_notifications: admin.unread_notifications,
        section: "teams",
        teams: teams::list(&state.pool).await?,
        modes: modes(),
        notice,
        new_name,
        new_assignment,
        error,
    };
    Ok((status, render(&page)?).into_response())
}

async fn list(
    State(state): State<AppState>,
    admin: AdminAgent,
    Query(q): Query<Notice>,
) -> Result<Response, PageError> {
    let notice = q.saved.map(|s| format!("Saved team {s}."));
    list_page(&state, admin, notice, String::new(), "manual".into(), None).await
}

/// The pairs of a posted form, repeated keys kept (checkbox lists).
fn pairs(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn one(pairs: &[(String, String)], key: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn all(pairs: &[(String, String)], key: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

fn team_error(e: TeamError) -> Result<(String, String), PageError> {
    match e {
        TeamError::Invalid { field, message } => Ok((field.to_string(), message)),
        TeamError::NotFound => Err(PageError(AppError::NotFound)),
        TeamError::Db(e) => Err(PageError(e.into())),
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn create(
    State(state): State<AppState>,
    admin: AdminAgent,
    body: Bytes,
) -> Result<Response, PageError> {
    let p = pairs(&body);
    let name = one(&p, "name");
    let assignment = one(&p, "assignment");
    let change = TeamChange {
        name: Some(name.clone()),
        assignment: Some(assignment.clone()).filter(|a| !a.is_empty()),
        ..TeamChange::default()
    };
    match teams::create(&state.pool, &admin.actor(), change).await {
        Ok(t) => {
            let id = t.team_id;
            Ok(Redirect::to(&format!("/admin/teams/{id}?saved=1")).into_response())
        }
        Err(e) => {
            let error = team_error(e)?;
            list_page(&state, admin, None, name, assignment, Some(error)).await
        }
    }
}

/// An agent or mailbox as a checkbox.
struct Choice {
    value: String,
    label: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "admin/team_form.html")]
struct FormPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    id: i64,
    original_name: String,
    name: String,
    assignment: String,
    /// The field as typed (empty: never).
    away_after: String,
    modes: Vec<(&'static str, &'static str)>,
    members: Vec<Choice>,
    mailboxes: Vec<Choice>,
    notice: Option<String>,
    /// (field, message)
    error: Option<(String, String)>,
}

impl FormPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn team_by_id(state: &AppState, id: i64) -> Result<Team, PageError> {
    teams::list(&state.pool)
        .await?
        .into_iter()
        .find(|t| t.team_id == id)
        .ok_or(PageError(AppError::NotFound))
}

struct Wanted {
    name: String,
    assignment: String,
    away_after: String,
    members: Vec<String>,
    mailboxes: Vec<String>,
}

async fn form_page(
    state: &AppState,
    admin: AdminAgent,
    team: &Team,
    wanted: Wanted,
    notice: Option<String>,
    error: Option<(String, String)>,
) -> Result<Response, PageError> {
    let agents = crate::auth::list_agents(&state.pool).await?;
    let mailboxes = crate::mailboxes::list_mailboxes(&state.pool).await?;
    let has = |list: &[String], v: &str| list.iter().any(|x| x.eq_ignore_ascii_case(v));
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = FormPage {
        me: admin.agent,
        unread_notifications: admin.unread_notifications,
        section: "teams",
        id: team.team_id,
        original_name: team.name.clone(),
        members: agents
            .into_iter()
            .map(|a| Choice {
                checked: has(&wanted.members, &a.email),
                label: if a.active {
                    format!("{} <{}>", a.name, a.email)
                } else {
                    format!("{} <{}> (disabled)", a.name, a.email)
                },
                value: a.email,
            })
            .collect(),
        mailboxes: mailboxes
            .into_iter()
            .map(|m| Choice {
                checked: has(&wanted.mailboxes, &m.address),
                label: format!("{} <{}>", m.name, m.address),
                value: m.address,
            })
            .collect(),
        name: wanted.name,
        assignment: wanted.assignment,
        away_after: wanted.away_after,
        modes: modes(),
        notice,
        error,
    };
    Ok((status, render(&page)?).into_response())
}

async fn edit_form(
    State(state): State<AppState>,
    admin: AdminAgent,
    Path(id): Path<i64>,
    Query(q): Query<Notice>,
) -> Result<Response, PageError> {
    let team = team_by_id(&state, id).await?;
    let wanted = Wanted {
        name: team.name.clone(),
        assignment: team.assignment.clone(),
        away_after: team
            .away_after_minutes
            .map(|n| n.to_string())
            .unwrap_or_default(),
        members: team.members.clone(),
        mailboxes: team.mailboxes.clone(),
    };
    let notice = q.saved.map(|_| "Saved.".to_string());
    form_page(&state, admin, &team, wanted, notice, None).await
}

async fn update(
    State(state): State<AppState>,
    admin: AdminAgent,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    let team = team_by_id(&state, id).await?;
    let p = pairs(&body);
    let wanted = Wanted {
        name: one(&p, "name"),
        assignment: one(&p, "assignment"),
        away_after: one(&p, "away_after_minutes").trim().to_string(),
        members: all(&p, "members"),
        mailboxes: all(&p, "mailboxes"),
    };
    let away_after = if wanted.away_after.is_empty() {
        None
    } else {
        match wanted.away_after.parse::<i32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let error = (
                    "away_after_minutes".to_string(),
                    format!(
                        "enter a number of minutes, or leave it empty for never (got {:?})",
                        wanted.away_after
                    ),
                );
                return form_page(&state, admin, &team, wanted, None, Some(error)).await;
            }
        }
    };
    let change = TeamChange {
        name: Some(wanted.name.clone()),
        assignment: Some(wanted.assignment.clone()),
        away_after_minutes: Some(away_after),
        members: Some(wanted.members.clone()),
        mailboxes: Some(wanted.mailboxes.clone()),
    };
    match teams::update(&state.pool, &admin.actor(), &team.name, change).await {
        Ok(t) => {
            Ok(Redirect::to(&format!("/admin/teams?saved={}", encode(&t.name))).into_response())
        }
        Err(e) => {
            let error = team_error(e)?;
            form_page(&state, admin, &team, wanted, None, Some(error)).await
        }
    }
}
