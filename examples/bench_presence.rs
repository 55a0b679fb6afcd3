//! Load driver of `scripts/bench-presence`: simulated agents on several `frontdesk serve` nodes
//! change their presence on tickets while every agent holds an SSE stream (`GET /events`);
//! prints the fan-out latency of presence events and the CPU and memory of each node.
//!
//! Run it through the script, which prepares the database and the nodes:
//! `scripts/bench-presence [--agents 200] [--seconds 30] [--rate realistic|heavy|N]`.
//!
//! Each agent signs in on node `i % nodes` like a browser (session cookie,
//! `Sec-Fetch-Site: same-origin`), opens one SSE stream there and then works tickets in a
//! loop: it opens a ticket (`viewing`), starts replying a few seconds later (`replying`) and
//! leaves (`left`), with a heartbeat (same activity, no event) every few seconds in between.
//! `--rate` is how many tickets an agent opens per minute; each opening causes three presence
//! events.
//!
//! Presence events carry only the ticket, so deliveries are matched to the change that caused
//! them by ticket: a ticket is worked by at most one simulated agent at a time, so its changes
//! are strictly ordered and the k-th event of a ticket on a stream belongs to its k-th change.
//! Latency is measured from the moment the POST that caused the change was sent.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use clap::Parser;
use futures::StreamExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Http = Client<HttpConnector, Body>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Command line of the driver (the script fills it in).
#[derive(Parser, Debug)]
struct Args {
    /// Base URLs of the nodes, comma-separated; agent i uses node i % (number of nodes).
    #[arg(long, value_delimiter = ',', required = true)]
    nodes: Vec<String>,
    /// Process ids of the nodes, in the same order, for their CPU and memory figures.
    #[arg(long, value_delimiter = ',')]
    pids: Vec<u32>,
    /// Simulated agents.
    #[arg(long, default_value_t = 200)]
    agents: usize,
    /// Sign-in email of agent i (1-based); `{}` is replaced by i.
    #[arg(long, default_value = "agent{}@example.com")]
    email: String,
    /// The agents' password.
    #[arg(long, env = "BENCH_PASSWORD", hide_env_values = true)]
    password: String,
    /// Ticket numbers to work on: first..=last.
    #[arg(long)]
    first_ticket: i64,
    #[arg(long)]
    last_ticket: i64,
    /// How long agents keep opening tickets.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Tickets opened per agent per minute (three presence events each).
    #[arg(long, default_value_t = 2.4)]
    rate: f64,
    /// Seconds between heartbeats on an open ticket (the browser's interval).
    #[arg(long, default_value_t = 3.0)]
    heartbeat: f64,
    /// The p99 target in milliseconds (for the verdict line).
    #[arg(long, default_value_t = 300.0)]
    target_p99_ms: f64,
    /// Writes every presence POST here as CSV (start offset ms, node, activity, change, ms).
    #[arg(long)]
    dump: Option<std::path::PathBuf>,
    /// Clock ticks per second of /proc/PID/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clk_tck: u64,
}

/// A presence change that should produce one event on every stream.
#[derive(Debug, Clone, Copy)]
struct Change {
    ticket: i64,
    /// Node index of the agent that caused it.
    node: usize,
    sent: Instant,
    /// When its POST returned.
    done: Instant,
}

/// What one agent did.
#[derive(Default)]
struct AgentLog {
    changes: Vec<Change>,
    /// Round-trip times of the presence POSTs that changed something, and of heartbeats.
    change_ms: Vec<f64>,
    heartbeat_ms: Vec<f64>,
    /// Every POST: (sent, activity, changed something, ms).
    posts: Vec<(Instant, &'static str, bool, f64)>,
    errors: u64,
}

/// What one SSE stream received: presence deliveries `(ticket, when)`, and other kinds.
#[derive(Default)]
struct StreamLog {
    presence: Vec<(i64, Instant)>,
    resync: u64,
    other: u64,
    ended: bool,
}

/// CPU ticks (utime + stime) of a process.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start with the state (field 3).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// A `/proc/PID/status` field in kB (VmHWM, VmRSS).
fn status_kb(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn login(http: &Http, base: &str, email: &str, password: &str) -> Result<String, BoxError> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("email", email)
        .append_pair("password", password)
        .finish();
    let req = Request::post(format!("{base}/login"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(body))?;
    let resp = http.request(req).await?;
    let cookie = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("frontdesk_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string);
    let status = resp.status();
    axum::body::to_bytes(Body::new(resp.into_body()), 1 << 20).await?;
    cookie.ok_or_else(|| format!("login of {email} failed: {status}, no session cookie").into())
}

/// Sends one presence POST; returns its status and round-trip time.
async fn post_presence(
    http: &Http,
    base: &str,
    cookie: &str,
    ticket: i64,
    activity: &str,
) -> (Option<StatusCode>, f64) {
    let started = Instant::now();
    let req = Request::post(format!("{base}/tickets/{ticket}/presence"))
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(format!("activity={activity}")))
        .expect("valid request");
    let status = match http.request(req).await {
        Ok(resp) => {
            let s = resp.status();
            let _ = axum::body::to_bytes(Body::new(resp.into_body()), 1 << 20).await;
            Some(s)
        }
        Err(_) => None,
    };
    (status, started.elapsed().as_secs_f64() * 1000.0)
}

/// Opens `GET /events` and returns once the node answered 200 (it subscribes before that);
/// the spawned reader then logs every event until aborted.
async fn open_stream(
    http: &Http,
    base: &str,
    cookie: &str,
    log: Arc<Mutex<StreamLog>>,
    received: Arc<AtomicU64>,
) -> Result<tokio::task::JoinHandle<()>, BoxError> {
    let req = Request::get(format!("{base}/events"))
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT, "text/event-stream")
        .body(Body::empty())?;
    let resp = http.request(req).await?;
    if resp.status() != StatusCode::OK {
        return Err(format!("GET /events: {}", resp.status()).into());
    }
    let mut body = Body::new(resp.into_body()).into_data_stream();
    Ok(tokio::spawn(async move {
        let mut buf = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            let at = Instant::now();
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                let mut kind = "message";
                let mut data = "";
                for line in event.lines() {
                    if let Some(k) = line.strip_prefix("event:") {
                        kind = k.trim();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data = d.trim();
                    }
                }
                let mut log = log.lock().unwrap();
                match kind {
                    "presence" => {
                        let ticket = serde_json::from_str::<serde_json::Value>(data)
                            .ok()
                            .and_then(|v| v["ticket"].as_i64());
                        if let Some(t) = ticket {
                            log.presence.push((t, at));
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    "resync" => log.resync += 1,
                    _ if data.is_empty() => {} // keep-alive comment
                    _ => log.other += 1,
                }
            }
        }
        log.lock().unwrap().ended = true;
    }))
}

/// Tickets being worked by some simulated agent: nobody else takes them meanwhile.
type Busy = Arc<Mutex<HashSet<i64>>>;

fn take_ticket(rng: &mut StdRng, busy: &Busy, first: i64, last: i64) -> i64 {
    let mut busy = busy.lock().unwrap();
    loop {
        let t = rng.random_range(first..=last);
        if busy.insert(t) {
            return t;
        }
    }
}

struct AgentPlan {
    node: usize,
    base: String,
    cookie: String,
    cycle: f64,
    heartbeat: Duration,
    first: i64,
    last: i64,
    deadline: Instant,
}

/// One agent's work: open, reply, leave, next ticket; no ticket is opened after the deadline.
async fn run_agent(http: Http, p: AgentPlan, busy: Busy) -> AgentLog {
    let mut rng = StdRng::from_rng(&mut rand::rng());
    let mut log = AgentLog::default();
    // The first ticket was opened a random time before the start, as if the agent had been
    // working all along: its steps already past are skipped, so events come at the steady rate
    // from the first second (a `replying` then creates the row, one event as well).
    let mut phase = Some(p.cycle * rng.random_range(0.0..1.2));
    while Instant::now() < p.deadline {
        let ticket = take_ticket(&mut rng, &busy, p.first, p.last);
        let now = Instant::now();
        let len = p.cycle * rng.random_range(0.8..1.2);
        let opened = phase
            .take()
            .and_then(|ph| now.checked_sub(Duration::from_secs_f64(ph.min(len))))
            .unwrap_or(now);
        let steps = [
            (Duration::ZERO, "viewing"),
            (
                Duration::from_secs_f64(len * rng.random_range(0.25..0.5)),
                "replying",
            ),
            (
                Duration::from_secs_f64(len * rng.random_range(0.8..0.95)),
                "left",
            ),
        ];
        let mut last_post = opened;
        let mut current: Option<&'static str> = None;
        for &(at, activity) in &steps {
            // The ticket open at the deadline is finished at its own pace (leaving all at once
            // would be a burst no real team makes).
            let due = opened + at;
            if due < now || (activity == "left" && current.is_none()) {
                continue; // before the start: nothing to do, nothing to leave
            }
            // Heartbeats with the current activity until the next change is due.
            if let Some(cur) = current {
                while last_post + p.heartbeat < due {
                    tokio::time::sleep_until((last_post + p.heartbeat).into()).await;
                    last_post = Instant::now();
                    let (status, ms) = post_presence(&http, &p.base, &p.cookie, ticket, cur).await;
                    log.heartbeat_ms.push(ms);
                    log.posts.push((last_post, cur, false, ms));
                    if status != Some(StatusCode::NO_CONTENT) {
                        log.errors += 1;
                    }
                }
            }
            tokio::time::sleep_until(due.into()).await;
            let sent = Instant::now();
            last_post = sent;
            let (status, ms) = post_presence(&http, &p.base, &p.cookie, ticket, activity).await;
            log.change_ms.push(ms);
            log.posts.push((sent, activity, true, ms));
            if status == Some(StatusCode::NO_CONTENT) {
                log.changes.push(Change {
                    ticket,
                    node: p.node,
                    sent,
                    done: Instant::now(),
                });
            } else {
                log.errors += 1;
            }
            current = Some(activity);
        }
        busy.lock().unwrap().remove(&ticket);
        let next = opened + Duration::from_secs_f64(len);
        if next >= p.deadline {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
    }
    log
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    if args.first_ticket > args.last_ticket || args.agents == 0 || args.rate <= 0.0 {
        return Err("need first-ticket <= last-ticket, agents >= 1 and rate > 0".into());
    }
    if (args.last_ticket - args.first_ticket + 1) < 2 * args.agents as i64 {
        return Err("need at least twice as many tickets as agents".into());
    }
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(HttpConnector::new());
    let nodes = args.nodes.len();

    // Sign in, a few at a time (argon2 verification costs ~0.1 s of CPU each).
    let started = Instant::now();
    let cookies: Vec<String> = futures::stream::iter(0..args.agents)
        .map(|i| {
            let http = http.clone();
            let base = args.nodes[i % nodes].clone();
            let email = args.email.replace("{}", &(i + 1).to_string());
            let password = args.password.clone();
            async move { login(&http, &base, &email, &password).await }
        })
        .buffered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    eprintln!(
        "bench-presence: {} agents signed in in {:.1} s",
        args.agents,
        started.elapsed().as_secs_f64()
    );

    // One SSE stream per agent, on its node.
    let received = Arc::new(AtomicU64::new(0));
    let mut streams = Vec::new();
    let mut readers = Vec::new();
    for (i, cookie) in cookies.iter().enumerate() {
        let log = Arc::new(Mutex::new(StreamLog::default()));
        readers.push(
            open_stream(
                &http,
                &args.nodes[i % nodes],
                cookie,
                log.clone(),
                received.clone(),
            )
            .await?,
        );
        streams.push((i % nodes, log));
    }
    eprintln!("bench-presence: {} SSE streams open", streams.len());

    let pids: Vec<String> = args.pids.iter().map(u32::to_string).collect();
    let cpu_before: Vec<Option<u64>> = pids.iter().map(|p| cpu_ticks(p)).collect();
    let self_before = cpu_ticks("self");
    let rss_before: Vec<Option<u64>> = pids.iter().map(|p| status_kb(p, "VmRSS")).collect();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(args.seconds);
    let cycle = 60.0 / args.rate;
    eprintln!(
        "bench-presence: {} s of load: a ticket per agent every {cycle:.1} s (3 events each), heartbeat every {} s",
        args.seconds, args.heartbeat
    );

    let busy: Busy = Arc::default();
    let agents: Vec<_> = cookies
        .iter()
        .enumerate()
        .map(|(i, cookie)| {
            let plan = AgentPlan {
                node: i % nodes,
                base: args.nodes[i % nodes].clone(),
                cookie: cookie.clone(),
                cycle,
                heartbeat: Duration::from_secs_f64(args.heartbeat),
                first: args.first_ticket,
                last: args.last_ticket,
                deadline,
            };
            tokio::spawn(run_agent(http.clone(), plan, busy.clone()))
        })
        .collect();
    let mut logs = Vec::new();
    for a in agents {
        logs.push(a.await?);
    }
    let load_end = Instant::now();
    if let Some(path) = &args.dump {
        use std::fmt::Write as _;
        let mut csv = String::from("offset_ms,node,activity,change,ms\n");
        for (agent, l) in logs.iter().enumerate() {
            for (sent, activity, change, ms) in &l.posts {
                let offset = sent.saturating_duration_since(t0).as_secs_f64() * 1000.0;
                let _ = writeln!(
                    csv,
                    "{offset:.1},{},{activity},{change},{ms:.1}",
                    agent % nodes
                );
            }
        }
        std::fs::write(path, csv)?;
    }

    // Wait for the last deliveries (at most 5 s).
    let changes: Vec<Change> = logs
        .iter()
        .flat_map(|l| l.changes.iter().copied())
        .collect();
    let expected = (changes.len() * streams.len()) as u64;
    let drain_until = Instant::now() + Duration::from_secs(5);
    while received.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t1 = Instant::now();
    let cpu_after: Vec<Option<u64>> = pids.iter().map(|p| cpu_ticks(p)).collect();
    let self_after = cpu_ticks("self");
    let hwm: Vec<Option<u64>> = pids.iter().map(|p| status_kb(p, "VmHWM")).collect();
    let rss: Vec<Option<u64>> = pids.iter().map(|p| status_kb(p, "VmRSS")).collect();
    for r in &readers {
        r.abort();
    }

    // Match deliveries to changes, per ticket in order.
    let mut by_ticket: HashMap<i64, Vec<Change>> = HashMap::new();
    for c in &changes {
        by_ticket.entry(c.ticket).or_default().push(*c);
    }
    for v in by_ticket.values_mut() {
        v.sort_by_key(|c| c.sent);
    }
    let mut lat = Vec::new();
    let mut after_return = Vec::new();
    let (mut same_node, mut cross_node) = (Vec::new(), Vec::new());
    let (mut delivered, mut unexpected, mut early, mut resyncs, mut ended) =
        (0u64, 0u64, 0u64, 0u64, 0);
    for (node, log) in &streams {
        let log = log.lock().unwrap();
        resyncs += log.resync;
        ended += usize::from(log.ended);
        let mut seen: HashMap<i64, usize> = HashMap::new();
        for &(ticket, at) in &log.presence {
            let k = seen.entry(ticket).or_default();
            let Some(change) = by_ticket.get(&ticket).and_then(|v| v.get(*k)) else {
                unexpected += 1;
                continue;
            };
            *k += 1;
            if at < change.sent {
                early += 1; // out of step: an event nobody recorded came first
                continue;
            }
            delivered += 1;
            let ms = at.duration_since(change.sent).as_secs_f64() * 1000.0;
            lat.push(ms);
            after_return.push(at.saturating_duration_since(change.done).as_secs_f64() * 1000.0);
            if change.node == *node {
                same_node.push(ms);
            } else {
                cross_node.push(ms);
            }
        }
    }
    let mut change_ms: Vec<f64> = logs
        .iter()
        .flat_map(|l| l.change_ms.iter().copied())
        .collect();
    let mut heartbeat_ms: Vec<f64> = logs
        .iter()
        .flat_map(|l| l.heartbeat_ms.iter().copied())
        .collect();
    for v in [
        &mut lat,
        &mut after_return,
        &mut same_node,
        &mut cross_node,
        &mut change_ms,
        &mut heartbeat_ms,
    ] {
        v.sort_by(f64::total_cmp);
    }
    let errors: u64 = logs.iter().map(|l| l.errors).sum();
    let received_all = received.load(Ordering::Relaxed);
    let lost = expected.saturating_sub(delivered);

    let window = t1.duration_since(t0).as_secs_f64();
    let load_secs = load_end.duration_since(t0).as_secs_f64();
    println!();
    println!(
        "frontdesk presence benchmark: {} agents on {nodes} nodes, {} s opening tickets + {:.0} s finishing them, {:.1} ticket opens per agent per minute, heartbeat {} s",
        args.agents,
        args.seconds,
        load_secs - args.seconds as f64,
        args.rate,
        args.heartbeat
    );
    for (name, v) in [
        ("POSTs: changes", &change_ms),
        ("POSTs: heartbeats", &heartbeat_ms),
    ] {
        println!(
            "{name:<21} {:>8}  ({:.1}/s; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms)",
            v.len(),
            v.len() as f64 / load_secs,
            percentile(v, 50.0),
            percentile(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN)
        );
    }
    println!("failed POSTs          {errors:>8}");
    let steady = changes.iter().filter(|c| c.sent < deadline).count();
    println!(
        "presence events sent  {:>8}  ({:.1}/s while agents opened tickets, {:.1}/s overall)",
        changes.len(),
        steady as f64 / args.seconds as f64,
        changes.len() as f64 / load_secs
    );
    println!(
        "deliveries expected   {:>8}  ({} events x {} streams)",
        expected,
        changes.len(),
        streams.len()
    );
    println!(
        "deliveries received   {:>8}  ({:.0}/s; matched {delivered}, unexpected {unexpected}, out of step {early})",
        received_all,
        received_all as f64 / load_secs,
    );
    println!(
        "deliveries lost       {:>8}  (resync events {resyncs}, streams closed by a node {ended})",
        lost
    );
    let row = |name: &str, v: &[f64]| {
        println!(
            "{name:<21} {:>8.1} {:>8.1} {:>8.1} {:>8.1}  ({} deliveries)",
            percentile(v, 50.0),
            percentile(v, 90.0),
            percentile(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN),
            v.len()
        )
    };
    println!(
        "fan-out latency (ms)  {:>8} {:>8} {:>8} {:>8}",
        "p50", "p90", "p99", "max"
    );
    row("  all streams", &lat);
    row("  same node", &same_node);
    row("  other node", &cross_node);
    row("  after POST returned", &after_return);
    let tck = args.clk_tck as f64;
    let cpu = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(b), Some(a)) => {
            let s = a.saturating_sub(b) as f64 / tck;
            format!("{s:>6.2} s CPU = {:>5.1}% of one core", 100.0 * s / window)
        }
        _ => "CPU n/a".into(),
    };
    let mb = |kb: Option<u64>| kb.map_or("n/a".into(), |k| format!("{:.1} MB", k as f64 / 1024.0));
    for (i, pid) in pids.iter().enumerate() {
        println!(
            "node {} (pid {pid})      {}; RSS {} at the start, {} at the end, peak (VmHWM) {}",
            i + 1,
            cpu(cpu_before[i], cpu_after[i]),
            mb(rss_before[i]),
            mb(rss[i]),
            mb(hwm[i])
        );
    }
    println!(
        "driver                {}; peak RSS {}",
        cpu(self_before, self_after),
        mb(status_kb("self", "VmHWM"))
    );
    println!("(CPU over the {window:.1} s from the first presence change to the last delivery)");
    let p99 = percentile(&lat, 99.0);
    let ok = p99 <= args.target_p99_ms && lost == 0 && errors == 0 && !lat.is_empty();
    println!(
        "verdict: p99 {p99:.1} ms (target <= {:.0} ms), {lost} lost, {errors} failed POSTs: {}",
        args.target_p99_ms,
        if ok { "ok" } else { "MISSED" }
    );
    std::process::exit(if ok { 0 } else { 1 });
}
