//! Business-hours calendars and SLA policies: the JSON API contract (due times and business
//! minutes on a Europe/Berlin calendar with a holiday and an overnight span, 400s naming the
//! field or parameter, 403 for agents and leads on writes, a used calendar not deletable),
//! a mailbox's default policy through `PATCH /api/v1/mailboxes/{address}`, the audit log, and
//! the admin pages (403 for agents and leads, errors at their field, the preview sentence).

use axum::http::StatusCode;
use frontdesk::auth::Role;
use serde_json::{Value, json};

use crate::support::*;

async fn with_token(db: &TestDb, email: &str, role: Role) -> String {
    let id = agent(db, email, "Test Person", role).await;
    frontdesk::auth::create_api_token(&db.pool, id)
        .await
        .unwrap()
}

async fn audit_rows(db: &TestDb) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "select action, target, concat_ws(' ', before::text, after::text) from audit_event
         order by audit_event_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

fn berlin_office() -> Value {
    json!({
        "name": "Berlin office",
        "time_zone": "Europe/Berlin",
        "hours": {
            "mon": ["09:00-17:00"], "tue": ["09:00-17:00"], "wed": ["09:00-17:00"],
            "thu": ["09:00-17:00"], "fri": ["09:00-17:00"], "sat": [], "sun": []
        },
        "holidays": ["2026-12-25"]
    })
}

fn targets() -> Value {
    json!({
        "urgent": {"first_response": 30, "next_response": 60, "resolution": 240},
        "high": {"first_response": 60, "next_response": 120, "resolution": 480},
        "normal": {"first_response": 240, "next_response": 480, "resolution": 1440},
        "low": {"first_response": 480, "next_response": 960, "resolution": 2880}
    })
}

fn error_of(body: &Value) -> String {
    body["error"].as_str().unwrap_or_default().to_string()
}

async fn due(db: &TestDb, token: &str, id: i64, start: &str, minutes: &str) -> (StatusCode, Value) {
    let start = start.replace('+', "%2B");
    api_json(
        db,
        "GET",
        &format!("/api/v1/calendars/{id}/due?start={start}&minutes={minutes}"),
        token,
        Value::Null,
    )
    .await
}

async fn business_minutes(
    db: &TestDb,
    token: &str,
    id: i64,
    from: &str,
    to: &str,
) -> (StatusCode, Value) {
    let (from, to) = (from.replace('+', "%2B"), to.replace('+', "%2B"));
    api_json(
        db,
        "GET",
        &format!("/api/v1/calendars/{id}/business-minutes?from={from}&to={to}"),
        token,
        Value::Null,
    )
    .await
}

#[tokio::test]
async fn calendar_api_computes_due_times_and_business_minutes() {
    let db = TestDb::new().await;
    let admin = with_token(&db, "ada@example.com", Role::Admin).await;
    let lead = with_token(&db, "lee@example.com", Role::Lead).await;
    let member = with_token(&db, "max@example.com", Role::Agent).await;

    let (status, cal) = api_json(&db, "POST", "/api/v1/calendars", &admin, berlin_office()).await;
    assert_eq!(status, StatusCode::CREATED, "{cal}");
    let id = cal["id"].as_i64().unwrap();
    assert_eq!(cal["time_zone"], "Europe/Berlin");
    assert_eq!(cal["hours"]["mon"], json!(["09:00-17:00"]));
    assert_eq!(cal["hours"]["sat"], json!([]));
    assert_eq!(cal["holidays"], json!(["2026-12-25"]));
    let (status, list) = api_json(&db, "GET", "/api/v1/calendars", &member, Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["calendars"][0]["name"], "Berlin office");

    // Friday 16:30 + 2 h: 30 minutes on Friday, 90 on Monday → Monday 10:30 local (09:30Z).
    for token in [&admin, &lead, &member] {
        let (status, body) = due(&db, token, id, "2026-12-04T16:30:00+01:00", "120").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"due_at": "2026-12-07T09:30:00Z"}));
    }
    // Thursday 24 December 16:00 + 2 h: an hour that day, Friday 25 is a holiday, the weekend
    // is closed → Monday 28 10:00 local.
    let (_, body) = due(&db, &lead, id, "2026-12-24T16:00:00+01:00", "120").await;
    assert_eq!(body["due_at"], "2026-12-28T09:00:00Z");
    // Starting outside hours (Saturday) the clock starts Monday 09:00; seconds are kept.
    let (_, body) = due(&db, &member, id, "2026-12-05T11:00:00Z", "1").await;
    assert_eq!(body["due_at"], "2026-12-07T08:01:00Z");

    let (status, body) = business_minutes(
        &db,
        &member,
        id,
        "2026-12-04T16:30:00+01:00",
        "2026-12-07T10:30:00+01:00",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["minutes"].as_f64(), Some(120.0));
    let (_, body) = business_minutes(
        &db,
        &member,
        id,
        "2026-12-04T16:30:30+01:00",
        "2026-12-07T10:30:00+01:00",
    )
    .await;
    assert_eq!(body["minutes"].as_f64(), Some(119.5));
    // The holiday counts nothing.
    let (_, body) = business_minutes(
        &db,
        &member,
        id,
        "2026-12-25T00:00:00+01:00",
        "2026-12-26T00:00:00+01:00",
    )
    .await;
    assert_eq!(body["minutes"].as_f64(), Some(0.0));

    // An overnight span belongs to the day it starts on: Monday 22:00 to Tuesday 06:00.
    let (status, night) = api_json(
        &db,
        "POST",
        "/api/v1/calendars",
        &admin,
        json!({"name": "Night desk", "time_zone": "Europe/Berlin", "hours": {"mon": ["22:00-06:00"]}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{night}");
    let night = night["id"].as_i64().unwrap();
    let (_, body) = due(&db, &admin, night, "2026-12-07T21:00:00+01:00", "120").await;
    assert_eq!(body["due_at"], "2026-12-07T23:00:00Z");
    let (_, body) = business_minutes(
        &db,
        &admin,
        night,
        "2026-12-08T05:00:00+01:00",
        "2026-12-08T07:00:00+01:00",
    )
    .await;
    assert_eq!(body["minutes"].as_f64(), Some(60.0));
    // Tuesday night is closed (only Monday's span exists).
    let (_, body) = business_minutes(
        &db,
        &admin,
        night,
        "2026-12-08T22:00:00+01:00",
        "2026-12-09T06:00:00+01:00",
    )
    .await;
    assert_eq!(body["minutes"].as_f64(), Some(0.0));

    // Bad parameters: 400 naming them.
    for (path, names) in [
        (format!("/api/v1/calendars/{id}/due?minutes=10"), "start"),
        (
            format!("/api/v1/calendars/{id}/due?start=friday&minutes=10"),
            "start",
        ),
        (
            format!("/api/v1/calendars/{id}/due?start=2026-12-04T16:30:00Z"),
            "minutes",
        ),
        (
            format!("/api/v1/calendars/{id}/due?start=2026-12-04T16:30:00Z&minutes=0"),
            "minutes",
        ),
        (
            format!("/api/v1/calendars/{id}/due?start=2026-12-04T16:30:00Z&minutes=1.5"),
            "minutes",
        ),
        (
            format!("/api/v1/calendars/{id}/business-minutes?to=2026-12-04T16:30:00Z"),
            "from",
        ),
        (
            format!("/api/v1/calendars/{id}/business-minutes?from=2026-12-04T16:30:00Z"),
            "to",
        ),
        (
            format!(
                "/api/v1/calendars/{id}/business-minutes?from=2026-12-05T00:00:00Z&to=2026-12-04T00:00:00Z"
            ),
            "to",
        ),
    ] {
        let (status, body) = api_json(&db, "GET", &path, &member, Value::Null).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(
            error_of(&body).starts_with(&format!("{names}:")),
            "{path}: {body}"
        );
    }
    let (status, _) = due(&db, &member, 999_999, "2026-12-04T16:30:00Z", "10").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bad calendars: 400 naming the field, nothing stored.
    for (body, field) in [
        (
            json!({"name": "X", "time_zone": "Europe/Berlin", "hours": {"mon": ["09:00-25:00"]}}),
            "hours.mon[0]:",
        ),
        (
            json!({"name": "X", "time_zone": "Europe/Berlin", "hours": {"tue": ["09:00-12:00", "11:00-13:00"]}}),
            "hours.tue[1]:",
        ),
        (
            json!({"name": "X", "time_zone": "Mars/Olympus", "hours": {"mon": ["09:00-17:00"]}}),
            "time_zone:",
        ),
        (
            json!({"name": "X", "time_zone": "UTC", "hours": {"mon": []}}),
            "hours:",
        ),
        (
            json!({"name": "X", "time_zone": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": ["25.12.2026"]}),
            "holidays[0]:",
        ),
        (
            json!({"name": " ", "time_zone": "UTC", "hours": {"mon": ["09:00-17:00"]}}),
            "name:",
        ),
        (
            json!({"name": "berlin OFFICE", "time_zone": "UTC", "hours": {"mon": ["09:00-17:00"]}}),
            "name:",
        ),
    ] {
        let (status, resp) = api_json(&db, "POST", "/api/v1/calendars", &admin, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {resp}");
        assert!(error_of(&resp).starts_with(field), "{body}: {resp}");
    }
    let count: i64 = scalar(&db.pool, "select count(*) from calendar").await;
    assert_eq!(count, 2);

    // PATCH changes what it names and keeps the rest.
    let (status, body) = api_json(
        &db,
        "PATCH",
        &format!("/api/v1/calendars/{id}"),
        &admin,
        json!({"hours": {"mon": ["08:00-12:00", "13:00-18:00"]}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["hours"]["mon"], json!(["08:00-12:00", "13:00-18:00"]));
    assert_eq!(body["hours"]["tue"], json!([]));
    assert_eq!(body["time_zone"], "Europe/Berlin");
    let (status, body) = api_json(
        &db,
        "PATCH",
        &format!("/api/v1/calendars/{id}"),
        &admin,
        json!({"hours": {"mon": ["18:60-19:00"]}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).starts_with("hours.mon[0]:"), "{body}");

    let rows = audit_rows(&db).await;
    let actions: Vec<&str> = rows.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        ["calendar.create", "calendar.create", "calendar.update"]
    );
    assert_eq!(rows[2].1, "Berlin office");
    assert!(rows[2].2.contains("13:00-18:00"), "{:?}", rows[2]);
    db.drop_db().await;
}

#[tokio::test]
async fn policies_mailbox_defaults_and_refusals() {
    let db = TestDb::new().await;
    let admin = with_token(&db, "ada@example.com", Role::Admin).await;
    let lead = with_token(&db, "lee@example.com", Role::Lead).await;
    let member = with_token(&db, "max@example.com", Role::Agent).await;
    offline_mailbox(&db.pool, "help@example.com", None).await;

    let (_, cal) = api_json(&db, "POST", "/api/v1/calendars", &admin, berlin_office()).await;
    let cal = cal["id"].as_i64().unwrap();

    // Agents and leads cannot write, before anything happens.
    let policy_body =
        json!({"name": "Standard", "calendar": cal, "targets": targets(), "warning_percent": 20});
    for token in [&lead, &member] {
        for (method, path, body) in [
            ("POST", "/api/v1/calendars".to_string(), berlin_office()),
            (
                "PATCH",
                format!("/api/v1/calendars/{cal}"),
                json!({"name": "X"}),
            ),
            ("DELETE", format!("/api/v1/calendars/{cal}"), Value::Null),
            (
                "POST",
                "/api/v1/sla-policies".to_string(),
                policy_body.clone(),
            ),
            (
                "PATCH",
                "/api/v1/sla-policies/1".to_string(),
                json!({"name": "X"}),
            ),
            ("DELETE", "/api/v1/sla-policies/1".to_string(), Value::Null),
            (
                "PATCH",
                "/api/v1/mailboxes/help@example.com".to_string(),
                json!({"sla_policy": null}),
            ),
        ] {
            let (status, body) = api_json(&db, method, &path, token, body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
            assert!(body["error"].is_string(), "{method} {path}: {body}");
        }
    }
    let count: i64 = scalar(&db.pool, "select count(*) from sla_policy").await;
    assert_eq!(count, 0);

    let (status, policy) = api_json(&db, "POST", "/api/v1/sla-policies", &admin, policy_body).await;
    assert_eq!(status, StatusCode::CREATED, "{policy}");
    let pid = policy["id"].as_i64().unwrap();
    assert_eq!(
        policy["calendar"],
        json!({"id": cal, "name": "Berlin office"})
    );
    assert_eq!(policy["targets"], targets());
    assert_eq!(policy["warning_percent"], 20);
    let (_, list) = api_json(&db, "GET", "/api/v1/sla-policies", &member, Value::Null).await;
    assert_eq!(list["sla_policies"][0]["id"], pid);

    // Refusals name the field.
    let mut zero = targets();
    zero["high"]["first_response"] = json!(0);
    let mut missing = targets();
    missing["low"].as_object_mut().unwrap().remove("resolution");
    for (body, message) in [
        (
            json!({"name": "P", "calendar": cal, "targets": zero}),
            "targets.high.first_response: must be a whole number of minutes > 0",
        ),
        (
            json!({"name": "P", "calendar": cal, "targets": missing}),
            "targets.low.resolution: required",
        ),
        (
            json!({"name": "P", "calendar": cal, "targets": {"medium": {}}}),
            "targets.medium:",
        ),
        (
            json!({"name": "P", "calendar": 999_999, "targets": targets()}),
            "calendar: no calendar",
        ),
        (
            json!({"name": "P", "targets": targets()}),
            "calendar: required",
        ),
        (
            json!({"name": "P", "calendar": cal, "targets": targets(), "warning_percent": 100}),
            "warning_percent:",
        ),
        (
            json!({"name": "standard", "calendar": cal, "targets": targets()}),
            "name:",
        ),
    ] {
        let (status, resp) =
            api_json(&db, "POST", "/api/v1/sla-policies", &admin, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {resp}");
        assert!(error_of(&resp).starts_with(message), "{body}: {resp}");
    }

    // A change may give some targets only.
    let (status, changed) = api_json(
        &db,
        "PATCH",
        &format!("/api/v1/sla-policies/{pid}"),
        &admin,
        json!({"targets": {"urgent": {"first_response": 15}}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["targets"]["urgent"]["first_response"], 15);
    assert_eq!(changed["targets"]["urgent"]["resolution"], 240);
    let (status, body) = api_json(
        &db,
        "PATCH",
        &format!("/api/v1/sla-policies/{pid}"),
        &admin,
        json!({"targets": {"urgent": {"resolution": -5}}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error_of(&body),
        "targets.urgent.resolution: must be a whole number of minutes > 0"
    );

    // The calendar may come back as the object a policy shows (a GET, edited, PATCHed back).
    let (status, body) = api_json(
        &db,
        "PATCH",
        &format!("/api/v1/sla-policies/{pid}"),
        &admin,
        json!({"calendar": changed["calendar"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api_json(
        &db,
        "PATCH",
        &format!("/api/v1/sla-policies/{pid}"),
        &admin,
        json!({"calendar": "Berlin office"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).starts_with("calendar:"), "{body}");

    // The mailbox's default policy: set, shown, refused when unknown, cleared.
    let path = "/api/v1/mailboxes/help@example.com";
    let (status, mb) = api_json(&db, "PATCH", path, &admin, json!({"sla_policy": pid})).await;
    assert_eq!(status, StatusCode::OK, "{mb}");
    assert_eq!(mb["sla_policy"], pid);
    let (_, all) = api_json(&db, "GET", "/api/v1/mailboxes", &admin, Value::Null).await;
    assert_eq!(all["mailboxes"][0]["sla_policy"], pid);
    let (status, body) = api_json(
        &db,
        "PATCH",
        path,
        &admin,
        json!({"sla_policy": 999_999, "name": "Renamed"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).starts_with("sla_policy:"), "{body}");
    let name: String = scalar(&db.pool, "select name from mailbox").await;
    assert_eq!(name, "Example Support", "nothing half-applied");

    // A calendar in use cannot be deleted; the policy is named.
    let (status, body) = api_json(
        &db,
        "DELETE",
        &format!("/api/v1/calendars/{cal}"),
        &admin,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("\"Standard\""), "{body}");

    let (status, mb) = api_json(&db, "PATCH", path, &admin, json!({"sla_policy": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mb["sla_policy"], Value::Null);
    api_json(&db, "PATCH", path, &admin, json!({"sla_policy": pid})).await;

    // Deleting the policy clears the mailbox's default; then the calendar can go.
    let (status, _) = api_json(
        &db,
        "DELETE",
        &format!("/api/v1/sla-policies/{pid}"),
        &admin,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, all) = api_json(&db, "GET", "/api/v1/mailboxes", &admin, Value::Null).await;
    assert_eq!(all["mailboxes"][0]["sla_policy"], Value::Null);
    let (status, _) = api_json(
        &db,
        "DELETE",
        &format!("/api/v1/calendars/{cal}"),
        &admin,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api_json(
        &db,
        "GET",
        &format!("/api/v1/calendars/{cal}"),
        &admin,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let rows = audit_rows(&db).await;
    let actions: Vec<&str> = rows.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "calendar.create",
            "sla_policy.create",
            "sla_policy.update",
            "mailbox.update",
            "mailbox.update",
            "mailbox.update",
            "sla_policy.delete",
            "calendar.delete",
        ]
    );
    assert_eq!(rows[3].1, "help@example.com");
    assert!(
        rows[3].2.contains("\"sla_policy\": \"Standard\""),
        "{:?}",
        rows[3]
    );
    assert!(rows[4].2.contains("\"sla_policy\": null"), "{:?}", rows[4]);
    assert!(
        rows[2].2.contains("\"first_response\": 15"),
        "{:?}",
        rows[2]
    );
    let actor: String = scalar(&db.pool, "select actor_label from audit_event limit 1").await;
    assert_eq!(actor, "ada@example.com");
    db.drop_db().await;
}

#[tokio::test]
async fn admin_pages_for_calendars_and_policies() {
    let db = TestDb::new().await;
    agent(&db, "ada@example.com", "Ada Admin", Role::Admin).await;
    agent(&db, "lee@example.com", "Lee Lead", Role::Lead).await;
    agent(&db, "max@example.com", "Max Agent", Role::Agent).await;
    let mut admin = Browser::signed_in(&db, "ada@example.com").await;

    // A form error shows next to the day's field, with status 400.
    let mut form = vec![
        ("name", "Berlin office"),
        ("time_zone", "Europe/Berlin"),
        ("mon", "09:00-12:00, 11:00-17:00"),
        ("tue", "09:00-17:00"),
        ("wed", "09:00-17:00"),
        ("thu", "09:00-17:00"),
        ("fri", "09:00-17:00"),
        ("sat", ""),
        ("sun", ""),
        ("holidays", "2026-12-25\r\n"),
    ];
    let page = admin.post("/admin/calendars/new", &form).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(
        page.body
            .contains(r#"aria-describedby="hours-hint day-mon-error""#),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(
            r#"<p class="field-error" id="day-mon-error">span 2: &#34;11:00-17:00&#34; overlaps"#
        ),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("09:00-12:00, 11:00-17:00"),
        "what was typed is kept"
    );
    form[2].1 = "09:00-12:00, 13:00-17:00";
    form[9].1 = "25/12";
    let page = admin.post("/admin/calendars/new", &form).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains(r#"id="holidays-error">line 1: "#),
        "{}",
        page.body
    );
    // A pasted list: names next to the dates are dropped; an impossible date names its line.
    form[2].1 = "09:00-17:00";
    form[9].1 = "2026-12-24 Christmas Eve\r\n2026-02-30 Nope";
    let page = admin.post("/admin/calendars/new", &form).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains(r#"id="holidays-error">line 2: "#),
        "{}",
        page.body
    );
    form[9].1 = "2026-12-25 Christmas Day, 2026-12-26\tBoxing Day\r\n\r\nNew Year: 2027-01-01";
    let page = admin.post("/admin/calendars/new", &form).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location.clone().unwrap();
    let cal: i64 = scalar(&db.pool, "select calendar_id from calendar").await;
    let holidays: serde_json::Value =
        scalar(&db.pool, "select spec->'holidays' from calendar").await;
    assert_eq!(
        holidays,
        serde_json::json!(["2026-12-25", "2026-12-26", "2027-01-01"])
    );
    assert_eq!(location, format!("/admin/calendars/{cal}?done=created"));

    // The preview, and the try form.
    let page = admin.get(&location).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("a ticket arriving Friday 16:30 with a 2-hour target is due Monday 10:30 (Europe/Berlin)"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("recomputes the due times of running SLA clocks")
    );
    let page = admin
        .get(&format!(
            "/admin/calendars/{cal}?start=2026-12-24T16%3A00&minutes=120"
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("a ticket arriving Thursday 16:00 with a 2-hour target is due Monday 10:00 (Europe/Berlin)"),
        "{}",
        page.body
    );
    let page = admin
        .get(&format!("/admin/calendars/{cal}?start=soon&minutes=0"))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains(r#"id="start-error""#));
    assert!(page.body.contains(r#"id="minutes-error""#));
    let page = admin.get("/admin/calendars").await;
    assert!(page.body.contains("Berlin office") && page.body.contains("Mon 09:00-17:00"));
    assert!(page.body.contains(r#"aria-current="page">Business hours"#));

    // Policies: an error at its cell, then created.
    let cal_text = cal.to_string();
    let mut policy = vec![
        ("name", "Standard"),
        ("calendar", cal_text.as_str()),
        ("warning_percent", "25"),
        ("urgent.first_response", "30"),
        ("urgent.next_response", "60"),
        ("urgent.resolution", "240"),
        ("high.first_response", "0"),
        ("high.next_response", "120"),
        ("high.resolution", "480"),
        ("normal.first_response", "240"),
        ("normal.next_response", "480"),
        ("normal.resolution", "1440"),
        ("low.first_response", "480"),
        ("low.next_response", "960"),
        ("low.resolution", "2880"),
    ];
    let page = admin.post("/admin/sla-policies/new", &policy).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(
        page.body.contains(r#"<p class="field-error" id="t-high-first_response-error">must be a whole number of minutes &#62; 0</p>"#),
        "{}",
        page.body
    );
    policy[6].1 = "60";
    let page = admin.post("/admin/sla-policies/new", &policy).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let pid: i64 = scalar(&db.pool, "select sla_policy_id from sla_policy").await;
    let page = admin.get(&format!("/admin/sla-policies/{pid}")).await;
    assert!(
        page.body
            .contains(r#"name="high.first_response" value="60""#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("recomputes the due times of running SLA clocks")
    );
    policy[2].1 = "0";
    let page = admin
        .post(&format!("/admin/sla-policies/{pid}"), &policy)
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains(r#"id="warning_percent-error""#));
    let page = admin.get("/admin/sla-policies").await;
    assert!(page.body.contains("Standard") && page.body.contains("Berlin office"));

    // The mailbox form offers the policy as the mailbox's default.
    let mailbox = offline_mailbox(&db.pool, "help@example.com", None).await;
    sqlx::query("update mailbox set sla_policy_id = $1")
        .bind(pid)
        .execute(&db.pool)
        .await
        .unwrap();
    let page = admin.get(&format!("/admin/mailboxes/{mailbox}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Default SLA policy"), "{}", page.body);
    assert!(
        page.body.contains(&format!(
            r#"<option value="{pid}" selected>Standard</option>"#
        )) || page.body.contains(&format!(
            r#"<option value="{pid}" selected="selected">Standard</option>"#
        )),
        "{}",
        page.body
    );

    // The used calendar cannot be deleted from its page either.
    let page = admin
        .post(&format!("/admin/calendars/{cal}/delete"), &[])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains(r#"id="delete-error""#) && page.body.contains("&#34;Standard&#34;"),
        "{}",
        page.body
    );

    let actions: Vec<String> =
        sqlx::query_scalar("select action from audit_event order by audit_event_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(actions, ["calendar.create", "sla_policy.create"]);

    // Agents and leads get 403 on every page and post.
    for email in ["lee@example.com", "max@example.com"] {
        let mut b = Browser::signed_in(&db, email).await;
        for path in [
            "/admin/calendars".to_string(),
            "/admin/calendars/new".to_string(),
            format!("/admin/calendars/{cal}"),
            "/admin/sla-policies".to_string(),
            "/admin/sla-policies/new".to_string(),
            format!("/admin/sla-policies/{pid}"),
        ] {
            assert_eq!(
                b.get(&path).await.status,
                StatusCode::FORBIDDEN,
                "{email} GET {path}"
            );
        }
        for path in [
            "/admin/calendars/new".to_string(),
            format!("/admin/calendars/{cal}"),
            format!("/admin/calendars/{cal}/delete"),
            "/admin/sla-policies/new".to_string(),
            format!("/admin/sla-policies/{pid}"),
            format!("/admin/sla-policies/{pid}/delete"),
        ] {
            assert_eq!(
                b.post(&path, &form).await.status,
                StatusCode::FORBIDDEN,
                "{email} POST {path}"
            );
        }
    }

    let page = admin
        .post(&format!("/admin/sla-policies/{pid}/delete"), &[])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = admin
        .post(&format!("/admin/calendars/{cal}/delete"), &[])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let count: i64 = scalar(&db.pool, "select count(*) from calendar").await;
    assert_eq!(count, 0);
    db.drop_db().await;
}
