//! Admin API: webhook endpoints. `POST /api/v1/webhooks` `{"url", "events": [...],
//! "secret"}` → 201 `{"id"}`; `GET /api/v1/webhooks` → `{"webhooks": [endpoint]}`;
//! `GET /api/v1/webhooks/{id}` → the endpoint with its latest 50 `deliveries`;
//! `PATCH /api/v1/webhooks/{id}` (any of `url`, `events`, `secret`, `enabled`);
//! `DELETE /api/v1/webhooks/{id}` → 204. Bad input → 400 naming the field (`url: ...`,
//! `events: unknown event ...`, `secret: must not be empty`). Secrets are never returned.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::ApiAdmin;
use super::{ApiError, JsonBody};
use crate::web::extract::PathNumber;
use crate::web::{AppError, AppState};
use crate::webhooks::endpoints::{self, EndpointError, EndpointInput};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, delete))
}

/// Every webhook endpoint.
#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<endpoints::Endpoint>,
}

/// A webhook endpoint created.
#[derive(Serialize, ToSchema)]
pub struct WebhookCreated {
    pub id: i64,
}

/// An endpoint with its latest 50 deliveries.
#[derive(Serialize, ToSchema)]
pub struct WebhookDetail {
    #[serde(flatten)]
    pub endpoint: endpoints::Endpoint,
    /// Newest first.
    pub deliveries: Vec<endpoints::DeliveryView>,
}

impl From<EndpointError> for AppError {
    fn from(e: EndpointError) -> Self {
        match e {
            EndpointError::Invalid { .. } => AppError::BadRequest(e.to_string()),
            EndpointError::NotFound => AppError::NotFound,
            EndpointError::Db(d) => AppError::Db(d),
        }
    }
}

/// `GET /api/v1/webhooks`.
#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    responses(
        (status = 200, body = WebhookList),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn list(State(state): State<AppState>, _: ApiAdmin) -> Result<Json<WebhookList>, AppError> {
    Ok(Json(WebhookList {
        webhooks: endpoints::list(&state.pool).await?,
    }))
}

/// `POST /api/v1/webhooks`.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = EndpointInput,
    responses(
        (status = 201, body = WebhookCreated),
        (status = 400, body = ApiError, description = "A bad or missing field (named)."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn create(
    State(state): State<AppState>,
    who: ApiAdmin,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<WebhookCreated>), AppError> {
    let input = EndpointInput::from_json(&body)?;
    let id = endpoints::create(
        &state.pool,
        &who.actor(),
        &input,
        state.config.webhooks.allow_private,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(WebhookCreated { id })))
}

/// `GET /api/v1/webhooks/{id}`.
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint's id.")),
    responses(
        (status = 200, body = WebhookDetail),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such endpoint."),
    ))]
async fn show(
    State(state): State<AppState>,
    _: ApiAdmin,
    PathNumber(id): PathNumber,
) -> Result<Json<WebhookDetail>, AppError> {
    let endpoint = endpoints::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let deliveries = endpoints::deliveries(&state.pool, id, 50).await?;
    Ok(Json(WebhookDetail {
        endpoint,
        deliveries,
    }))
}

/// `PATCH /api/v1/webhooks/{id}`: any of the fields.
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint's id.")),
    request_body = EndpointInput,
    responses(
        (status = 200, body = endpoints::Endpoint),
        (status = 400, body = ApiError, description = "A bad field (named)."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such endpoint."),
    ))]
async fn update(
    State(state): State<AppState>,
    who: ApiAdmin,
    PathNumber(id): PathNumber,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<endpoints::Endpoint>, AppError> {
    let input = EndpointInput::from_json(&body)?;
    Ok(Json(
        endpoints::update(
            &state.pool,
            &who.actor(),
            id,
            &input,
            state.config.webhooks.allow_private,
        )
        .await?,
    ))
}

/// `DELETE /api/v1/webhooks/{id}`.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks",
    params(("id" = i64, Path, description = "The endpoint's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such endpoint."),
    ))]
async fn delete(
    State(state): State<AppState>,
    who: ApiAdmin,
    PathNumber(id): PathNumber,
) -> Result<StatusCode, AppError> {
    endpoints::delete(&state.pool, &who.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
