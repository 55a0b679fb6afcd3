//! Merging a ticket into another.

use axum::Form;
use axum::extract::State;
use axum::response::Redirect;
use serde::Deserialize;

use super::back;
use crate::tickets::actions;
use crate::web::extract::PathNumber;
use crate::web::page::PageError;
use crate::web::session::CurrentAgent;
use crate::web::{AppError, AppState};

#[derive(Deserialize)]
pub(super) struct MergeForm {
    /// The ticket number to merge this one into (`#` allowed).
    into: String,
    #[serde(default)]
    list: String,
}

pub(super) async fn post_merge(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
    Form(f): Form<MergeForm>,
) -> Result<Redirect, PageError> {
    let target: i64 = f
        .into
        .trim()
        .trim_start_matches('#')
        .parse()
        .map_err(|_| AppError::BadRequest(format!("not a ticket number: {:?}", f.into)))?;
    actions::merge(
        &state.pool,
        who.actor(),
        who.visible.as_deref(),
        number,
        target,
    )
    .await
    .map_err(AppError::from)?;
    Ok(back(target, &f.list))
}
