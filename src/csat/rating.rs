//! The survey page's read and write: what a token stands for ([`survey_page`], reads only:
//! mail scanners open every link) and recording a rating ([`rate`], the form's POST).

use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgConnection, PgPool};

use super::Rating;
use crate::tickets::timeline::{self, Actor, TimelineEvent};

/// The longest comment kept, in characters.
pub const MAX_COMMENT_CHARS: usize = 5000;

/// What a survey link shows. Only the ticket's number and subject: nothing of the
/// conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SurveyPage {
    /// Usable: the ticket and the answer given so far (if any).
    Open {
        number: i64,
        subject: String,
        rating: Option<Rating>,
        comment: String,
    },
    /// Past its 28 days.
    Expired,
    /// No such survey (or one that never went out).
    Unknown,
}

#[derive(FromRow)]
struct Row {
    csat_survey_id: i64,
    ticket_id: i64,
    subject: String,
    rating: Option<String>,
    comment: Option<String>,
    expired: bool,
}

async fn find(conn: &mut PgConnection, token: &str, lock: bool) -> sqlx::Result<Option<Row>> {
    let token = token.trim();
    // Tokens are 64 hex digits; anything else cannot be one (and is not hashed for nothing).
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    sqlx::query_as(&format!(
        "select s.csat_survey_id, s.ticket_id, t.subject, s.rating, s.comment,
                s.expires_at <= now() as expired
         from csat_survey s join ticket t on t.ticket_id = s.ticket_id
         where s.token_sha256 = $1 and s.state = 'sent' {}",
        if lock { "for update of s" } else { "" }
    ))
    .bind(&Sha256::digest(token.to_ascii_lowercase().as_bytes())[..])
    .fetch_optional(conn)
    .await
}

fn page_of(row: Option<&Row>) -> SurveyPage {
    match row {
        None => SurveyPage::Unknown,
        Some(r) if r.expired => SurveyPage::Expired,
        Some(r) => SurveyPage::Open {
            number: r.ticket_id,
            subject: r.subject.clone(),
            rating: r.rating.as_deref().and_then(Rating::parse),
            comment: r.comment.clone().unwrap_or_default(),
        },
    }
}

/// What the survey with this token stands for. Changes nothing.
pub async fn survey_page(pool: &PgPool, token: &str) -> sqlx::Result<SurveyPage> {
    let mut conn = pool.acquire().await?;
    Ok(page_of(find(&mut conn, token, false).await?.as_ref()))
}

/// Why a rating was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RateError {
    /// The token is unknown or expired: the page to show.
    #[error("this survey link cannot be used")]
    Link(SurveyPage),
    /// The comment is longer than [`MAX_COMMENT_CHARS`].
    #[error("the comment is too long (at most {MAX_COMMENT_CHARS} characters)")]
    CommentTooLong,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Records the customer's rating and comment (trimmed; empty = none) on the survey, replacing
/// an earlier answer, and a `csat_rated` timeline event (actor: the customer), which runs the
/// `csat_rated` rules. Returns the page as it now is.
pub async fn rate(
    pool: &PgPool,
    token: &str,
    rating: Rating,
    comment: &str,
) -> Result<SurveyPage, RateError> {
    let comment = comment.trim();
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(RateError::CommentTooLong);
    }
    let comment = (!comment.is_empty()).then(|| comment.replace("\r\n", "\n"));
    let mut tx = pool.begin().await?;
    let row = find(&mut tx, token, true).await?;
    let row = match row {
        Some(r) if !r.expired => r,
        other => return Err(RateError::Link(page_of(other.as_ref()))),
    };
    sqlx::query(
        "update csat_survey set rating = $2, comment = $3, rated_at = now()
         where csat_survey_id = $1",
    )
    .bind(row.csat_survey_id)
    .bind(rating.as_str())
    .bind(&comment)
    .execute(&mut *tx)
    .await?;
    timeline::record(
        &mut tx,
        row.ticket_id,
        Actor::Customer,
        &TimelineEvent::CsatRated {
            rating,
            comment: comment.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        ticket.number = row.ticket_id,
        csat_survey.id = row.csat_survey_id,
        rating = rating.as_str(),
        "CSAT rating recorded"
    );
    Ok(SurveyPage::Open {
        number: row.ticket_id,
        subject: row.subject,
        rating: Some(rating),
        comment: comment.unwrap_or_default(),
    })
}
