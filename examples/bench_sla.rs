//! SLA clocks at size: recompute every running clock after a calendar edit, and the inbox's
//! "due soonest" sort, on a generated database of `--tickets` tickets of which `--open` are
//! open with running clocks (first response and resolution each).
//!
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run --release --example
//! bench_sla -- --tickets 1000000 --open 100000` (re)creates the database `frontdesk_bench_sla`
//! next to the one in the URL, fills it with SQL (`generate_series`, triggers off), and prints
//! the recompute time and the inbox page times (p50/p99 of 50 pages) against the inbox target
//! (p99 ≤ 30 ms). The database is left behind.

use std::time::{Duration, Instant};

use clap::Parser;
use frontdesk::audit::AuditActor;
use frontdesk::sla::calendars::{self, CalendarInput};
use frontdesk::sla::policies::{self, PolicyInput};
use frontdesk::tickets::inbox::{self, Folder, InboxQuery, Sort};
use serde_json::json;
use sqlx::{Connection, PgPool};

#[derive(Parser, Debug)]
struct Args {
    /// Tickets in all.
    #[arg(long, default_value_t = 1_000_000)]
    tickets: i64,
    /// Of which open, with running clocks.
    #[arg(long, default_value_t = 100_000)]
    open: i64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url = std::env::var("DATABASE_URL")?;
    let mut admin = sqlx::PgConnection::connect(&url).await?;
    sqlx::query("drop database if exists frontdesk_bench_sla with (force)")
        .execute(&mut admin)
        .await?;
    sqlx::query("create database frontdesk_bench_sla")
        .execute(&mut admin)
        .await?;
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
    let pool = PgPool::connect(&format!("{base}/frontdesk_bench_sla")).await?;
    frontdesk::db::migrate(&pool).await?;

    let mut tx = pool.begin().await?;
    let week = |spans: &[&str]| {
        ["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|d| (d.to_string(), spans.iter().map(|s| s.to_string()).collect()))
            .collect::<std::collections::BTreeMap<String, Vec<String>>>()
    };
    let cal = calendars::create(
        &mut tx,
        &AuditActor::System,
        CalendarInput {
            name: Some("Berlin office".into()),
            time_zone: Some("Europe/Berlin".into()),
            hours: Some(week(&["09:00-17:00"])),
            holidays: Some(vec!["2026-12-25".into()]),
        },
    )
    .await?;
    let row = json!({"first_response": 240, "next_response": 480, "resolution": 2880});
    let policy = policies::create(
        &mut tx,
        &AuditActor::System,
        PolicyInput {
            name: Some("Standard".into()),
            calendar: Some(cal.id),
            targets: Some(json!({"urgent": row, "high": row, "normal": row, "low": row})),
            warning_percent: None,
        },
    )
    .await?;
    tx.commit().await?;

    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "insert into mailbox (name, address, imap_url) values ('Support', 'support@example.com', 'imap://x:y@127.0.0.1/INBOX')",
    )
    .execute(&mut *conn)
    .await?;
    let agent: i64 = sqlx::query_scalar(
        "insert into agent (email, name, role, password_hash) values ('lead@example.com', 'Lee', 'lead', 'x') returning agent_id",
    )
    .fetch_one(&mut *conn)
    .await?;
    // Every `tickets / open`-th ticket is open; creation spread over the last 60 days.
    let every = (args.tickets / args.open.max(1)).max(1);
    sqlx::query(
        "insert into ticket (mailbox_id, subject, status, created_at, last_message_at, message_count,
                             snippet, sla_policy_id)
         select (select mailbox_id from mailbox), 'Ticket ' || i,
                case when i % $2 = 0 then 'open' else 'closed' end,
                now() - (i % 86400) * interval '60 seconds', now() - (i % 86400) * interval '60 seconds',
                1, 'Hello', $3
         from generate_series(1, $1) as i",
    )
    .bind(args.tickets)
    .bind(every)
    .bind(policy.id)
    .execute(&mut *conn)
    .await?;
    // Running clocks of the open tickets (due times made up; the recompute fixes them).
    sqlx::query(
        "insert into sla_clock (ticket_id, kind, cycle, policy_id, started_at, due_at, warn_at)
         select t.ticket_id, k.kind, 1, t.sla_policy_id, t.created_at,
                t.created_at + interval '1 day', t.created_at + interval '18 hours'
         from ticket t cross join (values ('first_response'), ('resolution')) as k(kind)
         where t.status = 'open'",
    )
    .execute(&mut *conn)
    .await?;
    // Results of the closed ones.
    sqlx::query(
        "insert into sla_clock (ticket_id, kind, cycle, policy_id, started_at, due_at, achieved_at, stopped_at, paused)
         select t.ticket_id, 'first_response', 1, t.sla_policy_id, t.created_at,
                t.created_at + interval '4 hours', t.created_at + interval '1 hour',
                t.created_at + interval '1 hour', false
         from ticket t where t.status = 'closed'",
    )
    .execute(&mut *conn)
    .await?;
    // As the worker leaves them: warnings announced, the folder flag set.
    sqlx::query(
        "update sla_clock set warned_at = warn_at where stopped_at is null and warn_at <= now()",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "update ticket t set sla_due_at = t.created_at + interval '1 day',
                sla_at_risk = t.created_at + interval '18 hours' <= now()
         where t.status = 'open'",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("set session_replication_role = origin")
        .execute(&mut *conn)
        .await?;
    sqlx::query("select rebuild_inbox_counts()")
        .execute(&mut *conn)
        .await?;
    sqlx::query("vacuum analyze").execute(&mut *conn).await?;
    drop(conn);
    println!(
        "seeded {} tickets ({} open, {} running clocks) in {:.1} s",
        args.tickets,
        sqlx::query_scalar::<_, i64>("select count(*) from ticket where status = 'open'")
            .fetch_one(&pool)
            .await?,
        sqlx::query_scalar::<_, i64>("select count(*) from sla_clock where stopped_at is null")
            .fetch_one(&pool)
            .await?,
        started.elapsed().as_secs_f64()
    );

    // The calendar edit: one more hour every weekday.
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    calendars::update(
        &mut tx,
        &AuditActor::System,
        cal.id,
        CalendarInput {
            hours: Some(week(&["08:00-17:00"])),
            ..Default::default()
        },
    )
    .await?;
    tx.commit().await?;
    let recompute = started.elapsed();
    let wrong: i64 = sqlx::query_scalar(
        "select count(*) from sla_clock where stopped_at is null and due_at = started_at + interval '1 day'",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "calendar edit with recompute of every running clock: {:.2} s ({wrong} clocks left unrecomputed)",
        recompute.as_secs_f64()
    );

    // The inbox, "due soonest": first pages and pages deeper in.
    let mut times = Vec::new();
    let mut after = None;
    for i in 0..50 {
        let q = InboxQuery {
            folder: Folder::Open,
            mailbox_id: None,
            tag: None,
            assignee: None,
            priority: None,
            vip: false,
            stage: None,
            waiting: false,
            sort: Sort::DueSoonest,
            after: if i % 2 == 0 { None } else { after },
            limit: 50,
        };
        let t = Instant::now();
        let (rows, _) = inbox::list(&pool, agent, None, &q).await?;
        times.push(t.elapsed());
        after = rows.last().map(|r| r.cursor(Sort::DueSoonest));
    }
    times.sort();
    println!(
        "inbox, open, due soonest, 50 rows: p50 {:.1} ms, p99 {:.1} ms (target p99 <= 30 ms)",
        percentile(&times, 0.5).as_secs_f64() * 1000.0,
        percentile(&times, 0.99).as_secs_f64() * 1000.0
    );
    let mut times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        inbox::folder_counts(&pool, agent, None).await?;
        times.push(t.elapsed());
    }
    times.sort();
    let at_risk: i64 = sqlx::query_scalar("select count(*) from ticket where sla_at_risk")
        .fetch_one(&pool)
        .await?;
    println!(
        "folder counts with 'SLA at risk' ({at_risk} tickets at risk): p50 {:.1} ms, p99 {:.1} ms",
        percentile(&times, 0.5).as_secs_f64() * 1000.0,
        percentile(&times, 0.99).as_secs_f64() * 1000.0
    );
    Ok(())
}
