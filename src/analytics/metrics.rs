//! Per-ticket metric values: computed from a ticket's timeline events ([`compute`], pure) and
//! stored when a metric completes ([`refresh`], called by the timeline hook in the change's
//! transaction), so that reports of past periods never move.
//!
//! Definitions (`shared/domain-notes.md` §5; the analytics pages show the same words):
//! - **First response**: from the ticket's creation (its first mail's receipt at our server) to
//!   the first reply written by a person (`reply_queued` by an agent). Notes, automatic and
//!   rule-sent mail do not count.
//! - **Resolution**: from creation to a close, when a person had replied before it; a close
//!   without any reply is "closed, no reply needed". Each close is kept
//!   (`ticket_resolution`); the first and the final one are on `ticket_metric`.
//! - Both leave out the time the ticket was **pending** (waiting on the customer) or
//!   **closed** (before a reopen), as the SLA clocks do. Calendar seconds count all other real
//!   time; business seconds only its open time on the calendar of the mailbox's SLA policy
//!   (24/7 without one). Real (UTC) time, so a DST night counts the hours that really passed.
//! - **Excluded** from every figure: spam, tickets merged into another, and list or bulk mail
//!   nobody answered.
//! - **Frozen**: a first response or a close, once stored, is never recomputed (not even
//!   when the calendar changes later); marking a ticket spam (or merging it) takes it out of
//!   every period, which is the one way a past report changes.

use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use crate::sla::calendar::{Calendar, CalendarSpec, Pause};
use crate::sla::to_timestamp;
use crate::tickets::model::{Automated, TicketStatus};
use crate::tickets::timeline::{Actor, Recorded, TimelineEvent};

/// The name stored for the 24/7 calendar (no SLA policy on the mailbox).
pub const ALWAYS: &str = "24/7";

/// Why a ticket is left out of every figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exclusion {
    /// Marked spam (and not taken out again).
    Spam,
    /// Merged into another ticket.
    Merged,
    /// List or bulk mail that no person answered.
    Bulk,
}

impl Exclusion {
    /// The stored word (`ticket_metric.excluded`).
    pub fn as_str(self) -> &'static str {
        match self {
            Exclusion::Spam => "spam",
            Exclusion::Merged => "merged",
            Exclusion::Bulk => "bulk",
        }
    }
}

/// One timeline event as the computation reads it: when (UTC), who, what.
#[derive(Debug, Clone)]
pub struct EventAt {
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub event: TimelineEvent,
}

/// The first reply by a person: when (UTC), calendar and business seconds, by whom.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstResponse {
    pub at: OffsetDateTime,
    pub seconds: f64,
    pub business_seconds: f64,
    pub agent_id: Option<i64>,
}

/// One close of the ticket (`ticket_resolution` row).
#[derive(Debug, Clone, PartialEq)]
pub struct Close {
    /// UTC.
    pub closed_at: OffsetDateTime,
    /// The agent who closed it (`None`: a rule or Frontdesk).
    pub agent_id: Option<i64>,
    /// A person had replied before: a resolution. Else "closed, no reply needed".
    pub replied: bool,
    /// Seconds from creation to the close, less pending and earlier closed time.
    pub seconds: f64,
    /// The same on the business calendar.
    pub business_seconds: f64,
    /// When the ticket next reopened (UTC), if it did.
    pub reopened_at: Option<OffsetDateTime>,
}

/// Everything analytics knows of one ticket, computed from its events.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketFacts {
    pub excluded: Option<Exclusion>,
    pub first_response: Option<FirstResponse>,
    /// Every close, oldest first.
    pub closes: Vec<Close>,
    /// Replies written by people.
    pub replies: i32,
    /// Times the ticket was reopened after a close.
    pub reopened: i32,
}

impl TicketFacts {
    /// The first close that was a resolution (a person had replied).
    pub fn first_resolution(&self) -> Option<&Close> {
        self.closes.iter().find(|c| c.replied)
    }

    /// The final resolution: the latest close, when it was a resolution and the ticket has
    /// not reopened since.
    pub fn final_resolution(&self) -> Option<&Close> {
        self.closes
            .last()
            .filter(|c| c.replied && c.reopened_at.is_none())
    }
}

/// Computes a ticket's facts from its events (oldest first, as the timeline orders them),
/// its creation time (UTC) and the business calendar. Pure: the same events always give the
/// same facts.
pub fn compute(created_at: OffsetDateTime, events: &[EventAt], calendar: &Calendar) -> TicketFacts {
    let always = Calendar::always();
    let start = to_timestamp(created_at);
    let mut pauses: Vec<Pause> = Vec::new();
    // Start of the pause going on now (pending or closed), if any.
    let mut paused_since: Option<jiff::Timestamp> = None;
    let mut status = TicketStatus::Open;
    let mut facts = TicketFacts {
        excluded: None,
        first_response: None,
        closes: Vec::new(),
        replies: 0,
        reopened: 0,
    };
    let (mut spam, mut merged, mut bulk) = (false, false, false);
    let measure = |at: OffsetDateTime, pauses: &[Pause], paused_since: Option<jiff::Timestamp>| {
        let mut all = pauses.to_vec();
        if let Some(s) = paused_since {
            all.push((s, None));
        }
        let end = to_timestamp(at);
        (
            always
                .business_seconds_with_pauses(start, end, &all)
                .max(0.0),
            calendar
                .business_seconds_with_pauses(start, end, &all)
                .max(0.0),
        )
    };
    for e in events {
        match &e.event {
            TimelineEvent::Created { automated, .. } => {
                bulk = *automated == Some(Automated::List);
            }
            TimelineEvent::ReplyQueued { .. } => {
                let Actor::Agent(agent) = e.actor else {
                    continue; // rule-sent and automatic mail are nobody's response
                };
                facts.replies += 1;
                if facts.first_response.is_none() {
                    let (seconds, business_seconds) = measure(e.at, &pauses, paused_since);
                    facts.first_response = Some(FirstResponse {
                        at: e.at,
                        seconds,
                        business_seconds,
                        agent_id: Some(agent),
                    });
                }
            }
            TimelineEvent::StatusChanged { to, .. } => {
                let (from, to) = (status, *to);
                if to == TicketStatus::Closed && from != TicketStatus::Closed {
                    let (seconds, business_seconds) = measure(e.at, &pauses, paused_since);
                    facts.closes.push(Close {
                        closed_at: e.at,
                        agent_id: e.actor.agent_id(),
                        replied: facts.replies > 0,
                        seconds,
                        business_seconds,
                        reopened_at: None,
                    });
                }
                if from == TicketStatus::Closed && to != TicketStatus::Closed {
                    facts.reopened += 1;
                    if let Some(last) = facts.closes.last_mut() {
                        last.reopened_at.get_or_insert(e.at);
                    }
                }
                let pause = matches!(to, TicketStatus::Pending | TicketStatus::Closed);
                match (pause, paused_since) {
                    (true, None) => paused_since = Some(to_timestamp(e.at)),
                    (false, Some(s)) => {
                        pauses.push((s, Some(to_timestamp(e.at))));
                        paused_since = None;
                    }
                    _ => {}
                }
                status = to;
            }
            TimelineEvent::MarkedSpam {} => spam = true,
            TimelineEvent::UnmarkedSpam {} => spam = false,
            TimelineEvent::MergedInto { .. } => merged = true,
            _ => {}
        }
    }
    facts.excluded = if spam {
        Some(Exclusion::Spam)
    } else if merged {
        Some(Exclusion::Merged)
    } else if bulk && facts.replies == 0 {
        Some(Exclusion::Bulk)
    } else {
        None
    };
    facts
}

/// Whether an event can complete a metric or change an exclusion (the hook refreshes the
/// ticket's stored values only then).
fn completes_something(recorded: &Recorded<'_>) -> bool {
    match recorded.event {
        TimelineEvent::ReplyQueued { .. } => matches!(recorded.actor, Actor::Agent(_)),
        TimelineEvent::StatusChanged { .. }
        | TimelineEvent::MarkedSpam {}
        | TimelineEvent::UnmarkedSpam {}
        | TimelineEvent::MergedInto { .. } => true,
        _ => false,
    }
}

/// The timeline hook's analytics step, in the change's transaction: a new ticket gets its
/// `ticket_metric` row; an event that completes a metric (a person's reply, a status change)
/// or changes an exclusion (spam, merge) refreshes the ticket's stored values.
pub async fn on_event(conn: &mut PgConnection, recorded: &Recorded<'_>) -> sqlx::Result<()> {
    if let TimelineEvent::Created { automated, .. } = recorded.event {
        return on_created(conn, &[(recorded.ticket, *automated)]).await;
    }
    if completes_something(recorded) {
        refresh(conn, recorded.ticket).await?;
    }
    Ok(())
}

/// A ticket's creation time, its timeline and its business calendar (name and calendar), as
/// [`compute`] needs them. `None` when the ticket does not exist.
pub async fn load(
    conn: &mut PgConnection,
    ticket: i64,
) -> sqlx::Result<Option<(OffsetDateTime, Vec<EventAt>, String, Calendar)>> {
    let row: Option<(OffsetDateTime, Option<String>, Option<Json<CalendarSpec>>)> = sqlx::query_as(
        "select t.created_at, c.name, c.spec
             from ticket t join mailbox mb on mb.mailbox_id = t.mailbox_id
             left join sla_policy p on p.sla_policy_id = mb.sla_policy_id
             left join calendar c on c.calendar_id = p.calendar_id
             where t.ticket_id = $1",
    )
    .bind(ticket)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((created_at, name, spec)) = row else {
        return Ok(None);
    };
    let (name, calendar) = match (name, spec) {
        (Some(name), Some(Json(spec))) => match Calendar::parse(&spec) {
            Ok(c) => (name, c),
            // Only if the time zone database lost the calendar's zone since it was saved.
            Err(e) => {
                tracing::warn!(calendar = %name, error = %e.message, "calendar unusable; counting 24/7");
                (ALWAYS.to_string(), Calendar::always())
            }
        },
        _ => (ALWAYS.to_string(), Calendar::always()),
    };
    type Row = (
        String,
        Json<serde_json::Value>,
        String,
        Option<i64>,
        Option<i64>,
        OffsetDateTime,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "select kind, detail, actor_kind, agent_id, rule_id, created_at from ticket_event
         where ticket_id = $1 order by created_at, ticket_event_id",
    )
    .bind(ticket)
    .fetch_all(&mut *conn)
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    for (kind, detail, actor, agent, rule, at) in rows {
        let event = TimelineEvent::from_row(&kind, detail.0)
            .map_err(|e| sqlx::Error::Decode(format!("ticket_event ({kind}): {e}").into()))?;
        let actor = match (actor.as_str(), agent, rule) {
            ("agent", Some(a), _) => Actor::Agent(a),
            ("rule", _, Some(r)) => Actor::Rule(r),
            ("customer", _, _) => Actor::Customer,
            _ => Actor::System,
        };
        events.push(EventAt { at, actor, event });
    }
    Ok(Some((created_at, events, name, calendar)))
}

/// The `ticket_metric` rows of new tickets `(ticket, automated kind of its first mail)`, in one
/// statement (cheap on the ingest path: no events to read yet). List mail is excluded as
/// `bulk`. [`crate::tickets::timeline::record_pending`] calls it once for a batch. The row's
/// copies of its ticket (scope; the customer's effective stage and VIP flag, as the SQL
/// functions `customer_effective_stage` / `_vip` give them; tag ids; active) are set here, so
/// the fill trigger (migration 20261210000000) does not run per row. So are its SLA results,
/// for a ticket whose clocks started before its metric row (later changes reach the row
/// through the clock triggers of migration 20261211000000).
pub async fn on_created(
    conn: &mut PgConnection,
    created: &[(i64, Option<Automated>)],
) -> sqlx::Result<()> {
    if created.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into ticket_metric (ticket_id, created_at, excluded, calendar, ticket_mailbox_id,
                                    ticket_team_id, ticket_assignee_agent_id, ticket_priority,
                                    ticket_customer_id, ticket_customer_stage_id, ticket_customer_vip,
                                    ticket_tag_ids, ticket_active, sla_first_response, sla_resolution)
         select t.ticket_id, t.created_at, case when x.bulk then 'bulk' end, coalesce(c.name, $3),
                t.mailbox_id, t.team_id, t.assignee_agent_id, t.priority, t.customer_id,
                coalesce(cu.lifecycle_stage_id, co.lifecycle_stage_id),
                coalesce(cu.vip, co.vip, false),
                array(select g.tag_id from ticket_tag g where g.ticket_id = t.ticket_id order by g.tag_id),
                not t.spam and t.status <> 'closed',
                r.first_response, r.resolution
         from unnest($1::bigint[], $2::bool[]) as x(ticket_id, bulk)
         join ticket t on t.ticket_id = x.ticket_id
         -- ticket_sla_result() of both clocks, joined instead of called twice per row
         cross join lateral (
             select (array['running', 'achieved', 'breached'])[max(c.rank) filter (where c.kind = 'first_response')],
                    (array['running', 'achieved', 'breached'])[max(c.rank) filter (where c.kind = 'resolution')]
             from (select c.kind, case when c.breached_at is not null then 3
                                       when c.achieved_at is not null then 2 else 1 end as rank
                   from sla_clock c
                   where c.ticket_id = t.ticket_id and c.kind in ('first_response', 'resolution')) c
         ) as r(first_response, resolution)
         left join customer cu on cu.customer_id = t.customer_id
         left join company co on co.company_id = cu.company_id
         join mailbox mb on mb.mailbox_id = t.mailbox_id
         left join sla_policy p on p.sla_policy_id = mb.sla_policy_id
         left join calendar c on c.calendar_id = p.calendar_id
         on conflict (ticket_id) do nothing",
    )
    .bind(created.iter().map(|c| c.0).collect::<Vec<_>>())
    .bind(
        created
            .iter()
            .map(|c| c.1 == Some(Automated::List))
            .collect::<Vec<_>>(),
    )
    .bind(ALWAYS)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The ticket's facts computed now from its events (what [`refresh`] stores, before
/// freezing). `None` when the ticket does not exist.
pub async fn compute_for(
    conn: &mut PgConnection,
    ticket: i64,
) -> sqlx::Result<Option<TicketFacts>> {
    Ok(load(conn, ticket)
        .await?
        .map(|(created, events, _, calendar)| compute(created, &events, &calendar)))
}

/// Recomputes the ticket's facts from its events and stores what is new: the exclusion,
/// counts, a first response and closes not stored yet, and reopen times. Values stored
/// before are kept as they are (frozen).
pub async fn refresh(conn: &mut PgConnection, ticket: i64) -> sqlx::Result<()> {
    let Some((created_at, events, calendar_name, calendar)) = load(conn, ticket).await? else {
        return Ok(());
    };
    let facts = compute(created_at, &events, &calendar);
    let fr = facts.first_response.as_ref();
    sqlx::query(
        "insert into ticket_metric as m (ticket_id, created_at, excluded, calendar, first_response_at,
             first_response_s, first_response_business_s, first_response_agent_id, replies, reopened,
             sla_first_response, sla_resolution, csat)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ticket_sla_result($1, 'first_response'),
                 ticket_sla_result($1, 'resolution'), ticket_csat_rating($1))
         on conflict (ticket_id) do update set
             excluded = excluded.excluded,
             replies = excluded.replies,
             reopened = excluded.reopened,
             calendar = case when m.first_response_at is null
                             and not exists (select 1 from ticket_resolution r where r.ticket_id = m.ticket_id)
                        then excluded.calendar else m.calendar end,
             first_response_agent_id = case when m.first_response_at is null
                 then excluded.first_response_agent_id else m.first_response_agent_id end,
             first_response_s = coalesce(m.first_response_s, excluded.first_response_s),
             first_response_business_s = coalesce(m.first_response_business_s, excluded.first_response_business_s),
             first_response_at = coalesce(m.first_response_at, excluded.first_response_at),
             updated_at = now()",
    )
    .bind(ticket)
    .bind(created_at)
    .bind(facts.excluded.map(Exclusion::as_str))
    .bind(&calendar_name)
    .bind(fr.map(|f| f.at))
    .bind(fr.map(|f| f.seconds))
    .bind(fr.map(|f| f.business_seconds))
    .bind(fr.and_then(|f| f.agent_id))
    .bind(facts.replies)
    .bind(facts.reopened)
    .execute(&mut *conn)
    .await?;
    let closes = &facts.closes;
    if !closes.is_empty() {
        sqlx::query(
            "insert into ticket_resolution (ticket_id, seq, closed_at, agent_id, replied, resolution_s,
                 resolution_business_s, reopened_at)
             select $1, x.seq, x.closed_at, x.agent_id, x.replied, x.s, x.bs, x.reopened_at
             from unnest($2::int[], $3::timestamptz[], $4::bigint[], $5::bool[], $6::float8[],
                         $7::float8[], $8::timestamptz[])
                  as x(seq, closed_at, agent_id, replied, s, bs, reopened_at)
             on conflict (ticket_id, seq) do update
                 set reopened_at = coalesce(ticket_resolution.reopened_at, excluded.reopened_at)",
        )
        .bind(ticket)
        .bind((1..=closes.len() as i32).collect::<Vec<_>>())
        .bind(closes.iter().map(|c| c.closed_at).collect::<Vec<_>>())
        .bind(closes.iter().map(|c| c.agent_id).collect::<Vec<_>>())
        .bind(closes.iter().map(|c| c.replied).collect::<Vec<_>>())
        .bind(closes.iter().map(|c| c.seconds).collect::<Vec<_>>())
        .bind(closes.iter().map(|c| c.business_seconds).collect::<Vec<_>>())
        .bind(closes.iter().map(|c| c.reopened_at).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    // First and final resolution from the stored (frozen) closes.
    sqlx::query(
        "update ticket_metric m set
             first_resolved_at = f.closed_at, first_resolution_s = f.resolution_s,
             first_resolution_business_s = f.resolution_business_s,
             resolved_at = l.closed_at, resolution_s = l.resolution_s,
             resolution_business_s = l.resolution_business_s
         from (select 1) one
         left join lateral (select closed_at, resolution_s, resolution_business_s from ticket_resolution
                            where ticket_id = $1 and replied order by seq limit 1) f on true
         left join lateral (select closed_at, resolution_s, resolution_business_s from ticket_resolution
                            where ticket_id = $1 and replied and reopened_at is null
                              and seq = (select max(seq) from ticket_resolution where ticket_id = $1)) l on true
         where m.ticket_id = $1",
    )
    .bind(ticket)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Fills the stored values of every ticket that has none yet (tickets from before analytics
/// existed), from their events, a batch of `batch` tickets per transaction. Returns how many
/// tickets it filled. Safe to run again, and while Frontdesk runs.
pub async fn rebuild(pool: &PgPool, batch: i64) -> sqlx::Result<u64> {
    let mut done = 0u64;
    let mut after = 0i64;
    loop {
        let ids: Vec<i64> = sqlx::query_scalar(
            "select t.ticket_id from ticket t
             where t.ticket_id > $1
               and not exists (select 1 from ticket_metric m where m.ticket_id = t.ticket_id)
             order by t.ticket_id limit $2",
        )
        .bind(after)
        .bind(batch.max(1))
        .fetch_all(pool)
        .await?;
        let Some(&last) = ids.last() else {
            return Ok(done);
        };
        let mut tx = pool.begin().await?;
        for id in &ids {
            refresh(&mut tx, *id).await?;
        }
        tx.commit().await?;
        done += ids.len() as u64;
        after = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::timeline::Via;
    use time::macros::datetime;

    fn at(t: OffsetDateTime, actor: Actor, event: TimelineEvent) -> EventAt {
        EventAt {
            at: t,
            actor,
            event,
        }
    }

    fn created(t: OffsetDateTime, automated: Option<Automated>) -> EventAt {
        at(
            t,
            Actor::Customer,
            TimelineEvent::Created {
                via: Via::Email,
                automated,
                message_id: Some(1),
            },
        )
    }

    fn status(t: OffsetDateTime, actor: Actor, from: TicketStatus, to: TicketStatus) -> EventAt {
        at(
            t,
            actor,
            TimelineEvent::StatusChanged {
                from,
                to,
                reason: None,
                snoozed_until: None,
            },
        )
    }

    fn reply(t: OffsetDateTime, actor: Actor) -> EventAt {
        at(t, actor, TimelineEvent::ReplyQueued { message_id: 9 })
    }

    #[test]
    fn first_response_counts_only_people_and_skips_pending_time() {
        use TicketStatus::*;
        let t0 = datetime!(2026-03-02 10:00 UTC);
        let events = [
            created(t0, None),
            // A rule's automatic reply is nobody's response.
            reply(datetime!(2026-03-02 10:01 UTC), Actor::Rule(1)),
            status(
                datetime!(2026-03-02 11:00 UTC),
                Actor::Agent(5),
                Open,
                Pending,
            ),
            status(
                datetime!(2026-03-02 13:00 UTC),
                Actor::Customer,
                Pending,
                Open,
            ),
            reply(datetime!(2026-03-02 14:00 UTC), Actor::Agent(5)),
            reply(datetime!(2026-03-02 15:00 UTC), Actor::Agent(6)),
        ];
        let f = compute(t0, &events, &Calendar::always());
        let fr = f.first_response.unwrap();
        // 4 hours, less 2 hours pending.
        assert_eq!(fr.seconds, 7200.0);
        assert_eq!(fr.business_seconds, 7200.0);
        assert_eq!(fr.agent_id, Some(5));
        assert_eq!(f.replies, 2);
        assert_eq!(f.excluded, None);
    }

    #[test]
    fn each_close_is_kept_and_a_reopen_resumes_the_resolution_time() {
        use TicketStatus::*;
        let t0 = datetime!(2026-03-02 10:00 UTC);
        let events = [
            created(t0, None),
            status(
                datetime!(2026-03-02 10:30 UTC),
                Actor::Agent(5),
                Open,
                Closed,
            ),
            reply(datetime!(2026-03-02 11:00 UTC), Actor::Agent(5)),
            status(
                datetime!(2026-03-02 12:00 UTC),
                Actor::Customer,
                Closed,
                Open,
            ),
            status(
                datetime!(2026-03-02 13:00 UTC),
                Actor::Agent(6),
                Open,
                Closed,
            ),
        ];
        let f = compute(t0, &events, &Calendar::always());
        assert_eq!(f.closes.len(), 2);
        // The first close had no reply: closed, no reply needed.
        assert!(!f.closes[0].replied);
        assert_eq!(f.closes[0].seconds, 1800.0);
        assert_eq!(
            f.closes[0].reopened_at,
            Some(datetime!(2026-03-02 12:00 UTC))
        );
        // 3 hours from creation, less 1.5 hours closed.
        assert!(f.closes[1].replied);
        assert_eq!(f.closes[1].seconds, 5400.0);
        assert_eq!(f.closes[1].agent_id, Some(6));
        assert_eq!(f.reopened, 1);
        assert_eq!(
            f.first_resolution().unwrap().closed_at,
            datetime!(2026-03-02 13:00 UTC)
        );
        assert_eq!(f.final_resolution().unwrap().seconds, 5400.0);
    }

    #[test]
    fn business_seconds_follow_the_calendar_across_a_dst_change() {
        let calendar = Calendar::parse(&CalendarSpec {
            name: None,
            time_zone: "Europe/Berlin".into(),
            hours: [("mon", "09:00-17:00"), ("fri", "09:00-17:00")]
                .into_iter()
                .map(|(d, s)| (d.to_string(), vec![s.to_string()]))
                .collect(),
            holidays: vec![],
        })
        .unwrap();
        // Friday 16:00 CEST before the autumn change, answered Monday 10:00 CET.
        let t0 = datetime!(2026-10-23 14:00 UTC);
        let events = [
            created(t0, None),
            reply(datetime!(2026-10-26 09:00 UTC), Actor::Agent(1)),
        ];
        let fr = compute(t0, &events, &calendar).first_response.unwrap();
        assert_eq!(fr.business_seconds, 7200.0);
        assert_eq!(fr.seconds, 67.0 * 3600.0);
    }

    #[test]
    fn spam_merged_and_unanswered_bulk_mail_are_excluded() {
        let t0 = datetime!(2026-03-02 10:00 UTC);
        let bulk = [created(t0, Some(Automated::List))];
        assert_eq!(
            compute(t0, &bulk, &Calendar::always()).excluded,
            Some(Exclusion::Bulk)
        );
        let answered = [
            created(t0, Some(Automated::List)),
            reply(datetime!(2026-03-02 11:00 UTC), Actor::Agent(1)),
        ];
        assert_eq!(compute(t0, &answered, &Calendar::always()).excluded, None);
        let spam = [
            created(t0, None),
            at(t0, Actor::Agent(1), TimelineEvent::MarkedSpam {}),
        ];
        assert_eq!(
            compute(t0, &spam, &Calendar::always()).excluded,
            Some(Exclusion::Spam)
        );
        let unspammed = [
            created(t0, None),
            at(t0, Actor::Agent(1), TimelineEvent::MarkedSpam {}),
            at(t0, Actor::Agent(1), TimelineEvent::UnmarkedSpam {}),
        ];
        assert_eq!(compute(t0, &unspammed, &Calendar::always()).excluded, None);
        let merged = [
            created(t0, None),
            at(
                t0,
                Actor::Agent(1),
                TimelineEvent::MergedInto {
                    target: 2,
                    messages: 1,
                    cross_mailbox: None,
                },
            ),
        ];
        assert_eq!(
            compute(t0, &merged, &Calendar::always()).excluded,
            Some(Exclusion::Merged)
        );
    }
}
