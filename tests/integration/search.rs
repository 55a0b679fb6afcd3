//! The search vector has one definition, the SQL function `message_search_vector_in` with
//! the message's mailbox's configuration: the background indexer and the benchmark seeder
//! (`frontdesk-seed`) both store what it gives. And search understands language: stemming in
//! the mailbox's language, accents folded, CJK found by fragments, never across mailboxes.

use axum::http::StatusCode;
use frontdesk::auth::Role;
use serde_json::{Value, json};

use crate::support::*;

/// Messages whose stored vector differs from the function's with their mailbox's
/// configuration (or was built with another one), and messages without one.
async fn vectors_off_the_function(db: &TestDb) -> (i64, i64, i64) {
    sqlx::query_as(
        "select count(*),
                count(*) filter (where m.search is distinct from
                    message_search_vector_in(('frontdesk_' || b.search_language)::regconfig,
                        m.subject, m.from_email, m.from_name, m.text_body,
                        (select string_agg(a.filename, ' ') from attachment a
                         where a.message_id = m.message_id and not a.inline))
                    or m.search_config is distinct from ('frontdesk_' || b.search_language)::regconfig),
                count(*) filter (where m.search is null or m.search_config is null)
         from message m join ticket t on t.ticket_id = m.ticket_id join mailbox b on b.mailbox_id = t.mailbox_id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_indexer_stores_what_the_sql_search_vector_function_gives() {
    let db = TestDb::new().await;
    let mb = TestMailbox::new(&db.pool, &[]).await;
    mb.deliver(
        "INBOX",
        &[
            &case("12-xss-html-body.eml"),
            &case("23-reply-in-reply-to-only-a.eml"),
            &case("23-reply-in-reply-to-only-b.eml"),
        ],
    )
    .await;
    ingest(&db.pool).await;
    while frontdesk::search::index_pending(&db.pool).await.unwrap() > 0 {}
    let (messages, differ, unindexed) = vectors_off_the_function(&db).await;
    assert!(messages >= 3);
    assert_eq!((differ, unindexed), (0, 0), "of {messages} messages");
    // The default language is English: stemmed.
    let english: i64 = scalar(
        &db.pool,
        "select count(*) from message where search_config = 'frontdesk_english'::regconfig",
    )
    .await;
    assert_eq!(english, messages);
    // The old function is the expression the indexer used before it, so vectors stored by
    // earlier versions stay valid.
    let changed: i64 = sqlx::query_scalar(
        "select count(*) from message
         where message_search_vector(subject, from_email, from_name, text_body) is distinct from
            (setweight(to_tsvector('simple', coalesce(subject, '')), 'A')
             || setweight(to_tsvector('simple', coalesce(from_email, '') || ' ' || coalesce(from_name, '')), 'B')
             || to_tsvector('simple', left(text_body, 20000)))",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(changed, 0);
    db.drop_db().await;
}

#[tokio::test]
async fn the_seeder_and_the_indexer_store_the_same_search_vectors() {
    let db = TestDb::new().await;
    let stdout = run_seeder(&db, &["--tickets", "260", "--agents", "2", "--seed", "3"]).await;
    assert!(stdout.contains("admin-password: "), "{stdout}");
    let (messages, differ, unindexed) = vectors_off_the_function(&db).await;
    assert!(messages >= 260, "{stdout}");
    // One ticket in 250 has a Japanese or Chinese sentence: a fragment of it finds the ticket.
    let (number, sentence): (i64, String) = sqlx::query_as(
        "select t.ticket_id, substring(m.text_body from '[ぁ-ヿ一-鿿]+')
         from message m join ticket t using (ticket_id)
         where m.text_body ~ '[ぁ-ヿ一-鿿]' order by t.ticket_id limit 1",
    )
    .fetch_one(&db.pool)
    .await
    .expect("a seeded ticket with CJK text");
    let fragment: String = sentence.chars().skip(1).take(3).collect();
    let admin = agent(&db, "searcher@example.com", "Sam", Role::Admin).await;
    let token = frontdesk::auth::create_api_token(&db.pool, admin)
        .await
        .unwrap();
    assert!(
        hits(&db, &token, &fragment).await.contains(&number),
        "{fragment:?} (from {sentence:?}) finds ticket {number}"
    );
    assert_eq!(
        (differ, unindexed),
        (0, 0),
        "seeded, of {messages} messages"
    );

    // What the seeder stored is what the indexer builds for the same messages.
    sqlx::query("create table seeded_search as select message_id, search from message")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("update message set search = null, search_config = null")
        .execute(&db.pool)
        .await
        .unwrap();
    while frontdesk::search::index_pending(&db.pool).await.unwrap() > 0 {}
    let differ: i64 = sqlx::query_scalar(
        "select count(*) from message m join seeded_search s using (message_id)
         where m.search is distinct from s.search",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(differ, 0, "of {messages} messages");
    db.drop_db().await;
}

/// A plain-text mail to the test mailbox, UTF-8 body.
fn mail(id: &str, from: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{id}@search.example.org>\r\nDate: Fri, 04 Dec 2026 05:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The results of `GET /api/v1/search?q=`.
async fn results(db: &TestDb, token: &str, q: &str) -> Vec<Value> {
    let path = format!("/api/v1/search?q={}", urlencoding(q));
    let (s, v) = api_json(db, "GET", &path, token, Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{q}: {v}");
    v["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{q}: {v}"))
        .clone()
}

/// The ticket numbers `GET /api/v1/search?q=` answers with.
async fn hits(db: &TestDb, token: &str, q: &str) -> Vec<i64> {
    results(db, token, q)
        .await
        .iter()
        .map(|r| r["number"].as_i64().unwrap())
        .collect()
}

/// The excerpt of the first result.
async fn first_excerpt(db: &TestDb, token: &str, q: &str) -> String {
    results(db, token, q).await[0]["excerpt"]
        .as_str()
        .unwrap()
        .to_string()
}

fn urlencoding(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

async fn index_all(db: &TestDb) {
    while frontdesk::search::index_pending(&db.pool).await.unwrap() > 0 {}
}

#[tokio::test]
async fn search_stems_in_the_mailbox_language_folds_accents_and_finds_cjk_fragments() {
    let db = TestDb::new().await;
    let mb = TestMailbox::new(&db.pool, &[]).await;
    mb.deliver(
        "INBOX",
        &[
            &mail(
                "invoice",
                "ann@example.org",
                "March billing",
                "Could you send me the invoice for March again?",
            ),
            &mail(
                "umlaut",
                "joerg@example.org",
                "Delivery question",
                "Kind regards, Jörg Müller",
            ),
            &mail(
                "caps",
                "shop@example.org",
                "Order 4711",
                "MÜLLER GMBH, Purchasing department",
            ),
            &mail(
                "japanese",
                "taro@example.jp",
                "Visit report",
                "昨日、東京都庁に行きました。書類を提出しました。",
            ),
            &mail(
                "german",
                "kasse@example.de",
                "Oktober",
                "Anbei die Rechnung für Oktober.",
            ),
        ],
    )
    .await;
    ingest(&db.pool).await;
    index_all(&db).await;
    let admin_id = agent(&db, "ada@example.com", "Ada Admin", Role::Admin).await;
    let admin = frontdesk::auth::create_api_token(&db.pool, admin_id)
        .await
        .unwrap();
    let invoice = ticket_by_subject(&db, "March billing").await;
    let umlaut = ticket_by_subject(&db, "Delivery question").await;
    let caps = ticket_by_subject(&db, "Order 4711").await;
    let japanese = ticket_by_subject(&db, "Visit report").await;
    let german = ticket_by_subject(&db, "Oktober").await;

    // English (the default): other forms of a word; accents folded both ways, any case.
    assert_eq!(hits(&db, &admin, "invoices").await, [invoice]);
    // The excerpt marks the word as written in the mail.
    let excerpt = first_excerpt(&db, &admin, "invoices").await;
    assert!(excerpt.contains("**invoice**"), "{excerpt}");
    let excerpt = first_excerpt(&db, &admin, "Jorg").await;
    assert!(excerpt.contains("**Jörg**"), "{excerpt}");
    assert!(hits(&db, &admin, "Muller").await.contains(&umlaut));
    assert!(hits(&db, &admin, "muller").await.contains(&caps));
    assert_eq!(hits(&db, &admin, "Jorg").await, [umlaut]);
    // Japanese: fragments from the middle of a sentence, two and three characters.
    assert_eq!(hits(&db, &admin, "書類").await, [japanese]);
    assert_eq!(hits(&db, &admin, "都庁に").await, [japanese]);
    assert_eq!(hits(&db, &admin, "行きました").await, [japanese]);
    assert!(
        hits(&db, &admin, "大阪").await.is_empty(),
        "not in the mail"
    );
    assert!(
        hits(&db, &admin, "庁都").await.is_empty(),
        "the characters, but not in this order"
    );
    // In English, the German plural is another word.
    assert!(hits(&db, &admin, "Rechnungen").await.is_empty());

    // A language that does not exist is refused, naming the field; nothing changes.
    let (s, v) = api_json(
        &db,
        "PATCH",
        "/api/v1/mailboxes/support@example.com",
        &admin,
        json!({"search_language": "klingon"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"].as_str().unwrap().starts_with("search_language"),
        "{v}"
    );
    // German: the mailbox's mail is indexed again, in German, in the background.
    let (s, v) = api_json(
        &db,
        "PATCH",
        "/api/v1/mailboxes/support@example.com",
        &admin,
        json!({"search_language": "german"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["search_language"], "german");
    let pending: i64 = scalar(
        &db.pool,
        "select count(*) from message where search_config is null",
    )
    .await;
    assert!(pending >= 5, "{pending} messages to re-index");
    let audit: String = scalar(
        &db.pool,
        "select after::text from audit_event where action = 'mailbox.update' order by audit_event_id desc limit 1",
    )
    .await;
    assert!(audit.contains("\"search_language\": \"german\""), "{audit}");
    // Until the indexer has run, the old vectors still find exact words.
    assert_eq!(hits(&db, &admin, "Rechnung").await, [german]);
    index_all(&db).await;
    assert_eq!(hits(&db, &admin, "Rechnungen").await, [german]);
    let excerpt = first_excerpt(&db, &admin, "Rechnungen").await;
    assert!(excerpt.contains("**Rechnung**"), "{excerpt}");
    assert_eq!(hits(&db, &admin, "Rechnung").await, [german]);
    assert!(hits(&db, &admin, "Muller").await.contains(&umlaut));
    assert_eq!(hits(&db, &admin, "都庁に").await, [japanese]);
    let (_, differ, unindexed) = vectors_off_the_function(&db).await;
    assert_eq!((differ, unindexed), (0, 0));

    // An agent who may not see the mailbox gets no hit from it, in any language.
    let outsider_id = agent(&db, "out@example.com", "Out Sider", Role::Agent).await;
    let outsider = frontdesk::auth::create_api_token(&db.pool, outsider_id)
        .await
        .unwrap();
    for q in ["Rechnungen", "invoices", "Muller", "都庁に"] {
        assert!(hits(&db, &outsider, q).await.is_empty(), "{q}");
    }
    db.drop_db().await;
}

#[tokio::test]
async fn messages_merged_into_a_mailbox_of_another_language_are_indexed_in_it() {
    let db = TestDb::new().await;
    let mb = TestMailbox::new(&db.pool, &[]).await;
    mb.deliver(
        "INBOX",
        &[
            &mail("de", "kasse@example.de", "Oktober", "Anbei die Rechnung."),
            &mail("other", "ann@example.org", "Another thing", "Hello."),
        ],
    )
    .await;
    ingest(&db.pool).await;
    index_all(&db).await;
    let admin_id = agent(&db, "ada@example.com", "Ada Admin", Role::Admin).await;
    let admin = frontdesk::auth::create_api_token(&db.pool, admin_id)
        .await
        .unwrap();
    let source = ticket_by_subject(&db, "Oktober").await;
    let target = ticket_by_subject(&db, "Another thing").await;
    // The target ticket is in a German mailbox (moved there for the test).
    let german = offline_mailbox(&db.pool, "kasse@example.com", None).await;
    sqlx::query("update mailbox set search_language = 'german' where mailbox_id = $1")
        .bind(german)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("update ticket set mailbox_id = $1 where ticket_id = $2")
        .bind(german)
        .bind(target)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("update message set search_config = null where ticket_id = $1")
        .bind(target)
        .execute(&db.pool)
        .await
        .unwrap();
    index_all(&db).await;
    let configs = |ticket: i64| {
        let pool = db.pool.clone();
        async move {
            let c: Vec<String> = sqlx::query_scalar(
                "select distinct search_config::text from message where ticket_id = $1",
            )
            .bind(ticket)
            .fetch_all(&pool)
            .await
            .unwrap();
            c
        }
    };
    assert_eq!(configs(source).await, ["frontdesk_english"]);
    assert_eq!(configs(target).await, ["frontdesk_german"]);

    use frontdesk::tickets::actions::{ActionError, merge};
    use frontdesk::tickets::timeline::Actor;
    let ask = merge(&db.pool, Actor::Agent(admin_id), None, source, target, None).await;
    let Err(ActionError::MergeNeedsConfirmation(c)) = ask else {
        panic!("a merge across mailboxes asks first: {ask:?}");
    };
    merge(
        &db.pool,
        Actor::Agent(admin_id),
        None,
        source,
        target,
        Some(&c.confirmation()),
    )
    .await
    .unwrap();
    index_all(&db).await;
    assert_eq!(configs(target).await, ["frontdesk_german"]);
    assert_eq!(hits(&db, &admin, "Rechnungen").await, [target]);
    let (_, differ, unindexed) = vectors_off_the_function(&db).await;
    assert_eq!((differ, unindexed), (0, 0));
    db.drop_db().await;
}

#[tokio::test]
async fn the_mailbox_form_sets_the_search_language_and_names_a_wrong_one() {
    let db = TestDb::new().await;
    agent(&db, "ada@example.com", "Ada Admin", Role::Admin).await;
    let mut tab = Browser::signed_in(&db, "ada@example.com").await;
    let new = tab.get("/admin/mailboxes/new").await;
    assert!(
        new.body.contains("name=\"search_language\""),
        "{}",
        new.body
    );
    assert!(new.body.contains("value=\"german\""), "German is offered");
    let form = |language: &'static str| {
        vec![
            ("name", "Example Support"),
            ("address", "support@example.com"),
            ("from_name_format", "{agent} at {mailbox}"),
            ("signature", ""),
            ("team", ""),
            ("search_language", language),
            ("imap_host", "mail.example.com"),
            ("imap_port", ""),
            ("imap_security", "tls"),
            ("imap_user", "support"),
            ("imap_password", "PwForm1x"),
            ("imap_folders", "INBOX"),
            ("smtp_host", ""),
            ("smtp_port", ""),
            ("smtp_security", "tls"),
            ("smtp_user", ""),
            ("smtp_password", ""),
        ]
    };
    let p = tab.post("/admin/mailboxes/new", &form("klingon")).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(
        p.body.contains("id=\"search_language-error\""),
        "{}",
        p.body
    );
    let p = tab.post("/admin/mailboxes/new", &form("french")).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let language: String = scalar(&db.pool, "select search_language from mailbox").await;
    assert_eq!(language, "french");
    db.drop_db().await;
}
