//! Admin console: agents. `/admin/agents` lists them (role, teams, available / away, open
//! tickets, last seen) with the invite form; `/admin/agents/{email}` changes one (name, role,
//! available, cap of open tickets), disables / enables them and resets their password.
//! Every change goes through `crate::auth::invite`, which writes the audit log.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tower_sessions::Session;

use super::AdminAgent;
use crate::auth::invite::{self, AgentAdminError, AgentChange, AgentSummary, NewAgent};
use crate::auth::{self, Agent};
use crate::timezone::AgentTimeZone;
use crate::web::flash::{self, Notice};
use crate::web::page::{PageError, render};
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/agents", get(show_agents).post(post_invite))
        .route("/admin/agents/{email}", get(show_agent).post(post_agent))
        .route("/admin/agents/{email}/disable", post(post_disable))
        .route("/admin/agents/{email}/enable", post(post_enable))
        .route("/admin/agents/{email}/reset-password", post(post_reset))
}

/// An agent row as the list shows it.
struct Row {
    a: AgentSummary,
    /// "3 min ago", or "never".
    last_seen: String,
    /// The edit page's path (email percent-encoded).
    href: String,
}

/// The invite form's values and the error next to the field it is about.
#[derive(Default)]
struct InviteForm {
    email: String,
    name: String,
    role: String,
    teams: Vec<String>,
    time_zone: String,
    /// (field, message); `field` is `email`, `name`, `role`, `teams`, `time_zone` or
    /// `form` (no mailbox can send mail, or another error about no one field).
    error: Option<(&'static str, String)>,
}

impl InviteForm {
    fn error_for(&self, field: &str) -> Option<&str> {
        match &self.error {
            Some((f, m)) if *f == field => Some(m),
            _ => None,
        }
    }
    fn has_team(&self, team: &str) -> bool {
        self.teams.iter().any(|t| t == team)
    }
}

#[derive(Template)]
#[template(path = "admin/agents.html")]
struct AgentsPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    notices: Vec<Notice>,
    rows: Vec<Row>,
    team_names: Vec<String>,
    form: InviteForm,
    /// No enabled mailbox has an SMTP URL: invitations cannot be mailed yet.
    can_send: bool,
}

fn href(email: &str) -> String {
    format!(
        "/admin/agents/{}",
        percent_encoding::utf8_percent_encode(email, percent_encoding::NON_ALPHANUMERIC)
    )
}

async fn agents_page(
    state: &AppState,
    admin: AdminAgent,
    notices: Vec<Notice>,
    form: InviteForm,
) -> Result<AgentsPage, PageError> {
    let tz = AgentTimeZone::from_stored(&admin.agent.time_zone);
    let now = time::OffsetDateTime::now_utc();
    let rows = invite::list_agents(&state.pool)
        .await?
        .into_iter()
        .map(|a| Row {
            last_seen: a
                .last_seen_at
                .map(|t| crate::web::fmt::relative(t, now, &tz))
                .unwrap_or_else(|| "never".into()),
            href: href(&a.email),
            a,
        })
        .collect();
    let team_names = auth::admin::list_team_overview(&state.pool)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    Ok(AgentsPage {
        can_send: invite::can_send_mail(&state.pool).await?,
        me: admin.agent,
        unread_notifications: admin.unread_notifications,
        section: "agents",
        notices,
        rows,
        team_names,
        form,
    })
}

async fn show_agents(
    State(state): State<AppState>,
    admin: AdminAgent,
    session: Session,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let notices = flash::take(&session, &headers).await;
    let form = InviteForm {
        role: "agent".into(),
        ..InviteForm::default()
    };
    Ok(render(&agents_page(&state, admin, notices, form).await?)?.into_response())
}

/// The invite form: `email`, `name`, `role`, `time_zone` and any number of `teams`.
fn parse_invite(body: &[u8]) -> InviteForm {
    let mut f = InviteForm::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        match &*k {
            "email" => f.email = v.into_owned(),
            "name" => f.name = v.into_owned(),
            "role" => f.role = v.into_owned(),
            "time_zone" => f.time_zone = v.into_owned(),
            "teams" => f.teams.push(v.into_owned()),
            _ => {}
        }
    }
    f
}

/// Invites an agent; on a refusal the form comes back (400) with the message next to the
/// field it is about.
async fn post_invite(
    State(state): State<AppState>,
    admin: AdminAgent,
    session: Session,
    body: Bytes,
) -> Result<Response, PageError> {
    let mut form = parse_invite(&body);
    let new = NewAgent {
        email: form.email.clone(),
        name: form.name.clone(),
        role: form.role.clone(),
        teams: form.teams.clone(),
        time_zone: Some(form.time_zone.clone()),
    };
    match invite::invite(&state.pool, &admin.actor(), &new, &state.config.public_url).await {
        Ok(invited) => {
            flash::push(
                &session,
                [Notice::info(format!(
                    "Invited {}: the invitation mail is on its way (its link works for {} hours).",
                    invited.email,
                    invite::LINK_VALID_HOURS
                ))],
            )
            .await;
            Ok(Redirect::to("/admin/agents").into_response())
        }
        Err(e @ (AgentAdminError::Invalid { .. } | AgentAdminError::NoSender)) => {
            form.error = Some((e.field().unwrap_or("form"), e.to_string()));
            let page = agents_page(&state, admin, Vec::new(), form).await?;
            Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response())
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}

#[derive(Template)]
#[template(path = "admin/agent.html")]
struct AgentPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    notices: Vec<Notice>,
    a: AgentSummary,
    href: String,
    /// The form's values (as typed, after a refusal).
    name: String,
    role: String,
    available: bool,
    max_open_tickets: String,
    /// (field, message) of a refused change.
    error: Option<(&'static str, String)>,
}

impl AgentPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        match &self.error {
            Some((f, m)) if *f == field => Some(m),
            _ => None,
        }
    }
}

async fn load(state: &AppState, email: &str) -> Result<AgentSummary, PageError> {
    invite::agent_summary(&state.pool, email)
        .await?
        .ok_or(PageError(AppError::NotFound))
}

fn agent_page(admin: AdminAgent, a: AgentSummary, notices: Vec<Notice>) -> AgentPage {
    AgentPage {
        me: admin.agent,
        unread_notifications: admin.unread_notifications,
        section: "agents",
        notices,
        href: href(&a.email),
        name: a.name.clone(),
        role: a.role.as_str().to_string(),
        available: a.available,
        max_open_tickets: a
            .max_open_tickets
            .map(|n| n.to_string())
            .unwrap_or_default(),
        error: None,
        a,
    }
}

async fn show_agent(
    State(state): State<AppState>,
    admin: AdminAgent,
    session: Session,
    headers: HeaderMap,
    Path(email): Path<String>,
) -> Result<Response, PageError> {
    let a = load(&state, &email).await?;
    let notices = flash::take(&session, &headers).await;
    Ok(render(&agent_page(admin, a, notices))?.into_response())
}

#[derive(Deserialize)]
struct AgentForm {
    name: String,
    role: String,
    /// `available` or `away`.
    availability: String,
    /// Empty = no cap.
    max_open_tickets: String,
}

/// Saves name, role, available / away and the cap; a refusal re-renders the page (400) with
/// the message next to the field.
async fn post_agent(
    State(state): State<AppState>,
    admin: AdminAgent,
    session: Session,
    Path(email): Path<String>,
    Form(f): Form<AgentForm>,
) -> Result<Response, PageError> {
    let a = load(&state, &email).await?;
    let cap = match f.max_open_tickets.trim() {
        "" => Ok(None),
        n => n
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AgentAdminError::Invalid {
                field: "max_open_tickets",
                message: format!("{n:?} is not a whole number; leave it empty for no cap"),
            }),
    };
    let result = match cap {
        Ok(cap) => {
            invite::update_agent(
                &state.pool,
                &admin.actor(),
                &a.email,
                &AgentChange {
                    name: Some(f.name.clone()),
                    role: Some(f.role.clone()),
                    disabled: None,
                    available: Some(f.availability == "available"),
                    max_open_tickets: Some(cap),
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            flash::push(&session, [Notice::info(format!("Saved {}.", a.email))]).await;
            Ok(Redirect::to(&href(&a.email)).into_response())
        }
        Err(e @ AgentAdminError::Invalid { .. }) => {
            let mut page = agent_page(admin, a, Vec::new());
            page.name = f.name;
            page.role = f.role;
            page.available = f.availability == "available";
            page.max_open_tickets = f.max_open_tickets;
            page.error = Some((e.field().unwrap_or("form"), e.to_string()));
            Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response())
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}

async fn set_disabled(
    state: &AppState,
    admin: AdminAgent,
    session: &Session,
    email: &str,
    disabled: bool,
) -> Result<Response, PageError> {
    let a = load(state, email).await?;
    let change = AgentChange {
        disabled: Some(disabled),
        ..AgentChange::default()
    };
    match invite::update_agent(&state.pool, &admin.actor(), &a.email, &change).await {
        Ok(_) => {
            let text = if disabled {
                format!(
                    "Disabled {}: they are signed out and cannot sign in.",
                    a.email
                )
            } else {
                format!("Enabled {}: they can sign in again.", a.email)
            };
            flash::push(session, [Notice::info(text)]).await;
            Ok(Redirect::to(&href(&a.email)).into_response())
        }
        Err(e @ AgentAdminError::Invalid { .. }) => {
            let mut page = agent_page(admin, a, Vec::new());
            page.error = Some((e.field().unwrap_or("form"), e.to_string()));
            Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response())
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}

async fn post_disable(
    State(state): State<AppState>,
    admin: AdminAgent,
    session: Session,
    Path(email): Path<String>,
) -> Result<Response, PageError> {
    set_disabled(&state, admin, &session, &email, true).await
}

async fn post_enable(
    State(state): State<AppState>,
    admin: AdminAgent,
    session: Session,
    Path(email): Path<String>,
) -> Result<Response, PageError> {
    set_disabled(&state, admin, &session, &email, false).await
}

/// Resets the agent's password: mails them a link to choose a new one and ends their sessions.
async fn post_reset(
    State(state): State<AppState>,
    admin: AdminAgent,
    session: Session,
    Path(email): Path<String>,
) -> Result<Response, PageError> {
    let a = load(&state, &email).await?;
    match invite::reset_password(
        &state.pool,
        &admin.actor(),
        &a.email,
        &state.config.public_url,
    )
    .await
    {
        Ok(_) => {
            flash::push(
                &session,
                [Notice::info(format!(
                    "Password of {} reset: they are signed out, and a link to choose a new one is on its way.",
                    a.email
                ))],
            )
            .await;
            Ok(Redirect::to(&href(&a.email)).into_response())
        }
        Err(e @ (AgentAdminError::Invalid { .. } | AgentAdminError::NoSender)) => {
            let mut page = agent_page(admin, a, Vec::new());
            page.error = Some(("reset", e.to_string()));
            Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response())
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}
