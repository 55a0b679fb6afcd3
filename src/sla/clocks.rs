//! SLA clocks on tickets (table `sla_clock`, one row per clock run): started, paused, resumed,
//! stopped and recomputed from the timeline hook ([`on_event`]), in the transaction of the
//! change. The breach and warning worker is [`super::monitor`].
//!
//! The rules are those of `shared/domain-notes.md` §2:
//! - A ticket gets its mailbox's default policy when it is created (`ticket.sla_policy_id`);
//!   rules (`apply_sla`) and agents change it later ([`policy_changed`]).
//! - **First response** starts at the receipt time of the ticket's first message written by a
//!   person (not automated mail) and is met by the first reply written by an agent (notes,
//!   rule-sent mail and automatic replies do not count).
//! - **Next response** (cycle 1, 2, ...) starts at the oldest customer message after our last
//!   reply, once the first response was given, and is met by our next reply. Further customer
//!   messages do not move it.
//! - **Resolution** runs from the first person's message (the ticket's creation) to closing;
//!   reopening resumes it where it stopped (a result achieved by closing is taken back; a
//!   breach stays).
//! - Every clock pauses while the ticket is pending, closed or spam; snoozed does not pause.
//! - A priority or policy change recomputes the due times of running clocks from their start
//!   with the new targets; achieved and breached results never change.
//! - A breach is stamped at the due instant (`breached_at = due_at`), exactly once: by the
//!   worker, or here when an event finds a clock past due that the worker has not reached yet.
//!
//! Times are UTC. Pauses are stored as `[[start, end|null], ...]` in Unix microseconds.

use std::collections::{HashMap, HashSet};

use futures::future::BoxFuture;
use serde_json::{Value, json};
use sqlx::PgConnection;
use sqlx::types::Json;
use time::OffsetDateTime;

use super::calendar::{Calendar, Pause};
use super::policies::{ClockKind, PolicyTargets};
use super::{rfc3339, to_offset_date_time, to_timestamp};
use crate::tickets::timeline::{self, Actor, Recorded, TimelineEvent};
use crate::tickets::{Priority, TicketStatus};

/// A pause as stored: `(start, end)` in Unix microseconds (UTC); `end: None` while it lasts.
pub type StoredPause = (i64, Option<i64>);

/// What a ticket's clocks are computed with: its policy's targets, warning threshold and
/// calendar, and the ticket's priority.
#[derive(Debug, Clone)]
pub struct Terms {
    pub policy_id: i64,
    pub calendar: Calendar,
    pub targets: PolicyTargets,
    /// Warn when this percentage of a target is left (1..=99).
    pub warning_percent: i32,
    pub priority: Priority,
}

impl Terms {
    /// The clock's target in business seconds.
    pub fn target_seconds(&self, kind: ClockKind) -> i64 {
        self.targets.get(self.priority).seconds(kind)
    }

    /// Business seconds after the start at which the warning falls: when `warning_percent` of
    /// the target is left (at least one second).
    pub fn warning_seconds(&self, kind: ClockKind) -> i64 {
        let target = self.target_seconds(kind);
        (target * i64::from(100 - self.warning_percent) / 100).max(1)
    }
}

/// One clock run.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    pub kind: ClockKind,
    /// 1 for first response and resolution; 1, 2, ... for next response.
    pub cycle: i32,
    pub policy_id: Option<i64>,
    pub started_at: OffsetDateTime,
    /// The current due instant; `None` while paused (or when not reachable).
    pub due_at: Option<OffsetDateTime>,
    pub achieved_at: Option<OffsetDateTime>,
    /// Equal to the due instant it missed.
    pub breached_at: Option<OffsetDateTime>,
    pub paused: bool,
    /// When the run ended (met or not); `None` while it runs.
    pub stopped_at: Option<OffsetDateTime>,
    pub warn_at: Option<OffsetDateTime>,
    pub warned_at: Option<OffsetDateTime>,
    pub pauses: Vec<StoredPause>,
    /// Changed since loaded (or new): to be written.
    dirty: bool,
}

fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Clock {
    /// A new run starting at `at`, not yet scheduled.
    pub fn start(kind: ClockKind, cycle: i32, at: OffsetDateTime) -> Clock {
        Clock {
            kind,
            cycle,
            policy_id: None,
            started_at: at,
            due_at: None,
            achieved_at: None,
            breached_at: None,
            paused: false,
            stopped_at: None,
            warn_at: None,
            warned_at: None,
            pauses: Vec::new(),
            dirty: true,
        }
    }

    /// Whether the run has not ended (it may be paused or already breached).
    pub fn is_open(&self) -> bool {
        self.stopped_at.is_none()
    }

    /// Whether the run may still breach: open, not breached.
    fn can_breach(&self) -> bool {
        self.is_open() && self.breached_at.is_none()
    }

    fn jiff_pauses(&self) -> Vec<Pause> {
        self.pauses
            .iter()
            .map(|&(s, e)| {
                (
                    to_timestamp(from_micros(s)),
                    e.map(|e| to_timestamp(from_micros(e))),
                )
            })
            .collect()
    }

    /// Recomputes the due and warning instants from the start with `terms` (a no-op once
    /// the run ended or breached: results never change).
    pub fn schedule(&mut self, terms: &Terms) {
        if !self.can_breach() {
            return;
        }
        let start = to_timestamp(self.started_at);
        let pauses = self.jiff_pauses();
        let at = |seconds: i64| {
            terms
                .calendar
                .due_with_pauses(start, seconds, &pauses)
                .ok()
                .flatten()
                .map(to_offset_date_time)
        };
        let due = at(terms.target_seconds(self.kind));
        let warn = at(terms.warning_seconds(self.kind));
        if (due, warn, Some(terms.policy_id)) != (self.due_at, self.warn_at, self.policy_id) {
            self.due_at = due;
            self.warn_at = warn;
            self.policy_id = Some(terms.policy_id);
            self.dirty = true;
        }
    }

    /// Stamps the breach when the due instant has passed (`breached_at = due_at`). Returns the
    /// due instant when it stamped one now.
    pub fn settle(&mut self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let due = self.due_at?;
        if self.can_breach() && due <= now {
            self.breached_at = Some(due);
            self.dirty = true;
            return Some(due);
        }
        None
    }

    /// Stops the clock from `now` (the ticket went pending, closed or spam). Settle first.
    pub fn pause(&mut self, now: OffsetDateTime) {
        if self.paused {
            return;
        }
        self.paused = true;
        self.pauses.push((micros(now), None));
        if self.breached_at.is_none() {
            self.due_at = None;
            self.warn_at = None;
        }
        self.dirty = true;
    }

    /// Runs the clock again from `now`, rescheduled with `terms`.
    pub fn resume(&mut self, now: OffsetDateTime, terms: &Terms) {
        if !self.paused {
            return;
        }
        self.paused = false;
        if let Some(last) = self.pauses.last_mut()
            && last.1.is_none()
        {
            last.1 = Some(micros(now).max(last.0));
        }
        self.dirty = true;
        self.schedule(terms);
    }

    /// Ends the run at `now`: achieved unless it breached. Settle first.
    pub fn stop(&mut self, now: OffsetDateTime) {
        if !self.is_open() {
            return;
        }
        self.stopped_at = Some(now);
        if self.breached_at.is_none() {
            self.achieved_at = Some(now);
        }
        self.dirty = true;
    }

    /// Opens an ended run again (resolution, when a closed ticket reopens): a result achieved
    /// by closing is taken back; a breach stays.
    pub fn reopen(&mut self) {
        if self.is_open() {
            return;
        }
        self.stopped_at = None;
        self.achieved_at = None;
        self.dirty = true;
    }

    /// How the clock stands at `now`, for pages.
    pub fn state(&self, now: OffsetDateTime) -> ClockState {
        if self.achieved_at.is_some() {
            ClockState::Achieved
        } else if self.breached_at.is_some() {
            if self.is_open() {
                ClockState::Overdue
            } else {
                ClockState::Breached
            }
        } else if self.paused || self.due_at.is_none() {
            ClockState::Paused
        } else if self.warn_at.is_some_and(|w| w <= now) || self.warned_at.is_some() {
            ClockState::AtRisk
        } else {
            ClockState::Running
        }
    }
}

/// How a clock stands, for pages (the CSS class is [`ClockState::class`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    /// Running, more than the warning threshold left.
    Running,
    /// Running, past the warning threshold.
    AtRisk,
    /// Breached and still not met.
    Overdue,
    /// Paused (ticket pending, closed or spam).
    Paused,
    /// Met in time.
    Achieved,
    /// Missed, and ended since.
    Breached,
}

impl ClockState {
    /// `sla-running`, `sla-at-risk`, `sla-overdue`, `sla-paused`, `sla-achieved`,
    /// `sla-breached`.
    pub fn class(self) -> &'static str {
        match self {
            ClockState::Running => "sla-running",
            ClockState::AtRisk => "sla-at-risk",
            ClockState::Overdue => "sla-overdue",
            ClockState::Paused => "sla-paused",
            ClockState::Achieved => "sla-achieved",
            ClockState::Breached => "sla-breached",
        }
    }
}

/// A countdown in wall-clock time from `now` to `due`: `2 h 10 min`, `45 min`, `under 1 min`,
/// `3 d 4 h`; past the due time `overdue 20 min`.
pub fn countdown(due: OffsetDateTime, now: OffsetDateTime) -> String {
    let s = (due - now).whole_seconds();
    let words = |s: i64| match s {
        i64::MIN..60 => "under 1 min".to_string(),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => match (s % 3600) / 60 {
            0 => format!("{} h", s / 3600),
            m => format!("{} h {m} min", s / 3600),
        },
        _ => match (s % 86_400) / 3600 {
            0 => format!("{} d", s / 86_400),
            h => format!("{} d {h} h", s / 86_400),
        },
    };
    if s < 0 {
        format!("overdue {}", words(-s))
    } else {
        words(s)
    }
}

/// Whether a ticket in this state holds its clocks (pending, closed or spam; not snoozed).
pub fn holds_clocks(status: TicketStatus, spam: bool) -> bool {
    spam || matches!(status, TicketStatus::Pending | TicketStatus::Closed)
}

/// The pauses a ticket's status history gives: every interval in which it was pending or
/// closed, from `(time, new status)` changes in order (the ticket starts open).
pub fn pauses_from_statuses(changes: &[(OffsetDateTime, TicketStatus)]) -> Vec<StoredPause> {
    let mut out = Vec::new();
    let mut since: Option<i64> = None;
    for &(at, to) in changes {
        let hold = holds_clocks(to, false);
        match (hold, since) {
            (true, None) => since = Some(micros(at)),
            (false, Some(s)) => {
                out.push((s, Some(micros(at).max(s))));
                since = None;
            }
            _ => {}
        }
    }
    if let Some(s) = since {
        out.push((s, None));
    }
    out
}

/// A ticket's clocks with what they are computed with, as loaded for one change.
#[derive(Debug, Clone)]
pub struct TicketClocks {
    pub ticket: i64,
    pub terms: Terms,
    pub status: TicketStatus,
    pub spam: bool,
    /// The transaction's time (UTC).
    pub now: OffsetDateTime,
    pub clocks: Vec<Clock>,
}

impl TicketClocks {
    fn latest(&mut self, kind: ClockKind) -> Option<&mut Clock> {
        self.clocks
            .iter_mut()
            .filter(|c| c.kind == kind)
            .max_by_key(|c| c.cycle)
    }

    fn add(&mut self, kind: ClockKind, at: OffsetDateTime) {
        let cycle = self
            .clocks
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.cycle)
            .max()
            .unwrap_or(0)
            + 1;
        let mut clock = Clock::start(kind, cycle, at);
        clock.schedule(&self.terms);
        self.clocks.push(clock);
    }

    /// A person's message was received at `at`: the first one starts first response and
    /// resolution; after our first reply, one starts a next-response cycle unless one runs.
    pub fn customer_wrote(&mut self, at: OffsetDateTime) {
        let first_open = self.latest(ClockKind::FirstResponse).map(|c| c.is_open());
        match first_open {
            None => {
                self.add(ClockKind::FirstResponse, at);
                if self.latest(ClockKind::Resolution).is_none() {
                    self.add(ClockKind::Resolution, at);
                }
            }
            Some(true) => {}
            Some(false) => {
                if !self
                    .latest(ClockKind::NextResponse)
                    .is_some_and(|c| c.is_open())
                {
                    self.add(ClockKind::NextResponse, at);
                }
            }
        }
    }

    /// An agent replied at `now`: the first response and a running next response are met
    /// (or, when past due, breached at their due instant).
    pub fn agent_replied(&mut self) -> Vec<(ClockKind, OffsetDateTime)> {
        let now = self.now;
        let mut breaches = Vec::new();
        for kind in [ClockKind::FirstResponse, ClockKind::NextResponse] {
            if let Some(c) = self.latest(kind)
                && c.is_open()
            {
                if let Some(due) = c.settle(now) {
                    breaches.push((kind, due));
                }
                c.stop(now);
            }
        }
        breaches
    }

    /// Brings the clocks in line with the ticket's status: closing stops resolution,
    /// reopening resumes it; pending, closed and spam pause every open clock, anything else
    /// runs them. Returns the breaches stamped on the way.
    pub fn reconcile(&mut self) -> Vec<(ClockKind, OffsetDateTime)> {
        let now = self.now;
        let closed = self.status == TicketStatus::Closed;
        let hold = holds_clocks(self.status, self.spam);
        let terms = self.terms.clone();
        let mut breaches = Vec::new();
        for c in &mut self.clocks {
            if let Some(due) = c.settle(now) {
                breaches.push((c.kind, due));
            }
            if c.kind == ClockKind::Resolution {
                if closed && c.is_open() {
                    c.stop(now);
                    c.pause(now);
                } else if !closed && !c.is_open() {
                    c.reopen();
                }
            }
            if !c.is_open() {
                continue;
            }
            if hold {
                c.pause(now);
            } else {
                c.resume(now, &terms);
                c.schedule(&terms);
                if let Some(due) = c.settle(now) {
                    breaches.push((c.kind, due));
                }
            }
        }
        breaches
    }

    /// Recomputes every running clock with `terms` (a new priority or policy).
    pub fn reschedule(&mut self, terms: Terms) -> Vec<(ClockKind, OffsetDateTime)> {
        self.terms = terms;
        for c in &mut self.clocks {
            c.schedule(&self.terms);
        }
        self.reconcile()
    }

    /// Whether a running clock has breached or passed its warning (announced by the worker).
    pub fn at_risk(&self) -> bool {
        self.clocks
            .iter()
            .any(|c| c.is_open() && (c.breached_at.is_some() || c.warned_at.is_some()))
    }

    /// The nearest due instant of the running clocks (past when one is overdue).
    pub fn nearest_due(&self) -> Option<OffsetDateTime> {
        self.clocks
            .iter()
            .filter(|c| c.is_open() && !c.paused)
            .filter_map(|c| c.due_at)
            .min()
    }
}

#[derive(sqlx::FromRow)]
struct TermsRow {
    sla_policy_id: i64,
    priority: Priority,
    status: TicketStatus,
    spam: bool,
    now: OffsetDateTime,
    targets: Json<PolicyTargets>,
    warning_percent: i32,
    spec: Json<super::calendar::CalendarSpec>,
}

impl TermsRow {
    /// The ticket's clocks under these terms, with `calendar` parsed from the row's spec.
    fn into_clocks(self, ticket: i64, calendar: Calendar, clocks: Vec<Clock>) -> TicketClocks {
        TicketClocks {
            ticket,
            terms: Terms {
                policy_id: self.sla_policy_id,
                calendar,
                targets: self.targets.0,
                warning_percent: self.warning_percent,
                priority: self.priority,
            },
            status: self.status,
            spam: self.spam,
            now: self.now,
            clocks,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ClockRow {
    kind: String,
    cycle: i32,
    policy_id: Option<i64>,
    started_at: OffsetDateTime,
    due_at: Option<OffsetDateTime>,
    achieved_at: Option<OffsetDateTime>,
    breached_at: Option<OffsetDateTime>,
    paused: bool,
    stopped_at: Option<OffsetDateTime>,
    warn_at: Option<OffsetDateTime>,
    warned_at: Option<OffsetDateTime>,
    pauses: Json<Vec<StoredPause>>,
}

fn parse_kind(s: &str) -> ClockKind {
    match s {
        "first_response" => ClockKind::FirstResponse,
        "next_response" => ClockKind::NextResponse,
        _ => ClockKind::Resolution,
    }
}

impl From<ClockRow> for Clock {
    fn from(r: ClockRow) -> Clock {
        Clock {
            kind: parse_kind(&r.kind),
            cycle: r.cycle,
            policy_id: r.policy_id,
            started_at: r.started_at,
            due_at: r.due_at,
            achieved_at: r.achieved_at,
            breached_at: r.breached_at,
            paused: r.paused,
            stopped_at: r.stopped_at,
            warn_at: r.warn_at,
            warned_at: r.warned_at,
            pauses: r.pauses.0,
            dirty: false,
        }
    }
}

const CLOCK_COLUMNS: &str = "kind, cycle, policy_id, started_at, due_at, achieved_at, breached_at,
    paused, stopped_at, warn_at, warned_at, pauses";

/// The ticket's clocks, row-locked (so that the worker, which skips locked rows, never stamps
/// a breach this transaction is deciding about), with its policy's terms. `None` when the
/// ticket has no SLA policy.
pub async fn load(conn: &mut PgConnection, ticket: i64) -> sqlx::Result<Option<TicketClocks>> {
    let terms: Option<TermsRow> = sqlx::query_as(
        "select p.sla_policy_id, t.priority, t.status, t.spam, now() as now, p.targets,
                p.warning_percent, c.spec
         from ticket t join sla_policy p on p.sla_policy_id = t.sla_policy_id
              join calendar c on c.calendar_id = p.calendar_id
         where t.ticket_id = $1",
    )
    .bind(ticket)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(t) = terms else { return Ok(None) };
    let calendar = match Calendar::parse(&t.spec.0) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(ticket.number = ticket, error = %e, "stored calendar no longer parses; SLA clocks not updated");
            return Ok(None);
        }
    };
    let rows: Vec<ClockRow> = sqlx::query_as(&format!(
        "select {CLOCK_COLUMNS} from sla_clock where ticket_id = $1 order by kind, cycle for update"
    ))
    .bind(ticket)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(t.into_clocks(
        ticket,
        calendar,
        rows.into_iter().map(Clock::from).collect(),
    )))
}

/// Writes the changed clocks and the ticket's nearest due time, then records a
/// [`TimelineEvent::SlaBreached`] for each breach stamped here.
pub async fn save(
    conn: &mut PgConnection,
    state: &mut TicketClocks,
    breaches: &[(ClockKind, OffsetDateTime)],
) -> sqlx::Result<()> {
    let mut rows = ClockRows::default();
    for c in state.clocks.iter_mut().filter(|c| c.dirty) {
        rows.push(state.ticket, c);
        c.dirty = false;
    }
    if !rows.ticket.is_empty() {
        rows.upsert(conn).await?;
        set_due(
            conn,
            &[state.ticket],
            &[state.nearest_due()],
            &[state.at_risk()],
        )
        .await?;
    }
    for &(clock, due_at) in breaches {
        timeline::record(
            conn,
            state.ticket,
            Actor::System,
            &TimelineEvent::SlaBreached { clock, due_at },
        )
        .await?;
    }
    Ok(())
}

/// The timeline hook's SLA part: keeps the ticket's clocks current on the events that move
/// them (created, a person's message, an agent's reply, status, spam and priority changes;
/// a ticket merged into another drops its clocks without a result).
/// Runs for every actor (a rule closing a ticket stops its resolution clock too). Boxed: it
/// records `sla_breached` events, which run the hook again.
pub fn on_event<'a>(
    conn: &'a mut PgConnection,
    recorded: &'a Recorded<'a>,
) -> BoxFuture<'a, sqlx::Result<()>> {
    Box::pin(async move {
        // Ingest inserts tickets with their default policy already; a ticket created
        // otherwise gets it here.
        if let TimelineEvent::Created { .. } = recorded.event {
            assign_default_policies(conn, &[recorded.ticket]).await?;
        }
        on_event_after_policy(conn, recorded).await
    })
}

/// A policy's terms at the default priority; `None` (logged) when its stored calendar no
/// longer parses, so its tickets' clocks are left as they are.
fn policy_terms(
    policy_id: i64,
    targets: PolicyTargets,
    warning_percent: i32,
    spec: &super::calendar::CalendarSpec,
) -> Option<Terms> {
    match Calendar::parse(spec) {
        Ok(calendar) => Some(Terms {
            policy_id,
            calendar,
            targets,
            warning_percent,
            priority: Priority::Normal,
        }),
        Err(e) => {
            tracing::error!(sla_policy.id = policy_id, error = %e, "stored calendar no longer parses; SLA clocks not updated");
            None
        }
    }
}

/// The due time and at-risk flag that a batch's new tickets get from their first message, so
/// that each ticket row goes in with them (`ticket.sla_due_at`, `sla_at_risk`): setting them
/// after the insert writes every index of the new rows a second time. Computed by the same
/// code as [`on_events`], which then finds them already set and writes the ticket only where a
/// later event of the batch moved its clocks on.
pub struct NewTicketClocks {
    /// The transaction's time (UTC), as [`load`] reads it.
    now: OffsetDateTime,
    /// Each mailbox's default policy at the default priority; absent without a policy (or with
    /// a calendar that no longer parses: [`policy_terms`] logs that).
    terms: HashMap<i64, Terms>,
}

impl NewTicketClocks {
    /// The default policies of `mailboxes`, in one statement.
    pub async fn load(conn: &mut PgConnection, mailboxes: &[i64]) -> sqlx::Result<Self> {
        type Row = (
            i64,
            i64,
            Json<PolicyTargets>,
            i32,
            Json<super::calendar::CalendarSpec>,
            OffsetDateTime,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "select m.mailbox_id, p.sla_policy_id, p.targets, p.warning_percent, c.spec, now()
             from mailbox m join sla_policy p on p.sla_policy_id = m.sla_policy_id
                  join calendar c on c.calendar_id = p.calendar_id
             where m.mailbox_id = any($1)",
        )
        .bind(mailboxes)
        .fetch_all(&mut *conn)
        .await?;
        let mut now = OffsetDateTime::UNIX_EPOCH;
        let mut terms = HashMap::new();
        for (mailbox, policy_id, targets, warning_percent, spec, at) in rows {
            now = at;
            if let Some(t) = policy_terms(policy_id, targets.0, warning_percent, &spec.0) {
                terms.insert(mailbox, t);
            }
        }
        Ok(Self { now, terms })
    }

    /// `(sla_due_at, sla_at_risk)` of a new ticket of `mailbox` whose state after its batch
    /// is `status`, created by a message that a person sent at `received_at` (`None`: an
    /// automated message, which starts no clock). `(None, false)` without a policy.
    pub fn first(
        &self,
        mailbox: i64,
        status: TicketStatus,
        received_at: Option<OffsetDateTime>,
    ) -> (Option<OffsetDateTime>, bool) {
        let Some(terms) = self.terms.get(&mailbox) else {
            return (None, false);
        };
        let mut state = TicketClocks {
            ticket: 0,
            terms: terms.clone(),
            status,
            spam: false,
            now: self.now,
            clocks: Vec::new(),
        };
        if let Some(at) = received_at {
            state.customer_wrote(at);
        }
        state.reconcile();
        (state.nearest_due(), state.at_risk())
    }
}

/// Gives new tickets their mailbox's default policy (a new ticket has none yet), in one
/// statement; returns the tickets that got one (nothing is written for a mailbox without a
/// default). [`crate::tickets::timeline::record_pending`] calls it once for a batch's new
/// tickets, then [`on_event_after_policy`] only for tickets with a policy.
pub async fn assign_default_policies(
    conn: &mut PgConnection,
    tickets: &[i64],
) -> sqlx::Result<Vec<i64>> {
    if tickets.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(
        "update ticket t set sla_policy_id = m.sla_policy_id
         from mailbox m where t.ticket_id = any($1) and m.mailbox_id = t.mailbox_id
           and t.sla_policy_id is null and m.sla_policy_id is not null
         returning t.ticket_id",
    )
    .bind(tickets)
    .fetch_all(&mut *conn)
    .await
}

/// [`on_event`] once the ticket's default policy is settled (a `created` event starts the
/// clocks of the policy it has).
pub fn on_event_after_policy<'a>(
    conn: &'a mut PgConnection,
    recorded: &'a Recorded<'a>,
) -> BoxFuture<'a, sqlx::Result<()>> {
    Box::pin(async move {
        let ticket = recorded.ticket;
        if let TimelineEvent::MergedInto { .. } = recorded.event {
            // The conversation goes on in the target ticket, under its clocks.
            return drop_unresolved(conn, ticket).await;
        }
        if !moves_clocks(recorded) {
            return Ok(());
        }
        let Some(mut state) = load(conn, ticket).await? else {
            return Ok(());
        };
        let at = match person_message(recorded.event) {
            Some(message) => Some(received_at(conn, ticket, message).await?),
            None => None,
        };
        let breaches = apply(&mut state, recorded, at);
        save(conn, &mut state, &breaches).await
    })
}

/// Whether `recorded` moves a ticket's clocks: its creation, a person's message, an agent's
/// reply, a status, spam or priority change (a merge drops them: [`drop_unresolved`]).
fn moves_clocks(recorded: &Recorded<'_>) -> bool {
    use TimelineEvent as E;
    match recorded.event {
        E::Created { .. }
        | E::MessageReceived {
            automated: None, ..
        }
        | E::StatusChanged { .. }
        | E::PriorityChanged { .. }
        | E::MarkedSpam {}
        | E::UnmarkedSpam {} => true,
        E::ReplyQueued { .. } => matches!(recorded.actor, Actor::Agent(_)),
        _ => false,
    }
}

/// For an event that starts a person's wait (a ticket created by a person's mail, a person's
/// message): the message (`None`: the ticket's first, unknown), whose receipt time starts
/// the clocks.
fn person_message(event: &TimelineEvent) -> Option<Option<i64>> {
    match event {
        TimelineEvent::Created {
            automated: None,
            message_id,
            ..
        } => Some(*message_id),
        TimelineEvent::MessageReceived {
            automated: None,
            message_id,
        } => Some(Some(*message_id)),
        _ => None,
    }
}

/// Moves `state` by one event ([`moves_clocks`]); `received_at` is the person's message's
/// receipt time for the events of [`person_message`]. Returns the breaches stamped.
fn apply(
    state: &mut TicketClocks,
    recorded: &Recorded<'_>,
    received_at: Option<OffsetDateTime>,
) -> Vec<(ClockKind, OffsetDateTime)> {
    let mut breaches = Vec::new();
    match recorded.event {
        TimelineEvent::ReplyQueued { .. } => breaches.extend(state.agent_replied()),
        TimelineEvent::PriorityChanged { .. } => {
            let terms = state.terms.clone();
            breaches.extend(state.reschedule(terms));
        }
        _ => {
            if let Some(at) = received_at {
                state.customer_wrote(at);
            }
        }
    }
    breaches.extend(state.reconcile());
    breaches
}

/// The SLA part of [`timeline::record_pending`]: the clocks of a batch of events at once,
/// for the tickets that have a policy (looked up only when an event may move clocks: a batch
/// of `sla_breached` events moves none). The tickets' clocks are loaded
/// (row-locked) in two statements, moved event by event in the batch's order exactly as
/// [`on_event_after_policy`] would, and written in two more. Returns the breaches stamped on
/// the way, for the caller to record ([`Breaches::record`]) once the batch's own rows are
/// complete. A ticket with a merge in the batch goes event by event ([`on_event`]).
pub fn on_events<'a>(
    conn: &'a mut PgConnection,
    events: &'a [Recorded<'a>],
) -> BoxFuture<'a, sqlx::Result<Breaches>> {
    Box::pin(async move {
        let mut candidates: Vec<i64> = events
            .iter()
            .filter(|r| moves_clocks(r) || matches!(r.event, TimelineEvent::MergedInto { .. }))
            .map(|r| r.ticket)
            .collect();
        if candidates.is_empty() {
            return Ok(Breaches::default());
        }
        candidates.sort_unstable();
        candidates.dedup();
        let with_policy: HashSet<i64> = sqlx::query_scalar(
            "select ticket_id from ticket where ticket_id = any($1) and sla_policy_id is not null",
        )
        .bind(&candidates)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
        let merged: HashSet<i64> = events
            .iter()
            .filter(|r| matches!(r.event, TimelineEvent::MergedInto { .. }))
            .map(|r| r.ticket)
            .collect();
        let mut batch = Vec::new();
        for r in events {
            if merged.contains(&r.ticket) {
                if with_policy.contains(&r.ticket) {
                    on_event_after_policy(conn, r).await?;
                } else if matches!(r.event, TimelineEvent::MergedInto { .. }) {
                    on_event(conn, r).await?;
                }
            } else if with_policy.contains(&r.ticket) && moves_clocks(r) {
                batch.push(r);
            }
        }
        if batch.is_empty() {
            return Ok(Breaches::default());
        }
        let mut laps = crate::telemetry::Laps::start();
        let mut tickets: Vec<i64> = batch.iter().map(|r| r.ticket).collect();
        tickets.sort_unstable();
        tickets.dedup();
        let (mut states, created_at) = load_many(conn, &tickets).await?;
        laps.lap("load");
        let messages: Vec<i64> = batch
            .iter()
            .filter_map(|r| person_message(r.event).flatten())
            .collect();
        let received: HashMap<i64, (i64, OffsetDateTime)> =
            sqlx::query_as::<_, (i64, i64, OffsetDateTime)>(
                "select message_id, ticket_id, received_at from message where message_id = any($1)",
            )
            .bind(&messages)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|(m, t, at)| (m, (t, at)))
            .collect();
        laps.lap("received");
        let mut breaches: HashMap<i64, Vec<(ClockKind, OffsetDateTime)>> = HashMap::new();
        for r in batch {
            let Some(state) = states.get_mut(&r.ticket) else {
                continue;
            };
            // As `received_at`: the message's receipt on this ticket, else the ticket's creation.
            let at = person_message(r.event).map(|message| {
                message
                    .and_then(|m| received.get(&m))
                    .filter(|(t, _)| *t == r.ticket)
                    .map(|(_, at)| *at)
                    .unwrap_or(created_at[&r.ticket])
            });
            let stamped = apply(state, r, at);
            breaches.entry(r.ticket).or_default().extend(stamped);
        }
        laps.lap("apply");
        let mailboxes: HashMap<i64, i64> = events.iter().map(|r| (r.ticket, r.mailbox)).collect();
        let breaches = save_many(conn, &mut states, &breaches, &mailboxes, &mut laps).await?;
        tracing::debug!(tickets = tickets.len(), steps = %laps, "moved a batch's SLA clocks");
        Ok(breaches)
    })
}

/// [`load`] for many tickets at once (those with a policy and a calendar that parses), with
/// each ticket's creation time. Each policy's terms are read and parsed once, not per ticket.
/// Clock rows are locked in ticket order.
async fn load_many(
    conn: &mut PgConnection,
    tickets: &[i64],
) -> sqlx::Result<(HashMap<i64, TicketClocks>, HashMap<i64, OffsetDateTime>)> {
    #[derive(sqlx::FromRow)]
    struct TicketRow {
        ticket_id: i64,
        created_at: OffsetDateTime,
        sla_policy_id: i64,
        priority: Priority,
        status: TicketStatus,
        spam: bool,
    }
    #[derive(sqlx::FromRow)]
    struct PolicyRow {
        sla_policy_id: i64,
        now: OffsetDateTime,
        targets: Json<PolicyTargets>,
        warning_percent: i32,
        spec: Json<super::calendar::CalendarSpec>,
    }
    #[derive(sqlx::FromRow)]
    struct TicketClockRow {
        ticket_id: i64,
        #[sqlx(flatten)]
        clock: ClockRow,
    }
    let rows: Vec<TicketRow> = sqlx::query_as(
        "select ticket_id, created_at, sla_policy_id, priority, status, spam
         from ticket where ticket_id = any($1) and sla_policy_id is not null",
    )
    .bind(tickets)
    .fetch_all(&mut *conn)
    .await?;
    let mut policy_ids: Vec<i64> = rows.iter().map(|r| r.sla_policy_id).collect();
    policy_ids.sort_unstable();
    policy_ids.dedup();
    let policies: Vec<PolicyRow> = sqlx::query_as(
        "select p.sla_policy_id, now() as now, p.targets, p.warning_percent, c.spec
         from sla_policy p join calendar c on c.calendar_id = p.calendar_id
         where p.sla_policy_id = any($1)",
    )
    .bind(&policy_ids)
    .fetch_all(&mut *conn)
    .await?;
    let clocks: Vec<TicketClockRow> = sqlx::query_as(&format!(
        "select ticket_id, {CLOCK_COLUMNS} from sla_clock where ticket_id = any($1)
         order by ticket_id, kind, cycle for update"
    ))
    .bind(tickets)
    .fetch_all(&mut *conn)
    .await?;
    let mut terms: HashMap<i64, (Terms, OffsetDateTime)> = HashMap::new();
    for p in policies {
        if let Some(t) = policy_terms(p.sla_policy_id, p.targets.0, p.warning_percent, &p.spec.0) {
            terms.insert(p.sla_policy_id, (t, p.now));
        }
    }
    let mut states = HashMap::new();
    let mut created_at = HashMap::new();
    for r in rows {
        created_at.insert(r.ticket_id, r.created_at);
        let Some((t, now)) = terms.get(&r.sla_policy_id) else {
            continue;
        };
        let state = TicketClocks {
            ticket: r.ticket_id,
            terms: Terms {
                priority: r.priority,
                ..t.clone()
            },
            status: r.status,
            spam: r.spam,
            now: *now,
            clocks: Vec::new(),
        };
        states.insert(r.ticket_id, state);
    }
    for row in clocks {
        if let Some(state) = states.get_mut(&row.ticket_id) {
            state.clocks.push(Clock::from(row.clock));
        }
    }
    Ok((states, created_at))
}

/// Breaches stamped by [`on_events`], not yet recorded: their `sla_breached` events and the
/// live notifications of their tickets.
#[derive(Debug, Default)]
pub struct Breaches {
    events: timeline::PendingEvents,
    live: Vec<crate::live::LiveEvent>,
}

impl Breaches {
    /// Records the events as one batch ([`timeline::record_pending`]: their hooks and rules
    /// run) and tells the tickets' open pages, as [`timeline::record`] would.
    pub async fn record(self, conn: &mut PgConnection) -> sqlx::Result<()> {
        if self.events.is_empty() {
            return Ok(());
        }
        Box::pin(timeline::record_pending(conn, self.events)).await?;
        crate::live::notify_all(conn, &self.live).await
    }
}

/// [`save`] for many tickets at once: every changed clock in one upsert, the tickets' nearest
/// due times in one update. Returns the breaches, unrecorded.
async fn save_many(
    conn: &mut PgConnection,
    states: &mut HashMap<i64, TicketClocks>,
    breaches: &HashMap<i64, Vec<(ClockKind, OffsetDateTime)>>,
    mailboxes: &HashMap<i64, i64>,
    laps: &mut crate::telemetry::Laps,
) -> sqlx::Result<Breaches> {
    let mut tickets: Vec<i64> = states.keys().copied().collect();
    tickets.sort_unstable();
    let mut rows = ClockRows::default();
    let (mut changed, mut due, mut risk) = (Vec::new(), Vec::new(), Vec::new());
    for ticket in &tickets {
        let state = states.get_mut(ticket).expect("a loaded ticket");
        let mut any = false;
        for c in state.clocks.iter_mut().filter(|c| c.dirty) {
            any = true;
            rows.push(*ticket, c);
            c.dirty = false;
        }
        if any {
            changed.push(*ticket);
            due.push(state.nearest_due());
            risk.push(state.at_risk());
        }
    }
    if !changed.is_empty() {
        rows.upsert(conn).await?;
        laps.lap("upsert");
        set_due(conn, &changed, &due, &risk).await?;
        laps.lap("due");
    }
    let mut pending = timeline::PendingEvents::default();
    let mut live = Vec::new();
    for ticket in &tickets {
        for &(clock, due_at) in breaches.get(ticket).into_iter().flatten() {
            pending.push(
                *ticket,
                Actor::System,
                TimelineEvent::SlaBreached { clock, due_at },
                None,
            );
            if let Some(&mailbox) = mailboxes.get(ticket) {
                live.push(crate::live::LiveEvent::Ticket {
                    ticket: *ticket,
                    mailbox,
                });
            }
        }
    }
    Ok(Breaches {
        events: pending,
        live,
    })
}

/// Sets the tickets' nearest due times and at-risk flags (`ticket.sla_due_at`, `sla_at_risk`)
/// where they changed; the three slices are parallel.
async fn set_due(
    conn: &mut PgConnection,
    tickets: &[i64],
    due: &[Option<OffsetDateTime>],
    risk: &[bool],
) -> sqlx::Result<()> {
    sqlx::query(
        "update ticket t set sla_due_at = x.due, sla_at_risk = x.risk
         from unnest($1::bigint[], $2::timestamptz[], $3::bool[]) as x(ticket_id, due, risk)
         where t.ticket_id = x.ticket_id
           and (t.sla_due_at is distinct from x.due or t.sla_at_risk <> x.risk)",
    )
    .bind(tickets)
    .bind(due)
    .bind(risk)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Changed clocks as columns, for one upsert.
#[derive(Default)]
struct ClockRows {
    ticket: Vec<i64>,
    kind: Vec<&'static str>,
    cycle: Vec<i32>,
    policy_id: Vec<Option<i64>>,
    started_at: Vec<OffsetDateTime>,
    due_at: Vec<Option<OffsetDateTime>>,
    achieved_at: Vec<Option<OffsetDateTime>>,
    breached_at: Vec<Option<OffsetDateTime>>,
    paused: Vec<bool>,
    stopped_at: Vec<Option<OffsetDateTime>>,
    warn_at: Vec<Option<OffsetDateTime>>,
    warned_at: Vec<Option<OffsetDateTime>>,
    pauses: Vec<String>,
}

impl ClockRows {
    fn push(&mut self, ticket: i64, c: &Clock) {
        self.ticket.push(ticket);
        self.kind.push(c.kind.as_str());
        self.cycle.push(c.cycle);
        self.policy_id.push(c.policy_id);
        self.started_at.push(c.started_at);
        self.due_at.push(c.due_at);
        self.achieved_at.push(c.achieved_at);
        self.breached_at.push(c.breached_at);
        self.paused.push(c.paused);
        self.stopped_at.push(c.stopped_at);
        self.warn_at.push(c.warn_at);
        self.warned_at.push(c.warned_at);
        self.pauses
            .push(serde_json::to_string(&c.pauses).expect("pauses serialise"));
    }

    /// Inserts or updates the rows. A new row gets its copies of the ticket here (scope, the
    /// customer's effective stage and VIP as `customer_effective_stage` / `_vip` give them,
    /// excluded; read once per ticket), so the fill triggers (migration 20261213000000) do not
    /// run per row.
    async fn upsert(&self, conn: &mut PgConnection) -> sqlx::Result<()> {
        sqlx::query(&format!(
            "with tk as (
                select t.ticket_id, t.mailbox_id, t.team_id, t.assignee_agent_id, t.priority,
                       t.customer_id, coalesce(cu.lifecycle_stage_id, co.lifecycle_stage_id) as stage,
                       coalesce(cu.vip, co.vip, false) as vip,
                       exists (select 1 from ticket_metric m
                               where m.ticket_id = t.ticket_id and m.excluded is not null) as excluded
                from ticket t
                left join customer cu on cu.customer_id = t.customer_id
                left join company co on co.company_id = cu.company_id
                where t.ticket_id = any($1)
             )
             insert into sla_clock (ticket_id, {CLOCK_COLUMNS}, ticket_mailbox_id, ticket_team_id,
                                    ticket_assignee_agent_id, ticket_priority, ticket_customer_id,
                                    ticket_customer_stage_id, ticket_customer_vip, ticket_excluded)
             select x.ticket_id, x.kind, x.cycle, x.policy_id, x.started_at, x.due_at,
                    x.achieved_at, x.breached_at, x.paused, x.stopped_at, x.warn_at,
                    x.warned_at, x.pauses::jsonb, tk.mailbox_id, tk.team_id, tk.assignee_agent_id,
                    tk.priority, tk.customer_id, tk.stage, tk.vip, tk.excluded
             from unnest($1::bigint[], $2::text[], $3::int[], $4::bigint[], $5::timestamptz[],
                         $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::bool[],
                         $10::timestamptz[], $11::timestamptz[], $12::timestamptz[], $13::text[])
                  as x(ticket_id, kind, cycle, policy_id, started_at, due_at, achieved_at,
                       breached_at, paused, stopped_at, warn_at, warned_at, pauses)
             join tk on tk.ticket_id = x.ticket_id
             on conflict (ticket_id, kind, cycle) do update set
                policy_id = excluded.policy_id, started_at = excluded.started_at,
                due_at = excluded.due_at, achieved_at = excluded.achieved_at,
                breached_at = excluded.breached_at, paused = excluded.paused,
                stopped_at = excluded.stopped_at, warn_at = excluded.warn_at,
                warned_at = excluded.warned_at, pauses = excluded.pauses"
        ))
        .bind(&self.ticket)
        .bind(&self.kind)
        .bind(&self.cycle)
        .bind(&self.policy_id)
        .bind(&self.started_at)
        .bind(&self.due_at)
        .bind(&self.achieved_at)
        .bind(&self.breached_at)
        .bind(&self.paused)
        .bind(&self.stopped_at)
        .bind(&self.warn_at)
        .bind(&self.warned_at)
        .bind(&self.pauses)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// The receipt time of a message (or, without one, the ticket's creation).
async fn received_at(
    conn: &mut PgConnection,
    ticket: i64,
    message: Option<i64>,
) -> sqlx::Result<OffsetDateTime> {
    sqlx::query_scalar(
        "select coalesce((select received_at from message where message_id = $2 and ticket_id = $1),
                         (select created_at from ticket where ticket_id = $1))",
    )
    .bind(ticket)
    .bind(message)
    .fetch_one(&mut *conn)
    .await
}

/// After the ticket's `sla_policy_id` changed (in the caller's transaction, which recorded
/// the `sla_policy_changed` event): with a policy, running clocks are recomputed from their
/// start with its targets, and a ticket that had no clocks gets them from its history (first
/// response from the first person's message to the first agent reply, resolution from then,
/// the current next-response wait, pauses from its status changes). Without a policy, clocks
/// without a result are removed; results stay.
pub async fn policy_changed(conn: &mut PgConnection, ticket: i64) -> sqlx::Result<()> {
    let Some(mut state) = load(conn, ticket).await? else {
        return drop_unresolved(conn, ticket).await;
    };
    let mut breaches = Vec::new();
    if state.clocks.is_empty() {
        breaches.extend(from_history(conn, &mut state).await?);
    }
    let terms = state.terms.clone();
    breaches.extend(state.reschedule(terms));
    save(conn, &mut state, &breaches).await
}

/// Removes the ticket's clocks that have no result yet and ends a breached one still running
/// (no policy any more, or merged into another ticket); results stay.
async fn drop_unresolved(conn: &mut PgConnection, ticket: i64) -> sqlx::Result<()> {
    sqlx::query(
        "with d as (
            delete from sla_clock where ticket_id = $1 and achieved_at is null and breached_at is null
         ), k as (
            update sla_clock set stopped_at = now(), paused = false
            where ticket_id = $1 and stopped_at is null and breached_at is not null
         )
         update ticket set sla_due_at = null, sla_at_risk = false
         where ticket_id = $1 and (sla_due_at is not null or sla_at_risk)",
    )
    .bind(ticket)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Builds the clocks of a ticket that had none from its messages and status changes.
async fn from_history(
    conn: &mut PgConnection,
    state: &mut TicketClocks,
) -> sqlx::Result<Vec<(ClockKind, OffsetDateTime)>> {
    let ticket = state.ticket;
    let (first_in, first_reply, waiting_since, last_close): (
        Option<OffsetDateTime>,
        Option<OffsetDateTime>,
        Option<OffsetDateTime>,
        Option<OffsetDateTime>,
    ) = sqlx::query_as(
        "select (select min(received_at) from message
                 where ticket_id = $1 and direction = 'inbound' and automated is null),
                (select min(created_at) from message
                 where ticket_id = $1 and direction = 'outbound' and author_agent_id is not null),
                (select waiting_since from ticket where ticket_id = $1),
                (select max(created_at) from ticket_event
                 where ticket_id = $1 and kind = 'status_changed' and detail->>'to' = 'closed')",
    )
    .bind(ticket)
    .fetch_one(&mut *conn)
    .await?;
    let Some(first_in) = first_in else {
        return Ok(Vec::new());
    };
    let changes: Vec<(OffsetDateTime, String)> = sqlx::query_as(
        "select created_at, detail->>'to' from ticket_event
         where ticket_id = $1 and kind = 'status_changed' order by created_at, ticket_event_id",
    )
    .bind(ticket)
    .fetch_all(&mut *conn)
    .await?;
    let changes: Vec<(OffsetDateTime, TicketStatus)> = changes
        .into_iter()
        .filter_map(|(at, to)| to.parse().ok().map(|s| (at, s)))
        .collect();
    let history = pauses_from_statuses(&changes);
    let mut breaches = Vec::new();
    let closed = state.status == TicketStatus::Closed;
    let mut runs = vec![
        (ClockKind::FirstResponse, first_in, first_reply),
        (
            ClockKind::Resolution,
            first_in,
            if closed { last_close } else { None },
        ),
    ];
    if let (Some(_), Some(wait)) = (first_reply, waiting_since) {
        runs.push((ClockKind::NextResponse, wait, None));
    }
    for (kind, start, stop) in runs {
        let mut c = Clock::start(kind, 1, start);
        c.pauses = history
            .iter()
            .filter(|(_, e)| e.is_none_or(|e| e > micros(start)))
            .map(|&(s, e)| (s.max(micros(start)), e))
            .collect();
        if let Some(stop) = stop {
            c.pauses.retain(|p| p.0 < micros(stop));
        }
        c.paused = c.pauses.last().is_some_and(|p| p.1.is_none());
        // An open pause ends the walk: due only when the target was reached before it.
        c.schedule(&state.terms);
        if let Some(stop) = stop {
            if let Some(due) = c.settle(stop) {
                breaches.push((kind, due));
            }
            c.stop(stop);
        }
        state.clocks.push(c);
    }
    Ok(breaches)
}

/// Recomputes the due times of every running clock of tickets under these policies (after a
/// policy or calendar edit), in the caller's transaction; achieved and breached results never
/// change. Returns how many clocks were recomputed. Clocks that are now past due are left to
/// the worker, which stamps them at their due instant.
///
/// Lock order: ticket rows first, in ticket id order, then their `sla_clock` rows, as on the
/// one path for ticket changes (which locks the ticket, then `load`s its clocks `for update`)
/// and in the breach worker (`for update of k, t skip locked`, which never waits). Locking the
/// clocks first, as the `update sla_clock` below would by itself, could deadlock with an
/// agent's reply on one of these tickets: that reply holds the ticket and waits for its
/// clocks while this edit would hold the clocks and wait for the ticket (`sla_due_at`).
pub async fn recompute_policies(conn: &mut PgConnection, policies: &[i64]) -> sqlx::Result<u64> {
    if policies.is_empty() {
        return Ok(0);
    }
    // Postgres locks the rows of `for update` after the sort, so in ticket id order.
    sqlx::query(
        "select t.ticket_id from ticket t
         where t.sla_policy_id = any($1)
           and exists (select 1 from sla_clock k where k.ticket_id = t.ticket_id
                         and k.stopped_at is null and k.breached_at is null)
         order by t.ticket_id
         for update of t",
    )
    .bind(policies)
    .execute(&mut *conn)
    .await?;
    #[derive(sqlx::FromRow)]
    struct PolicyRow {
        sla_policy_id: i64,
        targets: Json<PolicyTargets>,
        warning_percent: i32,
        spec: Json<super::calendar::CalendarSpec>,
    }
    let rows: Vec<PolicyRow> = sqlx::query_as(
        "select p.sla_policy_id, p.targets, p.warning_percent, c.spec
         from sla_policy p join calendar c on c.calendar_id = p.calendar_id
         where p.sla_policy_id = any($1)",
    )
    .bind(policies)
    .fetch_all(&mut *conn)
    .await?;
    let mut terms = std::collections::HashMap::new();
    for r in rows {
        let Ok(calendar) = Calendar::parse(&r.spec.0) else {
            continue;
        };
        terms.insert(r.sla_policy_id, (calendar, r.targets.0, r.warning_percent));
    }
    #[derive(sqlx::FromRow)]
    struct Running {
        ticket_id: i64,
        sla_policy_id: i64,
        priority: Priority,
        #[sqlx(flatten)]
        clock: ClockRow,
    }
    let running: Vec<Running> = sqlx::query_as(&format!(
        "select k.ticket_id, t.sla_policy_id, t.priority, {}
         from sla_clock k join ticket t on t.ticket_id = k.ticket_id
         where t.sla_policy_id = any($1) and k.stopped_at is null and k.breached_at is null",
        CLOCK_COLUMNS
            .split(',')
            .map(|c| format!("k.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(policies)
    .fetch_all(&mut *conn)
    .await?;
    let (mut tickets, mut kinds, mut cycles, mut dues, mut warns, mut pols) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for r in running {
        let Some((calendar, targets, warning_percent)) = terms.get(&r.sla_policy_id) else {
            continue;
        };
        let t = Terms {
            policy_id: r.sla_policy_id,
            calendar: calendar.clone(),
            targets: *targets,
            warning_percent: *warning_percent,
            priority: r.priority,
        };
        let mut clock = Clock::from(r.clock);
        clock.schedule(&t);
        if clock.dirty {
            tickets.push(r.ticket_id);
            kinds.push(clock.kind.as_str());
            cycles.push(clock.cycle);
            dues.push(clock.due_at);
            warns.push(clock.warn_at);
            pols.push(r.sla_policy_id);
        }
    }
    let n = sqlx::query(
        "update sla_clock k set due_at = x.due, warn_at = x.warn, policy_id = x.policy
         from unnest($1::bigint[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[],
                     $6::bigint[]) as x(ticket, kind, cycle, due, warn, policy)
         where k.ticket_id = x.ticket and k.kind = x.kind and k.cycle = x.cycle",
    )
    .bind(&tickets)
    .bind(&kinds)
    .bind(&cycles)
    .bind(&dues)
    .bind(&warns)
    .bind(&pols)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query(
        "update ticket t set sla_due_at = (
            select min(k.due_at) from sla_clock k
            where k.ticket_id = t.ticket_id and k.stopped_at is null and not k.paused)
         where t.ticket_id = any($1)",
    )
    .bind(&tickets)
    .execute(&mut *conn)
    .await?;
    Ok(n)
}

/// Before policy `policy` is deleted: its tickets' clocks without a result are removed, the
/// others end (a breach still running stops being overdue), and the tickets have no due time.
pub async fn policy_removed(conn: &mut PgConnection, policy: i64) -> sqlx::Result<()> {
    sqlx::query(
        "with t as (
            update ticket set sla_due_at = null, sla_at_risk = false where sla_policy_id = $1
            returning ticket_id
         ), d as (
            delete from sla_clock k using t where k.ticket_id = t.ticket_id
              and k.achieved_at is null and k.breached_at is null
         )
         update sla_clock k set stopped_at = now(), paused = false
         from t where k.ticket_id = t.ticket_id and k.stopped_at is null and k.breached_at is not null",
    )
    .bind(policy)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The ticket JSON's `"sla"`: `null` without a policy, else `{"policy": {"id", "name"},
/// "first_response": clock, "next_response": clock, "resolution": clock}` with `clock = null |
/// {"due_at", "achieved_at", "breached_at", "paused"}` (RFC 3339 UTC or null; the latest
/// next-response cycle).
pub async fn ticket_sla_json(conn: &mut PgConnection, ticket: i64) -> sqlx::Result<Value> {
    let Some((policy, clocks)) = ticket_clocks(conn, ticket).await? else {
        return Ok(Value::Null);
    };
    let clock = |kind: ClockKind| {
        clocks
            .iter()
            .filter(|c| c.kind == kind)
            .max_by_key(|c| c.cycle)
            .map(|c| {
                json!({
                    "due_at": c.due_at.map(rfc3339),
                    "achieved_at": c.achieved_at.map(rfc3339),
                    "breached_at": c.breached_at.map(rfc3339),
                    "paused": c.paused,
                })
            })
            .unwrap_or(Value::Null)
    };
    Ok(json!({
        "policy": {"id": policy.0, "name": policy.1},
        "first_response": clock(ClockKind::FirstResponse),
        "next_response": clock(ClockKind::NextResponse),
        "resolution": clock(ClockKind::Resolution),
    }))
}

/// The ticket's policy `(id, name)` and its clocks (every run, by kind and cycle); `None`
/// without a policy.
pub async fn ticket_clocks(
    conn: &mut PgConnection,
    ticket: i64,
) -> sqlx::Result<Option<((i64, String), Vec<Clock>)>> {
    let policy: Option<(i64, String)> = sqlx::query_as(
        "select p.sla_policy_id, p.name from ticket t
         join sla_policy p on p.sla_policy_id = t.sla_policy_id where t.ticket_id = $1",
    )
    .bind(ticket)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(policy) = policy else {
        return Ok(None);
    };
    let rows: Vec<ClockRow> = sqlx::query_as(&format!(
        "select {CLOCK_COLUMNS} from sla_clock where ticket_id = $1 order by kind, cycle"
    ))
    .bind(ticket)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some((policy, rows.into_iter().map(Clock::from).collect())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::policies::Targets;

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap()
    }

    fn terms(minutes: i64, priority: Priority) -> Terms {
        let row = Targets {
            first_response: minutes,
            next_response: minutes * 2,
            resolution: minutes * 10,
        };
        let urgent = Targets {
            first_response: 1,
            next_response: 2,
            resolution: 3,
        };
        Terms {
            policy_id: 7,
            calendar: Calendar::always(),
            targets: PolicyTargets {
                urgent,
                high: row,
                normal: row,
                low: row,
            },
            warning_percent: 25,
            priority,
        }
    }

    fn state(now: OffsetDateTime) -> TicketClocks {
        TicketClocks {
            ticket: 1,
            terms: terms(60, Priority::Normal),
            status: TicketStatus::Open,
            spam: false,
            now,
            clocks: Vec::new(),
        }
    }

    fn get(s: &TicketClocks, kind: ClockKind) -> &Clock {
        s.clocks
            .iter()
            .filter(|c| c.kind == kind)
            .max_by_key(|c| c.cycle)
            .unwrap()
    }

    #[test]
    fn the_first_message_starts_first_response_and_resolution_at_its_receipt() {
        let mut s = state(t(5));
        s.customer_wrote(t(0));
        let first = get(&s, ClockKind::FirstResponse);
        assert_eq!(first.started_at, t(0));
        assert_eq!(first.due_at, Some(t(3600)));
        assert_eq!(first.warn_at, Some(t(2700)), "25% left = 45 of 60 min");
        assert_eq!(get(&s, ClockKind::Resolution).due_at, Some(t(36_000)));
        assert!(s.clocks.iter().all(|c| c.policy_id == Some(7)));
        // a second message before our reply changes nothing
        s.customer_wrote(t(60));
        assert_eq!(s.clocks.len(), 2);
    }

    #[test]
    fn a_reply_before_due_is_achieved_and_after_due_is_breached_at_the_due_instant() {
        let mut s = state(t(100));
        s.customer_wrote(t(0));
        assert!(s.agent_replied().is_empty());
        let first = get(&s, ClockKind::FirstResponse);
        assert_eq!(first.achieved_at, Some(t(100)));
        assert_eq!(first.breached_at, None);

        let mut s = state(t(4000));
        s.customer_wrote(t(0));
        let breaches = s.agent_replied();
        assert_eq!(breaches, vec![(ClockKind::FirstResponse, t(3600))]);
        let first = get(&s, ClockKind::FirstResponse);
        assert_eq!(first.breached_at, Some(t(3600)));
        assert_eq!(first.achieved_at, None);
        assert_eq!(first.stopped_at, Some(t(4000)));
    }

    #[test]
    fn next_response_starts_at_the_oldest_message_after_our_reply() {
        let mut s = state(t(100));
        s.customer_wrote(t(0));
        s.agent_replied();
        s.customer_wrote(t(200));
        s.customer_wrote(t(300));
        let next = get(&s, ClockKind::NextResponse);
        assert_eq!((next.cycle, next.started_at), (1, t(200)));
        assert_eq!(next.due_at, Some(t(200 + 7200)));
        s.now = t(400);
        s.agent_replied();
        s.customer_wrote(t(500));
        let next = get(&s, ClockKind::NextResponse);
        assert_eq!((next.cycle, next.started_at), (2, t(500)));
        assert_eq!(
            s.clocks
                .iter()
                .find(|c| c.kind == ClockKind::NextResponse && c.cycle == 1)
                .unwrap()
                .achieved_at,
            Some(t(400))
        );
    }

    #[test]
    fn pending_pauses_and_the_customers_reply_resumes_shifting_the_due_time() {
        let mut s = state(t(0));
        s.customer_wrote(t(0));
        s.now = t(600);
        s.status = TicketStatus::Pending;
        s.reconcile();
        let first = get(&s, ClockKind::FirstResponse);
        assert!(first.paused);
        assert_eq!(first.due_at, None);
        assert_eq!(s.nearest_due(), None);
        s.now = t(1600);
        s.status = TicketStatus::Open;
        s.reconcile();
        let first = get(&s, ClockKind::FirstResponse);
        assert!(!first.paused);
        assert_eq!(first.due_at, Some(t(3600 + 1000)), "1000 s paused");
        assert_eq!(first.pauses, vec![(micros(t(600)), Some(micros(t(1600))))]);
    }

    #[test]
    fn snoozed_does_not_pause() {
        let mut s = state(t(0));
        s.customer_wrote(t(0));
        s.status = TicketStatus::Snoozed;
        s.now = t(10);
        s.reconcile();
        assert!(!get(&s, ClockKind::FirstResponse).paused);
        assert_eq!(s.nearest_due(), Some(t(3600)));
    }

    #[test]
    fn closing_achieves_resolution_and_reopening_resumes_it_where_it_stopped() {
        let mut s = state(t(0));
        s.customer_wrote(t(0));
        s.now = t(1000);
        s.status = TicketStatus::Closed;
        s.reconcile();
        let res = get(&s, ClockKind::Resolution);
        assert_eq!(res.achieved_at, Some(t(1000)));
        assert!(res.paused);
        s.now = t(5000);
        s.status = TicketStatus::Open;
        s.reconcile();
        let res = get(&s, ClockKind::Resolution);
        assert_eq!(res.achieved_at, None);
        assert_eq!(res.stopped_at, None);
        assert_eq!(res.due_at, Some(t(36_000 + 4000)));
    }

    #[test]
    fn a_priority_change_recomputes_from_the_start_and_may_breach_at_the_past_due_instant() {
        let mut s = state(t(0));
        s.customer_wrote(t(0));
        s.now = t(90);
        let breaches = s.reschedule(terms(60, Priority::Urgent));
        // urgent: 1 minute from t(0): due t(60), which has passed: breached at t(60)
        assert_eq!(breaches, vec![(ClockKind::FirstResponse, t(60))]);
        let first = get(&s, ClockKind::FirstResponse);
        assert_eq!(first.breached_at, Some(t(60)));
        assert_eq!(get(&s, ClockKind::Resolution).due_at, Some(t(180)));
        // results never change afterwards
        s.reschedule(terms(60, Priority::Low));
        assert_eq!(get(&s, ClockKind::FirstResponse).due_at, Some(t(60)));
        assert_eq!(get(&s, ClockKind::Resolution).due_at, Some(t(36_000)));
    }

    #[test]
    fn status_history_gives_the_pauses() {
        use TicketStatus::*;
        let p = pauses_from_statuses(&[
            (t(10), Pending),
            (t(20), Closed),
            (t(30), Open),
            (t(40), Snoozed),
            (t(50), Closed),
        ]);
        assert_eq!(
            p,
            vec![(micros(t(10)), Some(micros(t(30)))), (micros(t(50)), None)]
        );
    }

    #[test]
    fn countdowns_read_as_wall_clock_time() {
        let now = t(0);
        assert_eq!(countdown(t(2 * 3600 + 10 * 60 + 5), now), "2 h 10 min");
        assert_eq!(countdown(t(3600), now), "1 h");
        assert_eq!(countdown(t(45 * 60), now), "45 min");
        assert_eq!(countdown(t(30), now), "under 1 min");
        assert_eq!(countdown(t(-20 * 60), now), "overdue 20 min");
        assert_eq!(countdown(t(3 * 86_400 + 4 * 3600), now), "3 d 4 h");
    }

    #[test]
    fn warning_is_at_least_a_second() {
        let mut x = terms(1, Priority::Normal);
        x.warning_percent = 99;
        assert_eq!(x.warning_seconds(ClockKind::FirstResponse), 1);
        x.warning_percent = 25;
        assert_eq!(x.warning_seconds(ClockKind::FirstResponse), 45);
    }
}
