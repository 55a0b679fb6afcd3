//! TLS for real: the test Dovecot and SMTP sink present a certificate of a private CA that
//! `scripts/test-certs` makes, and the node trusts it as `FRONTDESK_EXTRA_CA_FILE` would make
//! it ([`tls::test_ca`]). On 127.0.0.2 the same servers present a certificate of a CA that
//! nothing trusts, which must be refused with an error that says so.

use std::time::Duration;

use axum::http::StatusCode;
use frontdesk::config::IngestConfig;
use frontdesk::ingest::poller;
use frontdesk::mailboxes::MailTls;
use frontdesk::mailboxes::check::{check_imap, check_smtp};
use tokio_util::sync::CancellationToken;

use crate::support::smtp::{received_with_message_id, sink_dir};
use crate::support::tls::{self, imaps_url, starttls_url, test_ca, untrusted_host};
use crate::support::*;

const LOCAL: &str = "127.0.0.1";

/// A fresh app whose INBOX holds one fixture mail, polled over `url(mailbox)`.
async fn app_polling(url: impl Fn(&TestMailbox) -> String) -> TestApp {
    let app = TestApp::new().await;
    app.deliver(&["24-cc-reply-to-original-a.eml"]).await;
    let url = url(&app.mb);
    set_imap_url(&app, &url).await;
    app
}

async fn set_imap_url(app: &TestApp, url: &str) {
    sqlx::query("update mailbox set imap_url = $2 where mailbox_id = $1")
        .bind(app.mb.mailbox_id)
        .bind(url)
        .execute(app.pool())
        .await
        .unwrap();
}

async fn set_smtp_url(app: &TestApp, url: &str) {
    sqlx::query("update mailbox set smtp_url = $2 where mailbox_id = $1")
        .bind(app.mb.mailbox_id)
        .bind(url)
        .execute(app.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn imap_over_implicit_tls_ingests_a_fixture_mail() {
    let app = app_polling(|mb| imaps_url(mb, LOCAL)).await;
    let counts = ingest_trusting(app.pool(), &IngestConfig::default(), &test_ca()).await;
    assert_eq!((counts.fetched, counts.new_tickets), (1, 1), "{counts}");
    let t = only_ticket(app.pool()).await;
    assert!(
        t.to_string().contains("alice.morgenroth@example.org"),
        "{t}"
    );
    app.finish().await;
}

#[tokio::test]
async fn imap_over_starttls_ingests_a_fixture_mail() {
    let app = app_polling(|mb| starttls_url(mb, LOCAL)).await;
    let counts = ingest_trusting(app.pool(), &IngestConfig::default(), &test_ca()).await;
    assert_eq!((counts.fetched, counts.new_tickets), (1, 1), "{counts}");
    app.finish().await;
}

/// A fresh app with one ticket (from a fixture mail) and Dana, an admin, to answer it.
async fn app_with_ticket() -> TestApp {
    let app = TestApp::with_mail(&["24-cc-reply-to-original-a.eml"]).await;
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    app
}

/// Sends a reply from the ticket page of the app's only ticket (as Dana); returns its message
/// id and Message-ID header.
async fn queue_reply(app: &TestApp, text: &str) -> (i64, String) {
    let n = app.only_ticket_id().await;
    let mut b = app.browser_for("dana@example.com").await;
    let sent = b
        .post(
            &format!("/tickets/{n}/reply"),
            &[("to", "alice.morgenroth@example.org"), ("text", text)],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    sqlx::query_as(
        "select message_id, header_message_id from message where direction = 'outbound'
         order by message_id desc limit 1",
    )
    .fetch_one(app.pool())
    .await
    .unwrap()
}

/// `(state, attempts, last_error)` of a message's outbox row, and its delivery state.
async fn outbox_row(app: &TestApp, message_id: i64) -> (String, i32, Option<String>, String) {
    sqlx::query_as(
        "select o.state, o.attempts, o.last_error, m.delivery_state
         from outbox o join message m using (message_id) where message_id = $1",
    )
    .bind(message_id)
    .fetch_one(app.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn smtp_over_starttls_and_implicit_tls_delivers_replies_to_the_sink() {
    let app = app_with_ticket().await;
    for url in [
        format!("smtp://{LOCAL}:{}?starttls=true", tls::port("SMTP")),
        format!("smtps://{LOCAL}:{}", tls::port("SMTPS")),
    ] {
        set_smtp_url(&app, &url).await;
        let (mid, header_id) = queue_reply(&app, &format!("Sent over {url}")).await;
        assert_eq!(
            frontdesk::outbox::send_due_trusting(app.pool(), &test_ca())
                .await
                .unwrap(),
            1
        );
        let (state, attempts, error, delivery) = outbox_row(&app, mid).await;
        assert_eq!(
            (state.as_str(), attempts, delivery.as_str()),
            ("sent", 1, "sent"),
            "{url}: {error:?}"
        );
        let got = received_with_message_id(&sink_dir(), &header_id);
        assert_eq!(got.len(), 1, "{url}: one copy at the sink");
        assert_eq!(got[0].rcpt_tos, ["alice.morgenroth@example.org"]);
    }
    app.finish().await;
}

#[tokio::test]
async fn an_untrusted_smtp_certificate_keeps_the_reply_queued_until_the_server_is_fixed() {
    let app = app_with_ticket().await;
    let smtp = tls::port("SMTP");
    set_smtp_url(
        &app,
        &format!("smtp://{}:{smtp}?starttls=true", untrusted_host()),
    )
    .await;
    let (mid, header_id) = queue_reply(&app, "Is this certificate trusted?").await;
    frontdesk::outbox::send_due_trusting(app.pool(), &test_ca())
        .await
        .unwrap();
    let (state, attempts, error, delivery) = outbox_row(&app, mid).await;
    assert_eq!(
        (state.as_str(), attempts),
        ("queued", 1),
        "kept for a retry"
    );
    assert_eq!(delivery, "queued");
    let error = error.expect("the error is kept on the outbox row");
    assert!(
        error.contains(&format!(
            "the TLS certificate of {}:{smtp} is not trusted",
            untrusted_host()
        )) && error.contains("UnknownIssuer")
            && error.contains("FRONTDESK_EXTRA_CA_FILE"),
        "{error}"
    );
    assert!(received_with_message_id(&sink_dir(), &header_id).is_empty());

    // The admin points the mailbox at the right server: the same reply leaves once.
    set_smtp_url(&app, &format!("smtp://{LOCAL}:{smtp}?starttls=true")).await;
    execute_for(
        app.pool(),
        "update outbox set next_attempt_at = now() where message_id = $1",
        mid,
    )
    .await;
    frontdesk::outbox::send_due_trusting(app.pool(), &test_ca())
        .await
        .unwrap();
    let (state, attempts, _, _) = outbox_row(&app, mid).await;
    assert_eq!((state.as_str(), attempts), ("sent", 2));
    assert_eq!(received_with_message_id(&sink_dir(), &header_id).len(), 1);
    app.finish().await;
}

#[tokio::test]
async fn an_untrusted_imap_certificate_is_reported_on_the_mailbox_health_and_polling_goes_on() {
    let app = app_polling(|mb| imaps_url(mb, &untrusted_host())).await;
    let mailbox = frontdesk::mailboxes::find_mailbox(app.pool(), app.mb.mailbox_id)
        .await
        .unwrap()
        .unwrap();
    let cfg = IngestConfig {
        max_backoff: Duration::from_millis(500),
        ..Default::default()
    };
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(poller::run(
        app.pool().clone(),
        mailbox,
        cfg,
        test_ca(),
        "n1".into(),
        shutdown.clone(),
    ));
    let pool = app.pool().clone();
    wait_until("two refused connections", || async {
        sqlx::query_scalar::<_, Option<i32>>("select max(consecutive_failures) from mailbox_health")
            .fetch_one(&pool)
            .await
            .unwrap()
            .unwrap_or(0)
            >= 2
    })
    .await;
    let error: String = scalar(app.pool(), "select last_error from mailbox_health").await;
    assert!(
        error.starts_with(&format!(
            "the TLS certificate of {}:{} is not trusted: invalid peer certificate: UnknownIssuer",
            untrusted_host(),
            tls::port("IMAPS")
        )),
        "{error}"
    );
    assert!(!error.contains("secret"), "no password in {error}");
    assert_eq!(ticket_count(app.pool()).await, 0);

    // The same poller goes on: once the mailbox points at the trusted server, the mail comes in.
    set_imap_url(&app, &imaps_url(&app.mb, LOCAL)).await;
    wait_until("the mail to be ingested", || async {
        ticket_count(&pool).await == 1
    })
    .await;
    // The ticket commits inside the poll; the health row is written when the poll ends.
    wait_until("the successful poll to clear the failures", || async {
        scalar::<i32>(&pool, "select consecutive_failures from mailbox_health").await == 0
    })
    .await;
    let error: Option<String> = scalar(app.pool(), "select last_error from mailbox_health").await;
    assert!(
        error.is_some(),
        "the last error stays visible beside last_ok_at"
    );
    assert_eq!(ticket_count(app.pool()).await, 1);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the poller stops on shutdown")
        .unwrap();
    app.finish().await;
}

#[tokio::test]
async fn test_connection_shows_the_certificate_error_and_passes_with_the_trusted_ca() {
    let app = TestApp::new().await;
    app.agent("ada@example.com", "Ada", Role::Admin).await;
    let (imaps, smtp) = (tls::port("IMAPS"), tls::port("SMTP"));
    let bad = untrusted_host();
    set_imap_url(&app, &imaps_url(&app.mb, &bad)).await;
    set_smtp_url(&app, &format!("smtp://{bad}:{smtp}?starttls=true")).await;

    let id = app.mb.mailbox_id;
    let mut tab = tls::browser_trusting_test_ca(&app.db, "ada@example.com").await;
    let p = tab.post(&format!("/admin/mailboxes/{id}/test"), &[]).await;
    assert_eq!(p.status, StatusCode::OK);
    for line in [
        format!(
            "IMAP: the TLS certificate of {bad}:{imaps} is not trusted: invalid peer certificate: UnknownIssuer"
        ),
        format!(
            "SMTP: the TLS certificate of {bad}:{smtp} is not trusted: invalid peer certificate: UnknownIssuer"
        ),
    ] {
        assert!(p.body.contains(&line), "{line} in {}", p.body);
    }
    assert!(!p.body.contains(":secret@"));

    // The trusted certificate passes, over implicit TLS and STARTTLS.
    set_imap_url(&app, &imaps_url(&app.mb, LOCAL)).await;
    set_smtp_url(&app, &format!("smtp://{LOCAL}:{smtp}?starttls=true")).await;
    let p = tab.post(&format!("/admin/mailboxes/{id}/test"), &[]).await;
    assert!(p.body.contains("IMAP: 0 messages in INBOX"), "{}", p.body);
    assert!(
        p.body
            .contains(&format!("SMTP: connected to {LOCAL}:{smtp}")),
        "{}",
        p.body
    );
    let starttls = check_imap(&starttls_url(&app.mb, LOCAL), false, &test_ca()).await;
    assert!(starttls.ok, "{starttls:?}");

    // Without FRONTDESK_EXTRA_CA_FILE (the default) the private CA is not trusted either.
    let plain = check_imap(&imaps_url(&app.mb, LOCAL), false, &MailTls::default()).await;
    assert!(
        !plain.ok && plain.message.contains("UnknownIssuer"),
        "{plain:?}"
    );
    let url = format!("smtps://{LOCAL}:{}", tls::port("SMTPS"));
    let plain = check_smtp(Some(&url), &MailTls::default()).await;
    assert!(
        !plain.ok && plain.message.contains("UnknownIssuer"),
        "{plain:?}"
    );
    app.finish().await;
}

/// Polls `done` every 100 ms for up to 20 s.
async fn wait_until<F, Fut>(what: &str, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
