//! Typed configuration, read once from the environment (and the CLI for `--bind`).
//! Every variable is listed with its default in `.env.sample` and the README.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use time::Date;

use crate::mailboxes::MailTls;

/// Everything the binary reads from its environment.
#[derive(Clone, Debug)]
pub struct Config {
    pub db: DbConfig,
    pub ingest: IngestConfig,
    pub sla: SlaConfig,
    pub webhooks: WebhookConfig,
    /// `FRONTDESK_BIND`, default `127.0.0.1:8080`.
    pub bind: SocketAddr,
    /// `FRONTDESK_METRICS_BIND`: a second listener serving only `GET /metrics` without a
    /// token (for a Prometheus on a private network); default none (then `/metrics` on the
    /// main listener needs an admin token).
    pub metrics_bind: Option<SocketAddr>,
    /// `FRONTDESK_NODE_ID`: names this node in logs and `/healthz`; default `hostname:pid`.
    pub node_id: String,
    /// `FRONTDESK_PUBLIC_URL`: how browsers reach Frontdesk, default `http://{bind}`. An
    /// `https://` URL makes the session cookie `Secure`.
    pub public_url: String,
    /// `FRONTDESK_EXTRA_CA_FILE`: a PEM bundle of certificate authorities trusted by the TLS
    /// connections to IMAP and SMTP servers besides the webpki roots (default: none). Read
    /// once at start; an unreadable file or one without certificates is a [`ConfigError`].
    pub mail_tls: MailTls,
}

/// Where the database is.
#[derive(Clone)]
pub struct DbConfig {
    /// `DATABASE_URL`; when unset, an embedded PostgreSQL cluster is started under `data_dir`.
    pub url: Option<String>,
    /// `FRONTDESK_DATA_DIR`, default `./data`.
    pub data_dir: PathBuf,
    /// `FRONTDESK_DB_POOL_SIZE`, default 10.
    pub pool_size: u32,
    /// `FRONTDESK_REPLICA_URL`: a PostgreSQL hot standby (streaming replica) of the same
    /// database; when set, the analytics pages, CSV exports and `/api/v1/analytics/*` read
    /// from it so reporting never slows the inbox. Default none (everything reads the primary).
    pub replica_url: Option<String>,
}

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password.
        f.debug_struct("DbConfig")
            .field("url", &self.url.as_ref().map(|_| "<set>"))
            .field("data_dir", &self.data_dir)
            .field("pool_size", &self.pool_size)
            .field("replica_url", &self.replica_url.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// What to do with a message on the IMAP server once it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterImport {
    /// Leave flags and folders untouched (default; fetched with `BODY.PEEK`).
    Keep,
    /// Set `\Seen`.
    MarkSeen,
    /// Move to the named folder (RFC 6851 MOVE).
    Move(String),
}

/// Settings of the IMAP pollers.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// `FRONTDESK_POLL_INTERVAL_SECS`, default 60: the wait between polls when the server has no IDLE.
    pub poll_interval: Duration,
    /// `FRONTDESK_IDLE_SECS`, default 300: how long one IMAP IDLE waits before re-checking
    /// (RFC 2177 asks clients to re-issue IDLE at least every 29 minutes).
    pub idle_timeout: Duration,
    /// `FRONTDESK_FETCH_BATCH`, default 500: messages fetched and stored per transaction.
    pub fetch_batch: usize,
    /// `FRONTDESK_BACKFILL_SINCE` (`YYYY-MM-DD`): on first connect, import only mail since then.
    pub backfill_since: Option<Date>,
    /// `FRONTDESK_IMAP_ALLOW_PLAINTEXT`, default false: allow unencrypted IMAP to non-loopback hosts.
    pub allow_plaintext: bool,
    /// `FRONTDESK_AFTER_IMPORT`: `keep` (default), `seen`, or `move:FOLDER`.
    pub after_import: AfterImport,
    /// `FRONTDESK_MAX_BACKOFF_SECS`, default 300: cap of the retry backoff for a failing mailbox.
    pub max_backoff: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(300),
            fetch_batch: 500,
            backfill_since: None,
            allow_plaintext: false,
            after_import: AfterImport::Keep,
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// Settings of the SLA worker.
#[derive(Clone, Debug)]
pub struct SlaConfig {
    /// `FRONTDESK_SLA_TICK_MS`, default 1000 (at most 1000 is used): how often the worker looks
    /// for clocks that reached their warning or due instant. Breaches are stamped at the due
    /// instant whatever this is; it only bounds how late the event and rules follow.
    pub tick: Duration,
}

impl Default for SlaConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(1),
        }
    }
}

/// Settings of webhook deliveries (`crate::webhooks`).
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// `FRONTDESK_WEBHOOK_ALLOW_PRIVATE`, default false: allow https endpoints on private,
    /// link-local, unique-local and loopback addresses (http stays loopback-only).
    pub allow_private: bool,
    /// `FRONTDESK_WEBHOOK_RETRY_BASE_MS`, default 30000: the delay before the first retry;
    /// each further retry waits twice as long, at most an hour, for 24 hours.
    pub retry_base: Duration,
    /// `FRONTDESK_WEBHOOK_RETRY_WINDOW_SECS`, default 86400 (a day): how long a delivery is
    /// retried, and how long an endpoint may fail before it is disabled.
    pub retry_window: Duration,
    /// `FRONTDESK_WEBHOOK_TIMEOUT_SECS`, default 10: how long one delivery attempt may take.
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            allow_private: false,
            retry_base: Duration::from_secs(30),
            retry_window: Duration::from_secs(86_400),
            timeout: Duration::from_secs(10),
        }
    }
}

/// A variable that is set but malformed.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e| ConfigError {
            name,
            problem: format!("{v:?}: {e}"),
        }),
    }
}

impl Config {
    /// Reads the environment. Errors name the variable and the bad value.
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = IngestConfig::default();
        let after_import = match var("FRONTDESK_AFTER_IMPORT").as_deref() {
            None | Some("keep") => AfterImport::Keep,
            Some("seen") => AfterImport::MarkSeen,
            Some(v) if v.starts_with("move:") && v.len() > 5 => {
                AfterImport::Move(v[5..].to_string())
            }
            Some(v) => {
                return Err(ConfigError {
                    name: "FRONTDESK_AFTER_IMPORT",
                    problem: format!("{v:?}: expected keep, seen or move:FOLDER"),
                });
            }
        };
        let backfill_since = match var("FRONTDESK_BACKFILL_SINCE") {
            None => None,
            Some(v) => {
                let fmt = time::macros::format_description!("[year]-[month]-[day]");
                Some(Date::parse(v.trim(), &fmt).map_err(|e| ConfigError {
                    name: "FRONTDESK_BACKFILL_SINCE",
                    problem: format!("{v:?}: {e} (expected YYYY-MM-DD)"),
                })?)
            }
        };
        let mail_tls =
            match var("FRONTDESK_EXTRA_CA_FILE") {
                None => MailTls::default(),
                Some(path) => MailTls::from_pem_file(std::path::Path::new(path.trim())).map_err(
                    |problem| ConfigError {
                        name: "FRONTDESK_EXTRA_CA_FILE",
                        problem,
                    },
                )?,
            };
        let mut config = Config {
            db: DbConfig {
                url: var("DATABASE_URL"),
                data_dir: var("FRONTDESK_DATA_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("data")),
                pool_size: parsed("FRONTDESK_DB_POOL_SIZE", 10)?,
                replica_url: var("FRONTDESK_REPLICA_URL"),
            },
            ingest: IngestConfig {
                poll_interval: Duration::from_secs(parsed(
                    "FRONTDESK_POLL_INTERVAL_SECS",
                    defaults.poll_interval.as_secs(),
                )?),
                idle_timeout: Duration::from_secs(parsed(
                    "FRONTDESK_IDLE_SECS",
                    defaults.idle_timeout.as_secs(),
                )?),
                fetch_batch: parsed("FRONTDESK_FETCH_BATCH", defaults.fetch_batch)?.max(1),
                backfill_since,
                allow_plaintext: parsed("FRONTDESK_IMAP_ALLOW_PLAINTEXT", false)?,
                after_import,
                max_backoff: Duration::from_secs(parsed(
                    "FRONTDESK_MAX_BACKOFF_SECS",
                    defaults.max_backoff.as_secs(),
                )?),
            },
            sla: SlaConfig {
                tick: Duration::from_millis(
                    parsed("FRONTDESK_SLA_TICK_MS", 1000u64)?.clamp(10, 1000),
                ),
            },
            webhooks: WebhookConfig {
                allow_private: parsed("FRONTDESK_WEBHOOK_ALLOW_PRIVATE", false)?,
                retry_base: Duration::from_millis(
                    parsed("FRONTDESK_WEBHOOK_RETRY_BASE_MS", 30_000u64)?.max(10),
                ),
                retry_window: Duration::from_secs(
                    parsed("FRONTDESK_WEBHOOK_RETRY_WINDOW_SECS", 86_400u64)?.max(1),
                ),
                timeout: Duration::from_secs(
                    parsed("FRONTDESK_WEBHOOK_TIMEOUT_SECS", 10u64)?.clamp(1, 60),
                ),
            },
            public_url: var("FRONTDESK_PUBLIC_URL").unwrap_or_default(),
            bind: parsed("FRONTDESK_BIND", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            metrics_bind: match var("FRONTDESK_METRICS_BIND") {
                None => None,
                Some(v) => Some(v.trim().parse().map_err(|e| ConfigError {
                    name: "FRONTDESK_METRICS_BIND",
                    problem: format!("{v:?}: {e}"),
                })?),
            },
            node_id: var("FRONTDESK_NODE_ID").unwrap_or_else(default_node_id),
            mail_tls,
        };
        if config.public_url.is_empty() {
            config.public_url = format!("http://{}", config.bind);
        }
        Ok(config)
    }
}

impl Config {
    /// Sets the listening address (`serve --bind`, which overrides `FRONTDESK_BIND`). A public
    /// URL that was derived from the old address (no `FRONTDESK_PUBLIC_URL`) follows it, so
    /// links in mention emails point where the server listens.
    pub fn set_bind(&mut self, bind: SocketAddr) {
        if self.public_url == format!("http://{}", self.bind) {
            self.public_url = format!("http://{bind}");
        }
        self.bind = bind;
    }
}

fn default_node_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "node".into());
    format!("{host}:{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_flag_moves_a_derived_public_url_but_not_a_configured_one() {
        let mut c = Config::from_env().unwrap();
        c.bind = "127.0.0.1:8080".parse().unwrap();
        c.public_url = "http://127.0.0.1:8080".into();
        c.set_bind("127.0.0.1:18080".parse().unwrap());
        assert_eq!(c.public_url, "http://127.0.0.1:18080");
        assert_eq!(c.bind.port(), 18080);

        c.public_url = "https://desk.example.com".into();
        c.set_bind("0.0.0.0:9000".parse().unwrap());
        assert_eq!(c.public_url, "https://desk.example.com");
    }
}
