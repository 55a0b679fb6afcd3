//! Live events across nodes: PostgreSQL `LISTEN/NOTIFY` on one channel, fanned out on each node
//! to the browsers connected to it (Server-Sent Events, see `web::live`), plus presence: who is
//! viewing a ticket or writing a reply or note on it.
//!
//! Payloads are small (`{"kind", "ticket", "mailbox"}`); receivers read details from the tables.
//! A notification is sent inside the writing transaction, so it is delivered only if that
//! commits. While a node's listener reconnects, notifications are lost; it then sends
//! [`LiveEvent::Resync`] so that browsers reload what they show.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::{FromRow, PgExecutor, PgPool};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// The NOTIFY channel.
pub const CHANNEL: &str = "frontdesk_live";

/// How long a presence row counts after its last renewal.
pub const PRESENCE_TTL_SECS: i32 = 8;

/// An event as it travels through PostgreSQL and to browsers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveEvent {
    /// Someone started or stopped viewing or writing on a ticket.
    Presence { ticket: i64, mailbox: i64 },
    /// A message, reply or note was added to a ticket.
    Message { ticket: i64, mailbox: i64 },
    /// A ticket was created or its status, assignee, tags or priority changed.
    Ticket { ticket: i64, mailbox: i64 },
    /// A shared draft was started, taken over, discarded or sent (not sent for every autosave).
    Draft { ticket: i64, mailbox: i64 },
    /// Events may have been missed: reload.
    Resync,
    /// An agent signed out, changed their password or was disabled: each of their open
    /// streams checks at once whether its session still counts, and ends if not. Never sent
    /// to browsers.
    SessionsChanged { agent: i64 },
}

impl LiveEvent {
    /// The mailbox the event belongs to (for access checks); `None` for [`LiveEvent::Resync`].
    pub fn mailbox(&self) -> Option<i64> {
        match self {
            LiveEvent::Presence { mailbox, .. }
            | LiveEvent::Message { mailbox, .. }
            | LiveEvent::Ticket { mailbox, .. }
            | LiveEvent::Draft { mailbox, .. } => Some(*mailbox),
            LiveEvent::Resync | LiveEvent::SessionsChanged { .. } => None,
        }
    }

    /// The SSE event name: `presence`, `message`, `ticket`, `draft` or `resync`
    /// (`sessions_changed` is never sent to a browser).
    pub fn name(&self) -> &'static str {
        match self {
            LiveEvent::Presence { .. } => "presence",
            LiveEvent::Message { .. } => "message",
            LiveEvent::Ticket { .. } => "ticket",
            LiveEvent::Draft { .. } => "draft",
            LiveEvent::Resync => "resync",
            LiveEvent::SessionsChanged { .. } => "sessions_changed",
        }
    }

    /// The ticket the event is about.
    pub fn ticket(&self) -> Option<i64> {
        match self {
            LiveEvent::Presence { ticket, .. }
            | LiveEvent::Message { ticket, .. }
            | LiveEvent::Ticket { ticket, .. }
            | LiveEvent::Draft { ticket, .. } => Some(*ticket),
            LiveEvent::Resync | LiveEvent::SessionsChanged { .. } => None,
        }
    }
}

/// Sends an event to every node (inside the caller's transaction when given one).
pub async fn notify(db: impl PgExecutor<'_>, event: &LiveEvent) -> sqlx::Result<()> {
    let payload = serde_json::to_string(event).expect("events serialise");
    sqlx::query("select pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(db)
        .await?;
    Ok(())
}

/// Sends many events to every node in one statement (inside the caller's transaction).
pub async fn notify_all(conn: &mut sqlx::PgConnection, events: &[LiveEvent]) -> sqlx::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let payloads: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).expect("events serialise"))
        .collect();
    sqlx::query("select pg_notify($1, p) from unnest($2::text[]) as p")
        .bind(CHANNEL)
        .bind(&payloads)
        .execute(conn)
        .await?;
    Ok(())
}

/// A `from` item that sends [`LiveEvent::SessionsChanged`] for every row of `changed`, a CTE
/// returning `agent_id`, so the notification goes with the statement that ended the sessions
/// (and only when it changed a row): `… from changed, {SESSIONS_CHANGED_FROM}`.
pub const SESSIONS_CHANGED_FROM: &str = "lateral (select pg_notify('frontdesk_live', json_build_object('kind', 'sessions_changed', 'agent', changed.agent_id)::text)) notified";

/// This node's fan-out of live events: one PostgreSQL listener feeding a broadcast channel that
/// every browser connection subscribes to.
#[derive(Clone, Debug)]
pub struct Hub {
    tx: broadcast::Sender<LiveEvent>,
    /// Cancelled when the node shuts down: every open stream ends at once.
    closing: CancellationToken,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::closing_on(CancellationToken::new())
    }
}

impl Hub {
    /// A hub whose streams all end when `closing` is cancelled (the node's shutdown), so that
    /// graceful shutdown does not wait for browsers that would never hang up.
    pub fn closing_on(closing: CancellationToken) -> Hub {
        Hub {
            tx: broadcast::channel(1024).0,
            closing,
        }
    }

    /// Completes when the node shuts down; a live stream ends then.
    pub async fn closed(&self) {
        self.closing.cancelled().await
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }

    /// Listens on [`CHANNEL`] until shutdown, reconnecting after errors (for example a
    /// PostgreSQL restart) within a second or two, and sending a `Resync` after each reconnect.
    pub async fn run_listener(self, pool: PgPool, shutdown: CancellationToken) {
        let mut first = true;
        while !shutdown.is_cancelled() {
            let listener: sqlx::Result<PgListener> = async {
                let mut l = PgListener::connect_with(&pool).await?;
                l.listen(CHANNEL).await?;
                Ok(l)
            }
            .await;
            let mut listener = match listener {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "live events: cannot listen; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = shutdown.cancelled() => return,
                    }
                }
            };
            if !first {
                let _ = self.tx.send(LiveEvent::Resync);
            }
            first = false;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    msg = listener.try_recv() => match msg {
                        Ok(Some(n)) => match serde_json::from_str::<LiveEvent>(n.payload()) {
                            Ok(ev) => { let _ = self.tx.send(ev); }
                            Err(e) => tracing::warn!(error = %e, "live events: bad payload"),
                        },
                        // The connection was lost (it reconnects on the next call): resync.
                        Ok(None) => { let _ = self.tx.send(LiveEvent::Resync); }
                        Err(e) => {
                            tracing::warn!(error = %e, "live events: listener failed; reconnecting");
                            break;
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// One agent's presence on a ticket.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Presence {
    pub agent_id: i64,
    pub name: String,
    /// `viewing`, `replying` or `noting`.
    pub activity: String,
}

/// Records (or renews) an agent's presence on a ticket and tells every node when it changed.
/// `activity` `left` removes it.
pub async fn set_presence(
    pool: &PgPool,
    agent_id: i64,
    ticket: i64,
    mailbox: i64,
    activity: &str,
) -> sqlx::Result<()> {
    // A transaction that sent a NOTIFY holds a cluster-wide lock from its commit until it
    // ends, so with synchronous commits presence changes queue behind each other's disk flush:
    // that alone made the p99 of a presence change ~350 ms at 27 changes/s on a busy 2-core
    // machine (scripts/bench-presence). Presence lives for seconds: losing the last changes in
    // a crash is harmless, and the notification is still sent only if the transaction commits.
    let mut tx = crate::db::begin_async_commit(pool).await?;
    let changed = if activity == "left" {
        sqlx::query("delete from presence where agent_id = $1 and ticket_id = $2")
            .bind(agent_id)
            .bind(ticket)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0
    } else {
        // `changed` is true for a new row, a new activity, or a row that had already expired.
        let previous: Option<Option<String>> = sqlx::query_scalar(
            "with old as (select activity, expires_at > now() as live from presence where agent_id = $1 and ticket_id = $2)
             insert into presence (agent_id, ticket_id, activity, expires_at) values ($1, $2, $3, now() + make_interval(secs => $4))
             on conflict (agent_id, ticket_id) do update set activity = excluded.activity, expires_at = excluded.expires_at
             returning (select case when old.live then old.activity end from old)",
        )
        .bind(agent_id)
        .bind(ticket)
        .bind(activity)
        .bind(f64::from(PRESENCE_TTL_SECS))
        .fetch_optional(&mut *tx)
        .await?;
        previous.flatten().as_deref() != Some(activity)
    };
    if changed {
        notify(&mut *tx, &LiveEvent::Presence { ticket, mailbox }).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Who else is on a ticket right now.
pub async fn presence_on(
    pool: &PgPool,
    ticket: i64,
    except_agent: i64,
) -> sqlx::Result<Vec<Presence>> {
    sqlx::query_as(
        "select p.agent_id, a.name, p.activity from presence p join agent a using (agent_id)
         where p.ticket_id = $1 and p.agent_id <> $2 and p.expires_at > now() order by a.name",
    )
    .bind(ticket)
    .bind(except_agent)
    .fetch_all(pool)
    .await
}

/// Announces presence rows that expired since the last call (closed tabs, lost networks), so
/// that browsers drop them, and deletes them. Run by every node's housekeeping.
pub async fn expire_presence(pool: &PgPool) -> sqlx::Result<()> {
    // A transaction that sent a NOTIFY holds a cluster-wide lock from its commit until it
    // ends, so with synchronous commits presence changes queue behind each other's disk flush:
    // that alone made the p99 of a presence change ~350 ms at 27 changes/s on a busy 2-core
    // machine (scripts/bench-presence). Presence lives for seconds: losing the last changes in
    // a crash is harmless, and the notification is still sent only if the transaction commits.
    let mut tx = crate::db::begin_async_commit(pool).await?;
    let gone: Vec<(i64, i64)> = sqlx::query_as(
        "delete from presence p using ticket t where t.ticket_id = p.ticket_id and p.expires_at <= now()
         returning p.ticket_id, t.mailbox_id",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (ticket, mailbox) in gone {
        notify(&mut *tx, &LiveEvent::Presence { ticket, mailbox }).await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_small_tagged_json() {
        let e = LiveEvent::Message {
            ticket: 7,
            mailbox: 2,
        };
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(s, r#"{"kind":"message","ticket":7,"mailbox":2}"#);
        assert_eq!(serde_json::from_str::<LiveEvent>(&s).unwrap(), e);
        assert_eq!(
            serde_json::to_string(&LiveEvent::Resync).unwrap(),
            r#"{"kind":"resync"}"#
        );
        assert_eq!(
            serde_json::to_string(&LiveEvent::SessionsChanged { agent: 3 }).unwrap(),
            r#"{"kind":"sessions_changed","agent":3}"#
        );
        assert!(SESSIONS_CHANGED_FROM.contains(&format!("'{CHANNEL}'")));
    }
}
