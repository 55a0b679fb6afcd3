//! Admin API: webhook endpoints. `POST /api/v1/webhooks` `{"url", "events": [...],
//! "secret"}` → 201 `{"id"}`; `GET /api/v1/webhooks` → `{"webhooks": [endpoint]}`;
//! `GET /api/v1/webhooks/{id}` → the endpoint with its latest 50 `deliveries`;
//! `PATCH /api/v1/webhooks/{id}` (any of `url`, `events`, `secret`, `enabled`);
//! `DELETE /api/v1/webhooks/{id}` → 204. Bad input → 400 naming the field (`url: ...`,
//! `events: unknown event ...`, `secret: must not be empty`). Secrets are never returned.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::JsonBody;
use super::admin::ApiAdmin;
use crate::web::extract::PathNumber;
use crate::web::{AppError, AppState};
use crate::webhooks::endpoints::{self, EndpointError, EndpointInput};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/{number}", get(show).patch(update).delete(delete))
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

async fn list(State(state): State<AppState>, _: ApiAdmin) -> Result<Json<Value>, AppError> {
    Ok(Json(
        json!({ "webhooks": endpoints::list(&state.pool).await? }),
    ))
}

async fn create(
    State(state): State<AppState>,
    who: ApiAdmin,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let input = EndpointInput::from_json(&body)?;
    let id = endpoints::create(
        &state.pool,
        &who.actor(),
        &input,
        state.config.webhooks.allow_private,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))))
}

async fn show(
    State(state): State<AppState>,
    _: ApiAdmin,
    PathNumber(id): PathNumber,
) -> Result<Json<Value>, AppError> {
    let endpoint = endpoints::get(&state.pool, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let deliveries = endpoints::deliveries(&state.pool, id, 50).await?;
    let mut v = serde_json::to_value(endpoint).map_err(anyhow::Error::from)?;
    v["deliveries"] = serde_json::to_value(deliveries).map_err(anyhow::Error::from)?;
    Ok(Json(v))
}

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

async fn delete(
    State(state): State<AppState>,
    who: ApiAdmin,
    PathNumber(id): PathNumber,
) -> Result<StatusCode, AppError> {
    endpoints::delete(&state.pool, &who.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
