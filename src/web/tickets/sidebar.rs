//! The ticket's sidebar fields, each saved as soon as it changes: assignee, status (with
//! snooze), priority, tags; and the spam button.

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::{back, field_answer};
use crate::auth;
use crate::tickets::actions;
use crate::tickets::{Priority, TicketStatus};
use crate::timezone::AgentTimeZone;
use crate::web::extract::PathNumber;
use crate::web::flash::{self, Notice};
use crate::web::inbox::{ListContext, after_closing};
use crate::web::page::PageError;
use crate::web::session::CurrentAgent;
use crate::web::{AppError, AppState};

#[derive(Deserialize)]
pub(super) struct AssignForm {
    /// Agent id, or empty / "none" to unassign.
    assignee: String,
    #[serde(default)]
    list: String,
}

pub(super) async fn post_assign(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
    headers: HeaderMap,
    Form(f): Form<AssignForm>,
) -> Result<Response, PageError> {
    let result = async {
        let assignee = match f.assignee.trim() {
            "" | "none" => None,
            "me" => Some(who.agent.agent_id),
            id => Some(
                id.parse::<i64>()
                    .map_err(|_| AppError::BadRequest(format!("invalid assignee {id:?}")))?,
            ),
        };
        actions::assign(
            &state.pool,
            who.actor(),
            who.visible.as_deref(),
            number,
            assignee,
        )
        .await?;
        let name = match assignee {
            Some(id) => auth::find_agent(&state.pool, id).await?.map(|a| a.name),
            None => None,
        };
        Ok::<_, AppError>(json!({ "assignee": assignee, "assignee_name": name }))
    }
    .await;
    Ok(field_answer(&headers, result, number, &f.list))
}

#[derive(Deserialize)]
pub(super) struct StatusForm {
    status: String,
    /// `YYYY-MM-DDTHH:MM` from a datetime-local input, in the agent's time zone, for `snoozed`.
    snooze_until: Option<String>,
    #[serde(default)]
    list: String,
    /// `next`: done with this ticket, go on to the next one of `list` (the `e` shortcut).
    #[serde(default)]
    then: String,
    /// `on` with `closed`: close without a CSAT survey.
    #[serde(default)]
    without_survey: String,
}

/// Parses a `datetime-local` value as wall-clock time in the agent's zone (a time skipped by
/// a DST change counts from after the gap); returns the UTC instant.
fn parse_local(s: &str, tz: &AgentTimeZone) -> Result<time::OffsetDateTime, AppError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let bad = || {
        AppError::BadRequest(format!(
            "invalid snooze time {s:?} (expected YYYY-MM-DDTHH:MM)"
        ))
    };
    let local = time::PrimitiveDateTime::parse(s.trim(), &fmt).map_err(|_| bad())?;
    tz.from_local(local).ok_or_else(bad)
}

pub(super) async fn post_status(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
    headers: HeaderMap,
    Form(f): Form<StatusForm>,
) -> Result<Response, PageError> {
    // A bad value is answered like any failed save (JSON for the script), not as a page.
    let parsed = f.status.trim().parse::<TicketStatus>();
    // For `then=next`: the ticket's place in its list, before it changes.
    let list = ListContext::parse(&f.list).filter(|_| f.then == "next");
    let place = match &list {
        Some(l) => l.place_of(&state, &who, number).await?,
        None => None,
    };
    let result = async {
        let status = parsed.clone()?;
        let until = match f
            .snooze_until
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => Some(parse_local(
                s,
                &AgentTimeZone::from_stored(&who.agent.time_zone),
            )?),
            None => None,
        };
        let mut tx = state.pool.begin().await?;
        actions::set_status(
            &mut tx,
            who.actor(),
            who.visible.as_deref(),
            number,
            status,
            until,
        )
        .await?;
        if status == TicketStatus::Closed && !f.without_survey.is_empty() {
            crate::csat::survey::withdraw(&mut tx, number).await?;
        }
        tx.commit().await?;
        let until = until.filter(|_| status == TicketStatus::Snoozed);
        Ok::<_, AppError>(
            json!({ "status": status, "snoozed_until": until.map(|u| u.unix_timestamp()) }),
        )
    }
    .await;
    if let (Ok(status), true) = (&parsed, f.then == "next" && result.is_ok()) {
        // Done with it: on to the next ticket of the list it came from.
        let to = after_closing(&state, &who, list.as_ref(), place).await?;
        flash::push(
            &who.session,
            [Notice::info(format!("#{number} is now {status}."))],
        )
        .await;
        return Ok(Redirect::to(&to).into_response());
    }
    Ok(field_answer(&headers, result, number, &f.list))
}

#[derive(Deserialize)]
pub(super) struct PriorityForm {
    priority: String,
    #[serde(default)]
    list: String,
}

pub(super) async fn post_priority(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
    headers: HeaderMap,
    Form(f): Form<PriorityForm>,
) -> Result<Response, PageError> {
    let result = async {
        let priority: Priority = f.priority.trim().parse()?;
        actions::set_priority(
            &state.pool,
            who.actor(),
            who.visible.as_deref(),
            number,
            priority,
        )
        .await?;
        Ok::<_, AppError>(priority)
    }
    .await
    .map(|priority| json!({ "priority": priority }));
    Ok(field_answer(&headers, result, number, &f.list))
}

#[derive(Deserialize)]
pub(super) struct SlaPolicyForm {
    /// A policy id, or `none`.
    sla_policy: String,
    #[serde(default)]
    list: String,
}

/// Puts the ticket under an SLA policy (or none); its running clocks are recomputed.
pub(super) async fn post_sla_policy(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
    headers: HeaderMap,
    Form(f): Form<SlaPolicyForm>,
) -> Result<Response, PageError> {
    let result = async {
        let policy = match f.sla_policy.trim() {
            "" | "none" => None,
            id => Some(
                id.parse::<i64>()
                    .map_err(|_| AppError::BadRequest(format!("invalid SLA policy {id:?}")))?,
            ),
        };
        let mut tx = state.pool.begin().await?;
        actions::set_sla_policy_in(&mut tx, who.actor(), who.visible.as_deref(), number, policy)
            .await?;
        tx.commit().await?;
        Ok::<_, AppError>(json!({ "sla_policy": policy }))
    }
    .await;
    Ok(field_answer(&headers, result, number, &f.list))
}

#[derive(Deserialize)]
pub(super) struct TagsForm {
    /// Comma-separated tag names.
    tags: String,
    #[serde(default)]
    list: String,
}

pub(super) async fn post_tags(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
    headers: HeaderMap,
    Form(f): Form<TagsForm>,
) -> Result<Response, PageError> {
    let tags: Vec<String> = f.tags.split(',').map(String::from).collect();
    let result = actions::set_tags(
        &state.pool,
        who.actor(),
        who.visible.as_deref(),
        number,
        &tags,
    )
    .await
    .map(|saved| json!({ "tags": saved }))
    .map_err(AppError::from);
    Ok(field_answer(&headers, result, number, &f.list))
}

#[derive(Deserialize)]
pub(super) struct SpamForm {
    spam: String,
    #[serde(default)]
    list: String,
}

pub(super) async fn post_spam(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
    Form(f): Form<SpamForm>,
) -> Result<Redirect, PageError> {
    actions::set_spam(
        &state.pool,
        who.actor(),
        who.visible.as_deref(),
        number,
        f.spam == "true",
    )
    .await
    .map_err(AppError::from)?;
    Ok(back(number, &f.list))
}

/// `POST /tickets/{number}/customer`: the account box's form (VIP, lifecycle stage, health,
/// company of the ticket's customer). Anyone who sees the ticket may edit its customer; the
/// change is audited (`customer.update`).
pub(super) async fn post_customer(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
    headers: HeaderMap,
    Form(f): Form<crate::web::customers::AccountForm>,
) -> Result<Response, PageError> {
    let result = async {
        let email =
            crate::customers::customer_of_ticket(&state.pool, who.visible.as_deref(), number)
                .await?
                .ok_or(AppError::NotFound)?;
        let patch = f.customer_patch()?;
        let mut tx = state.pool.begin().await?;
        let c = crate::customers::update_customer(
            &mut tx,
            &crate::audit::AuditActor::agent(&who.agent),
            who.visible.as_deref(),
            &email,
            &patch,
        )
        .await?;
        tx.commit().await?;
        Ok::<_, AppError>(serde_json::to_value(&c).unwrap_or_default())
    }
    .await;
    if result.is_ok() && !super::wants_json(&headers) {
        flash::push(&who.session, [Notice::info("Customer saved.")]).await;
    }
    Ok(field_answer(&headers, result, number, &f.list))
}
