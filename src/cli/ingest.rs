//! `frontdesk ingest --once`.

use sqlx::PgPool;

use crate::config::Config;
use crate::ingest;

/// Polls every enabled mailbox (or only `mailbox`) once and prints its counts, then the total.
/// Returns the exit code: 1 when any mailbox failed (named on standard error), else 0.
pub(super) async fn ingest_once(
    pool: &PgPool,
    config: &Config,
    mailbox: Option<&str>,
) -> anyhow::Result<i32> {
    let results =
        ingest::poller::ingest_once(pool, &config.ingest, &config.mail_tls, mailbox).await?;
    let mut total = ingest::store::IngestCounts::default();
    let mut failed = 0;
    for (address, r) in results {
        match r {
            Ok(c) => {
                println!("{address}: {c}");
                total.merge(c);
            }
            Err(e) => {
                failed += 1;
                eprintln!("{address}: FAILED: {e:#}");
            }
        }
    }
    println!("total: {total}");
    Ok(if failed > 0 { 1 } else { 0 })
}
