//! Routing rules through the real poller and the real API: a rule fires on new mail and the
//! timeline says why, round robin skips an away agent, a `time` rule fires once per ticket with
//! two schedulers racing, rules do not trigger themselves and stop at the hourly cap, the dry
//! run agrees with the real run, and the API refuses bad rules naming the part.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// A plain customer mail to support@example.com.
fn mail(i: usize, from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Customer {i} <{from}>\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <rule-test-{i}-{}@example.net>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello, message {i}.\r\n",
        random_name("m")
    )
    .into_bytes()
}

async fn deliver(app: &TestApp, mails: &[Vec<u8>]) {
    let raw: Vec<&[u8]> = mails.iter().map(Vec::as_slice).collect();
    app.mb.deliver("INBOX", &raw).await;
}

/// An admin and their API token.
async fn admin_token(app: &TestApp) -> String {
    let id = app
        .agent("admin@example.com", "Ada Admin", Role::Admin)
        .await;
    frontdesk::auth::create_api_token(app.pool(), id)
        .await
        .unwrap()
}

/// A team working the test mailbox, with these members and assignment mode.
async fn team(app: &TestApp, name: &str, members: &[i64], mode: &str) -> i64 {
    let id: i64 =
        sqlx::query_scalar("insert into team (name, assignment) values ($1, $2) returning team_id")
            .bind(name)
            .bind(mode)
            .fetch_one(app.pool())
            .await
            .unwrap();
    for m in members {
        sqlx::query("insert into team_member values ($1, $2)")
            .bind(id)
            .bind(m)
            .execute(app.pool())
            .await
            .unwrap();
    }
    sqlx::query("insert into team_mailbox values ($1, $2)")
        .bind(id)
        .bind(app.mb.mailbox_id)
        .execute(app.pool())
        .await
        .unwrap();
    id
}

async fn create_rule(app: &TestApp, token: &str, rule: Value) -> i64 {
    let (status, body) = api_json(&app.db, "POST", "/api/v1/rules", token, rule).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

fn events_of(ticket: &Value, kind: &str) -> Vec<Value> {
    ticket["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_rule_routes_new_mail_and_the_timeline_says_why() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let dana = app.agent("dana@example.com", "Dana Lee", Role::Agent).await;
    team(&app, "Billing", &[dana], "round_robin").await;
    let rule = create_rule(
        &app,
        &token,
        json!({"name": "Refunds to Billing", "trigger": "ticket_created",
               "conditions": {"all": [{"field": "subject", "op": "contains", "value": "refund"},
                                      {"field": "mailbox", "op": "is", "value": "support@example.com"}]},
               "actions": [{"type": "assign_team", "team": "Billing"}, {"type": "add_tag", "tag": "refund"},
                           {"type": "set_priority", "priority": "high"}],
               "mode": "once_per_ticket"}),
    )
    .await;
    deliver(
        &app,
        &[
            mail(1, "ann@example.net", "Refund please"),
            mail(2, "bob@example.net", "Where is my parcel"),
        ],
    )
    .await;
    let started = std::time::Instant::now();
    app.ingest().await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    let refund = ticket_json(app.pool(), ticket_by_subject(&app.db, "Refund%").await).await;
    assert_eq!(refund["team"], "Billing");
    assert_eq!(refund["assignee"], "dana@example.com");
    assert_eq!(refund["priority"], "high");
    assert_eq!(refund["tags"], json!(["refund"]));
    let fired = events_of(&refund, "rule_fired");
    assert_eq!(fired.len(), 1, "{refund}");
    let detail = &fired[0]["detail"];
    assert_eq!(
        detail["rule"],
        json!({"id": rule, "name": "Refunds to Billing"})
    );
    assert_eq!(
        detail["matched"],
        json!([
            "subject contains 'refund'",
            "mailbox is support@example.com"
        ])
    );
    assert!(
        detail["changes"][0]
            .as_str()
            .unwrap()
            .contains("assigned to Dana Lee"),
        "{detail}"
    );
    // the changes themselves name the rule as actor
    let assigned = events_of(&refund, "assigned");
    assert_eq!(assigned[0]["actor"], "rule");
    assert_eq!(assigned[0]["rule_id"], rule);

    let other = ticket_json(app.pool(), ticket_by_subject(&app.db, "Where%").await).await;
    assert!(events_of(&other, "rule_fired").is_empty());
    assert_eq!(other["team"], Value::Null);

    // the ticket page tells the agent why
    let mut dana_tab = app.browser_for("dana@example.com").await;
    let page = dana_tab
        .get(&format!("/tickets/{}", refund["number"]))
        .await;
    assert!(page.body.contains("Refunds to Billing"), "{}", page.body);
    assert!(
        page.body.contains("because subject contains"),
        "{}",
        page.body
    );

    let (_, rules) = api_json(&app.db, "GET", "/api/v1/rules", &token, Value::Null).await;
    assert_eq!(rules["rules"][0]["fire_count"], 1);
    app.finish().await;
}

#[tokio::test]
async fn round_robin_shares_thirty_mails_between_the_two_available_agents() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let a = app.agent("a@example.com", "Agent A", Role::Agent).await;
    let b = app.agent("b@example.com", "Agent B", Role::Agent).await;
    let c = app.agent("c@example.com", "Agent C", Role::Agent).await;
    execute_for(
        app.pool(),
        "update agent set available = false where agent_id = $1",
        c,
    )
    .await;
    team(&app, "Support", &[a, b, c], "round_robin").await;
    create_rule(
        &app,
        &token,
        json!({"name": "Everything to Support", "trigger": "ticket_created",
               "conditions": {"all": []}, "actions": [{"type": "assign_team", "team": "Support"}]}),
    )
    .await;
    let mails: Vec<Vec<u8>> = (0..30)
        .map(|i| mail(i, &format!("c{i}@example.net"), &format!("Question {i}")))
        .collect();
    deliver(&app, &mails).await;
    app.ingest().await;
    let counts: Vec<(Option<String>, i64)> = sqlx::query_as(
        "select a.email, count(*) from ticket t left join agent a on a.agent_id = t.assignee_agent_id
         group by a.email order by a.email",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        counts,
        vec![
            (Some("a@example.com".into()), 15),
            (Some("b@example.com".into()), 15)
        ]
    );
    app.finish().await;
}

#[tokio::test]
async fn least_loaded_respects_caps_and_leaves_the_rest_unassigned() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let a = app.agent("a@example.com", "Agent A", Role::Agent).await;
    let b = app.agent("b@example.com", "Agent B", Role::Agent).await;
    execute_for(
        app.pool(),
        "update agent set max_open_tickets = 2 where agent_id = $1",
        a,
    )
    .await;
    execute_for(
        app.pool(),
        "update agent set max_open_tickets = 3 where agent_id = $1",
        b,
    )
    .await;
    team(&app, "Support", &[a, b], "least_loaded").await;
    create_rule(
        &app,
        &token,
        json!({"name": "To Support", "trigger": "ticket_created", "conditions": {"all": []},
               "actions": [{"type": "assign_team", "team": "Support"}]}),
    )
    .await;
    let mails: Vec<Vec<u8>> = (0..8)
        .map(|i| mail(i, &format!("c{i}@example.net"), &format!("Q {i}")))
        .collect();
    deliver(&app, &mails).await;
    app.ingest().await;
    let a_open: i64 = scalar_for(
        app.pool(),
        "select count(*) from ticket where assignee_agent_id = $1",
        a,
    )
    .await;
    let b_open: i64 = scalar_for(
        app.pool(),
        "select count(*) from ticket where assignee_agent_id = $1",
        b,
    )
    .await;
    let unassigned: i64 = scalar(
        app.pool(),
        "select count(*) from ticket where assignee_agent_id is null",
    )
    .await;
    assert_eq!((a_open, b_open, unassigned), (2, 3, 3));
    app.finish().await;
}

#[tokio::test]
async fn a_time_rule_fires_once_per_ticket_with_two_schedulers_racing() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    // unique to this run: the SMTP sink is shared by every test
    let lead_email = format!("{}@example.com", random_name("lead"));
    let lead = app.agent(&lead_email, "Lee Lead", Role::Lead).await;
    create_rule(
        &app,
        &token,
        json!({"name": "Unassigned for a minute", "trigger": "time",
               "conditions": {"all": [{"field": "minutes_unassigned", "op": "gt", "value": 1},
                                      {"field": "status", "op": "is", "value": "open"}]},
               "actions": [{"type": "notify", "agents": [lead_email], "message": "Nobody took this"}],
               "mode": "once_per_ticket"}),
    )
    .await;
    deliver(
        &app,
        &[
            mail(1, "ann@example.net", "Old one"),
            mail(2, "bob@example.net", "Another old one"),
            mail(3, "cy@example.net", "Fresh one"),
        ],
    )
    .await;
    app.ingest().await;
    // two of them have waited two minutes
    sqlx::query(
        "update ticket set created_at = now() - interval '2 minutes' where subject ilike '%old one'",
    )
    .execute(app.pool())
    .await
    .unwrap();
    // a second pool stands for a second node
    let other = sqlx::PgPool::connect(&app.db.url).await.unwrap();
    for _ in 0..3 {
        let (x, y) = tokio::join!(
            frontdesk::rules::engine::run_time_rules(app.pool()),
            frontdesk::rules::engine::run_time_rules(&other)
        );
        x.unwrap();
        y.unwrap();
    }
    let per_ticket: Vec<(String, i64)> = sqlx::query_as(
        "select t.subject, count(n.notification_id) from ticket t
         left join notification n on n.ticket_id = t.ticket_id and n.agent_id = $1 and n.kind = 'rule'
         group by t.subject order by t.subject",
    )
    .bind(lead)
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        per_ticket,
        vec![
            ("Another old one".into(), 1),
            ("Fresh one".into(), 0),
            ("Old one".into(), 1)
        ]
    );
    let fired: i64 = scalar(
        app.pool(),
        "select count(*) from ticket_event where kind = 'rule_fired'",
    )
    .await;
    assert_eq!(fired, 2);
    // the lead sees it among their notifications
    let mut tab = app.browser_for(&lead_email).await;
    assert!(
        tab.get("/notifications")
            .await
            .body
            .contains("Nobody took this")
    );
    // and gets one mail per notification, however many nodes' mail workers race
    app.smtp_to_sink().await;
    let public_url = "https://desk.example.com";
    for _ in 0..2 {
        let (x, y) = tokio::join!(
            frontdesk::tickets::notification_mail::send_due(app.pool(), public_url),
            frontdesk::tickets::notification_mail::send_due(&other, public_url)
        );
        x.unwrap();
        y.unwrap();
    }
    let queued: i64 = scalar(
        app.pool(),
        "select count(*) from outbox where notification_id is not null",
    )
    .await;
    assert_eq!(queued, 2);
    frontdesk::outbox::send_due(app.pool()).await.unwrap();
    frontdesk::outbox::send_due(app.pool()).await.unwrap();
    let mails = crate::support::smtp::received_for(&crate::support::smtp::sink_dir(), &lead_email);
    assert_eq!(mails.len(), 2, "one mail per notified ticket");
    let subjects: Vec<String> = mails
        .iter()
        .map(|m| m.header("Subject").unwrap_or_default())
        .collect();
    for subject in [
        "Nobody took this: Another old one",
        "Nobody took this: Old one",
    ] {
        assert!(
            subjects.iter().any(|s| s.ends_with(subject)),
            "{subjects:?}"
        );
    }
    assert!(
        mails.iter().all(|m| String::from_utf8_lossy(&m.raw)
            .contains("Open the ticket: https://desk.example.com/tickets/")),
        "the mail links to the ticket"
    );
    other.close().await;
    app.finish().await;
}

#[tokio::test]
async fn rule_changes_do_not_trigger_rules_and_the_hourly_cap_stops_the_rest() {
    let app = TestApp::with_mail(&["18-empty-body-subject-only.eml"]).await;
    let token = admin_token(&app).await;
    let admin: i64 = scalar(
        app.pool(),
        "select agent_id from agent where email = 'admin@example.com'",
    )
    .await;
    let number = app.only_ticket_id().await;
    // would loop forever if a rule's own change triggered rules
    create_rule(
        &app,
        &token,
        json!({"name": "Tag echo", "trigger": "tags_changed", "conditions": {"all": []},
               "actions": [{"type": "add_tag", "tag": "seen-by-rule"}], "mode": "every_time"}),
    )
    .await;
    create_rule(
        &app,
        &token,
        json!({"name": "Priority echo", "trigger": "priority_changed", "conditions": {"all": []},
               "actions": [{"type": "add_note", "body": "priority moved"}], "mode": "every_time"}),
    )
    .await;
    let actor = frontdesk::tickets::timeline::Actor::Agent(admin);
    frontdesk::tickets::actions::set_tags(app.pool(), actor, None, number, &["vip".to_string()])
        .await
        .unwrap();
    let tags: Vec<String> = sqlx::query_scalar(
        "select g.name from ticket_tag tt join tag g using (tag_id) where tt.ticket_id = $1 order by g.name",
    )
    .bind(number)
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(tags, vec!["seen-by-rule", "vip"]);
    let fired: i64 = scalar(
        app.pool(),
        "select count(*) from ticket_event where kind = 'rule_fired'",
    )
    .await;
    assert_eq!(fired, 1, "the rule's own tag change did not fire it again");

    // twelve agent changes in a row: the cap (10 firings per ticket per hour) stops the rest
    for i in 0..12 {
        let p = if i % 2 == 0 {
            frontdesk::tickets::Priority::High
        } else {
            frontdesk::tickets::Priority::Low
        };
        frontdesk::tickets::actions::set_priority(app.pool(), actor, None, number, p)
            .await
            .unwrap();
    }
    let fired: i64 = scalar(
        app.pool(),
        "select count(*) from ticket_event where kind = 'rule_fired'",
    )
    .await;
    assert_eq!(fired, 10);
    app.finish().await;
}

#[tokio::test]
async fn the_dry_run_matches_the_real_run_and_writes_nothing() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let rule = json!({"name": "Example customers", "trigger": "ticket_created",
        "conditions": {"any": [{"field": "from", "op": "is", "value": "@example.net"},
                               {"field": "subject", "op": "matches", "value": "^urgent"}]},
        "actions": [{"type": "add_tag", "tag": "example"}, {"type": "set_priority", "priority": "urgent"}]});
    create_rule(&app, &token, rule.clone()).await;
    deliver(
        &app,
        &[
            mail(1, "ann@example.net", "Hello"),
            mail(2, "bob@other.org", "URGENT: down"),
            mail(3, "cy@other.org", "Just asking"),
            mail(4, "di@sub.example.net", "Hi"),
        ],
    )
    .await;
    app.ingest().await;
    let events_before: i64 = scalar(app.pool(), "select count(*) from ticket_event").await;
    let (status, body) = api_json(
        &app.db,
        "POST",
        "/api/v1/rules/dry-run",
        &token,
        json!({"rule": rule, "last": 100}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut dry: Vec<(i64, bool)> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["number"].as_i64().unwrap(),
                r["matched"].as_bool().unwrap(),
            )
        })
        .collect();
    dry.sort();
    let mut real: Vec<(i64, bool)> = sqlx::query_as(
        "select t.ticket_id, exists(select 1 from ticket_event e where e.ticket_id = t.ticket_id and e.kind = 'rule_fired')
         from ticket t order by t.ticket_id",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    real.sort();
    assert_eq!(dry, real);
    assert_eq!(real.iter().filter(|r| r.1).count(), 2);
    let unmatched = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subject"] == "Just asking")
        .unwrap();
    assert_eq!(
        unmatched["failed_condition"]["any"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let matched = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subject"] == "Hello")
        .unwrap();
    assert_eq!(
        matched["actions"],
        json!(["added tag example", "set priority to urgent"])
    );
    let events_after: i64 = scalar(app.pool(), "select count(*) from ticket_event").await;
    assert_eq!(events_before, events_after, "the dry run wrote nothing");
    app.finish().await;
}

#[tokio::test]
async fn the_rules_api_refuses_bad_rules_naming_the_part_and_non_admins() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let lead = app.agent("lead@example.com", "Lee", Role::Lead).await;
    let agent = app.agent("agent@example.com", "Ag", Role::Agent).await;
    let lead_token = frontdesk::auth::create_api_token(app.pool(), lead)
        .await
        .unwrap();
    let agent_token = frontdesk::auth::create_api_token(app.pool(), agent)
        .await
        .unwrap();
    let good = json!({"name": "R", "trigger": "ticket_created", "conditions": {"all": []},
                      "actions": [{"type": "add_tag", "tag": "x"}]});
    for (bad, names) in [
        (
            json!({"name": "R", "trigger": "ticket_created", "conditions": {"all": [{"field": "subject", "op": "containz", "value": "x"}]}, "actions": [{"type": "add_tag", "tag": "x"}]}),
            "conditions.all[0].op",
        ),
        (
            json!({"name": "R", "trigger": "ticket_created", "conditions": {"all": []}, "actions": [{"type": "assign_team", "team": "Nope"}]}),
            "actions[0].team",
        ),
        (
            json!({"name": "R", "trigger": "ticket_created", "conditions": {"all": [{"field": "subject", "op": "matches", "value": "(unclosed"}]}, "actions": [{"type": "add_tag", "tag": "x"}]}),
            "conditions.all[0].value",
        ),
        (
            json!({"name": "R", "trigger": "sometimes", "conditions": {"all": []}, "actions": [{"type": "add_tag", "tag": "x"}]}),
            "trigger",
        ),
        (
            json!({"name": "R", "trigger": "ticket_created", "conditions": {"all": []}, "actions": [{"type": "fly"}]}),
            "actions[0].type",
        ),
    ] {
        let (status, body) = api_json(&app.db, "POST", "/api/v1/rules", &token, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["error"].as_str().unwrap().contains(names),
            "{body} should name {names}"
        );
    }
    for t in [&lead_token, &agent_token] {
        for (method, path) in [
            ("GET", "/api/v1/rules"),
            ("POST", "/api/v1/rules"),
            ("POST", "/api/v1/rules/dry-run"),
            ("POST", "/api/v1/rules/reorder"),
            ("PATCH", "/api/v1/rules/1"),
            ("DELETE", "/api/v1/rules/1"),
        ] {
            let (status, body) = api_json(&app.db, method, path, t, good.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
            assert!(body["error"].is_string());
        }
    }
    let first = create_rule(&app, &token, good.clone()).await;
    let second = create_rule(&app, &token, json!({"name": "S", "trigger": "customer_replied", "conditions": {"any": [{"field": "tags", "op": "contains", "value": "vip"}]}, "actions": [{"type": "set_priority", "priority": "high"}], "mode": "on_state_entry", "stop": true})).await;
    let (status, body) = api_json(
        &app.db,
        "POST",
        "/api/v1/rules/reorder",
        &token,
        json!({"ids": [second, first]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rules"][0]["id"], second);
    assert_eq!(body["rules"][0]["stop"], true);
    let (status, _) = api_json(
        &app.db,
        "POST",
        "/api/v1/rules/reorder",
        &token,
        json!({"ids": [second]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = api_json(
        &app.db,
        "PATCH",
        &format!("/api/v1/rules/{first}"),
        &token,
        json!({"enabled": false, "name": "Renamed"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["enabled"].clone(), body["name"].clone()),
        (json!(false), json!("Renamed"))
    );
    let (status, _) = api_json(
        &app.db,
        "DELETE",
        &format!("/api/v1/rules/{first}"),
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = api_json(&app.db, "GET", "/api/v1/rules", &token, Value::Null).await;
    assert_eq!(list["rules"].as_array().unwrap().len(), 1);
    let audit: Vec<String> = sqlx::query_scalar(
        "select action from audit_event where action like 'rule.%' order by audit_event_id",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        audit,
        vec![
            "rule.create",
            "rule.create",
            "rule.reorder",
            "rule.update",
            "rule.delete"
        ]
    );
    app.finish().await;
}

#[tokio::test]
async fn an_automatic_reply_goes_once_a_day_and_never_to_automated_mail() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    sqlx::query("insert into saved_reply (name, body) values ('Thanks', 'Hello {{customer.first_name}}, we got ticket #{{ticket.number}}.')")
        .execute(app.pool())
        .await
        .unwrap();
    create_rule(
        &app,
        &token,
        json!({"name": "Acknowledge", "trigger": "customer_replied", "conditions": {"all": []},
               "actions": [{"type": "send_saved_reply", "saved_reply": "Thanks"}], "mode": "every_time"}),
    )
    .await;
    create_rule(
        &app,
        &token,
        json!({"name": "Acknowledge new", "trigger": "ticket_created", "conditions": {"all": []},
               "actions": [{"type": "send_saved_reply", "saved_reply": "Thanks"}]}),
    )
    .await;
    let first = mail(1, "ann@example.net", "Printer broken");
    let id = String::from_utf8_lossy(&first)
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: ").map(str::to_string))
        .unwrap();
    let follow_up = format!(
        "From: Ann <ann@example.net>\r\nTo: support@example.com\r\nSubject: Re: Printer broken\r\n\
         Message-ID: <{}@example.net>\r\nIn-Reply-To: {id}\r\nReferences: {id}\r\n\
         Date: Thu, 03 Dec 2026 10:05:00 +0000\r\n\r\nStill broken.\r\n",
        random_name("f")
    );
    deliver(&app, &[first, follow_up.into_bytes()]).await;
    app.ingest().await;
    // Katja writes: her own ticket is acknowledged too
    app.deliver(&["30-out-of-office-a.eml"]).await;
    app.ingest().await;
    // an automatic answer on Ann's thread
    let auto = format!(
        "From: Ann <ann@example.net>\r\nTo: support@example.com\r\nSubject: Out of office: Printer broken\r\n\
         Auto-Submitted: auto-replied\r\nMessage-ID: <{}@example.net>\r\nIn-Reply-To: {id}\r\n\
         References: {id}\r\nDate: Thu, 03 Dec 2026 10:06:00 +0000\r\n\r\nI am away.\r\n",
        random_name("o")
    );
    deliver(&app, &[auto.into_bytes()]).await;
    app.ingest().await;
    let replies: Vec<(String, String, Option<i64>)> = sqlx::query_as(
        "select t.subject, m.text_body, m.author_agent_id from message m join ticket t using (ticket_id)
         where m.direction = 'outbound' order by m.message_id",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        replies.len(),
        2,
        "one automatic reply per ticket: {replies:?}"
    );
    assert!(
        replies[0].1.starts_with("Hello Customer, we got ticket #"),
        "{replies:?}"
    );
    assert!(replies[1].1.starts_with("Hello Katja"), "{replies:?}");
    assert_eq!(
        (replies[0].2, replies[1].2),
        (None, None),
        "written by no agent"
    );
    let refused: Vec<String> = sqlx::query_scalar(
        "select detail->'changes'->>0 from ticket_event where kind = 'rule_fired' order by ticket_event_id",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert!(
        refused.contains(&"sent no automatic reply (one was sent in the last day)".to_string()),
        "{refused:?}"
    );
    assert!(
        refused.contains(&"sent no automatic reply (the mail is automated)".to_string()),
        "{refused:?}"
    );
    let actors: Vec<String> =
        sqlx::query_scalar("select actor_kind from ticket_event where kind = 'reply_queued'")
            .fetch_all(app.pool())
            .await
            .unwrap();
    assert_eq!(actors, vec!["rule", "rule"]);
    let outbox: i64 = scalar(app.pool(), "select count(*) from outbox").await;
    assert_eq!(outbox, 2, "queued for sending");
    app.finish().await;
}

/// A customer mail with its own Message-ID, replying to `in_reply_to` when given.
fn threaded_mail(id: &str, subject: &str, in_reply_to: Option<&str>) -> Vec<u8> {
    let reply = in_reply_to
        .map(|r| format!("In-Reply-To: {r}\r\nReferences: {r}\r\n"))
        .unwrap_or_default();
    format!(
        "From: Olga <olga@example.net>\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Message-ID: {id}\r\n{reply}Date: Thu, 03 Dec 2026 10:00:00 +0000\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nAbout my order.\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn one_ingest_batch_runs_rules_in_order_mixing_tag_and_assignment_rules() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let dana = app.agent("dana@example.com", "Dana Lee", Role::Agent).await;
    team(&app, "Orders", &[dana], "manual").await;
    // a tag rule (applied in memory), an assignment rule reading that tag (through the
    // database), a rule reading the assignment, and a reply rule for the thread's second mail
    let created = |name: &str, cond: Value, actions: Value| {
        json!({"name": name, "trigger": "ticket_created", "conditions": {"all": [cond]},
               "actions": actions, "mode": "once_per_ticket"})
    };
    let tag = create_rule(
        &app,
        &token,
        created(
            "Tag orders",
            json!({"field": "subject", "op": "contains", "value": "order"}),
            json!([{"type": "add_tag", "tag": "#orders"}]),
        ),
    )
    .await;
    let assign = create_rule(
        &app,
        &token,
        created(
            "Orders to Dana",
            json!({"field": "tags", "op": "contains", "value": "orders"}),
            json!([{"type": "assign_agent", "agent": "dana@example.com"}]),
        ),
    )
    .await;
    let high = create_rule(
        &app,
        &token,
        created(
            "Dana's orders are high",
            json!({"field": "assignee", "op": "is", "value": "dana@example.com"}),
            json!([{"type": "set_priority", "priority": "high"}, {"type": "add_tag", "tag": "dana"}]),
        ),
    )
    .await;
    let again = create_rule(
        &app,
        &token,
        json!({"name": "Wrote again", "trigger": "customer_replied",
               "conditions": {"all": [{"field": "tags", "op": "contains", "value": "orders"}]},
               "actions": [{"type": "add_tag", "tag": "followed-up"}], "mode": "every_time"}),
    )
    .await;
    // the first order and its follow-up arrive in the same poll, with a second order
    let first = format!("<order-1-{}@example.net>", random_name("m"));
    deliver(
        &app,
        &[
            threaded_mail(&first, "Order 17 missing", None),
            threaded_mail(
                &format!("<order-2-{}@example.net>", random_name("m")),
                "Re: Order 17 missing",
                Some(&first),
            ),
            threaded_mail(
                &format!("<order-3-{}@example.net>", random_name("m")),
                "Order 18 late",
                None,
            ),
        ],
    )
    .await;
    app.ingest().await;

    let t17 = ticket_json(app.pool(), ticket_by_subject(&app.db, "Order 17%").await).await;
    assert_eq!(t17["assignee"], "dana@example.com", "{t17}");
    assert_eq!(t17["priority"], "high");
    assert_eq!(t17["tags"], json!(["dana", "followed-up", "orders"]));
    let fired: Vec<i64> = events_of(&t17, "rule_fired")
        .iter()
        .map(|e| e["detail"]["rule"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(fired, vec![tag, assign, high, again], "{t17}");
    // each change is its own event, after its cause and before the rule's "fired" line
    let kinds: Vec<&str> = t17["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "rule")
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "tags_changed",
            "rule_fired",
            "assigned",
            "rule_fired",
            "priority_changed",
            "tags_changed",
            "rule_fired",
            "tags_changed",
            "rule_fired"
        ],
        "{t17}"
    );
    let high_fired = &events_of(&t17, "rule_fired")[2]["detail"];
    assert_eq!(
        high_fired["changes"],
        json!(["set priority to high", "added tag dana"])
    );

    let t18 = ticket_json(app.pool(), ticket_by_subject(&app.db, "Order 18%").await).await;
    assert_eq!(t18["tags"], json!(["dana", "orders"]), "{t18}");
    assert_eq!(events_of(&t18, "rule_fired").len(), 3);

    // the firing records and counters agree with the timeline
    let (_, rules) = api_json(&app.db, "GET", "/api/v1/rules", &token, Value::Null).await;
    let counts: Vec<i64> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["fire_count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, vec![2, 2, 2, 1], "{rules}");
    let records: i64 = scalar(
        app.pool(),
        "select coalesce(sum(fired_count), 0)::bigint from rule_ticket_state",
    )
    .await;
    assert_eq!(records, 7);
    app.finish().await;
}

#[tokio::test]
async fn waiting_tickets_go_out_when_capacity_frees_up_or_an_agent_comes_back() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let dana = app.agent("dana@example.com", "Dana Lee", Role::Agent).await;
    let eli = app.agent("eli@example.com", "Eli Park", Role::Agent).await;
    sqlx::query("update agent set max_open_tickets = 1 where agent_id = $1")
        .bind(dana)
        .execute(app.pool())
        .await
        .unwrap();
    sqlx::query("update agent set available = false where agent_id = $1")
        .bind(eli)
        .execute(app.pool())
        .await
        .unwrap();
    team(&app, "Support", &[dana, eli], "least_loaded").await;
    create_rule(
        &app,
        &token,
        json!({"name": "All to Support", "trigger": "ticket_created", "conditions": {"all": []},
               "actions": [{"type": "assign_team", "team": "Support"}], "mode": "once_per_ticket"}),
    )
    .await;
    deliver(
        &app,
        &[
            mail(1, "a@example.net", "First"),
            mail(2, "b@example.net", "Second"),
            mail(3, "c@example.net", "Third"),
        ],
    )
    .await;
    app.ingest().await;
    let first = ticket_by_subject(&app.db, "First").await;
    let second = ticket_by_subject(&app.db, "Second").await;
    let third = ticket_by_subject(&app.db, "Third").await;
    let pool = app.pool().clone();
    let assignee = |n: i64| {
        let pool = pool.clone();
        async move { ticket_json(&pool, n).await["assignee"].clone() }
    };
    // Dana (cap 1) has the first; Eli is away: the others wait, unassigned
    assert_eq!(assignee(first).await, "dana@example.com");
    assert_eq!(assignee(second).await, Value::Null);
    assert_eq!(assignee(third).await, Value::Null);

    // Dana closes the first: the oldest waiting ticket goes to her at once
    let dana_token = frontdesk::auth::create_api_token(app.pool(), dana)
        .await
        .unwrap();
    let (s, body) = api_json(
        &app.db,
        "PATCH",
        &format!("/api/v1/tickets/{first}"),
        &dana_token,
        json!({"status": "closed"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(assignee(second).await, "dana@example.com");
    assert_eq!(
        assignee(third).await,
        Value::Null,
        "Dana is at her cap again"
    );
    let t2 = ticket_json(app.pool(), second).await;
    let handed = events_of(&t2, "assigned");
    assert_eq!(handed.last().unwrap()["actor"], "system", "{t2}");

    // Eli comes back: the last waiting ticket goes to him
    let eli_token = frontdesk::auth::create_api_token(app.pool(), eli)
        .await
        .unwrap();
    let (s, body) = api_json(
        &app.db,
        "PATCH",
        "/api/v1/me",
        &eli_token,
        json!({"available": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(assignee(third).await, "eli@example.com");
    app.finish().await;
}

#[tokio::test]
async fn a_team_counts_members_not_seen_for_a_while_as_away() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let dana = app.agent("dana@example.com", "Dana Lee", Role::Agent).await;
    let eli = app.agent("eli@example.com", "Eli Park", Role::Agent).await;
    // both say they are available; Dana was in Frontdesk a minute ago, Eli two hours ago
    for (agent, ago) in [(dana, "1 minute"), (eli, "2 hours")] {
        sqlx::query("update agent set last_seen_at = now() - $2::interval where agent_id = $1")
            .bind(agent)
            .bind(ago)
            .execute(app.pool())
            .await
            .unwrap();
    }
    team(&app, "Support", &[dana, eli], "round_robin").await;
    // a bad value is refused naming the field, then 30 minutes is set through the API
    let (s, body) = api_json(
        &app.db,
        "PATCH",
        "/api/v1/teams/Support",
        &token,
        json!({"away_after_minutes": 0}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("away_after_minutes"),
        "{body}"
    );
    let (s, body) = api_json(
        &app.db,
        "PATCH",
        "/api/v1/teams/Support",
        &token,
        json!({"away_after_minutes": 30}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["away_after_minutes"], 30);
    create_rule(
        &app,
        &token,
        json!({"name": "All to Support", "trigger": "ticket_created", "conditions": {"all": []},
               "actions": [{"type": "assign_team", "team": "Support"}], "mode": "once_per_ticket"}),
    )
    .await;
    deliver(
        &app,
        &[
            mail(1, "a@example.net", "One"),
            mail(2, "b@example.net", "Two"),
            mail(3, "c@example.net", "Three"),
        ],
    )
    .await;
    app.ingest().await;
    let to_dana: i64 = scalar(
        app.pool(),
        "select count(*) from ticket t join agent a on a.agent_id = t.assignee_agent_id
         where a.email = 'dana@example.com'",
    )
    .await;
    assert_eq!(
        to_dana, 3,
        "Eli has not been seen for two hours: away for this team"
    );

    // without the setting, his own switch is what counts: round robin takes him in again
    let (s, _) = api_json(
        &app.db,
        "PATCH",
        "/api/v1/teams/Support",
        &token,
        json!({"away_after_minutes": null}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    deliver(&app, &[mail(4, "d@example.net", "Four")]).await;
    app.ingest().await;
    let four = ticket_json(app.pool(), ticket_by_subject(&app.db, "Four").await).await;
    assert_eq!(four["assignee"], "eli@example.com", "{four}");
    app.finish().await;
}

#[tokio::test]
async fn within_business_hours_reads_the_calendar_of_the_tickets_sla_policy() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    // a calendar open only on the day after tomorrow (UTC): now is outside its hours
    let day = (time::OffsetDateTime::now_utc() + time::Duration::days(2)).weekday();
    let key = day.to_string()[..3].to_lowercase();
    let (s, cal) = api_json(
        &app.db,
        "POST",
        "/api/v1/calendars",
        &token,
        json!({"name": "One day a week", "time_zone": "UTC", "hours": {key: ["00:00-24:00"]}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{cal}");
    let targets = json!({"first_response": 60, "next_response": 60, "resolution": 600});
    let (s, policy) = api_json(
        &app.db,
        "POST",
        "/api/v1/sla-policies",
        &token,
        json!({"name": "Weekly", "calendar": cal["id"], "warning_percent": 25,
               "targets": {"urgent": targets, "high": targets, "normal": targets, "low": targets}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{policy}");
    let set_default = |p: Value| {
        let db = &app.db;
        let token = token.clone();
        async move {
            let (s, body) = api_json(
                db,
                "PATCH",
                "/api/v1/mailboxes/support@example.com",
                &token,
                json!({ "sla_policy": p }),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{body}");
        }
    };
    set_default(policy["id"].clone()).await;
    create_rule(
        &app,
        &token,
        json!({"name": "After hours", "trigger": "ticket_created",
               "conditions": {"all": [{"field": "within_business_hours", "op": "is", "value": false}]},
               "actions": [{"type": "add_tag", "tag": "after-hours"}], "mode": "once_per_ticket"}),
    )
    .await;
    deliver(&app, &[mail(1, "a@example.net", "Closed today")]).await;
    app.ingest().await;
    let closed = ticket_json(app.pool(), ticket_by_subject(&app.db, "Closed today").await).await;
    assert_eq!(closed["tags"], json!(["after-hours"]), "{closed}");

    // without a policy the mailbox is 24/7: always within business hours
    set_default(Value::Null).await;
    deliver(&app, &[mail(2, "b@example.net", "Round the clock")]).await;
    app.ingest().await;
    let open = ticket_json(
        app.pool(),
        ticket_by_subject(&app.db, "Round the clock").await,
    )
    .await;
    assert_eq!(open["tags"], json!([]), "{open}");

    // the dry run reads the same calendar
    let (s, dry) = api_json(
        &app.db,
        "POST",
        "/api/v1/rules/dry-run",
        &token,
        json!({"rule": {"name": "Inside", "trigger": "ticket_created",
               "conditions": {"all": [{"field": "within_business_hours", "op": "is", "value": true}]},
               "actions": [{"type": "add_tag", "tag": "x"}]}, "last": 10}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    let matched = |n: &Value| {
        dry["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["number"] == *n)
            .unwrap()["matched"]
            .clone()
    };
    assert_eq!(matched(&closed["number"]), false, "{dry}");
    assert_eq!(matched(&open["number"]), true, "{dry}");
    app.finish().await;
}

#[tokio::test]
async fn a_reply_in_the_same_batch_sees_what_tag_rules_did_to_its_first_mail() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    // only in-memory actions: the reply's facts come from replaying them, not from a re-read
    create_rule(
        &app,
        &token,
        json!({"name": "Refunds are high", "trigger": "ticket_created",
               "conditions": {"all": [{"field": "subject", "op": "contains", "value": "refund"}]},
               "actions": [{"type": "add_tag", "tag": "refund"}, {"type": "set_priority", "priority": "high"}],
               "mode": "once_per_ticket"}),
    )
    .await;
    let chased = create_rule(
        &app,
        &token,
        json!({"name": "Chased refunds", "trigger": "customer_replied",
               "conditions": {"all": [{"field": "tags", "op": "contains", "value": "refund"},
                                      {"field": "priority", "op": "is", "value": "high"}]},
               "actions": [{"type": "add_tag", "tag": "chased"}], "mode": "every_time"}),
    )
    .await;
    let refund = format!("<refund-1-{}@example.net>", random_name("m"));
    let other = format!("<other-1-{}@example.net>", random_name("m"));
    deliver(
        &app,
        &[
            threaded_mail(&refund, "Refund for order 17", None),
            threaded_mail(&other, "Order 18 late", None),
            threaded_mail(
                &format!("<refund-2-{}@example.net>", random_name("m")),
                "Re: Refund for order 17",
                Some(&refund),
            ),
            threaded_mail(
                &format!("<other-2-{}@example.net>", random_name("m")),
                "Re: Order 18 late",
                Some(&other),
            ),
            threaded_mail(
                &format!("<refund-3-{}@example.net>", random_name("m")),
                "Re: Refund for order 17",
                Some(&refund),
            ),
        ],
    )
    .await;
    app.ingest().await;

    let t17 = ticket_json(app.pool(), ticket_by_subject(&app.db, "Refund for%").await).await;
    assert_eq!(t17["tags"], json!(["chased", "refund"]), "{t17}");
    assert_eq!(t17["priority"], "high");
    let fired = events_of(&t17, "rule_fired");
    assert_eq!(
        fired.len(),
        3,
        "created once, then each of the two replies: {t17}"
    );
    assert_eq!(fired[1]["detail"]["rule"]["id"].as_i64(), Some(chased));
    // the second reply found the tag already there: the rule fired, nothing changed
    assert_eq!(fired[1]["detail"]["changes"], json!(["added tag chased"]));
    assert_eq!(fired[2]["detail"]["changes"], json!([]));
    let t18 = ticket_json(app.pool(), ticket_by_subject(&app.db, "Order 18%").await).await;
    assert_eq!(t18["tags"], json!([]), "{t18}");
    assert!(events_of(&t18, "rule_fired").is_empty());
    let records: i64 = scalar(
        app.pool(),
        "select coalesce(sum(fired_count), 0)::bigint from rule_ticket_state",
    )
    .await;
    assert_eq!(records, 3);
    app.finish().await;
}

#[tokio::test]
async fn rules_set_customer_and_company_attributes_audited_and_on_the_timeline() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    // an unknown stage is refused on save, naming the action and the stage
    let (status, body) = api_json(
        &app.db,
        "POST",
        "/api/v1/rules",
        &token,
        json!({"name": "R", "trigger": "ticket_created", "conditions": {"all": []},
               "actions": [{"type": "set_customer_vip", "vip": true},
                           {"type": "set_lifecycle_stage", "stage": "at rsk"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("actions[1].stage") && error.contains("at rsk"),
        "{body}"
    );
    let (status, body) = api_json(
        &app.db,
        "POST",
        "/api/v1/rules",
        &token,
        json!({"name": "R", "trigger": "ticket_created", "conditions": {"all": []},
               "actions": [{"type": "set_health", "health": 101}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("actions[0].health")
    );

    let rule = json!({"name": "Acme accounts", "trigger": "ticket_created",
        "conditions": {"all": [{"field": "from", "op": "is", "value": "@acme.example"}]},
        "actions": [{"type": "set_customer_vip", "vip": true},
                    {"type": "set_lifecycle_stage", "stage": "At Risk"},
                    {"type": "set_health", "health": 35}]});
    let rule_id = create_rule(&app, &token, rule.clone()).await;
    // a later rule sees what the first one set
    create_rule(
        &app,
        &token,
        json!({"name": "VIP tag", "trigger": "ticket_created",
               "conditions": {"all": [{"field": "customer.vip", "op": "is", "value": true}]},
               "actions": [{"type": "add_tag", "tag": "vip"}]}),
    )
    .await;
    // and one that sets the company's, for every customer of it without their own
    create_rule(
        &app,
        &token,
        json!({"name": "Acme company", "trigger": "ticket_created",
               "conditions": {"all": [{"field": "customer.company", "op": "is", "value": "acme.example"}]},
               "actions": [{"type": "set_company_lifecycle_stage", "stage": "renewal"},
                           {"type": "set_company_health", "health": 80}]}),
    )
    .await;
    deliver(
        &app,
        &[
            mail(1, "ann@acme.example", "Invoice question"),
            mail(2, "bob@other.example", "Hello"),
        ],
    )
    .await;
    app.ingest().await;

    let (status, ann) = api_json(
        &app.db,
        "GET",
        "/api/v1/customers/ann@acme.example",
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ann}");
    assert_eq!(ann["vip"], true, "{ann}");
    assert_eq!(ann["lifecycle_stage"], "at risk", "{ann}");
    assert_eq!(ann["health"], 35, "{ann}");
    let (_, bob) = api_json(
        &app.db,
        "GET",
        "/api/v1/customers/bob@other.example",
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(bob["vip"], false, "{bob}");
    assert_eq!(bob["health"], Value::Null, "{bob}");

    let (_, acme) = api_json(
        &app.db,
        "GET",
        "/api/v1/companies/acme.example",
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(acme["lifecycle_stage"], "renewal", "{acme}");
    assert_eq!(acme["health"], 80, "{acme}");
    let company_audit: Vec<(String, String)> = sqlx::query_as(
        "select actor_label, target from audit_event where action = 'company.update'
         order by audit_event_id",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(
        company_audit,
        vec![
            (
                "rule 'Acme company'".to_string(),
                "acme.example".to_string()
            ),
            (
                "rule 'Acme company'".to_string(),
                "acme.example".to_string()
            )
        ]
    );

    let ticket = ticket_json(app.pool(), ticket_by_subject(&app.db, "Invoice%").await).await;
    assert_eq!(ticket["customer"]["vip"], true, "{ticket}");
    assert!(
        events_of(&ticket, "rule_fired")
            .iter()
            .any(|e| e["detail"]["changes"]
                == json!([
                    "set the company's lifecycle stage to renewal",
                    "set the company's health to 80"
                ])),
        "{ticket}"
    );
    assert_eq!(ticket["tags"], json!(["vip"]), "{ticket}");
    let fired: Vec<Value> = events_of(&ticket, "rule_fired")
        .into_iter()
        .filter(|e| e["detail"]["rule"]["id"] == rule_id)
        .collect();
    assert_eq!(fired.len(), 1, "{ticket}");
    assert_eq!(
        fired[0]["detail"]["changes"],
        json!([
            "marked the customer VIP",
            "set the customer's lifecycle stage to at risk",
            "set the customer's health to 35"
        ])
    );
    // audited like the customer page's edits, with the rule as actor
    let audit: Vec<(String, String, String, Value)> = sqlx::query_as(
        "select actor_kind, actor_label, target, after from audit_event
         where action = 'customer.update' order by audit_event_id",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    assert_eq!(audit.len(), 3, "{audit:?}");
    assert!(
        audit.iter().all(|(k, l, t, _)| k == "rule"
            && l == "rule 'Acme accounts'"
            && t == "ann@acme.example"),
        "{audit:?}"
    );
    assert_eq!(audit[0].3, json!({"vip": true}));
    assert_eq!(audit[2].3, json!({"health": 35}));

    // a second ticket from the same customer: the rule fires, nothing changes, nothing audited
    deliver(&app, &[mail(3, "ann@acme.example", "Another question")]).await;
    app.ingest().await;
    let again = ticket_json(app.pool(), ticket_by_subject(&app.db, "Another%").await).await;
    let fired = events_of(&again, "rule_fired");
    assert!(
        fired
            .iter()
            .any(|e| e["detail"]["rule"]["id"] == rule_id && e["detail"]["changes"] == json!([])),
        "{again}"
    );
    let audited: i64 = scalar(
        app.pool(),
        "select count(*) from audit_event where action = 'customer.update'",
    )
    .await;
    assert_eq!(audited, 3);

    // the dry run says what the rule would do
    let (status, body) = api_json(
        &app.db,
        "POST",
        "/api/v1/rules/dry-run",
        &token,
        json!({"rule": rule, "last": 10}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let matched = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subject"] == "Invoice question")
        .unwrap();
    assert_eq!(
        matched["actions"],
        json!([
            "marked the customer VIP",
            "set the customer's lifecycle stage to At Risk",
            "set the customer's health to 35"
        ])
    );
    app.finish().await;
}

#[tokio::test]
async fn a_time_rule_hands_an_away_agents_open_tickets_back() {
    let app = TestApp::new().await;
    let token = admin_token(&app).await;
    let dana = app.agent("dana@example.com", "Dana Lee", Role::Agent).await;
    let lee = app.agent("lee@example.com", "Lee Park", Role::Agent).await;
    team(&app, "Support", &[dana, lee], "manual").await;
    create_rule(
        &app,
        &token,
        json!({"name": "Away agents' tickets back to the team", "trigger": "time",
               "conditions": {"all": [{"field": "assignee.available", "op": "is", "value": false},
                                      {"field": "status", "op": "is", "value": "open"}]},
               "actions": [{"type": "unassign"}], "mode": "on_state_entry"}),
    )
    .await;
    deliver(
        &app,
        &[
            mail(1, "ann@example.net", "Dana's ticket"),
            mail(2, "bob@example.net", "Lee's ticket"),
        ],
    )
    .await;
    app.ingest().await;
    for (subject, who) in [("Dana%", "dana@example.com"), ("Lee%", "lee@example.com")] {
        let n = ticket_by_subject(&app.db, subject).await;
        let (s, body) = api_json(
            &app.db,
            "PATCH",
            &format!("/api/v1/tickets/{n}"),
            &token,
            json!({"assignee": who}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    // both available: nothing happens
    frontdesk::rules::engine::run_time_rules(app.pool())
        .await
        .unwrap();
    let dana_ticket = ticket_by_subject(&app.db, "Dana%").await;
    assert_eq!(
        ticket_json(app.pool(), dana_ticket).await["assignee"],
        "dana@example.com"
    );
    // Dana goes away: her open ticket goes back, Lee's stays with him
    sqlx::query("update agent set available = false where agent_id = $1")
        .bind(dana)
        .execute(app.pool())
        .await
        .unwrap();
    frontdesk::rules::engine::run_time_rules(app.pool())
        .await
        .unwrap();
    let t = ticket_json(app.pool(), dana_ticket).await;
    assert_eq!(t["assignee"], Value::Null, "{t}");
    let fired = events_of(&t, "rule_fired");
    assert_eq!(fired.len(), 1, "{t}");
    assert!(
        fired[0]["detail"]["matched"]
            .to_string()
            .contains("assignee available"),
        "the why names the condition: {}",
        fired[0]["detail"]
    );
    let lee_ticket = ticket_by_subject(&app.db, "Lee%").await;
    assert_eq!(
        ticket_json(app.pool(), lee_ticket).await["assignee"],
        "lee@example.com"
    );
    app.finish().await;
}
