//! The outbox against a real SMTP server (aiosmtpd, see `scripts/smtp-sink`): what arrives
//! on the wire, outages, 4xx and 5xx replies, retry, and concurrent workers.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use frontdesk::ingest::parse::EmailAddress;
use frontdesk::ingest::store::{self, FetchedMail, MailboxContext};
use frontdesk::mailboxes;
use frontdesk::outbox::{self, OutboxError, OutgoingAttachment, OutgoingEmail};
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::support::smtp::{self, OwnSink};
use crate::support::{self, *};

use crate::support::offline_mailbox as mailbox;

/// A ticket in `status` with one inbound message from `customer`.
async fn ticket(pool: &PgPool, mailbox_id: i64, status: &str) -> i64 {
    sqlx::query_scalar(
        "insert into ticket (mailbox_id, subject, status) values ($1, 'Printer on fire', $2)
         returning ticket_id",
    )
    .bind(mailbox_id)
    .bind(status)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A reply to `to` on `ticket_id`, with a unique Message-ID; `message_id` is set by [`queue`].
fn reply(mailbox_id: i64, ticket_id: i64, to: &str) -> OutgoingEmail {
    OutgoingEmail {
        mailbox_id,
        message_id: 0,
        from_name: "Dana via Example Support".into(),
        from_address: SUPPORT.into(),
        to: vec![EmailAddress {
            email: to.into(),
            name: Some("Customer".into()),
        }],
        cc: vec![],
        reply_to: None,
        subject: format!("Re: Printer on fire [#{ticket_id}]"),
        header_message_id: format!("{}@example.com", random_name("fd.")),
        in_reply_to: Some("root@customer.example".into()),
        references: vec!["root@customer.example".into()],
        text: "Please unplug it.\n".into(),
        attachments: vec![],
        thread_index: None,
    }
}

/// Does what the reply handler does: inserts the outbound message and enqueues it, in one
/// transaction. Returns the message id (also stored in `mail.message_id`).
async fn queue(pool: &PgPool, ticket_id: i64, mail: &mut OutgoingEmail) -> i64 {
    let mut tx = pool.begin().await.unwrap();
    let message_id: i64 = sqlx::query_scalar(
        "insert into message (ticket_id, direction, from_email, from_name, to_addrs, subject,
                              text_body, header_message_id, in_reply_to, \"references\",
                              created_at, delivery_state)
         values ($1, 'outbound', $2, $3, $4, $5, $6, $7, $8, $9, now(), 'queued')
         returning message_id",
    )
    .bind(ticket_id)
    .bind(&mail.from_address)
    .bind(&mail.from_name)
    .bind(serde_json::to_value(&mail.to).unwrap())
    .bind(&mail.subject)
    .bind(&mail.text)
    .bind(&mail.header_message_id)
    .bind(&mail.in_reply_to)
    .bind(&mail.references)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    mail.message_id = message_id;
    outbox::enqueue(&mut tx, mail).await.expect("enqueue");
    tx.commit().await.unwrap();
    message_id
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    state: String,
    attempts: i32,
    last_error: Option<String>,
    due_in_s: f64,
    sent: bool,
    delivery_state: Option<String>,
    delivery_error: Option<String>,
}

async fn row(pool: &PgPool, message_id: i64) -> Row {
    sqlx::query_as(
        "select o.state, o.attempts, o.last_error,
                extract(epoch from o.next_attempt_at - now())::float8 as due_in_s,
                o.sent_at is not null as sent, m.delivery_state, m.delivery_error
         from outbox o join message m using (message_id) where o.message_id = $1",
    )
    .bind(message_id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Pretends the retry wait is over.
async fn make_due(pool: &PgPool, message_id: i64) {
    execute_for(
        pool,
        "update outbox set next_attempt_at = now() where message_id = $1",
        message_id,
    )
    .await;
}

async fn events(pool: &PgPool, ticket_id: i64) -> Vec<(String, serde_json::Value)> {
    sqlx::query_as(
        "select kind, detail from ticket_event where ticket_id = $1 order by ticket_event_id",
    )
    .bind(ticket_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn ticket_status(pool: &PgPool, ticket_id: i64) -> String {
    scalar_for(
        pool,
        "select status from ticket where ticket_id = $1",
        ticket_id,
    )
    .await
}

fn unique_customer(prefix: &str) -> String {
    format!("{}@customer.example", random_name(prefix))
}

#[tokio::test]
async fn reply_to_outlook_case_42_arrives_threaded_and_7bit_at_the_smtp_server() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let mb = mailbox(pool, SUPPORT, Some(&smtp::sink_url())).await;
    // The customer's Outlook mail comes in through the real store.
    let raw = support::case("42-outlook-thread-index-reply.eml");
    let ctx = MailboxContext {
        mailbox_id: mb,
        own_addresses: mailboxes::own_addresses(pool).await.unwrap(),
    };
    let fetched = FetchedMail {
        raw: raw.clone(),
        folder: "INBOX".into(),
        uid_validity: 1,
        uid: 1,
        internal_date: None,
    };
    let counts = store::store_batch(pool, &ctx, &[fetched]).await.unwrap();
    assert_eq!(counts.new_tickets, 1);
    let (ticket_id, parent_id, parent_refs, subject): (i64, String, Vec<String>, String) =
        sqlx::query_as(
            "select ticket_id, header_message_id, \"references\", subject from message
             where direction = 'inbound'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
    let thread_index = mail_parser::MessageParser::default()
        .parse(&raw)
        .and_then(|m| m.header_raw("Thread-Index").map(|v| v.trim().to_string()));

    let mut mail = reply(mb, ticket_id, "unused@example.org");
    mail.to = vec![EmailAddress {
        email: "s.krueger@example.org".into(),
        name: Some("Sophie Krüger".into()),
    }];
    mail.subject = format!("Re: {} [#{ticket_id}]", subject.trim_start_matches("AW: "));
    mail.in_reply_to = Some(parent_id);
    mail.references = parent_refs;
    mail.thread_index = thread_index.clone();
    mail.text = "Guten Tag Frau Krüger,\n\nder Raum ist 2.14 (Erdgeschoss).\n".into();
    mail.attachments = vec![OutgoingAttachment {
        filename: "Raumplan März.pdf".into(),
        content_type: "application/pdf".into(),
        content: b"%PDF-1.4\n\x00\xff\xfe".to_vec(),
    }];
    let message_id = queue(pool, ticket_id, &mut mail).await;

    assert_eq!(outbox::send_due(pool).await.unwrap(), 1);

    let r = row(pool, message_id).await;
    assert_eq!((r.state.as_str(), r.attempts, r.sent), ("sent", 1, true));
    assert_eq!(r.delivery_state.as_deref(), Some("sent"));
    assert_eq!(r.delivery_error, None);

    let got = smtp::received_with_message_id(&smtp::sink_dir(), &mail.header_message_id);
    assert_eq!(got.len(), 1, "exactly one copy on the wire");
    let m = &got[0];
    assert_eq!(m.mail_from, SUPPORT);
    assert_eq!(m.rcpt_tos, ["s.krueger@example.org"]);
    // The bytes fixed at enqueue are the bytes sent.
    let stored: Vec<u8> = scalar_for(
        pool,
        "select raw from outbox where message_id = $1",
        message_id,
    )
    .await;
    assert_eq!(m.raw, stored);
    assert!(m.raw.is_ascii(), "7-bit on the wire");

    smtp::assert_threads_under_case_42(m);
    assert!(m.header("Auto-Submitted").is_none());
    assert!(m.header("Subject").unwrap().contains("=?utf-8?"));
    let received = STANDARD.decode(thread_index.unwrap()).unwrap();
    let sent = STANDARD.decode(m.header("Thread-Index").unwrap()).unwrap();
    assert_eq!(sent.len(), 32);
    assert_eq!(
        sent[..27],
        received[..],
        "received index kept, one block added"
    );

    let parsed = mail_parser::MessageParser::default().parse(&m.raw).unwrap();
    assert_eq!(
        parsed.subject(),
        Some(format!("Re: Bestätigung Schulungstermin Mai [#{ticket_id}]").as_str())
    );
    let from = parsed.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Dana via Example Support"));
    assert!(parsed.body_text(0).unwrap().contains("Frau Krüger"));
    let att = parsed.attachments().next().expect("attachment");
    assert_eq!(att.contents(), b"%PDF-1.4\n\x00\xff\xfe");

    // Nothing left to send, nothing sent twice.
    assert_eq!(outbox::send_due(pool).await.unwrap(), 0);
    assert_eq!(
        smtp::received_with_message_id(&smtp::sink_dir(), &mail.header_message_id).len(),
        1
    );
    db.drop_db().await;
}

#[tokio::test]
async fn smtp_outage_keeps_the_reply_queued_and_it_is_sent_once_when_the_server_is_back() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let port = smtp::free_port();
    let mb = mailbox(pool, SUPPORT, Some(&format!("smtp://127.0.0.1:{port}"))).await;
    let t = ticket(pool, mb, "open").await;
    let to = unique_customer("outage");
    let mut mail = reply(mb, t, &to);
    let message_id = queue(pool, t, &mut mail).await;

    // Down: connection refused is temporary.
    assert_eq!(outbox::send_due(pool).await.unwrap(), 1);
    let r = row(pool, message_id).await;
    assert_eq!((r.state.as_str(), r.attempts), ("queued", 1));
    assert!(r.last_error.is_some(), "the error is kept: {r:?}");
    assert!(
        (5.0..=11.0).contains(&r.due_in_s),
        "first retry ~10 s: {r:?}"
    );
    assert_eq!(r.delivery_state.as_deref(), Some("queued"));
    // Not due yet: nothing attempted.
    assert_eq!(outbox::send_due(pool).await.unwrap(), 0);

    make_due(pool, message_id).await;
    assert_eq!(outbox::send_due(pool).await.unwrap(), 1);
    let r = row(pool, message_id).await;
    assert_eq!((r.state.as_str(), r.attempts), ("queued", 2));
    assert!(
        (25.0..=31.0).contains(&r.due_in_s),
        "second retry ~30 s: {r:?}"
    );

    // Back up on the same address.
    let sink = OwnSink::start(port).await;
    make_due(pool, message_id).await;
    assert_eq!(outbox::send_due(pool).await.unwrap(), 1);
    let r = row(pool, message_id).await;
    assert_eq!((r.state.as_str(), r.attempts, r.sent), ("sent", 3, true));
    assert_eq!(r.delivery_state.as_deref(), Some("sent"));
    assert_eq!(r.last_error, None);
    assert_eq!(outbox::send_due(pool).await.unwrap(), 0);
    let got = smtp::received_for(&sink.dir, &to);
    assert_eq!(got.len(), 1, "delivered exactly once");
    assert_eq!(
        got[0].header("Message-ID"),
        Some(format!("<{}>", mail.header_message_id))
    );
    db.drop_db().await;
}

#[tokio::test]
async fn rejected_recipient_fails_the_reply_reopens_the_ticket_and_retry_requeues_it() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let mb = mailbox(pool, SUPPORT, Some(&smtp::sink_url())).await;
    let t = ticket(pool, mb, "pending").await;
    let to = unique_customer("reject");
    let mut mail = reply(mb, t, &to);
    let message_id = queue(pool, t, &mut mail).await;

    assert_eq!(outbox::send_due(pool).await.unwrap(), 1);

    let r = row(pool, message_id).await;
    assert_eq!((r.state.as_str(), r.attempts), ("failed", 1));
    assert_eq!(r.delivery_state.as_deref(), Some("failed"));
    let error = r.delivery_error.clone().unwrap();
    assert!(
        error.contains("550"),
        "the server's reply is shown: {error}"
    );
    assert_eq!(r.last_error.as_deref(), Some(error.as_str()));
    assert_eq!(ticket_status(pool, t).await, "open", "reopened");
    let ev = events(pool, t).await;
    let failed: Vec<_> = ev.iter().filter(|(k, _)| k == "delivery_failed").collect();
    assert_eq!(failed.len(), 1, "{ev:?}");
    assert_eq!(
        failed[0].1,
        json!({"message_id": message_id, "error": error})
    );
    assert!(ev.iter().any(|(k, d)| k == "status_changed"
        && d == &json!({"from": "pending", "to": "open", "reason": "delivery_failed"})));
    assert!(smtp::received_for(&smtp::sink_dir(), &to).is_empty());
    // Failed rows are not picked up again by themselves.
    assert_eq!(outbox::send_due(pool).await.unwrap(), 0);

    // The agent presses retry.
    assert!(outbox::retry(pool, message_id).await.unwrap());
    let r = row(pool, message_id).await;
    assert_eq!((r.state.as_str(), r.attempts), ("queued", 0));
    assert!(r.due_in_s <= 0.5);
    assert_eq!(r.delivery_state.as_deref(), Some("queued"));
    assert_eq!(r.delivery_error, None);
    assert_eq!(outbox::send_due(pool).await.unwrap(), 1, "retried at once");
    assert_eq!(
        row(pool, message_id).await.state,
        "failed",
        "still rejected"
    );
    let failed = events(pool, t)
        .await
        .into_iter()
        .filter(|(k, _)| k == "delivery_failed")
        .count();
    assert_eq!(failed, 2);
    // No outbox row, or already sent: nothing to retry.
    assert!(!outbox::retry(pool, 999_999).await.unwrap());
    db.drop_db().await;
}

#[tokio::test]
async fn smtp_4xx_is_retried_and_fails_only_after_a_day_of_attempts() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let mb = mailbox(pool, SUPPORT, Some(&smtp::sink_url())).await;
    let t = ticket(pool, mb, "closed").await;
    let mut mail = reply(mb, t, &unique_customer("tempfail"));
    let message_id = queue(pool, t, &mut mail).await;

    assert_eq!(outbox::send_due(pool).await.unwrap(), 1);
    let r = row(pool, message_id).await;
    assert_eq!((r.state.as_str(), r.attempts), ("queued", 1));
    assert!(r.last_error.as_deref().unwrap().contains("451"), "{r:?}");
    assert_eq!(
        ticket_status(pool, t).await,
        "closed",
        "a 4xx changes nothing yet"
    );

    // A day's worth of attempts later.
    execute_for(
        pool,
        "update outbox set attempts = 500, next_attempt_at = now() where message_id = $1",
        message_id,
    )
    .await;
    assert_eq!(outbox::send_due(pool).await.unwrap(), 1);
    let r = row(pool, message_id).await;
    assert_eq!(r.state, "failed");
    let error = r.delivery_error.unwrap();
    assert!(
        error.contains("gave up") && error.contains("451"),
        "{error}"
    );
    assert_eq!(ticket_status(pool, t).await, "open");
    assert!(
        events(pool, t)
            .await
            .iter()
            .any(|(k, _)| k == "delivery_failed")
    );
    db.drop_db().await;
}

#[tokio::test]
async fn mailbox_without_usable_smtp_url_fails_the_reply_at_once() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let none = mailbox(pool, SUPPORT, None).await;
    let plain = mailbox(
        pool,
        "billing@example.com",
        Some("smtp://mail.example.com:25"),
    )
    .await;
    let t1 = ticket(pool, none, "open").await;
    let t2 = ticket(pool, plain, "open").await;
    let m1 = queue(pool, t1, &mut reply(none, t1, &unique_customer("c"))).await;
    let mut r2 = reply(plain, t2, &unique_customer("c"));
    r2.from_address = "billing@example.com".into();
    let m2 = queue(pool, t2, &mut r2).await;

    assert_eq!(outbox::send_due(pool).await.unwrap(), 2);

    let r = row(pool, m1).await;
    assert_eq!(r.state, "failed");
    assert!(
        r.delivery_error
            .unwrap()
            .contains("no outgoing (SMTP) server")
    );
    let r = row(pool, m2).await;
    assert_eq!(r.state, "failed");
    let error = r.delivery_error.unwrap();
    assert!(error.contains("plain SMTP to mail.example.com"), "{error}");
    db.drop_db().await;
}

#[tokio::test]
async fn concurrent_workers_send_each_reply_exactly_once() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let mb = mailbox(pool, SUPPORT, Some(&smtp::sink_url())).await;
    let t = ticket(pool, mb, "open").await;
    let mut recipients = Vec::new();
    for _ in 0..6 {
        let to = unique_customer("conc");
        queue(pool, t, &mut reply(mb, t, &to)).await;
        recipients.push(to);
    }

    let (a, b) = tokio::join!(outbox::send_due(pool), outbox::send_due(pool));
    assert_eq!(a.unwrap() + b.unwrap(), 6);

    let dir = smtp::sink_dir();
    for to in &recipients {
        assert_eq!(smtp::received_for(&dir, to).len(), 1, "{to}");
    }
    let sent: i64 = scalar(pool, "select count(*) from outbox where state = 'sent'").await;
    assert_eq!(sent, 6);
    db.drop_db().await;
}

#[tokio::test]
async fn enqueue_rejects_bad_replies_and_a_second_row_for_a_message() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let mb = mailbox(pool, SUPPORT, Some(&smtp::sink_url())).await;
    let t = ticket(pool, mb, "open").await;
    let mut mail = reply(mb, t, &unique_customer("dup"));
    queue(pool, t, &mut mail).await;

    let mut conn = pool.acquire().await.unwrap();
    let again = outbox::enqueue(&mut conn, &mail).await;
    assert!(
        matches!(again, Err(OutboxError::AlreadyQueued(id)) if id == mail.message_id),
        "{again:?}"
    );
    let mut bad = mail.clone();
    bad.to.clear();
    assert!(matches!(
        outbox::enqueue(&mut conn, &bad).await,
        Err(OutboxError::Compose(_))
    ));
    let rows: i64 = sqlx::query_scalar("select count(*) from outbox")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    drop(conn);
    db.drop_db().await;
}

#[tokio::test]
async fn the_worker_sends_a_reply_moments_after_its_commit() {
    let db = TestDb::new().await;
    let pool = &db.pool;
    let mb = mailbox(pool, SUPPORT, Some(&smtp::sink_url())).await;
    let t = ticket(pool, mb, "open").await;
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(outbox::run(
        pool.clone(),
        Default::default(),
        shutdown.clone(),
    ));
    // Let it start listening and finish its first (empty) pass.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let to = unique_customer("worker");
    let message_id = queue(pool, t, &mut reply(mb, t, &to)).await;
    let mut state = String::new();
    for _ in 0..50 {
        state = row(pool, message_id).await.state;
        if state == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, "sent", "sent within 5 s");
    assert_eq!(smtp::received_for(&smtp::sink_dir(), &to).len(), 1);

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .expect("the worker stops on shutdown")
        .unwrap();
    db.drop_db().await;
}

#[tokio::test]
async fn updating_a_mailbox_without_an_smtp_url_keeps_the_one_it_has() {
    let db = TestDb::new().await;
    let imap = "imap://u:secret@127.0.0.1:1/INBOX";
    let id = frontdesk::mailboxes::upsert_mailbox(
        &db.pool,
        "Support",
        SUPPORT,
        imap,
        Some("smtp://127.0.0.1:2525"),
    )
    .await
    .unwrap();
    // `frontdesk mailbox add` again without --smtp-url (as a re-run of scripts/demo did).
    let again = frontdesk::mailboxes::upsert_mailbox(&db.pool, "Support desk", SUPPORT, imap, None)
        .await
        .unwrap();
    assert_eq!(id, again);
    let mb = frontdesk::mailboxes::find_mailbox(&db.pool, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mb.smtp_url.as_deref(), Some("smtp://127.0.0.1:2525"));
    assert_eq!(mb.name, "Support desk");
    db.drop_db().await;
}
