//! The `csat_survey` table's write side at a close: scheduling a survey (the timeline hook),
//! putting one into the closing reply, withdrawing it ("close without survey"), cancelling
//! it when the ticket reopens, turns out spam or is merged. Every function runs in the
//! caller's transaction.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgConnection, PgExecutor};
use time::OffsetDateTime;

use super::{CHANNEL, Mode, Rating, TOKEN_DAYS};
use crate::tickets::TicketStatus;
use crate::tickets::timeline::{Recorded, TimelineEvent};

/// What decides whether a close earns a survey.
#[derive(Debug, FromRow)]
struct CloseFacts {
    mailbox_id: i64,
    csat: bool,
    csat_mode: String,
    csat_delay_minutes: i32,
    assignee_agent_id: Option<i64>,
    /// Not spam, not merged away, not list or automated mail.
    eligible: bool,
    /// A person replied since the previous close (or since creation).
    replied: bool,
    /// Closes recorded so far.
    closes: i32,
}

/// The facts of the ticket; `skip_closes`: how many of its latest closes are the one being
/// made now (1 when the hook runs after the close event, 0 before it).
async fn close_facts(
    conn: &mut PgConnection,
    ticket: i64,
    skip_closes: i64,
) -> sqlx::Result<Option<CloseFacts>> {
    sqlx::query_as(
        "select t.mailbox_id, mb.csat, mb.csat_mode, mb.csat_delay_minutes, t.assignee_agent_id,
                not t.spam
                and not exists (select 1 from ticket_event e
                                where e.ticket_id = t.ticket_id and e.kind = 'merged_into')
                and not exists (select 1 from ticket_event e
                                where e.ticket_id = t.ticket_id and e.kind = 'created'
                                  and e.detail->>'automated' is not null) as eligible,
                exists (select 1 from ticket_event r
                        where r.ticket_id = t.ticket_id and r.kind = 'reply_queued'
                          and r.actor_kind = 'agent'
                          and r.ticket_event_id > coalesce(
                              (select c.ticket_event_id from ticket_event c
                               where c.ticket_id = t.ticket_id and c.kind = 'status_changed'
                                 and c.detail->>'to' = 'closed'
                               order by c.ticket_event_id desc offset $2 limit 1), 0)) as replied,
                (select count(*) from ticket_event c
                 where c.ticket_id = t.ticket_id and c.kind = 'status_changed'
                   and c.detail->>'to' = 'closed')::int as closes
         from ticket t join mailbox mb on mb.mailbox_id = t.mailbox_id
         where t.ticket_id = $1",
    )
    .bind(ticket)
    .bind(skip_closes)
    .fetch_optional(conn)
    .await
}

/// The timeline hook's CSAT part: a close that is a resolution schedules the survey (unless
/// the closing reply already carries it); a reopen, spam or merge cancels a survey that has
/// not gone out yet.
pub async fn on_event(conn: &mut PgConnection, recorded: &Recorded<'_>) -> sqlx::Result<()> {
    match recorded.event {
        TimelineEvent::StatusChanged { from, to, .. }
            if *to == TicketStatus::Closed && *from != TicketStatus::Closed =>
        {
            schedule_at_close(conn, recorded.ticket).await
        }
        TimelineEvent::StatusChanged { from, to, .. }
            if *from == TicketStatus::Closed && *to != TicketStatus::Closed =>
        {
            cancel_scheduled(conn, recorded.ticket).await
        }
        TimelineEvent::MarkedSpam {} | TimelineEvent::MergedInto { .. } => {
            cancel_scheduled(conn, recorded.ticket).await
        }
        _ => Ok(()),
    }
}

/// Schedules the survey of the close just recorded, when it earns one: at once (mode
/// `reply`, when the close came without a reply carrying it) or after the mailbox's delay.
async fn schedule_at_close(conn: &mut PgConnection, ticket: i64) -> sqlx::Result<()> {
    let Some(f) = close_facts(conn, ticket, 1).await? else {
        return Ok(());
    };
    if !f.csat || !f.eligible || !f.replied {
        return Ok(());
    }
    let delay = match Mode::parse(&f.csat_mode) {
        Some(Mode::Delayed) => f.csat_delay_minutes,
        _ => 0,
    };
    let inserted = sqlx::query(
        "insert into csat_survey (ticket_id, resolution, mailbox_id, agent_id, send_at)
         values ($1, $2, $3, $4, now() + make_interval(mins => $5))
         on conflict (ticket_id, resolution) do nothing",
    )
    .bind(ticket)
    .bind(f.closes)
    .bind(f.mailbox_id)
    .bind(f.assignee_agent_id)
    .bind(delay)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted > 0 {
        tracing::debug!(
            ticket.number = ticket,
            resolution = f.closes,
            delay_min = delay,
            "CSAT survey scheduled"
        );
        sqlx::query("select pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Cancels the ticket's surveys that have not gone out yet.
async fn cancel_scheduled(conn: &mut PgConnection, ticket: i64) -> sqlx::Result<()> {
    sqlx::query(
        "update csat_survey set state = 'cancelled' where ticket_id = $1 and state = 'scheduled'",
    )
    .bind(ticket)
    .execute(conn)
    .await?;
    Ok(())
}

/// "Close without survey": removes the survey the close just scheduled (call it after the
/// close, in the same transaction). A survey already sent is not taken back.
pub async fn withdraw(conn: &mut PgConnection, ticket: i64) -> sqlx::Result<()> {
    sqlx::query("delete from csat_survey where ticket_id = $1 and state = 'scheduled'")
        .bind(ticket)
        .execute(conn)
        .await?;
    Ok(())
}

/// A fresh token and its sha256 (what is stored).
pub(super) fn new_token() -> (String, Vec<u8>) {
    let token = crate::auth::random_secret();
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    (token, hash)
}

/// For an agent's reply that closes the ticket ("Send and close"), before the close is
/// recorded and after the reply is: when the close will earn a survey and the mailbox sends
/// it in the closing reply, stores the survey as sent and returns the text block with its
/// links to append to the mail. `None`: no survey in this reply (the close may still
/// schedule a separate one).
pub async fn prepare_in_reply(
    conn: &mut PgConnection,
    ticket: i64,
    public_url: &str,
) -> sqlx::Result<Option<String>> {
    let Some(f) = close_facts(conn, ticket, 0).await? else {
        return Ok(None);
    };
    if !f.csat || !f.eligible || !f.replied || Mode::parse(&f.csat_mode) != Some(Mode::Reply) {
        return Ok(None);
    }
    let (token, hash) = new_token();
    let inserted = sqlx::query(
        "insert into csat_survey (ticket_id, resolution, mailbox_id, agent_id, state, sent_at,
                                  token_sha256, expires_at)
         values ($1, $2, $3, $4, 'sent', now(), $5, now() + make_interval(days => $6))
         on conflict (ticket_id, resolution) do nothing",
    )
    .bind(ticket)
    .bind(f.closes + 1)
    .bind(f.mailbox_id)
    .bind(f.assignee_agent_id)
    .bind(&hash)
    .bind(TOKEN_DAYS)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((inserted > 0).then(|| super::survey_text(public_url, &token)))
}

/// A ticket's latest rating as its JSON shows it (`"csat"`).
#[derive(Debug, Clone, PartialEq, Serialize, FromRow, utoipa::ToSchema)]
pub struct TicketCsat {
    pub rating: String,
    pub comment: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub rated_at: OffsetDateTime,
}

impl TicketCsat {
    /// The rating as a [`Rating`].
    pub fn rating(&self) -> Option<Rating> {
        Rating::parse(&self.rating)
    }
}

/// The ticket's most recent rating (of any of its resolutions), if any.
pub async fn ticket_csat(db: impl PgExecutor<'_>, ticket: i64) -> sqlx::Result<Option<TicketCsat>> {
    sqlx::query_as(
        "select rating, comment, rated_at from csat_survey
         where ticket_id = $1 and rated_at is not null
         order by rated_at desc, csat_survey_id desc limit 1",
    )
    .bind(ticket)
    .fetch_optional(db)
    .await
}
