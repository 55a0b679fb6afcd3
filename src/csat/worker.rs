//! The survey worker: sends the separate survey mail of every due `scheduled` survey through
//! the outbox, exactly once across nodes. One step ([`send_due`]) claims a due survey with
//! `FOR UPDATE SKIP LOCKED`, checks that it is still wanted (the ticket is still closed, not
//! spam, not merged, the mailbox still has CSAT on), makes its token, queues the mail and
//! marks it `sent`, all in one transaction (the outbox row is unique per survey). [`run`]
//! loops on it, woken by `NOTIFY csat` and every [`POLL_INTERVAL`].

use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::PgListener;
use sqlx::{FromRow, PgPool};
use tokio_util::sync::CancellationToken;

use super::{CHANNEL, TOKEN_DAYS};
use crate::outbox::SystemEmail;
use crate::tickets::EmailAddress;

/// How often the worker looks for due surveys when no NOTIFY arrives.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Surveys handled per pass.
const MAX_PER_PASS: usize = 100;

#[derive(FromRow)]
struct DueSurvey {
    csat_survey_id: i64,
    ticket_id: i64,
    mailbox_id: i64,
    subject: String,
    mailbox_name: String,
    mailbox_address: String,
    customer_email: Option<String>,
    customer_name: Option<String>,
    still_wanted: bool,
}

/// One pass: sends (queues) every due survey, or cancels those no longer wanted. Returns how
/// many were sent. `public_url` starts the links (`Config::public_url`).
pub async fn send_due(pool: &PgPool, public_url: &str) -> anyhow::Result<usize> {
    let mut sent = 0;
    for _ in 0..MAX_PER_PASS {
        let mut tx = pool.begin().await.context("starting a transaction")?;
        let due: Option<DueSurvey> = sqlx::query_as(
            "select s.csat_survey_id, s.ticket_id, s.mailbox_id, t.subject,
                    mb.name as mailbox_name, mb.address as mailbox_address,
                    c.email as customer_email, c.name as customer_name,
                    (t.status = 'closed' and not t.spam and mb.csat
                     and not exists (select 1 from ticket_event e
                                     where e.ticket_id = t.ticket_id and e.kind = 'merged_into'))
                        as still_wanted
             from csat_survey s join ticket t on t.ticket_id = s.ticket_id
             join mailbox mb on mb.mailbox_id = s.mailbox_id
             left join customer c on c.customer_id = t.customer_id
             where s.state = 'scheduled' and s.send_at <= now()
             order by s.send_at, s.csat_survey_id limit 1
             for update of s skip locked",
        )
        .fetch_optional(&mut *tx)
        .await
        .context("claiming a due survey")?;
        let Some(due) = due else {
            tx.rollback().await.ok();
            break;
        };
        let Some(email) = due.customer_email.filter(|_| due.still_wanted) else {
            sqlx::query("update csat_survey set state = 'cancelled' where csat_survey_id = $1")
                .bind(due.csat_survey_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(
                ticket.number = due.ticket_id,
                csat_survey.id = due.csat_survey_id,
                "CSAT survey no longer wanted; cancelled"
            );
            continue;
        };
        let (token, hash) = super::survey::new_token();
        sqlx::query(
            "update csat_survey set state = 'sent', sent_at = now(), token_sha256 = $2,
                    expires_at = now() + make_interval(days => $3)
             where csat_survey_id = $1",
        )
        .bind(due.csat_survey_id)
        .bind(&hash)
        .bind(TOKEN_DAYS)
        .execute(&mut *tx)
        .await?;
        let domain = due
            .mailbox_address
            .rsplit_once('@')
            .map_or("frontdesk.invalid", |(_, d)| d);
        let greeting = match due.customer_name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => format!("Hello {n},"),
            _ => "Hello,".to_string(),
        };
        let mail = SystemEmail {
            mailbox_id: due.mailbox_id,
            from_name: due.mailbox_name.clone(),
            from_address: due.mailbox_address.clone(),
            to: EmailAddress {
                email,
                name: due.customer_name.clone(),
            },
            subject: format!("How did we do? {} [#{}]", due.subject.trim(), due.ticket_id),
            header_message_id: format!(
                "fd.csat.{}.{}@{domain}",
                due.csat_survey_id,
                &crate::auth::random_secret()[..16]
            ),
            text: format!(
                "{greeting}\n\nyour request \"{}\" [#{}] to {} has been resolved.\n\n{}",
                due.subject.trim(),
                due.ticket_id,
                due.mailbox_name,
                super::survey_text(public_url, &token)
            ),
        };
        match crate::outbox::enqueue_csat_survey(&mut tx, due.csat_survey_id, &mail).await {
            Ok(_) => {}
            Err(crate::outbox::OutboxError::Compose(e)) => {
                // A customer address no mail can go to: nothing to retry.
                tx.rollback().await.ok();
                let mut tx = pool.begin().await?;
                sqlx::query("update csat_survey set state = 'cancelled' where csat_survey_id = $1")
                    .bind(due.csat_survey_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                tracing::warn!(csat_survey.id = due.csat_survey_id, error = %e, "CSAT survey cannot be mailed; cancelled");
                continue;
            }
            Err(e) => return Err(anyhow::Error::from(e).context("queueing a survey mail")),
        }
        tx.commit().await?;
        sent += 1;
        tracing::info!(
            ticket.number = due.ticket_id,
            csat_survey.id = due.csat_survey_id,
            "CSAT survey queued"
        );
    }
    Ok(sent)
}

/// The worker: sends due surveys until `shutdown`. Database errors are logged and retried;
/// never returns an error.
pub async fn run(pool: PgPool, public_url: String, shutdown: CancellationToken) {
    let mut listener = listen(&pool).await;
    while !shutdown.is_cancelled() {
        match send_due(&pool, &public_url).await {
            Ok(n) if n >= MAX_PER_PASS => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "CSAT survey pass failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = notified(&mut listener) => {}
            _ = shutdown.cancelled() => break,
        }
    }
}

async fn listen(pool: &PgPool) -> Option<PgListener> {
    let result: sqlx::Result<PgListener> = async {
        let mut l = PgListener::connect_with(pool).await?;
        l.listen(CHANNEL).await?;
        Ok(l)
    }
    .await;
    result
        .map_err(|e| tracing::warn!(error = %e, "cannot LISTEN for CSAT surveys; polling only"))
        .ok()
}

async fn notified(listener: &mut Option<PgListener>) {
    let Some(l) = listener else {
        return std::future::pending().await;
    };
    if let Err(e) = l.recv().await {
        tracing::warn!(error = %e, "CSAT LISTEN connection lost; polling only");
        *listener = None;
    }
}
