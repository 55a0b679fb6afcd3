//! Posting a reply from the composer (with the send-time guard), and retrying a failed one.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::show::{HeldReply, ticket_page};
use super::{parse_number, ticket_href};
use crate::tickets::{self, TicketStatus, actions, reply};
use crate::web::extract::PathNumber;
use crate::web::flash::{self, Notice};
use crate::web::inbox::{ListContext, after_closing};
use crate::web::page::PageError;
use crate::web::session::CurrentAgent;
use crate::web::{AppError, AppState};

/// The composer's fields, as posted.
#[derive(Deserialize)]
pub(super) struct ReplyForm {
    pub(super) to: String,
    #[serde(default)]
    pub(super) cc: String,
    pub(super) text: String,
    /// `keep`, `pending` or `closed`.
    #[serde(default)]
    after: String,
    /// The newest message id on the agent's page (send-time guard); absent = no check.
    #[serde(default)]
    seen: String,
    /// The inbox list the ticket was opened from ([`ListContext`]).
    #[serde(default)]
    list: String,
    /// `on`: "Send and close" without a CSAT survey.
    #[serde(default)]
    without_survey: String,
}

/// The composer's post: `to`, `cc`, `text`, `after` and any number of `attachment` files
/// (multipart), or the same fields url-encoded without files.
pub(super) async fn post_reply(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(number): Path<String>,
    req: axum::extract::Request,
) -> Result<Response, PageError> {
    use axum::extract::FromRequest;
    let number = parse_number(&number)?;
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut attachments = Vec::new();
    let f = if is_multipart {
        let mut mp = axum::extract::Multipart::from_request(req, &state)
            .await
            .map_err(|e| AppError::BadRequest(e.body_text()))?;
        let mut f = ReplyForm {
            to: String::new(),
            cc: String::new(),
            text: String::new(),
            after: String::new(),
            seen: String::new(),
            list: String::new(),
            without_survey: String::new(),
        };
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| AppError::BadRequest(e.body_text()))?
        {
            let name = field.name().unwrap_or("").to_string();
            if name == "attachment" {
                let filename = field.file_name().unwrap_or("").to_string();
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| AppError::BadRequest(e.body_text()))?;
                if !filename.is_empty() && !bytes.is_empty() {
                    attachments.push(crate::outbox::OutgoingAttachment {
                        filename,
                        content_type,
                        content: bytes.to_vec(),
                    });
                }
                continue;
            }
            let value = field
                .text()
                .await
                .map_err(|e| AppError::BadRequest(e.body_text()))?;
            match name.as_str() {
                "to" => f.to = value,
                "cc" => f.cc = value,
                "text" => f.text = value,
                "after" => f.after = value,
                "seen" => f.seen = value,
                "list" => f.list = value,
                "without_survey" => f.without_survey = value,
                _ => {}
            }
        }
        f
    } else {
        let Form(f) = Form::<ReplyForm>::from_request(req, &state)
            .await
            .map_err(|e| AppError::BadRequest(e.body_text()))?;
        f
    };
    let status_after = match f.after.as_str() {
        "" | "keep" => None,
        "pending" => Some(TicketStatus::Pending),
        "closed" => Some(TicketStatus::Closed),
        other => return Err(AppError::BadRequest(format!("unknown action {other:?}")).into()),
    };
    let held_form = ReplyForm {
        to: f.to.clone(),
        cc: f.cc.clone(),
        text: f.text.clone(),
        after: f.after.clone(),
        seen: f.seen.clone(),
        list: f.list.clone(),
        without_survey: f.without_survey.clone(),
    };
    let input = reply::ReplyInput {
        to: reply::parse_address_list(&f.to).map_err(AppError::from)?,
        cc: reply::parse_address_list(&f.cc).map_err(AppError::from)?,
        text: f.text,
        status_after,
        attachments,
        without_survey: !f.without_survey.is_empty(),
        survey_url: Some(state.config.public_url.clone()),
        seen_message_id: match f.seen.trim() {
            "" => None,
            v => Some(
                v.parse::<i64>()
                    .map_err(|_| AppError::BadRequest(format!("invalid seen message {v:?}")))?,
            ),
        },
    };
    // For "Send and close": the ticket's place in its list before the reply moves it.
    let list = ListContext::parse(&f.list).filter(|_| f.after == "closed");
    let place = match &list {
        Some(l) => l.place_of(&state, &who, number).await?,
        None => None,
    };
    match reply::create_reply(
        &state.pool,
        &who.agent,
        who.visible.as_deref(),
        number,
        &input,
    )
    .await
    {
        // "Send and close": done with it, on to the next ticket of the list.
        Ok(_) if f.after == "closed" => {
            let to = after_closing(&state, &who, list.as_ref(), place).await?;
            flash::push(
                &who.session,
                [Notice::info(format!(
                    "Reply sent; #{number} is now closed."
                ))],
            )
            .await;
            Ok(Redirect::to(&to).into_response())
        }
        Ok(id) => {
            Ok(Redirect::to(&format!("{}#m{id}", ticket_href(number, &f.list))).into_response())
        }
        // Someone wrote meanwhile: show what is new, keep the draft, send nothing.
        Err(reply::ReplyError::Stale(newer)) => {
            let list = ListContext::parse(&held_form.list);
            ticket_page(
                &state,
                &who,
                number,
                Some(HeldReply {
                    form: held_form,
                    newer,
                }),
                list.as_ref(),
                Vec::new(),
            )
            .await
        }
        Err(e) => Err(AppError::from(actions::ActionError::from(e)).into()),
    }
}

/// The `list` of a ticket address.
#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    list: String,
}

/// `GET /tickets/{number}/reply`: after a held reply the address bar shows the form's
/// address, so reloading it (or opening it again) must not be a bare 405. Answers 303 to the
/// ticket, in its list when `?list=` names one.
pub(super) async fn redirect_to_ticket(
    PathNumber(number): PathNumber,
    Query(q): Query<ListQuery>,
) -> Redirect {
    Redirect::to(&ticket_href(number, &q.list))
}

/// "Retry" on a failed reply: back into the outbox, due now.
pub(super) async fn post_retry(
    State(state): State<AppState>,
    who: CurrentAgent,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let ticket = tickets::ticket_of_outbound(&state.pool, who.visible.as_deref(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    crate::outbox::retry(&state.pool, id)
        .await
        .map_err(|e| AppError::Other(e.into()))?;
    Ok(Redirect::to(&format!("/tickets/{ticket}#m{id}")))
}
