//! Logging: `RUST_LOG` filters (default `info`), `FRONTDESK_LOG_FORMAT=json` for JSON lines;
//! Prometheus metrics in [`metrics`].

use tracing_subscriber::EnvFilter;

pub mod metrics;

/// Installs the global subscriber. Logs go to stderr so that command output stays clean.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("FRONTDESK_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
