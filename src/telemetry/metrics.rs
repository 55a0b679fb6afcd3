//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4), through the `metrics`
//! facade and `metrics-exporter-prometheus`'s recorder, installed once per process
//! ([`handle`]).
//!
//! Two kinds of figures:
//! - **this node's** counters and histograms, recorded where things happen: mails fetched and
//!   stored per mailbox and outcome ([`record_batch`]), poll duration ([`record_poll`]), SMTP
//!   sends by outcome ([`record_send`]), HTTP request duration by matched route, method and
//!   status ([`track_requests`]), live streams open ([`LiveStream`]), SLA clocks this node's
//!   worker stamped breached ([`record_sla_breaches`]);
//! - **the cluster's** state, read from PostgreSQL at each scrape ([`render`]): outbox queue
//!   depth and oldest queued age, last good poll per mailbox, tickets per status (spam left
//!   out), and this node's database pool. PostgreSQL is the one shared state, so every node reports
//!   the same queue; scrape one node for those, or aggregate with `max`.
//!
//! Names follow Prometheus conventions: `frontdesk_` prefix, `_total` for counters, base
//! units (seconds) in the name.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use tracing::Instrument;

use crate::ingest::store::IngestCounts;

/// Histogram buckets (seconds) of HTTP request and poll durations.
const DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The process's recorder, installed on first use. Later calls (a second app in the same
/// process, as in the tests) share it: counters are per process.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_duration_seconds".into()),
                DURATION_BUCKETS,
            )
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
        }
        handle
    })
}

/// Counts one stored batch of a mailbox: `frontdesk_mails_fetched_total{mailbox}` and
/// `frontdesk_mails_stored_total{mailbox, outcome}` with outcome `new_ticket`, `threaded`,
/// `automated_skipped`, `own_address`, `duplicate` or `quarantined`.
pub fn record_batch(mailbox: &str, counts: &IngestCounts) {
    handle();
    let mailbox = mailbox.to_string();
    counter!("frontdesk_mails_fetched_total", "mailbox" => mailbox.clone())
        .increment(counts.fetched);
    for (outcome, n) in [
        ("new_ticket", counts.new_tickets),
        ("threaded", counts.threaded),
        ("automated_skipped", counts.skipped_automated),
        ("own_address", counts.own_address),
        ("duplicate", counts.duplicates),
        ("quarantined", counts.quarantined),
    ] {
        counter!("frontdesk_mails_stored_total", "mailbox" => mailbox.clone(), "outcome" => outcome)
            .increment(n);
    }
}

/// Records one poll of every folder of a mailbox: `frontdesk_poll_duration_seconds{mailbox,
/// result}` (result `ok` or `error`).
pub fn record_poll(mailbox: &str, seconds: f64, ok: bool) {
    handle();
    histogram!("frontdesk_poll_duration_seconds", "mailbox" => mailbox.to_string(),
        "result" => if ok { "ok" } else { "error" })
    .record(seconds);
}

/// Counts one SMTP attempt of the outbox: `frontdesk_mail_sends_total{outcome}` with outcome
/// `sent`, `retry` (a transient failure, tried again later) or `failed` (given up).
pub fn record_send(outcome: &'static str) {
    handle();
    counter!("frontdesk_mail_sends_total", "outcome" => outcome).increment(1);
}

/// Counts clocks the SLA worker stamped breached: `frontdesk_sla_breaches_total`.
pub fn record_sla_breaches(n: u64) {
    handle();
    counter!("frontdesk_sla_breaches_total").increment(n);
}

/// An open live-event stream of this node, counted in `frontdesk_live_streams_open` while the
/// value lives.
pub struct LiveStream(());

impl LiveStream {
    /// Counts a stream as open until the returned value is dropped.
    pub fn open() -> LiveStream {
        handle();
        gauge!("frontdesk_live_streams_open").increment(1.0);
        LiveStream(())
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        gauge!("frontdesk_live_streams_open").decrement(1.0);
    }
}

/// Middleware: `frontdesk_http_request_duration_seconds{route, method, status}`, route being
/// the router's matched path (`/tickets/{number}`, never the raw URL, so that the label set
/// stays small) or `unmatched`. The request runs in a `route` span carrying `route`,
/// `ticket.number` (when the route has a `{number}`) and `agent.id` (recorded by the session
/// and API-token extractors), so every log line of the request names them.
pub async fn track_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "route",
        route = %route,
        agent.id = tracing::field::Empty,
        ticket.number = tracing::field::Empty
    );
    if let Some(n) = ticket_number(&route, req.uri().path()) {
        span.record("ticket.number", n);
    }
    let start = Instant::now();
    let response = next.run(req).instrument(span).await;
    handle();
    histogram!("frontdesk_http_request_duration_seconds", "route" => route, "method" => method,
        "status" => response.status().as_u16().to_string())
    .record(start.elapsed().as_secs_f64());
    response
}

/// The ticket number in `path` where the matched `route` has its `{number}` segment. Counted
/// from the end: a nested router sees its path without the prefix (`/tickets/1/notes`) while
/// the matched route has it (`/api/v1/tickets/{number}/notes`).
fn ticket_number(route: &str, path: &str) -> Option<i64> {
    let at = route.rsplit('/').position(|s| s == "{number}")?;
    path.rsplit('/').nth(at)?.parse().ok()
}

/// The exposition text: first reads the cluster's state from PostgreSQL into gauges, then
/// renders everything. A database error leaves those gauges as they were and is logged.
pub async fn render(pool: &PgPool) -> String {
    let h = handle();
    if let Err(e) = read_database_gauges(pool).await {
        tracing::warn!(error = %e, "metrics: could not read the database figures");
    }
    gauge!("frontdesk_db_pool_connections", "state" => "in_use")
        .set(f64::from(pool.size()) - pool.num_idle() as f64);
    gauge!("frontdesk_db_pool_connections", "state" => "idle").set(pool.num_idle() as f64);
    h.render()
}

async fn read_database_gauges(pool: &PgPool) -> sqlx::Result<()> {
    let (queued, oldest): (i64, Option<f64>) = sqlx::query_as(
        "select count(*), extract(epoch from now() - min(created_at))::float8
         from outbox where state = 'queued'",
    )
    .fetch_one(pool)
    .await?;
    gauge!("frontdesk_outbox_queued").set(queued as f64);
    gauge!("frontdesk_outbox_oldest_queued_age_seconds").set(oldest.unwrap_or(0.0));

    let polls: Vec<(String, Option<f64>, Option<i32>)> = sqlx::query_as(
        "select m.address, extract(epoch from h.last_ok_at)::float8, h.consecutive_failures
         from mailbox m left join mailbox_health h using (mailbox_id) where m.enabled",
    )
    .fetch_all(pool)
    .await?;
    for (address, last_ok, failures) in polls {
        gauge!("frontdesk_poll_last_success_timestamp_seconds", "mailbox" => address.clone())
            .set(last_ok.unwrap_or(0.0));
        gauge!("frontdesk_poll_consecutive_failures", "mailbox" => address)
            .set(f64::from(failures.unwrap_or(0)));
    }

    // the sidebar's counters (kept by trigger), so this stays cheap at a million tickets
    let tickets: Vec<(String, i64)> = sqlx::query_as(
        "select status, coalesce(sum(n), 0)::bigint from ticket_count where not spam group by status",
    )
    .fetch_all(pool)
    .await?;
    for (status, n) in tickets {
        gauge!("frontdesk_tickets", "status" => status).set(n as f64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticket_number_comes_from_the_route_s_number_segment() {
        assert_eq!(
            ticket_number(
                "/api/v1/tickets/{number}/replies",
                "/api/v1/tickets/42/replies"
            ),
            Some(42)
        );
        assert_eq!(
            ticket_number("/api/v1/tickets/{number}/notes", "/tickets/9/notes"),
            Some(9),
            "a nested router's path lacks the prefix"
        );
        assert_eq!(ticket_number("/tickets/{number}", "/tickets/7"), Some(7));
        assert_eq!(ticket_number("/inbox", "/inbox"), None);
        assert_eq!(ticket_number("/tickets/{number}", "/tickets/x"), None);
    }
}
