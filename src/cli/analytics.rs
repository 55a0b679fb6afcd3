//! `frontdesk analytics rebuild`: fills the stored per-ticket metric values of tickets that
//! have none (tickets from before analytics existed) from their timeline events.

use clap::Subcommand;
use sqlx::PgPool;

/// `frontdesk analytics ...`.
#[derive(Subcommand, Debug)]
pub enum AnalyticsCommand {
    /// Compute the metric values of every ticket that has none yet, from its events; prints
    /// how many. Values already stored are never changed. Safe to run again.
    Rebuild {
        /// Tickets per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

/// Runs one `analytics` subcommand.
pub(super) async fn run(pool: &PgPool, command: AnalyticsCommand) -> anyhow::Result<()> {
    match command {
        AnalyticsCommand::Rebuild { batch } => {
            let n = crate::analytics::metrics::rebuild(pool, batch).await?;
            println!("analytics: {n} tickets filled");
        }
    }
    Ok(())
}
