//! Internal notes and the @mention picker of the note composer.

use axum::extract::State;
use axum::response::Redirect;
use axum::{Form, Json};
use serde::Deserialize;

use super::ticket_href;
use crate::tickets::actions;
use crate::web::extract::PathNumber;
use crate::web::flash::{self, Notice};
use crate::web::page::PageError;
use crate::web::session::CurrentAgent;
use crate::web::{AppError, AppState};

#[derive(Deserialize)]
pub(super) struct NoteForm {
    text: String,
    #[serde(default)]
    list: String,
}

/// Saves the note; each `@handle` that notified nobody is named in a notice on the page
/// that follows, so the author knows to tell that person another way.
pub(super) async fn post_note(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
    Form(f): Form<NoteForm>,
) -> Result<Redirect, PageError> {
    let note = actions::add_note(
        &state.pool,
        who.agent.agent_id,
        who.visible.as_deref(),
        number,
        &f.text,
        &state.config.public_url,
    )
    .await
    .map_err(AppError::from)?;
    flash::push(
        &who.session,
        note.unresolved.iter().map(|u| Notice::warning(u.message())),
    )
    .await;
    Ok(Redirect::to(&format!(
        "{}#m{}",
        ticket_href(number, &f.list),
        note.id
    )))
}

/// `GET /tickets/{number}/mentionable`: the agents a note on this ticket can @mention (they
/// can see its mailbox; not the agent asking), as `[{"name", "handle"}]`, for the composer.
pub(super) async fn list_mentionable(
    State(state): State<AppState>,
    who: CurrentAgent,
    PathNumber(number): PathNumber,
) -> Result<Json<Vec<crate::tickets::mentions::Mentionable>>, AppError> {
    crate::tickets::mentions::mentionable(
        &state.pool,
        who.visible.as_deref(),
        number,
        who.agent.agent_id,
    )
    .await?
    .map(Json)
    .ok_or(AppError::NotFound)
}
