//! HTML responses: rendering askama templates, and the HTML form of [`AppError`].

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::AppError;

/// Renders a template to a 200 HTML response.
pub fn render(t: &impl Template) -> Result<Html<String>, PageError> {
    t.render()
        .map(Html)
        .map_err(|e| PageError(AppError::Other(e.into())))
}

/// An error on an HTML page: same mapping as [`AppError`], shown as a page, not JSON.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let message = if status.is_server_error() {
            tracing::error!(error = %format!("{:#}", self.0), "page failed");
            "Something went wrong on our side. It has been logged.".to_string()
        } else {
            self.0.to_string()
        };
        let page = ErrorPage {
            status: status.as_u16(),
            message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
        }
    }
}
