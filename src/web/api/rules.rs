//! Admin API: routing rules. `GET/POST /api/v1/rules`, `PATCH/DELETE /api/v1/rules/{id}`,
//! `POST /api/v1/rules/reorder` `{"ids": [...]}`, `POST /api/v1/rules/dry-run`
//! `{"rule": rule, "last": 100}`. Invalid rules get 400 naming every bad part
//! (`conditions.all[1].op: unknown operator "containz"`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::JsonBody;
use super::admin::ApiAdmin;
use crate::rules::store::{self, RuleStoreError};
use crate::rules::{CompiledRule, Rule, engine};
use crate::web::extract::PathNumber;
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rules", get(list).post(create))
        .route("/rules/reorder", post(reorder))
        .route("/rules/dry-run", post(dry_run))
        .route("/rules/{number}", patch(update).delete(delete))
}

impl From<RuleStoreError> for AppError {
    fn from(e: RuleStoreError) -> Self {
        match e {
            RuleStoreError::Invalid(_) => AppError::BadRequest(e.to_string()),
            RuleStoreError::NotFound => AppError::NotFound,
            RuleStoreError::Db(d) => AppError::Db(d),
        }
    }
}

async fn list(State(state): State<AppState>, _: ApiAdmin) -> Result<Json<Value>, AppError> {
    Ok(Json(json!({ "rules": store::list(&state.pool).await? })))
}

async fn create(
    State(state): State<AppState>,
    who: ApiAdmin,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<store::StoredRule>), AppError> {
    let rule = store::create(&state.pool, &who.actor(), &body).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

async fn update(
    State(state): State<AppState>,
    who: ApiAdmin,
    PathNumber(id): PathNumber,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<store::StoredRule>, AppError> {
    Ok(Json(
        store::update(&state.pool, &who.actor(), id, &body).await?,
    ))
}

async fn delete(
    State(state): State<AppState>,
    who: ApiAdmin,
    PathNumber(id): PathNumber,
) -> Result<StatusCode, AppError> {
    store::delete(&state.pool, &who.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReorderBody {
    ids: Vec<i64>,
}

async fn reorder(
    State(state): State<AppState>,
    who: ApiAdmin,
    JsonBody(body): JsonBody<ReorderBody>,
) -> Result<Json<Value>, AppError> {
    store::reorder(&state.pool, &who.actor(), &body.ids).await?;
    Ok(Json(json!({ "rules": store::list(&state.pool).await? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DryRunBody {
    rule: Value,
    last: Option<i64>,
}

/// Runs the unsaved rule on the last N tickets (default 100, at most 1000); writes nothing.
async fn dry_run(
    State(state): State<AppState>,
    _: ApiAdmin,
    JsonBody(body): JsonBody<DryRunBody>,
) -> Result<Json<Value>, AppError> {
    let last = body.last.unwrap_or(100);
    if !(1..=1000).contains(&last) {
        return Err(AppError::BadRequest(format!(
            "last must be 1..1000, got {last}"
        )));
    }
    let compiled = compile_for_dry_run(&state, &body.rule).await?;
    let results = engine::dry_run(&state.pool, &compiled, last).await?;
    Ok(Json(json!({ "results": results })))
}

/// Validates like a save would (400 naming the parts), then compiles.
pub(crate) async fn compile_for_dry_run(
    state: &AppState,
    value: &Value,
) -> Result<CompiledRule, AppError> {
    let mut conn = state.pool.acquire().await?;
    let rule: Rule = store::parse_valid(&mut conn, value).await?;
    CompiledRule::new(rule).map_err(|e| AppError::from(RuleStoreError::Invalid(e)))
}
