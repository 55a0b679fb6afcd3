//! Signed webhooks end to end: a real HTTP receiver on a local port checks every signature
//! with the secret, answers 500 first and 200 after; the retry carries the same event id and
//! after the 200 nothing is sent again; two workers never both send one delivery; private
//! addresses are refused at registration (and at delivery for a rule's URL); a rule's
//! `webhook` action delivers through the same queue; agents may not manage webhooks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use frontdesk::config::WebhookConfig;
use frontdesk::webhooks::{Deliverer, deliver_due};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::api_json as api;
use crate::support::*;

/// One request the receiver saw.
#[derive(Debug, Clone)]
struct Hit {
    event_id: String,
    signature: Option<String>,
    body: Vec<u8>,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Checks `Frontdesk-Signature` the way a receiver would: HMAC-SHA256 of "<t>.<body>".
    fn signature_valid(&self, secret: &str) -> bool {
        let Some(sig) = &self.signature else {
            return false;
        };
        let mut t = None;
        let mut v1 = None;
        for part in sig.split(',') {
            match part.split_once('=') {
                Some(("t", x)) => t = Some(x.to_string()),
                Some(("v1", x)) => v1 = Some(x.to_string()),
                _ => {}
            }
        }
        let (Some(t), Some(v1)) = (t, v1) else {
            return false;
        };
        let age = time::OffsetDateTime::now_utc().unix_timestamp() - t.parse::<i64>().unwrap();
        if !(0..=300).contains(&age) {
            return false;
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&self.body);
        mac.verify_slice(&hex::decode(v1).unwrap()).is_ok()
    }
}

/// A local HTTP receiver: answers each request with the next status of `script` (then 200).
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> Receiver {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let script = Arc::new(Mutex::new(script.to_vec()));
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post({
                let hits = hits.clone();
                move |headers: HeaderMap, body: axum::body::Bytes| async move {
                    let h = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string)
                    };
                    hits.lock().unwrap().push(Hit {
                        event_id: h("frontdesk-event-id").unwrap_or_default(),
                        signature: h("frontdesk-signature"),
                        body: body.to_vec(),
                    });
                    let mut s = script.lock().unwrap();
                    let status = if s.is_empty() { 200 } else { s.remove(0) };
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{addr}/hook"),
            hits,
        }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

fn deliverer() -> Deliverer {
    Deliverer::new(&WebhookConfig {
        retry_base: Duration::from_millis(300),
        timeout: Duration::from_secs(5),
        ..WebhookConfig::default()
    })
    .unwrap()
}

/// A ticket, an admin and their token.
async fn setup() -> (TestApp, i64, String) {
    let app = TestApp::with_mail(&["24-cc-reply-to-original-a.eml"]).await;
    let dana = app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let token = frontdesk::auth::create_api_token(app.pool(), dana)
        .await
        .unwrap();
    let n = app.only_ticket_id().await;
    (app, n, token)
}

async fn add_note(app: &TestApp, token: &str, n: i64, text: &str) {
    let (status, body) = api(
        &app.db,
        "POST",
        &format!("/api/v1/tickets/{n}/notes"),
        token,
        json!({ "text": text }),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_same_event_id_and_never_sent_after_a_200() {
    let (app, n, token) = setup().await;
    let receiver = Receiver::start(&[500]).await;
    let (status, created) = api(
        &app.db,
        "POST",
        "/api/v1/webhooks",
        &token,
        json!({"url": receiver.url, "events": ["note.added", "ticket.updated"], "secret": "whsec-test"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();

    add_note(&app, &token, n, "Checked the invoice").await;
    let d = deliverer();

    // First attempt: the receiver answers 500.
    assert_eq!(deliver_due(app.pool(), &d).await.unwrap(), 1);
    let first = receiver.hits();
    assert_eq!(first.len(), 1);
    assert!(first[0].signature_valid("whsec-test"), "{:?}", first[0]);
    assert!(!first[0].signature_valid("another-secret"));
    let body = first[0].json();
    assert_eq!(body["event"], "note.added");
    assert_eq!(body["id"], json!(first[0].event_id));
    assert_eq!(body["ticket"]["number"], n);
    assert_eq!(body["change"]["kind"], "note_added");
    assert!(body["at"].as_str().unwrap().ends_with('Z'), "{body}");

    // Not due again before the backoff.
    assert_eq!(deliver_due(app.pool(), &d).await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(400)).await;

    // The retry: same event id and body, fresh valid signature; the receiver answers 200.
    assert_eq!(deliver_due(app.pool(), &d).await.unwrap(), 1);
    let hits = receiver.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[1].event_id, hits[0].event_id);
    assert_eq!(hits[1].body, hits[0].body);
    assert!(hits[1].signature_valid("whsec-test"));

    // Delivered: never sent again.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(deliver_due(app.pool(), &d).await.unwrap(), 0);
    assert_eq!(receiver.hits().len(), 2);

    // The delivery log says so.
    let (status, shown) = api(
        &app.db,
        "GET",
        &format!("/api/v1/webhooks/{id}"),
        &token,
        json!(null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert!(shown.get("secret").is_none(), "the secret is never shown");
    let log = shown["deliveries"].as_array().unwrap();
    assert_eq!(log.len(), 1, "{shown}");
    assert_eq!(log[0]["state"], "delivered");
    assert_eq!(log[0]["attempts"], 2);
    assert_eq!(log[0]["last_status"], 200);
    assert_eq!(log[0]["id"], json!(hits[0].event_id));
    app.finish().await;
}

#[tokio::test]
async fn two_workers_never_send_one_delivery_twice_and_unsubscribed_events_are_not_sent() {
    let (app, n, token) = setup().await;
    let receiver = Receiver::start(&[]).await;
    let (status, _) = api(
        &app.db,
        "POST",
        "/api/v1/webhooks",
        &token,
        json!({"url": receiver.url, "events": ["ticket.updated"], "secret": "k"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // A note (not subscribed) and a priority change (ticket.updated), five times over.
    add_note(&app, &token, n, "not subscribed").await;
    for p in ["high", "low", "urgent", "normal", "high"] {
        let (s, b) = api(
            &app.db,
            "PATCH",
            &format!("/api/v1/tickets/{n}"),
            &token,
            json!({ "priority": p }),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (d1, d2) = (deliverer(), deliverer());
    let (a, b) = tokio::join!(deliver_due(app.pool(), &d1), deliver_due(app.pool(), &d2));
    assert_eq!(a.unwrap() + b.unwrap(), 5);
    let hits = receiver.hits();
    assert_eq!(hits.len(), 5, "each delivery exactly once");
    let mut ids: Vec<&str> = hits.iter().map(|h| h.event_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    assert!(hits.iter().all(|h| h.json()["event"] == "ticket.updated"));
    assert!(hits.iter().all(|h| h.signature_valid("k")));
    app.finish().await;
}

#[tokio::test]
async fn endpoints_on_private_addresses_and_bad_input_are_refused_naming_the_field() {
    let (app, _n, token) = setup().await;
    for (body, field) in [
        (
            json!({"url": "https://10.0.0.5/hook", "events": ["ticket.created"], "secret": "s"}),
            "url",
        ),
        (
            json!({"url": "https://169.254.169.254/latest", "events": ["ticket.created"], "secret": "s"}),
            "url",
        ),
        (
            json!({"url": "http://hooks.example.com/x", "events": ["ticket.created"], "secret": "s"}),
            "url",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["ticket.exploded"], "secret": "s"}),
            "events",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["ticket.created"], "secret": ""}),
            "secret",
        ),
    ] {
        let (status, err) = api(&app.db, "POST", "/api/v1/webhooks", &token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {err}");
        assert!(
            err.to_string().contains(&format!("{field}:")),
            "{body}: the error names {field}: {err}"
        );
    }
    let (status, _) = api(
        &app.db,
        "POST",
        "/api/v1/webhooks",
        &token,
        json!({"url": "https://hooks.example.com/x", "events": ["ticket.created"], "secret": "s"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let count: i64 = scalar(app.pool(), "select count(*) from webhook_endpoint").await;
    assert_eq!(count, 1);
    app.finish().await;
}

#[tokio::test]
async fn agents_may_not_manage_webhooks() {
    let (app, _n, admin_token) = setup().await;
    let lee = app.agent("lee@example.com", "Lee", Role::Agent).await;
    let token = frontdesk::auth::create_api_token(app.pool(), lee)
        .await
        .unwrap();
    let (status, _) = api(
        &app.db,
        "POST",
        "/api/v1/webhooks",
        &admin_token,
        json!({"url": "https://hooks.example.com/x", "events": ["ticket.created"], "secret": "s"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = api(
        &app.db,
        "POST",
        "/api/v1/webhooks",
        &token,
        json!({"url": "https://hooks.example.com/y", "events": ["ticket.created"], "secret": "s"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (method, path) in [
        ("GET", "/api/v1/webhooks"),
        ("DELETE", "/api/v1/webhooks/1"),
    ] {
        let (status, _) = api(&app.db, method, path, &token, json!(null)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
    }
    let (status, _) = api(
        &app.db,
        "GET",
        "/api/v1/webhooks",
        "not-a-token",
        json!(null),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.finish().await;
}

#[tokio::test]
async fn a_rules_webhook_action_delivers_through_the_queue() {
    let (app, n, token) = setup().await;
    let receiver = Receiver::start(&[]).await;
    let (status, rule) = api(
        &app.db,
        "POST",
        "/api/v1/rules",
        &token,
        json!({
            "name": "Notes to the CRM",
            "trigger": "note_added",
            "conditions": {"all": [{"field": "subject", "op": "is_set"}]},
            "actions": [{"type": "webhook", "url": receiver.url, "secret": "rule-secret"},
                        {"type": "webhook", "url": "https://127.0.0.1:9/never"}],
            "mode": "every_time"
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    add_note(&app, &token, n, "Please sync").await;

    assert_eq!(deliver_due(app.pool(), &deliverer()).await.unwrap(), 2);
    let hits = receiver.hits();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].signature_valid("rule-secret"));
    let body = hits[0].json();
    assert_eq!(body["event"], "rule.webhook");
    assert_eq!(body["rule"]["name"], "Notes to the CRM");
    assert_eq!(body["ticket"]["number"], n);

    // https to a loopback address is refused at delivery and recorded as a failed attempt.
    let (state, error): (String, String) = sqlx::query_as(
        "select state, last_error from webhook_delivery where url = 'https://127.0.0.1:9/never'",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(state, "pending");
    assert!(error.contains("private or local"), "{error}");

    // The timeline says what the rule did.
    let t = ticket_json(app.pool(), n).await;
    let fired = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "rule_fired")
        .expect("rule_fired event");
    assert!(
        fired["detail"]["changes"]
            .to_string()
            .contains("called webhook"),
        "{fired}"
    );
    app.finish().await;
}

#[tokio::test]
async fn new_tickets_from_ingest_are_delivered_and_an_endpoint_failing_for_the_window_is_disabled()
{
    let app = TestApp::new().await;
    let dana = app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let token = frontdesk::auth::create_api_token(app.pool(), dana)
        .await
        .unwrap();
    let receiver = Receiver::start(&[500, 500, 500, 500, 500, 500]).await;
    let (status, created) = api(
        &app.db,
        "POST",
        "/api/v1/webhooks",
        &token,
        json!({"url": receiver.url, "events": ["ticket.created", "message.received"], "secret": "s"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_i64().unwrap();
    app.deliver(&["24-cc-reply-to-original-a.eml"]).await;
    app.ingest().await;
    let d = Deliverer::new(&WebhookConfig {
        retry_base: Duration::from_millis(100),
        retry_window: Duration::from_secs(1),
        ..WebhookConfig::default()
    })
    .unwrap();
    assert_eq!(deliver_due(app.pool(), &d).await.unwrap(), 1);
    assert_eq!(receiver.hits()[0].json()["event"], "ticket.created");
    // Keep failing past the window: the endpoint is turned off with a notice.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    deliver_due(app.pool(), &d).await.unwrap();
    let (status, shown) = api(
        &app.db,
        "GET",
        &format!("/api/v1/webhooks/{id}"),
        &token,
        json!(null),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["enabled"], false, "{shown}");
    assert!(
        shown["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("failed"),
        "{shown}"
    );
    let before = receiver.hits().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        deliver_due(app.pool(), &d).await.unwrap(),
        0,
        "a disabled endpoint gets nothing"
    );
    assert_eq!(receiver.hits().len(), before);
    // Enabling it again clears the notice.
    let (status, back) = api(
        &app.db,
        "PATCH",
        &format!("/api/v1/webhooks/{id}"),
        &token,
        json!({"enabled": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["disabled_reason"], Value::Null);
    app.finish().await;
}

#[tokio::test]
async fn admins_manage_webhooks_in_the_console_and_agents_get_403() {
    let (app, n, token) = setup().await;
    app.agent("lee@example.com", "Lee", Role::Agent).await;
    let receiver = Receiver::start(&[503]).await;
    let mut admin = app.browser_for("dana@example.com").await;

    let refused = admin
        .post(
            "/admin/webhooks",
            &[
                ("url", "https://192.168.0.10/hook"),
                ("events", "note.added"),
                ("secret", "s"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("private or local address"),
        "{}",
        refused.body
    );

    let added = admin
        .post(
            "/admin/webhooks",
            &[
                ("url", receiver.url.as_str()),
                ("events", "note.added"),
                ("events", "csat.rated"),
                ("secret", "console-secret"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let id: i64 = scalar(
        app.pool(),
        "select webhook_endpoint_id from webhook_endpoint",
    )
    .await;
    let events: Vec<String> = scalar(app.pool(), "select events from webhook_endpoint").await;
    assert_eq!(events, ["note.added", "csat.rated"]);

    // A failed delivery shows in the endpoint's log.
    add_note(&app, &token, n, "for the log").await;
    deliver_due(app.pool(), &deliverer()).await.unwrap();
    let page = admin.get(&format!("/admin/webhooks/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("note.added") && page.body.contains("HTTP 503"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("console-secret"),
        "the secret is never shown"
    );

    let p = admin
        .post(
            &format!("/admin/webhooks/{id}/enabled"),
            &[("enabled", "false")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let enabled: bool = scalar(app.pool(), "select enabled from webhook_endpoint").await;
    assert!(!enabled);

    let mut lee = app.browser_for("lee@example.com").await;
    assert_eq!(
        lee.get("/admin/webhooks").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        lee.post(&format!("/admin/webhooks/{id}/delete"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let p = admin
        .post(&format!("/admin/webhooks/{id}/delete"), &[])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let left: i64 = scalar(app.pool(), "select count(*) from webhook_endpoint").await;
    assert_eq!(left, 0);
    app.finish().await;
}
