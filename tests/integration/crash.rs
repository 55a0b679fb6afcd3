//! Crash tests: `kill -9` the real `frontdesk` binary at random points of a backfill, restart
//! it, and prove that no message is lost and none is stored twice, with one node and with two
//! nodes polling the same mailbox at once.

use std::process::Stdio;
use std::time::Duration;

use rand::Rng;
use tokio::process::{Child, Command};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_frontdesk");

/// `n` generated mails: every 5th replies to the one before it, every 50th has no Message-ID.
fn generated_mails(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut headers = format!(
                "From: Customer {i} <customer{}@example.org>\r\nTo: support@example.com\r\nSubject: Question number {i}\r\nDate: Tue, 01 Apr 2025 10:00:00 +0000\r\n",
                i % 97
            );
            if i % 50 != 7 {
                headers.push_str(&format!("Message-ID: <crash-{i}@example.org>\r\n"));
            }
            if i % 5 == 4 {
                headers.push_str(&format!("In-Reply-To: <crash-{}@example.org>\r\n", i - 1));
            }
            format!("{headers}\r\nBody of message {i}.\r\n{}\r\n", "padding ".repeat(200)).into_bytes()
        })
        .collect()
}

fn serve(db: &TestDb, node: &str) -> Child {
    Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url)
        .env("FRONTDESK_FETCH_BATCH", "40")
        .env("FRONTDESK_NODE_ID", node)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start frontdesk serve")
}

async fn stored(db: &TestDb) -> i64 {
    scalar(&db.pool, "select count(*) from raw_message").await
}

/// A fresh app with `n` generated mails waiting in its INBOX (not yet ingested), and `n`.
async fn backlog(n: usize) -> (TestApp, usize) {
    let app = TestApp::new().await;
    let mails = generated_mails(n);
    let refs: Vec<&[u8]> = mails.iter().map(|m| m.as_slice()).collect();
    app.mb.deliver("INBOX", &refs).await;
    (app, n)
}

/// Waits (at most 60 s) until more than `before` mails are stored: a batch has committed.
async fn progress_beyond(db: &TestDb, before: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while stored(db).await <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "no progress within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn finish_and_check(db: &TestDb, n: usize) {
    let out = Command::new(BIN)
        .args(["ingest", "--once"])
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "ingest --once failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("total: fetched="), "{stdout}");

    let raw: i64 = scalar(&db.pool, "select count(*) from raw_message").await;
    let messages: i64 = scalar(&db.pool, "select count(*) from message").await;
    let distinct_ids: i64 = scalar(
        &db.pool,
        "select count(distinct header_message_id) from message",
    )
    .await;
    let with_id: i64 = scalar(
        &db.pool,
        "select count(*) from message where header_message_id is not null",
    )
    .await;
    let tickets: i64 = scalar(&db.pool, "select count(*) from ticket").await;
    let counted: i64 = scalar(
        &db.pool,
        "select coalesce(sum(message_count), 0) from ticket",
    )
    .await;
    let quarantined: i64 = scalar(&db.pool, "select count(*) from quarantine").await;
    let pending: i64 = scalar(&db.pool, "select count(*) from raw_message_pending").await;
    assert_eq!(pending, 0, "raw mail kept before a kill is stored");
    assert_eq!(raw, n as i64, "every message stored exactly once (raw)");
    assert_eq!(messages, n as i64, "every message on a ticket exactly once");
    assert_eq!(distinct_ids, with_id, "no Message-ID twice");
    assert_eq!(
        tickets,
        (n - n / 5) as i64,
        "replies threaded, no duplicate tickets"
    );
    assert_eq!(counted, n as i64, "ticket message counts match");
    assert_eq!(quarantined, 0);
}

#[tokio::test]
async fn kill_9_during_backfill_loses_nothing_and_duplicates_nothing() {
    let (app, mails) = backlog(3000).await;
    let db = &app.db;
    let n = mails as i64;
    let mut mid_import = 0;
    for round in 0..5 {
        let before = stored(db).await;
        let mut node = serve(db, "crash-node");
        // The first round kills as soon as a batch has landed, the others at random.
        if round == 0 {
            progress_beyond(db, before).await;
        } else {
            let wait = rand::rng().random_range(200..1000);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        node.kill().await.unwrap(); // SIGKILL
        let after = stored(db).await;
        let pending: i64 = scalar(&db.pool, "select count(*) from raw_message_pending").await;
        eprintln!("round {round}: killed with {after} of {n} kept, {pending} of them not stored");
        if 0 < after && after < n {
            mid_import += 1;
        }
    }
    assert!(mid_import > 0, "no kill landed in the middle of the import");
    finish_and_check(db, mails).await;
    app.finish().await;
}

#[tokio::test]
async fn two_nodes_killed_at_random_lose_nothing_and_duplicate_nothing() {
    let (app, mails) = backlog(3000).await;
    let db = &app.db;
    let n = mails as i64;
    let mut mid_import = 0;
    let mut a = serve(db, "node-a");
    let mut b = serve(db, "node-b");
    for round in 0..6 {
        if round == 0 {
            progress_beyond(db, 0).await;
        } else {
            tokio::time::sleep(Duration::from_millis(rand::rng().random_range(200..900))).await;
        }
        // Kill whichever node, restart it: the other one takes over the lease meanwhile.
        if rand::rng().random_bool(0.5) {
            a.kill().await.unwrap();
            a = serve(db, "node-a");
        } else {
            b.kill().await.unwrap();
            b = serve(db, "node-b");
        }
        let after = stored(db).await;
        let pending: i64 = scalar(&db.pool, "select count(*) from raw_message_pending").await;
        eprintln!("round {round}: killed with {after} of {n} kept, {pending} of them not stored");
        if 0 < after && after < n {
            mid_import += 1;
        }
    }
    assert!(mid_import > 0, "no kill landed in the middle of the import");
    a.kill().await.unwrap();
    b.kill().await.unwrap();
    finish_and_check(db, mails).await;
    app.finish().await;
}
