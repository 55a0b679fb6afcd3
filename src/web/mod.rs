//! The HTTP layer: the only module that knows axum. `router(state)` is the same in
//! production and in tests.

mod admin;
mod analytics;
mod api;
mod csat;
pub(crate) mod customers;
mod error;
mod extract;
mod flash;
mod fmt;
mod health;
mod inbox;
mod invite;
mod live;
mod login;
mod page;
mod search;
mod session;
mod settings;
mod tickets;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::{Router, middleware};
use sqlx::PgPool;
use tower_http::csrf::CsrfLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

pub use error::AppError;
pub use health::metrics_router;

/// Handles shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// Where analytics reads go: the read replica (`FRONTDESK_REPLICA_URL`) when one is
    /// configured, else a smaller pool of its own on the primary (`crate::db::reports_pool`;
    /// `serve` sets it, [`AppState::new`] starts with `pool` itself). Read-only queries only.
    pub reports: PgPool,
    pub config: Arc<crate::config::Config>,
    /// This node's fan-out of live events (fed by `live::Hub::run_listener` in `app::run`).
    pub live: crate::live::Hub,
}

impl AppState {
    /// State with a fresh live-event hub (nothing feeds it until its listener runs).
    pub fn new(pool: PgPool, config: Arc<crate::config::Config>) -> AppState {
        AppState {
            reports: pool.clone(),
            pool,
            config,
            live: crate::live::Hub::default(),
        }
    }
}

/// Any path no route knows: the app's own 404 page (signed in or not), or for the API its
/// JSON `{"error": "not found"}`.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if uri.path() == "/api" || uri.path().starts_with("/api/") {
        AppError::NotFound.into_response()
    } else {
        page::PageError(AppError::NotFound).into_response()
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    // Sessions live in PostgreSQL so that any node can serve any request. The cookie is
    // HttpOnly and SameSite=Strict; Secure when the public URL is https.
    let sessions = SessionManagerLayer::new(PostgresStore::new(state.pool.clone()))
        .with_name("frontdesk_session")
        .with_secure(state.config.public_url.starts_with("https://"))
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(7)));
    Router::new()
        .merge(health::router())
        .merge(login::router())
        .merge(invite::router())
        .merge(csat::router())
        .merge(inbox::router())
        .merge(tickets::router())
        .merge(search::router())
        .merge(customers::router())
        .merge(settings::router())
        .merge(admin::router())
        .merge(analytics::router())
        .merge(live::router())
        // request durations by matched route: a route layer, so that the route is known; the
        // API gets its own below (routes added after this call are not wrapped)
        .route_layer(middleware::from_fn(crate::telemetry::metrics::track_requests))
        .nest(
            "/api/v1",
            api::router().route_layer(middleware::from_fn(
                crate::telemetry::metrics::track_requests,
            )),
        )
        .fallback(not_found)
        // Pages and API answers carry agents' mail: no browser or proxy keeps a copy (the
        // back button after signing out shows nothing). Static files, added below, may be cached.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .nest_service("/static", ServeDir::new(concat!(env!("CARGO_MANIFEST_DIR"), "/static")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(sessions)
        // Cross-site form posts are refused (Sec-Fetch-Site / Origin, tower-http's CsrfLayer).
        .layer(CsrfLayer::new())
        .layer(TraceLayer::new_for_http())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}
