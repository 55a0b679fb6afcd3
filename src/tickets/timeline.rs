//! The ticket timeline: one typed event for every change to a ticket, whoever made it.
//!
//! [`record`] is the one way an event is written. In the caller's transaction it appends the
//! `ticket_event` row (kind check-constrained in SQL to [`TimelineEvent::KINDS`]), runs
//! [`after_event`] (the hook point where routing rules and SLA clocks plug in) and sends the
//! live notification that open pages and inboxes react to. Every operation of this module's
//! parent (`tickets`) ends in it, so what the timeline says is what happened.
//!
//! Stored shape: `kind` is the variant's snake_case name, `detail` its fields as JSON (the
//! same shape the API's `events[].detail` shows); who did it is `actor_kind` plus `agent_id`
//! or `rule_id`.

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use time::OffsetDateTime;

use super::model::{Automated, Priority, TicketStatus};
use crate::live::LiveEvent;
use crate::sla::policies::ClockKind;

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A signed-in agent (web or API), by `agent_id`.
    Agent(i64),
    /// The customer, by writing mail.
    Customer,
    /// Frontdesk itself: a snooze ending, a failed delivery, a bounce.
    System,
    /// A routing rule, by its id (the rules issue stores them).
    Rule(i64),
}

impl Actor {
    /// The `actor_kind` column's word.
    pub fn kind(self) -> &'static str {
        match self {
            Actor::Agent(_) => "agent",
            Actor::Customer => "customer",
            Actor::System => "system",
            Actor::Rule(_) => "rule",
        }
    }

    /// The agent's id when an agent acted.
    pub fn agent_id(self) -> Option<i64> {
        match self {
            Actor::Agent(id) => Some(id),
            _ => None,
        }
    }

    fn rule_id(self) -> Option<i64> {
        match self {
            Actor::Rule(id) => Some(id),
            _ => None,
        }
    }
}

/// How a ticket came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// An inbound mail in a shared mailbox.
    Email,
}

/// Why a status changed when no agent chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusReason {
    /// List or bulk mail opens its ticket closed.
    BulkMail,
    /// The customer wrote again.
    CustomerReply,
    /// The snooze time passed.
    SnoozeEnded,
    /// A reply could not be delivered.
    DeliveryFailed,
    /// An SLA clock reached its warning threshold (or breached) while the ticket was snoozed.
    SlaAtRisk,
}

/// A merge across mailboxes: the mail and notes of mailbox `from` (address) moved into a ticket
/// of mailbox `into`, which gave `gained_access` (agent ids: those who see `into` but not
/// `from`) access to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossMailbox {
    pub from: String,
    pub into: String,
    pub gained_access: Vec<i64>,
}

/// One change to a ticket. Times are the row's `created_at` (UTC); ids are database ids
/// (`message_id`, `agent_id`), ticket numbers are `ticket_id`s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// The ticket was opened, at its first message's receipt time at our server.
    Created {
        via: Via,
        /// Set when the first message was automated (a system notification, list mail).
        automated: Option<Automated>,
        /// The first message (absent on tickets created before it was recorded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<i64>,
    },
    /// A further inbound mail joined the ticket (the customer or a participant wrote, or an
    /// automated mail arrived).
    MessageReceived {
        message_id: i64,
        automated: Option<Automated>,
    },
    /// An agent's reply was written and queued for sending.
    ReplyQueued { message_id: i64 },
    /// An internal note was added.
    NoteAdded { message_id: i64 },
    /// The status changed; `snoozed_until` is Unix seconds (UTC).
    StatusChanged {
        from: TicketStatus,
        to: TicketStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<StatusReason>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snoozed_until: Option<i64>,
    },
    /// The assignee changed (agent ids; `None` = unassigned).
    Assigned { from: Option<i64>, to: Option<i64> },
    /// The priority changed.
    PriorityChanged { from: Priority, to: Priority },
    /// Tags were added or removed (names as given).
    TagsChanged {
        added: Vec<String>,
        removed: Vec<String>,
    },
    /// Marked as spam.
    MarkedSpam {},
    /// Taken out of spam.
    UnmarkedSpam {},
    /// This ticket was merged into `target`; `messages` moved. `cross_mailbox` when the two
    /// were in different mailboxes (absent on same-mailbox merges and older rows).
    MergedInto {
        target: i64,
        messages: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cross_mailbox: Option<CrossMailbox>,
    },
    /// Ticket `source` was merged into this one; `messages` moved. `cross_mailbox` as for
    /// `MergedInto`.
    MergedFrom {
        source: i64,
        messages: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cross_mailbox: Option<CrossMailbox>,
    },
    /// A reply failed permanently (the SMTP server's answer in `error`).
    DeliveryFailed { message_id: i64, error: String },
    /// A bounce (RFC 3464) arrived for replies of this ticket: the bounce message, the replies
    /// it marked failed, and the reason line.
    BounceReceived {
        bounce_message_id: i64,
        failed_message_ids: Vec<i64>,
        reason: String,
    },
    /// The ticket's team changed (`None` = no team).
    TeamChanged {
        from: Option<TeamRef>,
        to: Option<TeamRef>,
    },
    /// A routing rule fired: which rule, the conditions that matched (in words, e.g.
    /// "subject contains 'refund'") and what it changed ("assigned to Dana Lee"). The changes
    /// themselves are recorded as their own events with the rule as actor.
    RuleFired {
        rule: RuleRef,
        matched: Vec<String>,
        changes: Vec<String>,
    },
    /// An SLA clock reached its policy's warning threshold (that percentage of its target is
    /// left); `due_at` is the clock's due instant (UTC).
    SlaWarning {
        clock: ClockKind,
        #[serde(with = "time::serde::rfc3339")]
        due_at: OffsetDateTime,
    },
    /// An SLA clock breached: it was not met by `due_at` (UTC), which is also the breach time
    /// stored on the clock (the event itself is recorded within seconds after it).
    SlaBreached {
        clock: ClockKind,
        #[serde(with = "time::serde::rfc3339")]
        due_at: OffsetDateTime,
    },
    /// The ticket's SLA policy changed (`None` = no policy); running clocks were recomputed.
    SlaPolicyChanged {
        from: Option<PolicyRef>,
        to: Option<PolicyRef>,
    },
    /// The customer answered the CSAT survey of a resolution (a later answer replaces an
    /// earlier one on the survey; each is its own event). `comment`: their text, if any.
    CsatRated {
        rating: crate::csat::Rating,
        #[serde(default)]
        comment: Option<String>,
    },
}

/// An SLA policy as named on the timeline (its name at the time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    pub id: i64,
    pub name: String,
}

/// A team as named on the timeline (its name at the time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRef {
    pub id: i64,
    pub name: String,
}

/// A rule as named on the timeline (its name at the time it fired).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRef {
    pub id: i64,
    pub name: String,
}

impl TimelineEvent {
    /// Every stored kind; the `ticket_event_kind_check` constraint lists the same words (a
    /// test checks they agree).
    pub const KINDS: &'static [&'static str] = &[
        "created",
        "message_received",
        "reply_queued",
        "note_added",
        "status_changed",
        "assigned",
        "priority_changed",
        "tags_changed",
        "marked_spam",
        "unmarked_spam",
        "merged_into",
        "merged_from",
        "delivery_failed",
        "bounce_received",
        "rule_fired",
        "team_changed",
        "sla_warning",
        "sla_breached",
        "sla_policy_changed",
        "csat_rated",
    ];

    /// The stored kind (the variant's snake_case name).
    pub fn kind(&self) -> &'static str {
        match self {
            TimelineEvent::Created { .. } => "created",
            TimelineEvent::MessageReceived { .. } => "message_received",
            TimelineEvent::ReplyQueued { .. } => "reply_queued",
            TimelineEvent::NoteAdded { .. } => "note_added",
            TimelineEvent::StatusChanged { .. } => "status_changed",
            TimelineEvent::Assigned { .. } => "assigned",
            TimelineEvent::PriorityChanged { .. } => "priority_changed",
            TimelineEvent::TagsChanged { .. } => "tags_changed",
            TimelineEvent::MarkedSpam {} => "marked_spam",
            TimelineEvent::UnmarkedSpam {} => "unmarked_spam",
            TimelineEvent::RuleFired { .. } => "rule_fired",
            TimelineEvent::TeamChanged { .. } => "team_changed",
            TimelineEvent::MergedInto { .. } => "merged_into",
            TimelineEvent::MergedFrom { .. } => "merged_from",
            TimelineEvent::DeliveryFailed { .. } => "delivery_failed",
            TimelineEvent::BounceReceived { .. } => "bounce_received",
            TimelineEvent::SlaWarning { .. } => "sla_warning",
            TimelineEvent::SlaBreached { .. } => "sla_breached",
            TimelineEvent::SlaPolicyChanged { .. } => "sla_policy_changed",
            TimelineEvent::CsatRated { .. } => "csat_rated",
        }
    }

    /// The `detail` JSON (the variant's fields).
    pub fn detail(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("events serialise");
        v.get_mut("detail")
            .map(serde_json::Value::take)
            .unwrap_or_else(|| serde_json::json!({}))
    }

    /// Rebuilds an event from its stored kind and detail.
    pub fn from_row(kind: &str, detail: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(serde_json::json!({"kind": kind, "detail": detail}))
    }

    /// Whether the event is shown by something else on the ticket page (the message or note
    /// it is about), so the timeline need not repeat it.
    pub fn shown_as_message(&self) -> bool {
        matches!(
            self,
            TimelineEvent::Created { .. }
                | TimelineEvent::MessageReceived { .. }
                | TimelineEvent::ReplyQueued { .. }
                | TimelineEvent::NoteAdded { .. }
        )
    }

    /// The live event open pages get: `message` when the conversation changed, else `ticket`.
    fn live(&self, ticket: i64, mailbox: i64) -> LiveEvent {
        match self {
            TimelineEvent::MessageReceived { .. }
            | TimelineEvent::ReplyQueued { .. }
            | TimelineEvent::NoteAdded { .. }
            | TimelineEvent::DeliveryFailed { .. }
            | TimelineEvent::BounceReceived { .. }
            | TimelineEvent::MergedFrom { .. } => LiveEvent::Message { ticket, mailbox },
            _ => LiveEvent::Ticket { ticket, mailbox },
        }
    }
}

/// A recorded event as the hook sees it.
#[derive(Debug, Clone)]
pub struct Recorded<'a> {
    /// The ticket's number (`ticket_id`).
    pub ticket: i64,
    /// The ticket's mailbox.
    pub mailbox: i64,
    pub actor: Actor,
    pub event: &'a TimelineEvent,
}

/// Appends `event` to the ticket's timeline at the transaction's time, runs the hook and
/// sends the live notification (delivered when the caller's transaction commits).
pub async fn record(
    conn: &mut PgConnection,
    ticket: i64,
    actor: Actor,
    event: &TimelineEvent,
) -> sqlx::Result<()> {
    let mailbox = insert(conn, ticket, actor, event).await?;
    after_event(
        conn,
        &Recorded {
            ticket,
            mailbox,
            actor,
            event,
        },
    )
    .await?;
    crate::live::notify(&mut *conn, &event.live(ticket, mailbox)).await
}

/// Events held back to be recorded together: ingest stores a whole batch of mail in one
/// transaction and records all of its events with one statement at the end
/// ([`record_pending`]), instead of one statement per mail. Nothing is written until then;
/// dropping the buffer (a mail's savepoint rolled back) forgets its events.
#[derive(Debug, Default)]
pub struct PendingEvents {
    /// `(ticket, actor, event, time)`; time `None` = the transaction's.
    rows: Vec<(i64, Actor, TimelineEvent, Option<OffsetDateTime>)>,
}

impl PendingEvents {
    /// Holds `event` for `ticket`, at `at` (UTC; `None` = when it is recorded).
    pub fn push(
        &mut self,
        ticket: i64,
        actor: Actor,
        event: TimelineEvent,
        at: Option<OffsetDateTime>,
    ) {
        self.rows.push((ticket, actor, event, at));
    }

    /// Moves `other`'s events after this buffer's.
    pub fn append(&mut self, mut other: PendingEvents) {
        self.rows.append(&mut other.rows);
    }

    /// How many events are held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no event is held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Records every held event in one statement, in the order they were held, and runs the hook
/// for the batch (webhook deliveries and routing rules over all of its events at once:
/// `webhooks::queue::on_events`, `rules::batch`), without a
/// live notification: ingest notifies a whole batch of mail at once
/// ([`super::notify_ingested`]).
pub async fn record_pending(conn: &mut PgConnection, pending: PendingEvents) -> sqlx::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let rows = &pending.rows;
    let mut laps = crate::telemetry::Laps::start();
    let mailboxes: std::collections::HashMap<i64, i64> = sqlx::query_as::<_, (i64, i64)>(
        "with e as (
            insert into ticket_event (ticket_id, kind, detail, actor_kind, agent_id, rule_id, created_at)
            select x.ticket, x.kind, x.detail, x.actor, x.agent, x.rule, coalesce(x.at, now())
            from unnest($1::bigint[], $2::text[], $3::jsonb[], $4::text[], $5::bigint[], $6::bigint[],
                        $7::timestamptz[]) with ordinality
                 as x(ticket, kind, detail, actor, agent, rule, at, n)
            order by x.n
         )
         select ticket_id, mailbox_id from ticket where ticket_id = any($1)",
    )
    .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.2.kind()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.2.detail()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.1.kind()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.1.agent_id()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.1.rule_id()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.3).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    laps.lap("insert");
    // New tickets' default SLA policies, set-based; then the SLA clocks only of tickets that
    // have a policy (or clocks to drop); then new tickets' metric rows, which read their
    // clocks' results as they are written (rather than being updated by the clock trigger).
    let created: Vec<(i64, Option<Automated>)> = rows
        .iter()
        .filter_map(|(t, _, e, _)| match e {
            TimelineEvent::Created { automated, .. } => Some((*t, *automated)),
            _ => None,
        })
        .collect();
    let created_ids: Vec<i64> = created.iter().map(|c| c.0).collect();
    crate::sla::clocks::assign_default_policies(conn, &created_ids).await?;
    let mut recorded = Vec::with_capacity(rows.len());
    for (ticket, actor, event, _) in rows {
        let mailbox = *mailboxes.get(ticket).ok_or(sqlx::Error::RowNotFound)?;
        let r = Recorded {
            ticket: *ticket,
            mailbox,
            actor: *actor,
            event,
        };
        log_event(&r);
        recorded.push(r);
    }
    // The SLA clocks of the whole batch first (as each event's clocks moved before its other
    // hooks), then the other hooks event by event.
    laps.lap("policies");
    let breaches = crate::sla::clocks::on_events(conn, &recorded).await?;
    laps.lap("sla");
    crate::analytics::metrics::on_created(conn, &created).await?;
    laps.lap("metrics");
    // Breaches found on the way are recorded once the new tickets' rows are complete (their
    // rules may change those tickets).
    breaches.record(conn).await?;
    laps.lap("breaches");
    for r in &recorded {
        if !matches!(r.event, TimelineEvent::Created { .. }) {
            crate::analytics::metrics::on_event(conn, r).await?;
        }
        crate::csat::survey::on_event(conn, r).await?;
        crate::rules::pull::on_event(conn, r).await?;
    }
    laps.lap("hooks");
    crate::webhooks::queue::on_events(conn, &recorded).await?;
    laps.lap("webhooks");
    // Rules run for the whole batch at once (their changes are recorded back through here
    // with a rule as actor, which triggers no rules: then the rules are not even loaded).
    if recorded.iter().any(|r| {
        !matches!(r.actor, Actor::Rule(_)) && crate::rules::engine::trigger_of(r.event).is_some()
    }) {
        let rules = crate::rules::engine::ActiveRules::load(conn).await?;
        crate::rules::batch::run_batch(conn, &recorded, &rules).await?;
    }
    laps.lap("rules");
    tracing::debug!(events = rows.len(), steps = %laps, "recorded a batch of events");
    Ok(())
}

/// Inserts one event at the transaction's time; returns the ticket's mailbox.
async fn insert(
    conn: &mut PgConnection,
    ticket: i64,
    actor: Actor,
    event: &TimelineEvent,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into ticket_event (ticket_id, kind, detail, actor_kind, agent_id, rule_id)
         values ($1, $2, $3, $4, $5, $6)
         returning (select mailbox_id from ticket where ticket_id = $1)",
    )
    .bind(ticket)
    .bind(event.kind())
    .bind(event.detail())
    .bind(actor.kind())
    .bind(actor.agent_id())
    .bind(actor.rule_id())
    .fetch_one(&mut *conn)
    .await
}

/// The hook point: runs after every recorded event, inside the same transaction, so what it
/// writes commits or rolls back with the change. Routing rules (trigger on the event) and SLA
/// clocks (start, pause, stop on status and message events) plug in here. SLA clocks run
/// first ([`crate::sla::clocks::on_event`], whatever the actor: a rule closing a ticket stops
/// its resolution clock too), then analytics stores a ticket's metric values when one
/// completes ([`crate::analytics::metrics::on_event`]), then a close schedules its CSAT
/// survey (a reopen cancels it: [`crate::csat::survey::on_event`]), then the event's webhook
/// deliveries are queued ([`crate::webhooks::queue::on_events`]), then routing rules
/// ([`crate::rules::engine::on_event`]): what they change commits with the event; then waiting
/// tickets go out if the change freed an agent's capacity ([`crate::rules::pull::on_event`]).
/// [`record_pending`] runs the same steps, with the rules over the whole batch at once.
pub async fn after_event(conn: &mut PgConnection, recorded: &Recorded<'_>) -> sqlx::Result<()> {
    log_event(recorded);
    crate::sla::clocks::on_event(conn, recorded).await?;
    crate::analytics::metrics::on_event(conn, recorded).await?;
    crate::csat::survey::on_event(conn, recorded).await?;
    crate::webhooks::queue::on_events(conn, std::slice::from_ref(recorded)).await?;
    crate::rules::engine::on_event(conn, recorded, None).await?;
    crate::rules::pull::on_event(conn, recorded).await
}

fn log_event(recorded: &Recorded<'_>) {
    tracing::debug!(
        ticket.number = recorded.ticket,
        mailbox.id = recorded.mailbox,
        actor = recorded.actor.kind(),
        event = recorded.event.kind(),
        "ticket event"
    );
}

/// A timeline entry as read back (`GET /api/v1/tickets/{number}`'s `events`): `kind` and
/// `detail` as stored, the actor's kind, the agent's email when an agent acted.
#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub id: i64,
    #[serde(flatten)]
    pub event: TimelineEvent,
    /// `agent`, `customer`, `system` or `rule`.
    pub actor: String,
    /// The acting agent's email.
    pub agent: Option<String>,
    pub rule_id: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The ticket's timeline, oldest first. A stored detail that no longer parses is an error
/// (`sqlx::Error::Decode`), never silently dropped.
pub async fn events(conn: &mut PgConnection, ticket: i64) -> sqlx::Result<Vec<EventView>> {
    type Row = (
        i64,
        String,
        Json<serde_json::Value>,
        String,
        Option<String>,
        Option<i64>,
        OffsetDateTime,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "select e.ticket_event_id, e.kind, e.detail, e.actor_kind, a.email, e.rule_id, e.created_at
         from ticket_event e left join agent a on a.agent_id = e.agent_id
         where e.ticket_id = $1 order by e.created_at, e.ticket_event_id",
    )
    .bind(ticket)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(id, kind, detail, actor, agent, rule_id, created_at)| {
            let event = TimelineEvent::from_row(&kind, detail.0).map_err(|e| {
                sqlx::Error::Decode(format!("ticket_event {id} ({kind}): {e}").into())
            })?;
            Ok(EventView {
                id,
                event,
                actor,
                agent,
                rule_id,
                created_at,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<TimelineEvent> {
        use TimelineEvent::*;
        vec![
            Created {
                via: Via::Email,
                automated: None,
                message_id: Some(1),
            },
            MessageReceived {
                message_id: 2,
                automated: Some(Automated::AutoReply),
            },
            ReplyQueued { message_id: 3 },
            NoteAdded { message_id: 4 },
            StatusChanged {
                from: TicketStatus::Open,
                to: TicketStatus::Snoozed,
                reason: None,
                snoozed_until: Some(1_800_000_000),
            },
            Assigned {
                from: None,
                to: Some(7),
            },
            PriorityChanged {
                from: Priority::Normal,
                to: Priority::Urgent,
            },
            TagsChanged {
                added: vec!["refund".into()],
                removed: vec![],
            },
            MarkedSpam {},
            UnmarkedSpam {},
            MergedInto {
                target: 9,
                messages: 2,
                cross_mailbox: Some(CrossMailbox {
                    from: "billing@example.com".into(),
                    into: "support@example.com".into(),
                    gained_access: vec![3, 4],
                }),
            },
            MergedFrom {
                source: 8,
                messages: 2,
                cross_mailbox: None,
            },
            DeliveryFailed {
                message_id: 5,
                error: "550 no such user".into(),
            },
            BounceReceived {
                bounce_message_id: 6,
                failed_message_ids: vec![5],
                reason: "550 5.1.1".into(),
            },
            RuleFired {
                rule: RuleRef {
                    id: 3,
                    name: "Refunds to Billing".into(),
                },
                matched: vec!["subject contains 'refund'".into()],
                changes: vec!["assigned to team Billing".into()],
            },
            TeamChanged {
                from: None,
                to: Some(TeamRef {
                    id: 2,
                    name: "Billing".into(),
                }),
            },
            SlaWarning {
                clock: ClockKind::Resolution,
                due_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            },
            SlaBreached {
                clock: ClockKind::FirstResponse,
                due_at: OffsetDateTime::from_unix_timestamp(1_800_000_060).unwrap(),
            },
            SlaPolicyChanged {
                from: None,
                to: Some(PolicyRef {
                    id: 1,
                    name: "Gold".into(),
                }),
            },
            CsatRated {
                rating: crate::csat::Rating::Bad,
                comment: Some("slow".into()),
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_through_kind_and_detail() {
        let samples = samples();
        let kinds: Vec<&str> = samples.iter().map(TimelineEvent::kind).collect();
        assert_eq!(kinds, TimelineEvent::KINDS, "one sample per kind, in order");
        for e in samples {
            let back = TimelineEvent::from_row(e.kind(), e.detail()).unwrap();
            assert_eq!(back, e);
        }
    }

    #[test]
    fn merges_recorded_before_cross_mailbox_still_parse() {
        let e = TimelineEvent::from_row(
            "merged_into",
            serde_json::json!({"target": 9, "messages": 2}),
        )
        .unwrap();
        assert_eq!(
            e,
            TimelineEvent::MergedInto {
                target: 9,
                messages: 2,
                cross_mailbox: None
            }
        );
    }

    #[test]
    fn rows_written_before_the_enum_still_parse() {
        // Shapes the earlier code stored.
        let created = TimelineEvent::from_row(
            "created",
            serde_json::json!({"via": "email", "automated": null}),
        )
        .unwrap();
        assert!(matches!(
            created,
            TimelineEvent::Created {
                message_id: None,
                ..
            }
        ));
        let status = TimelineEvent::from_row(
            "status_changed",
            serde_json::json!({"from": "open", "to": "closed", "snoozed_until": null}),
        )
        .unwrap();
        assert!(matches!(
            status,
            TimelineEvent::StatusChanged { reason: None, .. }
        ));
        assert!(TimelineEvent::from_row("marked_spam", serde_json::json!({})).is_ok());
        assert!(TimelineEvent::from_row("reopened_by_magic", serde_json::json!({})).is_err());
        assert!(
            TimelineEvent::from_row(
                "status_changed",
                serde_json::json!({"from": "open", "to": "later"})
            )
            .is_err()
        );
    }
}
