//! The counts of the inbox sidebar's Views section (each saved view's tickets to do, and the
//! built-in "At-risk accounts" and "VIP waiting"), cached per agent in `sidebar_count`.
//!
//! At a million tickets these counts take hundreds of milliseconds, so pages do not run them:
//! a page shows cached counts when they are fresh ([`cached`]), and its script fetches the
//! rest from `GET /inbox/sidebar-counts` ([`counts`]: the cache, else a recount). The cache is
//! in PostgreSQL so that every app node shares it. Folder, mailbox and tag counts are not
//! here: they come from the trigger-kept `ticket_count` table and stay cheap.

use std::collections::BTreeMap;

use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool};

use super::inbox::{self, InboxQuery};

/// How long counts are answered from the cache, in seconds: a view's count may lag its
/// tickets by up to this much. A change of what is counted (a view created, changed, deleted
/// or newly shared, a change of mailbox access) is not subject to it: it changes the scope,
/// and counts of another scope are never used.
pub const FRESH_FOR_SECS: i32 = 10;

/// Counts by key ([`saved_view_key`], [`AT_RISK_KEY`], [`VIP_WAITING_KEY`]); `None` for a
/// saved view of closed tickets or spam, which has no count ([`inbox::count_to_do`]).
pub type Counts = BTreeMap<String, Option<i64>>;

/// Key of the built-in "At-risk accounts" count (absent when the at-risk stage is gone).
pub const AT_RISK_KEY: &str = "at-risk";
/// Key of the built-in "VIP waiting" count.
pub const VIP_WAITING_KEY: &str = "vip-waiting";

/// Key of saved view `id`'s count: `view:<id>`.
pub fn saved_view_key(id: i64) -> String {
    format!("view:{id}")
}

/// What one agent's sidebar counts are computed for.
pub struct Scope<'a> {
    pub agent_id: i64,
    /// The agent's mailboxes (`None` = all).
    pub visible: Option<&'a [i64]>,
    /// The agent's saved views whose filters parse, in any order: id, canonical query string
    /// and the list it stands for.
    pub views: Vec<(i64, String, InboxQuery)>,
    /// The seeded "at risk" lifecycle stage, when it still exists.
    pub at_risk: Option<i64>,
}

impl Scope<'_> {
    /// What the counts depend on besides the tickets, as text (stored as its md5): cached
    /// counts are used only for an equal description.
    fn describe(&self) -> String {
        let mut visible = self.visible.map(<[i64]>::to_vec);
        if let Some(v) = &mut visible {
            v.sort_unstable();
        }
        let mut views: Vec<_> = self.views.iter().map(|(id, qs, _)| (*id, qs)).collect();
        views.sort();
        format!(
            "visible={visible:?} at_risk={:?} views={views:?}",
            self.at_risk
        )
    }
}

/// Two-key advisory lock class of the recount: "FD" + 2 (the poller's lease is "FD" + 1).
const RECOUNT_LOCK_CLASS: i32 = 0x4644_0002;

/// The cached counts of `scope`, if computed less than [`FRESH_FOR_SECS`] ago for this same
/// scope.
pub async fn cached(db: impl PgExecutor<'_>, scope: &Scope<'_>) -> sqlx::Result<Option<Counts>> {
    let row: Option<Json<Counts>> = sqlx::query_scalar(
        "select counts from sidebar_count
         where agent_id = $1 and scope = md5($2)
           and computed_at > now() - make_interval(secs => $3)",
    )
    .bind(scope.agent_id)
    .bind(scope.describe())
    .bind(f64::from(FRESH_FOR_SECS))
    .fetch_optional(db)
    .await?;
    Ok(row.map(|Json(c)| c))
}

/// The counts of `scope`: the cached ones when fresh ([`cached`]), else counted (one statement
/// for the saved views, [`inbox::count_to_do`], and one for the built-ins,
/// [`inbox::view_counts`], run at once) and stored for the next [`FRESH_FOR_SECS`] seconds.
///
/// One agent's recounts do not pile up (several tabs hear the same live event): a recount
/// holds a transaction-level advisory lock on the agent, and a request that waited for it
/// reads what the first one stored.
pub async fn counts(pool: &PgPool, scope: &Scope<'_>) -> sqlx::Result<Counts> {
    if let Some(c) = cached(pool, scope).await? {
        return Ok(c);
    }
    let mut tx = pool.begin().await?;
    sqlx::query("select pg_advisory_xact_lock($1, $2)")
        .bind(RECOUNT_LOCK_CLASS)
        // Two int4 keys: agent ids beyond 2^31 share a lock with another agent, which only
        // serialises their recounts.
        .bind(scope.agent_id as i32)
        .execute(&mut *tx)
        .await?;
    if let Some(c) = cached(&mut *tx, scope).await? {
        return Ok(c);
    }
    let lists: Vec<InboxQuery> = scope.views.iter().map(|(_, _, q)| q.clone()).collect();
    let (saved, (at_risk, vip_waiting)) = tokio::try_join!(
        inbox::count_to_do(pool, scope.agent_id, scope.visible, &lists),
        inbox::view_counts(pool, scope.visible, scope.at_risk),
    )?;
    let mut counts: Counts = scope
        .views
        .iter()
        .zip(saved)
        .map(|((id, _, _), n)| (saved_view_key(*id), n))
        .collect();
    if scope.at_risk.is_some() {
        counts.insert(AT_RISK_KEY.into(), Some(at_risk));
    }
    counts.insert(VIP_WAITING_KEY.into(), Some(vip_waiting));
    // computed_at is the transaction's start, before the counting: never later than the
    // tickets it counted.
    sqlx::query(
        "insert into sidebar_count (agent_id, computed_at, scope, counts)
         values ($1, now(), md5($2), $3)
         on conflict (agent_id) do update
           set computed_at = excluded.computed_at, scope = excluded.scope, counts = excluded.counts",
    )
    .bind(scope.agent_id)
    .bind(scope.describe())
    .bind(Json(&counts))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(counts)
}
