//! Test harness: a fresh database and a fresh IMAP user per test, and helpers to deliver mail
//! to Dovecot and run the real poller. Most tests start from a [`TestApp`] (`app.rs`), sign in
//! through [`Browser`] (`client.rs`), and start real nodes with [`node`] (`node.rs`).

use std::path::PathBuf;
use std::str::FromStr;

use frontdesk::config::IngestConfig;
use frontdesk::ingest::imap::{self, ImapSession};
use frontdesk::ingest::poller;
use frontdesk::ingest::store::IngestCounts;
use frontdesk::mailboxes::{self, ImapUrl};
use rand::Rng;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

/// The helpdesk address of the mail fixtures.
pub const SUPPORT: &str = "support@example.com";

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test"))
}

/// `host:port` of the test Dovecot.
pub fn imap_addr() -> String {
    env("FRONTDESK_TEST_IMAP")
}

/// `tests/fixtures/mail`: the mail fixtures, indexed with their expected outcomes in its README.md.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
}

/// Raw bytes of a mail fixture (a file name in `tests/fixtures/mail`).
pub fn case(name: &str) -> Vec<u8> {
    let p = fixtures_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("mail fixture {}: {e}", p.display()))
}

pub fn random_name(prefix: &str) -> String {
    let n: u64 = rand::rng().random();
    format!("{prefix}{n:016x}")
}

/// A fresh, migrated database, dropped when the test passes.
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    pub name: String,
    /// The server's maintenance URL, for dropping the database.
    admin_url: String,
}

impl TestDb {
    /// A fresh, migrated database on the `DATABASE_URL` server.
    pub async fn new() -> TestDb {
        TestDb::new_on(&env("DATABASE_URL")).await
    }

    /// A fresh, migrated database on the server of `base` (a postgres URL).
    pub async fn new_on(base: &str) -> TestDb {
        init_test_log();
        let base = base.to_string();
        let name = random_name("frontdesk_test_");
        let admin = PgConnectOptions::from_str(&base).expect("DATABASE_URL");
        let mut conn = admin.connect().await.expect("connect to DATABASE_URL");
        sqlx::query(&format!("create database {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let opts = admin.clone().database(&name);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .expect("connect test db");
        frontdesk::db::migrate(&pool).await.expect("migrate");
        let url = with_database(&base, &name);
        TestDb {
            pool,
            url,
            name,
            admin_url: base,
        }
    }

    /// A database that already exists at `url` (e.g. one a test restored), not migrated here;
    /// [`TestDb::drop_db`] drops it.
    pub async fn attach(url: &str) -> TestDb {
        let opts = PgConnectOptions::from_str(url).expect("a postgres URL");
        let name = opts.get_database().expect("a database name").to_string();
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .expect("connect to the database");
        TestDb {
            pool,
            url: url.to_string(),
            name,
            admin_url: env("DATABASE_URL"),
        }
    }

    /// Drops the database (call at the end of a passing test; a failing test keeps it).
    pub async fn drop_db(self) {
        self.pool.close().await;
        let admin = PgConnectOptions::from_str(&self.admin_url).unwrap();
        if let Ok(mut conn) = admin.connect().await {
            let _ = sqlx::query(&format!(
                "drop database if exists {} with (force)",
                self.name
            ))
            .execute(&mut conn)
            .await;
        }
    }
}

/// Replaces the database name of a postgres URL.
pub fn with_database(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("DATABASE_URL is a URL");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

/// A test mailbox: a fresh Dovecot user whose INBOX is `support@example.com`.
pub struct TestMailbox {
    pub mailbox_id: i64,
    pub url: String,
}

impl TestMailbox {
    /// Creates the Dovecot user (by logging in) and the Frontdesk mailbox.
    pub async fn new(pool: &PgPool, extra_folders: &[&str]) -> TestMailbox {
        let user = random_name("u");
        let mut url = format!("imap://{user}:secret@{}/INBOX", imap_addr());
        for (i, f) in extra_folders.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("folder={}", f.replace(' ', "%20")));
        }
        let mailbox_id = mailboxes::upsert_mailbox(pool, "Example Support", SUPPORT, &url, None)
            .await
            .unwrap();
        let mb = TestMailbox { mailbox_id, url };
        let mut s = mb.session().await;
        for f in extra_folders {
            s.create(f)
                .await
                .unwrap_or_else(|e| panic!("CREATE {f}: {e}"));
        }
        s.logout().await.ok();
        mb
    }

    /// A logged-in IMAP session as this mailbox's user.
    pub async fn session(&self) -> ImapSession {
        imap::connect(
            &ImapUrl::parse(&self.url).unwrap(),
            false,
            &Default::default(),
        )
        .await
        .expect("IMAP login to the test Dovecot")
    }

    /// APPENDs raw messages to a folder.
    pub async fn deliver(&self, folder: &str, messages: &[&[u8]]) {
        let mut s = self.session().await;
        for m in messages {
            s.append(folder, None, None, m)
                .await
                .unwrap_or_else(|e| panic!("APPEND to {folder}: {e}"));
        }
        s.logout().await.ok();
    }
}

/// Grants mailbox `mailbox_id` to agent `agent_id` through a new team `team` (what
/// `frontdesk team add` / `member add` / `grant` do).
pub async fn grant_through_team(pool: &PgPool, team: &str, agent_id: i64, mailbox_id: i64) {
    let team: i64 = sqlx::query_scalar("insert into team (name) values ($1) returning team_id")
        .bind(team)
        .fetch_one(pool)
        .await
        .unwrap();
    sqlx::query("insert into team_member values ($1, $2)")
        .bind(team)
        .bind(agent_id)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("insert into team_mailbox values ($1, $2)")
        .bind(team)
        .bind(mailbox_id)
        .execute(pool)
        .await
        .unwrap();
}

/// Runs the real poller once over every mailbox, as `frontdesk ingest --once` does.
pub async fn ingest(pool: &PgPool) -> IngestCounts {
    ingest_with(pool, &IngestConfig::default()).await
}

pub async fn ingest_with(pool: &PgPool, cfg: &IngestConfig) -> IngestCounts {
    ingest_trusting(pool, cfg, &Default::default()).await
}

/// [`ingest_with`], checking TLS certificates against `trust` (see [`tls::test_ca`]).
pub async fn ingest_trusting(
    pool: &PgPool,
    cfg: &IngestConfig,
    trust: &frontdesk::mailboxes::MailTls,
) -> IngestCounts {
    let mut total = IngestCounts::default();
    for (address, r) in poller::ingest_once(pool, cfg, trust, None)
        .await
        .expect("ingest_once")
    {
        total.merge(r.unwrap_or_else(|e| panic!("{address}: {e:#}")));
    }
    total
}

/// What one column of a query row decodes into (`i64`, `String`, `Option<…>`, …).
pub trait Column:
    for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin
{
}
impl<T> Column for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin
{
}

/// What a query parameter may be (`$1`).
pub trait Param<'q>: 'q + sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> {}
impl<'q, A> Param<'q> for A where
    A: 'q + sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>
{
}

/// The one value of a query without parameters (`select count(*) from …`).
pub async fn scalar<T: Column>(pool: &PgPool, sql: &str) -> T {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The one value of a query with one parameter (`… where ticket_id = $1`).
pub async fn scalar_for<'q, T: Column, A: Param<'q>>(pool: &PgPool, sql: &'q str, arg: A) -> T {
    let value = sqlx::query_scalar(sql).bind(arg).fetch_one(pool).await;
    value.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The values of a one-column query with one parameter, in the order the query gives.
pub async fn column_for<'q, T: Column, A: Param<'q>>(
    pool: &PgPool,
    sql: &'q str,
    arg: A,
) -> Vec<T> {
    let values = sqlx::query_scalar(sql).bind(arg).fetch_all(pool).await;
    values.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A mailbox whose IMAP side is never used (nothing polls it), sending through `smtp_url`.
pub async fn offline_mailbox(pool: &PgPool, address: &str, smtp_url: Option<&str>) -> i64 {
    mailboxes::upsert_mailbox(
        pool,
        "Example Support",
        address,
        "imap://unused:unused@127.0.0.1:1/INBOX",
        smtp_url,
    )
    .await
    .unwrap()
}

/// The id of the ticket whose subject is `like` (an SQL pattern).
pub async fn ticket_by_subject(db: &TestDb, like: &str) -> i64 {
    scalar_for(
        &db.pool,
        "select ticket_id from ticket where subject like $1",
        like,
    )
    .await
}

/// Sends mailbox `mailbox_id`'s replies to the test SMTP sink.
pub async fn smtp_to_sink(pool: &PgPool, mailbox_id: i64) {
    sqlx::query("update mailbox set smtp_url = $2 where mailbox_id = $1")
        .bind(mailbox_id)
        .bind(smtp::sink_url())
        .execute(pool)
        .await
        .unwrap();
}

/// Runs a statement with one parameter (`update … where ticket_id = $1`).
pub async fn execute_for<'q, A: Param<'q>>(pool: &PgPool, sql: &'q str, arg: A) {
    let done = sqlx::query(sql).bind(arg).execute(pool).await;
    done.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Number of tickets.
pub async fn ticket_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from ticket")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The only ticket of the database, as the API shows it.
pub async fn only_ticket(pool: &PgPool) -> serde_json::Value {
    let ids: Vec<i64> = sqlx::query_scalar("select ticket_id from ticket")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(ids.len(), 1, "expected exactly one ticket, got {ids:?}");
    ticket_json(pool, ids[0]).await
}

/// A ticket as `GET /api/v1/tickets/{number}` shows it.
pub async fn ticket_json(pool: &PgPool, number: i64) -> serde_json::Value {
    let t = frontdesk::tickets::get_ticket(pool, None, number)
        .await
        .unwrap()
        .expect("ticket exists");
    serde_json::to_value(t).unwrap()
}

/// Replaces the `[#4711]`-style placeholders of the mail fixtures with a real ticket number.
pub fn with_token(raw: &[u8], number: i64) -> Vec<u8> {
    let mut s = raw.to_vec();
    for placeholder in ["4711", "4712", "4713", "4714", "4715"] {
        let from = format!("[#{placeholder}]");
        let to = format!("[#{number}]");
        while let Some(i) = s.windows(from.len()).position(|w| w == from.as_bytes()) {
            s.splice(i..i + from.len(), to.bytes());
        }
    }
    s
}

// ---- SMTP (outbox tests) --------------------------------------------------------------------
// The test SMTP sink and private sinks: see support/smtp.rs.
pub mod smtp;

mod app;
mod client;
mod node;
pub mod tls;
pub use app::TestApp;
pub use client::{Browser, Page, agent, api_json, test_router};
pub use frontdesk::auth::Role;
pub use node::{Sse, login_cookie, node, post_form};

/// Logs to the test output when `TEST_LOG=1` (quiet otherwise).
pub fn init_test_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
                .with_test_writer()
                .try_init();
        }
    });
}

/// Runs the benchmark seeder (the `frontdesk-seed` binary) on `db` with `args` (e.g.
/// `["--tickets", "300"]`); panics with its output unless it succeeds. Returns its standard
/// output (`admin-email: ...`, `admin-password: ...`, ...).
pub async fn run_seeder(db: &TestDb, args: &[&str]) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_frontdesk-seed"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run frontdesk-seed");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "frontdesk-seed {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Polls `f` every 100 ms until it is true; panics naming `what` after `timeout`.
pub async fn wait_for<F, Fut>(what: &str, timeout: std::time::Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
