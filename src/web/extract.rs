//! Extractors shared by the web areas.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::AppError;
use super::page::PageError;

/// The one `{number}` or `{id}` of a route's path: a ticket number or a row id, a positive
/// integer. Anything else (`/tickets/abc`, `/tickets/-1`, `/tickets/99999999999999999999`) is
/// a 404, the app's page for browser routes and `{"error": "not found"}` under `/api/`, the
/// same answer as for a ticket that does not exist or is not visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathNumber(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PathNumber {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let api = parts.uri.path().starts_with("/api/");
        let not_found = || {
            if api {
                AppError::NotFound.into_response()
            } else {
                PageError(AppError::NotFound).into_response()
            }
        };
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_found())?;
        parse_number(&raw).map(PathNumber).ok_or_else(not_found)
    }
}

/// [`PathNumber`]'s rule for a route with more than one path parameter: the number, or
/// [`AppError::NotFound`].
pub fn number_in_path(raw: &str) -> Result<i64, AppError> {
    parse_number(raw).ok_or(AppError::NotFound)
}

/// A positive `i64` written in plain decimal digits.
fn parse_number(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<i64>().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::parse_number;

    #[test]
    fn only_positive_decimal_numbers_are_numbers() {
        assert_eq!(parse_number("17"), Some(17));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "1e3",
            " 1",
            "abc",
            "99999999999999999999",
            "١٧",
        ] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }
}
