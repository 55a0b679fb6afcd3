//! Admin API: routing rules. `GET/POST /api/v1/rules`, `PATCH/DELETE /api/v1/rules/{id}`,
//! `POST /api/v1/rules/reorder` `{"ids": [...]}`, `POST /api/v1/rules/dry-run`
//! `{"rule": rule, "last": 100}`. Invalid rules get 400 naming every bad part
//! (`conditions.all[1].op: unknown operator "containz"`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::ApiAdmin;
use super::{ApiError, JsonBody};
use crate::rules::model::RuleShape;
use crate::rules::store::{self, RuleStoreError};
use crate::rules::{CompiledRule, Rule, engine};
use crate::web::extract::PathNumber;
use crate::web::{AppError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(reorder))
        .routes(routes!(dry_run))
        .routes(routes!(update, delete))
}

/// Every rule, in order of evaluation.
#[derive(Serialize, ToSchema)]
pub struct RuleList {
    pub rules: Vec<store::StoredRule>,
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

/// `GET /api/v1/rules`.
#[utoipa::path(get, path = "/rules", tag = "rules",
    responses(
        (status = 200, body = RuleList),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn list(State(state): State<AppState>, _: ApiAdmin) -> Result<Json<RuleList>, AppError> {
    Ok(Json(RuleList {
        rules: store::list(&state.pool).await?,
    }))
}

/// `POST /api/v1/rules`: adds a rule at the end.
#[utoipa::path(post, path = "/rules", tag = "rules", request_body = RuleShape,
    responses(
        (status = 201, body = store::StoredRule),
        (status = 400, body = ApiError, description = "An invalid rule, naming every bad part."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn create(
    State(state): State<AppState>,
    who: ApiAdmin,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<store::StoredRule>), AppError> {
    let rule = store::create(&state.pool, &who.actor(), &body).await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

/// `PATCH /api/v1/rules/{id}`: replaces the rule (the read-only keys a GET shows may be sent back).
#[utoipa::path(patch, path = "/rules/{id}", tag = "rules",
    params(("id" = i64, Path, description = "The rule's id.")),
    request_body = RuleShape,
    responses(
        (status = 200, body = store::StoredRule),
        (status = 400, body = ApiError, description = "An invalid rule, naming every bad part."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such rule."),
    ))]
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

/// `DELETE /api/v1/rules/{id}`.
#[utoipa::path(delete, path = "/rules/{id}", tag = "rules",
    params(("id" = i64, Path, description = "The rule's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
        (status = 404, body = ApiError, description = "No such rule."),
    ))]
async fn delete(
    State(state): State<AppState>,
    who: ApiAdmin,
    PathNumber(id): PathNumber,
) -> Result<StatusCode, AppError> {
    store::delete(&state.pool, &who.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReorderBody {
    /// Every rule's id, in the new order.
    ids: Vec<i64>,
}

/// `POST /api/v1/rules/reorder`: answers with the rules in their new order.
#[utoipa::path(post, path = "/rules/reorder", tag = "rules", request_body = ReorderBody,
    responses(
        (status = 200, body = RuleList),
        (status = 400, body = ApiError, description = "`ids` is not every rule's id once."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn reorder(
    State(state): State<AppState>,
    who: ApiAdmin,
    JsonBody(body): JsonBody<ReorderBody>,
) -> Result<Json<RuleList>, AppError> {
    store::reorder(&state.pool, &who.actor(), &body.ids).await?;
    Ok(Json(RuleList {
        rules: store::list(&state.pool).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DryRunBody {
    /// The unsaved rule.
    #[schema(value_type = RuleShape)]
    rule: Value,
    /// How many of the latest tickets, 1..=1000 (default 100).
    last: Option<i64>,
}

/// What an unsaved rule would do to each of the latest tickets.
#[derive(Serialize, ToSchema)]
pub struct DryRunResults {
    pub results: Vec<engine::DryRunResult>,
}

/// Runs the unsaved rule on the last N tickets (default 100, at most 1000); writes nothing.
#[utoipa::path(post, path = "/rules/dry-run", tag = "rules", request_body = DryRunBody,
    responses(
        (status = 200, body = DryRunResults),
        (status = 400, body = ApiError, description = "An invalid rule (naming every bad part) or `last`."),
        (status = 403, body = ApiError, description = "Not an admin's token."),
    ))]
async fn dry_run(
    State(state): State<AppState>,
    _: ApiAdmin,
    JsonBody(body): JsonBody<DryRunBody>,
) -> Result<Json<DryRunResults>, AppError> {
    let last = body.last.unwrap_or(100);
    if !(1..=1000).contains(&last) {
        return Err(AppError::BadRequest(format!(
            "last must be 1..1000, got {last}"
        )));
    }
    let compiled = compile_for_dry_run(&state, &body.rule).await?;
    let results = engine::dry_run(&state.pool, &compiled, last).await?;
    Ok(Json(DryRunResults { results }))
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
