//! The admin side of the API: [`ApiAdmin`], the extractor every admin route takes.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::ApiAgent;
use crate::audit::AuditActor;
use crate::web::{AppError, AppState};

/// The admin behind a valid bearer token. Any other valid token gets 403 `{"error"}`; no or
/// a bad token 401, as for [`ApiAgent`].
pub struct ApiAdmin(pub ApiAgent);

impl ApiAdmin {
    /// This admin as the actor of an audit entry.
    pub fn actor(&self) -> AuditActor {
        AuditActor::agent(&self.0.agent)
    }
}

impl FromRequestParts<AppState> for ApiAdmin {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let who = ApiAgent::from_request_parts(parts, state).await?;
        if !who.agent.is_admin() {
            return Err(AppError::Forbidden("this needs an admin's token".into()));
        }
        Ok(ApiAdmin(who))
    }
}
