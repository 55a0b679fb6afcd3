//! Every mail fixture of `tests/fixtures/mail` (see its README.md), delivered to a real Dovecot
//! mailbox by IMAP APPEND and ingested by the real poller.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::*;

/// Delivers the files in order (each ingested before the next) into a fresh mailbox.
async fn run_case(files: &[&str]) -> (TestDb, TestMailbox) {
    let db = TestDb::new().await;
    let mb = TestMailbox::new(&db.pool, &[]).await;
    for f in files {
        mb.deliver("INBOX", &[&case(f)]).await;
        ingest(&db.pool).await;
    }
    (db, mb)
}

async fn attachment_sha(db: &TestDb, id: i64) -> (usize, String) {
    let bytes: Vec<u8> = scalar_for(
        &db.pool,
        "select content from attachment where attachment_id = $1",
        id,
    )
    .await;
    (bytes.len(), hex::encode(Sha256::digest(&bytes)))
}

fn first_message(t: &Value) -> &Value {
    &t["messages"][0]
}

#[tokio::test]
async fn case_01_subject_split_inside_utf8_is_exact() {
    let (db, _) = run_case(&["01-subject-utf8-split-across-words.eml"]).await;
    let t = only_ticket(&db.pool).await;
    assert_eq!(
        t["subject"],
        "Lieferung verzögert – Rückfrage zur Bestellung 5521"
    );
    assert!(!t.to_string().contains('\u{FFFD}'));
    db.drop_db().await;
}

#[tokio::test]
async fn case_02_malformed_q_words_never_reach_the_ui() {
    let (db, _) = run_case(&["02-subject-q-word-with-spaces.eml"]).await;
    let t = only_ticket(&db.pool).await;
    assert_eq!(
        t["subject"],
        "Vorgang 88213: Möchten Sie die Lieferadresse ändern?"
    );
    assert_eq!(t["customer"]["name"], "Lager West / Standort 3");
    assert!(!t.to_string().contains("=?ISO-8859-1?Q?"));
    db.drop_db().await;
}

#[tokio::test]
async fn case_05_iso2022jp_without_charset_is_readable() {
    let (db, _) = run_case(&["05-body-iso2022jp-no-charset.eml"]).await;
    let t = only_ticket(&db.pool).await;
    assert_eq!(t["subject"], "お見積りの件");
    let text = first_message(&t)["text"].as_str().unwrap();
    assert!(text.starts_with("お世話になっております。"), "{text}");
    assert!(text.contains("山本"));
    assert!(!text.contains("$B"), "raw escape text leaked: {text}");
    db.drop_db().await;
}

#[tokio::test]
async fn case_07_raw_8bit_headers_become_valid_names() {
    let (db, _) = run_case(&["07-raw-8bit-cc-header.eml"]).await;
    let t = only_ticket(&db.pool).await;
    assert_eq!(t["subject"], "Frage zur Rechnung Nr. 7781 – Zahlungsziel");
    assert_eq!(t["customer"]["email"], "asa.lindqvist@example.org");
    assert_eq!(t["customer"]["name"], "Åsa Lindqvist");
    let cc = t["cc"].as_array().unwrap();
    let juergen = cc
        .iter()
        .find(|c| c["email"] == "juergen.baecker@example.net")
        .expect("CC participant");
    assert_eq!(juergen["name"], "Jürgen Bäcker");
    db.drop_db().await;
}

#[tokio::test]
async fn case_08_rfc2231_filename_with_wrong_charset() {
    let (db, _) = run_case(&["08-filename-rfc2231-wrong-charset.eml"]).await;
    let t = only_ticket(&db.pool).await;
    let atts = first_message(&t)["attachments"].as_array().unwrap().clone();
    assert_eq!(atts.len(), 1);
    assert_eq!(atts[0]["filename"], "Prüfbericht März 2025.pdf");
    assert_eq!(atts[0]["size"], 113);
    let (len, sha) = attachment_sha(&db, atts[0]["id"].as_i64().unwrap()).await;
    assert_eq!(
        (len, sha.as_str()),
        (
            113,
            "a1b0657d5f25f8775458ccc49154473970947620fd337e987746d96507d93491"
        )
    );
    db.drop_db().await;
}

#[tokio::test]
async fn case_10_whitespace_only_continuation_keeps_headers() {
    let (db, _) = run_case(&["10-header-whitespace-only-continuation.eml"]).await;
    let t = only_ticket(&db.pool).await;
    assert_eq!(t["subject"], "Lieferschein Auftrag 66120");
    let m = first_message(&t);
    let text = m["text"].as_str().unwrap();
    assert!(text.starts_with("Hallo,"), "{text}");
    assert!(
        !text.contains("Content-Type") && !text.contains("JVBER"),
        "{text}"
    );
    assert_eq!(m["attachments"][0]["filename"], "Lieferschein_66120.pdf");
    assert_eq!(
        m["attachments"][0]["sha256"],
        "6340ebf4b6b4cb6510ae6936244d772fd1cba271c49661e9f10c1bc6489ff384"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn case_11_html_only_fragment_gets_text() {
    let (db, _) = run_case(&["11-html-only-fragment.eml"]).await;
    let t = only_ticket(&db.pool).await;
    let m = first_message(&t);
    assert!(
        m["text"]
            .as_str()
            .unwrap()
            .contains("der Drucker im 2. OG (Raum 2.14) zeigt seit heute früh den Fehler E-302")
    );
    assert!(m["html"].as_str().unwrap().contains("E-302"));
    db.drop_db().await;
}

#[tokio::test]
async fn case_12_hostile_html_is_neutralised_and_headers_stay_literal() {
    let (db, _) = run_case(&["12-xss-html-body.eml"]).await;
    let t = only_ticket(&db.pool).await;
    assert_eq!(t["subject"], "Rechnung <script>alert(1)</script> offen");
    assert_eq!(t["customer"]["name"], "<img src=x onerror=alert(3)>");
    let html = first_message(&t)["html"].as_str().unwrap().to_lowercase();
    for bad in [
        "<script",
        "<iframe",
        "<object",
        "<embed",
        "<form",
        "<base",
        "http-equiv",
        "javascript:",
        "<style",
        " style=",
        "onerror",
        "onload",
        "onclick",
    ] {
        assert!(!html.contains(bad), "{bad} survived sanitising: {html}");
    }
    assert!(
        first_message(&t)["text"]
            .as_str()
            .unwrap()
            .contains("Bitte prüfen Sie mein Kundenkonto 3341.")
    );
    db.drop_db().await;
}

#[tokio::test]
async fn case_13_inline_cid_image_is_inline() {
    let (db, _) = run_case(&["13-inline-cid-no-disposition.eml"]).await;
    let t = only_ticket(&db.pool).await;
    let m = first_message(&t);
    let a = &m["attachments"][0];
    assert_eq!(a["inline"], true);
    assert!(a["sha256"].as_str().unwrap().starts_with("bbbdefee"));
    assert!(a["content_id"].as_str().is_some());
    // The API's HTML points the image at the part's API URL (a `cid:` shows nowhere else).
    let html = m["html"].as_str().unwrap();
    assert!(
        html.contains(&format!(r#"src="/api/v1/attachments/{}""#, a["id"])),
        "{html}"
    );
    assert!(!html.contains("cid:"), "{html}");
    db.drop_db().await;
}

#[tokio::test]
async fn case_16_forwarded_rfc822_attachment_is_byte_identical() {
    let (db, _) = run_case(&["16-attached-rfc822-message.eml"]).await;
    assert_eq!(
        ticket_count(&db.pool).await,
        1,
        "the inner mail is not a ticket of its own"
    );
    let t = only_ticket(&db.pool).await;
    assert_eq!(t["customer"]["email"], "ida.kranz@example.org");
    let a = &first_message(&t)["attachments"][0];
    assert_eq!(a["filename"], "Lieferstatus Bestellung 7781.eml");
    let (len, sha) = attachment_sha(&db, a["id"].as_i64().unwrap()).await;
    assert_eq!(
        (len, sha.as_str()),
        (
            935,
            "ab65f7bef9fa1d6f7f7f29632da4359c265453fe0915c6f5b8b9dc113a7b6a34"
        )
    );
    db.drop_db().await;
}

#[tokio::test]
async fn case_17_unpadded_base64_is_decoded_once() {
    let (db, _) = run_case(&["17-base64-bad-padding.eml"]).await;
    let t = only_ticket(&db.pool).await;
    let a = &first_message(&t)["attachments"][0];
    assert_eq!(a["filename"], "Messprotokoll_0711.csv");
    assert_eq!(a["size"], 88);
    assert_eq!(
        a["sha256"],
        "7ad3278526090364b0859785284487a55fb9475c891130b251af2d780011ad74"
    );
    let again = ingest(&db.pool).await;
    assert_eq!(again.fetched, 0, "not re-fetched on the next poll");
    db.drop_db().await;
}

#[tokio::test]
async fn case_18_empty_body_still_makes_a_ticket() {
    let (db, mb) = run_case(&["18-empty-body-subject-only.eml"]).await;
    let t = only_ticket(&db.pool).await;
    assert_eq!(t["subject"], "Bitte Passwort für Konto 55102 zurücksetzen");
    // Flags untouched: the message is still unseen on the server.
    let mut s = mb.session().await;
    s.select("INBOX").await.unwrap();
    let unseen = s.uid_search("UNSEEN").await.unwrap();
    assert_eq!(unseen.len(), 1);
    db.drop_db().await;
}

#[tokio::test]
async fn case_20_invalid_dates_fall_back_to_receipt_time() {
    let before = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    let (db, _) = run_case(&["20-invalid-date-headers.eml"]).await;
    let t = only_ticket(&db.pool).await;
    let at = time::OffsetDateTime::parse(
        first_message(&t)["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(at > before, "article time {at} should be the receipt time");
    db.drop_db().await;
}

#[tokio::test]
async fn case_22_missing_or_empty_message_id_is_never_a_dedupe_key() {
    let (db, _) = run_case(&["22-missing-message-id-a.eml", "22-missing-message-id-b.eml"]).await;
    let subjects: Vec<String> = sqlx::query_scalar("select subject from ticket order by ticket_id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        subjects,
        ["Stoerung Tor 2 offen", "Stoerung Kuehlung Lager"]
    );
    let again = ingest(&db.pool).await;
    assert_eq!((again.fetched, ticket_count(&db.pool).await), (0, 2));
    // Even if the cursor were lost, re-fetching adds nothing (dedupe on the whole raw mail).
    sqlx::query("delete from imap_folder_state")
        .execute(&db.pool)
        .await
        .unwrap();
    let refetched = ingest(&db.pool).await;
    assert_eq!((refetched.fetched, refetched.duplicates), (2, 2));
    assert_eq!(ticket_count(&db.pool).await, 2);
    db.drop_db().await;
}

#[tokio::test]
async fn case_23_in_reply_to_only_threads() {
    let (db, _) = run_case(&[
        "23-reply-in-reply-to-only-a.eml",
        "23-reply-in-reply-to-only-b.eml",
    ])
    .await;
    let t = only_ticket(&db.pool).await;
    assert_eq!(t["messages"].as_array().unwrap().len(), 2);
    assert_eq!(t["message_count"], 2);
    db.drop_db().await;
}

#[tokio::test]
async fn case_24_cc_reply_before_agent_answer_joins_the_ticket() {
    let (db, _) = run_case(&[
        "24-cc-reply-to-original-a.eml",
        "24-cc-reply-to-original-b.eml",
    ])
    .await;
    let t = only_ticket(&db.pool).await;
    assert_eq!(t["messages"].as_array().unwrap().len(), 2);
    assert!(
        t["cc"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["email"] == "bernd.falk@example.org")
    );
    assert!(
        !t["cc"].to_string().contains("support@example.com"),
        "our own address is never a participant"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn case_26_subject_token_threads_a_participants_reply() {
    let app = TestApp::with_mail(&["26-subject-token-no-headers-a.eml"]).await;
    let (db, mb) = (&app.db, &app.mb);
    let number = app.only_ticket_id().await;
    mb.deliver(
        "INBOX",
        &[&with_token(
            &case("26-subject-token-no-headers-b.eml"),
            number,
        )],
    )
    .await;
    let c = ingest(&db.pool).await;
    assert_eq!(c.threaded, 1);
    let t = only_ticket(&db.pool).await;
    assert_eq!(
        t["subject"], "Drucker druckt nur leere Seiten",
        "ticket subject is not prefixed with VS:"
    );
    app.finish().await;
}

#[tokio::test]
async fn case_26_subject_token_from_a_stranger_opens_a_new_ticket() {
    let app = TestApp::with_mail(&["26-subject-token-no-headers-a.eml"]).await;
    let (db, mb) = (&app.db, &app.mb);
    let number = app.only_ticket_id().await;
    let stranger = String::from_utf8(with_token(
        &case("26-subject-token-no-headers-b.eml"),
        number,
    ))
    .unwrap()
    .replace("wang.lei@example.org", "eve@example.net");
    mb.deliver("INBOX", &[stranger.as_bytes()]).await;
    let c = ingest(&db.pool).await;
    assert_eq!(
        c.new_tickets, 1,
        "a token alone does not let a stranger into a ticket"
    );
    app.finish().await;
}

#[tokio::test]
async fn case_28_unknown_token_opens_a_ticket_and_the_poller_goes_on() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    mb.deliver(
        "INBOX",
        &[
            &case("28-unknown-ticket-token.eml"),
            &case("23-reply-in-reply-to-only-a.eml"),
        ],
    )
    .await;
    let c = ingest(&db.pool).await;
    assert_eq!(c.new_tickets, 2);
    let customers: Vec<String> = sqlx::query_scalar(
        "select c.email from ticket t join customer c using (customer_id) order by t.ticket_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(customers, ["h.brandl@example.org", "jana.roth@example.org"]);
    app.finish().await;
}

#[tokio::test]
async fn case_30_out_of_office_joins_without_reopening() {
    let app = TestApp::with_mail(&["30-out-of-office-a.eml"]).await;
    let (db, mb) = (&app.db, &app.mb);
    let number = app.only_ticket_id().await;
    execute_for(
        &db.pool,
        "update ticket set status = 'pending' where ticket_id = $1",
        number,
    )
    .await;
    mb.deliver(
        "INBOX",
        &[&with_token(&case("30-out-of-office-b.eml"), number)],
    )
    .await;
    let c = ingest(&db.pool).await;
    assert_eq!((c.new_tickets, c.threaded), (0, 1));
    let t = only_ticket(&db.pool).await;
    assert_eq!(t["status"], "pending", "an auto-reply never reopens");
    assert_eq!(t["messages"][1]["automated"], "auto_reply");
    app.finish().await;
}

#[tokio::test]
async fn case_30_out_of_office_for_no_ticket_is_dropped_but_kept_raw() {
    let (db, _) = run_case(&["30-out-of-office-b.eml"]).await;
    assert_eq!(ticket_count(&db.pool).await, 0);
    let kept: i64 = scalar(
        &db.pool,
        "select count(*) from raw_message where disposition = 'automated_dropped'",
    )
    .await;
    assert_eq!(kept, 1);
    db.drop_db().await;
}

#[tokio::test]
async fn case_33_bounce_is_recorded_on_the_original_ticket() {
    let (db, _) = run_case(&["33-bounce-dsn-a.eml", "33-bounce-dsn-b.eml"]).await;
    let t = only_ticket(&db.pool).await;
    let kinds: Vec<&str> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"bounce_received"), "{kinds:?}");
    let msgs = t["messages"].as_array().unwrap();
    assert_eq!(msgs.last().unwrap()["automated"], "bounce");
    assert!(
        !t["cc"].to_string().to_lowercase().contains("mailer-daemon"),
        "a mailer daemon is no participant"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn case_34_own_address_loop_is_broken() {
    let (db, _) = run_case(&["34-own-address-loop.eml"]).await;
    assert_eq!(ticket_count(&db.pool).await, 0);
    let n: i64 = scalar(&db.pool, "select count(*) from message").await;
    assert_eq!(n, 0);
    let kept: i64 = scalar(
        &db.pool,
        "select count(*) from raw_message where disposition = 'own_address'",
    )
    .await;
    assert_eq!(kept, 1, "the raw mail is still kept");
    db.drop_db().await;
}

#[tokio::test]
async fn case_34_own_address_with_subaddress_and_case_is_ours() {
    let raw = String::from_utf8(case("34-own-address-loop.eml"))
        .unwrap()
        .replace(
            "From: \"Example Support\" <support@example.com>",
            "From: <Support+Alerts@EXAMPLE.com>",
        );
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    mb.deliver("INBOX", &[raw.as_bytes()]).await;
    let c = ingest(&db.pool).await;
    assert_eq!(c.own_address, 1);
    app.finish().await;
}

#[tokio::test]
async fn case_36_reply_to_is_the_customer() {
    let (db, _) = run_case(&["36-reply-to-differs-from.eml"]).await;
    let t = only_ticket(&db.pool).await;
    assert_eq!(t["customer"]["email"], "greta.hoffmann@example.org");
    db.drop_db().await;
}

#[tokio::test]
async fn case_38_failing_after_import_action_does_not_duplicate() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    mb.deliver("INBOX", &[&case("38-imap-store-fails-after-fetch.eml")])
        .await;
    // Moving to a folder that does not exist makes the server answer NO after the fetch,
    // like Exchange does when the message vanished meanwhile.
    let cfg = frontdesk::config::IngestConfig {
        after_import: frontdesk::config::AfterImport::Move("Does-Not-Exist".into()),
        ..Default::default()
    };
    let c = ingest_with(&db.pool, &cfg).await;
    assert_eq!(c.new_tickets, 1);
    mb.deliver("INBOX", &[&case("23-reply-in-reply-to-only-a.eml")])
        .await;
    let c = ingest_with(&db.pool, &cfg).await;
    assert_eq!(
        (c.fetched, c.new_tickets),
        (1, 1),
        "the poller keeps going and does not re-import"
    );
    // Variant: the process died after the commit but before the server learnt anything:
    // with the cursor gone, every message comes again and is recognised.
    sqlx::query("delete from imap_folder_state")
        .execute(&db.pool)
        .await
        .unwrap();
    let c = ingest(&db.pool).await;
    assert_eq!((c.fetched, c.duplicates), (2, 2));
    let n: i64 = scalar(
        &db.pool,
        "select count(*) from message where header_message_id = 'c38-phone@example.org'",
    )
    .await;
    assert_eq!(n, 1);
    app.finish().await;
}

#[tokio::test]
async fn the_same_mail_twice_in_one_batch_is_stored_once() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let raw = case("23-reply-in-reply-to-only-a.eml");
    mb.deliver(
        "INBOX",
        &[&raw, &case("23-reply-in-reply-to-only-b.eml"), &raw],
    )
    .await;
    let c = ingest(&db.pool).await;
    assert_eq!(
        (c.fetched, c.new_tickets, c.threaded, c.duplicates),
        (3, 1, 1, 1),
        "{c}"
    );
    let rows: i64 = scalar(&db.pool, "select count(*) from raw_message").await;
    assert_eq!(rows, 2);
    let messages: i64 = scalar(&db.pool, "select count(*) from message").await;
    assert_eq!(messages, 2);
    app.finish().await;
}

#[tokio::test]
async fn case_40_same_message_in_several_folders_is_one_ticket() {
    let app = TestApp::with_folders(&["All Mail", "Label1"]).await;
    let (db, mb) = (&app.db, &app.mb);
    let raw = case("40-gmail-same-message-two-folders.eml");
    for folder in ["INBOX", "All Mail", "Label1"] {
        mb.deliver(folder, &[&raw]).await;
    }
    let c = ingest(&db.pool).await;
    assert_eq!((c.fetched, c.new_tickets, c.duplicates), (3, 1, 2));
    assert_eq!(ticket_count(&db.pool).await, 1);

    // UIDVALIDITY change: the folder is recreated, same message gets a new UID.
    let mut s = mb.session().await;
    s.delete("Label1").await.unwrap();
    s.create("Label1").await.unwrap();
    s.append("Label1", None, None, &raw).await.unwrap();
    s.logout().await.ok();
    let c = ingest(&db.pool).await;
    assert_eq!((c.fetched, c.duplicates, c.new_tickets), (1, 1, 0));
    assert_eq!(ticket_count(&db.pool).await, 1);
    app.finish().await;
}

#[tokio::test]
async fn case_42_outlook_reply_threads_by_references() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let root = b"From: Sophie Krueger <s.krueger@example.org>\r\nTo: support@example.com\r\nSubject: =?utf-8?Q?Best=C3=A4tigung_Schulungstermin_Mai?=\r\nMessage-ID: <c42-root@EXCH07.example.org>\r\nDate: Mon, 28 Apr 2025 10:00:00 +0000\r\n\r\nHallo\r\n";
    mb.deliver("INBOX", &[root, &case("42-outlook-thread-index-reply.eml")])
        .await;
    let c = ingest(&db.pool).await;
    assert_eq!((c.new_tickets, c.threaded), (1, 1));
    let t = only_ticket(&db.pool).await;
    assert_eq!(
        t["messages"][1]["subject"],
        "AW: Bestätigung Schulungstermin Mai"
    );
    app.finish().await;
}

#[tokio::test]
async fn case_45_bare_lf_message_parses_like_crlf() {
    let (db, _) = run_case(&["45-bare-lf-line-endings.eml"]).await;
    let t = only_ticket(&db.pool).await;
    assert_eq!(t["subject"], "Schadensmeldung 2291 – Fahrzeug beschädigt");
    assert_eq!(t["customer"]["name"], "Björn Sørensen");
    let m = first_message(&t);
    assert!(m["text"].as_str().unwrap().starts_with("Hallo,"));
    assert_eq!(m["attachments"][0]["filename"], "Schadensbericht_2291.pdf");
    assert_eq!(m["attachments"][0]["size"], 121);
    assert_eq!(
        m["attachments"][0]["sha256"],
        "ca1deadae981bbe47cafa012a4dcfba574b5381cf8aba2dfd73e572ea4b50c86"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn every_mail_case_is_stored_raw_byte_for_byte() {
    let app = TestApp::new().await;
    let (db, mb) = (&app.db, &app.mb);
    let mut files: Vec<_> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    let raws: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let refs: Vec<&[u8]> = raws.iter().map(|r| r.as_slice()).collect();
    mb.deliver("INBOX", &refs).await;
    let c = ingest(&db.pool).await;
    assert_eq!(c.fetched as usize, files.len());
    assert_eq!(c.quarantined, 0, "{c}");
    // Dovecot hands out CRLF; every other case must come back exactly as delivered.
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("select raw from raw_message order by uid")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    for (path, raw) in files.iter().zip(&raws) {
        if path.to_string_lossy().contains("45-bare-lf") {
            continue;
        }
        assert!(
            stored.contains(raw),
            "{} not stored byte for byte",
            path.display()
        );
    }
    app.finish().await;
}

#[tokio::test]
async fn case_46_stateful_and_multibyte_words_split_across_words_are_exact() {
    let (db, _) = run_case(&["46-encoded-words-stateful-charset-split.eml"]).await;
    let t = only_ticket(&db.pool).await;
    assert_eq!(t["subject"], "【至急】請求書の再発行について");
    assert_eq!(t["customer"]["name"], "王小明");
    let text = first_message(&t)["text"].as_str().unwrap();
    assert!(text.starts_with("請求書の再発行をお願いします。"), "{text}");
    assert!(!t.to_string().contains('\u{FFFD}'), "{t}");
    db.drop_db().await;
}

#[tokio::test]
async fn case_47_encoded_words_in_quoted_filenames_keep_no_spaces() {
    let (db, _) = run_case(&["47-filename-encoded-words-quoted.eml"]).await;
    let t = only_ticket(&db.pool).await;
    let atts = first_message(&t)["attachments"].as_array().unwrap().clone();
    let names: Vec<&str> = atts
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Prüfprotokoll Übergabe.pdf",
            "見積書.xlsx",
            "Übergabe Protokoll Teil2.txt"
        ]
    );
    db.drop_db().await;
}

#[tokio::test]
async fn case_48_parts_without_names_are_named_after_their_type() {
    let (db, _) = run_case(&["48-parts-without-filenames.eml"]).await;
    let t = only_ticket(&db.pool).await;
    let m = first_message(&t);
    let files: Vec<(&str, &str, bool)> = m["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["filename"].as_str().unwrap(),
                a["content_type"].as_str().unwrap(),
                a["inline"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("invite.ics", "text/calendar", false),
            ("image.png", "image/png", false),
            ("message.eml", "message/rfc822", false),
        ]
    );
    assert_eq!(
        m["attachments"][0]["sha256"],
        "07333a9715a160c1f7d2e20165772176a40598bc5c5ad9b9baa5697fee0bfb96"
    );
    assert!(!t.to_string().contains("part-1"), "{t}");
    assert_eq!(
        m["text"].as_str().unwrap().trim(),
        "Bitte nehmen Sie an der Abstimmung teil."
    );
    db.drop_db().await;
}

/// How many UIDs the poller remembers as flagged `\Deleted`.
async fn remembered_deleted(db: &TestDb) -> i64 {
    scalar(&db.pool, "select count(*) from imap_deleted_uid").await
}

#[tokio::test]
async fn case_49_deleted_but_not_expunged_mail_waits_until_undeleted() {
    let db = TestDb::new().await;
    let mb = TestMailbox::new(&db.pool, &[]).await;
    let mut s = mb.session().await;
    s.append(
        "INBOX",
        Some("(\\Deleted)"),
        None,
        &case("49-deleted-not-expunged.eml"),
    )
    .await
    .unwrap();
    ingest(&db.pool).await;
    assert_eq!(
        ticket_count(&db.pool).await,
        0,
        "a \\Deleted mail is skipped"
    );
    assert_eq!(remembered_deleted(&db).await, 1);

    // A later mail moves the cursor past the deleted one.
    mb.deliver("INBOX", &[&case("23-reply-in-reply-to-only-a.eml")])
        .await;
    ingest(&db.pool).await;
    assert_eq!(ticket_count(&db.pool).await, 1);

    // The user takes the deletion back: the next poll imports it, once.
    s.select("INBOX").await.unwrap();
    let uids = s.uid_search("DELETED").await.unwrap();
    assert_eq!(uids.len(), 1);
    let uid = *uids.iter().next().unwrap();
    futures::TryStreamExt::try_collect::<Vec<_>>(
        s.uid_store(uid.to_string(), "-FLAGS.SILENT (\\Deleted)")
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    ingest(&db.pool).await;
    ingest(&db.pool).await;
    assert_eq!(ticket_count(&db.pool).await, 2);
    ticket_by_subject(&db, "Versehentlich gesendet").await;
    assert_eq!(remembered_deleted(&db).await, 0);

    // Deleted and then expunged: never imported, and forgotten.
    let mut other = case("49-deleted-not-expunged.eml");
    let other_id = b"<c49-oops@example.org>";
    let at = other
        .windows(other_id.len())
        .position(|w| w == other_id)
        .unwrap();
    other.splice(
        at..at + other_id.len(),
        b"<c49-gone@example.org>".iter().copied(),
    );
    s.append("INBOX", Some("(\\Deleted)"), None, &other)
        .await
        .unwrap();
    mb.deliver("INBOX", &[&case("24-cc-reply-to-original-a.eml")])
        .await;
    ingest(&db.pool).await;
    assert_eq!(ticket_count(&db.pool).await, 3);
    assert_eq!(remembered_deleted(&db).await, 1);
    s.select("INBOX").await.unwrap();
    futures::TryStreamExt::try_collect::<Vec<_>>(s.expunge().await.unwrap())
        .await
        .unwrap();
    ingest(&db.pool).await;
    assert_eq!(ticket_count(&db.pool).await, 3);
    assert_eq!(remembered_deleted(&db).await, 0);
    s.logout().await.ok();
    db.drop_db().await;
}

/// The tickets of the case-50 mails `a`, `b`, `c`, by their Message-IDs.
async fn case_50_tickets(db: &TestDb) -> [i64; 3] {
    let mut out = [0; 3];
    for (i, id) in [
        "c50a-7D21@kunde.example",
        "c50b-3A08@kunde.example",
        "c50c-55E1@andere.example",
    ]
    .into_iter()
    .enumerate()
    {
        out[i] = scalar_for(
            &db.pool,
            "select ticket_id from message where header_message_id = $1",
            id,
        )
        .await;
    }
    out
}

#[tokio::test]
async fn case_50_replies_sharing_an_unseen_root_join_when_they_share_a_person() {
    let files = [
        "50-replies-to-unseen-root-a.eml",
        "50-replies-to-unseen-root-b.eml",
        "50-replies-to-unseen-root-c.eml",
    ];
    // One by one: the root is found on the stored messages.
    let (db, _) = run_case(&files).await;
    let [a, b, c] = case_50_tickets(&db).await;
    assert_eq!(a, b, "the colleague's reply joins the customer's ticket");
    assert_ne!(
        c, a,
        "a stranger's reply to the same root opens its own ticket"
    );
    let t = ticket_json(&db.pool, a).await;
    assert_eq!(t["messages"].as_array().unwrap().len(), 2);
    db.drop_db().await;

    // In one batch: the root is found among the batch's earlier mails.
    let db = TestDb::new().await;
    let mb = TestMailbox::new(&db.pool, &[]).await;
    let raws: Vec<Vec<u8>> = files.iter().map(|f| case(f)).collect();
    mb.deliver("INBOX", &raws.iter().map(Vec::as_slice).collect::<Vec<_>>())
        .await;
    let counts = ingest(&db.pool).await;
    assert_eq!((counts.new_tickets, counts.threaded), (2, 1), "{counts}");
    let [a, b, c] = case_50_tickets(&db).await;
    assert_eq!(a, b);
    assert_ne!(c, a);
    db.drop_db().await;
}
