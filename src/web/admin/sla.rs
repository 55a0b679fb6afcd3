//! Admin console: business hours and SLA policies (`crate::sla`).
//!
//! - `GET /admin/calendars` lists calendars; `GET/POST /admin/calendars/new` creates one;
//!   `GET/POST /admin/calendars/{id}` edits one, with a preview ("a ticket arriving Friday
//!   16:30 with a 2-hour target is due Monday 10:30 (Europe/Berlin)") and a form to try
//!   another start (`?start=YYYY-MM-DDTHH:MM` local to the calendar, `&minutes=N`);
//!   `POST /admin/calendars/{id}/delete` deletes one no policy uses.
//! - `GET /admin/sla-policies`, `GET/POST /admin/sla-policies/new`,
//!   `GET/POST /admin/sla-policies/{id}`, `POST /admin/sla-policies/{id}/delete`.
//!
//! Refused input re-renders the form with status 400 and the message at its field.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use jiff::Timestamp;
use jiff::civil::{DateTime, Weekday};
use jiff::tz::TimeZone;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::AdminAgent;
use crate::auth::Agent;
use crate::sla::SlaError;
use crate::sla::calendar::{Calendar, WEEKDAYS};
use crate::sla::calendars::{self, CalendarInput, StoredCalendar};
use crate::sla::policies::{self, ClockKind, Policy, PolicyInput};
use crate::web::extract::PathNumber;
use crate::web::page::{PageError, render};
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/calendars", get(calendar_list))
        .route(
            "/admin/calendars/new",
            get(calendar_new).post(calendar_create),
        )
        .route(
            "/admin/calendars/{id}",
            get(calendar_edit).post(calendar_update),
        )
        .route("/admin/calendars/{id}/delete", post(calendar_delete))
        .route("/admin/sla-policies", get(policy_list))
        .route(
            "/admin/sla-policies/new",
            get(policy_new).post(policy_create),
        )
        .route(
            "/admin/sla-policies/{id}",
            get(policy_edit).post(policy_update),
        )
        .route("/admin/sla-policies/{id}/delete", post(policy_delete))
}

const DAY_LABELS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

fn done_notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "saved" => Some(
            "Saved. The due times of running SLA clocks were recomputed; achieved and breached results are unchanged.",
        ),
        "created" => Some("Created."),
        "deleted" => Some("Deleted."),
        _ => None,
    }
}

fn with_status(refused: bool, html: axum::response::Html<String>) -> Response {
    if refused {
        (StatusCode::BAD_REQUEST, html).into_response()
    } else {
        html.into_response()
    }
}

// ---------------------------------------------------------------------------------------
// Calendars

/// One row of the calendars list.
struct CalendarRow {
    id: i64,
    name: String,
    time_zone: String,
    /// "Mon 09:00-17:00; Tue ..." (open days only).
    hours: String,
    used_by: String,
}

#[derive(Template)]
#[template(path = "admin/calendars.html")]
struct CalendarsPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    calendars: Vec<CalendarRow>,
    done: Option<&'static str>,
}

fn hours_summary(c: &Calendar) -> String {
    let spec = c.spec();
    let parts: Vec<String> = WEEKDAYS
        .iter()
        .filter_map(|d| {
            let spans = spec.hours.get(*d).filter(|s| !s.is_empty())?;
            let mut day = d.to_string();
            if let Some(f) = day.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            Some(format!("{day} {}", spans.join(", ")))
        })
        .collect();
    parts.join("; ")
}

async fn calendar_list(
    State(state): State<AppState>,
    who: AdminAgent,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let mut rows = Vec::new();
    for c in calendars::list(&state.pool).await? {
        let used_by = calendars::used_by(&state.pool, c.id).await?.join(", ");
        rows.push(CalendarRow {
            id: c.id,
            hours: hours_summary(&c.calendar),
            time_zone: c.calendar.time_zone().to_string(),
            name: c.name,
            used_by,
        });
    }
    Ok(render(&CalendarsPage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "calendars",
        calendars: rows,
        done: done_notice(q.done.as_deref()),
    })?
    .into_response())
}

/// One weekday's field on the calendar form.
struct DayField {
    key: &'static str,
    label: &'static str,
    /// Spans as typed: `09:00-12:00, 13:00-17:00`.
    value: String,
    error: Option<String>,
}

/// The calendar form as posted (weekday fields `mon` ... `sun`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct CalendarForm {
    name: String,
    time_zone: String,
    mon: String,
    tue: String,
    wed: String,
    thu: String,
    fri: String,
    sat: String,
    sun: String,
    holidays: String,
}

impl CalendarForm {
    fn day(&self, i: usize) -> &str {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ][i]
    }

    fn from_stored(c: &StoredCalendar) -> CalendarForm {
        let spec = c.calendar.spec();
        let day = |d: &str| spec.hours.get(d).map(|s| s.join(", ")).unwrap_or_default();
        CalendarForm {
            name: c.name.clone(),
            time_zone: spec.time_zone.clone(),
            mon: day("mon"),
            tue: day("tue"),
            wed: day("wed"),
            thu: day("thu"),
            fri: day("fri"),
            sat: day("sat"),
            sun: day("sun"),
            holidays: spec.holidays.join("\n"),
        }
    }

    /// The calendar as the API takes it, with the holidays read by [`pasted_holidays`]
    /// (`dates`, in order).
    fn input(&self, dates: &[PastedDate]) -> CalendarInput {
        let hours: BTreeMap<String, Vec<String>> = WEEKDAYS
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let spans = self
                    .day(i)
                    .split([',', ';', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                (d.to_string(), spans)
            })
            .collect();
        let holidays = dates.iter().map(|d| d.date.clone()).collect();
        CalendarInput {
            name: Some(self.name.clone()),
            time_zone: Some(self.time_zone.clone()),
            hours: Some(hours),
            holidays: Some(holidays),
        }
    }
}

/// A date found in the pasted holiday list, and the line (1-based) it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PastedDate {
    line: usize,
    date: String,
}

/// Reads the holidays textarea as people paste it from a government page, a spreadsheet or
/// another calendar: every `YYYY-MM-DD` on each line is a holiday, whatever separates them
/// (new lines, commas, semicolons, tabs, spaces) and whatever text names them
/// (`2027-05-13 Ascension Day`, `Christmas Day: 2027-12-25`). A non-blank line without such a
/// date is refused (`line 3: no date (expected YYYY-MM-DD, e.g. 2027-12-25)`), so a list in
/// another date format is not silently dropped. Whether each date exists is
/// [`Calendar::parse`]'s check; duplicates are removed there.
fn pasted_holidays(text: &str) -> Result<Vec<PastedDate>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let before = out.len();
        for token in line.split(|c: char| !(c.is_ascii_digit() || c == '-')) {
            let b = token.as_bytes();
            let date_shaped = b.len() == 10
                && b[4] == b'-'
                && b[7] == b'-'
                && b.iter()
                    .enumerate()
                    .all(|(j, c)| j == 4 || j == 7 || c.is_ascii_digit());
            if date_shaped {
                out.push(PastedDate {
                    line: i + 1,
                    date: token.to_string(),
                });
            }
        }
        if out.len() == before {
            return Err(format!(
                "line {}: no date (expected YYYY-MM-DD, e.g. 2027-12-25)",
                i + 1
            ));
        }
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "admin/calendar_form.html")]
struct CalendarFormPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    /// `None` on the "new calendar" page.
    id: Option<i64>,
    name: String,
    time_zone: String,
    zones: Vec<String>,
    days: Vec<DayField>,
    holidays: String,
    name_error: Option<String>,
    time_zone_error: Option<String>,
    hours_error: Option<String>,
    holidays_error: Option<String>,
    delete_error: Option<String>,
    /// The preview sentence for next Friday 16:30 and 2 hours.
    preview: Option<String>,
    /// The "try another start" form: as typed, its result or errors.
    try_start: String,
    try_minutes: String,
    try_result: Option<String>,
    try_start_error: Option<String>,
    try_minutes_error: Option<String>,
    used_by: Vec<String>,
    done: Option<&'static str>,
}

/// Where a refusal shows on the calendar form.
#[derive(Default)]
struct CalendarErrors {
    name: Option<String>,
    time_zone: Option<String>,
    hours: Option<String>,
    holidays: Option<String>,
    day: [Option<String>; 7],
    delete: Option<String>,
}

impl CalendarErrors {
    /// Where `e` shows; `dates` maps a `holidays[i]` error back to its pasted line.
    fn from_sla(e: SlaError, dates: &[PastedDate]) -> Result<CalendarErrors, PageError> {
        let mut errors = CalendarErrors::default();
        match e {
            SlaError::Invalid { field, message } => {
                if field == "name" {
                    errors.name = Some(message);
                } else if field == "time_zone" {
                    errors.time_zone = Some(message);
                } else if let Some(rest) = field.strip_prefix("holidays") {
                    let line = rest
                        .trim_matches(['[', ']'])
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| dates.get(i))
                        .map(|d| format!("line {}: ", d.line))
                        .unwrap_or_default();
                    errors.holidays = Some(format!("{line}{message}"));
                } else if let Some(rest) = field.strip_prefix("hours.") {
                    let (day, index) = rest.split_once('[').unwrap_or((rest, ""));
                    let span = index
                        .trim_end_matches(']')
                        .parse::<usize>()
                        .map(|i| format!("span {}: ", i + 1))
                        .unwrap_or_default();
                    match WEEKDAYS.iter().position(|d| d.eq_ignore_ascii_case(day)) {
                        Some(i) => errors.day[i] = Some(format!("{span}{message}")),
                        None => errors.hours = Some(message),
                    }
                } else {
                    errors.hours = Some(message);
                }
            }
            SlaError::InUse(message) => errors.delete = Some(message),
            SlaError::NotFound => return Err(PageError(AppError::NotFound)),
            SlaError::Db(e) => return Err(e.into()),
        }
        Ok(errors)
    }

    fn any(&self) -> bool {
        self.name.is_some()
            || self.time_zone.is_some()
            || self.hours.is_some()
            || self.holidays.is_some()
            || self.delete.is_some()
            || self.day.iter().any(Option::is_some)
    }
}

/// The first Friday 16:30 (local to the calendar) after `now`.
fn next_friday_afternoon(tz: &TimeZone, now: Timestamp) -> Option<Timestamp> {
    let mut date = tz.to_datetime(now).date();
    for _ in 0..8 {
        if date.weekday() == Weekday::Friday {
            let at = tz.to_timestamp(date.at(16, 30, 0, 0)).ok()?;
            if at > now {
                return Some(at);
            }
        }
        date = date.tomorrow().ok()?;
    }
    None
}

/// The try form's query: `start` local `YYYY-MM-DDTHH:MM`, `minutes`.
#[derive(Deserialize, Default)]
struct TryQuery {
    done: Option<String>,
    start: Option<String>,
    minutes: Option<String>,
}

struct TryOutcome {
    start: String,
    minutes: String,
    result: Option<String>,
    start_error: Option<String>,
    minutes_error: Option<String>,
}

fn try_preview(c: &Calendar, q: &TryQuery) -> TryOutcome {
    let mut out = TryOutcome {
        start: q.start.clone().unwrap_or_default(),
        minutes: q.minutes.clone().unwrap_or_else(|| "120".into()),
        result: None,
        start_error: None,
        minutes_error: None,
    };
    if q.start.is_none() && q.minutes.is_none() {
        return out;
    }
    let tz = TimeZone::get(c.time_zone()).unwrap_or(TimeZone::UTC);
    let start = out
        .start
        .trim()
        .parse::<DateTime>()
        .ok()
        .and_then(|dt| tz.to_timestamp(dt).ok());
    if start.is_none() {
        out.start_error = Some("enter a date and time, e.g. 2026-12-04T16:30".into());
    }
    let minutes = out
        .minutes
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|m| *m > 0 && *m <= 100 * 366 * 24 * 60);
    if minutes.is_none() {
        out.minutes_error = Some("must be a whole number of minutes > 0".into());
    }
    if let (Some(start), Some(minutes)) = (start, minutes) {
        match c.preview(start, minutes) {
            Ok(p) => out.result = Some(p),
            Err(e) => out.minutes_error = Some(e.to_string()),
        }
    }
    out
}

async fn calendar_page(
    state: &AppState,
    who: AdminAgent,
    id: Option<i64>,
    form: CalendarForm,
    errors: CalendarErrors,
    query: TryQuery,
) -> Result<Response, PageError> {
    let stored = match id {
        Some(id) => Some(
            calendars::get(&state.pool, id)
                .await?
                .ok_or(PageError(AppError::NotFound))?,
        ),
        None => None,
    };
    let used_by = match id {
        Some(id) => calendars::used_by(&state.pool, id).await?,
        None => Vec::new(),
    };
    let (preview, tried) = match &stored {
        Some(s) => {
            let tz = TimeZone::get(s.calendar.time_zone()).unwrap_or(TimeZone::UTC);
            let preview = next_friday_afternoon(&tz, Timestamp::now())
                .and_then(|start| s.calendar.preview(start, 120).ok());
            (preview, Some(try_preview(&s.calendar, &query)))
        }
        None => (None, None),
    };
    let tried_badly = tried
        .as_ref()
        .is_some_and(|t| t.start_error.is_some() || t.minutes_error.is_some());
    let refused = errors.any() || tried_badly;
    let tried = tried.unwrap_or(TryOutcome {
        start: String::new(),
        minutes: "120".into(),
        result: None,
        start_error: None,
        minutes_error: None,
    });
    let days = WEEKDAYS
        .iter()
        .zip(DAY_LABELS)
        .zip(errors.day)
        .enumerate()
        .map(|(i, ((key, label), error))| DayField {
            key,
            label,
            value: form.day(i).to_string(),
            error,
        })
        .collect();
    let time_zone = if form.time_zone.is_empty() {
        "UTC".to_string()
    } else {
        form.time_zone.clone()
    };
    let html = render(&CalendarFormPage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "calendars",
        id,
        name: form.name.clone(),
        time_zone,
        zones: crate::timezone::names(),
        days,
        holidays: form.holidays.clone(),
        name_error: errors.name,
        time_zone_error: errors.time_zone,
        hours_error: errors.hours,
        holidays_error: errors.holidays,
        delete_error: errors.delete,
        preview,
        try_start: tried.start,
        try_minutes: tried.minutes,
        try_result: tried.result,
        try_start_error: tried.start_error,
        try_minutes_error: tried.minutes_error,
        used_by,
        done: done_notice(query.done.as_deref()),
    })?;
    Ok(with_status(refused, html))
}

async fn calendar_new(
    State(state): State<AppState>,
    who: AdminAgent,
) -> Result<Response, PageError> {
    let form = CalendarForm {
        time_zone: "UTC".into(),
        mon: "09:00-17:00".into(),
        tue: "09:00-17:00".into(),
        wed: "09:00-17:00".into(),
        thu: "09:00-17:00".into(),
        fri: "09:00-17:00".into(),
        ..CalendarForm::default()
    };
    calendar_page(
        &state,
        who,
        None,
        form,
        CalendarErrors::default(),
        TryQuery::default(),
    )
    .await
}

async fn calendar_create(
    State(state): State<AppState>,
    who: AdminAgent,
    Form(form): Form<CalendarForm>,
) -> Result<Response, PageError> {
    let dates = match pasted_holidays(&form.holidays) {
        Ok(d) => d,
        Err(message) => {
            let errors = CalendarErrors {
                holidays: Some(message),
                ..Default::default()
            };
            return calendar_page(&state, who, None, form, errors, TryQuery::default()).await;
        }
    };
    let mut tx = state.pool.begin().await?;
    match calendars::create(&mut tx, &who.actor(), form.input(&dates)).await {
        Ok(c) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/admin/calendars/{}?done=created", c.id)).into_response())
        }
        Err(e) => {
            drop(tx);
            let errors = CalendarErrors::from_sla(e, &dates)?;
            calendar_page(&state, who, None, form, errors, TryQuery::default()).await
        }
    }
}

async fn calendar_edit(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    Query(q): Query<TryQuery>,
) -> Result<Response, PageError> {
    let c = calendars::get(&state.pool, id)
        .await?
        .ok_or(PageError(AppError::NotFound))?;
    let form = CalendarForm::from_stored(&c);
    calendar_page(&state, who, Some(id), form, CalendarErrors::default(), q).await
}

async fn calendar_update(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    Form(form): Form<CalendarForm>,
) -> Result<Response, PageError> {
    let dates = match pasted_holidays(&form.holidays) {
        Ok(d) => d,
        Err(message) => {
            let errors = CalendarErrors {
                holidays: Some(message),
                ..Default::default()
            };
            return calendar_page(&state, who, Some(id), form, errors, TryQuery::default()).await;
        }
    };
    let mut tx = state.pool.begin().await?;
    match calendars::update(&mut tx, &who.actor(), id, form.input(&dates)).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/admin/calendars/{id}?done=saved")).into_response())
        }
        Err(e) => {
            drop(tx);
            let errors = CalendarErrors::from_sla(e, &dates)?;
            calendar_page(&state, who, Some(id), form, errors, TryQuery::default()).await
        }
    }
}

async fn calendar_delete(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
) -> Result<Response, PageError> {
    let mut tx = state.pool.begin().await?;
    match calendars::delete(&mut tx, &who.actor(), id).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to("/admin/calendars?done=deleted").into_response())
        }
        Err(e) => {
            drop(tx);
            let errors = CalendarErrors::from_sla(e, &[])?;
            let c = calendars::get(&state.pool, id)
                .await?
                .ok_or(PageError(AppError::NotFound))?;
            let form = CalendarForm::from_stored(&c);
            calendar_page(&state, who, Some(id), form, errors, TryQuery::default()).await
        }
    }
}

// ---------------------------------------------------------------------------------------
// SLA policies

#[derive(Template)]
#[template(path = "admin/sla_policies.html")]
struct PoliciesPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    policies: Vec<Policy>,
    done: Option<&'static str>,
}

async fn policy_list(
    State(state): State<AppState>,
    who: AdminAgent,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let policies = policies::list(&state.pool).await?;
    Ok(render(&PoliciesPage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "sla",
        policies,
        done: done_notice(q.done.as_deref()),
    })?
    .into_response())
}

/// One cell of the 4 × 3 grid of targets.
struct TargetCell {
    /// `urgent.first_response`: the input's name.
    name: String,
    /// `t-urgent-first_response`: the input's id.
    id: String,
    /// "Urgent: first response", for the input's label.
    label: String,
    value: String,
    error: Option<String>,
}

/// One priority's row of the grid.
struct TargetRow {
    label: &'static str,
    cells: Vec<TargetCell>,
}

struct CalendarChoice {
    id: i64,
    name: String,
}

#[derive(Template)]
#[template(path = "admin/sla_policy_form.html")]
struct PolicyFormPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    id: Option<i64>,
    name: String,
    calendar: String,
    calendars: Vec<CalendarChoice>,
    clocks: Vec<&'static str>,
    rows: Vec<TargetRow>,
    warning_percent: String,
    name_error: Option<String>,
    calendar_error: Option<String>,
    targets_error: Option<String>,
    warning_percent_error: Option<String>,
    done: Option<&'static str>,
}

const PRIORITIES: [(&str, &str); 4] = [
    ("urgent", "Urgent"),
    ("high", "High"),
    ("normal", "Normal"),
    ("low", "Low"),
];

fn policy_form_values(p: &Policy) -> HashMap<String, String> {
    let mut form = HashMap::new();
    form.insert("name".into(), p.name.clone());
    form.insert("calendar".into(), p.calendar_id.to_string());
    form.insert("warning_percent".into(), p.warning_percent.to_string());
    let targets = serde_json::to_value(p.targets).unwrap_or_default();
    for (priority, _) in PRIORITIES {
        for clock in ClockKind::ALL {
            let v = targets[priority][clock.as_str()]
                .as_i64()
                .unwrap_or_default();
            form.insert(format!("{priority}.{}", clock.as_str()), v.to_string());
        }
    }
    form
}

fn policy_input(form: &HashMap<String, String>) -> PolicyInput {
    let number_or_text = |s: &str| {
        let s = s.trim();
        s.parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(s))
    };
    let mut targets = Map::new();
    for (priority, _) in PRIORITIES {
        let mut row = Map::new();
        for clock in ClockKind::ALL {
            let key = format!("{priority}.{}", clock.as_str());
            row.insert(
                clock.as_str().to_string(),
                number_or_text(form.get(&key).map(String::as_str).unwrap_or("")),
            );
        }
        targets.insert(priority.to_string(), Value::Object(row));
    }
    PolicyInput {
        name: Some(form.get("name").cloned().unwrap_or_default()),
        calendar: form.get("calendar").and_then(|c| c.trim().parse().ok()),
        targets: Some(Value::Object(targets)),
        warning_percent: Some(number_or_text(
            form.get("warning_percent")
                .map(String::as_str)
                .unwrap_or(""),
        )),
    }
}

async fn policy_page(
    state: &AppState,
    who: AdminAgent,
    id: Option<i64>,
    form: HashMap<String, String>,
    error: Option<(String, String)>,
    done: Option<&'static str>,
) -> Result<Response, PageError> {
    let calendars: Vec<CalendarChoice> = calendars::list(&state.pool)
        .await?
        .into_iter()
        .map(|c| CalendarChoice {
            id: c.id,
            name: c.name,
        })
        .collect();
    let error_for = |f: &str| {
        error
            .as_ref()
            .filter(|(field, _)| field == f)
            .map(|(_, m)| m.clone())
    };
    let rows = PRIORITIES
        .iter()
        .map(|(priority, label)| TargetRow {
            label,
            cells: ClockKind::ALL
                .iter()
                .map(|clock| {
                    let key = format!("{priority}.{}", clock.as_str());
                    TargetCell {
                        id: format!("t-{priority}-{}", clock.as_str()),
                        label: format!("{label}: {}", clock.label().to_lowercase()),
                        value: form.get(&key).cloned().unwrap_or_default(),
                        error: error_for(&format!("targets.{key}")),
                        name: key,
                    }
                })
                .collect(),
        })
        .collect();
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    let targets_error = error
        .as_ref()
        .filter(|(f, _)| {
            f == "targets" || (f.starts_with("targets.") && f.matches('.').count() < 2)
        })
        .map(|(_, m)| m.clone());
    let html = render(&PolicyFormPage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "sla",
        id,
        name: field("name"),
        calendar: field("calendar"),
        calendars,
        clocks: ClockKind::ALL.iter().map(|c| c.label()).collect(),
        rows,
        warning_percent: field("warning_percent"),
        name_error: error_for("name"),
        calendar_error: error_for("calendar"),
        targets_error,
        warning_percent_error: error_for("warning_percent"),
        done,
    })?;
    Ok(with_status(error.is_some(), html))
}

fn policy_error(e: SlaError) -> Result<(String, String), PageError> {
    match e {
        SlaError::Invalid { field, message } => Ok((field, message)),
        SlaError::InUse(message) => Ok(("name".into(), message)),
        SlaError::NotFound => Err(PageError(AppError::NotFound)),
        SlaError::Db(e) => Err(e.into()),
    }
}

async fn policy_new(State(state): State<AppState>, who: AdminAgent) -> Result<Response, PageError> {
    let mut form = HashMap::new();
    form.insert(
        "warning_percent".into(),
        policies::DEFAULT_WARNING_PERCENT.to_string(),
    );
    let defaults = [
        ("urgent", [30, 60, 240]),
        ("high", [60, 120, 480]),
        ("normal", [240, 480, 1440]),
        ("low", [480, 960, 2880]),
    ];
    for (priority, minutes) in defaults {
        for (clock, m) in ClockKind::ALL.iter().zip(minutes) {
            form.insert(format!("{priority}.{}", clock.as_str()), m.to_string());
        }
    }
    policy_page(&state, who, None, form, None, None).await
}

async fn policy_create(
    State(state): State<AppState>,
    who: AdminAgent,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = policy_input(&form);
    let mut tx = state.pool.begin().await?;
    match policies::create(&mut tx, &who.actor(), input).await {
        Ok(p) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/admin/sla-policies/{}?done=created", p.id)).into_response())
        }
        Err(e) => {
            drop(tx);
            let error = policy_error(e)?;
            policy_page(&state, who, None, form, Some(error), None).await
        }
    }
}

async fn policy_edit(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let p = policies::get(&state.pool, id)
        .await?
        .ok_or(PageError(AppError::NotFound))?;
    let done = done_notice(q.done.as_deref());
    policy_page(&state, who, Some(id), policy_form_values(&p), None, done).await
}

async fn policy_update(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = policy_input(&form);
    let mut tx = state.pool.begin().await?;
    match policies::update(&mut tx, &who.actor(), id, input).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/admin/sla-policies/{id}?done=saved")).into_response())
        }
        Err(e) => {
            drop(tx);
            let error = policy_error(e)?;
            policy_page(&state, who, Some(id), form, Some(error), None).await
        }
    }
}

async fn policy_delete(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
) -> Result<Response, PageError> {
    let mut tx = state.pool.begin().await?;
    policies::delete(&mut tx, &who.actor(), id).await?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/sla-policies?done=deleted").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dates(text: &str) -> Vec<(usize, String)> {
        pasted_holidays(text)
            .unwrap()
            .into_iter()
            .map(|d| (d.line, d.date))
            .collect()
    }

    fn want(list: &[(usize, &str)]) -> Vec<(usize, String)> {
        list.iter().map(|(l, d)| (*l, d.to_string())).collect()
    }

    #[test]
    fn pasted_holiday_lists_keep_every_date_and_drop_the_names() {
        assert_eq!(
            dates("2027-01-01\n\n2027-05-13 Ascension Day\nChristmas Day: 2027-12-25\n"),
            want(&[(1, "2027-01-01"), (3, "2027-05-13"), (4, "2027-12-25")])
        );
        assert_eq!(
            dates("2027-12-25, 2027-12-26;2027-12-31\t New Year's Eve (half day)"),
            want(&[(1, "2027-12-25"), (1, "2027-12-26"), (1, "2027-12-31")])
        );
        assert_eq!(dates("  \n"), want(&[]));
        // date-shaped but impossible: kept for Calendar::parse to refuse, naming the line
        assert_eq!(dates("x\t2027-02-30"), want(&[(1, "2027-02-30")]));
    }

    #[test]
    fn a_line_without_a_date_is_refused_naming_it() {
        assert_eq!(
            pasted_holidays("2027-01-01\n25.12.2027 Christmas").unwrap_err(),
            "line 2: no date (expected YYYY-MM-DD, e.g. 2027-12-25)"
        );
        assert!(pasted_holidays("Christmas 2027-12-251").is_err());
    }
}
