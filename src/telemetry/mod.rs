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

/// Milliseconds spent in each step of a batch's work, for debug logs such as the store's
/// (`RUST_LOG=frontdesk::ingest::store=debug`): `raw=70 mails=120 events=20 …`.
pub struct Laps {
    last: std::time::Instant,
    steps: Vec<(&'static str, u128)>,
}

impl Laps {
    /// Starts the first step now.
    pub fn start() -> Self {
        Self {
            last: std::time::Instant::now(),
            steps: Vec::new(),
        }
    }

    /// Ends the step named `name` (and starts the next).
    pub fn lap(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.steps.push((name, (now - self.last).as_millis()));
        self.last = now;
    }
}

impl std::fmt::Display for Laps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, ms)) in self.steps.iter().enumerate() {
            write!(f, "{}{name}={ms}", if i == 0 { "" } else { " " })?;
        }
        Ok(())
    }
}
