//! Live events across nodes: two real `frontdesk` servers on one database; presence and new
//! messages caused on one reach a browser connected to the other, over SSE fed by
//! PostgreSQL LISTEN/NOTIFY.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::support::*;

#[tokio::test]
async fn presence_and_new_messages_cross_nodes_within_a_second() {
    let app = TestApp::with_mail(&["23-reply-in-reply-to-only-a.eml"]).await;
    let mb = &app.mb;
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    app.agent("lee@example.com", "Lee Park", Role::Admin).await;
    let n = app.only_ticket_id().await;
    let mut dana = app.browser_for("dana@example.com").await;
    let lee = app.browser_for("lee@example.com").await;
    let (dana_cookie, lee_cookie) = (dana.cookie.clone().unwrap(), lee.cookie.clone().unwrap());

    let a = app.serve("node-a").await;
    let b = app.serve("node-b").await;
    tokio::time::sleep(Duration::from_millis(500)).await; // listeners up

    // Dana watches on node A; Lee starts replying on node B.
    let mut sse = Sse::open(a, &dana_cookie).await;
    let started = Instant::now();
    assert_eq!(
        post_form(
            b,
            &lee_cookie,
            &format!("/tickets/{n}/presence"),
            "activity=replying"
        )
        .await,
        204
    );
    let ev = sse
        .next("presence", Duration::from_secs(1))
        .await
        .expect("presence from node B within 1 s");
    eprintln!("presence crossed nodes in {:?}", started.elapsed());
    assert!(ev.contains(&format!("\"ticket\":{n}")), "{ev}");
    let who = dana.get(&format!("/tickets/{n}/presence")).await;
    assert!(
        who.body.contains("Lee Park") && who.body.contains("replying"),
        "{}",
        who.body
    );
    let inbox = dana.get("/inbox?folder=open").await;
    assert!(
        inbox.body.contains("title=\"Lee Park replying\""),
        "the inbox row shows who is writing"
    );

    // A renewal of the same activity is not news; a note is.
    assert_eq!(
        post_form(
            b,
            &lee_cookie,
            &format!("/tickets/{n}/presence"),
            "activity=replying"
        )
        .await,
        204
    );
    assert_eq!(
        post_form(
            b,
            &lee_cookie,
            &format!("/tickets/{n}/notes"),
            "text=Ich+antworte"
        )
        .await,
        303
    );
    let ev = sse
        .next("message", Duration::from_secs(2))
        .await
        .expect("the note reaches node A");
    assert!(ev.contains(&format!("\"ticket\":{n}")));

    // Lee closes the tab: gone at once.
    assert_eq!(
        post_form(
            b,
            &lee_cookie,
            &format!("/tickets/{n}/presence"),
            "activity=left"
        )
        .await,
        204
    );
    sse.next("presence", Duration::from_secs(1))
        .await
        .expect("leaving is announced");
    assert!(
        !dana
            .get(&format!("/tickets/{n}/presence"))
            .await
            .body
            .contains("Lee")
    );

    // New mail ingested anywhere shows up too.
    mb.deliver("INBOX", &[&case("23-reply-in-reply-to-only-b.eml")])
        .await;
    let ev = sse
        .next("message", Duration::from_secs(5))
        .await
        .expect("the customer's new message is announced");
    assert!(ev.contains(&format!("\"ticket\":{n}")));
    app.shutdown().cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.finish().await;
}

#[tokio::test]
async fn presence_of_a_vanished_browser_expires_and_agents_without_access_hear_nothing() {
    let app = TestApp::with_mail(&["23-reply-in-reply-to-only-a.eml"]).await;
    let db = &app.db;
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    app.agent("out@example.com", "Out Sider", Role::Agent).await;
    let n = app.only_ticket_id().await;
    let dana = app.browser_for("dana@example.com").await;
    let out = app.browser_for("out@example.com").await;
    let a = app.serve("node-a").await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut outsider = Sse::open(a, out.cookie.as_deref().unwrap()).await;
    let mut own = Sse::open(a, dana.cookie.as_deref().unwrap()).await;
    assert_eq!(
        post_form(
            a,
            dana.cookie.as_deref().unwrap(),
            &format!("/tickets/{n}/presence"),
            "activity=viewing"
        )
        .await,
        204
    );
    own.next("presence", Duration::from_secs(1))
        .await
        .expect("own event");
    assert_eq!(
        outsider.next("presence", Duration::from_millis(800)).await,
        None,
        "no events from invisible mailboxes"
    );
    assert_eq!(
        post_form(
            a,
            out.cookie.as_deref().unwrap(),
            &format!("/tickets/{n}/presence"),
            "activity=viewing"
        )
        .await,
        404
    );

    // No more heartbeats (the tab vanished): the row expires and that is announced.
    let started = Instant::now();
    own.next("presence", Duration::from_secs(15))
        .await
        .expect("expiry is announced");
    eprintln!("stale presence dropped after {:?}", started.elapsed());
    let left: i64 = scalar(
        &db.pool,
        "select count(*) from presence where expires_at > now()",
    )
    .await;
    assert_eq!(left, 0);
    app.shutdown().cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.finish().await;
}

#[tokio::test]
async fn shared_drafts_are_saved_visible_versioned_taken_over_and_gone_after_sending() {
    let app = TestApp::with_mail(&["23-reply-in-reply-to-only-a.eml"]).await;
    let db = &app.db;
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    app.agent("lee@example.com", "Lee Park", Role::Admin).await;
    app.agent("out@example.com", "Out Sider", Role::Agent).await;
    let n = app.only_ticket_id().await;
    let mut dana = app.browser_for("dana@example.com").await;
    let mut lee = app.browser_for("lee@example.com").await;
    let mut out = app.browser_for("out@example.com").await;
    let d = format!("/tickets/{n}/drafts/reply");

    let p = dana
        .post(
            &d,
            &[
                ("version", "0"),
                ("body", "Hallo Frau Roth,"),
                ("to", "jana.roth@example.org"),
            ],
        )
        .await;
    assert_eq!(p.status, axum::http::StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("\"version\":1"));
    let p = dana
        .post(
            &d,
            &[
                ("version", "1"),
                ("body", "Hallo Frau Roth, wir prüfen das."),
            ],
        )
        .await;
    assert!(p.body.contains("\"version\":2"));
    // A save based on an old version is refused, not merged over.
    let stale = dana.post(&d, &[("version", "1"), ("body", "alt")]).await;
    assert_eq!(stale.status, axum::http::StatusCode::CONFLICT);

    // Lee sees it (read-only): his save is refused with Dana's draft.
    let seen = lee.get(&format!("/tickets/{n}/drafts")).await;
    assert!(
        seen.body.contains("Dana Lee") && seen.body.contains("wir prüfen das"),
        "{}",
        seen.body
    );
    let refused = lee
        .post(&d, &[("version", "2"), ("body", "Lee schreibt")])
        .await;
    assert_eq!(refused.status, axum::http::StatusCode::CONFLICT);
    assert!(refused.body.contains("wir prüfen das"));
    // Outsiders see nothing.
    assert_eq!(
        out.get(&format!("/tickets/{n}/drafts")).await.status,
        axum::http::StatusCode::NOT_FOUND
    );

    // Lee takes over; now Dana's stale save is refused and Lee's goes through.
    let took = lee.post(&format!("{d}/take"), &[]).await;
    assert!(took.body.contains("\"version\":3"), "{}", took.body);
    assert_eq!(
        dana.post(&d, &[("version", "2"), ("body", "Dana weiter")])
            .await
            .status,
        axum::http::StatusCode::CONFLICT
    );
    assert_eq!(
        lee.post(
            &d,
            &[("version", "3"), ("body", "Hallo Frau Roth, erledigt.")]
        )
        .await
        .status,
        axum::http::StatusCode::OK
    );

    // It is in the database, so it survives a closed tab and a restart; sending removes it.
    let sent = lee
        .post(
            &format!("/tickets/{n}/reply"),
            &[
                ("to", "jana.roth@example.org"),
                ("text", "Hallo Frau Roth, erledigt."),
            ],
        )
        .await;
    assert_eq!(sent.status, axum::http::StatusCode::SEE_OTHER);
    let left: i64 = scalar(&db.pool, "select count(*) from draft").await;
    assert_eq!(left, 0);
    // An autosave that was on its way when Send was pressed does not bring the draft back.
    let late = lee
        .post(
            &d,
            &[("version", "4"), ("body", "Hallo Frau Roth, erledigt.")],
        )
        .await;
    assert_eq!(late.status, axum::http::StatusCode::CONFLICT);
    assert!(late.body.contains("\"draft\":null"), "{}", late.body);
    let left: i64 = scalar(&db.pool, "select count(*) from draft").await;
    assert_eq!(left, 0, "a late autosave does not resurrect a sent draft");
    assert_eq!(
        dana.post(
            &format!("/tickets/{n}/drafts/poem"),
            &[("version", "0"), ("body", "x")]
        )
        .await
        .status,
        axum::http::StatusCode::BAD_REQUEST
    );
    app.finish().await;
}

#[tokio::test]
async fn a_browser_that_reconnects_with_last_event_id_is_told_to_resync() {
    let db = TestDb::new().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Admin).await;
    let shutdown = CancellationToken::new();
    let a = node(&db, "node-a", &shutdown).await;
    let cookie = login_cookie(a, "dana@example.com", "correct horse battery").await;

    // A first connection starts with `ready`; events carry ids.
    let mut fresh = Sse::open(a, &cookie).await;
    assert!(fresh.next("ready", Duration::from_secs(2)).await.is_some());
    // A reconnect (EventSource sends the last id it saw) starts with `resync`.
    let mut s = TcpStream::connect(a).await.unwrap();
    s.write_all(format!("GET /events HTTP/1.1\r\nHost: {a}\r\nAccept: text/event-stream\r\nLast-Event-ID: 41\r\nCookie: {cookie}\r\n\r\n").as_bytes()).await.unwrap();
    let mut again = Sse {
        lines: BufReader::new(s).lines(),
    };
    assert!(
        again.next("resync", Duration::from_secs(2)).await.is_some(),
        "a reconnect is told to reload what it shows"
    );
    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    db.drop_db().await;
}

/// A PostgreSQL of its own (the shared one must not be restarted under other tests): the
/// system's initdb/pg_ctl through `frontdesk::embedded_pg`, in a temporary directory.
fn private_cluster() -> (frontdesk::embedded_pg::EmbeddedPostgres, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(random_name("frontdesk-pgrestart-"));
    std::fs::create_dir_all(&dir).unwrap();
    // As root the cluster runs as `postgres`, which must reach the directory.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let pg = frontdesk::embedded_pg::EmbeddedPostgres::start(&dir, true)
        .expect("a private PostgreSQL (initdb/pg_ctl from the system)");
    (pg, dir)
}

#[tokio::test]
async fn live_updates_resume_within_five_seconds_after_postgresql_restarts() {
    init_test_log();
    let (pg, dir) = tokio::task::spawn_blocking(private_cluster).await.unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect_with(pg.connect_options())
        .await
        .unwrap();
    frontdesk::db::migrate(&pool).await.unwrap();
    let hash = frontdesk::auth::hash_password("correct horse battery").unwrap();
    frontdesk::auth::create_agent(
        &pool,
        "ada@example.com",
        "Ada Admin",
        frontdesk::auth::Role::Admin,
        &hash,
    )
    .await
    .unwrap();
    let mb = TestMailbox::new(&pool, &[]).await;
    mb.deliver("INBOX", &[&case("23-reply-in-reply-to-only-a.eml")])
        .await;
    ingest(&pool).await;
    let ticket: i64 = scalar(&pool, "select min(ticket_id) from ticket").await;

    let mut cfg = frontdesk::config::Config::from_env().unwrap();
    cfg.db.url = None;
    cfg.node_id = "restart-node".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(frontdesk::app::run(
        cfg,
        pool.clone(),
        listener,
        shutdown.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cookie = login_cookie(addr, "ada@example.com", "correct horse battery").await;
    let mut sse = Sse::open(addr, &cookie).await;
    let path = format!("/tickets/{ticket}/presence");
    assert_eq!(
        post_form(addr, &cookie, &path, "activity=viewing").await,
        204
    );
    sse.next("presence", Duration::from_secs(2))
        .await
        .expect("live events before the restart");

    // Restart PostgreSQL under the running node.
    let pg = tokio::task::spawn_blocking(move || {
        pg.restart().expect("pg_ctl restart");
        pg
    })
    .await
    .unwrap();
    let back = Instant::now();

    // The node reconnects by itself: browsers are told to resync, then events flow again.
    sse.next("resync", Duration::from_secs(5))
        .await
        .expect("a resync within 5 s of PostgreSQL being back");
    let activities = ["replying", "noting", "viewing"];
    let mut resumed = None;
    for i in 0.. {
        let status = post_form(
            addr,
            &cookie,
            &path,
            &format!("activity={}", activities[i % 3]),
        )
        .await;
        if status == 204
            && sse
                .next("presence", Duration::from_millis(500))
                .await
                .is_some()
        {
            resumed = Some(back.elapsed());
            break;
        }
        if back.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let resumed = resumed.expect("live updates resume within 5 s of PostgreSQL being back");
    eprintln!("live updates resumed {resumed:?} after PostgreSQL came back");
    assert!(resumed <= Duration::from_secs(5));

    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    pool.close().await;
    drop(pg);
    let _ = std::fs::remove_dir_all(dir);
}

/// A raw HTTP request with `Connection: close`; returns the status and the body.
async fn request(addr: std::net::SocketAddr, head: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut raw)
        .await
        .unwrap();
    let raw = String::from_utf8_lossy(&raw).to_string();
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

/// `frontdesk serve` as a separate process on a free port; killed when dropped.
struct ServeProcess {
    _child: tokio::process::Child,
    addr: std::net::SocketAddr,
}

impl ServeProcess {
    async fn start(db: &TestDb, node: &str) -> ServeProcess {
        let port = crate::support::smtp::free_port();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
            .args(["serve", "--bind", &addr.to_string()])
            .env("DATABASE_URL", &db.url)
            .env("FRONTDESK_NODE_ID", node)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start frontdesk serve");
        let started = Instant::now();
        while TcpStream::connect(addr).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "frontdesk serve ({node}) did not listen on {addr}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ServeProcess {
            _child: child,
            addr,
        }
    }
}

#[tokio::test]
async fn two_serve_processes_share_presence_and_updates_and_a_send_race_mails_once() {
    use crate::support::smtp::{received_with_message_id, sink_dir};
    let app = TestApp::new().await;
    app.smtp_to_sink().await;
    app.deliver(&["23-reply-in-reply-to-only-a.eml"]).await;
    app.ingest().await;
    let db = &app.db;
    let mut tokens = Vec::new();
    for (email, name) in [
        ("dana@example.com", "Dana Lee"),
        ("lee@example.com", "Lee Park"),
    ] {
        let id = agent(db, email, name, Role::Admin).await;
        tokens.push(
            frontdesk::auth::create_api_token(&db.pool, id)
                .await
                .unwrap(),
        );
    }
    let n = app.only_ticket_id().await;
    let seen: i64 = scalar(&db.pool, "select max(message_id) from message").await;

    let a = ServeProcess::start(db, "proc-a").await;
    let b = ServeProcess::start(db, "proc-b").await;
    let dana = login_cookie(a.addr, "dana@example.com", "correct horse battery").await;
    let lee = login_cookie(b.addr, "lee@example.com", "correct horse battery").await;

    // Presence set through process B reaches a browser of process A.
    let mut sse = Sse::open(a.addr, &dana).await;
    sse.next("ready", Duration::from_secs(2))
        .await
        .expect("ready");
    let started = Instant::now();
    assert_eq!(
        post_form(
            b.addr,
            &lee,
            &format!("/tickets/{n}/presence"),
            "activity=replying"
        )
        .await,
        204
    );
    sse.next("presence", Duration::from_secs(1))
        .await
        .expect("presence crosses processes within 1 s");
    eprintln!("presence crossed processes in {:?}", started.elapsed());

    // Both press Send at once, one on each process, having seen the same message.
    let body = |text: &str| serde_json::json!({"text": text, "seen_message_id": seen}).to_string();
    let post = |addr, token: String, text: &'static str| {
        let body = body(text);
        async move {
            request(
                addr,
                &format!("POST /api/v1/tickets/{n}/replies HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json"),
                &body,
            )
            .await
        }
    };
    let (ra, rb) = tokio::join!(
        post(a.addr, tokens[0].clone(), "Antwort von Dana"),
        post(b.addr, tokens[1].clone(), "Antwort von Lee"),
    );
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(statuses, [202, 409], "one sent, one held: {ra:?} {rb:?}");
    let held = if ra.0 == 409 { &ra.1 } else { &rb.1 };
    assert!(held.contains("\"newer\""), "{held}");

    // The reply is announced on process A (whichever process wrote it).
    sse.next("message", Duration::from_secs(2))
        .await
        .expect("the new reply is announced");
    // One of the two processes' outbox workers sends it: exactly one mail arrives.
    let id: String = scalar_for(
        &db.pool,
        "select header_message_id from message where direction = 'outbound' and ticket_id = $1",
        n,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while received_with_message_id(&sink_dir(), &id).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // a duplicate would arrive meanwhile
    assert_eq!(
        received_with_message_id(&sink_dir(), &id).len(),
        1,
        "exactly one mail at the SMTP server"
    );
    let outbound: i64 = scalar_for(
        &db.pool,
        "select count(*) from message where direction = 'outbound' and ticket_id = $1",
        n,
    )
    .await;
    assert_eq!(outbound, 1);
    drop(a);
    drop(b);
    app.finish().await;
}

/// Presence writes commit without waiting for the WAL flush (a NOTIFY holds a cluster-wide
/// lock until its transaction ends), and only inside their own transaction: the pooled
/// connection keeps the normal setting for whatever runs on it next.
#[tokio::test]
async fn presence_writes_commit_asynchronously_in_their_own_transaction() {
    let db = TestDb::new().await;
    // One connection, so the transaction and the query after it surely share it.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .unwrap();
    // The session default is `on` here whatever the server's (scripts/pg-url's private
    // cluster runs with it off).
    sqlx::query("set synchronous_commit = on")
        .execute(&pool)
        .await
        .unwrap();
    let show = "show synchronous_commit";
    let mut tx = frontdesk::db::begin_async_commit(&pool).await.unwrap();
    let inside: String = sqlx::query_scalar(show).fetch_one(&mut *tx).await.unwrap();
    assert_eq!(inside, "off");
    tx.commit().await.unwrap();
    let after: String = sqlx::query_scalar(show).fetch_one(&pool).await.unwrap();
    assert_eq!(after, "on");
    pool.close().await;
    db.drop_db().await;
}

/// A reply the SMTP server refuses for good is marked failed by the outbox worker, which
/// reopens the ticket; pages watching the ticket and the inbox hear both at once (issue #9:
/// the outbox used to change the ticket without telling anyone).
#[tokio::test]
async fn a_permanently_failed_reply_reopens_the_ticket_and_open_pages_hear_it() {
    let app = TestApp::new().await;
    app.smtp_to_sink().await;
    app.deliver(&["23-reply-in-reply-to-only-a.eml"]).await;
    app.ingest().await;
    let db = &app.db;
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let n = app.only_ticket_id().await;
    let dana = app.browser_for("dana@example.com").await;
    let cookie = dana.cookie.clone().unwrap();

    let addr = app.serve("node-a").await;
    tokio::time::sleep(Duration::from_millis(500)).await; // listener up
    let mut sse = Sse::open(addr, &cookie).await;

    // "Send and set pending" to an address the sink refuses with 550.
    assert_eq!(
        post_form(
            addr,
            &cookie,
            &format!("/tickets/{n}/reply"),
            "to=reject-me%40example.org&text=Hallo&after=pending"
        )
        .await,
        303
    );
    // The reply itself: one `message` (queued) and one `ticket` (pending) event. The worker's
    // failure adds a `message` (delivery failed) and a `ticket` (reopened) event.
    let mut kinds = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while kinds.iter().filter(|k: &&String| *k == "ticket").count() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(line) = tokio::time::timeout(left, sse.lines.next_line())
            .await
            .ok()
            .and_then(|l| l.ok().flatten())
        else {
            break;
        };
        if let Some(ev) = line.strip_prefix("event: ")
            && ev != "presence"
        {
            kinds.push(ev.trim().to_string());
        }
    }
    let (status, state): (String, String) = sqlx::query_as(
        "select t.status, m.delivery_state from ticket t join message m using (ticket_id)
         where t.ticket_id = $1 and m.direction = 'outbound'",
    )
    .bind(n)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), state.as_str()), ("open", "failed"));
    assert_eq!(
        kinds.iter().filter(|k| *k == "ticket").count(),
        2,
        "the reopening reached the stream: {kinds:?}"
    );
    assert!(
        kinds.iter().filter(|k| *k == "message").count() >= 2,
        "the failed delivery reached the stream: {kinds:?}"
    );
    app.shutdown().cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.finish().await;
}

/// Ctrl-C / SIGTERM stops `frontdesk serve` even with a browser tab open: its live stream ends
/// at once, the process exits 0 well within 10 s, and the embedded PostgreSQL it started is
/// stopped.
#[tokio::test]
async fn sigterm_ends_open_live_streams_and_stops_serve_and_its_embedded_postgresql() {
    // The cluster is made (and an agent added) beforehand, then stopped, so that `serve`
    // starts it itself, as in production without DATABASE_URL.
    let (pg, dir) = tokio::task::spawn_blocking(private_cluster).await.unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(pg.connect_options())
        .await
        .unwrap();
    frontdesk::db::migrate(&pool).await.unwrap();
    let hash = frontdesk::auth::hash_password("correct horse battery").unwrap();
    frontdesk::auth::create_agent(&pool, "dana@example.com", "Dana Lee", Role::Admin, &hash)
        .await
        .unwrap();
    pool.close().await;
    tokio::task::spawn_blocking(move || drop(pg)).await.unwrap();
    let pid_file = dir.join("postgres").join("postmaster.pid");
    assert!(!pid_file.exists(), "the cluster is stopped before serve");

    let port = crate::support::smtp::free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .args(["serve", "--bind", &addr.to_string()])
        .env_remove("DATABASE_URL")
        .env("FRONTDESK_DATA_DIR", &dir)
        .env("FRONTDESK_NODE_ID", "sigterm-node")
        .env("RUST_LOG", "info,sqlx=warn,tower_http=warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start frontdesk serve");
    let started = Instant::now();
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "frontdesk serve did not listen on {addr}"
        );
        assert!(child.try_wait().unwrap().is_none(), "serve exited early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(pid_file.exists(), "serve started the embedded PostgreSQL");
    let cookie = login_cookie(addr, "dana@example.com", "correct horse battery").await;
    let mut sse = Sse::open(addr, &cookie).await;
    sse.next("ready", Duration::from_secs(2))
        .await
        .expect("the live stream is open");

    let pid = child.id().expect("serve is running").to_string();
    let sent = Instant::now();
    let kill = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(kill.success());

    // The stream ends at once (the browser would reconnect, to another node if any).
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match sse.lines.next_line().await {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return,
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the live stream did not end within 3 s of SIGTERM"
    );
    eprintln!("live stream ended {:?} after SIGTERM", sent.elapsed());

    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("serve exits within 10 s of SIGTERM with a live stream open")
        .unwrap();
    eprintln!("serve exited {:?} after SIGTERM: {status}", sent.elapsed());
    assert!(status.success(), "exit status {status}");
    assert!(
        !pid_file.exists(),
        "the embedded PostgreSQL is stopped ({} remains)",
        pid_file.display()
    );
    let _ = std::fs::remove_dir_all(dir);
}
