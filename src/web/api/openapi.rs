//! The OpenAPI 3.1 document of `/api/v1` (`GET /api/v1/openapi.json`). It is generated from
//! the same code that routes: each module registers its handlers through utoipa-axum's
//! `routes!`, which adds the handler to the router and its `#[utoipa::path]` to the document
//! in one step, so a route cannot be served without being documented.
//!
//! Added here to every operation: the bearer-token security requirement and the two errors
//! any route can answer with (401 without a valid token, 500), both with [`ApiError`].

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::path::Paths;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr, ResponseBuilder};
use utoipa::{Modify, ToSchema};

use super::ApiAgent;

/// Where the API is mounted; the document's paths include it.
pub const PREFIX: &str = "/api/v1";

/// Every error of the API: `{"error": "what went wrong"}` (a 500 says only
/// `"internal error"`). A 400 names the field or parameter at fault.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    /// What went wrong, for people.
    pub error: String,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Frontdesk API",
        description = "The JSON API of Frontdesk, a shared-inbox helpdesk. Every route takes \
                       `Authorization: Bearer TOKEN` (an agent's API token, made with \
                       `frontdesk token create`); admin routes answer 403 to other tokens. \
                       Times are RFC 3339 UTC.",
    ),
    components(schemas(ApiError)),
    modifiers(&Common)
)]
struct ApiDoc;

/// Adds the bearer scheme, the global security requirement and the common errors.
struct Common;

impl Modify for Common {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An agent's API token (`frontdesk token create`)."))
                    .build(),
            ),
        );
        doc.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// A response `description` with an [`ApiError`] body.
fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("ApiError")))
                .build(),
        )
        .build()
        .into()
}

/// The document the routers start from: info, the error schema, the bearer scheme.
pub(super) fn base() -> OpenApi {
    <ApiDoc as utoipa::OpenApi>::openapi()
}

/// Finishes the routers' document: paths mounted under [`PREFIX`], with the 401 and 500
/// every route can answer with.
fn finish(mut doc: OpenApi) -> OpenApi {
    let mut prefixed = Paths::new();
    for (path, mut item) in std::mem::take(&mut doc.paths.paths) {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let r = &mut op.responses.responses;
            // OpenAPI requires a description on every response: the status's reason unless
            // the route gave one.
            for (status, response) in r.iter_mut() {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    response.description = status
                        .parse::<axum::http::StatusCode>()
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("Success")
                        .to_string();
                }
            }
            r.entry("401".into()).or_insert_with(|| {
                error_response(
                    "No token, or a token that is not valid (`WWW-Authenticate: Bearer`).",
                )
            });
            r.entry("500".into()).or_insert_with(|| {
                error_response("A server error (logged; the body says nothing more).")
            });
        }
        prefixed.paths.insert(format!("{PREFIX}{path}"), item);
    }
    doc.paths = prefixed;
    doc
}

/// The OpenAPI document of `/api/v1`, as `GET /api/v1/openapi.json` serves it.
pub fn document() -> OpenApi {
    let (_, doc) = super::routes().split_for_parts();
    finish(doc)
}

/// The document as served, built once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    document()
        .to_json()
        .expect("the OpenAPI document serializes")
});

/// `GET /api/v1/openapi.json`: this document. It needs a token like every other route.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of /api/v1.", content_type = "application/json", body = Object))
)]
pub(super) async fn get_openapi(_who: ApiAgent) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
        .into_response()
}
