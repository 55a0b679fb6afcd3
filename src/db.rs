//! The PostgreSQL pool: from `DATABASE_URL`, or an embedded cluster when none is given.
//! Migrations in `migrations/` are embedded at build time and run by [`migrate`].

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::DbConfig;
use crate::embedded_pg::EmbeddedPostgres;

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
    // Short interactive queries on few cores: a parallel worker's start-up (tens of ms) and JIT
    // compilation (kicks in above a plan cost, not a duration) cost more than they save and
    // showed up as p99 spikes in scripts/bench-web; both are off for Frontdesk's connections.
    let options = options.options([("max_parallel_workers_per_gather", "0"), ("jit", "off")]);
    let pool = PgPoolOptions::new()
        .max_connections(cfg.pool_size)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .context("connecting to PostgreSQL")?;
    Ok(Database { pool, embedded })
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
