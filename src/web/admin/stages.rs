//! Admin console: lifecycle stages. `GET /admin/lifecycle-stages` lists them in order with a
//! rename field each and a form to add one; `POST /admin/lifecycle-stages` adds,
//! `POST /admin/lifecycle-stages/{id}/rename` renames. The changes (and their audit) are
//! `customers::stages`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::AdminAgent;
use crate::auth::Agent;
use crate::customers::stages::{self, Stage, StageError};
use crate::web::extract::PathNumber;
use crate::web::page::{PageError, render};
use crate::web::{AppError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/lifecycle-stages", get(list).post(create))
        .route("/admin/lifecycle-stages/{id}/rename", post(rename))
}

#[derive(Template)]
#[template(path = "admin/stages.html")]
struct StagesPage {
    me: Agent,
    unread_notifications: i64,
    section: &'static str,
    stages: Vec<Stage>,
    /// A notice after a change (`?done=`).
    done: Option<String>,
    /// A refused change: the stage it was for (0: the new-stage form), the typed name and
    /// the reason.
    refused: Option<(i64, String, String)>,
}

impl StagesPage {
    /// The name field's value for stage `id` (what was typed if that change was refused).
    fn typed(&self, id: &i64, name: &str) -> String {
        match &self.refused {
            Some((r, typed, _)) if r == id => typed.clone(),
            _ => name.to_string(),
        }
    }

    /// The error to show beside stage `id`'s field.
    fn error_for(&self, id: &i64) -> Option<String> {
        self.refused
            .as_ref()
            .filter(|(r, _, _)| r == id)
            .map(|(_, _, e)| e.clone())
    }

    /// The new-stage form's error, if adding was refused.
    fn new_error(&self) -> Option<String> {
        self.error_for(&0)
    }

    /// What was typed in the new-stage form when adding was refused, else nothing.
    fn new_typed(&self) -> String {
        self.typed(&0, "")
    }
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn page(
    state: &AppState,
    who: AdminAgent,
    done: Option<String>,
    refused: Option<(i64, String, String)>,
) -> Result<Response, PageError> {
    let stages = stages::list(&state.pool).await?;
    let status = if refused.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let html = render(&StagesPage {
        me: who.agent,
        unread_notifications: who.unread_notifications,
        section: "stages",
        stages,
        done,
        refused,
    })?;
    Ok((status, html).into_response())
}

async fn list(
    State(state): State<AppState>,
    who: AdminAgent,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let done = match q.done.as_deref() {
        Some("added") => Some("Stage added.".to_string()),
        Some("renamed") => Some("Stage renamed.".to_string()),
        _ => None,
    };
    page(&state, who, done, None).await
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
}

/// A refused change becomes the page with the error beside its field.
async fn refused(
    state: &AppState,
    who: AdminAgent,
    id: i64,
    typed: String,
    e: StageError,
) -> Result<Response, PageError> {
    match e {
        StageError::Invalid(m) => {
            let m = m.strip_prefix("name: ").unwrap_or(&m).to_string();
            page(state, who, None, Some((id, typed, m))).await
        }
        StageError::NotFound => Err(PageError(AppError::NotFound)),
        StageError::Db(e) => Err(e.into()),
    }
}

async fn create(
    State(state): State<AppState>,
    who: AdminAgent,
    Form(f): Form<NameForm>,
) -> Result<Response, PageError> {
    let mut tx = state.pool.begin().await?;
    match stages::create(&mut tx, &who.actor(), &f.name).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/admin/lifecycle-stages?done=added").into_response())
        }
        Err(e) => {
            drop(tx);
            refused(&state, who, 0, f.name, e).await
        }
    }
}

async fn rename(
    State(state): State<AppState>,
    who: AdminAgent,
    PathNumber(id): PathNumber,
    Form(f): Form<NameForm>,
) -> Result<Response, PageError> {
    let mut tx = state.pool.begin().await?;
    match stages::rename(&mut tx, &who.actor(), id, &f.name).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to("/admin/lifecycle-stages?done=renamed").into_response())
        }
        Err(e) => {
            drop(tx);
            refused(&state, who, id, f.name, e).await
        }
    }
}
