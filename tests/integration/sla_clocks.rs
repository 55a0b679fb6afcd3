//! SLA clocks on tickets through the real poller, the real API and the SMTP sink: a 24/7
//! policy's 1-minute first response breaches at its due instant (the stamped time equals the
//! due time) and fires an `sla_breached` rule once with two nodes running; pending stops the
//! clock and the customer's reply resumes it; a reply before the due time is achieved (a note
//! is not); a priority change and a policy change recompute; a warning wakes a snoozed ticket.

use std::time::Duration;

use axum::http::StatusCode;
use frontdesk::auth::Role;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::*;

/// A plain customer mail to support@example.com with its own Message-ID.
fn mail(id: &str, subject: &str, in_reply_to: Option<&str>) -> Vec<u8> {
    let threading = in_reply_to
        .map(|r| format!("In-Reply-To: <{r}>\r\nReferences: <{r}>\r\n"))
        .unwrap_or_default();
    format!(
        "From: Carla Customer <carla@example.net>\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{id}>\r\n{threading}Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello, this is about {subject}.\r\n"
    )
    .into_bytes()
}

/// APPENDs a mail with IMAP INTERNALDATE `received` (our receipt time: whole seconds, UTC).
async fn deliver_received(app: &TestApp, raw: &[u8], received: OffsetDateTime) {
    let fmt = time::macros::format_description!(
        "\"[day]-[month repr:short]-[year] [hour]:[minute]:[second] +0000\""
    );
    let date = received.format(&fmt).unwrap();
    let mut s = app.mb.session().await;
    s.append("INBOX", None, Some(&date), raw).await.unwrap();
    s.logout().await.ok();
}

async fn admin_token(app: &TestApp) -> String {
    let id = app
        .agent("admin@example.com", "Ada Admin", Role::Admin)
        .await;
    frontdesk::auth::create_api_token(app.pool(), id)
        .await
        .unwrap()
}

/// A 24/7 calendar and a policy on it with these first-response minutes for normal and
/// urgent priority (other targets generous), made the mailbox's default. Returns its id.
async fn policy(
    app: &TestApp,
    token: &str,
    name: &str,
    normal: i64,
    urgent: i64,
    warn: i64,
) -> i64 {
    let day = json!(["00:00-24:00"]);
    let (status, cal) = api_json(
        &app.db,
        "POST",
        "/api/v1/calendars",
        token,
        json!({"name": format!("{name} hours"), "time_zone": "UTC",
               "hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{cal}");
    let row = |fr: i64| json!({"first_response": fr, "next_response": 120, "resolution": 600});
    let (status, p) = api_json(
        &app.db,
        "POST",
        "/api/v1/sla-policies",
        token,
        json!({"name": name, "calendar": cal["id"],
               "targets": {"urgent": row(urgent), "high": row(30), "normal": row(normal), "low": row(normal)},
               "warning_percent": warn}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    p["id"].as_i64().unwrap()
}

async fn make_default(app: &TestApp, token: &str, policy: i64) {
    let (status, body) = api_json(
        &app.db,
        "PATCH",
        &format!("/api/v1/mailboxes/{SUPPORT}"),
        token,
        json!({"sla_policy": policy}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn ticket(app: &TestApp, token: &str, number: i64) -> Value {
    let (status, t) = api_json(
        &app.db,
        "GET",
        &format!("/api/v1/tickets/{number}"),
        token,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    t
}

async fn patch(app: &TestApp, token: &str, number: i64, body: Value) -> (StatusCode, Value) {
    api_json(
        &app.db,
        "PATCH",
        &format!("/api/v1/tickets/{number}"),
        token,
        body,
    )
    .await
}

fn time_of(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(
        v.as_str().unwrap_or_else(|| panic!("not a time: {v}")),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

fn events_of(t: &Value, kind: &str) -> Vec<Value> {
    t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

/// The first inbound message's receipt time.
async fn received_at(app: &TestApp, number: i64) -> OffsetDateTime {
    sqlx::query_scalar(
        "select min(received_at) from message where ticket_id = $1 and direction = 'inbound'",
    )
    .bind(number)
    .fetch_one(app.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn a_one_minute_first_response_breaches_at_its_due_instant_and_fires_the_rule_once_on_two_nodes()
 {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let p = policy(&app, &token, "One minute", 1, 1, 25).await;
    make_default(&app, &token, p).await;
    let (status, rule) = api_json(
        &app.db,
        "POST",
        "/api/v1/rules",
        &token,
        json!({"name": "Breach alarm", "trigger": "sla_breached",
               "conditions": {"all": []},
               "actions": [{"type": "add_tag", "tag": "breached"}],
               "mode": "every_time"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    // Received 55 s ago at our server: due in about 5 s.
    let received =
        OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - Duration::from_secs(55);
    deliver_received(
        &app,
        &mail(&random_name("breach"), "Printer on fire", None),
        received,
    )
    .await;
    app.ingest().await;
    let number = app.only_ticket_id().await;
    assert_eq!(received_at(&app, number).await, received);
    let t = ticket(&app, &token, number).await;
    assert_eq!(t["sla"]["policy"]["id"], p, "{}", t["sla"]);
    assert_eq!(
        time_of(&t["sla"]["first_response"]["due_at"]),
        received + Duration::from_secs(60),
        "due one minute after the receipt time, not the Date header"
    );
    assert_eq!(t["sla"]["first_response"]["breached_at"], Value::Null);
    assert_eq!(t["sla"]["next_response"], Value::Null);

    app.serve("node-a").await;
    app.serve("node-b").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let t = loop {
        let t = ticket(&app, &token, number).await;
        if !events_of(&t, "rule_fired").is_empty() || std::time::Instant::now() > deadline {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let first = &t["sla"]["first_response"];
    assert_eq!(
        time_of(&first["breached_at"]),
        received + Duration::from_secs(60),
        "stamped at the due instant: {first}"
    );
    assert_eq!(first["breached_at"], first["due_at"]);
    assert_eq!(first["achieved_at"], Value::Null);
    let breaches = events_of(&t, "sla_breached");
    assert_eq!(breaches.len(), 1, "{breaches:?}");
    assert_eq!(breaches[0]["detail"]["clock"], "first_response");
    assert_eq!(breaches[0]["detail"]["due_at"], first["due_at"]);
    let recorded = time_of(&breaches[0]["created_at"]);
    assert!(
        recorded - (received + Duration::from_secs(60)) < Duration::from_secs(5),
        "the event follows the due instant within 5 s (recorded {recorded})"
    );
    // Give both nodes a few more passes: still exactly one breach and one firing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let t = ticket(&app, &token, number).await;
    assert_eq!(events_of(&t, "sla_breached").len(), 1);
    assert_eq!(events_of(&t, "rule_fired").len(), 1);
    assert_eq!(t["tags"], json!(["breached"]));
    // The inbox's "SLA at risk" folder lists it, overdue.
    let mut tab = app.browser_for("admin@example.com").await;
    let page = tab.get("/inbox?folder=sla").await;
    assert!(page.body.contains("Printer on fire"), "{}", page.body);
    assert!(page.body.contains("sla-overdue"), "{}", page.body);
    // A late reply ends the clock; the breach stays.
    let (status, body) = api_json(
        &app.db,
        "POST",
        &format!("/api/v1/tickets/{number}/replies"),
        &token,
        json!({"text": "Sorry for the wait."}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let t = ticket(&app, &token, number).await;
    assert_eq!(t["sla"]["first_response"]["breached_at"], first["due_at"]);
    assert_eq!(t["sla"]["first_response"]["achieved_at"], Value::Null);
    app.finish().await;
}

#[tokio::test]
async fn pending_stops_the_clock_and_the_customers_reply_resumes_it() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let p = policy(&app, &token, "Hour", 60, 1, 25).await;
    make_default(&app, &token, p).await;
    let first_id = random_name("pending");
    app.mb
        .deliver("INBOX", &[&mail(&first_id, "Invoice question", None)])
        .await;
    app.ingest().await;
    let number = app.only_ticket_id().await;
    let t = ticket(&app, &token, number).await;
    let due = time_of(&t["sla"]["first_response"]["due_at"]);
    assert_eq!(
        due,
        received_at(&app, number).await + Duration::from_secs(3600)
    );

    let (status, t) = patch(&app, &token, number, json!({"status": "pending"})).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    for kind in ["first_response", "resolution"] {
        assert_eq!(t["sla"][kind]["paused"], true, "{kind}: {}", t["sla"]);
        assert_eq!(t["sla"][kind]["due_at"], Value::Null, "{kind}");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.mb
        .deliver(
            "INBOX",
            &[&mail(
                &random_name("reply"),
                "Re: Invoice question",
                Some(&first_id),
            )],
        )
        .await;
    app.ingest().await;
    let t = ticket(&app, &token, number).await;
    assert_eq!(t["status"], "open", "the customer's reply reopens it");
    let first = &t["sla"]["first_response"];
    assert_eq!(first["paused"], false, "{first}");
    // The due time moved by exactly the time the ticket was pending.
    let statuses = events_of(&t, "status_changed");
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    let paused = time_of(&statuses[1]["created_at"]) - time_of(&statuses[0]["created_at"]);
    assert!(paused >= Duration::from_millis(1500), "{paused}");
    assert_eq!(time_of(&first["due_at"]), due + paused);
    assert_eq!(
        t["sla"]["next_response"],
        Value::Null,
        "no reply of ours yet"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_reply_before_due_is_achieved_and_a_note_is_not_a_reply() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let p = policy(&app, &token, "Hour", 60, 1, 25).await;
    make_default(&app, &token, p).await;
    app.smtp_to_sink().await;
    let first_id = random_name("achieve");
    app.mb
        .deliver("INBOX", &[&mail(&first_id, "Password reset", None)])
        .await;
    app.ingest().await;
    let number = app.only_ticket_id().await;
    let (status, body) = api_json(
        &app.db,
        "POST",
        &format!("/api/v1/tickets/{number}/notes"),
        &token,
        json!({"text": "Looking into it"}),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let t = ticket(&app, &token, number).await;
    assert_eq!(t["sla"]["first_response"]["achieved_at"], Value::Null);
    let due = t["sla"]["first_response"]["due_at"].clone();

    let (status, body) = api_json(
        &app.db,
        "POST",
        &format!("/api/v1/tickets/{number}/replies"),
        &token,
        json!({"text": "Here is your reset link."}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let t = ticket(&app, &token, number).await;
    let first = &t["sla"]["first_response"];
    let reply_at: OffsetDateTime = sqlx::query_scalar(
        "select created_at from message where ticket_id = $1 and direction = 'outbound'",
    )
    .bind(number)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(time_of(&first["achieved_at"]), reply_at, "{first}");
    assert_eq!(first["breached_at"], Value::Null);
    assert_eq!(first["due_at"], due, "results keep their due time");
    // The customer writes again: a next-response clock starts at that message's receipt.
    app.mb
        .deliver(
            "INBOX",
            &[&mail(
                &random_name("again"),
                "Re: Password reset",
                Some(&first_id),
            )],
        )
        .await;
    app.ingest().await;
    let t = ticket(&app, &token, number).await;
    let next = &t["sla"]["next_response"];
    let last_in: OffsetDateTime = sqlx::query_scalar(
        "select max(received_at) from message where ticket_id = $1 and direction = 'inbound'",
    )
    .bind(number)
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(
        time_of(&next["due_at"]),
        last_in + Duration::from_secs(120 * 60),
        "{next}"
    );
    // The reply really left through the outbox to the SMTP sink.
    let addr = app.serve("node").await;
    let _ = addr;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let sent: i64 = scalar(
            app.pool(),
            "select count(*) from message where direction = 'outbound' and delivery_state = 'sent'",
        )
        .await;
        if sent == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reply was not sent"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.finish().await;
}

#[tokio::test]
async fn a_priority_change_and_a_policy_change_recompute_running_clocks_from_their_start() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let hour = policy(&app, &token, "Hour", 60, 5, 25).await;
    let two = policy(&app, &token, "Two hours", 120, 10, 25).await;
    app.mb
        .deliver("INBOX", &[&mail(&random_name("prio"), "Server down", None)])
        .await;
    app.ingest().await;
    let number = app.only_ticket_id().await;
    let start = received_at(&app, number).await;
    let t = ticket(&app, &token, number).await;
    assert_eq!(t["sla"], Value::Null, "no mailbox default: no policy");

    // A policy applied later starts the clocks from the ticket's history.
    let (status, t) = patch(&app, &token, number, json!({"sla_policy": hour})).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["sla"]["policy"], json!({"id": hour, "name": "Hour"}));
    assert_eq!(
        time_of(&t["sla"]["first_response"]["due_at"]),
        start + Duration::from_secs(3600)
    );
    assert_eq!(events_of(&t, "sla_policy_changed").len(), 1);

    let (status, t) = patch(&app, &token, number, json!({"priority": "urgent"})).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(
        time_of(&t["sla"]["first_response"]["due_at"]),
        start + Duration::from_secs(5 * 60),
        "urgent: 5 minutes from the start"
    );
    assert_eq!(
        time_of(&t["sla"]["resolution"]["due_at"]),
        start + Duration::from_secs(600 * 60)
    );

    let (status, t) = patch(&app, &token, number, json!({"sla_policy": two})).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(
        time_of(&t["sla"]["first_response"]["due_at"]),
        start + Duration::from_secs(10 * 60)
    );

    // Editing the policy recomputes too.
    let (status, body) = api_json(
        &app.db,
        "PATCH",
        &format!("/api/v1/sla-policies/{two}"),
        &token,
        json!({"targets": {"urgent": {"first_response": 15}}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let t = ticket(&app, &token, number).await;
    assert_eq!(
        time_of(&t["sla"]["first_response"]["due_at"]),
        start + Duration::from_secs(15 * 60)
    );

    // Unknown policies are refused and change nothing; null removes the policy.
    let (status, body) = patch(&app, &token, number, json!({"sla_policy": 999_999})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, t) = patch(&app, &token, number, json!({"sla_policy": null})).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["sla"], Value::Null);
    let running: i64 = scalar(app.pool(), "select count(*) from sla_clock").await;
    assert_eq!(running, 0, "clocks without a result are removed");
    app.finish().await;
}

#[tokio::test]
async fn a_warning_wakes_a_snoozed_ticket_and_a_rule_can_apply_a_policy() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    // Warn when 99% is left: one second after the start.
    let p = policy(&app, &token, "Gold", 1, 1, 99).await;
    let (status, rule) = api_json(
        &app.db,
        "POST",
        "/api/v1/rules",
        &token,
        json!({"name": "Gold for everyone", "trigger": "ticket_created",
               "conditions": {"all": []},
               "actions": [{"type": "apply_sla", "policy": "Gold"}],
               "mode": "once_per_ticket"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    app.mb
        .deliver("INBOX", &[&mail(&random_name("warn"), "Renewal", None)])
        .await;
    app.ingest().await;
    let number = app.only_ticket_id().await;
    let t = ticket(&app, &token, number).await;
    assert_eq!(t["sla"]["policy"]["id"], p, "{}", t["sla"]);
    let until = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    let mut tx = app.pool().begin().await.unwrap();
    frontdesk::tickets::actions::set_status(
        &mut tx,
        frontdesk::tickets::timeline::Actor::System,
        None,
        number,
        frontdesk::tickets::TicketStatus::Snoozed,
        Some(until),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let outcome = frontdesk::sla::monitor::run_once(app.pool()).await.unwrap();
    assert!(outcome.warnings >= 1, "{outcome:?}");
    let t = ticket(&app, &token, number).await;
    assert_eq!(t["status"], "open", "the warning woke the snoozed ticket");
    let warnings = events_of(&t, "sla_warning");
    assert!(
        warnings
            .iter()
            .any(|w| w["detail"]["clock"] == "first_response"),
        "{warnings:?}"
    );
    // Snoozed did not pause the clock.
    assert_eq!(t["sla"]["first_response"]["paused"], false);
    // A second pass announces nothing again.
    let again = frontdesk::sla::monitor::run_once(app.pool()).await.unwrap();
    assert_eq!(again.warnings, 0);
    app.finish().await;
}

#[tokio::test]
async fn the_inbox_sorts_by_due_soonest_and_the_sidebar_shows_each_clock() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let hour = policy(&app, &token, "Hour", 60, 5, 25).await;
    app.mb
        .deliver(
            "INBOX",
            &[
                &mail(&random_name("a"), "Alpha within the hour", None),
                &mail(&random_name("b"), "Bravo urgent", None),
                &mail(&random_name("c"), "Charlie without SLA", None),
            ],
        )
        .await;
    app.ingest().await;
    let a = ticket_by_subject(&app.db, "Alpha%").await;
    let b = ticket_by_subject(&app.db, "Bravo%").await;
    let mut tab = app.browser_for("admin@example.com").await;
    // The sidebar's policy field saves itself like the others.
    for n in [a, b] {
        let (status, body) = tab
            .post_json(
                &format!("/tickets/{n}/sla-policy"),
                &[("sla_policy", &hour.to_string())],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, t) = patch(&app, &token, b, json!({"priority": "urgent"})).await;
    assert_eq!(status, StatusCode::OK, "{t}");

    let page = tab.get("/inbox?folder=open&sort=due").await.body;
    let at = |s: &str| {
        page.find(s)
            .unwrap_or_else(|| panic!("{s} missing: {page}"))
    };
    assert!(
        at("Bravo urgent") < at("Alpha within the hour"),
        "nearest due first"
    );
    assert!(
        at("Alpha within the hour") < at("Charlie without SLA"),
        "no SLA last"
    );
    assert!(page.contains("class=\"sla-due sla-running\""), "{page}");
    assert!(
        page.contains(">59 min<") || page.contains(">1 h<"),
        "{page}"
    );

    let page = tab.get(&format!("/tickets/{b}")).await.body;
    let sidebar = &page[page.find("<aside").unwrap()..page.find("</aside>").unwrap()];
    assert!(sidebar.contains("First response"), "{sidebar}");
    assert!(
        sidebar.contains("due in 4 min") || sidebar.contains("due in 5 min"),
        "{sidebar}"
    );
    assert!(sidebar.contains("Resolution"), "{sidebar}");
    assert!(
        !sidebar.contains("Next response"),
        "no cycle yet: {sidebar}"
    );
    assert!(
        sidebar.contains(&format!("<option value=\"{hour}\" selected>Hour</option>")),
        "{sidebar}"
    );
    // Pending: the sidebar says paused.
    let (status, _) = patch(&app, &token, b, json!({"status": "pending"})).await;
    assert_eq!(status, StatusCode::OK);
    let page = tab.get(&format!("/tickets/{b}")).await.body;
    assert!(page.contains("sla-clock sla-paused"), "{page}");
    // The policy can be taken off from the sidebar.
    let (status, body) = tab
        .post_json(
            &format!("/tickets/{b}/sla-policy"),
            &[("sla_policy", "none")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ticket(&app, &token, b).await["sla"], Value::Null);
    app.finish().await;
}

#[tokio::test]
async fn a_policy_edit_and_a_change_on_one_of_its_tickets_both_complete() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let hour = policy(&app, &token, "Hour", 60, 5, 25).await;
    make_default(&app, &token, hour).await;
    app.mb
        .deliver("INBOX", &[&mail(&random_name("lock"), "Locks", None)])
        .await;
    app.ingest().await;
    let number = app.only_ticket_id().await;
    let start = received_at(&app, number).await;

    // A ticket change holds the ticket's row, as the one path for ticket changes does...
    let mut change = app.pool().begin().await.unwrap();
    sqlx::query("select 1 from ticket where ticket_id = $1 for update")
        .bind(number)
        .execute(&mut *change)
        .await
        .unwrap();
    let path = format!("/api/v1/sla-policies/{hour}");
    let edit = api_json(
        &app.db,
        "PATCH",
        &path,
        &token,
        json!({"targets": {"normal": {"first_response": 90}}}),
    );
    let change_side = async {
        // ...while the policy edit waits for it (and must hold none of its clocks)...
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let waiting: i64 = scalar(
                app.pool(),
                "select count(*) from pg_stat_activity
                 where datname = current_database() and wait_event_type = 'Lock'",
            )
            .await;
            if waiting > 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the edit never waited"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // ...then the change goes on to the ticket's clocks, as `clocks::load` does.
        sqlx::query("select 1 from sla_clock where ticket_id = $1 for update")
            .bind(number)
            .execute(&mut *change)
            .await
            .expect("the ticket change completes (no deadlock)");
        change.commit().await.unwrap();
    };
    let ((status, body), ()) = tokio::join!(edit, change_side);
    assert_eq!(status, StatusCode::OK, "the policy edit completes: {body}");
    let t = ticket(&app, &token, number).await;
    assert_eq!(
        time_of(&t["sla"]["first_response"]["due_at"]),
        start + Duration::from_secs(90 * 60)
    );
    app.finish().await;
}

#[tokio::test]
async fn the_seeders_clocks_are_settled_and_a_backlog_of_overdue_clocks_drains_in_one_pass() {
    let db = TestDb::new().await;
    run_seeder(&db, &["--tickets", "700", "--agents", "3", "--seed", "5"]).await;
    let clocks: i64 = sqlx::query_scalar("select count(*) from sla_clock")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(clocks > 600, "{clocks} seeded clocks");
    // Every seeded clock has ended (met or missed): nothing is left for the worker.
    let outcome = frontdesk::sla::monitor::run_once(&db.pool).await.unwrap();
    assert_eq!(outcome, frontdesk::sla::monitor::Outcome::default());

    // The workers were down while more than one batch of clocks fell due.
    let overdue = sqlx::query(
        "update sla_clock set stopped_at = null, achieved_at = null, breached_at = null",
    )
    .execute(&db.pool)
    .await
    .unwrap()
    .rows_affected() as i64;
    assert!(
        overdue > 500,
        "{overdue} overdue clocks, more than one batch"
    );
    sqlx::query("update ticket set sla_at_risk = false")
        .execute(&db.pool)
        .await
        .unwrap();
    let last_event: i64 =
        sqlx::query_scalar("select coalesce(max(ticket_event_id), 0) from ticket_event")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let outcome = frontdesk::sla::monitor::run_once(&db.pool).await.unwrap();
    assert_eq!(outcome.breaches as i64, overdue);
    let (events, tickets, clock_tickets, at_risk): (i64, i64, i64, i64) = sqlx::query_as(
        "select count(*) filter (where kind = 'sla_breached'),
                count(distinct ticket_id) filter (where kind = 'sla_breached'),
                (select count(distinct ticket_id) from sla_clock),
                (select count(*) from ticket where sla_at_risk)
         from ticket_event where ticket_event_id > $1",
    )
    .bind(last_event)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(events, overdue, "one event per clock");
    assert_eq!((tickets, at_risk), (clock_tickets, clock_tickets));
    // Stamped at the due instant, and a second pass finds nothing.
    let off: i64 = sqlx::query_scalar(
        "select count(*) from sla_clock where breached_at is distinct from due_at",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(off, 0);
    let again = frontdesk::sla::monitor::run_once(&db.pool).await.unwrap();
    assert_eq!(again, frontdesk::sla::monitor::Outcome::default());
    db.drop_db().await;
}

#[tokio::test]
async fn one_batch_of_old_and_new_mail_moves_each_tickets_clocks_as_mail_by_mail_would() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let p = policy(&app, &token, "Hour", 60, 1, 25).await;
    make_default(&app, &token, p).await;
    // A rule on breaches changes the tickets that the batch itself creates.
    let (status, rule) = api_json(
        &app.db,
        "POST",
        "/api/v1/rules",
        &token,
        json!({"name": "Late", "trigger": "sla_breached", "conditions": {"all": []},
               "actions": [{"type": "add_tag", "tag": "late"}], "mode": "every_time"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    // Two days old (a backlog imported late): both clocks of each ticket are long past due.
    // The reply to the first comes in the same batch; the last mail is new.
    let old =
        OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - Duration::from_secs(2 * 86400);
    let (a, c) = (random_name("old-a"), random_name("old-c"));
    deliver_received(&app, &mail(&a, "Old order", None), old).await;
    deliver_received(
        &app,
        &mail(&random_name("old-b"), "Re: Old order", Some(&a)),
        old + Duration::from_secs(60),
    )
    .await;
    deliver_received(
        &app,
        &mail(&c, "Old refund", None),
        old + Duration::from_secs(120),
    )
    .await;
    app.mb
        .deliver(
            "INBOX",
            &[&mail(&random_name("new-d"), "New question", None)],
        )
        .await;
    let counts = app.ingest().await;
    assert_eq!((counts.new_tickets, counts.threaded), (3, 1), "{counts}");

    let numbers: Vec<(i64, String)> =
        sqlx::query_as("select ticket_id, subject from ticket order by ticket_id")
            .fetch_all(app.pool())
            .await
            .unwrap();
    for (number, subject) in numbers {
        let t = ticket(&app, &token, number).await;
        let received = received_at(&app, number).await;
        let breaches = events_of(&t, "sla_breached");
        let first = &t["sla"]["first_response"];
        let resolution = &t["sla"]["resolution"];
        let at_risk: bool =
            sqlx::query_scalar("select sla_at_risk from ticket where ticket_id = $1")
                .bind(number)
                .fetch_one(app.pool())
                .await
                .unwrap();
        if subject == "New question" {
            assert_eq!(
                time_of(&first["due_at"]),
                received + Duration::from_secs(3600)
            );
            assert_eq!(first["breached_at"], Value::Null);
            assert!(breaches.is_empty(), "{breaches:?}");
            assert!(!at_risk);
            continue;
        }
        // Each breach stamped at its due instant, once, with one event per clock; the
        // customer's second mail starts no next response before our first reply.
        assert_eq!(
            time_of(&first["breached_at"]),
            received + Duration::from_secs(3600),
            "{subject}: {first}"
        );
        assert_eq!(
            time_of(&resolution["breached_at"]),
            received + Duration::from_secs(600 * 60),
            "{subject}: {resolution}"
        );
        assert_eq!(t["sla"]["next_response"], Value::Null, "{subject}");
        let mut kinds: Vec<&str> = breaches
            .iter()
            .map(|e| e["detail"]["clock"].as_str().unwrap())
            .collect();
        kinds.sort_unstable();
        assert_eq!(
            kinds,
            ["first_response", "resolution"],
            "{subject}: {breaches:?}"
        );
        assert!(at_risk, "{subject}");
        assert_eq!(t["tags"], json!(["late"]), "{subject}");
    }
    // The new tickets' metric rows, written after their clocks and before the breach rules,
    // carry the tags those rules added.
    let tagged: Vec<(String, i64)> = sqlx::query_as(
        "select t.subject, cardinality(m.ticket_tag_ids)::int8
         from ticket t join ticket_metric m using (ticket_id) order by t.ticket_id",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        tagged,
        [
            ("Old order".to_string(), 1),
            ("Old refund".to_string(), 1),
            ("New question".to_string(), 0)
        ]
    );
    let clocks: i64 = scalar(app.pool(), "select count(*) from sla_clock").await;
    assert_eq!(clocks, 6, "two clocks per ticket");
    // The clocks' copies of their tickets, written with them, equal the fill triggers' values;
    // the metric rows carry the results.
    let wrong_copies: i64 = scalar(
        app.pool(),
        "select count(*) from sla_clock c join ticket t using (ticket_id)
         where (c.ticket_mailbox_id, c.ticket_team_id, c.ticket_assignee_agent_id, c.ticket_priority,
                c.ticket_customer_id, c.ticket_customer_stage_id, c.ticket_customer_vip, c.ticket_excluded)
               is distinct from
               (t.mailbox_id, t.team_id, t.assignee_agent_id, t.priority, t.customer_id,
                customer_effective_stage(t.customer_id), customer_effective_vip(t.customer_id), false)
            or c.ticket_customer_id is null",
    )
    .await;
    assert_eq!(wrong_copies, 0);
    let results: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "select t.subject, m.sla_first_response, m.sla_resolution
         from ticket t join ticket_metric m using (ticket_id) order by t.ticket_id",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    let results: Vec<(&str, Option<&str>, Option<&str>)> = results
        .iter()
        .map(|(s, f, r)| (s.as_str(), f.as_deref(), r.as_deref()))
        .collect();
    assert_eq!(
        results,
        [
            ("Old order", Some("breached"), Some("breached")),
            ("Old refund", Some("breached"), Some("breached")),
            ("New question", Some("running"), Some("running")),
        ]
    );
    app.finish().await;
}
