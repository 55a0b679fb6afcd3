//! The long-running poller: IDLE wake-up, poison messages, unreachable servers, the lease.

use std::time::{Duration, Instant};

use frontdesk::config::{Config, IngestConfig};
use frontdesk::ingest::poller;
use tokio_util::sync::CancellationToken;

use crate::support::*;

fn test_config(db: &TestDb) -> Config {
    let mut c = Config::from_env().unwrap();
    c.db.url = Some(db.url.clone());
    c.ingest.poll_interval = Duration::from_secs(1);
    c.node_id = "test-node".into();
    c
}

#[tokio::test]
async fn serve_turns_new_mail_into_a_ticket_within_seconds_via_idle() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = test_config(db);
    cfg.ingest.poll_interval = Duration::from_secs(600); // only IDLE can be fast enough
    let server = tokio::spawn(frontdesk::app::run(
        cfg,
        db.pool.clone(),
        listener,
        shutdown.clone(),
    ));

    // Let the poller reach IDLE on the empty mailbox, then deliver.
    let pool = db.pool.clone();
    wait_for("the first poll", Duration::from_secs(10), || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from mailbox_health where last_ok_at is not null",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
            == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered = Instant::now();
    mb.deliver("INBOX", &[&case("23-reply-in-reply-to-only-a.eml")])
        .await;
    wait_for("the ticket", Duration::from_secs(5), || async {
        ticket_count(&pool).await == 1
    })
    .await;
    eprintln!(
        "mail became a ticket {:?} after APPEND",
        delivered.elapsed()
    );

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("graceful shutdown")
        .unwrap()
        .unwrap();
    app.finish().await;
}

#[tokio::test]
async fn a_poison_message_is_quarantined_with_its_bytes_and_the_poller_goes_on() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let poison = b"this is not a mail at all\r\njust text without any header\r\n".to_vec();
    mb.deliver(
        "INBOX",
        &[&poison, &case("23-reply-in-reply-to-only-a.eml")],
    )
    .await;
    let c = ingest(&db.pool).await;
    assert_eq!((c.fetched, c.quarantined, c.new_tickets), (2, 1, 1));
    let (raw, reason): (Vec<u8>, String) = sqlx::query_as("select raw, reason from quarantine")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(raw, poison);
    assert!(reason.contains("not an RFC 5322 message"), "{reason}");
    let again = ingest(&db.pool).await;
    assert_eq!(
        again.fetched, 0,
        "a quarantined message is not fetched again"
    );
    app.finish().await;
}

#[tokio::test]
async fn an_unreachable_imap_server_is_reported_and_retried_not_fatal() {
    let db = TestDb::new().await;
    frontdesk::mailboxes::upsert_mailbox(
        &db.pool,
        "Dead",
        "dead@example.com",
        "imap://u:p@127.0.0.1:1/INBOX",
        None,
    )
    .await
    .unwrap();
    let mb = frontdesk::mailboxes::find_mailbox_by_address(&db.pool, "dead@example.com")
        .await
        .unwrap()
        .unwrap();
    let shutdown = CancellationToken::new();
    let cfg = IngestConfig {
        max_backoff: Duration::from_millis(500),
        ..Default::default()
    };
    let task = tokio::spawn(poller::run(
        db.pool.clone(),
        mb,
        cfg,
        Default::default(),
        "n1".into(),
        shutdown.clone(),
    ));
    let pool = db.pool.clone();
    wait_for("two failed attempts", Duration::from_secs(10), || async {
        sqlx::query_scalar::<_, Option<i32>>("select max(consecutive_failures) from mailbox_health")
            .fetch_one(&pool)
            .await
            .unwrap()
            .unwrap_or(0)
            >= 2
    })
    .await;
    let err: String = scalar(&db.pool, "select last_error from mailbox_health").await;
    assert!(
        err.contains("127.0.0.1:1"),
        "the error names the server: {err}"
    );
    assert!(!err.contains("u:p@"), "no secrets in the error");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("poller stops on shutdown")
        .unwrap();

    // /healthz reports it to an admin.
    use tower::ServiceExt;
    let hash = frontdesk::auth::hash_password("correct horse battery").unwrap();
    let admin = frontdesk::auth::create_agent(
        &db.pool,
        "ops@example.com",
        "Ops",
        frontdesk::auth::Role::Admin,
        &hash,
    )
    .await
    .unwrap();
    let token = frontdesk::auth::create_api_token(&db.pool, admin)
        .await
        .unwrap();
    let state =
        frontdesk::web::AppState::new(db.pool.clone(), std::sync::Arc::new(test_config(&db)));
    let resp = frontdesk::web::router(state)
        .oneshot(
            axum::http::Request::get("/healthz")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(
        &axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["status"], "degraded");
    assert!(
        body["mailboxes"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1")
    );
    db.drop_db().await;
}

#[tokio::test]
async fn only_one_node_polls_a_mailbox_and_another_takes_over_when_it_stops() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let mailbox = frontdesk::mailboxes::find_mailbox_by_address(&db.pool, SUPPORT)
        .await
        .unwrap()
        .unwrap();
    let cfg = IngestConfig {
        poll_interval: Duration::from_millis(300),
        ..Default::default()
    };
    let stop_a = CancellationToken::new();
    let stop_b = CancellationToken::new();
    let a = tokio::spawn(poller::run(
        db.pool.clone(),
        mailbox.clone(),
        cfg.clone(),
        Default::default(),
        "node-a".into(),
        stop_a.clone(),
    ));
    let pool = db.pool.clone();
    wait_for("node-a to poll", Duration::from_secs(10), || async {
        sqlx::query_scalar::<_, Option<String>>("select polled_by from mailbox_health")
            .fetch_optional(&pool)
            .await
            .unwrap()
            .flatten()
            .as_deref()
            == Some("node-a")
    })
    .await;
    let b = tokio::spawn(poller::run(
        db.pool.clone(),
        mailbox,
        cfg,
        Default::default(),
        "node-b".into(),
        stop_b.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let holders: i64 = scalar(
        &db.pool,
        "select count(*) from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())",
    )
    .await;
    assert_eq!(holders, 1, "exactly one node holds the mailbox lease");
    let polled_by: String = scalar(&db.pool, "select polled_by from mailbox_health").await;
    assert_eq!(polled_by, "node-a");

    stop_a.cancel();
    a.await.unwrap();
    mb.deliver("INBOX", &[&case("23-reply-in-reply-to-only-a.eml")])
        .await;
    wait_for(
        "node-b to take over and ingest",
        Duration::from_secs(15),
        || async { ticket_count(&pool).await == 1 },
    )
    .await;
    // The health row is written after the poll's batch commits, so it can trail the ticket.
    wait_for(
        "node-b to record its poll",
        Duration::from_secs(5),
        || async {
            sqlx::query_scalar::<_, Option<String>>("select polled_by from mailbox_health")
                .fetch_optional(&pool)
                .await
                .unwrap()
                .flatten()
                .as_deref()
                == Some("node-b")
        },
    )
    .await;
    stop_b.cancel();
    b.await.unwrap();
    app.finish().await;
}

/// Delivers `poison` between two good mails of one thread, ingests once, and checks that the
/// poison is quarantined with its exact bytes while the two others make one ticket; returns
/// the quarantine reason. A second pass fetches nothing.
async fn poison_between_two_good_mails(app: &TestApp, poison: &str) -> String {
    let (db, mb) = (&app.db, &app.mb);
    mb.deliver(
        "INBOX",
        &[
            &case("23-reply-in-reply-to-only-a.eml"),
            poison.as_bytes(),
            &case("23-reply-in-reply-to-only-b.eml"),
        ],
    )
    .await;
    let c = ingest(&db.pool).await;
    assert_eq!(
        (c.fetched, c.quarantined, c.new_tickets, c.threaded),
        (3, 1, 1, 1),
        "{c}"
    );
    let (raw, reason): (Vec<u8>, String) = sqlx::query_as("select raw, reason from quarantine")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(raw, poison.as_bytes());
    assert_eq!(ingest(&db.pool).await.fetched, 0, "not fetched again");
    reason
}

#[tokio::test]
async fn a_mail_the_database_rejects_is_quarantined_and_the_rest_of_its_batch_is_stored() {
    let app = TestApp::new().await;
    // An address too long for the customer index: PostgreSQL refuses the row (SQLSTATE 54000).
    let poison = format!(
        "From: <{}@example.org>\r\nTo: support@example.com\r\nSubject: huge address\r\nMessage-ID: <huge@example.org>\r\n\r\nhi\r\n",
        incompressible(9000)
    );
    let reason = poison_between_two_good_mails(&app, &poison).await;
    assert!(
        reason.contains("rejected by the database") || reason.contains("index"),
        "{reason}"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_mail_whose_raw_row_the_database_rejects_is_quarantined_and_the_rest_of_its_batch_is_stored()
 {
    let app = TestApp::new().await;
    // A Message-ID too long for raw_message's dedupe index: the batch's COPY of the raw mail
    // fails (SQLSTATE 54000), and the batch is stored again mail by mail.
    let poison = format!(
        "From: <a@example.org>\r\nTo: support@example.com\r\nSubject: huge id\r\nMessage-ID: <{}@example.org>\r\n\r\nhi\r\n",
        incompressible(9000)
    );
    poison_between_two_good_mails(&app, &poison).await;
    let stored: i64 = scalar(&app.db.pool, "select count(*) from raw_message").await;
    assert_eq!(stored, 2, "the other two mails' raw rows");
    app.finish().await;
}

#[tokio::test]
async fn raw_mail_kept_just_before_a_crash_is_stored_at_the_next_poll_once() {
    use frontdesk::ingest::store::{self, FetchedMail, MailboxContext, ParsedBatch};
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let mails = [
        case("23-reply-in-reply-to-only-a.eml"),
        case("23-reply-in-reply-to-only-b.eml"),
    ];
    mb.deliver("INBOX", &[mails[0].as_slice(), mails[1].as_slice()])
        .await;
    // The poller kept the batch's raw mail (step one) and died before storing it (step two):
    // no ticket, no cursor, the mail still on the server.
    let ctx = MailboxContext {
        mailbox_id: mb.mailbox_id,
        own_addresses: frontdesk::mailboxes::own_addresses(&db.pool).await.unwrap(),
    };
    let fetched = mails
        .iter()
        .enumerate()
        .map(|(i, raw)| FetchedMail {
            raw: raw.clone(),
            folder: "INBOX".into(),
            uid_validity: 1,
            uid: i as u32 + 1,
            internal_date: None,
        })
        .collect();
    store::keep_raw(&db.pool, &ctx, ParsedBatch::parse(fetched))
        .await
        .unwrap();
    let pending = "select count(*) from raw_message_pending";
    assert_eq!(scalar::<i64>(&db.pool, pending).await, 2);
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from ticket").await,
        0
    );

    // Beside a running node (it holds the mailbox lease), `ingest --once` leaves the pending
    // rows to that node: they may be its batch in flight. The fetched copies are duplicates.
    let mut node = db.pool.acquire().await.unwrap().detach();
    let leased: bool = sqlx::query_scalar("select pg_try_advisory_lock($1, $2)")
        .bind(0x4644_0001_i32)
        .bind(mb.mailbox_id as i32)
        .fetch_one(&mut node)
        .await
        .unwrap();
    assert!(leased);
    let beside = ingest(&db.pool).await;
    assert_eq!(
        (beside.fetched, beside.new_tickets, beside.duplicates),
        (2, 0, 2),
        "{beside}"
    );
    assert_eq!(scalar::<i64>(&db.pool, pending).await, 2);
    sqlx::Connection::close(node).await.unwrap();

    // The next poll that holds the lease stores the kept mail first (counted as fetched); the
    // cursor is already past the copies on the server.
    let c = ingest(&db.pool).await;
    assert_eq!(
        (
            c.fetched,
            c.new_tickets,
            c.threaded,
            c.duplicates,
            c.quarantined
        ),
        (2, 1, 1, 0, 0),
        "{c}"
    );
    assert_eq!(scalar::<i64>(&db.pool, pending).await, 0);
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from raw_message").await,
        2
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from message").await,
        2
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from ticket").await,
        1
    );
    assert_eq!(
        ingest(&db.pool).await.fetched,
        0,
        "the cursor moved past both"
    );
    app.finish().await;
}

#[tokio::test]
async fn two_stores_of_the_same_kept_mail_at_once_store_it_once() {
    use frontdesk::ingest::store::{self, FetchedMail, MailboxContext, ParsedBatch};
    let db = TestDb::new().await;
    let mailbox_id = offline_mailbox(&db.pool, "support@example.com", None).await;
    let ctx = MailboxContext {
        mailbox_id,
        own_addresses: frontdesk::mailboxes::own_addresses(&db.pool).await.unwrap(),
    };
    let fetched = (1..=40)
        .map(|i| FetchedMail {
            raw: format!(
                "From: <c{i}@example.org>\r\nTo: support@example.com\r\nSubject: Question {i}\r\nMessage-ID: <race-{i}@example.org>\r\n\r\nHello {i}\r\n"
            )
            .into_bytes(),
            folder: "INBOX".into(),
            uid_validity: 1,
            uid: i,
            internal_date: None,
        })
        .collect();
    store::keep_raw(&db.pool, &ctx, ParsedBatch::parse(fetched))
        .await
        .unwrap();
    // Two stores find the same pending mail (two nodes that each believe they hold the lease,
    // as after a lease connection dropped mid-store).
    let (a, b) = tokio::join!(
        store::store_pending(&db.pool, &ctx),
        store::store_pending(&db.pool, &ctx)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.new_tickets + b.new_tickets, 40, "{a} / {b}");
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from ticket").await,
        40
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from message").await,
        40
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from raw_message_pending").await,
        0
    );
}

/// Letters that do not compress (btree entries are compressed before the size check).
fn incompressible(n: usize) -> String {
    use rand::Rng;
    let mut r = rand::rng();
    (0..n)
        .map(|_| (b'a' + r.random_range(0..26u8)) as char)
        .collect()
}

#[tokio::test]
async fn backfill_since_skips_older_mail_on_first_connect() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let mut s = mb.session().await;
    // INTERNALDATE decides (RFC 3501 SEARCH SINCE), not the Date header.
    s.append(
        "INBOX",
        None,
        Some("\"01-Jan-2020 10:00:00 +0000\""),
        case("23-reply-in-reply-to-only-a.eml"),
    )
    .await
    .unwrap();
    s.append(
        "INBOX",
        None,
        None,
        case("26-subject-token-no-headers-a.eml"),
    )
    .await
    .unwrap();
    s.logout().await.ok();
    let cfg = IngestConfig {
        backfill_since: Some(time::macros::date!(2024 - 01 - 01)),
        ..Default::default()
    };
    let c = ingest_with(&db.pool, &cfg).await;
    assert_eq!((c.fetched, c.new_tickets), (1, 1), "{c}");
    let subject: String = scalar(&db.pool, "select subject from ticket").await;
    assert_eq!(subject, "Drucker druckt nur leere Seiten");
    // Later mail is still fetched after the first connect.
    mb.deliver("INBOX", &[&case("36-reply-to-differs-from.eml")])
        .await;
    assert_eq!(ingest_with(&db.pool, &cfg).await.new_tickets, 1);
    app.finish().await;
}

#[tokio::test]
async fn a_disabled_mailbox_is_not_polled_until_it_is_enabled_again() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    mb.deliver("INBOX", &[&case("23-reply-in-reply-to-only-a.eml")])
        .await;
    frontdesk::mailboxes::set_enabled(&db.pool, SUPPORT, false)
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = tokio::spawn(frontdesk::app::run(
        test_config(db),
        db.pool.clone(),
        listener,
        shutdown.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let polls: i64 = scalar(&db.pool, "select count(*) from mailbox_health").await;
    assert_eq!(polls, 0, "a disabled mailbox is not even connected to");
    assert_eq!(ticket_count(&db.pool).await, 0);

    // Enabled again: the running node picks it up without a restart.
    frontdesk::mailboxes::set_enabled(&db.pool, SUPPORT, true)
        .await
        .unwrap();
    let pool = db.pool.clone();
    wait_for(
        "the mail after enabling",
        Duration::from_secs(10),
        || async { ticket_count(&pool).await == 1 },
    )
    .await;

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("graceful shutdown")
        .unwrap()
        .unwrap();
    app.finish().await;
}
