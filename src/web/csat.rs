//! `/csat/{token}`: the CSAT survey page, public (the token is the key; no sign-in). `GET`
//! (`?rating=good|okay|bad` preselects a choice) only shows the form and records nothing:
//! mail security scanners open every link in a mail. `POST` (form fields `rating`, `comment`)
//! records the answer; a later POST replaces it. The page names only the ticket's number and
//! subject. Cross-site POSTs are refused by the router's `CsrfLayer` like any other (the
//! form is same-origin); the token in the path binds the form to its survey, so no session
//! or CSRF token is needed. Sent with `Referrer-Policy: no-referrer` and `no-store`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::AppState;
use super::page::{PageError, render};
use crate::csat::{self, RateError, Rating, SurveyPage};

pub fn router() -> Router<AppState> {
    Router::new().route("/csat/{token}", get(show_survey).post(post_survey))
}

#[derive(Template)]
#[template(path = "csat/survey.html")]
struct SurveyTemplate {
    page: SurveyPage,
    token: String,
    /// The rating to show checked: the link's choice, else the answer given before.
    chosen: Option<Rating>,
    /// Whether `chosen` came from the link (not from an earlier answer).
    preselected: bool,
    comment_text: String,
    choices: Vec<(&'static str, &'static str)>,
    saved: bool,
    error: Option<String>,
}

impl SurveyTemplate {
    fn new(page: SurveyPage, token: String, link_choice: Option<Rating>) -> SurveyTemplate {
        let (earlier, comment_text) = match &page {
            SurveyPage::Open {
                rating, comment, ..
            } => (*rating, comment.clone()),
            _ => (None, String::new()),
        };
        SurveyTemplate {
            page,
            token,
            chosen: link_choice.or(earlier),
            preselected: link_choice.is_some(),
            comment_text,
            choices: Rating::ALL
                .iter()
                .map(|r| (r.as_str(), r.label()))
                .collect(),
            saved: false,
            error: None,
        }
    }

    fn is_chosen(&self, value: &&str) -> bool {
        self.chosen.is_some_and(|r| r.as_str() == *value)
    }
}

/// The page with its status: 200 usable, 400 refused input, 410 expired, 404 unknown.
fn respond(t: SurveyTemplate) -> Result<Response, PageError> {
    let status = match (&t.page, &t.error) {
        (SurveyPage::Open { .. }, None) => StatusCode::OK,
        (SurveyPage::Open { .. }, Some(_)) => StatusCode::BAD_REQUEST,
        (SurveyPage::Expired, _) => StatusCode::GONE,
        (SurveyPage::Unknown, _) => StatusCode::NOT_FOUND,
    };
    Ok((
        status,
        [
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        render(&t)?,
    )
        .into_response())
}

#[derive(Deserialize)]
struct SurveyQuery {
    #[serde(default)]
    rating: String,
}

async fn show_survey(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<SurveyQuery>,
) -> Result<Response, PageError> {
    let page = csat::survey_page(&state.pool, &token).await?;
    respond(SurveyTemplate::new(page, token, Rating::parse(&q.rating)))
}

#[derive(Deserialize)]
struct SurveyForm {
    #[serde(default)]
    rating: String,
    #[serde(default)]
    comment: String,
}

async fn post_survey(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(f): Form<SurveyForm>,
) -> Result<Response, PageError> {
    let refused = |message: String| async {
        let page = csat::survey_page(&state.pool, &token).await?;
        let mut t = SurveyTemplate::new(page, token.clone(), Rating::parse(&f.rating));
        t.comment_text = f.comment.clone();
        if matches!(t.page, SurveyPage::Open { .. }) {
            t.error = Some(message);
        }
        respond(t)
    };
    let Some(rating) = Rating::parse(&f.rating) else {
        return refused("Choose one of the three answers.".into()).await;
    };
    match csat::rate(&state.pool, &token, rating, &f.comment).await {
        Ok(page) => {
            let mut t = SurveyTemplate::new(page, token, None);
            t.saved = true;
            respond(t)
        }
        Err(RateError::CommentTooLong) => refused(RateError::CommentTooLong.to_string()).await,
        Err(RateError::Link(page)) => respond(SurveyTemplate::new(page, token, None)),
        Err(RateError::Db(e)) => Err(e.into()),
    }
}
