//! Admin console: saved replies. `GET /admin/saved-replies` lists them (shared and personal);
//! `GET /admin/saved-replies/new` and `GET /admin/saved-replies/{id}` show the editor with the
//! variables available and a preview filled with sample values; `POST` to the same paths
//! creates or saves (or, with `action=preview`, only previews); `POST .../{id}/delete` deletes.
//! A personal reply belongs to the admin who makes it personal (or keeps its owner).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::AdminAgent;
use crate::auth::Agent;
use crate::tickets::saved_reply::{self, SavedReply, SavedReplyError, SavedReplyInput, VARIABLES};
use crate::web::extract::PathNumber;
use crate::web::page::{PageError, render};
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/saved-replies", get(list).post(create))
        .route("/admin/saved-replies/new", get(new))
        .route("/admin/saved-replies/{id}", get(edit).post(save))
        .route("/admin/saved-replies/{id}/delete", post(delete))
}

#[derive(Template)]
#[template(path = "admin/saved_replies.html")]
struct ListPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    replies: Vec<SavedReply>,
    done: Option<&'static str>,
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    who: AdminAgent,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let replies = saved_reply::list_all(&state.pool).await?;
    let done = match q.done.as_deref() {
        Some("created") => Some("Saved reply created."),
        Some("saved") => Some("Saved reply saved."),
        Some("deleted") => Some("Saved reply deleted."),
        _ => None,
    };
    Ok(render(&ListPage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "saved_replies",
        replies,
        done,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "admin/saved_reply_edit.html")]
struct EditPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    /// `None` = a new reply.
    id: Option<i64>,
    name: String,
    body: String,
    personal: bool,
    /// Whose personal reply this is, when it is someone else's.
    owner_name: Option<String>,
    variables: &'static [(&'static str, &'static str)],
    /// The body with sample values (empty when there is no body yet).
    preview: String,
    name_error: Option<String>,
    body_error: Option<String>,
}

impl EditPage {
    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("/admin/saved-replies/{id}"),
            None => "/admin/saved-replies".into(),
        }
    }
}

#[derive(Deserialize)]
struct ReplyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    body: String,
    /// `shared` or `personal`.
    #[serde(default)]
    visibility: String,
    /// `preview` to only show the preview; anything else saves.
    #[serde(default)]
    action: String,
}

fn page(who: AdminAgent, id: Option<i64>, f: &ReplyForm, owner_name: Option<String>) -> EditPage {
    let preview = saved_reply::preview(&f.body, &who.agent.name);
    EditPage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "saved_replies",
        id,
        name: f.name.clone(),
        body: f.body.clone(),
        personal: f.visibility == "personal",
        owner_name,
        variables: VARIABLES,
        preview,
        name_error: None,
        body_error: None,
    }
}

async fn new(who: AdminAgent) -> Result<Response, PageError> {
    let f = ReplyForm {
        name: String::new(),
        body: String::new(),
        visibility: "shared".into(),
        action: String::new(),
    };
    Ok(render(&page(who, None, &f, None))?.into_response())
}

async fn edit(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
) -> Result<Response, PageError> {
    let r = saved_reply::get(&state.pool, id)
        .await?
        .ok_or(PageError(AppError::NotFound))?;
    let f = ReplyForm {
        name: r.name,
        body: r.body,
        visibility: if r.owner_agent_id.is_some() {
            "personal".into()
        } else {
            "shared".into()
        },
        action: String::new(),
    };
    let owner = r
        .owner_agent_id
        .filter(|o| *o != who.agent.agent_id)
        .and(r.owner_name);
    Ok(render(&page(who, Some(id), &f, owner))?.into_response())
}

/// The form again with the error at its field (400), or the error page.
fn refused(mut p: EditPage, e: SavedReplyError) -> Result<Response, PageError> {
    match e {
        SavedReplyError::Invalid { field, message } => {
            if field == "name" {
                p.name_error = Some(message);
            } else {
                p.body_error = Some(message);
            }
            Ok((StatusCode::BAD_REQUEST, render(&p)?).into_response())
        }
        SavedReplyError::NotFound => Err(PageError(AppError::NotFound)),
        SavedReplyError::Db(e) => Err(e.into()),
    }
}

async fn create(
    State(state): State<AppState>,
    who: AdminAgent,
    Form(f): Form<ReplyForm>,
) -> Result<Response, PageError> {
    let input = SavedReplyInput {
        name: f.name.clone(),
        body: f.body.clone(),
        owner_agent_id: (f.visibility == "personal").then_some(who.agent.agent_id),
    };
    if f.action == "preview" {
        return Ok(render(&page(who, None, &f, None))?.into_response());
    }
    let actor = who.actor();
    let mut tx = state.pool.begin().await?;
    match saved_reply::create_saved_reply(&mut tx, &actor, &input).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/admin/saved-replies?done=created").into_response())
        }
        Err(e) => refused(page(who, None, &f, None), e),
    }
}

async fn save(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    Form(f): Form<ReplyForm>,
) -> Result<Response, PageError> {
    let existing = saved_reply::get(&state.pool, id)
        .await?
        .ok_or(PageError(AppError::NotFound))?;
    // A personal reply keeps its owner; one made personal here becomes this admin's.
    let owner =
        (f.visibility == "personal").then(|| existing.owner_agent_id.unwrap_or(who.agent.agent_id));
    let owner_name = owner
        .filter(|o| *o != who.agent.agent_id)
        .and(existing.owner_name);
    if f.action == "preview" {
        return Ok(render(&page(who, Some(id), &f, owner_name))?.into_response());
    }
    let input = SavedReplyInput {
        name: f.name.clone(),
        body: f.body.clone(),
        owner_agent_id: owner,
    };
    let actor = who.actor();
    let mut tx = state.pool.begin().await?;
    match saved_reply::update_saved_reply(&mut tx, &actor, id, &input).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to("/admin/saved-replies?done=saved").into_response())
        }
        Err(e) => refused(page(who, Some(id), &f, owner_name), e),
    }
}

async fn delete(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
) -> Result<Response, PageError> {
    let mut tx = state.pool.begin().await?;
    match saved_reply::delete_saved_reply(&mut tx, &who.actor(), id).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to("/admin/saved-replies?done=deleted").into_response())
        }
        Err(SavedReplyError::NotFound) => Err(PageError(AppError::NotFound)),
        Err(SavedReplyError::Invalid { message, .. }) => {
            Err(PageError(AppError::BadRequest(message)))
        }
        Err(SavedReplyError::Db(e)) => Err(e.into()),
    }
}
