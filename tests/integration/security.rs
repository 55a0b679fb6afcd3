//! Security regressions (issue 14): each test here failed before its fix.

use axum::http::StatusCode;

use crate::support::*;

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn sign_in_follows_only_local_paths_and_never_fails_on_a_hostile_next() {
    let db = TestDb::new().await;
    agent(
        &db,
        "dana@example.com",
        "Dana Lee",
        frontdesk::auth::Role::Agent,
    )
    .await;
    for (next, to) in [
        ("/\t/evil.example", "/inbox"),
        ("/\n/x", "/inbox"),
        ("/\r\nSet-Cookie: x=1", "/inbox"),
        ("//evil.example", "/inbox"),
        ("/\\evil.example", "/inbox"),
        ("https://evil.example/", "/inbox"),
        ("/search?q=x", "/search?q=x"),
    ] {
        let mut b = Browser::new(&db);
        let form = b
            .get(&format!(
                "/login?next={}",
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            ))
            .await;
        assert_eq!(form.status, StatusCode::OK, "{next:?}");
        assert!(
            !form.body.contains("evil.example"),
            "{next:?} kept in the form"
        );
        let signed_in = b
            .post(
                "/login",
                &[
                    ("email", "dana@example.com"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(signed_in.location.as_deref(), Some(to), "{next:?}");
    }
    db.drop_db().await;
}

#[tokio::test]
async fn healthz_tells_anonymous_callers_only_the_status_and_admins_the_details() {
    let db = TestDb::new().await;
    let mailbox = frontdesk::mailboxes::upsert_mailbox(
        &db.pool,
        "Billing",
        "billing@example.com",
        "imap://billing-user:pw@imap.internal.example/INBOX",
        None,
    )
    .await
    .unwrap();
    sqlx::query(
        "insert into mailbox_health (mailbox_id, polled_by, last_poll_at, last_error, last_error_at, consecutive_failures)
         values ($1, 'node-a:4242', now(), 'login failed for billing-user at imap.internal.example', now(), 3)",
    )
    .bind(mailbox)
    .execute(&db.pool)
    .await
    .unwrap();
    let admin = agent(&db, "ops@example.com", "Ops", frontdesk::auth::Role::Admin).await;
    let plain = agent(
        &db,
        "dana@example.com",
        "Dana",
        frontdesk::auth::Role::Agent,
    )
    .await;
    let admin_token = frontdesk::auth::create_api_token(&db.pool, admin)
        .await
        .unwrap();
    let plain_token = frontdesk::auth::create_api_token(&db.pool, plain)
        .await
        .unwrap();

    let leaks = |body: &str| {
        [
            "billing",
            "imap.internal",
            "node-a",
            "4242",
            "mailboxes",
            "database",
        ]
        .iter()
        .any(|s| body.contains(s))
    };
    let healthz = |token: Option<&str>| {
        let mut req = axum::http::Request::get("/healthz");
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req
    };

    let mut anonymous = Browser::new(&db);
    let p = anonymous
        .send(healthz(None), axum::body::Body::empty())
        .await;
    assert_eq!(p.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(body, serde_json::json!({"status": "degraded"}));

    for (who, token) in [
        ("bad token", Some("nope")),
        ("agent token", Some(plain_token.as_str())),
    ] {
        let p = Browser::new(&db)
            .send(healthz(token), axum::body::Body::empty())
            .await;
        assert_eq!(p.status, StatusCode::OK, "{who}");
        assert!(!leaks(&p.body), "{who}: {}", p.body);
    }
    let mut dana = Browser::new(&db);
    dana.login("dana@example.com", PASSWORD).await;
    let p = dana.send(healthz(None), axum::body::Body::empty()).await;
    assert!(!leaks(&p.body), "a non-admin session: {}", p.body);

    let p = Browser::new(&db)
        .send(healthz(Some(&admin_token)), axum::body::Body::empty())
        .await;
    let body: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["mailboxes"][0]["address"], "billing@example.com");
    assert_eq!(body["mailboxes"][0]["polled_by"], "node-a:4242");

    let mut ops = Browser::new(&db);
    ops.login("ops@example.com", PASSWORD).await;
    let p = ops.send(healthz(None), axum::body::Body::empty()).await;
    let body: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    assert!(
        body["mailboxes"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("imap.internal.example"),
        "{body}"
    );
    db.drop_db().await;
}

/// A mail whose inline image's Content-ID is `cid` and whose HTML is `html`.
fn mail_with_inline_image(n: u32, cid: &str, html: &str) -> Vec<u8> {
    format!(
        "From: Mallory <mallory@example.org>\r\nTo: support@example.com\r\n\
         Subject: Crafted content id {n}\r\nDate: Wed, 19 Mar 2025 12:00:04 +0100\r\n\
         Message-ID: <crafted-{n}@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/related; boundary=\"rel\"\r\n\r\n\
         --rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n\
         --rel\r\nContent-Type: image/png; name=\"a.png\"\r\nContent-Transfer-Encoding: base64\r\n\
         Content-ID: <{cid}>\r\n\r\n\
         iVBORw0KGgoAAAANSUhEUgAAAAgAAAADCAIAAAAhqtkfAAAAEUlEQVR42mO4YGCAFTGQLAEAPEcc\r\n\
         gS0UQYcAAAAASUVORK5CYII=\r\n--rel--\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_crafted_content_id_never_turns_sanitised_text_into_attributes() {
    let db = TestDb::new().await;
    let mb = TestMailbox::new(&db.pool, &[]).await;
    let cases = [
        (
            r#"abc" alt="#,
            r#"<p>hi</p><img src="cid:abc" alt="x onerror=alert(1) style=position:fixed;inset:0 y">"#,
        ),
        (
            r#"x" onerror="alert(1)"#,
            r#"<img src='cid:x" onerror="alert(1)' alt="pic">"#,
        ),
    ];
    let mails: Vec<Vec<u8>> = cases
        .iter()
        .enumerate()
        .map(|(i, (cid, html))| mail_with_inline_image(i as u32, cid, html))
        .collect();
    mb.deliver(
        "INBOX",
        &mails.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    )
    .await;
    ingest(&db.pool).await;
    agent(&db, "ops@example.com", "Ops", frontdesk::auth::Role::Admin).await;
    let mut b = Browser::new(&db);
    b.login("ops@example.com", PASSWORD).await;
    for (i, (cid, _)) in cases.iter().enumerate() {
        let (message, att): (i64, i64) = sqlx::query_as(
            "select m.message_id, a.attachment_id from message m join attachment a using (message_id)
             where m.header_message_id = $1 and a.content_id = $2",
        )
        .bind(format!("crafted-{i}@example.org"))
        .bind(cid)
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{cid:?} stored as the part's Content-ID: {e}"));
        let p = b.get(&format!("/messages/{message}/body")).await;
        assert_eq!(p.status, StatusCode::OK);
        let body = p.body.split("<body>").nth(1).unwrap().to_lowercase();
        assert!(!body.contains("<script"), "{cid:?}: {body}");
        for tag in body
            .split('<')
            .skip(1)
            .map(|t| t.split('>').next().unwrap_or(""))
        {
            for name in attribute_names(tag) {
                assert!(
                    !name.starts_with("on") && name != "style" && name != "http-equiv",
                    "{cid:?}: a live {name} attribute in {body}"
                );
            }
        }
        if i == 0 {
            // `cid:abc` names no part (the part is `abc" alt=`): no image, and the alt text
            // stays text.
            assert!(!body.contains("src="), "{cid:?}: {body}");
            assert!(
                body.contains(r#"alt="x onerror=alert(1) style=position:fixed;inset:0 y""#),
                "{body}"
            );
        } else {
            assert!(
                body.contains(&format!("src=\"/attachments/{att}?inline=1\"")),
                "{cid:?}: {body}"
            );
        }
    }
    db.drop_db().await;
}

/// The attribute names of one tag's source (`img src="a b" alt=x`), quotes respected.
fn attribute_names(tag: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = tag.split_once(char::is_whitespace).map_or("", |(_, r)| r);
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return names;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        names.push(rest[..end].to_string());
        rest = &rest[end..];
        if let Some(after) = rest.trim_start().strip_prefix('=') {
            let after = after.trim_start();
            rest = match after.chars().next() {
                Some(q @ ('"' | '\'')) => after[1..].split_once(q).map_or("", |(_, r)| r),
                _ => after.find(char::is_whitespace).map_or("", |i| &after[i..]),
            };
        }
    }
}

#[tokio::test]
async fn the_apis_html_loads_nothing_remote_and_points_inline_parts_at_the_api() {
    let db = TestDb::new().await;
    let mb = TestMailbox::new(&db.pool, &[]).await;
    let html = concat!(
        r#"<p>Hello</p><img src="https://track.example/pixel.gif?u=1" alt="">"#,
        r#"<img srcset="https://track.example/a.png 1x"><img src="cid:logo@example.org">"#,
        r#"<img src="http://track.example/dangling?<p>rest of the mail</p>"#,
    );
    mb.deliver(
        "INBOX",
        &[&mail_with_inline_image(9, "logo@example.org", html)],
    )
    .await;
    ingest(&db.pool).await;
    let admin = agent(&db, "ops@example.com", "Ops", frontdesk::auth::Role::Admin).await;
    let token = frontdesk::auth::create_api_token(&db.pool, admin)
        .await
        .unwrap();
    let (number, message, att): (i64, i64, i64) = sqlx::query_as(
        "select m.ticket_id, m.message_id, a.attachment_id from message m join attachment a using (message_id)
         where m.header_message_id = 'crafted-9@example.org'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();

    let p = Browser::new(&db)
        .send(
            axum::http::Request::get(format!("/api/v1/tickets/{number}"))
                .header("authorization", format!("Bearer {token}")),
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    let ticket: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    let api_html = ticket["messages"][0]["html"].as_str().unwrap().to_string();
    let remote_loads = |html: &str| {
        attribute_values(html).iter().any(|(n, v)| {
            ["src", "srcset", "background", "poster"].contains(&n.as_str())
                && v.contains("track.example")
        })
    };
    assert!(!remote_loads(&api_html), "{api_html}");
    assert!(
        api_html.contains(r#"data-fd-src="https://track.example/pixel.gif?u=1""#),
        "{api_html}"
    );
    assert!(
        api_html.contains(&format!(r#"src="/api/v1/attachments/{att}""#)),
        "{api_html}"
    );
    let image = Browser::new(&db)
        .send(
            axum::http::Request::get(format!("/api/v1/attachments/{att}"))
                .header("authorization", format!("Bearer {token}")),
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(image.status, StatusCode::OK);

    // The ticket page's frame: held until the agent asks, then shown.
    let mut b = Browser::new(&db);
    b.login("ops@example.com", PASSWORD).await;
    let held = b.get(&format!("/messages/{message}/body")).await.body;
    assert!(!remote_loads(&held), "{held}");
    assert!(
        held.contains(&format!(r#"src="/attachments/{att}?inline=1""#)),
        "{held}"
    );
    let shown = b
        .get(&format!("/messages/{message}/body?images=1"))
        .await
        .body;
    assert!(
        shown.contains(r#"src="https://track.example/pixel.gif?u=1""#),
        "{shown}"
    );
    db.drop_db().await;
}

/// Every attribute (name, value) of every element of an HTML fragment, as a browser parses it.
fn attribute_values(html: &str) -> Vec<(String, String)> {
    let doc = dom_query::Document::fragment(html);
    doc.select("*")
        .nodes()
        .iter()
        .flat_map(|n| n.attrs())
        .map(|a| (a.name.local.to_string(), a.value.to_string()))
        .collect()
}

/// `PATCH /api/v1/tickets/{number}` with a JSON body as `token`.
async fn patch(db: &TestDb, token: &str, number: i64, body: serde_json::Value) -> Page {
    Browser::new(db)
        .send(
            axum::http::Request::patch(format!("/api/v1/tickets/{number}"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json"),
            axum::body::Body::from(body.to_string()),
        )
        .await
}

#[tokio::test]
async fn a_refused_patch_changes_nothing_and_a_ticket_out_of_sight_is_404_whatever_the_body() {
    let db = TestDb::new().await;
    let mb = TestMailbox::new(&db.pool, &[]).await;
    mb.deliver("INBOX", &[&case("23-reply-in-reply-to-only-a.eml")])
        .await;
    ingest(&db.pool).await;
    let number: i64 = sqlx::query_scalar("select ticket_id from ticket")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let lead = agent(&db, "lead@example.com", "Lead", frontdesk::auth::Role::Lead).await;
    let lead_token = frontdesk::auth::create_api_token(&db.pool, lead)
        .await
        .unwrap();
    // An agent of no team: sees no mailbox.
    let outsider = agent(&db, "out@example.com", "Out", frontdesk::auth::Role::Agent).await;
    let outsider_token = frontdesk::auth::create_api_token(&db.pool, outsider)
        .await
        .unwrap();
    let state = || async {
        sqlx::query_as::<_, (String, String, Option<i64>, i64, i64)>(
            "select status::text, priority::text, assignee_agent_id,
                    (select count(*) from ticket_tag tt where tt.ticket_id = t.ticket_id),
                    (select count(*) from ticket_event e where e.ticket_id = t.ticket_id)
             from ticket t where ticket_id = $1",
        )
        .bind(number)
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    let before = state().await;
    assert_eq!(before.0, "open");

    // Every field valid on its own, but the assignee cannot see the mailbox: nothing changes.
    let refused = patch(
        &db,
        &lead_token,
        number,
        serde_json::json!({"status": "closed", "priority": "high", "tags": ["vip"],
                           "assignee": "out@example.com"}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(state().await, before, "a refused PATCH changed the ticket");
    // Same when a later field is the bad one.
    let refused = patch(
        &db,
        &lead_token,
        number,
        serde_json::json!({"status": "closed", "tags": ["x".repeat(51)]}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(state().await, before, "a refused PATCH changed the ticket");

    // Out of sight: 404 whether the e-mail names an agent or not (no probing of e-mails).
    for email in ["lead@example.com", "nobody@example.com", "out@example.com"] {
        let p = patch(
            &db,
            &outsider_token,
            number,
            serde_json::json!({"assignee": email}),
        )
        .await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{email}: {}", p.body);
    }

    // A valid PATCH applies every field.
    let ok = patch(
        &db,
        &lead_token,
        number,
        serde_json::json!({"status": "closed", "priority": "high", "tags": ["vip"],
                           "assignee": "lead@example.com"}),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let after = state().await;
    assert_eq!(
        (after.0.as_str(), after.1.as_str(), after.2, after.3),
        ("closed", "high", Some(lead), 1)
    );
    db.drop_db().await;
}

#[tokio::test]
async fn a_merge_across_mailboxes_needs_both_mailboxes_and_a_confirmation_naming_who_gains_access()
{
    let db = TestDb::new().await;
    let support = TestMailbox::new(&db.pool, &[]).await;
    support
        .deliver("INBOX", &[&case("23-reply-in-reply-to-only-a.eml")])
        .await;
    let url = format!("imap://{}:secret@{}/INBOX", random_name("u"), imap_addr());
    let billing = TestMailbox {
        mailbox_id: frontdesk::mailboxes::upsert_mailbox(
            &db.pool,
            "Billing",
            "billing@example.com",
            &url,
            None,
        )
        .await
        .unwrap(),
        url,
    };
    billing
        .deliver("INBOX", &[&case("28-unknown-ticket-token.eml")])
        .await;
    ingest(&db.pool).await;
    let ticket_in = |mailbox: i64| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select ticket_id from ticket where mailbox_id = $1")
                .bind(mailbox)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (target, source) = (
        ticket_in(support.mailbox_id).await,
        ticket_in(billing.mailbox_id).await,
    );
    use frontdesk::auth::Role;
    let sam = agent(&db, "sam@example.com", "Sam Support", Role::Agent).await;
    let bill = agent(&db, "bill@example.com", "Bill Billing", Role::Agent).await;
    let both = agent(&db, "both@example.com", "Bo Both", Role::Agent).await;
    agent(&db, "lead@example.com", "Lee Lead", Role::Lead).await;
    grant_through_team(&db.pool, "support", sam, support.mailbox_id).await;
    grant_through_team(&db.pool, "billing", bill, billing.mailbox_id).await;
    grant_through_team(&db.pool, "both-s", both, support.mailbox_id).await;
    sqlx::query("insert into team_member select team_id, $1 from team where name = 'billing'")
        .bind(both)
        .execute(&db.pool)
        .await
        .unwrap();
    let merged = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from message where ticket_id = $1")
            .bind(source)
            .fetch_one(&db.pool)
            .await
            .unwrap()
            == 0
    };
    let merge_path = format!("/tickets/{source}/merge");
    let into = target.to_string();

    // Someone who cannot see both mailboxes cannot merge across them.
    for email in ["sam@example.com", "bill@example.com"] {
        let mut b = Browser::new(&db);
        b.login(email, PASSWORD).await;
        let p = b.post(&merge_path, &[("into", &into)]).await;
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{email}");
        assert!(!merged().await, "{email} merged");
    }

    // Someone who sees both is asked first, naming who gains access: Sam (support, not
    // billing); not Bill (billing only), Bo (both already) or the lead (sees all).
    let mut b = Browser::new(&db);
    b.login("both@example.com", PASSWORD).await;
    let ask = b.post(&merge_path, &[("into", &into)]).await;
    assert_eq!(ask.status, StatusCode::CONFLICT, "{}", ask.body);
    assert!(ask.body.contains("Sam Support"), "{}", ask.body);
    for not_gaining in ["Bill Billing", "Bo Both", "Lee Lead"] {
        assert!(
            !ask.body.contains(not_gaining),
            "{not_gaining}: {}",
            ask.body
        );
    }
    assert!(!merged().await, "merged without confirmation");
    let confirm = ask
        .body
        .split(r#"name="confirm" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a confirmation form")
        .to_string();
    // A confirmation given for other people is not taken.
    let stale = b
        .post(
            &merge_path,
            &[
                ("into", &into),
                ("confirm", "billing@example.com into support@example.com: "),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(!merged().await);

    let done = b
        .post(&merge_path, &[("into", &into), ("confirm", &confirm)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(merged().await);
    for (ticket, kind) in [(target, "merged_from"), (source, "merged_into")] {
        let detail: serde_json::Value = sqlx::query_scalar(
            "select detail from ticket_event where ticket_id = $1 and kind = $2",
        )
        .bind(ticket)
        .bind(kind)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(
            detail["cross_mailbox"],
            serde_json::json!({"from": "billing@example.com", "into": "support@example.com",
                               "gained_access": [sam]}),
            "{kind}: {detail}"
        );
    }
    let page = b.get(&format!("/tickets/{target}")).await;
    assert!(
        page.body.contains("across mailboxes"),
        "the timeline shows it"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn pages_and_api_answers_are_never_stored_by_a_browser_or_proxy() {
    use tower::ServiceExt;
    let db = TestDb::new().await;
    let dana = agent(
        &db,
        "dana@example.com",
        "Dana",
        frontdesk::auth::Role::Admin,
    )
    .await;
    let token = frontdesk::auth::create_api_token(&db.pool, dana)
        .await
        .unwrap();
    let mut b = Browser::new(&db);
    b.login("dana@example.com", PASSWORD).await;
    let mut config = frontdesk::config::Config::from_env().unwrap();
    config.db.url = Some(db.url.clone());
    let router = frontdesk::web::router(frontdesk::web::AppState::new(
        db.pool.clone(),
        std::sync::Arc::new(config),
    ));
    let cache_control = |path: &str, auth: Option<(&str, String)>| {
        let mut req = axum::http::Request::get(path);
        if let Some((name, value)) = auth {
            req = req.header(name, value);
        }
        let router = router.clone();
        let path = path.to_string();
        async move {
            let resp = router
                .oneshot(req.body(axum::body::Body::empty()).unwrap())
                .await
                .unwrap();
            assert!(resp.status().is_success(), "{path}: {}", resp.status());
            resp.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap().to_string())
        }
    };
    let cookie = b.cookie.clone().unwrap();
    for path in ["/inbox", "/settings", "/search?q=x"] {
        assert_eq!(
            cache_control(path, Some(("cookie", cookie.clone())))
                .await
                .as_deref(),
            Some("no-store"),
            "{path}"
        );
    }
    assert_eq!(
        cache_control(
            "/api/v1/tickets",
            Some(("authorization", format!("Bearer {token}")))
        )
        .await
        .as_deref(),
        Some("no-store")
    );
    assert_ne!(
        cache_control("/static/app.css", None).await.as_deref(),
        Some("no-store"),
        "static files may be cached"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn a_password_change_ends_api_tokens_too_unless_the_agent_keeps_them() {
    let db = TestDb::new().await;
    let dana = agent(
        &db,
        "dana@example.com",
        "Dana",
        frontdesk::auth::Role::Agent,
    )
    .await;
    let api_status = |token: String| {
        let db = &db;
        async move {
            Browser::new(db)
                .send(
                    axum::http::Request::get("/api/v1/tickets")
                        .header("authorization", format!("Bearer {token}")),
                    axum::body::Body::empty(),
                )
                .await
                .status
        }
    };
    let mut b = Browser::new(&db);
    b.login("dana@example.com", PASSWORD).await;
    assert!(
        b.get("/settings")
            .await
            .body
            .contains(r#"name="end_tokens" value="1" checked"#)
    );

    // Kept when unticked.
    let kept = frontdesk::auth::create_api_token(&db.pool, dana)
        .await
        .unwrap();
    let p = b
        .post(
            "/settings/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a new passphrase"),
                ("confirm_password", "a new passphrase"),
                ("tokens_choice", "1"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(api_status(kept.clone()).await, StatusCode::OK);

    // Ended by default.
    let p = b
        .post(
            "/settings/password",
            &[
                ("current_password", "a new passphrase"),
                ("new_password", "another passphrase"),
                ("confirm_password", "another passphrase"),
                ("tokens_choice", "1"),
                ("end_tokens", "1"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(api_status(kept).await, StatusCode::UNAUTHORIZED);
    db.drop_db().await;
}
