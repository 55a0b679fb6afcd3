//! Merging a ticket into another; across mailboxes only after a confirmation that names who
//! gains access.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::back;
use crate::tickets::actions::{self, ActionError};
use crate::web::extract::PathNumber;
use crate::web::page::{PageError, render};
use crate::web::session::CurrentAgent;
use crate::web::{AppError, AppState};

#[derive(Deserialize)]
pub(super) struct MergeForm {
    /// The ticket number to merge this one into (`#` allowed).
    into: String,
    #[serde(default)]
    list: String,
    /// From the confirmation page of a merge across mailboxes.
    #[serde(default)]
    confirm: Option<String>,
}

#[derive(Template)]
#[template(path = "tickets/merge_confirm.html")]
struct ConfirmPage {
    number: i64,
    target: i64,
    list: String,
    from_mailbox: String,
    into_mailbox: String,
    gaining: Vec<String>,
    confirmation: String,
}

pub(super) async fn post_merge(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
    Form(f): Form<MergeForm>,
) -> Result<Response, PageError> {
    let target: i64 = f
        .into
        .trim()
        .trim_start_matches('#')
        .parse()
        .map_err(|_| AppError::BadRequest(format!("not a ticket number: {:?}", f.into)))?;
    match actions::merge(
        &state.pool,
        who.actor(),
        who.visible.as_deref(),
        number,
        target,
        f.confirm.as_deref(),
    )
    .await
    {
        Ok(()) => Ok(back(target, &f.list).into_response()),
        // Across mailboxes: ask first, naming who gains access (409: nothing was merged).
        Err(ActionError::MergeNeedsConfirmation(c)) => {
            let page = render(&ConfirmPage {
                number,
                target,
                list: f.list,
                confirmation: c.confirmation(),
                gaining: c.gaining.into_iter().map(|(_, name)| name).collect(),
                from_mailbox: c.from_mailbox,
                into_mailbox: c.into_mailbox,
            })?;
            Ok((StatusCode::CONFLICT, page).into_response())
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}
