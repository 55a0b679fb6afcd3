//! One error type for handlers: maps to a status and a JSON `{"error": "..."}` body.
//! Server errors are logged once here and say nothing to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required")]
    Unauthorized,
    /// Signed in, but the role does not allow it (an agent or lead on an admin page).
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl AppError {
    /// The HTTP status this error maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Db(_) | AppError::Other(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            tracing::error!(error = %format!("{self:#}"), "request failed");
            "internal error".to_string()
        } else {
            self.to_string()
        };
        let mut resp = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert("www-authenticate", "Bearer".parse().expect("static header"));
        }
        resp
    }
}

impl From<crate::tickets::ListError> for AppError {
    fn from(e: crate::tickets::ListError) -> Self {
        match e {
            crate::tickets::ListError::Filter(f) => AppError::BadRequest(f.0),
            crate::tickets::ListError::Db(d) => AppError::Db(d),
        }
    }
}

impl From<crate::tickets::UnknownValue> for AppError {
    fn from(e: crate::tickets::UnknownValue) -> Self {
        AppError::BadRequest(e.to_string())
    }
}

impl From<crate::tickets::actions::ActionError> for AppError {
    fn from(e: crate::tickets::actions::ActionError) -> Self {
        use crate::tickets::actions::ActionError;
        match e {
            ActionError::NotFound => AppError::NotFound,
            ActionError::Invalid(m) => AppError::BadRequest(m),
            e @ (ActionError::AssigneeCannotSee(_) | ActionError::MergeNeedsConfirmation(_)) => {
                AppError::BadRequest(e.to_string())
            }
            ActionError::Db(d) => AppError::Db(d),
        }
    }
}

impl From<crate::tickets::saved_views::ViewError> for AppError {
    fn from(e: crate::tickets::saved_views::ViewError) -> Self {
        use crate::tickets::saved_views::ViewError;
        match e {
            ViewError::NotFound => AppError::NotFound,
            ViewError::Forbidden(m) => AppError::Forbidden(m),
            e @ ViewError::Invalid { .. } => AppError::BadRequest(e.to_string()),
            ViewError::Db(d) => AppError::Db(d),
        }
    }
}
