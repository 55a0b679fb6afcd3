//! Admin console: mailboxes.
//!
//! - `GET /admin/mailboxes`: every mailbox with its poll health, enabled or disabled.
//! - `GET|POST /admin/mailboxes/new`: add a mailbox.
//! - `GET|POST /admin/mailboxes/{id}`: edit one; an empty password field keeps the stored one.
//! - `POST /admin/mailboxes/{id}/test`: **Test connection** with the stored settings; the page
//!   shows both servers' answers.
//! - `POST /admin/mailboxes/{id}/enabled` (`enabled=true|false`): enable or disable polling.
//!
//! Passwords are write-only: no page ever holds one (password inputs are always empty).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::AdminAgent;
use crate::auth::Agent;
use crate::mailboxes::check::{self, CheckResult};
use crate::mailboxes::fields::{FieldError, ImapFields, SmtpFields, without_password};
use crate::mailboxes::settings::{
    self, DEFAULT_FROM_NAME_FORMAT, MailboxChange, MailboxSettings, SettingsError,
};
use crate::mailboxes::{ImapUrl, SmtpUrl};
use crate::timezone::AgentTimeZone;
use crate::web::page::{PageError, render};
use crate::web::{AppError, AppState, fmt};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/mailboxes", get(list))
        .route("/admin/mailboxes/new", get(new_form).post(create))
        .route("/admin/mailboxes/{id}", get(edit_form).post(update))
        .route("/admin/mailboxes/{id}/test", post(test))
        .route("/admin/mailboxes/{id}/enabled", post(set_enabled))
}

/// One row of the list.
struct Row {
    id: i64,
    name: String,
    address: String,
    team: String,
    enabled: bool,
    imap: String,
    last_poll: String,
    last_ok: String,
    polled_by: String,
    last_error: String,
    failures: i32,
}

#[derive(Template)]
#[template(path = "admin/mailboxes.html")]
struct ListPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    rows: Vec<Row>,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct Notice {
    saved: Option<String>,
}

fn when(t: Option<time::OffsetDateTime>, tz: &AgentTimeZone) -> String {
    t.map(|t| fmt::datetime(t, tz))
        .unwrap_or_else(|| "never".into())
}

async fn list(
    State(state): State<AppState>,
    admin: AdminAgent,
    Query(q): Query<Notice>,
) -> Result<Response, PageError> {
    let tz = AgentTimeZone::from_stored(&admin.agent.time_zone);
    let rows = settings::list(&state.pool)
        .await?
        .into_iter()
        .map(|m| Row {
            id: m.mailbox_id,
            imap: without_password(&m.imap_url),
            team: m.team.clone().unwrap_or_default(),
            last_poll: when(m.last_poll_at, &tz),
            last_ok: when(m.last_ok_at, &tz),
            polled_by: m.polled_by.clone().unwrap_or_default(),
            last_error: m.last_error.clone().unwrap_or_default(),
            failures: m.consecutive_failures,
            enabled: m.enabled,
            name: m.name,
            address: m.address,
        })
        .collect();
    let notice = q.saved.map(|s| format!("Saved {s}."));
    Ok(render(&ListPage {
        me: admin.agent,
        unread_notifications: admin.unread_notifications,
        section: "mailboxes",
        rows,
        notice,
    })?
    .into_response())
}

/// One input of the form. Password inputs never carry a value.
struct Field {
    name: &'static str,
    label: &'static str,
    /// `text`, `email`, `password`, `number`, `textarea` or `select`.
    kind: &'static str,
    value: String,
    /// For selects: (value, label).
    options: Vec<(String, String)>,
    hint: &'static str,
    error: Option<String>,
}

/// A fieldset of the form.
struct Group {
    legend: &'static str,
    fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "admin/mailbox_form.html")]
struct FormPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    /// `None`: a new mailbox.
    mailbox: Option<MailboxSummary>,
    action: String,
    groups: Vec<Group>,
    /// A message for the whole form (not tied to one field).
    error: Option<String>,
    notice: Option<String>,
    imap_check: Option<CheckResult>,
    smtp_check: Option<CheckResult>,
}

struct MailboxSummary {
    id: i64,
    name: String,
    address: String,
    enabled: bool,
}

/// What the form posts.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct MailboxForm {
    name: String,
    address: String,
    signature: String,
    from_name_format: String,
    team: String,
    /// The default SLA policy's id; empty for none.
    sla_policy: String,
    /// `on` or `off`.
    csat: String,
    /// `reply` or `delayed`.
    csat_mode: String,
    csat_delay_minutes: String,
    /// `english`, `german`, ... (`settings::search_languages`).
    search_language: String,
    imap_host: String,
    imap_port: String,
    imap_security: String,
    imap_user: String,
    imap_password: String,
    imap_folders: String,
    smtp_host: String,
    smtp_port: String,
    smtp_security: String,
    smtp_user: String,
    smtp_password: String,
}

impl MailboxForm {
    /// The stored mailbox as the form shows it (no passwords).
    fn from_settings(m: &MailboxSettings) -> MailboxForm {
        let imap = ImapUrl::parse(&m.imap_url)
            .map(|u| ImapFields::from_url(&u))
            .unwrap_or_default();
        let smtp = m
            .smtp_url
            .as_deref()
            .and_then(|s| SmtpUrl::parse(s).ok())
            .map(|u| SmtpFields::from_url(&u))
            .unwrap_or_default();
        MailboxForm {
            name: m.name.clone(),
            address: m.address.clone(),
            signature: m.signature.clone(),
            from_name_format: m.from_name_format.clone(),
            team: m.team.clone().unwrap_or_default(),
            sla_policy: m.sla_policy_id.map(|id| id.to_string()).unwrap_or_default(),
            csat: if m.csat { "on" } else { "off" }.into(),
            csat_mode: m.csat_mode.clone(),
            csat_delay_minutes: m.csat_delay_minutes.to_string(),
            search_language: m.search_language.clone(),
            imap_host: imap.host,
            imap_port: imap.port,
            imap_security: imap.security,
            imap_user: imap.user,
            imap_password: String::new(),
            imap_folders: imap.folders,
            smtp_host: smtp.host,
            smtp_port: smtp.port,
            smtp_security: smtp.security,
            smtp_user: smtp.user,
            smtp_password: String::new(),
        }
    }

    /// The change the form asks for; an empty password keeps `stored`'s.
    fn to_change(&self, stored: Option<&MailboxSettings>) -> Result<MailboxChange, FieldError> {
        let stored_imap = stored.and_then(|m| ImapUrl::parse(&m.imap_url).ok());
        let stored_smtp = stored
            .and_then(|m| m.smtp_url.as_deref())
            .and_then(|s| SmtpUrl::parse(s).ok());
        let imap = ImapFields {
            host: self.imap_host.clone(),
            port: self.imap_port.clone(),
            security: self.imap_security.clone(),
            user: self.imap_user.clone(),
            password: self.imap_password.clone(),
            folders: self.imap_folders.clone(),
            allow_plaintext: stored_imap.as_ref().is_some_and(|u| u.allow_plaintext),
        }
        .to_url(stored_imap.as_ref())?;
        let smtp = SmtpFields {
            host: self.smtp_host.clone(),
            port: self.smtp_port.clone(),
            security: self.smtp_security.clone(),
            user: self.smtp_user.clone(),
            password: self.smtp_password.clone(),
            allow_plaintext: stored_smtp.as_ref().is_some_and(|u| u.allow_plaintext),
        }
        .to_url(stored_smtp.as_ref())?;
        Ok(MailboxChange {
            name: Some(self.name.clone()),
            address: Some(self.address.clone()),
            imap_url: Some(imap),
            smtp_url: Some(smtp),
            signature: Some(self.signature.replace("\r\n", "\n")),
            from_name_format: Some(self.from_name_format.clone()),
            team: Some(Some(self.team.clone()).filter(|t| !t.is_empty())),
            enabled: None,
            sla_policy: Some(self.sla_policy.trim().parse().ok()),
            csat: Some(self.csat == "on"),
            csat_mode: Some(self.csat_mode.clone()).filter(|m| !m.trim().is_empty()),
            csat_delay_minutes: match self.csat_delay_minutes.trim() {
                "" => None,
                v => Some(v.parse().map_err(|_| FieldError {
                    field: "csat_delay_minutes",
                    message: "enter a whole number of minutes".into(),
                })?),
            },
            search_language: Some(self.search_language.clone()).filter(|l| !l.trim().is_empty()),
        })
    }
}

/// A search language as the form lists it: `german` is "German", `simple` says what it does.
fn search_language_label(language: &str) -> String {
    if language == "simple" {
        return "None (exact words only)".into();
    }
    let mut c = language.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Maps a domain field (`imap_url`) to the form field that shows the problem.
fn form_field(field: &str) -> &str {
    match field {
        "imap_url" => "imap_host",
        "smtp_url" => "smtp_host",
        f => f,
    }
}

fn security_options() -> Vec<(String, String)> {
    [
        ("tls", "TLS"),
        ("starttls", "STARTTLS"),
        ("none", "None (local servers only)"),
    ]
    .iter()
    .map(|(v, l)| (v.to_string(), l.to_string()))
    .collect()
}

fn groups(
    f: &MailboxForm,
    teams: &[String],
    policies: &[(i64, String)],
    languages: &[String],
    error: Option<&FieldError>,
) -> Vec<Group> {
    let field = |name: &'static str, label, kind, value: &str, hint| Field {
        name,
        label,
        kind,
        value: if kind == "password" {
            String::new()
        } else {
            value.to_string()
        },
        options: Vec::new(),
        hint,
        error: error
            .filter(|e| form_field(e.field) == name)
            .map(|e| e.message.clone()),
    };
    let select = |name, label, value: &str, options: Vec<(String, String)>| Field {
        options,
        ..field(name, label, "select", value, "")
    };
    let mut team_options = vec![(String::new(), "No team".to_string())];
    team_options.extend(teams.iter().map(|t| (t.clone(), t.clone())));
    let mut policy_options = vec![(String::new(), "No SLA policy".to_string())];
    policy_options.extend(policies.iter().map(|(id, n)| (id.to_string(), n.clone())));
    vec![
        Group {
            legend: "Mailbox",
            fields: vec![
                field(
                    "name",
                    "Name",
                    "text",
                    &f.name,
                    "As customers see it, e.g. Example Support.",
                ),
                field(
                    "address",
                    "Address",
                    "email",
                    &f.address,
                    "The address customers write to.",
                ),
                select("team", "Team", &f.team, team_options),
                select(
                    "sla_policy",
                    "Default SLA policy",
                    &f.sla_policy,
                    policy_options,
                ),
                field(
                    "from_name_format",
                    "From name format",
                    "text",
                    &f.from_name_format,
                    "{agent} and {mailbox} are filled in: \"{agent} at {mailbox}\" gives \"Dana at Example Support\".",
                ),
                field(
                    "signature",
                    "Signature",
                    "textarea",
                    &f.signature,
                    "Plain text added under every reply.",
                ),
                Field {
                    options: languages
                        .iter()
                        .map(|l| (l.clone(), search_language_label(l)))
                        .collect(),
                    hint: "Search finds other forms of a word in this language (\"invoices\" finds \"invoice\"). A change re-indexes the mailbox's mail in the background.",
                    ..field(
                        "search_language",
                        "Search language",
                        "select",
                        &f.search_language,
                        "",
                    )
                },
            ],
        },
        Group {
            legend: "Satisfaction survey (CSAT)",
            fields: vec![
                select(
                    "csat",
                    "Survey",
                    &f.csat,
                    vec![
                        ("off".into(), "Off".into()),
                        (
                            "on".into(),
                            "On: ask for a rating after each resolution".into(),
                        ),
                    ],
                ),
                select(
                    "csat_mode",
                    "Sent",
                    &f.csat_mode,
                    vec![
                        (
                            "reply".into(),
                            "In the closing reply (a close without a reply mails it at once)"
                                .into(),
                        ),
                        (
                            "delayed".into(),
                            "As a separate mail some minutes after closing".into(),
                        ),
                    ],
                ),
                field(
                    "csat_delay_minutes",
                    "Minutes after closing",
                    "number",
                    &f.csat_delay_minutes,
                    "For a separate mail: cancelled if the ticket reopens before. Never sent for spam, list or automated mail, merged tickets, or closes without a reply.",
                ),
            ],
        },
        Group {
            legend: "Incoming mail (IMAP)",
            fields: vec![
                field("imap_host", "Host", "text", &f.imap_host, ""),
                field(
                    "imap_port",
                    "Port",
                    "number",
                    &f.imap_port,
                    "Empty: 993 with TLS, 143 otherwise.",
                ),
                select(
                    "imap_security",
                    "Security",
                    &f.imap_security,
                    security_options(),
                ),
                field("imap_user", "User", "text", &f.imap_user, ""),
                field(
                    "imap_password",
                    "Password",
                    "password",
                    "",
                    "Never shown. Leave empty to keep the saved password.",
                ),
                field(
                    "imap_folders",
                    "Folders",
                    "textarea",
                    &f.imap_folders,
                    "One per line; empty: INBOX.",
                ),
            ],
        },
        Group {
            legend: "Outgoing mail (SMTP)",
            fields: vec![
                field(
                    "smtp_host",
                    "Host",
                    "text",
                    &f.smtp_host,
                    "Empty: no SMTP server, replies cannot be sent.",
                ),
                field(
                    "smtp_port",
                    "Port",
                    "number",
                    &f.smtp_port,
                    "Empty: 465 with TLS, 587 with STARTTLS, 25 otherwise.",
                ),
                select(
                    "smtp_security",
                    "Security",
                    &f.smtp_security,
                    security_options(),
                ),
                field(
                    "smtp_user",
                    "User",
                    "text",
                    &f.smtp_user,
                    "Empty: send without signing in.",
                ),
                field(
                    "smtp_password",
                    "Password",
                    "password",
                    "",
                    "Never shown. Leave empty to keep the saved password.",
                ),
            ],
        },
    ]
}

async fn team_names(state: &AppState) -> Result<Vec<String>, PageError> {
    Ok(crate::teams::list(&state.pool)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect())
}

struct FormState<'a> {
    mailbox: Option<&'a MailboxSettings>,
    form: MailboxForm,
    error: Option<FieldError>,
    notice: Option<String>,
    checks: Option<(CheckResult, CheckResult)>,
}

async fn form_page(
    state: &AppState,
    admin: AdminAgent,
    s: FormState<'_>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let teams = team_names(state).await?;
    let policies: Vec<(i64, String)> = crate::sla::policies::list(&state.pool)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let languages = crate::mailboxes::settings::search_languages(&state.pool).await?;
    let groups = groups(&s.form, &teams, &policies, &languages, s.error.as_ref());
    // An error on a field the form does not have is shown above the form.
    let shown = groups
        .iter()
        .flat_map(|g| &g.fields)
        .any(|f| f.error.is_some());
    let error = s.error.filter(|_| !shown).map(|e| e.message);
    let (imap_check, smtp_check) = match s.checks {
        Some((i, m)) => (Some(i), Some(m)),
        None => (None, None),
    };
    let page = FormPage {
        me: admin.agent,
        unread_notifications: admin.unread_notifications,
        section: "mailboxes",
        action: s
            .mailbox
            .map(|m| format!("/admin/mailboxes/{}", m.mailbox_id))
            .unwrap_or_else(|| "/admin/mailboxes/new".into()),
        mailbox: s.mailbox.map(|m| MailboxSummary {
            id: m.mailbox_id,
            name: m.name.clone(),
            address: m.address.clone(),
            enabled: m.enabled,
        }),
        groups,
        error,
        notice: s.notice,
        imap_check,
        smtp_check,
    };
    Ok((status, render(&page)?).into_response())
}

async fn new_form(State(state): State<AppState>, admin: AdminAgent) -> Result<Response, PageError> {
    let form = MailboxForm {
        imap_security: "tls".into(),
        smtp_security: "tls".into(),
        imap_folders: "INBOX".into(),
        from_name_format: DEFAULT_FROM_NAME_FORMAT.into(),
        csat: "off".into(),
        csat_mode: "reply".into(),
        csat_delay_minutes: "60".into(),
        search_language: "english".into(),
        ..MailboxForm::default()
    };
    let s = FormState {
        mailbox: None,
        form,
        error: None,
        notice: None,
        checks: None,
    };
    form_page(&state, admin, s, StatusCode::OK).await
}

fn settings_error(e: SettingsError) -> Result<FieldError, PageError> {
    match e {
        SettingsError::Invalid { field, message } => Ok(FieldError { field, message }),
        SettingsError::NotFound => Err(PageError(AppError::NotFound)),
        SettingsError::Db(e) => Err(PageError(e.into())),
    }
}

async fn create(
    State(state): State<AppState>,
    admin: AdminAgent,
    Form(form): Form<MailboxForm>,
) -> Result<Response, PageError> {
    let result = match form.to_change(None) {
        Ok(change) => match settings::create(
            &state.pool,
            &admin.actor(),
            change,
            state.config.ingest.allow_plaintext,
        )
        .await
        {
            Ok(m) => Ok(m),
            Err(e) => Err(settings_error(e)?),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(m) => {
            Ok(Redirect::to(&format!("/admin/mailboxes/{}?saved=1", m.mailbox_id)).into_response())
        }
        Err(error) => {
            let s = FormState {
                mailbox: None,
                form,
                error: Some(error),
                notice: None,
                checks: None,
            };
            form_page(&state, admin, s, StatusCode::BAD_REQUEST).await
        }
    }
}

async fn load(state: &AppState, id: i64) -> Result<MailboxSettings, PageError> {
    settings::get(&state.pool, id)
        .await?
        .ok_or(PageError(AppError::NotFound))
}

async fn edit_form(
    State(state): State<AppState>,
    admin: AdminAgent,
    Path(id): Path<i64>,
    Query(q): Query<Notice>,
) -> Result<Response, PageError> {
    let m = load(&state, id).await?;
    let s = FormState {
        mailbox: Some(&m),
        form: MailboxForm::from_settings(&m),
        error: None,
        notice: q.saved.map(|_| "Saved.".to_string()),
        checks: None,
    };
    form_page(&state, admin, s, StatusCode::OK).await
}

async fn update(
    State(state): State<AppState>,
    admin: AdminAgent,
    Path(id): Path<i64>,
    Form(form): Form<MailboxForm>,
) -> Result<Response, PageError> {
    let m = load(&state, id).await?;
    let result = match form.to_change(Some(&m)) {
        Ok(change) => match settings::update(
            &state.pool,
            &admin.actor(),
            id,
            change,
            state.config.ingest.allow_plaintext,
        )
        .await
        {
            Ok(m) => Ok(m),
            Err(e) => Err(settings_error(e)?),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/admin/mailboxes/{id}?saved=1")).into_response()),
        Err(error) => {
            let s = FormState {
                mailbox: Some(&m),
                form,
                error: Some(error),
                notice: None,
                checks: None,
            };
            form_page(&state, admin, s, StatusCode::BAD_REQUEST).await
        }
    }
}

async fn test(
    State(state): State<AppState>,
    admin: AdminAgent,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let m = load(&state, id).await?;
    let checks = tokio::join!(
        check::check_imap(
            &m.imap_url,
            state.config.ingest.allow_plaintext,
            &state.config.mail_tls,
        ),
        check::check_smtp(m.smtp_url.as_deref(), &state.config.mail_tls),
    );
    let s = FormState {
        mailbox: Some(&m),
        form: MailboxForm::from_settings(&m),
        error: None,
        notice: None,
        checks: Some(checks),
    };
    form_page(&state, admin, s, StatusCode::OK).await
}

#[derive(Deserialize)]
struct EnabledForm {
    enabled: String,
}

async fn set_enabled(
    State(state): State<AppState>,
    admin: AdminAgent,
    Path(id): Path<i64>,
    Form(form): Form<EnabledForm>,
) -> Result<Response, PageError> {
    let enabled = form.enabled == "true";
    let change = MailboxChange {
        enabled: Some(enabled),
        ..MailboxChange::default()
    };
    let m = settings::update(
        &state.pool,
        &admin.actor(),
        id,
        change,
        state.config.ingest.allow_plaintext,
    )
    .await
    .map_err(|e| match e {
        SettingsError::NotFound => PageError(AppError::NotFound),
        e @ SettingsError::Invalid { .. } => PageError(AppError::BadRequest(e.to_string())),
        SettingsError::Db(e) => PageError(e.into()),
    })?;
    let what = if enabled { "enabled" } else { "disabled" };
    Ok(Redirect::to(&format!(
        "/admin/mailboxes?saved={}",
        percent_encoding::utf8_percent_encode(
            &format!("{} ({what})", m.address),
            percent_encoding::NON_ALPHANUMERIC
        )
    ))
    .into_response())
}
