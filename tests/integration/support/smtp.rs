//! SMTP side of the harness (outbox tests): the shared test sink that `scripts/test` starts
//! (`FRONTDESK_TEST_SMTP`, `FRONTDESK_TEST_SMTP_DIR`), and private sinks a test starts and
//! stops itself (`FRONTDESK_TEST_SMTP_PYTHON` + `scripts/smtp_sink.py`).
//!
//! The shared sink keeps every mail ever received; a test finds its own by a unique
//! recipient or Message-ID, never by clearing the folder.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::random_name;

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test"))
}

/// `smtp://host:port` of the shared sink, usable as a mailbox's `smtp_url`.
pub fn sink_url() -> String {
    format!("smtp://{}", env("FRONTDESK_TEST_SMTP"))
}

/// Where the shared sink writes what it receives.
pub fn sink_dir() -> PathBuf {
    PathBuf::from(env("FRONTDESK_TEST_SMTP_DIR"))
}

/// One mail as an SMTP server received it.
#[derive(Debug, Clone)]
pub struct SinkMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The DATA bytes (dot-unstuffed).
    pub raw: Vec<u8>,
}

impl SinkMail {
    /// A header's value with folding undone (RFC 5322 2.2.3); `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.raw);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Every mail received in `dir` (a sink's folder), oldest first.
pub fn received(dir: &Path) -> Vec<SinkMail> {
    let mut metas: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    metas.sort();
    metas
        .iter()
        .filter_map(|p| {
            let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
            Some(SinkMail {
                mail_from: meta["mail_from"].as_str()?.to_string(),
                rcpt_tos: meta["rcpt_tos"]
                    .as_array()?
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                raw: std::fs::read(meta["eml"].as_str()?).ok()?,
            })
        })
        .collect()
}

/// The mails in `dir` with this Message-ID (without angle brackets).
pub fn received_with_message_id(dir: &Path, message_id: &str) -> Vec<SinkMail> {
    let want = format!("<{message_id}>");
    received(dir)
        .into_iter()
        .filter(|m| m.header("Message-ID").as_deref() == Some(want.as_str()))
        .collect()
}

/// The mails in `dir` for this envelope recipient.
pub fn received_for(dir: &Path, rcpt: &str) -> Vec<SinkMail> {
    received(dir)
        .into_iter()
        .filter(|m| m.rcpt_tos.iter().any(|r| r.eq_ignore_ascii_case(rcpt)))
        .collect()
}

/// A loopback port nothing listens on (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private SMTP sink on a port of the test's choosing, stopped when dropped.
pub struct OwnSink {
    child: Child,
    pub dir: PathBuf,
}

impl OwnSink {
    /// Starts `scripts/smtp_sink.py` on `port` and waits until it accepts connections.
    pub async fn start(port: u16) -> OwnSink {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = root.join(".tmp/smtp-own").join(random_name("sink"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(env("FRONTDESK_TEST_SMTP_PYTHON"))
            .arg(root.join("scripts/smtp_sink.py"))
            .args(["--port", &port.to_string(), "--dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start scripts/smtp_sink.py");
        let sink = OwnSink { child, dir };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return sink;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("smtp_sink.py did not listen on port {port} within 10 s");
    }
}

impl Drop for OwnSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Asserts that `m` answers mail fixture 42 (an Outlook reply): it names that reply as its
/// parent and the whole thread in `References`.
pub fn assert_threads_under_case_42(m: &SinkMail) {
    assert_eq!(
        m.header("In-Reply-To").as_deref(),
        Some("<c42-reply@EXCH07.example.org>")
    );
    assert_eq!(
        m.header("References").as_deref(),
        Some("<c42-root@EXCH07.example.org> <c42-reply@EXCH07.example.org>")
    );
}
