//! Rules over a batch of events: ingest stores a batch of mail in one transaction and hands
//! all of its events here at once ([`crate::tickets::timeline::record_pending`]).
//!
//! Same semantics as [`super::engine::on_event`] for each event in order (same triggers,
//! modes, firing record, loop cap, "stop", texts, events), but set-based: the facts of every
//! event come from one statement, the firing records from one more, and the changes of
//! firings whose actions only touch tags, priority and status (the common case: tagging and
//! prioritising rules) are applied to the facts in memory and written together at the end
//! (tags, ticket columns, firing records, timeline events: a handful of statements per batch).
//! A firing with any other action (assignment, notes, replies, notifications) writes what is
//! held first, then runs through the one-event path; a later event on a ticket such a firing
//! changed reads its facts back first, while one on a ticket only in-memory firings changed
//! replays their actions on its facts (no write, no read). Tickets are row-locked up front, so
//! the firing records read here stay true until the transaction ends (another node deciding
//! on the same ticket waits).

use std::collections::{HashMap, HashSet};

use sqlx::{FromRow, PgConnection};
use time::OffsetDateTime;

use super::actions::{self, FiringRecord};
use super::conditions::PreparedFacts;
use super::engine::{self, ActiveRules, BusinessHours, FactsRow, LoadedRule, tag_name};
use super::model::{Action, Mode, Status};
use crate::live::LiveEvent;
use crate::tickets::timeline::{self, Actor, PendingEvents, Recorded, RuleRef, TimelineEvent};
use crate::tickets::{Priority, TicketStatus};

/// An event of the batch that rules look at.
struct Work<'r> {
    ticket: i64,
    mailbox: i64,
    message: Option<i64>,
    rules: &'r [LoadedRule],
}

/// A firing record as stored: `fired_count` and `matched` (see `rule_ticket_state`).
#[derive(Debug, Clone, Copy, Default)]
struct State {
    fired_count: i32,
    matched: bool,
}

/// What the batch changed and has not written yet.
#[derive(Default)]
struct Held {
    /// Each changed ticket's whole tag list (names as the rules give them).
    tags: HashMap<i64, Vec<String>>,
    priority: HashMap<i64, Priority>,
    /// New status and `snoozed_until` (UTC).
    status: HashMap<i64, (TicketStatus, Option<OffsetDateTime>)>,
    /// Firing records to store, and whether this batch fired the rule (sets `last_fired_at`).
    states: HashMap<(i64, i64), (State, bool)>,
    events: PendingEvents,
    /// Tickets changed, with their mailbox (for the live notification).
    tickets: HashMap<i64, i64>,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.states.is_empty() && self.events.is_empty()
    }
}

/// Evaluates and fires the rules for every event of the batch, in order (see the module's
/// notes). `active`: the enabled rules, loaded once for the batch.
pub async fn run_batch(
    conn: &mut PgConnection,
    events: &[Recorded<'_>],
    active: &ActiveRules,
) -> sqlx::Result<()> {
    let work: Vec<Work> = events
        .iter()
        .filter_map(|r| {
            if matches!(r.actor, Actor::Rule(_)) {
                return None;
            }
            let rules = active.for_trigger(engine::trigger_of(r.event)?);
            (!rules.is_empty()).then(|| Work {
                ticket: r.ticket,
                mailbox: r.mailbox,
                message: engine::message_of(r.event),
                rules,
            })
        })
        .collect();
    if work.is_empty() {
        return Ok(());
    }
    let tickets: Vec<i64> = work.iter().map(|w| w.ticket).collect();
    sqlx::query("select 1 from ticket where ticket_id = any($1) order by ticket_id for update")
        .bind(&tickets)
        .execute(&mut *conn)
        .await?;
    let mut hours = BusinessHours::default();
    let mut facts = batch_facts(conn, &work, &mut hours).await?;
    let mut states = firing_records(conn, &tickets).await?;

    let mut held = Held::default();
    let mut fired_rules: Vec<i64> = Vec::new();
    // tickets a one-event firing changed in this batch: a later event on them reads its facts
    // (and firing records) back
    let mut reread: HashSet<i64> = HashSet::new();
    // per ticket, the actions of this batch's in-memory firings in order, and how many: a
    // later event on the ticket replays them on its facts (read before any firing) instead of
    // writing what is held and reading the ticket back
    let mut replay: HashMap<i64, (Vec<&[Action]>, u32)> = HashMap::new();
    for (i, w) in work.iter().enumerate() {
        let loaded = if reread.contains(&w.ticket) {
            flush(conn, &mut held).await?;
            reload_states(conn, w.ticket, &mut states).await?;
            engine::load_facts_counted(conn, w.ticket, w.message, false, &mut hours).await?
        } else {
            match (facts[i].take(), replay.get(&w.ticket)) {
                (Some((f, n)), Some((lists, fired))) => {
                    let mut f = Some(f);
                    for list in lists {
                        f = f.and_then(|f| engine::updated_facts(&f, list));
                    }
                    let f = f.expect("in-memory firings only hold actions updated_facts knows");
                    Some((f, n + fired))
                }
                (loaded, _) => loaded,
            }
        };
        let Some((mut f, mut firings)) = loaded else {
            continue;
        };
        for rule in w.rules {
            if !actions::within_loop_cap(firings) {
                tracing::warn!(
                    ticket.number = w.ticket,
                    rule.id = rule.id,
                    "rule firing cap reached for this ticket; later rules skipped"
                );
                break;
            }
            let r = rule.compiled.rule();
            let evaluation = rule.compiled.evaluate(&f);
            if !evaluation.matched && r.mode != Mode::OnStateEntry {
                continue;
            }
            let key = (rule.id, w.ticket);
            let state = states.get(&key).copied();
            let decision = actions::decide(
                r.mode,
                evaluation.matched,
                FiringRecord {
                    fired_before: state.is_some_and(|s| s.fired_count > 0),
                    held_before: state.is_some_and(|s| s.matched),
                },
            );
            if !decision.fire {
                if let Some(s) = state.filter(|s| s.matched != decision.held_now) {
                    let s = State {
                        matched: decision.held_now,
                        ..s
                    };
                    states.insert(key, s);
                    held.states.entry(key).or_insert((s, false)).0 = s;
                }
                continue;
            }
            if all_in_memory(&r.actions) {
                let s = State {
                    fired_count: state.map_or(0, |s| s.fired_count) + 1,
                    matched: decision.held_now,
                };
                states.insert(key, s);
                held.states.insert(key, (s, true));
                let changes = apply_in_memory(&mut held, w, rule.id, &r.actions, &f);
                held.events.push(
                    w.ticket,
                    Actor::Rule(rule.id),
                    TimelineEvent::RuleFired {
                        rule: RuleRef {
                            id: rule.id,
                            name: r.name.clone(),
                        },
                        matched: evaluation.matched_conditions.clone(),
                        changes,
                    },
                    None,
                );
                held.tickets.insert(w.ticket, w.mailbox);
                let (lists, fired) = replay.entry(w.ticket).or_default();
                lists.push(&r.actions);
                *fired += 1;
            } else {
                flush(conn, &mut held).await?;
                if !engine::fire_if_due(conn, w.ticket, rule, &evaluation, &f).await? {
                    continue;
                }
                reload_states(conn, w.ticket, &mut states).await?;
                reread.insert(w.ticket);
            }
            firings += 1;
            fired_rules.push(rule.id);
            if r.stop {
                break;
            }
            // later rules see what this one changed
            f = match engine::updated_facts(&f, &r.actions) {
                Some(updated) => updated,
                None => {
                    flush(conn, &mut held).await?;
                    match engine::load_facts_counted(conn, w.ticket, w.message, false, &mut hours)
                        .await?
                    {
                        Some((updated, _)) => updated,
                        None => break,
                    }
                }
            };
        }
    }
    flush(conn, &mut held).await?;
    engine::count_firings(conn, &fired_rules).await
}

/// The facts of every event, in `work`'s order, from one statement (the SQL function
/// `rule_facts_batch`, the batch twin of `rule_facts`).
async fn batch_facts(
    conn: &mut PgConnection,
    work: &[Work<'_>],
    hours: &mut BusinessHours,
) -> sqlx::Result<Vec<Option<(PreparedFacts, u32)>>> {
    #[derive(FromRow)]
    struct Numbered {
        n: i64,
        #[sqlx(flatten)]
        facts: FactsRow,
    }
    let rows: Vec<Numbered> = sqlx::query_as("select * from rule_facts_batch($1, $2)")
        .bind(work.iter().map(|w| w.ticket).collect::<Vec<_>>())
        .bind(work.iter().map(|w| w.message).collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await?;
    let mut out: Vec<Option<(PreparedFacts, u32)>> = (0..work.len()).map(|_| None).collect();
    for row in rows {
        let open = hours.now_open(conn, row.facts.calendar_id).await?;
        if let Some(slot) = usize::try_from(row.n - 1).ok().and_then(|i| out.get_mut(i)) {
            *slot = Some(row.facts.into_facts(open));
        }
    }
    Ok(out)
}

/// The firing records of these tickets.
async fn firing_records(
    conn: &mut PgConnection,
    tickets: &[i64],
) -> sqlx::Result<HashMap<(i64, i64), State>> {
    let rows: Vec<(i64, i64, i32, bool)> = sqlx::query_as(
        "select rule_id, ticket_id, fired_count, matched from rule_ticket_state
         where ticket_id = any($1)",
    )
    .bind(tickets)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(rule, ticket, fired_count, matched)| {
            (
                (rule, ticket),
                State {
                    fired_count,
                    matched,
                },
            )
        })
        .collect())
}

/// Reads one ticket's firing records back (after the one-event path wrote some).
async fn reload_states(
    conn: &mut PgConnection,
    ticket: i64,
    states: &mut HashMap<(i64, i64), State>,
) -> sqlx::Result<()> {
    states.retain(|(_, t), _| *t != ticket);
    states.extend(firing_records(conn, &[ticket]).await?);
    Ok(())
}

/// Whether every action only changes tags, priority or status (applied in memory, written
/// with the batch).
fn all_in_memory(list: &[Action]) -> bool {
    list.iter().all(|a| match a {
        Action::AddTag { tag } | Action::RemoveTag { tag } => tag_name(tag).is_some(),
        Action::SetPriority { .. } | Action::SetStatus { .. } | Action::Snooze { .. } => true,
        _ => false,
    })
}

/// Applies tag, priority and status actions to what is held for the ticket, with their
/// timeline events (the same events and texts as the one-event path); returns the texts.
fn apply_in_memory(
    held: &mut Held,
    w: &Work<'_>,
    rule_id: i64,
    list: &[Action],
    facts: &PreparedFacts,
) -> Vec<String> {
    let actor = Actor::Rule(rule_id);
    let f = facts.facts();
    let mut tags = f.tags.clone();
    let mut priority = f.priority;
    let mut status = f.status;
    let mut changes = Vec::new();
    for action in list {
        let event = match action {
            Action::AddTag { tag } | Action::RemoveTag { tag } => {
                let name = tag_name(tag).expect("checked by all_in_memory");
                let add = matches!(action, Action::AddTag { .. });
                if add == tags.iter().any(|t| t.eq_ignore_ascii_case(name)) {
                    continue;
                }
                if add {
                    tags.push(name.to_string());
                    changes.push(format!("added tag {tag}"));
                } else {
                    tags.retain(|t| !t.eq_ignore_ascii_case(name));
                    changes.push(format!("removed tag {tag}"));
                }
                held.tags.insert(w.ticket, tags.clone());
                TimelineEvent::TagsChanged {
                    added: if add { vec![name.to_string()] } else { vec![] },
                    removed: if add { vec![] } else { vec![name.to_string()] },
                }
            }
            Action::SetPriority { priority: p } => {
                if priority == *p {
                    continue;
                }
                let (from, to) = (engine::to_priority(priority), engine::to_priority(*p));
                priority = *p;
                held.priority.insert(w.ticket, to);
                changes.push(format!("set priority to {to}"));
                TimelineEvent::PriorityChanged { from, to }
            }
            Action::SetStatus { status: s } => {
                if status == *s {
                    continue;
                }
                let (from, to) = (engine::to_status(status), engine::to_status(*s));
                status = *s;
                held.status.insert(w.ticket, (to, None));
                changes.push(format!("set status to {to}"));
                TimelineEvent::StatusChanged {
                    from,
                    to,
                    reason: None,
                    snoozed_until: None,
                }
            }
            Action::Snooze { minutes } => {
                let until = OffsetDateTime::now_utc() + time::Duration::minutes(*minutes);
                let from = engine::to_status(status);
                held.status
                    .insert(w.ticket, (TicketStatus::Snoozed, Some(until)));
                changes.push(actions::describe_action(action, &|_| None));
                if status == Status::Snoozed {
                    continue;
                }
                status = Status::Snoozed;
                TimelineEvent::StatusChanged {
                    from,
                    to: TicketStatus::Snoozed,
                    reason: None,
                    snoozed_until: Some(until.unix_timestamp()),
                }
            }
            _ => unreachable!("checked by all_in_memory"),
        };
        held.events.push(w.ticket, actor, event, None);
    }
    changes
}

/// Writes what is held: tags, ticket columns, firing records, then the timeline events
/// (through the timeline's batch path, so every hook runs) and one live notification per
/// changed ticket.
async fn flush(conn: &mut PgConnection, held: &mut Held) -> sqlx::Result<()> {
    if held.is_empty() {
        return Ok(());
    }
    let h = std::mem::take(held);
    if !h.tags.is_empty() {
        let mut tickets = Vec::new();
        let mut names = Vec::new();
        for (ticket, list) in &h.tags {
            for name in list {
                tickets.push(*ticket);
                names.push(name.clone());
            }
        }
        sqlx::query(
            "insert into tag (name) select distinct unnest($1::text[]) on conflict (lower(name)) do nothing",
        )
        .bind(&names)
        .execute(&mut *conn)
        .await?;
        // only what changed is deleted and inserted: every ticket_tag row written moves the
        // sidebar's tag counts (a trigger)
        sqlx::query(
            "delete from ticket_tag tt where tt.ticket_id = any($1)
               and not exists (select 1 from unnest($2::bigint[], $3::text[]) as x(t, name)
                               join tag g on lower(g.name) = lower(x.name)
                               where x.t = tt.ticket_id and g.tag_id = tt.tag_id)",
        )
        .bind(h.tags.keys().copied().collect::<Vec<_>>())
        .bind(&tickets)
        .bind(&names)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "insert into ticket_tag (ticket_id, tag_id)
             select distinct x.t, g.tag_id from unnest($1::bigint[], $2::text[]) as x(t, name)
             join tag g on lower(g.name) = lower(x.name)
             on conflict do nothing",
        )
        .bind(&tickets)
        .bind(&names)
        .execute(&mut *conn)
        .await?;
    }
    let columns: HashSet<i64> = h.priority.keys().chain(h.status.keys()).copied().collect();
    if !columns.is_empty() {
        let ids: Vec<i64> = columns.into_iter().collect();
        sqlx::query(
            "update ticket t set priority = coalesce(x.p, t.priority),
                    status = coalesce(x.s, t.status),
                    snoozed_until = case when x.s is null then t.snoozed_until else x.u end
             from unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[]) as x(t, p, s, u)
             where t.ticket_id = x.t",
        )
        .bind(&ids)
        .bind(
            ids.iter()
                .map(|t| h.priority.get(t).map(|p| p.to_string()))
                .collect::<Vec<_>>(),
        )
        .bind(
            ids.iter()
                .map(|t| h.status.get(t).map(|s| s.0.to_string()))
                .collect::<Vec<_>>(),
        )
        .bind(
            ids.iter()
                .map(|t| h.status.get(t).and_then(|s| s.1))
                .collect::<Vec<_>>(),
        )
        .execute(&mut *conn)
        .await?;
    }
    if !h.states.is_empty() {
        let rows: Vec<_> = h.states.iter().collect();
        sqlx::query(
            "insert into rule_ticket_state (rule_id, ticket_id, fired_count, last_fired_at, matched)
             select x.r, x.t, x.c, case when x.f then now() end, x.m
             from unnest($1::bigint[], $2::bigint[], $3::int[], $4::bool[], $5::bool[]) as x(r, t, c, m, f)
             on conflict (rule_id, ticket_id) do update
                set fired_count = excluded.fired_count, matched = excluded.matched,
                    last_fired_at = coalesce(excluded.last_fired_at, rule_ticket_state.last_fired_at)",
        )
        .bind(rows.iter().map(|(k, _)| k.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|(k, _)| k.1).collect::<Vec<_>>())
        .bind(rows.iter().map(|(_, v)| v.0.fired_count).collect::<Vec<_>>())
        .bind(rows.iter().map(|(_, v)| v.0.matched).collect::<Vec<_>>())
        .bind(rows.iter().map(|(_, v)| v.1).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    // the events' hooks see the changes above; their actor is a rule, so no rules run again
    Box::pin(timeline::record_pending(conn, h.events)).await?;
    let live: Vec<LiveEvent> = h
        .tickets
        .iter()
        .map(|(&ticket, &mailbox)| LiveEvent::Ticket { ticket, mailbox })
        .collect();
    crate::live::notify_all(conn, &live).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::model::Priority as RulePriority;

    #[test]
    fn only_tag_priority_and_status_actions_are_applied_in_memory() {
        let tag = |t: &str| Action::AddTag { tag: t.into() };
        assert!(all_in_memory(&[
            tag("refund"),
            Action::SetPriority {
                priority: RulePriority::High
            },
            Action::Snooze { minutes: 5 },
        ]));
        assert!(!all_in_memory(&[tag("refund"), Action::Unassign]));
        // a tag the tag store refuses goes the one-event path, which reports the refusal
        assert!(!all_in_memory(&[tag("#  ")]));
        assert!(!all_in_memory(&[tag(&"x".repeat(51))]));
        assert_eq!(tag_name(" #vip "), Some("vip"));
    }
}
