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

/// Saves the note; the page that follows says who was notified, and names each `@handle`
/// that notified nobody, so the author knows to tell that person another way.
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
        notified_notice(&note.notified)
            .into_iter()
            .chain(note.unresolved.iter().map(|u| Notice::warning(u.message()))),
    )
    .await;
    Ok(Redirect::to(&format!(
        "{}#m{}",
        ticket_href(number, &f.list),
        note.id
    )))
}

/// "Notified Lee Park and Sam Ortiz (by email too: offline)." for the page after the note;
/// nothing when the note mentioned nobody.
fn notified_notice(notified: &[crate::tickets::mentions::Mentioned]) -> Option<Notice> {
    let names: Vec<String> = notified
        .iter()
        .map(|m| {
            if m.offline {
                format!("{} (offline: by email too)", m.name)
            } else {
                m.name.clone()
            }
        })
        .collect();
    let list = match names.as_slice() {
        [] => return None,
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    Some(Notice::info(format!("Notified {list}.")))
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
