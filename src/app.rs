//! Every long-running task of `frontdesk serve`, each under a name: the web server, the live
//! listener, the mailbox pollers, the outbox sender, the CSAT survey worker, the webhook
//! deliveries, the search indexer, housekeeping, the time rules and the SLA worker.
//!
//! A task that panics or fails is logged with its name and stops the node: the shared
//! shutdown token is cancelled, the other tasks get [`SHUTDOWN_GRACE`] to finish, and
//! [`run`] returns an error naming the task (so `frontdesk serve` exits non-zero).

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::FutureExt;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::ingest::poller;
use crate::web::{self, AppState};

/// How long, after shutdown is requested, requests in flight and workers in the middle of a
/// step (a send, an IMAP fetch) may take to finish before the node exits anyway. Live event
/// streams do not wait for it: they end at once.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the web server on `listener` and every worker until `shutdown` is cancelled (or a task
/// fails, which cancels it), then gives them [`SHUTDOWN_GRACE`] to finish. Errors name the
/// tasks that failed.
pub async fn run(
    config: Config,
    pool: PgPool,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let tasks = Tasks::new(shutdown.clone());
    tasks.spawn(
        "outbox sender",
        ok(crate::outbox::run(
            pool.clone(),
            config.mail_tls.clone(),
            shutdown.clone(),
        )),
    );
    tasks.spawn(
        "csat surveys",
        ok(crate::csat::run(
            pool.clone(),
            config.public_url.clone(),
            shutdown.clone(),
        )),
    );
    tasks.spawn(
        "notification mail",
        ok(crate::tickets::notification_mail::run(
            pool.clone(),
            config.public_url.clone(),
            shutdown.clone(),
        )),
    );
    tasks.spawn(
        "webhooks",
        ok(crate::webhooks::run(
            pool.clone(),
            config.webhooks.clone(),
            shutdown.clone(),
        )),
    );
    tasks.spawn(
        "search indexer",
        ok(crate::search::run_indexer(pool.clone(), shutdown.clone())),
    );
    tasks.spawn(
        "housekeeping",
        ok(housekeeping(pool.clone(), shutdown.clone())),
    );
    tasks.spawn(
        "time rules",
        ok(crate::rules::engine::run_time_rules_forever(
            pool.clone(),
            shutdown.clone(),
        )),
    );
    tasks.spawn(
        "sla worker",
        ok(crate::sla::monitor::run(
            pool.clone(),
            config.sla.tick,
            shutdown.clone(),
        )),
    );
    tasks.spawn(
        "mailbox poller supervisor",
        ok(poller::supervise(
            pool.clone(),
            config.ingest.clone(),
            config.mail_tls.clone(),
            config.node_id.clone(),
            tasks.clone(),
        )),
    );

    if let Some(bind) = config.metrics_bind {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding FRONTDESK_METRICS_BIND {bind}"))?;
        tracing::info!(%bind, "metrics listener");
        let server = axum::serve(listener, web::metrics_router(pool.clone()))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        tasks.spawn("metrics listener", async move { Ok(server.await?) });
    }
    let mut state = AppState::new(pool.clone(), config.clone());
    if let Some(url) = &config.db.replica_url {
        state.reports = crate::db::connect_replica(url, config.db.pool_size)?;
        tracing::info!("analytics read from the replica in FRONTDESK_REPLICA_URL");
    } else {
        state.reports = crate::db::reports_pool(&pool, config.db.pool_size);
    }
    // Live streams end as soon as shutdown is requested: graceful shutdown waits for every
    // response, and a stream would otherwise last until its browser tab closes.
    state.live = crate::live::Hub::closing_on(shutdown.child_token());
    tasks.spawn(
        "live listener",
        ok(state.live.clone().run_listener(pool, shutdown.clone())),
    );
    let app = web::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    tasks.spawn("web server", async move { Ok(server.await?) });

    shutdown.cancelled().await;
    tracing::info!(grace = ?SHUTDOWN_GRACE, "stopping");
    tasks.stop(SHUTDOWN_GRACE).await
}

/// A task that cannot fail (it logs its errors and carries on) as one that may.
async fn ok(task: impl Future<Output = ()>) -> anyhow::Result<()> {
    task.await;
    Ok(())
}

/// The node's long-running tasks, each with a name, sharing one shutdown token. Cloning gives
/// another handle to the same set (the mailbox poller supervisor starts one task per mailbox).
#[derive(Clone)]
pub struct Tasks {
    tracker: TaskTracker,
    shutdown: CancellationToken,
    inner: Arc<TasksInner>,
}

#[derive(Default)]
struct TasksInner {
    next_id: AtomicU64,
    /// Running tasks: name, and a handle to abort it if it outlives the grace period.
    running: Mutex<BTreeMap<u64, (String, tokio::task::AbortHandle)>>,
    /// Names of the tasks that panicked or failed.
    failed: Mutex<Vec<String>>,
}

impl Tasks {
    /// An empty set; a task that fails cancels `shutdown`.
    pub fn new(shutdown: CancellationToken) -> Tasks {
        Tasks {
            tracker: TaskTracker::new(),
            shutdown,
            inner: Arc::default(),
        }
    }

    /// The token every task stops on.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Starts `task` under `name`. If it panics or returns an error, that is logged with the
    /// name and shutdown is requested for every task. A task that ends by itself without error
    /// (a poller whose mailbox was deleted) is logged only.
    pub fn spawn<F>(&self, name: impl Into<String>, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let name = name.into();
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let inner = self.inner.clone();
        let shutdown = self.shutdown.clone();
        // The entry is added under the lock before the task can remove it.
        let mut running = self.inner.running.lock().expect("task registry");
        let handle = self.tracker.spawn({
            let name = name.clone();
            async move {
                let outcome = AssertUnwindSafe(task).catch_unwind().await;
                inner.running.lock().expect("task registry").remove(&id);
                let failure = match outcome {
                    Ok(Ok(())) => {
                        if !shutdown.is_cancelled() {
                            tracing::info!(task = %name, "task ended");
                        }
                        return;
                    }
                    Ok(Err(e)) => format!("{e:#}"),
                    Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
                };
                tracing::error!(task = %name, error = %failure, "task failed; stopping the node");
                inner.failed.lock().expect("task registry").push(name);
                shutdown.cancel();
            }
        });
        running.insert(id, (name, handle.abort_handle()));
    }

    /// After shutdown was requested: waits up to `grace` for every task, aborts those still
    /// running (logging their names), and returns an error naming the tasks that failed.
    pub async fn stop(&self, grace: Duration) -> anyhow::Result<()> {
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            let running = std::mem::take(&mut *self.inner.running.lock().expect("task registry"));
            let names: Vec<&str> = running.values().map(|(n, _)| n.as_str()).collect();
            tracing::warn!(?grace, tasks = ?names, "tasks still running after the grace period; aborting them");
            for (_, handle) in running.values() {
                handle.abort();
            }
        }
        let failed = self.inner.failed.lock().expect("task registry").clone();
        if !failed.is_empty() {
            bail!("stopped because a task failed: {}", failed.join(", "));
        }
        Ok(())
    }
}

/// The message of a panic payload (`panic!("...")` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Cancels the returned token on SIGINT or SIGTERM.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
        tracing::info!("shutdown requested");
        t.cancel();
    });
    token
}

/// Every few seconds: reopen tickets whose snooze ended, drop expired sessions and old failed
/// login records. Idempotent, so every node may run it.
async fn housekeeping(pool: PgPool, shutdown: CancellationToken) {
    loop {
        if let Err(e) = crate::live::expire_presence(&pool).await {
            tracing::warn!(error = %e, "expiring presence failed");
        }
        if let Err(e) = crate::tickets::actions::wake_snoozed(&pool).await {
            tracing::warn!(error = %e, "waking snoozed tickets failed");
        }
        let cleanup = sqlx::query("delete from tower_sessions.session where expiry_date < now()")
            .execute(&pool)
            .await
            .and(
                sqlx::query("delete from login_attempt where at < now() - interval '1 day'")
                    .execute(&pool)
                    .await,
            );
        if let Err(e) = cleanup {
            tracing::warn!(error = %e, "session cleanup failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Log lines written while a test runs (the subscriber is set for this thread, and a
    /// current-thread runtime runs the spawned tasks on it too).
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The tests that make a task fail run one at a time: tracing caches per call site whether
    /// anyone listens, and a failure logged on another thread with no subscriber while the
    /// capturing one is being set up could leave that cache saying no.
    static FAILING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    #[tokio::test]
    async fn a_panicking_task_is_logged_by_name_and_stops_the_others() {
        let _serial = FAILING.lock().await;
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();

        let shutdown = CancellationToken::new();
        let tasks = Tasks::new(shutdown.clone());
        let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stopped.clone();
        let token = shutdown.clone();
        tasks.spawn("steady worker", async move {
            token.cancelled().await;
            s.store(true, Ordering::SeqCst);
            Ok(())
        });
        tasks.spawn("search indexer", async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            panic!("index out of bounds");
        });
        // Nothing else cancels the token: the panic must.
        tokio::time::timeout(Duration::from_secs(5), shutdown.cancelled())
            .await
            .expect("a panicking task requests shutdown");
        let err = tasks.stop(Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "stopped because a task failed: search indexer"
        );
        assert!(stopped.load(Ordering::SeqCst), "the other task stopped");
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("task failed"))
            .unwrap_or_else(|| panic!("no failure logged:\n{text}"));
        assert!(line.contains("ERROR"), "{line}");
        assert!(line.contains("task=search indexer"), "{line}");
        assert!(line.contains("panicked: index out of bounds"), "{line}");
    }

    #[tokio::test]
    async fn a_failing_task_is_named_and_a_task_that_ignores_shutdown_is_aborted_after_the_grace() {
        let _serial = FAILING.lock().await;
        let shutdown = CancellationToken::new();
        let tasks = Tasks::new(shutdown.clone());
        let (mut tx, rx) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn("stubborn", async move {
            // Holds `rx` until aborted: dropping it tells the test.
            let _rx = rx;
            std::future::pending::<()>().await;
            Ok(())
        });
        tasks.spawn("outbox sender", async { bail!("SMTP relay refused us") });
        shutdown.cancelled().await;
        let started = std::time::Instant::now();
        let err = tasks.stop(Duration::from_millis(200)).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(err.to_string().contains("outbox sender"), "{err}");
        tokio::time::timeout(Duration::from_secs(2), tx.closed())
            .await
            .expect("the task that ignored shutdown was aborted");
    }

    #[tokio::test]
    async fn tasks_that_stop_on_shutdown_end_cleanly() {
        let shutdown = CancellationToken::new();
        let tasks = Tasks::new(shutdown.clone());
        for name in ["a", "b"] {
            let t = shutdown.clone();
            tasks.spawn(name, async move {
                t.cancelled().await;
                Ok(())
            });
        }
        shutdown.cancel();
        tasks.stop(Duration::from_secs(5)).await.unwrap();
    }
}
