//! Admin console: webhooks. `GET /admin/webhooks` lists the endpoints (with a notice for each
//! one Frontdesk disabled after a day of failures) and the form to add one (`POST`);
//! `GET /admin/webhooks/{id}` shows one endpoint with its delivery log, where
//! `POST .../events` changes its events, `POST .../enabled` turns it on or off (on again
//! clears the notice) and `POST .../delete` deletes it. The rules live in `crate::webhooks`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::AdminAgent;
use crate::auth::Agent;
use crate::web::extract::PathNumber;
use crate::web::page::{PageError, render};
use crate::web::{AppError, AppState};
use crate::webhooks::EVENTS;
use crate::webhooks::endpoints::{self, DeliveryView, Endpoint, EndpointError, EndpointInput};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/webhooks", get(list).post(create))
        .route("/admin/webhooks/{id}", get(show))
        .route("/admin/webhooks/{id}/events", post(set_events))
        .route("/admin/webhooks/{id}/enabled", post(set_enabled))
        .route("/admin/webhooks/{id}/delete", post(delete))
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct ListPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    endpoints: Vec<Endpoint>,
    events: &'static [&'static str],
    /// The add form as typed (after a refusal).
    url: String,
    checked: Vec<String>,
    /// `(field, message)` of a refused add.
    error: Option<(&'static str, String)>,
    done: Option<&'static str>,
}

impl ListPage {
    fn is_checked(&self, event: &&str) -> bool {
        self.checked.iter().any(|c| c == event)
    }
}

#[derive(Template)]
#[template(path = "admin/webhook.html")]
struct ShowPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    endpoint: Endpoint,
    deliveries: Vec<DeliveryView>,
    events: &'static [&'static str],
    error: Option<String>,
    done: Option<&'static str>,
}

impl ShowPage {
    fn is_checked(&self, event: &&str) -> bool {
        self.endpoint.events.iter().any(|c| c == event)
    }
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

fn done_notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "created" => Some("Webhook added."),
        "saved" => Some("Saved."),
        "deleted" => Some("Webhook deleted."),
        "enabled" => Some("Webhook enabled."),
        "disabled" => Some("Webhook disabled."),
        _ => None,
    }
}

/// The form's `name=value` pairs: `events` repeats, one per checked box.
type Pairs = Vec<(String, String)>;

fn field<'a>(form: &'a Pairs, name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn events_of(form: &Pairs) -> Vec<String> {
    form.iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect()
}

async fn list_page(
    state: &AppState,
    who: AdminAgent,
    typed: Option<(&Pairs, (&'static str, String))>,
    done: Option<&'static str>,
) -> Result<Response, PageError> {
    let endpoints = endpoints::list(&state.pool).await?;
    let refused = typed.is_some();
    let page = ListPage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "webhooks",
        endpoints,
        events: EVENTS,
        url: typed
            .as_ref()
            .and_then(|(f, _)| field(f, "url"))
            .unwrap_or("")
            .to_string(),
        checked: typed
            .as_ref()
            .map(|(f, _)| events_of(f))
            .unwrap_or_default(),
        error: typed.map(|(_, e)| e),
        done,
    };
    let html = render(&page)?;
    Ok(if refused {
        (StatusCode::BAD_REQUEST, html).into_response()
    } else {
        html.into_response()
    })
}

async fn list(
    State(state): State<AppState>,
    who: AdminAgent,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    list_page(&state, who, None, done_notice(q.done.as_deref())).await
}

async fn create(
    State(state): State<AppState>,
    who: AdminAgent,
    Form(form): Form<Pairs>,
) -> Result<Response, PageError> {
    let input = EndpointInput {
        url: Some(field(&form, "url").unwrap_or("").to_string()),
        events: Some(events_of(&form)),
        secret: Some(field(&form, "secret").unwrap_or("").to_string()),
        enabled: Some(true),
    };
    match endpoints::create(
        &state.pool,
        &who.actor(),
        &input,
        state.config.webhooks.allow_private,
    )
    .await
    {
        Ok(id) => Ok(Redirect::to(&format!("/admin/webhooks/{id}?done=created")).into_response()),
        Err(EndpointError::Invalid { field, message }) => {
            list_page(&state, who, Some((&form, (field, message))), None).await
        }
        Err(e) => Err(PageError(e.into())),
    }
}

async fn show_page(
    state: &AppState,
    who: AdminAgent,
    id: i64,
    error: Option<String>,
    done: Option<&'static str>,
) -> Result<Response, PageError> {
    let endpoint = endpoints::get(&state.pool, id)
        .await?
        .ok_or(PageError(AppError::NotFound))?;
    let deliveries = endpoints::deliveries(&state.pool, id, 100).await?;
    let refused = error.is_some();
    let html = render(&ShowPage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "webhooks",
        endpoint,
        deliveries,
        events: EVENTS,
        error,
        done,
    })?;
    Ok(if refused {
        (StatusCode::BAD_REQUEST, html).into_response()
    } else {
        html.into_response()
    })
}

async fn show(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    show_page(&state, who, id, None, done_notice(q.done.as_deref())).await
}

async fn apply(
    state: &AppState,
    who: AdminAgent,
    id: i64,
    input: EndpointInput,
    done: &str,
) -> Result<Response, PageError> {
    match endpoints::update(
        &state.pool,
        &who.actor(),
        id,
        &input,
        state.config.webhooks.allow_private,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/admin/webhooks/{id}?done={done}")).into_response()),
        Err(EndpointError::Invalid { field, message }) => {
            show_page(state, who, id, Some(format!("{field}: {message}")), None).await
        }
        Err(e) => Err(PageError(e.into())),
    }
}

async fn set_events(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    Form(form): Form<Pairs>,
) -> Result<Response, PageError> {
    let input = EndpointInput {
        events: Some(events_of(&form)),
        ..EndpointInput::default()
    };
    apply(&state, who, id, input, "saved").await
}

async fn set_enabled(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    Form(form): Form<Pairs>,
) -> Result<Response, PageError> {
    let on = field(&form, "enabled") == Some("true");
    let input = EndpointInput {
        enabled: Some(on),
        ..EndpointInput::default()
    };
    apply(
        &state,
        who,
        id,
        input,
        if on { "enabled" } else { "disabled" },
    )
    .await
}

async fn delete(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
) -> Result<Response, PageError> {
    endpoints::delete(&state.pool, &who.actor(), id)
        .await
        .map_err(|e| PageError(e.into()))?;
    Ok(Redirect::to("/admin/webhooks?done=deleted").into_response())
}
