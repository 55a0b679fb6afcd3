//! `GET /`: a landing page until the agent inbox exists.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

use super::{AppError, AppState};

/// The landing page.
#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    base_url: String,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(show_home))
}

async fn show_home(State(state): State<AppState>) -> Result<Html<String>, AppError> {
    let page = HomePage {
        base_url: format!("http://{}", state.config.bind),
    };
    Ok(Html(page.render().map_err(anyhow::Error::from)?))
}
