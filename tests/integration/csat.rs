//! CSAT surveys end to end: a close after a reply mails the survey through the outbox to a
//! real SMTP server; the link's GET records nothing, the form's POST records (a second one
//! replaces it); the rating shows on the timeline, in the ticket JSON, in analytics and fires
//! `csat_rated` rules; no survey for spam, closes without a reply or "without survey".

use axum::http::StatusCode;
use serde_json::json;

use crate::support::api_json as api;
use crate::support::smtp::{received_with_message_id, sink_dir};
use crate::support::*;

const CUSTOMER: &str = "alice.morgenroth@example.org";

/// One ticket from the customer, replies to the SMTP sink, CSAT on (in `mode`), an admin
/// Dana who works it, and her API token.
async fn setup(mode: &str) -> (TestApp, i64, String) {
    let app = TestApp::with_mail(&["24-cc-reply-to-original-a.eml"]).await;
    app.smtp_to_sink().await;
    let dana = app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let token = frontdesk::auth::create_api_token(app.pool(), dana)
        .await
        .unwrap();
    let (status, m) = api(
        &app.db,
        "PATCH",
        "/api/v1/mailboxes/support@example.com",
        &token,
        json!({"csat": true, "csat_mode": mode, "csat_delay_minutes": 30}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["csat"], true);
    let n = app.only_ticket_id().await;
    (app, n, token)
}

async fn reply(b: &mut Browser, n: i64, after: &str, extra: &[(&str, &str)]) {
    let mut form = vec![
        ("to", CUSTOMER),
        ("text", "Fixed, thanks."),
        ("after", after),
    ];
    form.extend_from_slice(extra);
    let p = b.post(&format!("/tickets/{n}/reply"), &form).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
}

async fn surveys(app: &TestApp, n: i64) -> Vec<(i32, String, Option<String>)> {
    sqlx::query_as(
        "select resolution, state, rating from csat_survey where ticket_id = $1 order by resolution",
    )
    .bind(n)
    .fetch_all(app.pool())
    .await
    .unwrap()
}

/// The survey token in a mail's text.
fn token_in(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw)
        .replace("=\r\n", "")
        .replace("=3D", "=");
    let at = text.find("/csat/").expect("a survey link") + "/csat/".len();
    text[at..at + 64].to_string()
}

#[tokio::test]
async fn a_close_after_a_reply_mails_a_survey_whose_get_records_nothing_and_post_records() {
    let (app, n, token) = setup("reply").await;
    let mut b = app.browser_for("dana@example.com").await;
    reply(&mut b, n, "closed", &[]).await;
    assert_eq!(surveys(&app, n).await, vec![(1, "sent".into(), None)]);
    frontdesk::outbox::send_due(app.pool()).await.unwrap();
    let header_id: String = scalar_for(
        app.pool(),
        "select header_message_id from message where ticket_id = $1 and direction = 'outbound'",
        n,
    )
    .await;
    let mails = received_with_message_id(&sink_dir(), &header_id);
    assert_eq!(mails.len(), 1);
    let text = String::from_utf8_lossy(&mails[0].raw)
        .replace("=\r\n", "")
        .replace("=3D", "=");
    for r in ["good", "okay", "bad"] {
        assert!(
            text.contains(&format!("?rating={r}")),
            "three links: {text}"
        );
    }
    let stored: String = scalar_for(
        app.pool(),
        "select text_body from message where ticket_id = $1 and direction = 'outbound'",
        n,
    )
    .await;
    assert!(
        !stored.contains("/csat/"),
        "agents never see the customer's token"
    );
    let survey = token_in(&mails[0].raw);

    // A scanner (or the customer) opening the link: preselected, nothing recorded.
    let mut customer = Browser::new(&app.db);
    let page = customer.get(&format!("/csat/{survey}?rating=bad")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("value=\"bad\" required checked"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("Fixed, thanks."),
        "no conversation on the page"
    );
    assert_eq!(surveys(&app, n).await[0].2, None, "GET records nothing");

    let page = customer
        .post(
            &format!("/csat/{survey}"),
            &[("rating", "bad"), ("comment", "Took a week.")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("csat-thanks"));
    let t = ticket_json(app.pool(), n).await;
    assert_eq!(t["csat"]["rating"], "bad");
    assert_eq!(t["csat"]["comment"], "Took a week.");
    let rated: Vec<_> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "csat_rated")
        .collect();
    assert_eq!(rated.len(), 1);
    assert_eq!(rated[0]["detail"]["rating"], "bad");
    let page = b.get(&format!("/tickets/{n}")).await;
    assert!(page.body.contains("id=\"csat-rating\""), "sidebar shows it");
    assert!(
        page.body.contains("rated the support not good"),
        "timeline shows it"
    );

    // A second answer replaces the first.
    let page = customer
        .post(
            &format!("/csat/{survey}"),
            &[("rating", "good"), ("comment", "")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(surveys(&app, n).await[0].2.as_deref(), Some("good"));
    let (status, s) = api(
        &app.db,
        "GET",
        "/api/v1/analytics/summary",
        &token,
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["csat"]["sent"], 1);
    assert_eq!(s["csat"]["responses"], 1);
    assert_eq!(s["csat"]["good"], 1);
    assert_eq!(s["csat"]["bad"], 0);
    assert_eq!(s["csat"]["percent_satisfied"], 100.0);
    assert_eq!(s["csat"]["net"], 100.0);
    assert_eq!(s["csat"]["response_rate"], 100.0);
    let (_, agents) = api(
        &app.db,
        "GET",
        "/api/v1/analytics/agents",
        &token,
        json!({}),
    )
    .await;
    let dana = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["email"] == "dana@example.com")
        .cloned()
        .unwrap();
    // Nobody was assigned at the resolution: no agent is credited.
    assert_eq!(dana["csat"]["responses"], 0);

    // Foreign and expired tokens are refused, GET and POST.
    let foreign = "ab".repeat(32);
    assert_eq!(
        customer
            .get(&format!("/csat/{foreign}?rating=good"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        customer
            .post(&format!("/csat/{foreign}"), &[("rating", "good")])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    execute_for(
        app.pool(),
        "update csat_survey set expires_at = now() - interval '1 second' where ticket_id = $1",
        n,
    )
    .await;
    assert_eq!(
        customer.get(&format!("/csat/{survey}")).await.status,
        StatusCode::GONE
    );
    assert_eq!(
        customer
            .post(&format!("/csat/{survey}"), &[("rating", "bad")])
            .await
            .status,
        StatusCode::GONE
    );
    assert_eq!(
        surveys(&app, n).await[0].2.as_deref(),
        Some("good"),
        "unchanged"
    );
    app.finish().await;
}

#[tokio::test]
async fn no_survey_without_a_reply_for_spam_without_survey_or_with_csat_off() {
    let (app, n, token) = setup("reply").await;
    let mut b = app.browser_for("dana@example.com").await;
    let status = |s: &'static str| [("status", s)];
    // Closed without any reply: "closed, no reply needed".
    b.post_json(&format!("/tickets/{n}/status"), &status("closed"))
        .await;
    b.post_json(&format!("/tickets/{n}/status"), &status("open"))
        .await;
    // "Send and close" without survey.
    reply(&mut b, n, "closed", &[("without_survey", "on")]).await;
    b.post_json(&format!("/tickets/{n}/status"), &status("open"))
        .await;
    // A reply, then an API close without survey.
    reply(&mut b, n, "keep", &[]).await;
    let (s, _) = api(
        &app.db,
        "PATCH",
        &format!("/api/v1/tickets/{n}"),
        &token,
        json!({"status": "closed", "survey": false}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    b.post_json(&format!("/tickets/{n}/status"), &status("open"))
        .await;
    // Spam.
    reply(&mut b, n, "keep", &[]).await;
    execute_for(
        app.pool(),
        "update ticket set spam = true where ticket_id = $1",
        n,
    )
    .await;
    b.post_json(&format!("/tickets/{n}/status"), &status("closed"))
        .await;
    b.post_json(&format!("/tickets/{n}/status"), &status("open"))
        .await;
    execute_for(
        app.pool(),
        "update ticket set spam = false where ticket_id = $1",
        n,
    )
    .await;
    // CSAT off.
    api(
        &app.db,
        "PATCH",
        "/api/v1/mailboxes/support@example.com",
        &token,
        json!({"csat": false}),
    )
    .await;
    reply(&mut b, n, "closed", &[]).await;
    frontdesk::csat::send_due(app.pool(), "http://desk.test")
        .await
        .unwrap();
    assert_eq!(surveys(&app, n).await, vec![], "no survey at all");
    app.finish().await;
}

#[tokio::test]
async fn a_sidebar_close_mails_a_separate_survey_and_a_reopened_ticket_gets_a_new_one() {
    let (app, n, _token) = setup("reply").await;
    let mut b = app.browser_for("dana@example.com").await;
    reply(&mut b, n, "keep", &[]).await;
    b.post_json(&format!("/tickets/{n}/status"), &[("status", "closed")])
        .await;
    assert_eq!(surveys(&app, n).await, vec![(1, "scheduled".into(), None)]);
    assert_eq!(
        frontdesk::csat::send_due(app.pool(), "http://desk.test")
            .await
            .unwrap(),
        1
    );
    b.post_json(&format!("/tickets/{n}/status"), &[("status", "open")])
        .await;
    reply(&mut b, n, "closed", &[]).await;
    let s = surveys(&app, n).await;
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!((s[0].0, s[1].0), (1, 2), "one per resolution");
    let distinct: i64 = scalar_for(
        app.pool(),
        "select count(distinct token_sha256) from csat_survey where ticket_id = $1",
        n,
    )
    .await;
    assert_eq!(distinct, 2, "a new token");
    frontdesk::outbox::send_due(app.pool()).await.unwrap();
    let raw: Vec<u8> = scalar(
        app.pool(),
        "select raw from outbox where csat_survey_id is not null",
    )
    .await;
    let text = String::from_utf8_lossy(&raw)
        .replace("=\r\n", "")
        .replace("=3D", "=");
    assert!(
        text.contains("How did we do?") && text.contains("?rating=okay"),
        "{text}"
    );
    app.finish().await;
}

#[tokio::test]
async fn delayed_mode_sends_once_after_the_delay_and_not_after_a_reopen() {
    let (app, n, _token) = setup("delayed").await;
    let mut b = app.browser_for("dana@example.com").await;
    reply(&mut b, n, "closed", &[]).await;
    assert_eq!(surveys(&app, n).await, vec![(1, "scheduled".into(), None)]);
    assert_eq!(
        frontdesk::csat::send_due(app.pool(), "http://desk.test")
            .await
            .unwrap(),
        0,
        "not due yet"
    );
    execute_for(
        app.pool(),
        "update csat_survey set send_at = now() - interval '1 second' where ticket_id = $1",
        n,
    )
    .await;
    // Two workers at once (two nodes): one mail.
    let (a, c) = tokio::join!(
        frontdesk::csat::send_due(app.pool(), "http://desk.test"),
        frontdesk::csat::send_due(app.pool(), "http://desk.test")
    );
    assert_eq!(a.unwrap() + c.unwrap(), 1);
    assert_eq!(
        frontdesk::csat::send_due(app.pool(), "http://desk.test")
            .await
            .unwrap(),
        0
    );
    let rows: i64 = scalar(
        app.pool(),
        "select count(*) from outbox where csat_survey_id is not null",
    )
    .await;
    assert_eq!(rows, 1);
    // Reopened before the delay: cancelled.
    b.post_json(&format!("/tickets/{n}/status"), &[("status", "open")])
        .await;
    reply(&mut b, n, "closed", &[]).await;
    b.post_json(&format!("/tickets/{n}/status"), &[("status", "open")])
        .await;
    assert_eq!(surveys(&app, n).await[1].1, "cancelled");
    app.finish().await;
}

#[tokio::test]
async fn a_csat_rated_rule_with_rating_bad_adds_a_tag() {
    let (app, n, token) = setup("reply").await;
    let (s, r) = api(
        &app.db,
        "POST",
        "/api/v1/rules",
        &token,
        json!({
        "name": "Unhappy", "trigger": "csat_rated",
        "conditions": {"all": [{"field": "csat", "op": "is", "value": "bad"}]},
        "actions": [{"type": "add_tag", "tag": "unhappy"}], "mode": "every_time"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let mut b = app.browser_for("dana@example.com").await;
    reply(&mut b, n, "closed", &[]).await;
    frontdesk::outbox::send_due(app.pool()).await.unwrap();
    let raw: Vec<u8> = scalar_for(
        app.pool(),
        "select o.raw from outbox o join message m using (message_id) where m.ticket_id = $1",
        n,
    )
    .await;
    let survey = token_in(&raw);
    let mut customer = Browser::new(&app.db);
    customer
        .post(&format!("/csat/{survey}"), &[("rating", "okay")])
        .await;
    assert_eq!(
        ticket_json(app.pool(), n).await["tags"],
        json!([]),
        "okay: no tag"
    );
    customer
        .post(&format!("/csat/{survey}"), &[("rating", "bad")])
        .await;
    assert_eq!(ticket_json(app.pool(), n).await["tags"], json!(["unhappy"]));
    app.finish().await;
}
