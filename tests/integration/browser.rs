//! The agent UI in a real headless Chromium, driven over WebDriver (chromedriver at
//! `FRONTDESK_TEST_WEBDRIVER`, started by `scripts/test`), against a real `frontdesk::app::run`
//! on 127.0.0.1:0: web server, pollers and the outbox sending to the real SMTP sink.
//!
//! Each test opens its own Chromium with a fresh profile. A WebDriver that cannot be reached
//! fails the test; nothing is skipped.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use frontdesk::auth::Role;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::smtp::{received_with_message_id, sink_dir};
use crate::support::*;

const PASSWORD: &str = "correct horse battery";
const WAIT: Duration = Duration::from_secs(15);

/// The whole application on a loopback port, as `frontdesk serve` runs it.
struct App {
    base: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl App {
    async fn start(db: &TestDb) -> App {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = frontdesk::config::Config::from_env().unwrap();
        config.db.url = Some(db.url.clone());
        config.public_url = base.clone();
        config.node_id = "browser-test".into();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(frontdesk::app::run(
            config,
            db.pool.clone(),
            listener,
            shutdown.clone(),
        ));
        App {
            base,
            shutdown,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("graceful shutdown")
            .unwrap()
            .unwrap();
    }
}

/// One headless Chromium (one WebDriver session) with a profile of its own.
struct Chrome {
    client: Client,
    webdriver: String,
    session: String,
    profile: PathBuf,
    closed: bool,
}

impl Chrome {
    async fn open() -> Chrome {
        let webdriver = std::env::var("FRONTDESK_TEST_WEBDRIVER").unwrap_or_else(|_| {
            panic!("FRONTDESK_TEST_WEBDRIVER is not set: run the tests through scripts/test")
        });
        let profile = std::env::temp_dir().join(random_name("frontdesk-chromium-"));
        std::fs::create_dir_all(&profile).unwrap();
        let mut options = json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        });
        if std::path::Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), options);
        // Leave a page's alert() open, so that a test sees it instead of chromedriver
        // dismissing it behind our back.
        caps.insert("unhandledPromptBehavior".into(), json!("ignore"));
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "no Chromium session from the WebDriver at {webdriver}: {e}\n\
                     (scripts/test starts one with scripts/chromedriver up; see .tmp/chromedriver/)"
                )
            });
        let session = client
            .session_id()
            .await
            .unwrap()
            .expect("a WebDriver session id");
        Chrome {
            client,
            webdriver,
            session,
            profile,
            closed: false,
        }
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!("no element {css} on {}: {e}", self.path().await),
        }
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The current path and query.
    async fn path(&self) -> String {
        match self.client.current_url().await {
            Ok(u) => format!(
                "{}{}",
                u.path(),
                u.query().map(|q| format!("?{q}")).unwrap_or_default()
            ),
            Err(e) => format!("<no url: {e}>"),
        }
    }

    /// Presses and releases one key on whatever has the focus, as a person would.
    async fn press(&self, key: char) {
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(keys).await.unwrap();
    }

    /// Runs `act`, then waits until it has loaded a new document (a form post and its
    /// redirect, a link, a keyboard shortcut that navigates).
    async fn navigating<F: std::future::Future<Output = ()>>(&self, act: F) {
        self.js("window.__frontdeskTestOldPage = true; return null;")
            .await;
        act.await;
        let start = Instant::now();
        loop {
            let v = self
                .client
                .execute(
                    "return !window.__frontdeskTestOldPage && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(v, Ok(Value::Bool(true))) {
                return;
            }
            assert!(
                start.elapsed() < WAIT,
                "no new page within {WAIT:?} (still on {})",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's visible text contains `needle`, reloading between looks when
    /// `reload` (for state that changes on the server, like a mail's delivery).
    async fn wait_for_text(&self, css: &str, needle: &str, reload: bool) -> String {
        let start = Instant::now();
        loop {
            let text = self.text(css).await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                start.elapsed() < WAIT,
                "{css} on {} never showed {needle:?}; it shows:\n{text}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
            if reload {
                self.client.refresh().await.unwrap();
            }
        }
    }

    async fn login(&self, app: &App, email: &str) {
        self.goto(&app.url("/login")).await;
        self.find("#email").await.send_keys(email).await.unwrap();
        self.find("#password")
            .await
            .send_keys(PASSWORD)
            .await
            .unwrap();
        let button = self.find("form[action='/login'] button[type=submit]").await;
        self.navigating(async { button.click().await.unwrap() })
            .await;
        assert_eq!(self.path().await, "/inbox", "signed in as {email}");
    }

    /// Saves a PNG to `.tmp/screenshots/NAME.png` (not committed) for a person to look at.
    async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tmp/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn close(mut self) {
        self.closed = true;
        let client = self.client.clone();
        client.close().await.unwrap();
    }
}

impl Drop for Chrome {
    /// A failed test still ends its Chromium: the session is deleted with a plain blocking
    /// request, since the async runtime may already be gone.
    fn drop(&mut self) {
        if !self.closed {
            delete_session(&self.webdriver, &self.session);
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn delete_session(webdriver: &str, session: &str) {
    let Ok(u) = url::Url::parse(webdriver) else {
        return;
    };
    let host = u.host_str().unwrap_or("127.0.0.1");
    let port = u.port_or_known_default().unwrap_or(9515);
    let Ok(mut s) = std::net::TcpStream::connect((host, port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let path = format!("{}/session/{session}", u.path().trim_end_matches('/'));
    let _ = write!(
        s,
        "DELETE {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    );
    let _ = s.read_to_end(&mut Vec::new());
}

/// A database with a mailbox whose replies go to the real SMTP sink, the given mail fixtures
/// ingested through the real Dovecot, and Dana (admin).
async fn seeded(cases: &[&str]) -> (TestDb, TestMailbox) {
    let app = TestApp::new().await;
    app.smtp_to_sink().await;
    app.deliver(cases).await;
    let c = app.ingest().await;
    assert_eq!(c.new_tickets as usize, cases.len(), "one ticket per case");
    app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    (app.db, app.mb)
}

#[tokio::test]
async fn an_agent_signs_in_and_opens_a_ticket_from_the_inbox_with_j_and_enter() {
    let (db, _mb) = seeded(&[
        "23-reply-in-reply-to-only-a.eml",
        "24-cc-reply-to-original-a.eml",
    ])
    .await;
    let app = App::start(&db).await;
    let chrome = Chrome::open().await;

    // Anonymous: the inbox sends the browser to the sign-in form.
    chrome.goto(&app.url("/inbox")).await;
    assert!(
        chrome.path().await.starts_with("/login"),
        "{}",
        chrome.path().await
    );
    chrome.login(&app, "dana@example.com").await;

    let rows = chrome
        .client
        .find_all(Locator::Css("tr.row"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "both tickets are listed");
    let inbox = chrome.text("table.tickets").await;
    assert!(inbox.contains("Rechnung doppelt abgebucht"), "{inbox}");
    assert!(
        inbox.contains("Zugriff auf Projektordner Q2 freischalten"),
        "{inbox}"
    );
    assert!(chrome.text(".who").await.contains("Dana Lee"));
    chrome.screenshot("inbox").await;

    // j selects the first row, j again the second; Enter opens the selected one.
    chrome.press('j').await;
    assert_eq!(
        chrome
            .js("return [...document.querySelectorAll('tr.row')].map(r => r.classList.contains('selected'));")
            .await,
        json!([true, false]),
        "j selects the first row"
    );
    chrome.press('j').await;
    let selected = chrome.find("tr.row.selected").await;
    assert_eq!(
        selected.attr("data-href").await.unwrap(),
        rows[1].attr("data-href").await.unwrap(),
        "the second j moves the selection down"
    );
    let href = selected.attr("data-href").await.unwrap().unwrap();
    let subject = selected.find(Locator::Css(".subject")).await.unwrap();
    let subject = subject.text().await.unwrap();
    chrome.navigating(chrome.press(Key::Enter.into())).await;
    assert_eq!(chrome.path().await, href, "Enter opens the selected ticket");

    // (The link carries the list it was opened from.)
    assert!(
        href.ends_with("?list=folder%3Dopen%26sort%3Drecent"),
        "{href}"
    );
    let number: i64 = href
        .trim_start_matches("/tickets/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let body: String = scalar_for(
        &db.pool,
        "select text_body from message where ticket_id = $1 and direction = 'inbound'",
        number,
    )
    .await;
    let h1 = chrome.text("main.conversation h1").await;
    assert!(h1.contains(&subject), "{h1:?} vs {subject:?}");
    let first_line = body.lines().next().unwrap().trim();
    let shown = chrome.text("li.item.inbound .body-text").await;
    assert!(shown.contains(first_line), "{shown:?} lacks {first_line:?}");
    assert!(
        chrome
            .client
            .title()
            .await
            .unwrap()
            .starts_with(&format!("#{number} "))
    );
    chrome.screenshot("ticket").await;

    chrome.close().await;
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_reply_typed_in_the_composer_reaches_the_smtp_server_threaded_and_shows_as_sent() {
    let (db, _mb) = seeded(&["24-cc-reply-to-original-a.eml"]).await;
    let n = ticket_by_subject(&db, "Zugriff%").await;
    let app = App::start(&db).await;
    let chrome = Chrome::open().await;
    chrome.login(&app, "dana@example.com").await;
    chrome.goto(&app.url(&format!("/tickets/{n}"))).await;

    // Reply-all is prefilled; r focuses the message box.
    assert_eq!(
        chrome
            .find("#reply-to")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("alice.morgenroth@example.org")
    );
    chrome.press('r').await;
    assert_eq!(
        chrome.js("return document.activeElement.id;").await,
        json!("reply-text"),
        "r focuses the reply box"
    );
    let text = format!("Schreibrechte sind freigeschaltet. {}", random_name("ref-"));
    chrome
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys(&text)
        .await
        .unwrap();
    let send = chrome.find("#reply button[type=submit][value=keep]").await;
    assert_eq!(send.text().await.unwrap(), "Send");
    chrome
        .navigating(async { send.click().await.unwrap() })
        .await;
    assert_eq!(chrome.path().await, format!("/tickets/{n}"));
    let state = chrome.text("li.item.outbound .delivery").await;
    assert!(
        state == "queued" || state == "sent",
        "the reply shows at once as queued or sent, not {state:?}"
    );
    assert!(
        chrome
            .text("li.item.outbound .body-text")
            .await
            .contains(&text)
    );

    // The outbox worker of the running app sends it to the real SMTP server.
    let header_id: String = scalar_for(
        &db.pool,
        "select header_message_id from message where ticket_id = $1 and direction = 'outbound'",
        n,
    )
    .await;
    let start = Instant::now();
    let mail = loop {
        let got = received_with_message_id(&sink_dir(), &header_id);
        if let Some(m) = got.into_iter().next() {
            break m;
        }
        assert!(
            start.elapsed() < WAIT,
            "the reply <{header_id}> never reached the SMTP sink"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        mail.header("In-Reply-To").as_deref(),
        Some("<c24a-ordner@example.org>")
    );
    let mut rcpts = mail.rcpt_tos.clone();
    rcpts.sort();
    assert_eq!(
        rcpts,
        ["alice.morgenroth@example.org", "bernd.falk@example.org"]
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(&mail.raw)
        .unwrap();
    assert!(parsed.body_text(0).unwrap().contains(&text));

    chrome
        .wait_for_text("li.item.outbound .delivery", "sent", true)
        .await;

    chrome.close().await;
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_mentioned_agent_sees_the_note_notification_in_their_own_browser() {
    let (db, _mb) = seeded(&["23-reply-in-reply-to-only-a.eml"]).await;
    let lee = agent(&db, "lee.park@example.com", "Lee Park", Role::Admin).await;
    let n = ticket_by_subject(&db, "Rechnung doppelt%").await;
    let app = App::start(&db).await;
    let dana = Chrome::open().await;
    let lee_browser = Chrome::open().await;
    dana.login(&app, "dana@example.com").await;
    lee_browser.login(&app, "lee.park@example.com").await;
    assert!(
        lee_browser
            .client
            .find(Locator::Css(".notif .badge"))
            .await
            .is_err(),
        "no badge before the mention"
    );

    dana.goto(&app.url(&format!("/tickets/{n}"))).await;
    // n focuses the note box; the note mentions Lee by the local part of his address.
    dana.press('n').await;
    assert_eq!(
        dana.js("return document.activeElement.id;").await,
        json!("note-text")
    );
    let note = "@lee.park kannst du die doppelte Abbuchung prüfen?";
    dana.client
        .active_element()
        .await
        .unwrap()
        .send_keys(note)
        .await
        .unwrap();
    let add = dana.find("#note button[type=submit]").await;
    dana.navigating(async { add.click().await.unwrap() }).await;
    let shown = dana.text("li.item.note").await;
    // (the label is upper-cased by CSS, which WebDriver's text reflects)
    assert!(
        shown.to_lowercase().contains("internal note") && shown.contains(note),
        "{shown}"
    );

    // Assign to Lee: choosing saves it at once, in place, and says so.
    let assignee = dana.find("#assignee").await;
    assignee.select_by_value(&lee.to_string()).await.unwrap();
    dana.wait_for_text("form[action$='/assign'] .saved", "Saved", false)
        .await;
    // Tags: typed, saved with Enter (no Save button while JavaScript runs).
    assert_eq!(
        dana.js("return document.querySelectorAll('form[data-autosave] button').length;")
            .await,
        json!(0),
        "no Save buttons while JavaScript runs"
    );
    let tags = dana.find("#tags").await;
    tags.send_keys(&format!(
        "billing, refund, billing{}",
        char::from(Key::Enter)
    ))
    .await
    .unwrap();
    dana.wait_for_text("form[action$='/tags'] .saved", "Saved", false)
        .await;
    assert_eq!(dana.path().await, format!("/tickets/{n}"), "no page load");
    // Close with the keyboard: opened without a list, e goes back to the inbox and says so.
    dana.navigating(dana.press('e')).await;
    assert_eq!(dana.path().await, "/inbox");
    assert!(
        dana.text(".notice")
            .await
            .contains(&format!("#{n} is now closed.")),
    );
    dana.goto(&app.url(&format!("/tickets/{n}"))).await;

    let timeline = dana.text("ol.items").await;
    for expected in ["assigned this to Lee Park", "status: open → closed"] {
        assert!(
            timeline.contains(expected),
            "{expected:?} not in:\n{timeline}"
        );
    }
    assert_eq!(
        dana.find("#status")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("closed")
    );
    assert_eq!(
        dana.find("#tags")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("billing, refund")
    );
    let (assignee_id, status): (Option<i64>, String) =
        sqlx::query_as("select assignee_agent_id, status from ticket where ticket_id = $1")
            .bind(n)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((assignee_id, status.as_str()), (Some(lee), "closed"));

    // Lee's browser: the badge counts one unread notification; the list names it.
    lee_browser.goto(&app.url("/inbox")).await;
    assert_eq!(lee_browser.text(".notif .badge").await, "1");
    let bell = lee_browser.find("a.notif").await;
    lee_browser
        .navigating(async { bell.click().await.unwrap() })
        .await;
    let item = lee_browser.text("ul.notifications li.unread").await;
    assert!(
        item.contains(&format!("Dana Lee mentioned you on #{n}"))
            && item.contains("Rechnung doppelt abgebucht"),
        "{item}"
    );
    // Opening it marks it read: the badge goes away.
    let link = lee_browser.find("ul.notifications li a").await;
    lee_browser
        .navigating(async { link.click().await.unwrap() })
        .await;
    assert_eq!(lee_browser.path().await, format!("/tickets/{n}"));
    assert!(lee_browser.text("li.item.note").await.contains(note));
    assert!(
        lee_browser
            .client
            .find(Locator::Css(".notif .badge"))
            .await
            .is_err(),
        "the badge is gone once the ticket is seen"
    );

    dana.close().await;
    lee_browser.close().await;
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_hostile_html_mail_runs_no_script_in_the_browser_and_its_subject_stays_text() {
    let (db, _mb) = seeded(&["12-xss-html-body.eml"]).await;
    let n = ticket_by_subject(&db, "Rechnung%").await;
    let app = App::start(&db).await;
    let chrome = Chrome::open().await;
    chrome.login(&app, "dana@example.com").await;
    let subject = "Rechnung <script>alert(1)</script> offen";

    // The inbox shows the subject and the sender's name as text.
    let row = chrome.text("tr.row").await;
    assert!(row.contains(subject), "{row}");
    assert!(row.contains("<img src=x onerror=alert(3)>"), "{row}");

    chrome.goto(&app.url(&format!("/tickets/{n}"))).await;
    let frame = chrome.find("iframe.body-html").await;
    // Wait until the message frame has loaded its document.
    let start = Instant::now();
    while chrome
        .js("const d = document.querySelector('iframe.body-html').contentDocument; \
             return !!d && d.readyState === 'complete' && !!d.body && d.body.textContent.includes('Kundenkonto 3341');")
        .await
        != json!(true)
    {
        assert!(start.elapsed() < WAIT, "the message frame never loaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // time for an onload/onerror to fire

    let alert = chrome.client.get_alert_text().await;
    assert!(
        matches!(&alert, Err(e) if e.is_no_such_alert()),
        "an alert is open: {alert:?}"
    );
    assert_eq!(
        chrome.client.title().await.unwrap(),
        format!("#{n} {subject} · Frontdesk"),
        "title unchanged and literal"
    );
    assert_eq!(chrome.path().await, format!("/tickets/{n}"), "no redirect");
    let h1 = chrome.text("main.conversation h1").await;
    assert!(h1.contains(subject), "{h1}");
    assert!(
        chrome
            .text("li.item.inbound .head")
            .await
            .contains("<img src=x onerror=alert(3)>")
    );

    let sandbox = frame
        .attr("sandbox")
        .await
        .unwrap()
        .expect("a sandboxed frame");
    assert!(!sandbox.contains("allow-scripts"), "{sandbox}");
    let inside = chrome
        .js(
            "const d = document.querySelector('iframe.body-html').contentDocument;
             const all = [...d.querySelectorAll('*')];
             return {
               active: [...d.querySelectorAll('script, iframe, frame, object, embed, form, base[href], meta[http-equiv], link')]
                 .map(e => e.outerHTML),
               handlers: all.filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
               jsLinks: all.filter(e => [...e.attributes].some(a => /^\\s*javascript:/i.test(a.value))).length,
               fixedOverlay: all.filter(e => getComputedStyle(e).position === 'fixed').length,
               text: d.body.textContent,
             };",
        )
        .await;
    assert_eq!(inside["active"], json!([]), "{inside}");
    assert_eq!(inside["handlers"], json!(0), "{inside}");
    assert_eq!(inside["jsLinks"], json!(0), "{inside}");
    assert_eq!(inside["fixedOverlay"], json!(0), "{inside}");
    assert!(
        inside["text"]
            .as_str()
            .unwrap()
            .contains("Kundenkonto 3341")
    );
    // The top page has only our own script, and the session cookie is out of a script's reach.
    assert_eq!(
        chrome
            .js("return [...document.scripts].map(s => new URL(s.src, location).pathname);")
            .await,
        json!(["/static/app.js"])
    );
    assert_eq!(chrome.js("return document.cookie;").await, json!(""));

    chrome.close().await;
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test]
async fn the_question_mark_key_shows_the_shortcuts_overlay_and_escape_hides_it() {
    let (db, _mb) = seeded(&["23-reply-in-reply-to-only-a.eml"]).await;
    let app = App::start(&db).await;
    let chrome = Chrome::open().await;
    chrome.login(&app, "dana@example.com").await;

    let help = chrome.client.find(Locator::Id("help")).await.unwrap();
    assert!(!help.is_displayed().await.unwrap(), "hidden at first");
    chrome.press('?').await;
    assert!(help.is_displayed().await.unwrap(), "? shows the overlay");
    let text = help.text().await.unwrap();
    for expected in ["Keyboard shortcuts", "j / k", "assign to me", "close"] {
        assert!(text.contains(expected), "{expected:?} not in {text:?}");
    }
    chrome.press(Key::Escape.into()).await;
    assert!(!help.is_displayed().await.unwrap(), "Escape hides it");

    chrome.close().await;
    app.stop().await;
    db.drop_db().await;
}

/// Polls a script in the page until it returns a number (or gives up after `within`).
async fn wait_for_number(chrome: &Chrome, script: &str, within: Duration) -> Option<f64> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(n) = chrome.js(script).await.as_f64() {
            return Some(n);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn two_agents_in_two_browsers_see_each_other_share_the_draft_and_the_stale_send_is_held() {
    let (db, _mb) = seeded(&["24-cc-reply-to-original-a.eml"]).await;
    agent(&db, "lee@example.com", "Lee Park", Role::Admin).await;
    let n = ticket_by_subject(&db, "Zugriff%").await;
    let app = App::start(&db).await;
    let (dana, lee) = tokio::join!(Chrome::open(), Chrome::open());
    dana.login(&app, "dana@example.com").await;
    lee.login(&app, "lee@example.com").await;
    let ticket = app.url(&format!("/tickets/{n}"));
    lee.goto(&ticket).await;
    dana.goto(&ticket).await;
    lee.wait_for_text("#presence", "Dana Lee is viewing", false)
        .await;
    dana.wait_for_text("#presence", "Lee Park is viewing", false)
        .await;

    // Lee's page notes (with its own clock, which is Dana's: one machine) when it first names
    // Dana as writing a reply.
    lee.js(
        "window.__replyingAt = null;
         var box = document.getElementById('presence');
         new MutationObserver(function () {
           if (!window.__replyingAt && box.textContent.indexOf('Dana Lee is writing a reply') >= 0) window.__replyingAt = Date.now();
         }).observe(box, { childList: true, subtree: true, characterData: true });
         return null;",
    )
    .await;
    let typed_at = dana.js("return Date.now();").await.as_f64().unwrap();
    let dana_text = "Hallo Alice, der Ordner Q2 ist jetzt freigeschaltet.";
    dana.find("#reply-text")
        .await
        .send_keys(dana_text)
        .await
        .unwrap();
    let seen_at = wait_for_number(&lee, "return window.__replyingAt;", Duration::from_secs(5))
        .await
        .expect("Lee sees that Dana is writing a reply");
    let latency = seen_at - typed_at;
    eprintln!("Lee saw 'Dana Lee is writing a reply' {latency:.0} ms after she began typing");
    assert!(
        latency < 1000.0,
        "presence took {latency:.0} ms (issue #4: within one second)"
    );

    // The draft is saved as she types and Lee sees it, read-only, without reloading.
    let status = lee
        .wait_for_text("#draft-reply", "Dana Lee is drafting this reply", false)
        .await;
    assert!(status.contains("Take over"), "{status}");
    let view = lee.find("#draft-reply button[data-view]").await;
    view.click().await.unwrap();
    lee.wait_for_text("#draft-reply .draft-view", "Ordner Q2", false)
        .await;
    lee.screenshot("two-agents-lee-sees-dana").await;

    // Lee writes his own answer meanwhile; Dana sends hers first.
    let lee_text = "Hallo Alice, ich kümmere mich darum.";
    lee.find("#reply-text")
        .await
        .send_keys(lee_text)
        .await
        .unwrap();
    let send = dana.find("#reply button[value=keep]").await;
    dana.navigating(async { send.click().await.unwrap() }).await;
    dana.wait_for_text("li.item.outbound", "Ordner Q2", false)
        .await;

    // Lee's Send is stale: held, with Dana's reply shown and his text kept.
    let send = lee.find("#reply button[value=keep]").await;
    lee.navigating(async { send.click().await.unwrap() }).await;
    let held = lee.text("#reply .held").await;
    assert!(held.contains("Not sent"), "{held}");
    let conversation = lee.text("ol.items").await;
    assert!(
        conversation.contains("der Ordner Q2 ist jetzt freigeschaltet"),
        "Dana's reply is shown to Lee:\n{conversation}"
    );
    assert_eq!(
        lee.find("#reply-text")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(lee_text),
        "the held reply keeps Lee's text"
    );
    assert_eq!(lee.text("#reply button[value=keep]").await, "Send anyway");
    lee.screenshot("two-agents-held-send").await;
    let outbound: i64 = scalar_for(
        &db.pool,
        "select count(*) from message where ticket_id = $1 and direction = 'outbound'",
        n,
    )
    .await;
    assert_eq!(outbound, 1, "only Dana's reply was queued");

    // Having read it, Lee sends anyway: now there are two.
    let anyway = lee.find("#reply button[value=keep]").await;
    lee.navigating(async { anyway.click().await.unwrap() })
        .await;
    lee.wait_for_text("ol.items", "ich kümmere mich darum", false)
        .await;
    let outbound: i64 = scalar_for(
        &db.pool,
        "select count(*) from message where ticket_id = $1 and direction = 'outbound'",
        n,
    )
    .await;
    assert_eq!(outbound, 2);

    dana.close().await;
    lee.close().await;
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test]
async fn inbox_filters_apply_on_change_and_statuses_read_capitalised() {
    let (db, _mb) = seeded(&[
        "23-reply-in-reply-to-only-a.eml",
        "24-cc-reply-to-original-a.eml",
    ])
    .await;
    let urgent = ticket_by_subject(&db, "Rechnung doppelt%").await;
    execute_for(
        &db.pool,
        "update ticket set priority = 'urgent' where ticket_id = $1",
        urgent,
    )
    .await;
    let app = App::start(&db).await;
    let chrome = Chrome::open().await;
    chrome.login(&app, "dana@example.com").await;

    let inbox = chrome.text("table.tickets").await;
    assert!(inbox.contains("· Open"), "{inbox}");
    assert!(!inbox.contains("· open"), "{inbox}");
    assert_eq!(
        chrome
            .js("return document.querySelectorAll('form.filters button').length;")
            .await,
        json!(0),
        "no Apply button while JavaScript runs"
    );

    // Choosing a priority applies the filter at once.
    let priority = chrome.find("form.filters select[name=priority]").await;
    chrome
        .navigating(async { priority.select_by_value("urgent").await.unwrap() })
        .await;
    assert!(
        chrome.path().await.contains("priority=urgent"),
        "{}",
        chrome.path().await
    );
    let rows = chrome
        .client
        .find_all(Locator::Css("tr.row"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "only the urgent ticket");

    // Labels are capitalised, the values sent stay lowercase.
    chrome.goto(&app.url(&format!("/tickets/{urgent}"))).await;
    assert_eq!(
        chrome
            .js("return [...document.querySelectorAll('#status option')].map(o => [o.value, o.text]);")
            .await,
        json!([
            ["open", "Open"],
            ["pending", "Pending"],
            ["snoozed", "Snoozed"],
            ["closed", "Closed"]
        ])
    );

    chrome.close().await;
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test]
async fn a_view_saved_from_the_filters_opens_with_g_then_its_digit() {
    let (db, _mb) = seeded(&[
        "23-reply-in-reply-to-only-a.eml",
        "24-cc-reply-to-original-a.eml",
    ])
    .await;
    let urgent = ticket_by_subject(&db, "Rechnung doppelt%").await;
    execute_for(
        &db.pool,
        "update ticket set priority = 'urgent' where ticket_id = $1",
        urgent,
    )
    .await;
    let app = App::start(&db).await;
    let chrome = Chrome::open().await;
    chrome.login(&app, "dana@example.com").await;

    // Filter, then "Save view" with a name.
    let priority = chrome.find("form.filters select[name=priority]").await;
    chrome
        .navigating(async { priority.select_by_value("urgent").await.unwrap() })
        .await;
    chrome
        .find("details.save-view summary")
        .await
        .click()
        .await
        .unwrap();
    chrome
        .find("details.save-view input[name=name]")
        .await
        .send_keys("Urgent ones")
        .await
        .unwrap();
    let save = chrome.find("details.save-view button[type=submit]").await;
    chrome
        .navigating(async { save.click().await.unwrap() })
        .await;
    assert!(
        chrome.path().await.contains("&view="),
        "{}",
        chrome.path().await
    );
    assert_eq!(chrome.text("main.list h1").await, "Urgent ones");

    // Elsewhere, a digit alone does nothing; g then 1 opens the view, highlighted.
    chrome.goto(&app.url("/inbox?folder=closed")).await;
    chrome.press('1').await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(chrome.path().await, "/inbox?folder=closed");
    // With no cached counts the page leaves the view's count out; its script fetches it.
    sqlx::query("delete from sidebar_count")
        .execute(&db.pool)
        .await
        .unwrap();
    chrome.press('g').await;
    chrome.navigating(chrome.press('1')).await;
    let path = chrome.path().await;
    assert!(
        path.contains("priority=urgent") && path.contains("&view="),
        "{path}"
    );
    let active = chrome.wait_for_text("ul.views a.active", "1", false).await;
    assert_eq!(
        active.split_whitespace().collect::<Vec<_>>(),
        ["Urgent", "ones", "1"],
        "highlighted, with its count filled in after load"
    );
    assert_eq!(
        scalar::<i64>(&db.pool, "select count(*) from sidebar_count").await,
        1,
        "counted by the script's request, and cached"
    );
    let rows = chrome
        .client
        .find_all(Locator::Css("tr.row"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "only the urgent ticket");
    // g then 2: the next entry, the built-in "At-risk accounts".
    chrome.press('g').await;
    chrome.navigating(chrome.press('2')).await;
    assert_eq!(chrome.text("main.list h1").await, "At-risk accounts");
    // The views page's "To do" column is filled the same way.
    sqlx::query("delete from sidebar_count")
        .execute(&db.pool)
        .await
        .unwrap();
    chrome.goto(&app.url("/inbox/views")).await;
    chrome
        .wait_for_text("table.views-table td[data-count-key]", "1", false)
        .await;

    chrome.close().await;
    app.stop().await;
    db.drop_db().await;
}

/// The note box's `@` menu, read from the page: `[[name, handle, selected]…]`, or null when
/// it is hidden.
async fn mention_menu(chrome: &Chrome) -> Value {
    chrome
        .js("const m = document.getElementById('mention-menu');
             if (!m || m.hidden) return null;
             return [...m.querySelectorAll('li')].map(li => [
               li.children[0].textContent, li.children[1].textContent,
               li.getAttribute('aria-selected') === 'true']);")
        .await
}

/// Waits until the `@` menu shows `expected` (JSON), or fails with what it shows.
async fn wait_for_menu(chrome: &Chrome, expected: Value) {
    let start = Instant::now();
    loop {
        let now = mention_menu(chrome).await;
        if now == expected {
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "the @ menu shows {now} instead of {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn typing_at_in_a_note_offers_colleagues_who_can_be_told_and_the_keyboard_picks_one() {
    let (db, _mb) = seeded(&["23-reply-in-reply-to-only-a.eml"]).await;
    let lee = agent(&db, "lee.park@example.com", "Lee Park", Role::Admin).await;
    let lena = agent(&db, "lena@example.com", "Lena Berg", Role::Lead).await;
    // Leo works another team's mailboxes: a mention cannot reach him, so he is not offered.
    agent(&db, "leo@example.com", "Leo Sommer", Role::Agent).await;
    let n = ticket_by_subject(&db, "Rechnung doppelt%").await;
    let app = App::start(&db).await;
    let chrome = Chrome::open().await;
    chrome.login(&app, "dana@example.com").await;
    chrome.goto(&app.url(&format!("/tickets/{n}"))).await;
    let note = chrome.find("#note-text").await;
    let value = || async {
        chrome
            .find("#note-text")
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    };

    // "@le": Lee and Lena (by name, with their handles), the first one chosen.
    note.send_keys("Bitte @le").await.unwrap();
    wait_for_menu(
        &chrome,
        json!([
            ["Lee Park", "@lee.park", true],
            ["Lena Berg", "@lena", false]
        ]),
    )
    .await;
    assert_eq!(
        chrome
            .js("return document.getElementById('note-text').getAttribute('aria-expanded');")
            .await,
        json!("true")
    );
    chrome.screenshot("mention-menu").await;
    // Arrow keys move the choice (and wrap); Enter takes it.
    chrome.press(Key::Down.into()).await;
    wait_for_menu(
        &chrome,
        json!([
            ["Lee Park", "@lee.park", false],
            ["Lena Berg", "@lena", true]
        ]),
    )
    .await;
    chrome.press(Key::Down.into()).await;
    chrome.press(Key::Up.into()).await;
    wait_for_menu(
        &chrome,
        json!([
            ["Lee Park", "@lee.park", false],
            ["Lena Berg", "@lena", true]
        ]),
    )
    .await;
    chrome.press(Key::Enter.into()).await;
    wait_for_menu(&chrome, Value::Null).await;
    assert_eq!(
        value().await,
        "Bitte @lena ",
        "Enter inserts the handle, no newline"
    );

    // A last name finds its agent too; Tab takes it.
    note.send_keys("und @par").await.unwrap();
    wait_for_menu(&chrome, json!([["Lee Park", "@lee.park", true]])).await;
    chrome.press(Key::Tab.into()).await;
    wait_for_menu(&chrome, Value::Null).await;
    assert_eq!(value().await, "Bitte @lena und @lee.park ");
    assert_eq!(
        chrome.js("return document.activeElement.id;").await,
        json!("note-text"),
        "Tab picked, it did not move the focus"
    );

    // Escape closes the menu and it stays closed for that word; an address opens none.
    note.send_keys("@l").await.unwrap();
    wait_for_menu(
        &chrome,
        json!([
            ["Lee Park", "@lee.park", true],
            ["Lena Berg", "@lena", false]
        ]),
    )
    .await;
    chrome.press(Key::Escape.into()).await;
    wait_for_menu(&chrome, Value::Null).await;
    note.send_keys("x, cc dana@le").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mention_menu(&chrome).await, Value::Null);
    // Nobody called Leo shows up: he cannot see this mailbox.
    note.send_keys(" @leo").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mention_menu(&chrome).await, Value::Null);

    // Posted: Lena and Lee are told; "@lx" and "@leo" told nobody, and the page says so.
    let add = chrome.find("#note button[type=submit]").await;
    chrome
        .navigating(async { add.click().await.unwrap() })
        .await;
    let told: Vec<i64> = sqlx::query_scalar("select agent_id from notification order by agent_id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(told, [lee, lena]);
    let notices = chrome.text("main.conversation").await;
    assert!(
        notices.contains("@lx matches no agent; nobody was notified."),
        "{notices}"
    );
    assert!(
        notices.contains("@leo is Leo Sommer, who cannot see this mailbox; nobody was notified."),
        "{notices}"
    );
    assert!(!notices.contains("@le matches"), "an address is no mention");

    chrome.close().await;
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test]
async fn e_closes_the_ticket_and_opens_the_next_one_of_the_list_it_came_from() {
    let (db, _mb) = seeded(&[
        "12-xss-html-body.eml",
        "23-reply-in-reply-to-only-a.eml",
        "24-cc-reply-to-original-a.eml",
    ])
    .await;
    // Activity 3, 2 and 1 hours ago, in ticket order.
    let ids: Vec<i64> = sqlx::query_scalar("select ticket_id from ticket order by ticket_id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    for (i, id) in ids.iter().enumerate() {
        sqlx::query(
            "update ticket set last_message_at = now() - make_interval(hours => $2) where ticket_id = $1",
        )
        .bind(id)
        .bind(3 - i as i32)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let app = App::start(&db).await;
    let chrome = Chrome::open().await;
    chrome.login(&app, "dana@example.com").await;

    // The list: open tickets, oldest waiting first; j and Enter open the first one.
    let sort = chrome.find("form.filters select[name=sort]").await;
    chrome
        .navigating(async { sort.select_by_value("oldest").await.unwrap() })
        .await;
    let in_list = |n: i64| format!("/tickets/{n}?list=folder%3Dopen%26sort%3Doldest");
    chrome.press('j').await;
    chrome.navigating(chrome.press(Key::Enter.into())).await;
    assert_eq!(chrome.path().await, in_list(ids[0]));

    // e: this one is closed and the next one of the list is open, saying so.
    chrome.navigating(chrome.press('e')).await;
    assert_eq!(
        chrome.path().await,
        in_list(ids[1]),
        "e opens the next ticket"
    );
    assert_eq!(
        chrome.text(".notice").await,
        format!("#{} is now closed.", ids[0])
    );
    let h1 = chrome.text("main.conversation h1").await;
    assert!(h1.ends_with(&format!("#{}", ids[1])), "{h1}");
    chrome.navigating(chrome.press('e')).await;
    assert_eq!(chrome.path().await, in_list(ids[2]));
    // The last one: back to the list, now empty.
    chrome.navigating(chrome.press('e')).await;
    assert_eq!(chrome.path().await, "/inbox?folder=open&sort=oldest");
    assert!(chrome.text("p.empty").await.contains("Inbox zero"));
    let statuses: Vec<String> = sqlx::query_scalar("select status from ticket order by ticket_id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(statuses, ["closed", "closed", "closed"]);

    chrome.close().await;
    app.stop().await;
    db.drop_db().await;
}

/// Chromium keeps pages the agent left in its back/forward cache (on by default, and not
/// turned off by `Chrome::open`'s flags). Each such page used to keep its live stream
/// (`EventSource("/events")`) open, holding one of the browser's six connections to the
/// server, so after a few pages every page load froze for 20-50 s. Here an agent clicks
/// through every inbox folder, opens tickets and goes back and forth: each load must finish
/// within 2 s, and pages must really come back from the cache.
#[tokio::test]
async fn clicking_through_folders_tickets_and_back_and_forward_never_freezes_a_page_load() {
    let (db, _mb) = seeded(&[
        "23-reply-in-reply-to-only-a.eml",
        "24-cc-reply-to-original-a.eml",
    ])
    .await;
    let app = App::start(&db).await;
    let chrome = Chrome::open().await;
    // Signing in is not what is measured: a cold Chromium on a busy machine may take longer
    // than 5 s for its first pages (seen once in a full parallel run).
    chrome.login(&app, "dana@example.com").await;
    // From here a frozen load makes WebDriver commands fail after 5 s rather than hang for
    // minutes.
    chrome
        .client
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
            Some(Duration::from_secs(5)),
            Some(Duration::from_secs(5)),
            Some(Duration::ZERO),
        ))
        .await
        .unwrap();

    let folders: Vec<String> = serde_json::from_value(
        chrome
            .js("return [...document.querySelectorAll('nav.sidebar a')].map(a => a.getAttribute('href'));")
            .await,
    )
    .unwrap();
    let tickets: Vec<String> = serde_json::from_value(
        chrome
            .js("return [...document.querySelectorAll('tr.row')].map(r => r.getAttribute('data-href'));")
            .await,
    )
    .unwrap();
    assert!(folders.len() >= 6, "the inbox's folders: {folders:?}");
    assert_eq!(tickets.len(), 2, "{tickets:?}");

    // Every page of the walk opens a live stream (the inbox and ticket pages do).
    let mut steps: Vec<String> = Vec::new();
    for href in folders.iter().chain(&tickets) {
        steps.push(format!("location.href = {};", json!(href)));
    }
    for _ in 0..4 {
        steps.push("history.back();".into());
    }
    for _ in 0..3 {
        steps.push("history.forward();".into());
    }
    steps.push(format!("location.href = {};", json!(folders[0])));
    assert!(steps.len() >= 10);

    let mut slowest = Duration::ZERO;
    let mut restored = 0;
    for (n, step) in steps.iter().enumerate() {
        // Mark the page we leave: the next one is a new document, or one restored from the
        // cache with an older mark. Count restores from the cache on every page.
        chrome
            .js(&format!(
                "window.__fdStep = {n};
                 if (!window.__fdHooked) {{
                   window.__fdHooked = true;
                   window.addEventListener('pageshow', function (e) {{ if (e.persisted) window.__fdJustRestored = true; }});
                 }}
                 return null;"
            ))
            .await;
        let before = chrome.path().await;
        let started = Instant::now();
        // (WebDriver may answer only once the navigation is done, or time out if it hangs.)
        let _ = chrome
            .client
            .execute(
                &format!("setTimeout(function () {{ {step} }}, 0); return null;"),
                vec![],
            )
            .await;
        let shown = loop {
            let v = chrome
                .client
                .execute(
                    &format!("return window.__fdStep !== {n} && document.readyState === 'complete' ? location.pathname + location.search : null;"),
                    vec![],
                )
                .await;
            if let Ok(Value::String(path)) = v {
                break path;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "step {n} ({step}) from {before}: no page after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let took = started.elapsed();
        let from_cache = chrome
            .js("var r = !!window.__fdJustRestored; window.__fdJustRestored = false; return r;")
            .await
            == Value::Bool(true);
        restored += usize::from(from_cache);
        eprintln!(
            "step {n:2}: {before} -> {shown} in {took:?} ({step}{})",
            if from_cache {
                ", from the back/forward cache"
            } else {
                ""
            }
        );
        assert!(
            took < Duration::from_secs(2),
            "step {n} ({step}) from {before} to {shown} took {took:?}"
        );
        slowest = slowest.max(took);
    }
    eprintln!(
        "slowest of {} page loads: {slowest:?}; {restored} came from the back/forward cache",
        steps.len()
    );
    // Otherwise this test would not test what it says (the cache off, or pages refused).
    assert!(
        restored >= 3,
        "only {restored} pages came back from the back/forward cache"
    );

    chrome.close().await;
    app.stop().await;
    db.drop_db().await;
}

#[tokio::test]
async fn inbox_and_ticket_pages_fit_a_1024_px_window_and_a_phone_without_sideways_scrolling() {
    let (db, _mb) = seeded(&[
        "08-filename-rfc2231-wrong-charset.eml",
        "12-xss-html-body.eml",
        "13-inline-cid-no-disposition.eml",
        "23-reply-in-reply-to-only-a.eml",
        "24-cc-reply-to-original-a.eml",
    ])
    .await;
    let long = ticket_by_subject(&db, "Rechnung doppelt%").await;
    // Words longer than any column, in a subject, the snippet and the body.
    let word = "Rückerstattungsbearbeitungsvorgangsnummer".repeat(3);
    sqlx::query("update ticket set subject = $2 || ' ' || subject, snippet = $2 || snippet where ticket_id = $1")
        .bind(long)
        .bind(&word)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("update message set text_body = $2 || ' ' || text_body where ticket_id = $1")
        .bind(long)
        .bind(&word)
        .execute(&db.pool)
        .await
        .unwrap();
    let app = App::start(&db).await;
    let chrome = Chrome::open().await;
    chrome.login(&app, "dana@example.com").await;
    let tickets: Vec<i64> = sqlx::query_scalar("select ticket_id from ticket order by ticket_id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    for (width, height) in [(1024, 800), (390, 844)] {
        chrome.client.set_window_size(width, height).await.unwrap();
        let mut pages = vec![("inbox".to_string(), "/inbox?folder=all".to_string())];
        pages.extend(
            tickets
                .iter()
                .map(|n| (format!("ticket-{n}"), format!("/tickets/{n}"))),
        );
        for (name, path) in pages {
            chrome.goto(&app.url(&path)).await;
            chrome.find("main").await;
            let v = chrome
                .js("const d = document.documentElement; \
                     return [d.scrollWidth, d.clientWidth, window.innerWidth];")
                .await;
            let (scroll, client) = (v[0].as_i64().unwrap(), v[1].as_i64().unwrap());
            chrome.screenshot(&format!("fit-{width}-{name}")).await;
            assert!(
                scroll <= client,
                "{path} at {width} px scrolls sideways: scrollWidth {scroll} > clientWidth {client} \
                 (innerWidth {})",
                v[2]
            );
        }
        // The inbox's header cells line up with the row's cells (or are hidden on a phone).
        chrome.goto(&app.url("/inbox?folder=all")).await;
        let v = chrome
            .js("const th = [...document.querySelectorAll('table.tickets th')]; \
                 const td = [...document.querySelector('tr.row').children]; \
                 const shown = document.querySelector('table.tickets thead').getBoundingClientRect().width > 1; \
                 return th.map((h, i) => [shown && h.getBoundingClientRect().width > 1, \
                     Math.round(h.getBoundingClientRect().left), \
                     Math.round(td[i].getBoundingClientRect().left)]);")
            .await;
        for (i, cell) in v.as_array().unwrap().iter().enumerate() {
            if cell[0].as_bool().unwrap() {
                assert_eq!(cell[1], cell[2], "column {i} at {width} px: {v}");
            }
        }
    }
    chrome.close().await;
    app.stop().await;
    db.drop_db().await;
}

/// The ticket sidebar's account box: an agent marks the customer VIP in the form (a plain
/// same-origin post, CSRF-checked like every form), the page comes back saying so with the
/// badge, the customer and the audit log have it, and the inbox's "VIP waiting" view lists
/// the ticket.
#[tokio::test]
async fn an_agent_marks_the_customer_vip_from_the_ticket_sidebar() {
    let (db, _mb) = seeded(&["24-cc-reply-to-original-a.eml"]).await;
    let ticket = ticket_by_subject(&db, "Zugriff%").await;
    let app = App::start(&db).await;
    let chrome = Chrome::open().await;
    chrome.login(&app, "dana@example.com").await;
    chrome.goto(&app.url(&format!("/tickets/{ticket}"))).await;
    // Not VIP: nobody set it, so the company's value (no) applies.
    assert_eq!(chrome.text("#account-vip").await, "No (company)");
    assert_eq!(chrome.text("#account-company").await, "example.org");

    chrome
        .find("details.account-edit summary")
        .await
        .click()
        .await
        .unwrap();
    chrome
        .find("#customer-vip")
        .await
        .select_by_value("yes")
        .await
        .unwrap();
    chrome
        .find("#customer-health")
        .await
        .send_keys("64")
        .await
        .unwrap();
    let save = chrome.find("#account-form button[type=submit]").await;
    chrome
        .navigating(async { save.click().await.unwrap() })
        .await;

    assert_eq!(chrome.path().await, format!("/tickets/{ticket}"));
    assert_eq!(chrome.text(".notice").await, "Customer saved.");
    assert_eq!(chrome.text("#account-vip").await, "Yes");
    assert_eq!(chrome.text("#account-vip-badge").await, "VIP");
    assert_eq!(chrome.text("#account-health").await, "64 / 100");
    let (vip, health): (Option<bool>, Option<i16>) = sqlx::query_as(
        "select vip, health from customer where email = 'alice.morgenroth@example.org'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((vip, health), (Some(true), Some(64)));
    let audit: (String, Value) = sqlx::query_as(
        "select actor_label, after from audit_event where action = 'customer.update'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        audit,
        (
            "dana@example.com".to_string(),
            json!({"vip": true, "health": 64})
        )
    );

    // The inbox's shared view lists the waiting VIP.
    chrome.goto(&app.url("/inbox")).await;
    let view = chrome.find("ul.views a[href*='vip=yes']").await;
    assert!(view.text().await.unwrap().contains("VIP waiting"));
    chrome
        .navigating(async { view.click().await.unwrap() })
        .await;
    let rows = chrome.text("table.tickets").await;
    assert!(
        rows.contains("Zugriff auf Projektordner") && rows.contains("VIP"),
        "{rows}"
    );

    chrome.close().await;
    app.stop().await;
    db.drop_db().await;
}
