//! Every long-running task of `frontdesk serve`: the web server and the mailbox pollers.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::ingest::poller;
use crate::web::{self, AppState};

/// Runs the web server on `listener` and the pollers until `shutdown` is cancelled, then
/// waits for them to finish. If the web server fails, everything is stopped.
pub async fn run(
    config: Config,
    pool: PgPool,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let tracker = TaskTracker::new();
    tracker.spawn(crate::outbox::run(pool.clone(), shutdown.clone()));
    tracker.spawn(crate::search::run_indexer(pool.clone(), shutdown.clone()));
    tracker.spawn(housekeeping(pool.clone(), shutdown.clone()));
    tracker.spawn(poller::supervise(
        pool.clone(),
        config.ingest.clone(),
        config.node_id.clone(),
        shutdown.clone(),
    ));

    let state = AppState::new(pool.clone(), config.clone());
    tracker.spawn(state.live.clone().run_listener(pool, shutdown.clone()));
    let app = web::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let result = server.await;
    if let Err(e) = &result {
        tracing::error!(error = %e, "web server failed; stopping");
    }
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
    Ok(result?)
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
