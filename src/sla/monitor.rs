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
use crate::tickets::timeline::{self, Actor, StatusReason, TimelineEvent};

/// Clocks claimed per transaction.
const BATCH: i64 = 100;

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
    let due: Vec<(i64, String, i32, OffsetDateTime)> = sqlx::query_as(
        "update sla_clock k set warned_at = k.warn_at
         from (select k.ticket_id, k.kind, k.cycle from sla_clock k
               join ticket t on t.ticket_id = k.ticket_id
               where k.warn_at <= now() and k.warned_at is null and k.stopped_at is null
                 and k.breached_at is null and not k.paused
               order by k.warn_at limit $1
               for update of k, t skip locked) x
         where k.ticket_id = x.ticket_id and k.kind = x.kind and k.cycle = x.cycle
         returning k.ticket_id, k.kind, k.cycle, k.due_at",
    )
    .bind(BATCH)
    .fetch_all(&mut *conn)
    .await?;
    mark_at_risk(conn, &due).await?;
    for (ticket, kind, _cycle, due_at) in &due {
        timeline::record(
            conn,
            *ticket,
            Actor::System,
            &TimelineEvent::SlaWarning {
                clock: kind_of(kind),
                due_at: *due_at,
            },
        )
        .await?;
        wake(conn, *ticket).await?;
    }
    Ok(due.len() as u64)
}

async fn breach_batch(conn: &mut PgConnection) -> sqlx::Result<u64> {
    let due: Vec<(i64, String, i32, OffsetDateTime)> = sqlx::query_as(
        "update sla_clock k set breached_at = k.due_at
         from (select k.ticket_id, k.kind, k.cycle from sla_clock k
               join ticket t on t.ticket_id = k.ticket_id
               where k.due_at <= now() and k.stopped_at is null and k.breached_at is null
                 and not k.paused
               order by k.due_at limit $1
               for update of k, t skip locked) x
         where k.ticket_id = x.ticket_id and k.kind = x.kind and k.cycle = x.cycle
           and k.breached_at is null
         returning k.ticket_id, k.kind, k.cycle, k.due_at",
    )
    .bind(BATCH)
    .fetch_all(&mut *conn)
    .await?;
    mark_at_risk(conn, &due).await?;
    for (ticket, kind, _cycle, due_at) in &due {
        timeline::record(
            conn,
            *ticket,
            Actor::System,
            &TimelineEvent::SlaBreached {
                clock: kind_of(kind),
                due_at: *due_at,
            },
        )
        .await?;
        wake(conn, *ticket).await?;
    }
    Ok(due.len() as u64)
}

/// Puts the tickets of these clocks in the "SLA at risk" folder (`ticket.sla_at_risk`).
async fn mark_at_risk(
    conn: &mut PgConnection,
    clocks: &[(i64, String, i32, OffsetDateTime)],
) -> sqlx::Result<()> {
    if clocks.is_empty() {
        return Ok(());
    }
    let tickets: Vec<i64> = clocks.iter().map(|c| c.0).collect();
    sqlx::query(
        "update ticket set sla_at_risk = true where ticket_id = any($1) and not sla_at_risk",
    )
    .bind(&tickets)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Reopens the ticket when it is snoozed (a clock at risk needs an agent's eyes).
async fn wake(conn: &mut PgConnection, ticket: i64) -> sqlx::Result<()> {
    let snoozed: bool =
        sqlx::query_scalar("select status = 'snoozed' from ticket where ticket_id = $1")
            .bind(ticket)
            .fetch_one(&mut *conn)
            .await?;
    if snoozed {
        crate::tickets::actions::reopen(conn, ticket, Actor::System, StatusReason::SlaAtRisk)
            .await?;
    }
    Ok(())
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
