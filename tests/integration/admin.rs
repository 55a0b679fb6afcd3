//! Agent administration as an admin does it today: the real `frontdesk` binary (agent list,
//! disable, enable, password; token list, revoke; team, saved-reply and mailbox lists) against
//! a fresh database, and the real HTTP app to prove what each command does to sign-in,
//! sessions, API tokens, assignment and mentions. Also the password change on `/settings`.

use std::process::Stdio;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tokio::io::AsyncWriteExt;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_frontdesk");
const PASSWORD: &str = "correct horse battery";

/// What a `frontdesk` run printed, and its exit code.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the real binary on the test database, with `stdin` piped in (or empty).
async fn frontdesk(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = tokio::process::Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start frontdesk");
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .await
        .unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the binary and insists on exit code 0.
async fn ok(db: &TestDb, args: &[&str], stdin: Option<&str>) -> String {
    let r = frontdesk(db, args, stdin).await;
    assert_eq!(
        r.code, 0,
        "frontdesk {args:?} failed:\n{}\n{}",
        r.stdout, r.stderr
    );
    r.stdout
}

/// Adds an agent through the CLI with the password [`PASSWORD`]; returns their id.
async fn cli_agent(db: &TestDb, email: &str, name: &str, role: &str) -> i64 {
    ok(
        db,
        &[
            "agent",
            "add",
            "--email",
            email,
            "--name",
            name,
            "--role",
            role,
            "--password-stdin",
        ],
        Some(&format!("{PASSWORD}\n")),
    )
    .await;
    scalar_for(
        &db.pool,
        "select agent_id from agent where email = $1",
        email,
    )
    .await
}

/// `GET path` with a bearer token and no cookie; the status.
async fn api_status(db: &TestDb, path: &str, token: &str) -> StatusCode {
    Browser::new(db)
        .send(
            Request::get(path).header(header::AUTHORIZATION, format!("Bearer {token}")),
            Body::empty(),
        )
        .await
        .status
}

/// A mailbox (never polled here) and `n` open tickets in it; their numbers.
async fn tickets(db: &TestDb, n: usize) -> Vec<i64> {
    let mailbox_id = offline_mailbox(&db.pool, SUPPORT, None).await;
    let mut out = Vec::new();
    for i in 0..n {
        let t: i64 = sqlx::query_scalar(
            "insert into ticket (mailbox_id, subject) values ($1, $2) returning ticket_id",
        )
        .bind(mailbox_id)
        .bind(format!("Question {i}"))
        .fetch_one(&db.pool)
        .await
        .unwrap();
        execute_for(
            &db.pool,
            "insert into message (ticket_id, direction, from_email, text_body, created_at)
             values ($1, 'inbound', 'jana@example.org', 'Hello', now())",
            t,
        )
        .await;
        out.push(t);
    }
    out
}

/// The cells of the list line whose first column is `first` (columns are two or more spaces
/// apart).
fn row<'a>(out: &'a str, first: &str) -> Vec<&'a str> {
    let line = out
        .lines()
        .find(|l| l.split("  ").next() == Some(first))
        .unwrap_or_else(|| panic!("no row {first:?} in:\n{out}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[tokio::test]
async fn a_disabled_agent_is_refused_at_sign_in_in_open_sessions_with_tokens_and_for_assignment() {
    let db = TestDb::new().await;
    let [t1, t2] = tickets(&db, 2).await.try_into().unwrap();
    cli_agent(&db, "ada@example.com", "Ada Admin", "admin").await;
    let dana = cli_agent(&db, "dana@example.com", "Dana Lee", "admin").await;
    let created = frontdesk(
        &db,
        &[
            "token",
            "create",
            "--agent",
            "dana@example.com",
            "--name",
            "zapier",
        ],
        None,
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let token = created.stdout.trim().to_string();
    assert!(
        token.starts_with("fd_"),
        "only the token on stdout: {token}"
    );
    assert!(created.stderr.contains("created for dana@example.com"));

    let mut ada = Browser::new(&db);
    assert_eq!(
        ada.login("ada@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let mut dana_tab = Browser::new(&db);
    assert_eq!(
        dana_tab.login("dana@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(dana_tab.get("/inbox").await.status, StatusCode::OK);
    assert_eq!(
        api_status(&db, "/api/v1/tickets", &token).await,
        StatusCode::OK
    );
    // Dana has a ticket, and a mention reaches her.
    let assigned = ada
        .post(
            &format!("/tickets/{t1}/assign"),
            &[("assignee", &dana.to_string())],
        )
        .await;
    assert_eq!(assigned.status, StatusCode::SEE_OTHER);
    let mentions_of_dana = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from notification where agent_id = $1 and kind = 'mention'",
        )
        .bind(dana)
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    ada.post(
        &format!("/tickets/{t1}/notes"),
        &[("text", "@dana can you look?")],
    )
    .await;
    assert_eq!(mentions_of_dana().await, 1);

    let out = ok(&db, &["agent", "disable", "dana@example.com"], None).await;
    assert!(out.contains("dana@example.com disabled"), "{out}");

    // Her open session is over at its next request, and stays over.
    let next = dana_tab.get("/inbox").await;
    assert_eq!(next.status, StatusCode::SEE_OTHER);
    assert!(next.location.unwrap().starts_with("/login"));
    assert_eq!(
        dana_tab.get("/settings").await.status,
        StatusCode::SEE_OTHER
    );
    // Her token is refused.
    assert_eq!(
        api_status(&db, "/api/v1/tickets", &token).await,
        StatusCode::UNAUTHORIZED
    );
    // The right password is refused exactly like an unknown account's.
    let mut stranger = Browser::new(&db);
    let disabled = stranger.login("dana@example.com", PASSWORD).await;
    let unknown = stranger.login("nobody@example.com", PASSWORD).await;
    assert_eq!(disabled.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(disabled.body.contains("Invalid email or password."));
    assert_eq!(
        disabled.body.replace("dana@example.com", "EMAIL"),
        unknown.body.replace("nobody@example.com", "EMAIL"),
        "the page must not tell a disabled account from a missing one"
    );

    // Her ticket stays hers, shown as assigned to a disabled agent; she is offered nowhere else.
    let assignee: Option<i64> = scalar_for(
        &db.pool,
        "select assignee_agent_id from ticket where ticket_id = $1",
        t1,
    )
    .await;
    assert_eq!(assignee, Some(dana));
    let page = ada.get(&format!("/tickets/{t1}")).await;
    assert!(
        page.body.contains(&format!(
            "<option value=\"{dana}\" selected>Dana Lee (disabled)</option>"
        )),
        "{}",
        page.body
    );
    let other = ada.get(&format!("/tickets/{t2}")).await;
    assert!(!other.body.contains("Dana Lee"), "{}", other.body);
    assert!(other.body.contains("Ada Admin"));
    let refused = ada
        .post(
            &format!("/tickets/{t2}/assign"),
            &[("assignee", &dana.to_string())],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("disabled"), "{}", refused.body);
    let bulk = ada
        .post(
            "/inbox/bulk",
            &[
                ("ticket", &t2.to_string()),
                ("action", "assign"),
                ("value", &dana.to_string()),
            ],
        )
        .await;
    assert_eq!(bulk.status, StatusCode::BAD_REQUEST, "{}", bulk.body);
    let ada_token = ok(
        &db,
        &["token", "create", "--agent", "ada@example.com"],
        None,
    )
    .await;
    let patched = Browser::new(&db)
        .send(
            Request::patch(format!("/api/v1/tickets/{t2}"))
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", ada_token.trim()),
                )
                .header(header::CONTENT_TYPE, "application/json"),
            Body::from(r#"{"assignee": "dana@example.com"}"#),
        )
        .await;
    assert_eq!(patched.status, StatusCode::BAD_REQUEST, "{}", patched.body);
    let unassigned: Option<i64> = scalar_for(
        &db.pool,
        "select assignee_agent_id from ticket where ticket_id = $1",
        t2,
    )
    .await;
    assert_eq!(unassigned, None);
    // A mention no longer notifies her.
    ada.post(
        &format!("/tickets/{t1}/notes"),
        &[("text", "@dana are you there?")],
    )
    .await;
    assert_eq!(mentions_of_dana().await, 1);

    // The list says so; unknown emails are errors that name them.
    let list = ok(&db, &["agent", "list"], None).await;
    let header = list.lines().next().unwrap();
    assert!(
        header.starts_with("EMAIL") && header.contains("LAST SEEN"),
        "{list}"
    );
    assert_eq!(
        row(&list, "dana@example.com")[..5],
        ["dana@example.com", "Dana Lee", "admin", "-", "disabled"]
    );
    assert_eq!(row(&list, "ada@example.com")[4], "active");
    assert_ne!(
        row(&list, "ada@example.com")[5],
        "never",
        "Ada has used the web UI"
    );
    let missing = frontdesk(&db, &["agent", "disable", "nobody@example.com"], None).await;
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("nobody@example.com"),
        "{}",
        missing.stderr
    );

    // Enabled again: she can sign in and use her token; the old session stays ended.
    ok(&db, &["agent", "enable", "dana@example.com"], None).await;
    assert_eq!(dana_tab.get("/inbox").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        dana_tab.login("dana@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(dana_tab.get("/inbox").await.status, StatusCode::OK);
    assert_eq!(
        api_status(&db, "/api/v1/tickets", &token).await,
        StatusCode::OK
    );
    db.drop_db().await;
}

#[tokio::test]
async fn changing_the_password_on_settings_ends_the_other_sessions_and_keeps_this_one() {
    let db = TestDb::new().await;
    agent(&db, "dana@example.com", "Dana Lee", Role::Agent).await;
    let mut laptop = Browser::new(&db);
    let mut phone = Browser::new(&db);
    for b in [&mut laptop, &mut phone] {
        assert_eq!(
            b.login("dana@example.com", PASSWORD).await.status,
            StatusCode::SEE_OTHER
        );
    }
    let form = |current: &'static str, new: &'static str, again: &'static str| {
        [
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", again),
        ]
    };
    let page = laptop.get("/settings").await;
    assert!(page.body.contains("action=\"/settings/password\""));

    // Refusals re-render the page with the reason, and change nothing.
    let wrong = laptop
        .post(
            "/settings/password",
            &form("not my password", "a new passphrase", "a new passphrase"),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.body.contains("The current password is not correct."));
    let mismatch = laptop
        .post(
            "/settings/password",
            &form(PASSWORD, "a new passphrase", "a new passphrase!"),
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    assert!(mismatch.body.contains("not the same"), "{}", mismatch.body);
    let short = laptop
        .post("/settings/password", &form(PASSWORD, "short", "short"))
        .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert!(
        short.body.contains("at least 8 characters"),
        "{}",
        short.body
    );
    let forged = laptop
        .send(
            Request::post("/settings/password")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("sec-fetch-site", "cross-site")
                .header("origin", "https://evil.example.net"),
            Body::from(format!(
                "current_password={}&new_password=attacker1&confirm_password=attacker1",
                PASSWORD.replace(' ', "+")
            )),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(phone.get("/inbox").await.status, StatusCode::OK);

    // The change: this session stays, the other one ends.
    let changed = laptop
        .post(
            "/settings/password",
            &form(PASSWORD, "a new passphrase", "a new passphrase"),
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    assert_eq!(
        changed.location.as_deref(),
        Some("/settings?password=changed")
    );
    let after = laptop.get("/settings?password=changed").await;
    assert_eq!(after.status, StatusCode::OK);
    assert!(after.body.contains("Password changed."));
    assert_eq!(laptop.get("/inbox").await.status, StatusCode::OK);
    let ended = phone.get("/inbox").await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER);
    assert!(ended.location.unwrap().starts_with("/login"));

    let hash: String = scalar(
        &db.pool,
        "select password_hash from agent where email = 'dana@example.com'",
    )
    .await;
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let mut other = Browser::new(&db);
    assert_eq!(
        other.login("dana@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        other
            .login("dana@example.com", "a new passphrase")
            .await
            .status,
        StatusCode::SEE_OTHER
    );

    // Guessing the current password from an open session hits the sign-in limit.
    for _ in 0..frontdesk::auth::MAX_FAILED_PER_EMAIL {
        laptop
            .post(
                "/settings/password",
                &form("guess", "another passphrase", "another passphrase"),
            )
            .await;
    }
    let limited = laptop
        .post(
            "/settings/password",
            &form(
                "a new passphrase",
                "another passphrase",
                "another passphrase",
            ),
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    db.drop_db().await;
}

#[tokio::test]
async fn agent_password_sets_a_piped_or_generated_password_and_ends_every_session() {
    let db = TestDb::new().await;
    cli_agent(&db, "dana@example.com", "Dana Lee", "agent").await;
    let mut tab = Browser::new(&db);
    tab.login("dana@example.com", PASSWORD).await;
    assert_eq!(tab.get("/inbox").await.status, StatusCode::OK);

    let out = ok(
        &db,
        &["agent", "password", "dana@example.com"],
        Some("piped passphrase\n"),
    )
    .await;
    assert!(out.contains("sessions were ended"), "{out}");
    assert!(!out.contains("piped passphrase"), "never echo it: {out}");
    assert_eq!(tab.get("/inbox").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        tab.login("dana@example.com", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        tab.login("dana@example.com", "piped passphrase")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(tab.get("/inbox").await.status, StatusCode::OK);

    let out = ok(
        &db,
        &["agent", "password", "dana@example.com", "--generate"],
        None,
    )
    .await;
    let generated = out
        .trim()
        .rsplit("(shown once): ")
        .next()
        .unwrap()
        .to_string();
    assert_eq!(generated.len(), 24, "{out}");
    assert_eq!(tab.get("/inbox").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        tab.login("dana@example.com", &generated).await.status,
        StatusCode::SEE_OTHER
    );

    let short = frontdesk(
        &db,
        &["agent", "password", "dana@example.com"],
        Some("short\n"),
    )
    .await;
    assert_eq!(short.code, 1);
    assert!(
        short.stderr.contains("at least 8 characters"),
        "{}",
        short.stderr
    );
    let unknown = frontdesk(
        &db,
        &["agent", "password", "nobody@example.com", "--generate"],
        None,
    )
    .await;
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("no agent with email nobody@example.com"),
        "{}",
        unknown.stderr
    );
    // The refused runs changed nothing.
    assert_eq!(tab.get("/inbox").await.status, StatusCode::OK);
    db.drop_db().await;
}

#[tokio::test]
async fn a_revoked_token_gets_401_at_once_and_token_lists_never_show_secrets() {
    let db = TestDb::new().await;
    cli_agent(&db, "dana@example.com", "Dana Lee", "admin").await;
    cli_agent(&db, "jo@example.com", "Jo Park", "agent").await;
    let zapier = ok(
        &db,
        &[
            "token",
            "create",
            "--agent",
            "dana@example.com",
            "--name",
            "zapier",
        ],
        None,
    )
    .await
    .trim()
    .to_string();
    let script = ok(
        &db,
        &["token", "create", "--agent", "dana@example.com"],
        None,
    )
    .await
    .trim()
    .to_string();
    let jo = ok(
        &db,
        &[
            "token",
            "create",
            "--agent",
            "jo@example.com",
            "--name",
            "ci",
        ],
        None,
    )
    .await
    .trim()
    .to_string();
    let zapier_id: i64 = scalar(
        &db.pool,
        "select api_token_id from api_token where name = 'zapier'",
    )
    .await;
    assert_eq!(
        api_status(&db, "/api/v1/tickets", &zapier).await,
        StatusCode::OK
    );

    let list = ok(&db, &["token", "list"], None).await;
    for secret in [&zapier, &script, &jo] {
        assert!(!list.contains(secret.as_str()), "{list}");
    }
    assert!(!list.contains("fd_"), "{list}");
    assert_eq!(list.lines().count(), 4, "a header and 3 tokens: {list}");
    let z = row(&list, &zapier_id.to_string());
    assert_eq!(z[1..3], ["dana@example.com", "zapier"]);
    assert!(z[4].ends_with("UTC"), "last used is tracked: {z:?}");
    assert_eq!(z[5], "active");
    let only_jo = ok(&db, &["token", "list", "--agent", "jo@example.com"], None).await;
    assert_eq!(only_jo.lines().count(), 2, "{only_jo}");
    assert!(only_jo.contains("jo@example.com") && only_jo.contains("never"));

    let out = ok(&db, &["token", "revoke", &zapier_id.to_string()], None).await;
    assert!(out.contains("revoked"), "{out}");
    assert_eq!(
        api_status(&db, "/api/v1/tickets", &zapier).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api_status(&db, "/api/v1/tickets", &script).await,
        StatusCode::OK,
        "her other token still works"
    );
    let again = ok(&db, &["token", "revoke", &zapier_id.to_string()], None).await;
    assert!(again.contains("already revoked"), "{again}");
    let list = ok(&db, &["token", "list"], None).await;
    assert!(
        row(&list, &zapier_id.to_string())[5].starts_with("revoked "),
        "{list}"
    );

    let missing = frontdesk(&db, &["token", "revoke", "999999"], None).await;
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no API token with id 999999"));
    let unknown = frontdesk(
        &db,
        &["token", "list", "--agent", "nobody@example.com"],
        None,
    )
    .await;
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("nobody@example.com"));
    db.drop_db().await;
}

#[tokio::test]
async fn team_saved_reply_and_mailbox_lists_are_aligned_tables_without_secrets() {
    let db = TestDb::new().await;
    cli_agent(&db, "dana@example.com", "Dana Lee", "agent").await;
    cli_agent(&db, "jo@example.com", "Jo Park", "agent").await;
    ok(
        &db,
        &[
            "mailbox",
            "add",
            "--name",
            "Support",
            "--address",
            "support@example.com",
            "--imap-url",
            "imap://support:s3cret-imap@127.0.0.1:10143/INBOX",
        ],
        None,
    )
    .await;
    // A sentence, like the other commands, not a bare id; a re-run says the team exists.
    let out = ok(&db, &["team", "add", "Support"], None).await;
    assert!(out.starts_with("team Support created (id "), "{out}");
    let again = ok(&db, &["team", "add", "Support"], None).await;
    assert!(
        again.starts_with("team Support already exists (id "),
        "{again}"
    );
    ok(&db, &["team", "add", "Billing"], None).await;
    for email in ["dana@example.com", "jo@example.com"] {
        ok(&db, &["team", "member", "add", "Support", email], None).await;
    }
    ok(
        &db,
        &["team", "grant", "Support", "support@example.com"],
        None,
    )
    .await;
    ok(&db, &["agent", "disable", "jo@example.com"], None).await;
    ok(
        &db,
        &[
            "saved-reply",
            "add",
            "--name",
            "Refund",
            "--body",
            "Hi {{customer.first_name}},\n\nyour refund is on its way.",
        ],
        None,
    )
    .await;

    let teams = ok(&db, &["team", "list"], None).await;
    let lines: Vec<&str> = teams.lines().collect();
    assert_eq!(lines.len(), 3, "{teams}");
    let members_at = lines[0].find("MEMBERS").unwrap();
    let mailboxes_at = lines[0].find("MAILBOXES").unwrap();
    for line in &lines[1..] {
        assert_eq!(line.len(), line.trim_end().len(), "no trailing spaces");
        // Every column starts under its heading, after at least two spaces.
        for at in [members_at, mailboxes_at] {
            assert_eq!(&line[at - 2..at], "  ", "{teams}");
            assert_ne!(&line[at..at + 1], " ", "{teams}");
        }
    }
    assert!(lines[1].starts_with("Billing  "), "{teams}");
    assert_eq!(&lines[1][members_at..members_at + 1], "-");
    assert_eq!(
        &lines[2][members_at..mailboxes_at].trim_end(),
        &"dana@example.com, jo@example.com (disabled)"
    );
    assert_eq!(&lines[2][mailboxes_at..], "support@example.com");

    let replies = ok(&db, &["saved-reply", "list"], None).await;
    let r = row(&replies, "ID");
    assert_eq!(r, ["ID", "NAME", "BODY"]);
    let body_at = replies.lines().next().unwrap().find("BODY").unwrap();
    let line = replies.lines().nth(1).unwrap();
    assert_eq!(&line[body_at..], "Hi {{customer.first_name}},", "{replies}");

    let mailboxes = ok(&db, &["mailbox", "list"], None).await;
    assert!(!mailboxes.contains("s3cret-imap"), "{mailboxes}");
    let header = mailboxes.lines().next().unwrap();
    assert!(header.starts_with("ID  ADDRESS"), "{mailboxes}");
    let state_at = header.find("STATE").unwrap();
    let line = mailboxes.lines().nth(1).unwrap();
    assert!(
        line[state_at..].starts_with("enabled  imap://"),
        "{mailboxes}"
    );
    db.drop_db().await;
}
