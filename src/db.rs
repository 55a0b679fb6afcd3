//! The PostgreSQL pool: from `DATABASE_URL`, or an embedded cluster when none is given.
//! Migrations in `migrations/` are embedded at build time and run by [`migrate`].

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::DbConfig;
use crate::embedded_pg::EmbeddedPostgres;

pub mod copy;

/// An open pool, plus the embedded cluster behind it (stopped when this is dropped).
pub struct Database {
    pub pool: PgPool,
    pub embedded: Option<EmbeddedPostgres>,
}

/// Connects to `DATABASE_URL`, or starts (or reuses) the embedded cluster under the data dir.
/// `create`: whether a missing embedded cluster may be initialised (only `serve` and `migrate`).
pub async fn connect(cfg: &DbConfig, create: bool) -> anyhow::Result<Database> {
    let (options, embedded) = match &cfg.url {
        Some(url) => (
            PgConnectOptions::from_str(url)
                .context("DATABASE_URL is not a valid postgres:// URL")?,
            None,
        ),
        None => {
            let data_dir = cfg.data_dir.clone();
            let pg = tokio::task::spawn_blocking(move || {
                EmbeddedPostgres::start(&data_dir, create)
            })
            .await?
            .context(
                "starting the embedded PostgreSQL (set DATABASE_URL to use your own server)",
            )?;
            (pg.connect_options(), Some(pg))
        }
    };
    let pool = pool_options(cfg.pool_size)
        .connect_with(session_options(options))
        .await
        .context("connecting to PostgreSQL")?;
    Ok(Database { pool, embedded })
}

/// A pool on the read replica at `url` (`FRONTDESK_REPLICA_URL`), for analytics reads. It
/// connects on first use, so a replica that is down does not stop the node from starting: the
/// analytics requests fail (503) until it is back, and the inbox is untouched.
///
/// Errors: `url` is not a valid `postgres://` URL.
pub fn connect_replica(url: &str, size: u32) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .context("FRONTDESK_REPLICA_URL is not a valid postgres:// URL")?;
    Ok(pool_options(size).connect_lazy_with(report_session_options(options)))
}

/// The analytics pool when there is no replica: on the primary (the same server and options as
/// `primary`), with half the connections of the main pool (at least 2), so that reports queue
/// among themselves instead of taking the inbox's connections, and with the reports' session
/// settings ([`REPORT_WORK_MEM`]). Connects on first use.
pub fn reports_pool(primary: &PgPool, size: u32) -> PgPool {
    let options = (*primary.connect_options()).clone();
    pool_options(size.div_ceil(2).max(2)).connect_lazy_with(report_session_options(options))
}

/// `work_mem` of analytics connections: a report groups and sorts a period's facts (about
/// 125,000 rows for 90 days at a million tickets; medians and p90 sort them per group), which
/// PostgreSQL's default of 4 MB sent to disk.
pub const REPORT_WORK_MEM: &str = "32MB";

/// Analytics connections also plan every execution for its own parameters
/// (`plan_cache_mode = force_custom_plan`). sqlx prepares each statement once per connection,
/// and after five executions PostgreSQL may switch to a generic plan, which cannot drop the
/// filters left unset (`$1 is null or ...`) nor see the period's size: at a million tickets a
/// two-year tags report took 3.4-4.0 s on such a plan against 1.2-1.3 s planned for its
/// parameters, so the same request was fast on a fresh connection and slow from the sixth
/// call on. Planning costs about a millisecond; the reports take hundreds.
fn report_session_options(options: PgConnectOptions) -> PgConnectOptions {
    session_options(options).options([
        ("work_mem", REPORT_WORK_MEM),
        ("plan_cache_mode", "force_custom_plan"),
    ])
}

fn pool_options(size: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(Duration::from_secs(10))
}

/// Short interactive queries on few cores: a parallel worker's start-up (tens of ms) and JIT
/// compilation (kicks in above a plan cost, not a duration) cost more than they save and
/// showed up as p99 spikes in scripts/bench-web; both are off for Frontdesk's connections.
fn session_options(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("max_parallel_workers_per_gather", "0"), ("jit", "off")])
}

/// Applies pending migrations. Safe to run from several nodes at once (sqlx takes an advisory lock).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations")
        .run(pool)
        .await
        .context("running migrations")?;
    Ok(())
}

/// Begins a transaction whose commit does not wait for the WAL to reach the disk
/// (`synchronous_commit = off`, for this transaction only), for writes whose loss in a crash
/// is harmless and whose latency is felt: presence (seconds-lived, and a NOTIFY holds a
/// cluster-wide lock until its commit ends) and read markers (a page view). A crash loses at
/// most the last ~0.6 s of such commits (3 × `wal_writer_delay`); never data that is not
/// written this way.
pub async fn begin_async_commit(
    pool: &PgPool,
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("set local synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
