//! `GET/PATCH /api/v1/customers/{email}` and `GET/PATCH /api/v1/companies/{domain}`: account
//! attributes for any signed-in token, within what its agent may see (else 404; see
//! `crate::customers`). Bodies are read field by field so that a bad one is a 400 naming it;
//! nothing is half-applied, and every change is in the audit log.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiAgent, ApiError, JsonBody};
use crate::audit::AuditActor;
use crate::customers::{self, CompanyPatch, CustomerPatch};
use crate::web::{AppError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show_customer, patch_customer))
        .routes(routes!(show_company, patch_company))
}

/// A company and those of its customers the caller may see.
#[derive(Serialize, ToSchema)]
pub struct CompanyDetail {
    #[serde(flatten)]
    pub company: customers::Company,
    pub customers: Vec<CompanyCustomer>,
}

/// A customer of a company.
#[derive(Serialize, ToSchema)]
pub struct CompanyCustomer {
    pub email: String,
    pub name: Option<String>,
}

/// `GET /api/v1/customers/{email}`: `{"email", "name", "vip", "lifecycle_stage", "health",
/// "company", "notes", "own": {"vip", "lifecycle_stage", "health"}, "created_at"}`.
#[utoipa::path(get, path = "/customers/{email}", tag = "customers",
    params(("email" = String, Path, description = "The customer's email.")),
    responses(
        (status = 200, body = customers::Customer),
        (status = 404, body = ApiError, description = "No such customer, or none on a ticket the caller may see."),
    ))]
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
#[utoipa::path(patch, path = "/customers/{email}", tag = "customers",
    params(("email" = String, Path, description = "The customer's email.")),
    request_body = CustomerPatch,
    responses(
        (status = 200, body = customers::Customer),
        (status = 400, body = ApiError, description = "A bad field (named); nothing was changed."),
        (status = 404, body = ApiError, description = "No such customer, or none on a ticket the caller may see."),
    ))]
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
async fn company_detail(
    state: &AppState,
    who: &ApiAgent,
    company: customers::Company,
) -> Result<Json<CompanyDetail>, AppError> {
    let people =
        customers::company_customers(&state.pool, who.visible.as_deref(), company.company_id)
            .await?;
    Ok(Json(CompanyDetail {
        company,
        customers: people
            .into_iter()
            .map(|c| CompanyCustomer {
                email: c.email,
                name: c.name,
            })
            .collect(),
    }))
}

/// `GET /api/v1/companies/{domain}`: `{"domain", "name", "vip", "lifecycle_stage",
/// "health", "created_at", "customers": [{"email", "name"}]}`.
#[utoipa::path(get, path = "/companies/{domain}", tag = "customers",
    params(("domain" = String, Path, description = "The company's mail domain.")),
    responses(
        (status = 200, body = CompanyDetail),
        (status = 404, body = ApiError, description = "No such company, or none the caller may see."),
    ))]
async fn show_company(
    State(state): State<AppState>,
    who: ApiAgent,
    Path(domain): Path<String>,
) -> Result<Json<CompanyDetail>, AppError> {
    let company = customers::find_company(&state.pool, who.visible.as_deref(), &domain)
        .await?
        .ok_or(AppError::NotFound)?;
    company_detail(&state, &who, company).await
}

/// `PATCH /api/v1/companies/{domain}` `{"name"?, "vip"?, "lifecycle_stage"?, "health"?}` →
/// the company as `GET` shows it.
#[utoipa::path(patch, path = "/companies/{domain}", tag = "customers",
    params(("domain" = String, Path, description = "The company's mail domain.")),
    request_body = CompanyPatch,
    responses(
        (status = 200, body = CompanyDetail),
        (status = 400, body = ApiError, description = "A bad field (named); nothing was changed."),
        (status = 404, body = ApiError, description = "No such company, or none the caller may see."),
    ))]
async fn patch_company(
    State(state): State<AppState>,
    who: ApiAgent,
    Path(domain): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<CompanyDetail>, AppError> {
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
    company_detail(&state, &who, company).await
}
