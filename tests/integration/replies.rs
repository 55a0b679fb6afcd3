//! Replies end to end: the agent's form or the API → outbox → a real SMTP server, and the
//! customer's answer threads back into the same ticket through a real IMAP server.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::support::api_json as api;
use crate::support::smtp::{received_with_message_id, sink_dir};
use crate::support::*;

/// Replies go to the test SMTP sink, signed by the team.
async fn with_smtp(app: &TestApp) {
    app.smtp_to_sink().await;
    execute_for(
        app.pool(),
        "update mailbox set signature = 'Example Support Team' where mailbox_id = $1",
        app.mb.mailbox_id,
    )
    .await;
}

#[tokio::test]
async fn a_reply_from_the_ticket_page_reaches_the_customer_threaded_and_their_answer_comes_back() {
    let app = TestApp::with_mail(&["24-cc-reply-to-original-a.eml"]).await;
    with_smtp(&app).await;
    let (db, mb) = (&app.db, &app.mb);
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let n = app.only_ticket_id().await;

    let mut b = app.browser_for("dana@example.com").await;
    let page = b.get(&format!("/tickets/{n}")).await;
    // Reply-all by default: the customer in To, the CC'd colleague in Cc, never ourselves.
    assert!(
        page.body.contains("value=\"alice.morgenroth@example.org\""),
        "To prefilled"
    );
    assert!(
        page.body.contains("value=\"bernd.falk@example.org\""),
        "Cc prefilled"
    );
    let sent = b
        .post(
            &format!("/tickets/{n}/reply"),
            &[
                ("to", "alice.morgenroth@example.org"),
                ("cc", "bernd.falk@example.org, support@example.com"),
                ("text", "Grüße aus dem Support – erledigt."),
                ("after", "pending"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let (mid, header_id, state): (i64, String, String) = sqlx::query_as(
        "select message_id, header_message_id, delivery_state from message where direction = 'outbound'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(state, "queued", "shown at once as queued");
    let status: String = scalar_for(
        &db.pool,
        "select status from ticket where ticket_id = $1",
        n,
    )
    .await;
    assert_eq!(status, "pending");

    frontdesk::outbox::send_due(&db.pool).await.unwrap();
    let state: String = scalar_for(
        &db.pool,
        "select delivery_state from message where message_id = $1",
        mid,
    )
    .await;
    assert_eq!(state, "sent");
    let mails = received_with_message_id(&sink_dir(), &header_id);
    assert_eq!(mails.len(), 1, "exactly one mail at the SMTP server");
    let m = &mails[0];
    let mut rcpts = m.rcpt_tos.clone();
    rcpts.sort();
    assert_eq!(
        rcpts,
        ["alice.morgenroth@example.org", "bernd.falk@example.org"],
        "our own address is removed"
    );
    assert_eq!(
        m.header("In-Reply-To").as_deref(),
        Some("<c24a-ordner@example.org>")
    );
    assert!(
        m.header("References")
            .unwrap()
            .contains("<c24a-ordner@example.org>")
    );
    let subject = m.header("Subject").unwrap();
    assert!(subject.is_ascii());
    assert!(m.header("From").unwrap().contains("support@example.com"));
    assert!(m.header("Auto-Submitted").is_none());
    let parsed = mail_parser::MessageParser::default().parse(&m.raw).unwrap();
    assert_eq!(
        parsed.subject(),
        Some(format!("Re: Zugriff auf Projektordner Q2 freischalten [#{n}]").as_str())
    );
    assert!(
        parsed
            .body_text(0)
            .unwrap()
            .contains("Grüße aus dem Support – erledigt.")
    );
    assert!(
        parsed
            .body_text(0)
            .unwrap()
            .contains("Example Support Team"),
        "signature"
    );

    // The customer answers the reply: it threads into the same ticket and reopens it.
    let answer = format!(
        "From: Alice Morgenroth <alice.morgenroth@example.org>\r\nTo: support@example.com\r\nSubject: Re: Zugriff [#{n}]\r\nMessage-ID: <answer-{n}@example.org>\r\nIn-Reply-To: <{header_id}>\r\nReferences: <c24a-ordner@example.org> <{header_id}>\r\n\r\nDanke!\r\n"
    );
    mb.deliver("INBOX", &[answer.as_bytes()]).await;
    let c = ingest(&db.pool).await;
    assert_eq!((c.threaded, c.new_tickets), (1, 0));
    let status: String = scalar_for(
        &db.pool,
        "select status from ticket where ticket_id = $1",
        n,
    )
    .await;
    assert_eq!(
        status, "open",
        "the customer's answer reopens a pending ticket"
    );
    let page = b.get(&format!("/tickets/{n}")).await;
    assert!(page.body.contains("Danke!") && page.body.contains("sent"));
    app.finish().await;
}

#[tokio::test]
async fn bad_reply_forms_are_refused_and_nothing_is_queued() {
    let app = TestApp::with_mail(&["23-reply-in-reply-to-only-a.eml"]).await;
    with_smtp(&app).await;
    let db = &app.db;
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let n = app.only_ticket_id().await;
    let mut b = app.browser_for("dana@example.com").await;
    for form in [
        vec![("to", "not an address"), ("text", "hi")],
        vec![("to", "jana.roth@example.org"), ("text", "   ")],
        vec![("to", "support@example.com"), ("text", "only ourselves")],
        vec![
            ("to", "jana.roth@example.org"),
            ("text", "hi"),
            ("after", "explode"),
        ],
    ] {
        let p = b.post(&format!("/tickets/{n}/reply"), &form).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{form:?}");
    }
    let queued: i64 = scalar(&db.pool, "select count(*) from outbox").await;
    assert_eq!(queued, 0);
    app.finish().await;
}

#[tokio::test]
async fn the_api_replies_writes_notes_and_patches_tickets() {
    let app = TestApp::with_mail(&["42-outlook-thread-index-reply.eml"]).await;
    with_smtp(&app).await;
    let db = &app.db;
    let dana = app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    // A lead (sees every mailbox), so the PATCH below may give him the ticket.
    app.agent("lee@example.com", "Lee Park", Role::Lead).await;
    let token = frontdesk::auth::create_api_token(&db.pool, dana)
        .await
        .unwrap();
    let n = app.only_ticket_id().await;
    let t = format!("/api/v1/tickets/{n}");

    let (s, r) = api(
        db,
        "POST",
        &format!("{t}/replies"),
        &token,
        serde_json::json!({"text": "Raum 2.14, 9 Uhr.", "status_after": "pending"}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let id = r["id"].as_i64().unwrap();
    let (s, note) = api(
        db,
        "POST",
        &format!("{t}/notes"),
        &token,
        serde_json::json!({"text": "@lee bitte Raum buchen"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{note}");
    let (s, patched) = api(db, "PATCH", &t, &token, serde_json::json!({"priority": "high", "assignee": "lee@example.com", "tags": ["training"]})).await;
    assert_eq!(s, StatusCode::OK, "{patched}");
    assert_eq!(
        (
            patched["priority"].as_str(),
            patched["assignee"].as_str(),
            patched["status"].as_str()
        ),
        (Some("high"), Some("lee@example.com"), Some("pending"))
    );
    assert_eq!(patched["tags"], serde_json::json!(["training"]));
    let (s, _) = api(
        db,
        "PATCH",
        &t,
        &token,
        serde_json::json!({"assignee": null}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = api(
        db,
        "PATCH",
        &t,
        &token,
        serde_json::json!({"status": "closed", "priority": "extreme"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, e) = api(
        db,
        "PATCH",
        &t,
        &token,
        serde_json::json!({"colour": "red"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, _) = api(
        db,
        "POST",
        &format!("{t}/replies"),
        &token,
        serde_json::json!({"text": ""}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The reply is on the ticket with its delivery state; the note is a note.
    let (_, detail) = api(db, "GET", &t, &token, serde_json::Value::Null).await;
    assert_eq!(
        detail["status"], "pending",
        "the failed PATCH changed nothing"
    );
    let msgs = detail["messages"].as_array().unwrap();
    let reply = msgs.iter().find(|m| m["id"] == id).unwrap();
    assert_eq!(reply["direction"], "outbound");
    assert_eq!(reply["delivery"]["state"], "queued");
    assert!(msgs.iter().any(|m| m["direction"] == "note"));

    // Case 42: the Outlook reply gets the right threading headers and a child Thread-Index.
    frontdesk::outbox::send_due(&db.pool).await.unwrap();
    let header_id = reply["message_id"].as_str().unwrap();
    let mails = received_with_message_id(&sink_dir(), header_id);
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    crate::support::smtp::assert_threads_under_case_42(m);
    use base64::Engine;
    let ti = base64::engine::general_purpose::STANDARD
        .decode(m.header("Thread-Index").unwrap())
        .unwrap();
    let received = base64::engine::general_purpose::STANDARD
        .decode("AThJnrnuEYg4nHhYrpCgr76NKnyHd+c9I/V/")
        .unwrap();
    assert_eq!(ti.len(), 32);
    assert_eq!(&ti[..22], &received[..22]);
    let (_, after) = api(db, "GET", &t, &token, serde_json::Value::Null).await;
    let reply = after["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(reply["delivery"]["state"], "sent");
    app.finish().await;
}

#[tokio::test]
async fn api_writes_need_access_to_the_mailbox() {
    let app = TestApp::with_mail(&["23-reply-in-reply-to-only-a.eml"]).await;
    with_smtp(&app).await;
    let db = &app.db;
    let outsider = app.agent("out@example.com", "Out Sider", Role::Agent).await;
    let token = frontdesk::auth::create_api_token(&db.pool, outsider)
        .await
        .unwrap();
    let n = app.only_ticket_id().await;
    let t = format!("/api/v1/tickets/{n}");
    for (method, path, body) in [
        (
            "POST",
            format!("{t}/replies"),
            serde_json::json!({"text": "x"}),
        ),
        (
            "POST",
            format!("{t}/notes"),
            serde_json::json!({"text": "x"}),
        ),
        ("PATCH", t.clone(), serde_json::json!({"status": "closed"})),
    ] {
        let (s, body) = api(db, method, &path, &token, body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    let written: i64 = scalar(
        &db.pool,
        "select count(*) from message where direction <> 'inbound'",
    )
    .await;
    assert_eq!(written, 0);
    app.finish().await;
}

#[tokio::test]
async fn files_attached_in_the_composer_go_out_with_the_reply() {
    let app = TestApp::with_mail(&["23-reply-in-reply-to-only-a.eml"]).await;
    with_smtp(&app).await;
    let db = &app.db;
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let n = app.only_ticket_id().await;
    let mut b = app.browser_for("dana@example.com").await;
    let boundary = "XyZbOuNdArY";
    let mut body = String::new();
    for (name, value) in [
        ("to", "jana.roth@example.org"),
        ("cc", ""),
        ("text", "Die Gutschrift anbei."),
        ("after", "keep"),
    ] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"Gutschrift R-20931.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 gutschrift\r\n--{boundary}--\r\n"
    ));
    let req = Request::post(format!("/tickets/{n}/reply"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("sec-fetch-site", "same-origin");
    let p = b.send(req, Body::from(body)).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let (mid, header_id): (i64, String) = sqlx::query_as(
        "select message_id, header_message_id from message where direction = 'outbound'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let stored: Vec<String> = column_for(
        &db.pool,
        "select filename from attachment where message_id = $1",
        mid,
    )
    .await;
    assert_eq!(stored, ["Gutschrift R-20931.pdf"]);
    frontdesk::outbox::send_due(&db.pool).await.unwrap();
    let mails = received_with_message_id(&sink_dir(), &header_id);
    assert_eq!(mails.len(), 1);
    let parsed = mail_parser::MessageParser::default()
        .parse(&mails[0].raw)
        .unwrap();
    use mail_parser::MimeHeaders;
    let att = parsed.attachments().next().expect("the file is attached");
    assert_eq!(att.attachment_name(), Some("Gutschrift R-20931.pdf"));
    assert_eq!(att.contents(), b"%PDF-1.4 gutschrift");
    app.finish().await;
}

#[tokio::test]
async fn a_reply_written_before_new_activity_is_held_and_can_then_be_sent_anyway() {
    let app = TestApp::with_mail(&["23-reply-in-reply-to-only-a.eml"]).await;
    with_smtp(&app).await;
    let (db, mb) = (&app.db, &app.mb);
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let n = app.only_ticket_id().await;
    let mut b = app.browser_for("dana@example.com").await;
    let page = b.get(&format!("/tickets/{n}")).await;
    let seen: i64 = scalar(&db.pool, "select max(message_id) from message").await;
    assert!(
        page.body
            .contains(&format!("name=\"seen\" value=\"{seen}\""))
    );

    // While Dana writes, the customer sends more.
    mb.deliver("INBOX", &[&case("23-reply-in-reply-to-only-b.eml")])
        .await;
    ingest(&db.pool).await;
    let form = [
        ("to", "jana.roth@example.org"),
        ("text", "Wir erstatten den Betrag."),
        ("seen", &seen.to_string()),
    ];
    let held = b.post(&format!("/tickets/{n}/reply"), &form).await;
    assert_eq!(held.status, StatusCode::CONFLICT);
    assert!(held.body.contains("Not sent:"), "a banner explains");
    assert!(
        held.body.contains("Wir erstatten den Betrag."),
        "the draft is kept"
    );
    assert!(
        held.body.contains("Nachtrag"),
        "the new message is on the page"
    );
    let newest: i64 = scalar(&db.pool, "select max(message_id) from message").await;
    let banner = &held.body[held.body.find("class=\"held\"").unwrap()..];
    let banner = &banner[..banner.find("</div>").unwrap()];
    assert!(
        banner.contains(&format!("<a href=\"#m{newest}\">Jana Roth, <time")),
        "the banner names the new message by author and time: {banner}"
    );
    assert!(
        !banner.contains(&format!("#{newest}<")),
        "no message id that reads like a ticket number: {banner}"
    );
    // The address bar now shows the form's address; reloading it opens the ticket.
    let reload = b.get(&format!("/tickets/{n}/reply")).await;
    assert_eq!(reload.status, StatusCode::SEE_OTHER);
    assert_eq!(reload.location, Some(format!("/tickets/{n}")));
    let in_list = b
        .get(&format!("/tickets/{n}/reply?list=folder%3Dopen"))
        .await;
    assert_eq!(in_list.status, StatusCode::SEE_OTHER);
    let to = in_list.location.unwrap();
    assert!(
        to.starts_with(&format!("/tickets/{n}?list=")) && to.contains("folder%3Dopen"),
        "the list is kept: {to}"
    );
    let queued: i64 = scalar(&db.pool, "select count(*) from outbox").await;
    assert_eq!(queued, 0, "nothing was sent");

    let now_seen: i64 = scalar(&db.pool, "select max(message_id) from message").await;
    let again = b
        .post(
            &format!("/tickets/{n}/reply"),
            &[
                ("to", "jana.roth@example.org"),
                ("text", "Wir erstatten den Betrag."),
                ("seen", &now_seen.to_string()),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    let queued: i64 = scalar(&db.pool, "select count(*) from outbox").await;
    assert_eq!(queued, 1);
    app.finish().await;
}

#[tokio::test]
async fn two_agents_sending_at_once_produce_one_reply_and_one_held() {
    let app = TestApp::with_mail(&["23-reply-in-reply-to-only-a.eml"]).await;
    with_smtp(&app).await;
    let db = &app.db;
    let a = app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let b = app.agent("lee@example.com", "Lee Park", Role::Admin).await;
    let n = app.only_ticket_id().await;
    let seen: i64 = scalar(&db.pool, "select max(message_id) from message").await;
    let agents: Vec<frontdesk::auth::Agent> =
        futures::future::try_join_all([a, b].map(|id| frontdesk::auth::find_agent(&db.pool, id)))
            .await
            .unwrap()
            .into_iter()
            .map(Option::unwrap)
            .collect();
    let input = |text: &str| frontdesk::tickets::reply::ReplyInput {
        to: vec!["jana.roth@example.org".into()],
        text: text.into(),
        seen_message_id: Some(seen),
        ..Default::default()
    };
    let (ia, ib) = (input("Antwort von Dana"), input("Antwort von Lee"));
    let (ra, rb) = tokio::join!(
        frontdesk::tickets::reply::create_reply(&db.pool, &agents[0], None, n, &ia),
        frontdesk::tickets::reply::create_reply(&db.pool, &agents[1], None, n, &ib),
    );
    let outcomes = [ra.is_ok(), rb.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "exactly one is sent"
    );
    let held = if ra.is_ok() { rb } else { ra };
    assert!(
        matches!(held, Err(frontdesk::tickets::reply::ReplyError::Stale(ref ids)) if ids.len() == 1)
    );
    frontdesk::outbox::send_due(&db.pool).await.unwrap();
    let ids: Vec<String> =
        sqlx::query_scalar("select header_message_id from message where direction = 'outbound'")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(ids.len(), 1);
    let sent = received_with_message_id(&sink_dir(), &ids[0]).len();
    assert_eq!(sent, 1, "one mail reached the SMTP server");
    app.finish().await;
}

#[tokio::test]
async fn the_api_answers_409_with_the_newer_items_and_sends_nothing() {
    let app = TestApp::with_mail(&["23-reply-in-reply-to-only-a.eml"]).await;
    with_smtp(&app).await;
    let db = &app.db;
    let dana = app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let token = frontdesk::auth::create_api_token(&db.pool, dana)
        .await
        .unwrap();
    let n = app.only_ticket_id().await;
    let seen: i64 = scalar(&db.pool, "select max(message_id) from message").await;
    let (s, note) = api(
        db,
        "POST",
        &format!("/api/v1/tickets/{n}/notes"),
        &token,
        serde_json::json!({"text": "Kollege: bitte erst Buchhaltung fragen"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, body) = api(
        db,
        "POST",
        &format!("/api/v1/tickets/{n}/replies"),
        &token,
        serde_json::json!({"text": "Erledigt", "seen_message_id": seen}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].is_string());
    assert_eq!(body["newer"].as_array().unwrap().len(), 1);
    assert_eq!(body["newer"][0]["id"], note["id"]);
    assert_eq!(body["newer"][0]["direction"], "note");
    let queued: i64 = scalar(&db.pool, "select count(*) from outbox").await;
    assert_eq!(queued, 0);
    let (s, _) = api(
        db,
        "POST",
        &format!("/api/v1/tickets/{n}/replies"),
        &token,
        serde_json::json!({"text": "Erledigt", "seen_message_id": note["id"]}),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    app.finish().await;
}
