//! Full nodes on real ports and raw HTTP clients for them: the live tests need a real
//! server, since SSE streams and cross-node events never pass through `oneshot`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::TestDb;

/// Starts a full node (web, pollers, outbox, live listener) on a free port.
pub async fn node(db: &TestDb, name: &str, shutdown: &CancellationToken) -> SocketAddr {
    let mut cfg = frontdesk::config::Config::from_env().unwrap();
    cfg.db.url = Some(db.url.clone());
    cfg.node_id = name.into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(frontdesk::app::run(
        cfg,
        db.pool.clone(),
        listener,
        shutdown.clone(),
    ));
    addr
}

/// An SSE connection; yields `(event, data)` pairs.
pub struct Sse {
    /// The raw stream, for tests that read it line by line.
    pub lines: tokio::io::Lines<BufReader<TcpStream>>,
}

impl Sse {
    pub async fn open(addr: SocketAddr, cookie: &str) -> Sse {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET /events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nCookie: {cookie}\r\n\r\n").as_bytes()).await.unwrap();
        let mut lines = BufReader::new(s).lines();
        let status = lines.next_line().await.unwrap().unwrap();
        assert!(status.contains("200"), "SSE refused: {status}");
        Sse { lines }
    }

    /// The next event of `kind` within `timeout`.
    pub async fn next(&mut self, kind: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut current = String::new();
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = tokio::time::timeout(left, self.lines.next_line())
                .await
                .ok()?
                .ok()??;
            if let Some(ev) = line.strip_prefix("event: ") {
                current = ev.trim().to_string();
            } else if let Some(data) = line.strip_prefix("data: ")
                && current == kind
            {
                return Some(data.to_string());
            }
        }
    }
}

/// Sends a same-origin form POST with `Connection: close`; the response, line by line.
async fn send_form(
    addr: SocketAddr,
    path: &str,
    cookie: Option<&str>,
    body: &str,
) -> tokio::io::Lines<BufReader<TcpStream>> {
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Sec-Fetch-Site: same-origin\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    BufReader::new(s).lines()
}

/// A same-origin form post over TCP; returns the status code.
pub async fn post_form(addr: SocketAddr, cookie: &str, path: &str, body: &str) -> u16 {
    let mut lines = send_form(addr, path, Some(cookie), body).await;
    let status = lines.next_line().await.unwrap().unwrap();
    status.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Logs in over HTTP and returns the session cookie (`name=value`).
pub async fn login_cookie(addr: SocketAddr, email: &str, password: &str) -> String {
    let body = format!(
        "email={}&password={}&next=%2Finbox",
        percent_encoding::utf8_percent_encode(email, percent_encoding::NON_ALPHANUMERIC),
        percent_encoding::utf8_percent_encode(password, percent_encoding::NON_ALPHANUMERIC)
    );
    let mut lines = send_form(addr, "/login", None, &body).await;
    let mut cookie = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.is_empty() {
            break;
        }
        if let Some(v) = line
            .strip_prefix("set-cookie: ")
            .or_else(|| line.strip_prefix("Set-Cookie: "))
        {
            cookie = Some(v.split(';').next().unwrap().to_string());
        }
    }
    cookie.expect("a session cookie after signing in")
}
