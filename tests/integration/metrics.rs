//! `GET /metrics`: refused without an admin token; after ingesting a mail and sending a reply
//! through the real SMTP sink, the counters and the request histogram have moved.
//!
//! The recorder is per process and the tests run in parallel on the same mailbox address, so
//! every check compares a scrape with the one before (at least this test's own change).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;
use tower::ServiceExt;

use crate::support::*;

/// `GET /metrics` with an optional bearer token: status and body.
async fn scrape(db: &TestDb, token: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::builder().uri("/metrics");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = test_router(db)
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// The value of the sample `name{labels}` (labels exactly as rendered), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (s, v) = l.rsplit_once(' ')?;
            (s == series).then(|| v.parse().unwrap())
        })
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_need_an_admin_token_and_count_ingest_sends_and_requests() {
    let app = TestApp::new().await;
    let admin = app
        .agent("admin@example.com", "Ada Admin", Role::Admin)
        .await;
    let agent = app.agent("dana@example.com", "Dana Lee", Role::Agent).await;
    let admin_token = frontdesk::auth::create_api_token(app.pool(), admin)
        .await
        .unwrap();
    let agent_token = frontdesk::auth::create_api_token(app.pool(), agent)
        .await
        .unwrap();

    assert_eq!(scrape(&app.db, None).await.0, StatusCode::FORBIDDEN);
    let (status, body) = scrape(&app.db, Some(&agent_token)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!body.contains("frontdesk_"), "{body}");

    let (status, before) = scrape(&app.db, Some(&admin_token)).await;
    assert_eq!(status, StatusCode::OK);
    let fetched = r#"frontdesk_mails_fetched_total{mailbox="support@example.com"}"#;
    let new_tickets =
        r#"frontdesk_mails_stored_total{mailbox="support@example.com",outcome="new_ticket"}"#;
    let sent = r#"frontdesk_mail_sends_total{outcome="sent"}"#;
    let replies = r#"frontdesk_http_request_duration_seconds_count{route="/api/v1/tickets/{number}/replies",method="POST",status="202"}"#;

    app.deliver(&["42-outlook-thread-index-reply.eml"]).await;
    app.ingest().await;
    app.smtp_to_sink().await;
    let n = app.only_ticket_id().await;
    let (s, r) = api_json(
        &app.db,
        "POST",
        &format!("/api/v1/tickets/{n}/replies"),
        &admin_token,
        json!({"text": "Thanks, on it."}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    // the reply waits in the outbox: the queue gauge (read from the database) shows it
    let (_, queued) = scrape(&app.db, Some(&admin_token)).await;
    assert!(
        sample(&queued, "frontdesk_outbox_queued") >= 1.0,
        "{queued}"
    );
    frontdesk::outbox::send_due(app.pool()).await.unwrap();

    let (_, after) = scrape(&app.db, Some(&admin_token)).await;
    assert!(
        sample(&after, fetched) >= sample(&before, fetched) + 1.0,
        "{after}"
    );
    assert!(sample(&after, new_tickets) >= sample(&before, new_tickets) + 1.0);
    assert!(sample(&after, sent) >= sample(&before, sent) + 1.0);
    assert!(
        sample(&after, replies) >= sample(&before, replies) + 1.0,
        "the request histogram is labelled by the matched route: {after}"
    );
    assert!(after.contains("# TYPE frontdesk_http_request_duration_seconds histogram"));
    assert!(
        after.contains(r#"frontdesk_tickets{status="open"}"#),
        "{after}"
    );
    assert!(after.contains("frontdesk_db_pool_connections{state=\"in_use\"}"));
    app.finish().await;
}

/// A writer into a shared buffer, for capturing JSON log lines.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn json_log_lines_of_a_request_name_its_route_agent_and_ticket() {
    let app = TestApp::with_mail(&["42-outlook-thread-index-reply.eml"]).await;
    let admin = app
        .agent("admin@example.com", "Ada Admin", Role::Admin)
        .await;
    let token = frontdesk::auth::create_api_token(app.pool(), admin)
        .await
        .unwrap();
    let n = app.only_ticket_id().await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        // debug: the statements sqlx logs run inside the request's span
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .finish();
    // this test's thread only (a current-thread runtime): other tests keep their logs
    let guard = tracing::subscriber::set_default(subscriber);
    // Callsites first hit by other tests' threads (no subscriber there) may have cached "never"
    // and the global level may be stale when another thread's subscriber came and went
    // meanwhile: recompute both with this one in place (the test failed once in a filtered run).
    tracing::callsite::rebuild_interest_cache();
    let (s, r) = api_json(
        &app.db,
        "POST",
        &format!("/api/v1/tickets/{n}/notes"),
        &token,
        json!({"text": "Checked the logs."}),
    )
    .await;
    drop(guard);
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object: {l}: {e}"))
        })
        .collect();
    let named = lines.iter().find(|l| {
        l["spans"].as_array().is_some_and(|spans| {
            spans.iter().any(|s| {
                s["name"] == "route"
                    && s["route"] == "/api/v1/tickets/{number}/notes"
                    && s["ticket.number"] == n
                    && s["agent.id"] == admin
            })
        })
    });
    assert!(
        named.is_some(),
        "no log line inside the request span: {text}"
    );
    app.finish().await;
}
