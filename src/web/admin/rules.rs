//! Admin console: routing rules.
//!
//! - `GET /admin/rules`: the rules in evaluation order with their firing figures; per rule a
//!   toggle (`POST /admin/rules/{id}/toggle`), Up / Down (`POST /admin/rules/{id}/move`,
//!   `by=-1|1`) and Delete (`POST /admin/rules/{id}/delete`: without `confirm` it asks first).
//! - `GET|POST /admin/rules/new`, `GET|POST /admin/rules/{id}`: the editor. Conditions and
//!   actions are rows of selects and text inputs (blank rows ignored; "Add ... row" buttons
//!   re-render with one more, no script needed); "Advanced: conditions as JSON" replaces the
//!   condition rows when not empty (for nested groups). The form is turned into the API's JSON
//!   shape and saved through [`crate::rules::store`]; every error names its path and is shown
//!   at the top and beside its row (status 400).
//! - The editor's "Test on recent tickets" button (`action=dry_run`) runs the unsaved rule on
//!   the last [`DRY_RUN_TICKETS`] tickets ([`engine::dry_run`]) and shows what it would do;
//!   nothing is written.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AdminAgent;
use crate::auth::Agent;
use crate::rules::conditions::describe_condition;
use crate::rules::model::{Field, FieldType, Mode, Op, Trigger};
use crate::rules::store::{self, RuleStoreError, StoredRule};
use crate::rules::{Action, CompiledRule, ConditionGroup, ConditionNode, RuleError, engine};
use crate::timezone::AgentTimeZone;
use crate::web::fmt;
use crate::web::page::{PageError, render};
use crate::web::{AppError, AppState};

/// How many recent tickets "Test on recent tickets" runs the rule on.
pub const DRY_RUN_TICKETS: i64 = 100;
/// Condition rows a new editor shows.
const CONDITION_ROWS: usize = 5;
/// Action rows a new editor shows.
const ACTION_ROWS: usize = 3;
/// At most this many rows of each kind (the validator's limits are lower).
const MAX_ROWS: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/rules", get(list))
        .route("/admin/rules/new", get(new_form).post(create))
        .route("/admin/rules/{id}", get(edit_form).post(update))
        .route("/admin/rules/{id}/move", post(move_rule))
        .route("/admin/rules/{id}/toggle", post(toggle))
        .route("/admin/rules/{id}/delete", post(delete))
}

/// Triggers as the form offers them: (value, label).
fn trigger_label(t: Trigger) -> &'static str {
    match t {
        Trigger::TicketCreated => "A ticket is created",
        Trigger::CustomerReplied => "The customer replies",
        Trigger::AgentReplied => "An agent replies",
        Trigger::NoteAdded => "A note is added",
        Trigger::StatusChanged => "The status changes",
        Trigger::AssigneeChanged => "The assignee changes",
        Trigger::PriorityChanged => "The priority changes",
        Trigger::TagsChanged => "The tags change",
        Trigger::SlaWarning => "An SLA is about to be breached",
        Trigger::SlaBreached => "An SLA is breached",
        Trigger::CsatRated => "The customer rates the support",
        Trigger::Time => "Time passes (checked continuously)",
    }
}

fn mode_label(m: Mode) -> &'static str {
    match m {
        Mode::OncePerTicket => "Once per ticket",
        Mode::OnStateEntry => "Each time the conditions become true",
        Mode::EveryTime => "Every matching event",
    }
}

fn op_label(op: Op) -> &'static str {
    match op {
        Op::Is => "is",
        Op::IsNot => "is not",
        Op::Contains => "contains",
        Op::NotContains => "does not contain",
        Op::StartsWith => "starts with",
        Op::EndsWith => "ends with",
        Op::Matches => "matches (regular expression)",
        Op::In => "is one of (comma-separated)",
        Op::Gt => "is more than",
        Op::Lt => "is less than",
        Op::IsSet => "is set",
        Op::IsNotSet => "is not set",
    }
}

/// The action types the editor offers, (type, label, what the value holds). A webhook's
/// secret is set through the API; the editor keeps a stored one while the URL stays the same
/// ([`keep_webhook_secrets`]).
const ACTION_KINDS: &[(&str, &str, &str)] = &[
    ("assign_agent", "Assign to agent", "agent email"),
    ("assign_team", "Assign to team", "team name"),
    ("unassign", "Unassign", "no value"),
    ("add_tag", "Add tag", "tag"),
    ("remove_tag", "Remove tag", "tag"),
    (
        "set_priority",
        "Set priority",
        "low, normal, high or urgent",
    ),
    (
        "set_status",
        "Set status",
        "open, pending, snoozed or closed",
    ),
    ("snooze", "Snooze", "minutes"),
    (
        "send_saved_reply",
        "Send saved reply (automatic)",
        "shared saved reply name",
    ),
    ("add_note", "Add internal note", "note text"),
    ("notify", "Notify agents", "agent emails, comma-separated"),
    ("apply_sla", "Apply SLA policy", "SLA policy name"),
    ("set_customer_vip", "Set customer VIP", "yes or no"),
    (
        "set_lifecycle_stage",
        "Set customer lifecycle stage",
        "lifecycle stage name",
    ),
    ("set_health", "Set customer health", "0 to 100"),
    ("set_company_vip", "Set company VIP", "yes or no"),
    (
        "set_company_lifecycle_stage",
        "Set company lifecycle stage",
        "lifecycle stage name",
    ),
    ("set_company_health", "Set company health", "0 to 100"),
    (
        "webhook",
        "Call webhook",
        "https:// URL (or http:// to localhost)",
    ),
];

/// A select's option: (value, label).
type Choice = (&'static str, &'static str);

fn triggers() -> Vec<Choice> {
    Trigger::ALL
        .iter()
        .map(|t| (t.as_str(), trigger_label(*t)))
        .collect()
}

fn modes() -> Vec<Choice> {
    Mode::ALL
        .iter()
        .map(|m| (m.as_str(), mode_label(*m)))
        .collect()
}

fn fields() -> Vec<Choice> {
    Field::ALL.iter().map(|f| (f.as_str(), f.label())).collect()
}

fn ops() -> Vec<Choice> {
    Op::ALL.iter().map(|o| (o.as_str(), op_label(*o))).collect()
}

fn action_kinds() -> Vec<Choice> {
    ACTION_KINDS.iter().map(|(v, l, _)| (*v, *l)).collect()
}

// ---------------------------------------------------------------- list

/// A rule as the list shows it.
struct ListRow {
    id: i64,
    position: i32,
    name: String,
    trigger: &'static str,
    mode: &'static str,
    enabled: bool,
    stop: bool,
    fire_count: i64,
    /// In the viewer's time zone; `None`: never fired.
    last_fired: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/rules.html")]
struct ListPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    rules: Vec<ListRow>,
    notice: Option<String>,
    /// The rule whose deletion is to be confirmed: (id, name).
    confirm_delete: Option<(i64, String)>,
}

#[derive(Deserialize)]
struct Notice {
    saved: Option<String>,
    deleted: Option<String>,
    moved: Option<String>,
    enabled: Option<String>,
    disabled: Option<String>,
}

async fn list_page(
    state: &AppState,
    admin: AdminAgent,
    notice: Option<String>,
    confirm_delete: Option<(i64, String)>,
) -> Result<Response, PageError> {
    let tz = AgentTimeZone::from_stored(&admin.agent.time_zone);
    let rules = store::list(&state.pool)
        .await?
        .into_iter()
        .map(|r| ListRow {
            id: r.id,
            position: r.position,
            trigger: trigger_label(r.rule.trigger),
            mode: mode_label(r.rule.mode),
            enabled: r.rule.enabled,
            stop: r.rule.stop,
            fire_count: r.fire_count,
            last_fired: r.last_fired_at.map(|t| fmt::datetime(t, &tz)),
            name: r.rule.name,
        })
        .collect();
    let page = ListPage {
        me: admin.agent,
        unread_notifications: admin.unread_notifications,
        section: "rules",
        rules,
        notice,
        confirm_delete,
    };
    Ok(render(&page)?.into_response())
}

async fn list(
    State(state): State<AppState>,
    admin: AdminAgent,
    Query(q): Query<Notice>,
) -> Result<Response, PageError> {
    let notice = if let Some(n) = q.saved {
        Some(format!("Saved rule {n}."))
    } else if let Some(n) = q.deleted {
        Some(format!("Deleted rule {n}."))
    } else if let Some(n) = q.enabled {
        Some(format!("Enabled rule {n}."))
    } else if let Some(n) = q.disabled {
        Some(format!("Disabled rule {n}."))
    } else {
        q.moved.map(|n| format!("Moved rule {n}."))
    };
    list_page(&state, admin, notice, None).await
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The pairs of a posted form.
fn pairs(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn one<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

async fn stored_rule(state: &AppState, id: i64) -> Result<StoredRule, PageError> {
    let mut conn = state.pool.acquire().await?;
    store::get(&mut conn, id)
        .await?
        .ok_or(PageError(AppError::NotFound))
}

fn store_error(e: RuleStoreError) -> PageError {
    match e {
        RuleStoreError::Invalid(errors) => PageError(AppError::BadRequest(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )),
        RuleStoreError::NotFound => PageError(AppError::NotFound),
        RuleStoreError::Db(d) => PageError(d.into()),
    }
}

async fn move_rule(
    State(state): State<AppState>,
    admin: AdminAgent,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    let p = pairs(&body);
    let by = match one(&p, "by") {
        "-1" => -1,
        "1" => 1,
        other => {
            return Err(PageError(AppError::BadRequest(format!(
                "by: expected -1 or 1, got {other:?}"
            ))));
        }
    };
    let rule = stored_rule(&state, id).await?;
    store::shift(&state.pool, &admin.actor(), id, by)
        .await
        .map_err(store_error)?;
    Ok(Redirect::to(&format!("/admin/rules?moved={}", encode(&rule.rule.name))).into_response())
}

async fn toggle(
    State(state): State<AppState>,
    admin: AdminAgent,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let rule = stored_rule(&state, id).await?;
    let enabled = !rule.rule.enabled;
    let saved = store::update(
        &state.pool,
        &admin.actor(),
        id,
        &json!({ "enabled": enabled }),
    )
    .await
    .map_err(store_error)?;
    let what = if enabled { "enabled" } else { "disabled" };
    Ok(Redirect::to(&format!("/admin/rules?{what}={}", encode(&saved.rule.name))).into_response())
}

async fn delete(
    State(state): State<AppState>,
    admin: AdminAgent,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    let rule = stored_rule(&state, id).await?;
    if one(&pairs(&body), "confirm").is_empty() {
        return list_page(&state, admin, None, Some((id, rule.rule.name))).await;
    }
    store::delete(&state.pool, &admin.actor(), id)
        .await
        .map_err(store_error)?;
    Ok(Redirect::to(&format!("/admin/rules?deleted={}", encode(&rule.rule.name))).into_response())
}

// ---------------------------------------------------------------- editor

/// A condition row of the editor, as typed.
#[derive(Debug, Clone, Default)]
struct ConditionRow {
    field: String,
    op: String,
    value: String,
    /// Errors about this row's condition (messages with their part).
    errors: Vec<String>,
}

/// An action row of the editor, as typed.
#[derive(Debug, Clone, Default)]
struct ActionRow {
    kind: String,
    value: String,
    errors: Vec<String>,
}

/// The editor's state: what the form holds, and the errors placed on it.
#[derive(Debug, Clone)]
struct Draft {
    name: String,
    enabled: bool,
    trigger: String,
    mode: String,
    stop: bool,
    /// `all` or `any`.
    match_kind: String,
    conditions: Vec<ConditionRow>,
    /// "Advanced: conditions as JSON"; when not blank it replaces the rows.
    conditions_json: String,
    actions: Vec<ActionRow>,
    /// Every error, `path: message`, for the top of the page.
    errors: Vec<String>,
    /// Errors placed at a form field other than a row: (field, message).
    field_errors: Vec<(&'static str, String)>,
}

impl Draft {
    fn blank() -> Draft {
        Draft {
            name: String::new(),
            enabled: true,
            trigger: Trigger::TicketCreated.as_str().into(),
            mode: Mode::OncePerTicket.as_str().into(),
            stop: false,
            match_kind: "all".into(),
            conditions: vec![ConditionRow::default(); CONDITION_ROWS],
            conditions_json: String::new(),
            actions: vec![ActionRow::default(); ACTION_ROWS],
            errors: Vec::new(),
            field_errors: Vec::new(),
        }
    }

    /// The editor showing a stored rule (nested groups go to the JSON box).
    fn of(stored: &StoredRule) -> Draft {
        let rule = &stored.rule;
        let mut d = Draft::blank();
        d.name = rule.name.clone();
        d.enabled = rule.enabled;
        d.trigger = rule.trigger.as_str().into();
        d.mode = rule.mode.as_str().into();
        d.stop = rule.stop;
        d.match_kind = rule.conditions.kind.as_str().into();
        let nested = rule
            .conditions
            .items
            .iter()
            .any(|n| matches!(n, ConditionNode::Group(_)));
        if nested {
            d.conditions_json = serde_json::to_string_pretty(&rule.conditions).unwrap_or_default();
        } else {
            let mut rows: Vec<ConditionRow> = rule
                .conditions
                .items
                .iter()
                .filter_map(|n| match n {
                    ConditionNode::Condition(c) => Some(ConditionRow {
                        field: c.field.as_str().into(),
                        op: c.op.as_str().into(),
                        value: value_text(c.value.as_ref()),
                        errors: Vec::new(),
                    }),
                    ConditionNode::Group(_) => None,
                })
                .collect();
            let want = rows.len().max(CONDITION_ROWS);
            rows.resize(want, ConditionRow::default());
            d.conditions = rows;
        }
        let mut actions: Vec<ActionRow> = rule.actions.iter().map(action_row).collect();
        let want = actions.len().max(ACTION_ROWS);
        actions.resize(want, ActionRow::default());
        d.actions = actions;
        d
    }

    /// The editor as posted.
    fn from_form(p: &[(String, String)]) -> Draft {
        let count = |key: &str, default: usize| {
            one(p, key)
                .parse::<usize>()
                .unwrap_or(default)
                .clamp(1, MAX_ROWS)
        };
        let conditions = (0..count("condition_rows", CONDITION_ROWS))
            .map(|i| ConditionRow {
                field: one(p, &format!("condition_{i}_field")).to_string(),
                op: one(p, &format!("condition_{i}_op")).to_string(),
                value: one(p, &format!("condition_{i}_value")).to_string(),
                errors: Vec::new(),
            })
            .collect();
        let actions = (0..count("action_rows", ACTION_ROWS))
            .map(|i| ActionRow {
                kind: one(p, &format!("action_{i}_type")).to_string(),
                value: one(p, &format!("action_{i}_value")).to_string(),
                errors: Vec::new(),
            })
            .collect();
        Draft {
            name: one(p, "name").to_string(),
            enabled: !one(p, "enabled").is_empty(),
            trigger: one(p, "trigger").to_string(),
            mode: one(p, "mode").to_string(),
            stop: !one(p, "stop").is_empty(),
            match_kind: if one(p, "match") == "any" {
                "any"
            } else {
                "all"
            }
            .into(),
            conditions,
            conditions_json: one(p, "conditions_json").to_string(),
            actions,
            errors: Vec::new(),
            field_errors: Vec::new(),
        }
    }

    fn uses_json(&self) -> bool {
        !self.conditions_json.trim().is_empty()
    }

    /// The rule in the API's JSON shape, and for each JSON condition / action index the row it
    /// came from. A JSON box that does not parse is an error at `conditions`.
    fn to_json(&self) -> Result<(Value, Vec<usize>, Vec<usize>), RuleError> {
        let mut condition_rows = Vec::new();
        let conditions = if self.uses_json() {
            serde_json::from_str::<Value>(&self.conditions_json)
                .map_err(|e| RuleError::new("conditions", format!("not valid JSON: {e}")))?
        } else {
            let items: Vec<Value> = self
                .conditions
                .iter()
                .enumerate()
                .filter(|(_, r)| !r.field.trim().is_empty())
                .map(|(i, r)| {
                    condition_rows.push(i);
                    condition_json(r)
                })
                .collect();
            json!({ self.match_kind.as_str(): items })
        };
        let mut action_rows = Vec::new();
        let actions: Vec<Value> = self
            .actions
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.kind.trim().is_empty())
            .map(|(i, r)| {
                action_rows.push(i);
                action_json(r)
            })
            .collect();
        let rule = json!({
            "name": self.name.trim(),
            "enabled": self.enabled,
            "trigger": self.trigger,
            "conditions": conditions,
            "actions": actions,
            "mode": self.mode,
            "stop": self.stop,
        });
        Ok((rule, condition_rows, action_rows))
    }

    /// Places each error at the top and beside its row or field.
    fn place(&mut self, errors: &[RuleError], condition_rows: &[usize], action_rows: &[usize]) {
        for e in errors {
            self.errors.push(e.to_string());
            let path = e.path.as_str();
            if let Some(i) = index_after(path, &["conditions.all[", "conditions.any["])
                .filter(|_| !self.uses_json())
                .and_then(|i| condition_rows.get(i).copied())
                && let Some(row) = self.conditions.get_mut(i)
            {
                row.errors.push(e.to_string());
            } else if let Some(i) =
                index_after(path, &["actions["]).and_then(|i| action_rows.get(i).copied())
                && let Some(row) = self.actions.get_mut(i)
            {
                row.errors.push(e.to_string());
            } else {
                let field = match path.split(['.', '[']).next().unwrap_or_default() {
                    "name" => "name",
                    "trigger" => "trigger",
                    "mode" => "mode",
                    "actions" => "actions",
                    "conditions" => "conditions",
                    // `enabled`, `stop`, the whole rule: at the top only
                    _ => continue,
                };
                self.field_errors.push((field, e.to_string()));
            }
        }
    }
}

/// `conditions.all[3].op` with prefix `conditions.all[` → 3.
fn index_after(path: &str, prefixes: &[&str]) -> Option<usize> {
    prefixes.iter().find_map(|p| {
        let rest = path.strip_prefix(p)?;
        rest[..rest.find(']')?].parse().ok()
    })
}

/// A condition's value as the row's text box shows it.
fn value_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|x| value_text(Some(x)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

/// A typed value: a number for number fields and `gt`/`lt`, a boolean for yes/no fields, else
/// the text. What does not parse stays text, for the validator to name.
fn typed(text: &str, field: Option<Field>, op: Option<Op>) -> Value {
    let t = text.trim();
    let field_type = field.map(Field::field_type);
    if field_type == Some(FieldType::Number) || matches!(op, Some(Op::Gt | Op::Lt)) {
        if let Ok(n) = t.parse::<i64>() {
            return json!(n);
        }
        if let Some(n) = t.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            return Value::Number(n);
        }
    }
    if field_type == Some(FieldType::Bool) {
        match t.to_ascii_lowercase().as_str() {
            "true" | "yes" => return json!(true),
            "false" | "no" => return json!(false),
            _ => {}
        }
    }
    json!(t)
}

fn condition_json(r: &ConditionRow) -> Value {
    let field = Field::parse(&r.field);
    let op = Op::parse(&r.op);
    let mut c = Map::new();
    c.insert("field".into(), json!(r.field));
    c.insert("op".into(), json!(r.op));
    match op {
        Some(Op::IsSet | Op::IsNotSet) => {}
        Some(Op::In) => {
            let items: Vec<Value> = r
                .value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| typed(s, field, op))
                .collect();
            c.insert("value".into(), Value::Array(items));
        }
        _ => {
            c.insert("value".into(), typed(&r.value, field, op));
        }
    }
    Value::Object(c)
}

fn list_of(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The editor has no secret field: a `webhook` action saved from it keeps the secret the
/// stored rule has for the same URL (a changed URL goes unsigned until set through the API).
fn keep_webhook_secrets(rule: &mut Value, stored: &Value) {
    let secret_for = |url: &Value| {
        stored["actions"].as_array().and_then(|list| {
            list.iter()
                .find(|a| a["type"] == "webhook" && &a["url"] == url && a.get("secret").is_some())
                .map(|a| a["secret"].clone())
        })
    };
    if let Some(actions) = rule.get_mut("actions").and_then(Value::as_array_mut) {
        for a in actions {
            if a["type"] == "webhook"
                && a.get("secret").is_none()
                && let Some(secret) = secret_for(&a["url"])
            {
                a["secret"] = secret;
            }
        }
    }
}

fn action_json(r: &ActionRow) -> Value {
    let v = r.value.trim();
    match r.kind.as_str() {
        "assign_agent" => json!({"type": "assign_agent", "agent": v}),
        "assign_team" => json!({"type": "assign_team", "team": v}),
        "add_tag" | "remove_tag" => json!({"type": r.kind, "tag": v}),
        "set_priority" => json!({"type": "set_priority", "priority": v}),
        "set_status" => json!({"type": "set_status", "status": v}),
        "snooze" => {
            json!({"type": "snooze", "minutes": v.parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(v))})
        }
        "send_saved_reply" => match v.parse::<i64>() {
            Ok(id) => json!({"type": "send_saved_reply", "saved_reply": id}),
            Err(_) => json!({"type": "send_saved_reply", "saved_reply": v}),
        },
        "add_note" => json!({"type": "add_note", "body": r.value}),
        "notify" => json!({"type": "notify", "agents": list_of(v)}),
        "apply_sla" => json!({"type": "apply_sla", "policy": v}),
        "set_customer_vip" | "set_company_vip" => {
            let vip = match v.to_ascii_lowercase().as_str() {
                "yes" | "true" | "vip" => json!(true),
                "no" | "false" => json!(false),
                _ => json!(v),
            };
            json!({"type": r.kind, "vip": vip})
        }
        "set_lifecycle_stage" | "set_company_lifecycle_stage" => {
            json!({"type": r.kind, "stage": v})
        }
        "set_health" | "set_company_health" => {
            json!({"type": r.kind, "health": v.parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(v))})
        }
        "webhook" => json!({"type": "webhook", "url": v}),
        other => json!({ "type": other }),
    }
}

fn action_row(a: &Action) -> ActionRow {
    let value = match a {
        Action::AssignAgent { agent } => agent.clone(),
        Action::AssignTeam { team } => team.clone(),
        Action::Unassign => String::new(),
        Action::AddTag { tag } | Action::RemoveTag { tag } => tag.clone(),
        Action::SetPriority { priority } => priority.to_string(),
        Action::SetStatus { status } => status.to_string(),
        Action::Snooze { minutes } => minutes.to_string(),
        Action::SendSavedReply { saved_reply } => match saved_reply {
            crate::rules::model::SavedReplyRef::Id(id) => id.to_string(),
            crate::rules::model::SavedReplyRef::Name(n) => n.clone(),
        },
        Action::AddNote { body } => body.clone(),
        Action::Notify { agents, .. } => agents.join(", "),
        Action::ApplySla { policy } => policy.clone(),
        Action::SetCustomerVip { vip } | Action::SetCompanyVip { vip } => {
            if *vip { "yes" } else { "no" }.to_owned()
        }
        Action::SetLifecycleStage { stage } | Action::SetCompanyLifecycleStage { stage } => {
            stage.clone()
        }
        Action::SetHealth { health } | Action::SetCompanyHealth { health } => health.to_string(),
        Action::Webhook { url, .. } => url.clone(),
    };
    ActionRow {
        kind: a.type_name().into(),
        value,
        errors: Vec::new(),
    }
}

/// One ticket's line in the "Test on recent tickets" table.
struct DryRow {
    number: i64,
    subject: String,
    matched: bool,
    /// When not matched: the first condition that failed, in words.
    failed: String,
    /// When matched: what the rule would do, in words.
    actions: String,
}

struct DryRun {
    rows: Vec<DryRow>,
    matched: usize,
}

/// A failed condition or group in words: `subject contains 'refund'`, `none of: a; b`.
fn describe_failed(v: &Value) -> String {
    match ConditionNode::from_json(v, "", 0) {
        Ok(ConditionNode::Condition(c)) => describe_condition(&c),
        Ok(ConditionNode::Group(g)) => describe_group(&g),
        Err(_) => v.to_string(),
    }
}

fn describe_group(g: &ConditionGroup) -> String {
    let items: Vec<String> = g
        .items
        .iter()
        .map(|n| match n {
            ConditionNode::Condition(c) => describe_condition(c),
            ConditionNode::Group(g) => format!("({})", describe_group(g)),
        })
        .collect();
    let lead = match g.kind {
        crate::rules::model::GroupKind::Any => "none of",
        crate::rules::model::GroupKind::All => "not all of",
    };
    format!("{lead}: {}", items.join("; "))
}

#[derive(Template)]
#[template(path = "admin/rule_form.html")]
struct FormPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    /// `None` for a new rule.
    id: Option<i64>,
    /// The heading: the stored name, or "New rule".
    title: String,
    draft: Draft,
    triggers: Vec<Choice>,
    modes: Vec<Choice>,
    fields: Vec<Choice>,
    ops: Vec<Choice>,
    action_kinds: Vec<Choice>,
    dry_run: Option<DryRun>,
    dry_run_tickets: i64,
}

impl FormPage {
    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("/admin/rules/{id}"),
            None => "/admin/rules/new".into(),
        }
    }

    fn errors_for(&self, field: &str) -> Vec<&str> {
        self.draft
            .field_errors
            .iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
            .collect()
    }

    fn has_error(&self, field: &str) -> bool {
        self.draft.field_errors.iter().any(|(f, _)| *f == field)
    }
}

async fn form_page(
    admin: AdminAgent,
    id: Option<i64>,
    title: String,
    draft: Draft,
    dry_run: Option<DryRun>,
) -> Result<Response, PageError> {
    let status = if draft.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = FormPage {
        me: admin.agent,
        unread_notifications: admin.unread_notifications,
        section: "rules",
        id,
        title,
        draft,
        triggers: triggers(),
        modes: modes(),
        fields: fields(),
        ops: ops(),
        action_kinds: action_kinds(),
        dry_run,
        dry_run_tickets: DRY_RUN_TICKETS,
    };
    Ok((status, render(&page)?).into_response())
}

async fn new_form(admin: AdminAgent) -> Result<Response, PageError> {
    form_page(admin, None, "New rule".into(), Draft::blank(), None).await
}

async fn edit_form(
    State(state): State<AppState>,
    admin: AdminAgent,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let stored = stored_rule(&state, id).await?;
    let title = stored.rule.name.clone();
    form_page(admin, Some(id), title, Draft::of(&stored), None).await
}

async fn create(
    State(state): State<AppState>,
    admin: AdminAgent,
    body: Bytes,
) -> Result<Response, PageError> {
    submit(state, admin, None, "New rule".into(), body).await
}

async fn update(
    State(state): State<AppState>,
    admin: AdminAgent,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, PageError> {
    let stored = stored_rule(&state, id).await?;
    submit(state, admin, Some(id), stored.rule.name, body).await
}

/// The editor's POST: add a row, test the rule, or save it.
async fn submit(
    state: AppState,
    admin: AdminAgent,
    id: Option<i64>,
    title: String,
    body: Bytes,
) -> Result<Response, PageError> {
    let p = pairs(&body);
    let mut draft = Draft::from_form(&p);
    match one(&p, "action") {
        "add_condition" => {
            if draft.conditions.len() < MAX_ROWS {
                draft.conditions.push(ConditionRow::default());
            }
            return form_page(admin, id, title, draft, None).await;
        }
        "add_action" => {
            if draft.actions.len() < MAX_ROWS {
                draft.actions.push(ActionRow::default());
            }
            return form_page(admin, id, title, draft, None).await;
        }
        _ => {}
    }
    let (rule, condition_rows, action_rows) = match draft.to_json() {
        Ok(x) => x,
        Err(e) => {
            draft.place(&[e], &[], &[]);
            return form_page(admin, id, title, draft, None).await;
        }
    };
    if one(&p, "action") == "dry_run" {
        let compiled = compile(&state, &rule).await?;
        return match compiled {
            Ok(compiled) => {
                let results = engine::dry_run(&state.pool, &compiled, DRY_RUN_TICKETS).await?;
                let rows: Vec<DryRow> = results
                    .into_iter()
                    .map(|r| DryRow {
                        number: r.number,
                        subject: r.subject,
                        matched: r.matched,
                        failed: r
                            .failed_condition
                            .as_ref()
                            .map(describe_failed)
                            .unwrap_or_default(),
                        actions: r.actions.join(", "),
                    })
                    .collect();
                let matched = rows.iter().filter(|r| r.matched).count();
                form_page(admin, id, title, draft, Some(DryRun { rows, matched })).await
            }
            Err(errors) => {
                draft.place(&errors, &condition_rows, &action_rows);
                form_page(admin, id, title, draft, None).await
            }
        };
    }
    let mut rule = rule;
    if let Some(id) = id {
        keep_webhook_secrets(&mut rule, &stored_rule(&state, id).await?.rule.to_json());
    }
    let saved = match id {
        Some(id) => store::update(&state.pool, &admin.actor(), id, &rule).await,
        None => store::create(&state.pool, &admin.actor(), &rule).await,
    };
    match saved {
        Ok(r) => Ok(
            Redirect::to(&format!("/admin/rules?saved={}", encode(&r.rule.name))).into_response(),
        ),
        Err(RuleStoreError::Invalid(errors)) => {
            draft.place(&errors, &condition_rows, &action_rows);
            form_page(admin, id, title, draft, None).await
        }
        Err(e) => Err(store_error(e)),
    }
}

/// Validates like a save would, then compiles; `Err` holds every problem.
async fn compile(
    state: &AppState,
    rule: &Value,
) -> Result<Result<CompiledRule, Vec<RuleError>>, PageError> {
    let mut conn = state.pool.acquire().await?;
    match store::parse_valid(&mut conn, rule).await {
        Ok(rule) => Ok(CompiledRule::new(rule)),
        Err(RuleStoreError::Invalid(errors)) => Ok(Err(errors)),
        Err(e) => Err(store_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(field: &str, op: &str, value: &str) -> ConditionRow {
        ConditionRow {
            field: field.into(),
            op: op.into(),
            value: value.into(),
            errors: Vec::new(),
        }
    }

    #[test]
    fn rows_become_typed_values() {
        assert_eq!(
            condition_json(&row("message_count", "in", "1, 2,, x")),
            json!({"field": "message_count", "op": "in", "value": [1, 2, "x"]})
        );
        assert_eq!(
            condition_json(&row("customer.vip", "is", "False")),
            json!({"field": "customer.vip", "op": "is", "value": false})
        );
        assert_eq!(
            condition_json(&row("subject", "gt", "2.5")),
            json!({"field": "subject", "op": "gt", "value": 2.5})
        );
        assert_eq!(
            condition_json(&row("subject", "is", "42")),
            json!({"field": "subject", "op": "is", "value": "42"})
        );
        assert_eq!(
            condition_json(&row("tags", "is_not_set", "ignored")),
            json!({"field": "tags", "op": "is_not_set"})
        );
        assert_eq!(
            action_json(&ActionRow {
                kind: "snooze".into(),
                value: " 90 ".into(),
                errors: Vec::new()
            }),
            json!({"type": "snooze", "minutes": 90})
        );
    }

    #[test]
    fn errors_find_their_row() {
        assert_eq!(
            index_after(
                "conditions.any[12].op",
                &["conditions.all[", "conditions.any["]
            ),
            Some(12)
        );
        assert_eq!(index_after("actions[0].team", &["actions["]), Some(0));
        assert_eq!(index_after("actions", &["actions["]), None);
        let mut d = Draft::blank();
        d.place(
            &[
                RuleError::new("conditions.all[1].value", "bad"),
                RuleError::new("actions[0].team", "no team"),
                RuleError::new("name", "blank"),
                RuleError::new("stop", "odd"),
            ],
            &[0, 3],
            &[2],
        );
        assert_eq!(d.errors.len(), 4);
        assert_eq!(d.conditions[3].errors, ["conditions.all[1].value: bad"]);
        assert_eq!(d.actions[2].errors, ["actions[0].team: no team"]);
        assert_eq!(d.field_errors, [("name", "name: blank".to_string())]);
    }

    #[test]
    fn a_failed_group_reads_as_none_of() {
        let v = json!({"any": [{"field": "from", "op": "is", "value": "@example.net"},
                               {"field": "subject", "op": "matches", "value": "^urgent"}]});
        assert_eq!(
            describe_failed(&v),
            "none of: from is @example.net; subject matches /^urgent/"
        );
    }
}

#[cfg(test)]
mod webhook_secret_tests {
    use super::*;

    #[test]
    fn the_editor_keeps_a_webhook_secret_while_the_url_stays() {
        let stored = json!({"actions": [
            {"type": "webhook", "url": "https://a.example.com/x", "secret": "s1"}]});
        let mut same = json!({"actions": [{"type": "webhook", "url": "https://a.example.com/x"}]});
        keep_webhook_secrets(&mut same, &stored);
        assert_eq!(same["actions"][0]["secret"], "s1");
        let mut other = json!({"actions": [{"type": "webhook", "url": "https://b.example.com/x"}]});
        keep_webhook_secrets(&mut other, &stored);
        assert!(other["actions"][0].get("secret").is_none());
    }
}
