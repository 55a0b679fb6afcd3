//! Admin console: tags. `GET /admin/tags` lists every tag with its open and total ticket
//! counts; `GET /admin/tags/{id}` edits one: `POST .../rename`, `.../colour`, `.../merge`;
//! `GET /admin/tags/{id}/delete` asks for confirmation with the number of tickets affected,
//! `POST` deletes. The changes themselves (timeline events, audit) are `tickets::tags`.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::AdminAgent;
use crate::auth::Agent;
use crate::tickets::tags::{self, PALETTE, TagError, TagSummary};
use crate::tickets::timeline::Actor;
use crate::web::extract::PathNumber;
use crate::web::page::{PageError, render};
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/tags", get(list))
        .route("/admin/tags/{id}", get(edit))
        .route("/admin/tags/{id}/rename", axum::routing::post(rename))
        .route("/admin/tags/{id}/colour", axum::routing::post(colour))
        .route("/admin/tags/{id}/merge", axum::routing::post(merge))
        .route("/admin/tags/{id}/delete", get(confirm_delete).post(delete))
}

#[derive(Template)]
#[template(path = "admin/tags.html")]
struct TagsPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    tags: Vec<TagSummary>,
    /// A notice after a change (`?done=`).
    done: Option<String>,
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

/// The notices `?done=` may ask for (nothing else is echoed back).
fn done_notice(done: Option<&str>) -> Option<String> {
    match done? {
        "merged" => Some("Tags merged.".into()),
        "deleted" => Some("Tag deleted.".into()),
        "saved" => Some("Saved.".into()),
        _ => None,
    }
}

async fn list(
    State(state): State<AppState>,
    who: AdminAgent,
    axum::extract::Query(q): axum::extract::Query<DoneQuery>,
) -> Result<Response, PageError> {
    let tags = tags::list_tags(&state.pool).await?;
    Ok(render(&TagsPage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "tags",
        tags,
        done: done_notice(q.done.as_deref()),
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "admin/tag_edit.html")]
struct EditPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    tag: TagSummary,
    /// Every other tag, for "merge into".
    others: Vec<TagSummary>,
    palette: &'static [&'static str],
    /// The name field's value (what was typed when refused).
    name: String,
    name_error: Option<String>,
    colour_error: Option<String>,
    into_error: Option<String>,
    saved: bool,
}

/// The edit page, with the field errors of a refused change (status 400) or none.
async fn edit_page(
    state: &AppState,
    who: AdminAgent,
    id: i64,
    refused: Option<(&'static str, String)>,
    typed_name: Option<String>,
    saved: bool,
) -> Result<Response, PageError> {
    let tag = tags::get_tag(&state.pool, id)
        .await?
        .ok_or(PageError(AppError::NotFound))?;
    let others = tags::list_tags(&state.pool)
        .await?
        .into_iter()
        .filter(|t| t.tag_id != id)
        .collect();
    let error_for = |f: &str| {
        refused
            .as_ref()
            .filter(|(field, _)| *field == f)
            .map(|(_, m)| m.clone())
    };
    let page = EditPage {
        name_error: error_for("name"),
        colour_error: error_for("colour"),
        into_error: error_for("into"),
        name: typed_name.unwrap_or_else(|| tag.name.clone()),
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "tags",
        tag,
        others,
        palette: PALETTE,
        saved,
    };
    let html = render(&page)?;
    Ok(if refused.is_some() {
        (StatusCode::BAD_REQUEST, html).into_response()
    } else {
        html.into_response()
    })
}

async fn edit(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    axum::extract::Query(q): axum::extract::Query<DoneQuery>,
) -> Result<Response, PageError> {
    let saved = q.done.as_deref() == Some("saved");
    edit_page(&state, who, id, None, None, saved).await
}

/// What a refused change becomes: the edit page with the error at its field, a 404, or a 500.
async fn refused(
    state: &AppState,
    who: AdminAgent,
    id: i64,
    e: TagError,
    typed_name: Option<String>,
) -> Result<Response, PageError> {
    match e {
        TagError::Invalid { field, message } => {
            edit_page(state, who, id, Some((field, message)), typed_name, false).await
        }
        TagError::NotFound => Err(PageError(AppError::NotFound)),
        TagError::Db(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct RenameForm {
    name: String,
}

async fn rename(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    Form(f): Form<RenameForm>,
) -> Result<Response, PageError> {
    let mut tx = state.pool.begin().await?;
    match tags::rename(&mut tx, &who.actor(), id, &f.name).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/admin/tags/{id}?done=saved")).into_response())
        }
        Err(e) => {
            drop(tx);
            refused(&state, who, id, e, Some(f.name)).await
        }
    }
}

#[derive(Deserialize)]
struct ColourForm {
    #[serde(default)]
    colour: String,
}

async fn colour(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    Form(f): Form<ColourForm>,
) -> Result<Response, PageError> {
    let mut tx = state.pool.begin().await?;
    match tags::set_colour(&mut tx, &who.actor(), id, Some(&f.colour)).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/admin/tags/{id}?done=saved")).into_response())
        }
        Err(e) => {
            drop(tx);
            refused(&state, who, id, e, None).await
        }
    }
}

#[derive(Deserialize)]
struct MergeForm {
    #[serde(default)]
    into: String,
}

async fn merge(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    Form(f): Form<MergeForm>,
) -> Result<Response, PageError> {
    let Ok(into) = f.into.trim().parse::<i64>() else {
        let e = TagError::Invalid {
            field: "into",
            message: "Choose the tag to merge into.".into(),
        };
        return refused(&state, who, id, e, None).await;
    };
    let mut tx = state.pool.begin().await?;
    let by = Actor::Agent(who.agent.agent_id);
    match tags::merge(&mut tx, &who.actor(), by, id, into).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/admin/tags?done=merged").into_response())
        }
        Err(e) => {
            drop(tx);
            refused(&state, who, id, e, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/tag_delete.html")]
struct DeletePage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    tag: TagSummary,
}

async fn confirm_delete(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
) -> Result<Response, PageError> {
    let tag = tags::get_tag(&state.pool, id)
        .await?
        .ok_or(PageError(AppError::NotFound))?;
    Ok(render(&DeletePage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "tags",
        tag,
    })?
    .into_response())
}

async fn delete(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
) -> Result<Response, PageError> {
    let mut tx = state.pool.begin().await?;
    let by = Actor::Agent(who.agent.agent_id);
    match tags::delete(&mut tx, &who.actor(), by, id).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/admin/tags?done=deleted").into_response())
        }
        Err(TagError::NotFound) => Err(PageError(AppError::NotFound)),
        Err(TagError::Invalid { message, .. }) => Err(PageError(AppError::BadRequest(message))),
        Err(TagError::Db(e)) => Err(e.into()),
    }
}
