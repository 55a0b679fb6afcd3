//! `TestApp`: one test's world (a fresh database, a fresh Dovecot mailbox, agents who can sign
//! in, tickets made from the mail fixtures through the real poller, a node on a free port),
//! built in a line or two so that a test reads as its spec.

use std::net::SocketAddr;

use frontdesk::ingest::store::IngestCounts;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use super::client::{Browser, agent};
use super::{TestDb, TestMailbox, case, ingest, node, smtp_to_sink};

/// A test's database and mailbox (`support@example.com`), plus what the test started on them.
pub struct TestApp {
    pub db: TestDb,
    pub mb: TestMailbox,
    shutdown: CancellationToken,
}

impl TestApp {
    /// A fresh migrated database and a mailbox with an empty INBOX.
    pub async fn new() -> TestApp {
        TestApp::with_folders(&[]).await
    }

    /// Like [`TestApp::new`], with these IMAP folders created beside the INBOX.
    pub async fn with_folders(folders: &[&str]) -> TestApp {
        let db = TestDb::new().await;
        let mb = TestMailbox::new(&db.pool, folders).await;
        TestApp {
            db,
            mb,
            shutdown: CancellationToken::new(),
        }
    }

    /// A fresh app whose INBOX received `fixtures` (names in `tests/fixtures/mail`), ingested
    /// once by the real poller.
    pub async fn with_mail(fixtures: &[&str]) -> TestApp {
        let app = TestApp::new().await;
        app.deliver(fixtures).await;
        app.ingest().await;
        app
    }

    pub fn pool(&self) -> &PgPool {
        &self.db.pool
    }

    /// APPENDs mail fixtures to the INBOX in one IMAP session (nothing is ingested).
    pub async fn deliver(&self, fixtures: &[&str]) {
        let raw: Vec<Vec<u8>> = fixtures.iter().map(|f| case(f)).collect();
        let raw: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
        self.mb.deliver("INBOX", &raw).await;
    }

    /// Runs the real poller once over every mailbox.
    pub async fn ingest(&self) -> IngestCounts {
        ingest(&self.db.pool).await
    }

    /// Creates an agent who signs in with [`super::client::PASSWORD`]; returns the agent id.
    pub async fn agent(&self, email: &str, name: &str, role: frontdesk::auth::Role) -> i64 {
        agent(&self.db, email, name, role).await
    }

    /// A browser tab signed in as the agent `email`.
    pub async fn browser_for(&self, email: &str) -> Browser {
        Browser::signed_in(&self.db, email).await
    }

    /// Sends the mailbox's replies to the test SMTP sink.
    pub async fn smtp_to_sink(&self) {
        smtp_to_sink(&self.db.pool, self.mb.mailbox_id).await;
    }

    /// The id (the number in `/tickets/{n}`) of the database's only ticket.
    pub async fn only_ticket_id(&self) -> i64 {
        let ids: Vec<i64> = sqlx::query_scalar("select ticket_id from ticket")
            .fetch_all(&self.db.pool)
            .await
            .unwrap();
        assert_eq!(ids.len(), 1, "expected exactly one ticket, got {ids:?}");
        ids[0]
    }

    /// Starts a full node named `name` on a free port; [`TestApp::finish`] stops it.
    pub async fn serve(&self, name: &str) -> SocketAddr {
        node(&self.db, name, &self.shutdown).await
    }

    /// The token that stops the nodes of [`TestApp::serve`].
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Stops what the test started and drops the database (a failing test keeps it).
    pub async fn finish(self) {
        self.shutdown.cancel();
        self.db.drop_db().await;
    }
}
