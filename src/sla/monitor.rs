//! The SLA worker: stamps breaches at their due instant and announces warnings, exactly once
//! across nodes, within about a second of the instant (every node runs it).
//!
//! One step ([`run_once`]) claims the clocks that are due with `FOR UPDATE SKIP LOCKED` (their
//! ticket row too, so a change being made to the ticket is never waited on: the change settles
//! its clocks itself), stamps `breached_at = due_at` (the due instant, not the time it was
//! noticed) or `warned_at = warn_at`, and records a `sla_breached` / `sla_warning` timeline
//! event, which feeds the rules triggers of the same names. A warning or breach wakes a snoozed
//! ticket. [`run`] loops on it.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::policies::ClockKind;
use crate::live::LiveEvent;
use crate::tickets::timeline::{self, Actor, StatusReason, TimelineEvent};

/// Clocks claimed per transaction.
const BATCH: i64 = 500;

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub warnings: u64,
    pub breaches: u64,
}

fn kind_of(s: &str) -> ClockKind {
    match s {
        "first_response" => ClockKind::FirstResponse,
        "next_response" => ClockKind::NextResponse,
        _ => ClockKind::Resolution,
    }
}

/// Announces due warnings, then stamps due breaches, in transactions of at most [`BATCH`]
/// clocks, until none is left.
pub async fn run_once(pool: &PgPool) -> sqlx::Result<Outcome> {
    let mut out = Outcome::default();
    loop {
        let mut tx = pool.begin().await?;
        let n = warn_batch(&mut tx).await?;
        tx.commit().await?;
        out.warnings += n;
        if n < BATCH as u64 {
            break;
        }
    }
    loop {
        let mut tx = pool.begin().await?;
        let n = breach_batch(&mut tx).await?;
        tx.commit().await?;
        crate::telemetry::metrics::record_sla_breaches(n);
        out.breaches += n;
        if n < BATCH as u64 {
            break;
        }
    }
    Ok(out)
}

async fn warn_batch(conn: &mut PgConnection) -> sqlx::Result<u64> {
    let due: Vec<Claimed> = sqlx::query_as(
        "update sla_clock k set warned_at = k.warn_at
         from (select k.ticket_id, k.kind, k.cycle from sla_clock k
               join ticket t on t.ticket_id = k.ticket_id
               where k.warn_at <= now() and k.warned_at is null and k.stopped_at is null
                 and k.breached_at is null and not k.paused
               order by k.warn_at limit $1
               for update of k, t skip locked) x
         where k.ticket_id = x.ticket_id and k.kind = x.kind and k.cycle = x.cycle
         returning k.ticket_id, k.kind, k.due_at",
    )
    .bind(BATCH)
    .fetch_all(&mut *conn)
    .await?;
    announce(conn, &due, |clock, due_at| TimelineEvent::SlaWarning {
        clock,
        due_at,
    })
    .await?;
    Ok(due.len() as u64)
}

async fn breach_batch(conn: &mut PgConnection) -> sqlx::Result<u64> {
    let due: Vec<Claimed> = sqlx::query_as(
        "update sla_clock k set breached_at = k.due_at
         from (select k.ticket_id, k.kind, k.cycle from sla_clock k
               join ticket t on t.ticket_id = k.ticket_id
               where k.due_at <= now() and k.stopped_at is null and k.breached_at is null
                 and not k.paused
               order by k.due_at limit $1
               for update of k, t skip locked) x
         where k.ticket_id = x.ticket_id and k.kind = x.kind and k.cycle = x.cycle
           and k.breached_at is null
         returning k.ticket_id, k.kind, k.due_at",
    )
    .bind(BATCH)
    .fetch_all(&mut *conn)
    .await?;
    announce(conn, &due, |clock, due_at| TimelineEvent::SlaBreached {
        clock,
        due_at,
    })
    .await?;
    Ok(due.len() as u64)
}

/// A clock claimed by a step: its ticket, kind and due instant (UTC).
type Claimed = (i64, String, OffsetDateTime);

/// Records one event per claimed clock, set-based (one insert for the batch, the hooks and
/// the rules over the batch at once: [`timeline::record_pending`]), puts their tickets in the
/// "SLA at risk" folder (`ticket.sla_at_risk`), wakes the snoozed ones and tells every node's
/// open pages (one notification per ticket). A backlog (the workers were down for an hour)
/// drains at the pace of these few statements per [`BATCH`] clocks, not of one event at a time.
async fn announce(
    conn: &mut PgConnection,
    clocks: &[Claimed],
    event: impl Fn(ClockKind, OffsetDateTime) -> TimelineEvent,
) -> sqlx::Result<()> {
    if clocks.is_empty() {
        return Ok(());
    }
    let mut tickets: Vec<i64> = clocks.iter().map(|c| c.0).collect();
    tickets.sort_unstable();
    tickets.dedup();
    sqlx::query(
        "update ticket set sla_at_risk = true where ticket_id = any($1) and not sla_at_risk",
    )
    .bind(&tickets)
    .execute(&mut *conn)
    .await?;
    let mut pending = timeline::PendingEvents::default();
    for (ticket, kind, due_at) in clocks {
        pending.push(*ticket, Actor::System, event(kind_of(kind), *due_at), None);
    }
    timeline::record_pending(conn, pending).await?;
    // A clock at risk needs an agent's eyes: a snoozed ticket reopens. Every ticket's open
    // pages are told.
    let states: Vec<(i64, i64, bool)> = sqlx::query_as(
        "select ticket_id, mailbox_id, status = 'snoozed' from ticket where ticket_id = any($1)
         order by ticket_id",
    )
    .bind(&tickets)
    .fetch_all(&mut *conn)
    .await?;
    let mut live = Vec::with_capacity(states.len());
    for (ticket, mailbox, snoozed) in states {
        if snoozed {
            crate::tickets::actions::reopen(conn, ticket, Actor::System, StatusReason::SlaAtRisk)
                .await?;
        }
        live.push(LiveEvent::Ticket { ticket, mailbox });
    }
    crate::live::notify_all(conn, &live).await
}

/// Runs [`run_once`] every `every` (at most a second in production) until shutdown; errors
/// are logged and the next step tries again.
pub async fn run(pool: PgPool, every: Duration, shutdown: CancellationToken) {
    loop {
        match run_once(&pool).await {
            Ok(Outcome {
                warnings: 0,
                breaches: 0,
            }) => {}
            Ok(o) => tracing::info!(warnings = o.warnings, breaches = o.breaches, "SLA clocks"),
            Err(e) => tracing::warn!(error = %e, "SLA worker step failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
