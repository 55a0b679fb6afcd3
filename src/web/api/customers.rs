//! `GET/PATCH /api/v1/customers/{email}` and `GET/PATCH /api/v1/companies/{domain}`: account
//! attributes for any signed-in token, within what its agent may see (else 404; see
//! `crate::customers`). Bodies are read field by field so that a bad one is a 400 naming it;
//! nothing is half-applied, and every change is in the audit log.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiAgent, JsonBody};
use crate::audit::AuditActor;
use crate::customers::{self, CompanyPatch, CustomerPatch};
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/customers/{email}",
            get(show_customer).patch(patch_customer),
        )
        .route(
            "/companies/{domain}",
            get(show_company).patch(patch_company),
        )
}

/// `GET /api/v1/customers/{email}`: `{"email", "name", "vip", "lifecycle_stage", "health",
/// "company", "notes", "own": {"vip", "lifecycle_stage", "health"}, "created_at"}`.
async fn show_customer(
    State(state): State<AppState>,
    who: ApiAgent,
    Path(email): Path<String>,
) -> Result<Json<customers::Customer>, AppError> {
    customers::find_customer(&state.pool, who.visible.as_deref(), &email)
        .await?
        .map(Json)
        .ok_or(AppError::NotFound)
}

/// `PATCH /api/v1/customers/{email}` `{"name"?, "vip"?, "lifecycle_stage"?, "health"?,
/// "company"?, "notes"?}` → the customer. `null` clears the customer's own value.
async fn patch_customer(
    State(state): State<AppState>,
    who: ApiAgent,
    Path(email): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<customers::Customer>, AppError> {
    // Out of sight is a 404 whatever the body says.
    customers::find_customer(&state.pool, who.visible.as_deref(), &email)
        .await?
        .ok_or(AppError::NotFound)?;
    let patch = CustomerPatch::from_json(&body)?;
    let mut tx = state.pool.begin().await?;
    let c = customers::update_customer(
        &mut tx,
        &AuditActor::agent(&who.agent),
        who.visible.as_deref(),
        &email,
        &patch,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(c))
}

/// The company and the customers of it the caller may see (`[{"email", "name"}]`).
async fn company_json(
    state: &AppState,
    who: &ApiAgent,
    company: customers::Company,
) -> Result<Json<Value>, AppError> {
    let people =
        customers::company_customers(&state.pool, who.visible.as_deref(), company.company_id)
            .await?;
    let mut v = serde_json::to_value(&company).map_err(anyhow::Error::from)?;
    v["customers"] = people
        .iter()
        .map(|c| json!({"email": c.email, "name": c.name}))
        .collect();
    Ok(Json(v))
}

/// `GET /api/v1/companies/{domain}`: `{"domain", "name", "vip", "lifecycle_stage",
/// "health", "created_at", "customers": [{"email", "name"}]}`.
async fn show_company(
    State(state): State<AppState>,
    who: ApiAgent,
    Path(domain): Path<String>,
) -> Result<Json<Value>, AppError> {
    let company = customers::find_company(&state.pool, who.visible.as_deref(), &domain)
        .await?
        .ok_or(AppError::NotFound)?;
    company_json(&state, &who, company).await
}

/// `PATCH /api/v1/companies/{domain}` `{"name"?, "vip"?, "lifecycle_stage"?, "health"?}` →
/// the company as `GET` shows it.
async fn patch_company(
    State(state): State<AppState>,
    who: ApiAgent,
    Path(domain): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, AppError> {
    customers::find_company(&state.pool, who.visible.as_deref(), &domain)
        .await?
        .ok_or(AppError::NotFound)?;
    let patch = CompanyPatch::from_json(&body)?;
    let mut tx = state.pool.begin().await?;
    let company = customers::update_company(
        &mut tx,
        &AuditActor::agent(&who.agent),
        who.visible.as_deref(),
        &domain,
        &patch,
    )
    .await?;
    tx.commit().await?;
    company_json(&state, &who, company).await
}
