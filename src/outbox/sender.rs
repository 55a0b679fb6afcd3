//! The send worker: [`run`] loops on [`send_due`], which hands each due outbox row to its
//! mailbox's SMTP server (RFC 5321) and records the outcome in the same transaction that
//! claimed the row.
//!
//! Delivery is at-least-once: if the process dies, or the database is lost, after the server
//! accepted a mail but before `sent` is committed, the mail is sent again later. The bytes,
//! and so the Message-ID, were fixed at enqueue, so the copy is recognisable as the same mail
//! (and our own ingest dedupes it by Message-ID and content).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use lettre::address::Envelope;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::queue::{self, DueMail};
use crate::mailboxes::tls::certificate_problem;
use crate::mailboxes::{MailTls, SmtpUrl};

/// How often the worker looks for due mail when no NOTIFY arrives.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Waits between attempts after temporary failures; the last one repeats.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(2 * 60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(15 * 60),
];

/// A mail that has only met temporary failures for this long (by the retry schedule) fails.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Rows handled per [`send_due`] pass, so that a long queue does not delay shutdown checks.
const MAX_PER_PASS: usize = 50;

/// An upper bound on one SMTP transaction on top of lettre's per-reply timeout, for a
/// server that answers every command just in time (a tar pit).
const SEND_DEADLINE: Duration = Duration::from_secs(10 * 60);

/// The wait before the next attempt after `attempts` attempts all failed temporarily, or
/// `None` when the mail has been retried for [`GIVE_UP_AFTER`] and should fail.
pub fn retry_delay(attempts: i32) -> Option<Duration> {
    let n = u64::try_from(attempts.max(1)).unwrap_or(1);
    let last = RETRY_SCHEDULE.len() - 1;
    let delay = RETRY_SCHEDULE[usize::try_from(n - 1).unwrap_or(last).min(last)];
    // Scheduled waits before this attempt: the distinct head of the schedule, then its last step.
    let before = n - 1;
    let head = usize::try_from(before).unwrap_or(last).min(last);
    let waited_s: u64 = RETRY_SCHEDULE[..head]
        .iter()
        .map(Duration::as_secs)
        .sum::<u64>()
        + RETRY_SCHEDULE[last].as_secs() * before.saturating_sub(last as u64);
    (waited_s < GIVE_UP_AFTER.as_secs()).then_some(delay)
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SendError {
    /// Worth another try later: connection refused, timeout, TLS, SMTP 4xx (RFC 5321 4.2.1).
    Temporary(String),
    /// Will not get better by itself: SMTP 5xx, no or invalid SMTP URL, invalid envelope.
    Permanent(String),
}

/// One pass: claims due rows one at a time (`FOR UPDATE SKIP LOCKED`, so several workers and
/// nodes can run), sends each, records the outcome. Returns how many were attempted.
/// Errors only when the database fails; SMTP failures are recorded on the row.
/// TLS certificates are checked against the webpki roots only (see [`send_due_trusting`]).
pub async fn send_due(pool: &PgPool) -> anyhow::Result<usize> {
    send_due_trusting(pool, &MailTls::default()).await
}

/// [`send_due`], checking SMTP servers' TLS certificates against `trust` (the node's
/// `FRONTDESK_EXTRA_CA_FILE` on top of the webpki roots).
pub async fn send_due_trusting(pool: &PgPool, trust: &MailTls) -> anyhow::Result<usize> {
    send_due_until(pool, trust, &CancellationToken::new()).await
}

async fn send_due_until(
    pool: &PgPool,
    trust: &MailTls,
    shutdown: &CancellationToken,
) -> anyhow::Result<usize> {
    // One transport per SMTP URL and pass: several mails of a mailbox share a connection.
    let mut transports: HashMap<String, AsyncSmtpTransport<Tokio1Executor>> = HashMap::new();
    let mut attempted = 0;
    while attempted < MAX_PER_PASS && !shutdown.is_cancelled() {
        let mut tx = pool.begin().await.context("starting a transaction")?;
        let Some(mail) = queue::claim_due(&mut tx)
            .await
            .context("claiming a due outbox row")?
        else {
            tx.rollback().await.ok();
            break;
        };
        attempted += 1;
        let attempt = mail.attempts + 1;
        match deliver(&mail, &mut transports, trust).await {
            Ok(()) => {
                queue::mark_sent(&mut tx, &mail).await?;
                crate::telemetry::metrics::record_send("sent");
                tracing::info!(
                    mailbox.id = mail.mailbox_id,
                    message.id = mail.message_id,
                    outbox.id = mail.outbox_id,
                    attempt,
                    "mail sent"
                );
            }
            Err(SendError::Temporary(error)) => match retry_delay(attempt) {
                Some(wait) => {
                    tracing::warn!(
                        mailbox.id = mail.mailbox_id,
                        message.id = mail.message_id,
                        outbox.id = mail.outbox_id,
                        attempt,
                        %error,
                        retry_in_s = wait.as_secs(),
                        "sending failed temporarily; will retry"
                    );
                    queue::mark_retry(&mut tx, &mail, &error, wait.as_secs_f64()).await?;
                    crate::telemetry::metrics::record_send("retry");
                }
                None => {
                    let error = format!("gave up after {attempt} attempts: {error}");
                    tracing::error!(
                        mailbox.id = mail.mailbox_id,
                        message.id = mail.message_id,
                        outbox.id = mail.outbox_id,
                        attempt,
                        %error,
                        "sending failed for too long; marking the mail failed"
                    );
                    queue::mark_failed(&mut tx, &mail, &error).await?;
                    crate::telemetry::metrics::record_send("failed");
                }
            },
            Err(SendError::Permanent(error)) => {
                tracing::error!(
                    mailbox.id = mail.mailbox_id,
                    message.id = mail.message_id,
                    outbox.id = mail.outbox_id,
                    attempt,
                    %error,
                    "sending failed permanently; marking the mail failed"
                );
                queue::mark_failed(&mut tx, &mail, &error).await?;
                crate::telemetry::metrics::record_send("failed");
            }
        }
        tx.commit().await.context("recording a send outcome")?;
    }
    Ok(attempted)
}

/// Hands one mail to its mailbox's SMTP server.
async fn deliver(
    mail: &DueMail,
    transports: &mut HashMap<String, AsyncSmtpTransport<Tokio1Executor>>,
    trust: &MailTls,
) -> Result<(), SendError> {
    let Some(url_text) = mail.smtp_url.as_deref().filter(|u| !u.trim().is_empty()) else {
        return Err(SendError::Permanent(
            "the mailbox has no outgoing (SMTP) server configured".into(),
        ));
    };
    let transport = match transports.get(url_text) {
        Some(t) => t,
        None => {
            let url = SmtpUrl::parse(url_text).map_err(|e| {
                SendError::Permanent(format!("the mailbox's SMTP URL is not usable: {e}"))
            })?;
            let t = url.transport(trust).map_err(|e| {
                SendError::Permanent(format!("cannot set up SMTP for {}: {e}", url.redacted()))
            })?;
            transports.entry(url_text.to_string()).or_insert(t)
        }
    };
    let envelope = envelope(mail).map_err(SendError::Permanent)?;
    // lettre ends DATA with CRLF "." CRLF (RFC 5321 4.1.1.4) even after a final CRLF of the
    // mail; without ours the server stores exactly the bytes we stored.
    let data = mail.raw.strip_suffix(b"\r\n").unwrap_or(&mail.raw);
    match tokio::time::timeout(SEND_DEADLINE, transport.send_raw(&envelope, data)).await {
        Err(_) => Err(SendError::Temporary(format!(
            "the SMTP transaction took longer than {} s",
            SEND_DEADLINE.as_secs()
        ))),
        Ok(Ok(_response)) => Ok(()),
        Ok(Err(e)) => Err(match certificate_problem(&e, &server(url_text)) {
            // Temporary: the mail stays queued while the certificate or the trust is fixed.
            Some(problem) => SendError::Temporary(problem),
            None => classify(&e),
        }),
    }
}

/// `host:port` of an SMTP URL that parsed before, for messages.
fn server(url_text: &str) -> String {
    SmtpUrl::parse(url_text).map_or_else(
        |_| "the SMTP server".into(),
        |u| format!("{}:{}", u.host, u.port),
    )
}

fn envelope(mail: &DueMail) -> Result<Envelope, String> {
    let parse = |a: &str| {
        a.parse::<Address>()
            .map_err(|e| format!("invalid envelope address {a:?}: {e}"))
    };
    let to = mail
        .envelope_to
        .iter()
        .map(|a| parse(a))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(parse(&mail.envelope_from)?), to).map_err(|e| e.to_string())
}

/// Sorts an SMTP error: 5xx replies and client-side refusals (no common AUTH mechanism,
/// STARTTLS missing, 8BITMIME needed) are permanent; 4xx replies and everything on the
/// network or TLS level is temporary.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let text = e.to_string();
    if e.is_permanent() || e.is_client() {
        SendError::Permanent(text)
    } else {
        SendError::Temporary(text)
    }
}

/// The worker: sends due mail until `shutdown`, woken every [`POLL_INTERVAL`] and by
/// `NOTIFY outbox` (sent by enqueue and retry), so a reply leaves within a moment of its
/// commit. SMTP servers' certificates are checked against `trust`. A database error is
/// logged and retried with backoff; never returns an error.
pub async fn run(pool: PgPool, trust: MailTls, shutdown: CancellationToken) {
    let mut listener = listen(&pool).await;
    let mut last_listen_try = tokio::time::Instant::now();
    let mut backoff = Duration::from_secs(1);
    tracing::info!("outbox sender started");
    while !shutdown.is_cancelled() {
        match send_due_until(&pool, &trust, &shutdown).await {
            // A full pass: more may be due right away.
            Ok(n) if n >= MAX_PER_PASS => continue,
            Ok(_) => backoff = Duration::from_secs(1),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), retry_in_s = backoff.as_secs(), "outbox pass failed");
                if sleep_or_shutdown(backoff, &shutdown).await {
                    break;
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        }
        if listener.is_none() && last_listen_try.elapsed() > Duration::from_secs(30) {
            last_listen_try = tokio::time::Instant::now();
            listener = listen(&pool).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = notified(&mut listener) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    tracing::info!("outbox sender stopped");
}

/// LISTEN on the outbox channel; `None` (and polling only) when that fails.
async fn listen(pool: &PgPool) -> Option<PgListener> {
    let result: sqlx::Result<PgListener> = async {
        let mut l = PgListener::connect_with(pool).await?;
        l.listen(queue::CHANNEL).await?;
        Ok(l)
    }
    .await;
    match result {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::warn!(error = %e, "cannot LISTEN for outbox notifications; polling only");
            None
        }
    }
}

/// Resolves on the next notification; never when there is no listener.
async fn notified(listener: &mut Option<PgListener>) {
    let Some(l) = listener else {
        return std::future::pending().await;
    };
    if let Err(e) = l.recv().await {
        tracing::warn!(error = %e, "outbox LISTEN connection lost; polling only");
        *listener = None;
    }
}

/// Sleeps; returns true when shutdown was requested instead.
async fn sleep_or_shutdown(d: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shutdown.cancelled() => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_give_up_after_about_a_day() {
        assert_eq!(retry_delay(1), Some(Duration::from_secs(10)));
        assert_eq!(retry_delay(2), Some(Duration::from_secs(30)));
        assert_eq!(retry_delay(5), Some(Duration::from_secs(300)));
        assert_eq!(retry_delay(7), Some(Duration::from_secs(900)));
        assert_eq!(retry_delay(50), Some(Duration::from_secs(900)), "capped");
        let last = (1..1000).find(|&n| retry_delay(n).is_none()).unwrap();
        let waited: Duration = (1..last).map(|n| retry_delay(n).unwrap()).sum();
        assert!(
            waited >= GIVE_UP_AFTER && waited < GIVE_UP_AFTER + Duration::from_secs(900),
            "gives up after {waited:?}"
        );
        assert!(retry_delay(i32::MAX).is_none());
    }
}
