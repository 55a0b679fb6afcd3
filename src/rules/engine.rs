//! Running rules against the database: the timeline hook ([`on_event`]), the `time` trigger's
//! scheduler ([`run_time_rules`]) and the dry run ([`dry_run`]).
//!
//! Rules run inside the transaction of the change that triggered them (ingest's batch, an
//! agent's action), so a crash never leaves half a rule applied; `time` rules run in a
//! transaction per ticket. Their changes go through `tickets::actions` with
//! [`Actor::Rule`], so each is its own timeline event naming the rule, and they do not trigger
//! rules again (domain notes §3); a `rule_fired` event says why. The per-ticket firing record
//! (`rule_ticket_state`, row-locked while deciding) makes "once" hold across nodes and
//! restarts; at most [`actions::MAX_FIRINGS_PER_TICKET_PER_HOUR`] firings per ticket per hour.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use futures::future::BoxFuture;
use sqlx::{FromRow, PgConnection, PgPool};
use time::OffsetDateTime;

use super::actions::{self, FiringRecord};
use super::assignment::{self, AssignmentMode, Candidate};
use super::conditions::{CompiledRule, Evaluation, PreparedFacts, TicketFacts};
use super::model::{Action, Automated, Priority as RulePriority, Rule, Status, Trigger};
use crate::tickets::actions::{self as ticket_actions, ActionError};
use crate::tickets::timeline::{self, Actor, Recorded, RuleRef, TimelineEvent};
use crate::tickets::{Priority, TicketStatus};

/// The trigger an event is, if any: what rules with that trigger are evaluated on.
pub fn trigger_of(event: &TimelineEvent) -> Option<Trigger> {
    Some(match event {
        TimelineEvent::Created { .. } => Trigger::TicketCreated,
        TimelineEvent::MessageReceived { .. } => Trigger::CustomerReplied,
        TimelineEvent::ReplyQueued { .. } => Trigger::AgentReplied,
        TimelineEvent::NoteAdded { .. } => Trigger::NoteAdded,
        TimelineEvent::StatusChanged { .. } => Trigger::StatusChanged,
        TimelineEvent::Assigned { .. } => Trigger::AssigneeChanged,
        TimelineEvent::PriorityChanged { .. } => Trigger::PriorityChanged,
        TimelineEvent::TagsChanged { .. } => Trigger::TagsChanged,
        TimelineEvent::SlaWarning { .. } => Trigger::SlaWarning,
        TimelineEvent::SlaBreached { .. } => Trigger::SlaBreached,
        TimelineEvent::CsatRated { .. } => Trigger::CsatRated,
        _ => return None,
    })
}

/// The message an event is about (its facts' `from`, `body`...), if it names one.
pub(super) fn message_of(event: &TimelineEvent) -> Option<i64> {
    match event {
        TimelineEvent::Created { message_id, .. } => *message_id,
        TimelineEvent::MessageReceived { message_id, .. } => Some(*message_id),
        _ => None,
    }
}

/// The timeline hook's rules part: evaluates the enabled rules whose trigger is this event,
/// in order, and fires those that match (by their mode). Changes made by rules do not
/// trigger rules. Boxed: it runs ticket actions, which record events, which call it again.
///
/// `active`: the enabled rules loaded beforehand (ingest loads them once per batch); `None`
/// loads this trigger's rules now.
pub fn on_event<'a>(
    conn: &'a mut PgConnection,
    recorded: &'a Recorded<'a>,
    active: Option<&'a ActiveRules>,
) -> BoxFuture<'a, sqlx::Result<()>> {
    Box::pin(async move {
        if matches!(recorded.actor, Actor::Rule(_)) {
            return Ok(());
        }
        let Some(trigger) = trigger_of(recorded.event) else {
            return Ok(());
        };
        let loaded;
        let rules: &[LoadedRule] = match active {
            Some(a) => a.for_trigger(trigger),
            None => {
                loaded = enabled_rules(conn, Some(trigger)).await?;
                &loaded
            }
        };
        if rules.is_empty() {
            return Ok(());
        }
        let csat = match recorded.event {
            TimelineEvent::CsatRated { rating, .. } => Some(*rating),
            _ => None,
        };
        run_rules(
            conn,
            recorded.ticket,
            message_of(recorded.event),
            csat,
            rules,
        )
        .await
    })
}

/// Every enabled rule, loaded once for a batch of events, by trigger.
#[derive(Debug, Default)]
pub struct ActiveRules {
    by_trigger: HashMap<Trigger, Vec<LoadedRule>>,
}

impl ActiveRules {
    /// Loads every enabled rule (one query).
    pub async fn load(conn: &mut PgConnection) -> sqlx::Result<ActiveRules> {
        let mut by_trigger: HashMap<Trigger, Vec<LoadedRule>> = HashMap::new();
        for rule in enabled_rules(conn, None).await? {
            by_trigger
                .entry(rule.compiled.rule().trigger)
                .or_default()
                .push(rule);
        }
        Ok(ActiveRules { by_trigger })
    }

    /// The enabled rules with this trigger, in order.
    pub fn for_trigger(&self, trigger: Trigger) -> &[LoadedRule] {
        self.by_trigger
            .get(&trigger)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// A stored rule, compiled.
#[derive(Debug)]
pub struct LoadedRule {
    pub id: i64,
    pub compiled: Arc<CompiledRule>,
}

/// Compiled rules by their stored JSON text: a rule is compiled (regexes and all) once per
/// version in a process, whatever database it came from.
fn compiled_cache() -> &'static Mutex<HashMap<String, Arc<CompiledRule>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<CompiledRule>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn compile(text: &str) -> Option<Arc<CompiledRule>> {
    if let Some(c) = compiled_cache().lock().expect("rule cache").get(text) {
        return Some(c.clone());
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let compiled = match Rule::from_json(&value)
        .map_err(|e| vec![e])
        .and_then(CompiledRule::new)
    {
        Ok(c) => Arc::new(c),
        Err(errors) => {
            tracing::error!(?errors, "a stored rule no longer compiles; it is skipped");
            return None;
        }
    };
    let mut cache = compiled_cache().lock().expect("rule cache");
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(text.to_string(), compiled.clone());
    Some(compiled)
}

/// The SQL expression giving a `rule` row as the API's JSON shape.
pub const RULE_JSON: &str =
    "jsonb_build_object('name', r.name, 'enabled', r.enabled, 'trigger', r.trigger,
    'conditions', r.conditions, 'actions', r.actions, 'mode', r.mode, 'stop', r.stop)";

/// Enabled rules with this trigger (`None`: all), in order.
pub async fn enabled_rules(
    conn: &mut PgConnection,
    trigger: Option<Trigger>,
) -> sqlx::Result<Vec<LoadedRule>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
        "select r.rule_id, {RULE_JSON}::text from rule r
         where r.enabled and ($1::text is null or r.trigger = $1) order by r.position, r.rule_id"
    ))
    .bind(trigger.map(Trigger::as_str))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, text)| compile(&text).map(|compiled| LoadedRule { id, compiled }))
        .collect())
}

/// Evaluates `rules` in order on the ticket and fires those that match.
async fn run_rules(
    conn: &mut PgConnection,
    ticket: i64,
    message: Option<i64>,
    csat: Option<crate::csat::Rating>,
    rules: &[LoadedRule],
) -> sqlx::Result<()> {
    let mut hours = BusinessHours::default();
    let Some((mut facts, mut firings)) =
        load_facts_counted(conn, ticket, message, false, &mut hours).await?
    else {
        return Ok(());
    };
    facts.set_csat(csat);
    let mut fired = Vec::new();
    for rule in rules {
        if !actions::within_loop_cap(firings) {
            tracing::warn!(
                ticket.number = ticket,
                rule.id = rule.id,
                "rule firing cap reached for this ticket; later rules skipped"
            );
            break;
        }
        let evaluation = rule.compiled.evaluate(&facts);
        if fire_if_due(conn, ticket, rule, &evaluation, &facts).await? {
            firings += 1;
            fired.push(rule.id);
            if rule.compiled.rule().stop {
                break;
            }
            // later rules see what this one changed: simple changes are applied to the facts
            // here, the others (assignment, notes, replies) read back
            match updated_facts(&facts, &rule.compiled.rule().actions) {
                Some(f) => facts = f,
                None => match load_facts(conn, ticket, message, &mut hours).await? {
                    Some(f) => {
                        facts = f;
                        facts.set_csat(csat);
                    }
                    None => break,
                },
            }
        }
    }
    count_firings(conn, &fired).await
}

/// Adds the firings to the rules' counters (one statement per event).
pub(super) async fn count_firings(conn: &mut PgConnection, fired: &[i64]) -> sqlx::Result<()> {
    if fired.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "update rule r set fire_count = r.fire_count + x.n, last_fired_at = now()
         from (select id, count(*) as n from unnest($1::bigint[]) as id group by id) x
         where r.rule_id = x.id",
    )
    .bind(fired)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The facts after `actions` when they only touch tags, priority and status (known without
/// reading the ticket back); `None` otherwise.
pub(super) fn updated_facts(facts: &PreparedFacts, actions: &[Action]) -> Option<PreparedFacts> {
    let mut f = facts.facts().clone();
    for a in actions {
        match a {
            Action::AddTag { tag } => {
                let name = tag_name(tag)?;
                if !f.tags.iter().any(|t| t.eq_ignore_ascii_case(name)) {
                    f.tags.push(name.to_string());
                }
            }
            Action::RemoveTag { tag } => {
                let name = tag_name(tag)?;
                f.tags.retain(|t| !t.eq_ignore_ascii_case(name));
            }
            Action::SetPriority { priority } => f.priority = *priority,
            Action::SetStatus { status } => f.status = *status,
            Action::Snooze { .. } => f.status = Status::Snoozed,
            _ => return None,
        }
    }
    Some(f.prepare())
}

/// A tag name as `tickets::actions::set_tags_in` stores it (trimmed, without a leading `#`),
/// when it is one it accepts (1..=50 characters).
pub(super) fn tag_name(tag: &str) -> Option<&str> {
    let t = tag.trim().trim_start_matches('#').trim();
    (!t.is_empty() && t.chars().count() <= 50).then_some(t)
}

/// Decides with the firing record (row-locked) and fires. Returns whether it fired.
pub(super) async fn fire_if_due(
    conn: &mut PgConnection,
    ticket: i64,
    rule: &LoadedRule,
    evaluation: &Evaluation,
    facts: &PreparedFacts,
) -> sqlx::Result<bool> {
    let mode = rule.compiled.rule().mode;
    if !evaluation.matched && mode != super::model::Mode::OnStateEntry {
        return Ok(false);
    }
    // Only "on state entry" needs the previous evaluation; the other modes claim the firing
    // with the upsert below alone.
    let state: Option<(i32, bool)> = if mode == super::model::Mode::OnStateEntry {
        sqlx::query_as(
            "select fired_count, matched from rule_ticket_state where rule_id = $1 and ticket_id = $2 for update",
        )
        .bind(rule.id)
        .bind(ticket)
        .fetch_optional(&mut *conn)
        .await?
    } else {
        None
    };
    let record = FiringRecord {
        fired_before: state.is_some_and(|s| s.0 > 0),
        held_before: state.is_some_and(|s| s.1),
    };
    let decision = actions::decide(mode, evaluation.matched, record);
    if !decision.fire {
        if state.is_some_and(|s| s.1 != decision.held_now) {
            sqlx::query(
                "update rule_ticket_state set matched = $3 where rule_id = $1 and ticket_id = $2",
            )
            .bind(rule.id)
            .bind(ticket)
            .bind(decision.held_now)
            .execute(&mut *conn)
            .await?;
        }
        return Ok(false);
    }
    // Claims the firing: a second node deciding at the same time waits on this row and then
    // sees it fired.
    let claimed: Option<i32> = sqlx::query_scalar(
        "insert into rule_ticket_state (rule_id, ticket_id, fired_count, last_fired_at, matched)
         values ($1, $2, 1, now(), $3)
         on conflict (rule_id, ticket_id) do update
            set fired_count = rule_ticket_state.fired_count + 1, last_fired_at = now(), matched = $3
            where $4 or rule_ticket_state.fired_count = 0
         returning fired_count",
    )
    .bind(rule.id)
    .bind(ticket)
    .bind(decision.held_now)
    .bind(mode != super::model::Mode::OncePerTicket)
    .fetch_optional(&mut *conn)
    .await?;
    if claimed.is_none() {
        return Ok(false);
    }
    let r = rule.compiled.rule();
    let changes = apply_actions(conn, ticket, rule.id, &r.name, &r.actions, facts).await?;
    timeline::record(
        conn,
        ticket,
        Actor::Rule(rule.id),
        &TimelineEvent::RuleFired {
            rule: RuleRef {
                id: rule.id,
                name: r.name.clone(),
            },
            matched: evaluation.matched_conditions.clone(),
            changes,
        },
    )
    .await?;
    tracing::debug!(ticket.number = ticket, rule.id = rule.id, rule.name = %r.name, "rule fired");
    Ok(true)
}

/// Applies the actions in order; returns what changed, in words. An action that cannot be
/// applied (a team renamed since, an agent disabled) is skipped and says so; a database error
/// fails the whole change.
async fn apply_actions(
    conn: &mut PgConnection,
    ticket: i64,
    rule_id: i64,
    rule_name: &str,
    list: &[Action],
    facts: &PreparedFacts,
) -> sqlx::Result<Vec<String>> {
    let actor = Actor::Rule(rule_id);
    let mut changes = Vec::new();
    for action in list {
        let outcome = apply_one(conn, ticket, actor, rule_name, action, facts).await;
        match outcome {
            Ok(Some(text)) => changes.push(text),
            Ok(None) => {}
            Err(ActionError::Db(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(ticket.number = ticket, rule.id = rule_id, action = action.type_name(), error = %e, "rule action skipped");
                changes.push(format!(
                    "could not {}: {e}",
                    action.type_name().replace('_', " ")
                ));
            }
        }
    }
    Ok(changes)
}

async fn agent_by_email(
    conn: &mut PgConnection,
    email: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as("select agent_id, name from agent where lower(email) = lower($1)")
        .bind(email.trim())
        .fetch_optional(&mut *conn)
        .await
}

pub(super) fn to_priority(p: RulePriority) -> Priority {
    p.as_str().parse().unwrap_or(Priority::Normal)
}

pub(super) fn to_status(s: Status) -> TicketStatus {
    s.as_str().parse().unwrap_or(TicketStatus::Open)
}

/// One action; `Ok(None)` when it changed nothing.
async fn apply_one(
    conn: &mut PgConnection,
    ticket: i64,
    actor: Actor,
    rule_name: &str,
    action: &Action,
    facts: &PreparedFacts,
) -> Result<Option<String>, ActionError> {
    match action {
        Action::AssignAgent { agent } => {
            let (id, name) = agent_by_email(conn, agent)
                .await?
                .ok_or_else(|| ActionError::Invalid(format!("no agent {agent}")))?;
            let before = current_assignee(conn, ticket).await?;
            ticket_actions::assign_in(conn, actor, None, ticket, Some(id)).await?;
            Ok((before != Some(id)).then(|| format!("assigned to {name}")))
        }
        Action::Unassign => {
            let before = current_assignee(conn, ticket).await?;
            ticket_actions::assign_in(conn, actor, None, ticket, None).await?;
            Ok(before.is_some().then(|| "unassigned".to_string()))
        }
        Action::AssignTeam { team } => {
            let found: Option<(i64, String)> =
                sqlx::query_as("select team_id, name from team where lower(name) = lower($1)")
                    .bind(team.trim())
                    .fetch_optional(&mut *conn)
                    .await?;
            let (team_id, team_name) =
                found.ok_or_else(|| ActionError::Invalid(format!("no team {team}")))?;
            ticket_actions::set_team_in(conn, actor, None, ticket, Some(team_id)).await?;
            let mut text = format!("moved to team {team_name}");
            if let Some((agent_id, name)) = assign_within_team(conn, ticket, team_id).await? {
                ticket_actions::assign_in(conn, actor, None, ticket, Some(agent_id)).await?;
                text.push_str(&format!(" and assigned to {name}"));
            }
            Ok(Some(text))
        }
        Action::AddTag { tag } | Action::RemoveTag { tag } => {
            let add = matches!(action, Action::AddTag { .. });
            let mut tags: Vec<String> = facts.facts().tags.clone();
            let has = tags.iter().any(|t| t.eq_ignore_ascii_case(tag.trim()));
            if add == has {
                return Ok(None);
            }
            if add {
                tags.push(tag.trim().to_string());
            } else {
                tags.retain(|t| !t.eq_ignore_ascii_case(tag.trim()));
            }
            ticket_actions::set_tags_in(conn, actor, None, ticket, &tags).await?;
            Ok(Some(if add {
                format!("added tag {tag}")
            } else {
                format!("removed tag {tag}")
            }))
        }
        Action::SetPriority { priority } => {
            let p = to_priority(*priority);
            if facts.facts().priority == *priority {
                return Ok(None);
            }
            ticket_actions::set_priority_in(conn, actor, None, ticket, p).await?;
            Ok(Some(format!("set priority to {p}")))
        }
        Action::SetStatus { status } => {
            let s = to_status(*status);
            if facts.facts().status == *status {
                return Ok(None);
            }
            ticket_actions::set_status(conn, actor, None, ticket, s, None).await?;
            Ok(Some(format!("set status to {s}")))
        }
        Action::Snooze { minutes } => {
            let until = OffsetDateTime::now_utc() + time::Duration::minutes(*minutes);
            ticket_actions::set_status(
                conn,
                actor,
                None,
                ticket,
                TicketStatus::Snoozed,
                Some(until),
            )
            .await?;
            Ok(Some(actions::describe_action(action, &|_| None)))
        }
        Action::AddNote { body } => {
            ticket_actions::add_rule_note_in(conn, actor, rule_name, ticket, body).await?;
            Ok(Some("added a note".into()))
        }
        Action::Notify { agents, message } => {
            let mut names = Vec::new();
            for email in agents {
                let Some((id, name)) = agent_by_email(conn, email).await? else {
                    continue;
                };
                let text = message.clone().unwrap_or_else(|| {
                    format!("Rule '{rule_name}' asks you to look at this ticket")
                });
                ticket_actions::notify_agent_in(conn, id, ticket, &text).await?;
                names.push(name);
            }
            Ok((!names.is_empty()).then(|| format!("notified {}", names.join(", "))))
        }
        Action::SendSavedReply { saved_reply } => {
            send_saved_reply(conn, ticket, actor, rule_name, saved_reply, facts).await
        }
        Action::ApplySla { policy } => {
            let found: Option<(i64, String)> = sqlx::query_as(
                "select sla_policy_id, name from sla_policy where lower(name) = lower($1)",
            )
            .bind(policy.trim())
            .fetch_optional(&mut *conn)
            .await?;
            let (id, name) =
                found.ok_or_else(|| ActionError::Invalid(format!("no SLA policy {policy}")))?;
            let changed =
                ticket_actions::set_sla_policy_in(conn, actor, None, ticket, Some(id)).await?;
            Ok(changed.then(|| format!("applied SLA policy {name}")))
        }
        Action::SetCustomerVip { .. }
        | Action::SetLifecycleStage { .. }
        | Action::SetHealth { .. }
        | Action::SetCompanyVip { .. }
        | Action::SetCompanyLifecycleStage { .. }
        | Action::SetCompanyHealth { .. } => {
            set_account_attribute(conn, ticket, actor, rule_name, action).await
        }
        Action::Webhook { url, secret } => {
            let Actor::Rule(rule_id) = actor else {
                return Err(ActionError::Invalid("a webhook action needs a rule".into()));
            };
            crate::webhooks::queue::enqueue_rule(
                conn,
                ticket,
                (rule_id, rule_name),
                url,
                secret.as_deref(),
            )
            .await?;
            Ok(Some(actions::describe_action(action, &|_| None)))
        }
    }
}

/// What an account attribute action sets, whoever it is set on.
enum AttributeChange<'a> {
    Vip(bool),
    Stage(&'a str),
    Health(i64),
}

/// `set_customer_vip`, `set_lifecycle_stage`, `set_health` and their `set_company_*` twins:
/// changes the ticket customer's own value, or their company's, through
/// `customers::update_customer` / `update_company` in the rule's transaction, which write the
/// audit log entry (`customer.update` / `company.update`, actor `rule 'Name'`) as the customer
/// and company pages' edits do; the text goes into the rule's `rule_fired` event on the
/// timeline. `Ok(None)` when the value is already that; an error when the ticket has no
/// customer (or the customer no company), or the stage no longer exists (renamed since the
/// rule was saved).
async fn set_account_attribute(
    conn: &mut PgConnection,
    ticket: i64,
    actor: Actor,
    rule_name: &str,
    action: &Action,
) -> Result<Option<String>, ActionError> {
    use crate::customers::{self, CompanyPatch, CustomerError, CustomerPatch};
    use actions::Account;
    let Actor::Rule(rule_id) = actor else {
        unreachable!("rules act as Actor::Rule")
    };
    let (account, change) = match action {
        Action::SetCustomerVip { vip } => (Account::Customer, AttributeChange::Vip(*vip)),
        Action::SetLifecycleStage { stage } => (Account::Customer, AttributeChange::Stage(stage)),
        Action::SetHealth { health } => (Account::Customer, AttributeChange::Health(*health)),
        Action::SetCompanyVip { vip } => (Account::Company, AttributeChange::Vip(*vip)),
        Action::SetCompanyLifecycleStage { stage } => {
            (Account::Company, AttributeChange::Stage(stage))
        }
        Action::SetCompanyHealth { health } => (Account::Company, AttributeChange::Health(*health)),
        _ => unreachable!("only account attribute actions"),
    };
    let health = match change {
        AttributeChange::Health(h) => Some(
            i16::try_from(h)
                .ok()
                .filter(|h| (0..=100).contains(h))
                .ok_or_else(|| ActionError::Invalid(format!("health {h} is not 0-100")))?,
        ),
        _ => None,
    };
    let no_customer = || ActionError::Invalid("the ticket has no customer".into());
    let email = customers::customer_of_ticket(&mut *conn, None, ticket)
        .await?
        .ok_or_else(no_customer)?;
    let customer = customers::find_customer(&mut *conn, None, &email)
        .await?
        .ok_or_else(no_customer)?;
    let audit_actor = crate::audit::AuditActor::rule(rule_id, rule_name);
    let refused = |e: CustomerError| match e {
        CustomerError::Db(e) => ActionError::Db(e),
        e => ActionError::Invalid(e.to_string()),
    };
    let same_stage =
        |now: Option<&str>, stage: &str| now.is_some_and(|s| s.eq_ignore_ascii_case(stage.trim()));
    // the stage's name as stored (for the timeline text)
    let stored_stage = match account {
        Account::Customer => {
            let own = customer.own.0;
            let unchanged = match change {
                AttributeChange::Vip(v) => own.vip == Some(v),
                AttributeChange::Stage(s) => same_stage(own.lifecycle_stage.as_deref(), s),
                AttributeChange::Health(_) => own.health == health,
            };
            if unchanged {
                return Ok(None);
            }
            let patch = CustomerPatch {
                vip: match change {
                    AttributeChange::Vip(v) => Some(Some(v)),
                    _ => None,
                },
                lifecycle_stage: match change {
                    AttributeChange::Stage(s) => Some(Some(s.trim().to_owned())),
                    _ => None,
                },
                health: health.map(Some),
                ..Default::default()
            };
            customers::update_customer(conn, &audit_actor, None, &email, &patch)
                .await
                .map_err(refused)?
                .own
                .0
                .lifecycle_stage
        }
        Account::Company => {
            let domain = customer.company.ok_or_else(|| {
                ActionError::Invalid(format!("the customer {email} has no company"))
            })?;
            let company = customers::find_company(&mut *conn, None, &domain)
                .await?
                .ok_or_else(|| ActionError::Invalid(format!("no company {domain}")))?;
            let unchanged = match change {
                AttributeChange::Vip(v) => company.vip == v,
                AttributeChange::Stage(s) => same_stage(company.lifecycle_stage.as_deref(), s),
                AttributeChange::Health(_) => company.health == health,
            };
            if unchanged {
                return Ok(None);
            }
            let patch = CompanyPatch {
                vip: match change {
                    AttributeChange::Vip(v) => Some(v),
                    _ => None,
                },
                lifecycle_stage: match change {
                    AttributeChange::Stage(s) => Some(Some(s.trim().to_owned())),
                    _ => None,
                },
                health: health.map(Some),
                ..Default::default()
            };
            customers::update_company(conn, &audit_actor, None, &domain, &patch)
                .await
                .map_err(refused)?
                .lifecycle_stage
        }
    };
    Ok(Some(match change {
        AttributeChange::Vip(v) => actions::vip_text(account, v),
        AttributeChange::Stage(s) => {
            actions::lifecycle_stage_text(account, stored_stage.as_deref().unwrap_or(s))
        }
        AttributeChange::Health(h) => actions::health_text(account, h),
    }))
}

/// A rule's automatic reply: a shared saved reply, filled for the ticket's customer, queued
/// to them alone. Never to automated mail (auto-replies, bounces, lists: RFC 3834), and at
/// most one automatic reply per ticket (so per customer) per day.
async fn send_saved_reply(
    conn: &mut PgConnection,
    ticket: i64,
    actor: Actor,
    rule_name: &str,
    which: &super::model::SavedReplyRef,
    facts: &PreparedFacts,
) -> Result<Option<String>, ActionError> {
    use super::model::SavedReplyRef;
    let last_auto_s: Option<f64> = sqlx::query_scalar(
        "select extract(epoch from now() - max(created_at))::float8 from ticket_event
         where ticket_id = $1 and kind = 'reply_queued' and actor_kind = 'rule'",
    )
    .bind(ticket)
    .fetch_one(&mut *conn)
    .await?;
    if !actions::auto_reply_allowed(facts.facts().automated, last_auto_s.map(|s| s / 60.0)) {
        return Ok(Some(format!(
            "sent no automatic reply ({})",
            if facts.facts().automated.is_some() {
                "the mail is automated"
            } else {
                "one was sent in the last day"
            }
        )));
    }
    let (id, name) = match which {
        SavedReplyRef::Id(id) => (Some(*id), None),
        SavedReplyRef::Name(n) => (None, Some(n.as_str())),
    };
    let reply: Option<(String, String)> = sqlx::query_as(
        "select name, body from saved_reply where owner_agent_id is null
           and (saved_reply_id = $1 or lower(name) = lower($2)) order by saved_reply_id limit 1",
    )
    .bind(id)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    let (reply_name, body) =
        reply.ok_or_else(|| ActionError::Invalid(format!("no shared saved reply {which}")))?;
    let customer: Option<(String, Option<String>)> = sqlx::query_as(
        "select c.email, c.name from ticket t join customer c on c.customer_id = t.customer_id
         where t.ticket_id = $1",
    )
    .bind(ticket)
    .fetch_optional(&mut *conn)
    .await?;
    let (email, cname) = customer
        .ok_or_else(|| ActionError::Invalid("the ticket has no customer to reply to".into()))?;
    let text = crate::tickets::saved_reply::fill_saved_reply(
        &body,
        cname.as_deref().unwrap_or(""),
        &email,
        rule_name,
        ticket,
    );
    let Actor::Rule(rule_id) = actor else {
        unreachable!("rules act as Actor::Rule")
    };
    crate::tickets::reply::queue_reply_in(
        conn,
        crate::tickets::reply::ReplyAuthor::Rule {
            id: rule_id,
            name: rule_name,
        },
        None,
        ticket,
        &crate::tickets::reply::ReplyInput {
            to: vec![email.clone()],
            text,
            ..Default::default()
        },
    )
    .await
    .map_err(ActionError::from)?;
    Ok(Some(format!("sent saved reply '{reply_name}' to {email}")))
}

async fn current_assignee(conn: &mut PgConnection, ticket: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("select assignee_agent_id from ticket where ticket_id = $1")
        .bind(ticket)
        .fetch_one(&mut *conn)
        .await
}

/// The agent the team's assignment mode picks for the ticket (`None` for a manual team or
/// when nobody is eligible), taking the team's turn under its row lock so two nodes never
/// hand out the same turn.
pub async fn assign_within_team(
    conn: &mut PgConnection,
    ticket: i64,
    team_id: i64,
) -> sqlx::Result<Option<(i64, String)>> {
    let (mode, last): (String, Option<i64>) = sqlx::query_as(
        "select assignment, last_assigned_agent_id from team where team_id = $1 for update",
    )
    .bind(team_id)
    .fetch_one(&mut *conn)
    .await?;
    let mode = match mode.as_str() {
        "round_robin" => AssignmentMode::RoundRobin,
        "least_loaded" => AssignmentMode::LeastLoaded,
        _ => return Ok(None),
    };
    let candidates = team_candidates(conn, team_id, ticket).await?;
    let Some(chosen) = assignment::choose(mode, &candidates, last) else {
        tracing::info!(
            ticket.number = ticket,
            team.id = team_id,
            "nobody on the team can take the ticket now; it stays unassigned"
        );
        return Ok(None);
    };
    sqlx::query("update team set last_assigned_agent_id = $2 where team_id = $1")
        .bind(team_id)
        .bind(chosen)
        .execute(&mut *conn)
        .await?;
    let name: String = sqlx::query_scalar("select name from agent where agent_id = $1")
        .bind(chosen)
        .fetch_one(&mut *conn)
        .await?;
    Ok(Some((chosen, name)))
}

/// The team's members as assignment candidates for the ticket. Available means their own
/// switch says so and, when the team counts inactivity (`team.away_after_minutes`), they were
/// seen in the web UI within that many minutes.
async fn team_candidates(
    conn: &mut PgConnection,
    team_id: i64,
    ticket: i64,
) -> sqlx::Result<Vec<Candidate>> {
    #[derive(FromRow)]
    struct Row {
        agent_id: i64,
        available: bool,
        active: bool,
        can_see: bool,
        open_tickets: i64,
        cap: Option<i32>,
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "select a.agent_id,
                a.available and (tm.away_after_minutes is null
                    or a.last_seen_at > now() - make_interval(mins => tm.away_after_minutes)) as available,
                a.disabled_at is null as active, {} as can_see,
                (select count(*) from ticket o where o.assignee_agent_id = a.agent_id
                   and o.status <> 'closed' and not o.spam) as open_tickets,
                a.max_open_tickets as cap
         from team_member m join agent a using (agent_id) join team tm using (team_id)
         where m.team_id = $2",
        crate::auth::AGENT_SEES_TICKET
    ))
    .bind(ticket)
    .bind(team_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Candidate {
            agent_id: r.agent_id,
            available: r.available,
            active: r.active,
            can_see_mailbox: r.can_see,
            open_tickets: r.open_tickets,
            cap: r.cap,
        })
        .collect())
}

/// What a condition can read about the ticket now; `message` is the message the event is
/// about (else the latest inbound one). `None` when the ticket does not exist.
///
/// `hours`: the calendars already read in this pass (one query per calendar, not per ticket).
pub async fn load_facts(
    conn: &mut PgConnection,
    ticket: i64,
    message: Option<i64>,
    hours: &mut BusinessHours,
) -> sqlx::Result<Option<PreparedFacts>> {
    Ok(load_facts_counted(conn, ticket, message, true, hours)
        .await?
        .map(|(f, _)| f))
}

/// [`load_facts`] and the ticket's rule firings in the last hour (for the loop cap), in one
/// query.
/// `with_times`: also the `minutes_*` fields (only `time` rules read them; events skip their
/// subqueries).
pub(super) async fn load_facts_counted(
    conn: &mut PgConnection,
    ticket: i64,
    message: Option<i64>,
    with_times: bool,
    hours: &mut BusinessHours,
) -> sqlx::Result<Option<(PreparedFacts, u32)>> {
    let row: Option<FactsRow> = sqlx::query_as("select * from rule_facts($1, $2, $3)")
        .bind(ticket)
        .bind(message)
        .bind(with_times)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let open = hours.now_open(conn, row.calendar_id).await?;
    Ok(Some(row.into_facts(open)))
}

/// Whether now is within business hours, by calendar id, each calendar loaded once per
/// evaluation pass (an event, an ingest batch).
#[derive(Debug, Default)]
pub struct BusinessHours {
    open: HashMap<i64, Option<bool>>,
}

impl BusinessHours {
    /// `Some(true)` when now is an open instant of the calendar (domain notes §1); no calendar
    /// (the ticket has no SLA policy) is 24/7, so `Some(true)`; a calendar that no longer
    /// loads is unknown (`None`: neither `is true` nor `is false` holds).
    pub async fn now_open(
        &mut self,
        conn: &mut PgConnection,
        calendar: Option<i64>,
    ) -> sqlx::Result<Option<bool>> {
        let Some(id) = calendar else {
            return Ok(Some(true));
        };
        if let Some(open) = self.open.get(&id) {
            return Ok(*open);
        }
        let open = match crate::sla::calendars::get(&mut *conn, id).await {
            Ok(Some(c)) => Some(c.calendar.is_open(jiff::Timestamp::now())),
            Ok(None) => None,
            Err(crate::sla::SlaError::Db(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(calendar.id = id, error = %e, "calendar unreadable for within_business_hours");
                None
            }
        };
        self.open.insert(id, open);
        Ok(open)
    }
}

/// One row of the SQL function `rule_facts` (migrations): what conditions read about a
/// ticket and the message an event is about; times in seconds.
#[derive(FromRow)]
pub(super) struct FactsRow {
    mailbox: String,
    subject: String,
    status: String,
    priority: String,
    assignee: Option<String>,
    team: Option<String>,
    tags: Vec<String>,
    message_count: i32,
    from_email: Option<String>,
    to_addrs: Option<sqlx::types::Json<Vec<crate::tickets::EmailAddress>>>,
    cc_addrs: Option<sqlx::types::Json<Vec<crate::tickets::EmailAddress>>>,
    text_body: Option<String>,
    automated: Option<String>,
    has_attachment: bool,
    created_s: f64,
    unassigned_s: Option<f64>,
    status_s: Option<f64>,
    customer_s: Option<f64>,
    agent_s: Option<f64>,
    fired_last_hour: i64,
    customer_vip: Option<bool>,
    customer_lifecycle_stage: Option<String>,
    customer_company: Option<String>,
    /// The business-hours calendar of the ticket's SLA policy (else its mailbox's).
    pub(super) calendar_id: Option<i64>,
    assignee_available: Option<bool>,
}

impl FactsRow {
    /// The facts, prepared, and the ticket's rule firings in the last hour;
    /// `within_business_hours` from [`BusinessHours::now_open`].
    pub(super) fn into_facts(self, within_business_hours: Option<bool>) -> (PreparedFacts, u32) {
        let r = self;
        let emails = |l: Option<sqlx::types::Json<Vec<crate::tickets::EmailAddress>>>| {
            l.map(|j| j.0.into_iter().map(|a| a.email).collect())
                .unwrap_or_default()
        };
        let minutes = |s: Option<f64>| s.map(|s| s / 60.0);
        let fired_last_hour = u32::try_from(r.fired_last_hour).unwrap_or(u32::MAX);
        (
            TicketFacts {
                mailbox: r.mailbox,
                from: r.from_email.unwrap_or_default(),
                to: emails(r.to_addrs),
                cc: emails(r.cc_addrs),
                subject: r.subject,
                body: r.text_body.unwrap_or_default(),
                has_attachment: r.has_attachment,
                tags: r.tags,
                priority: RulePriority::parse(&r.priority).unwrap_or_default(),
                status: Status::parse(&r.status).unwrap_or_default(),
                assignee: r.assignee,
                assignee_available: r.assignee_available,
                team: r.team,
                automated: r.automated.as_deref().and_then(Automated::parse),
                within_business_hours,
                customer_vip: r.customer_vip,
                customer_lifecycle_stage: r.customer_lifecycle_stage,
                customer_company: r.customer_company,
                message_count: i64::from(r.message_count),
                minutes_since_created: minutes(Some(r.created_s)),
                minutes_unassigned: minutes(r.unassigned_s),
                minutes_in_status: minutes(r.status_s),
                minutes_since_customer_reply: minutes(r.customer_s),
                minutes_since_agent_reply: minutes(r.agent_s),
                csat: None,
            }
            .prepare(),
            fired_last_hour,
        )
    }
}

/// Tickets a `time` rule looks at per pass (the most recently active open ones).
const TIME_RULE_TICKETS: i64 = 2000;

/// One pass of the `time` trigger: every enabled `time` rule is evaluated on the open tickets
/// (not closed, not spam), each ticket in its own transaction. Every node may run it: the
/// firing record's row lock makes each firing happen once. Returns the number of firings.
pub async fn run_time_rules(pool: &PgPool) -> sqlx::Result<u64> {
    let rules = enabled_rules(&mut *pool.acquire().await?, Some(Trigger::Time)).await?;
    let mut fired = 0;
    let mut hours = BusinessHours::default();
    for rule in &rules {
        let tickets: Vec<i64> = sqlx::query_scalar(
            "select ticket_id from ticket where status <> 'closed' and not spam
             order by last_message_at desc limit $1",
        )
        .bind(TIME_RULE_TICKETS)
        .fetch_all(pool)
        .await?;
        for ticket in tickets {
            let mut tx = pool.begin().await?;
            let Some((facts, fired_last_hour)) =
                load_facts_counted(&mut tx, ticket, None, true, &mut hours).await?
            else {
                continue;
            };
            if !actions::within_loop_cap(fired_last_hour) {
                continue;
            }
            let evaluation = rule.compiled.evaluate(&facts);
            if fire_if_due(&mut tx, ticket, rule, &evaluation, &facts).await? {
                fired += 1;
                count_firings(&mut tx, &[rule.id]).await?;
            }
            tx.commit().await?;
        }
    }
    Ok(fired)
}

/// How often the `time` trigger is evaluated.
pub const TIME_RULES_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs [`run_time_rules`] every [`TIME_RULES_EVERY`] until shutdown; errors are logged and
/// the next pass tries again.
pub async fn run_time_rules_forever(pool: PgPool, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        match run_time_rules(&pool).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(firings = n, "time rules fired"),
            Err(e) => tracing::warn!(error = %e, "evaluating time rules failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(TIME_RULES_EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// One ticket's dry-run result.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DryRunResult {
    pub number: i64,
    pub subject: String,
    pub matched: bool,
    /// The first condition that failed (the API's JSON shape), or null.
    #[schema(value_type = Option<Object>)]
    pub failed_condition: Option<serde_json::Value>,
    /// The conditions that held, in words (when matched).
    pub matched_conditions: Vec<String>,
    /// What the rule would do, in words (when matched).
    pub actions: Vec<String>,
}

/// Runs an unsaved rule against the `last` most recent tickets (not spam): per ticket whether
/// it would match, the first condition that failed, and the actions it would take. Reads only.
pub async fn dry_run(
    pool: &PgPool,
    rule: &CompiledRule,
    last: i64,
) -> sqlx::Result<Vec<DryRunResult>> {
    let mut conn = pool.acquire().await?;
    let tickets: Vec<(i64, String)> = sqlx::query_as(
        "select ticket_id, subject from ticket where not spam order by ticket_id desc limit $1",
    )
    .bind(last.clamp(1, 1000))
    .fetch_all(&mut *conn)
    .await?;
    let agents: Vec<(String, String)> = sqlx::query_as("select email, name from agent")
        .fetch_all(&mut *conn)
        .await?;
    let agent_name = |email: &str| {
        agents
            .iter()
            .find(|(e, _)| e.eq_ignore_ascii_case(email))
            .map(|(_, n)| n.clone())
    };
    let mut out = Vec::with_capacity(tickets.len());
    let mut hours = BusinessHours::default();
    let first_message = rule.rule().trigger == Trigger::TicketCreated;
    for (number, subject) in tickets {
        // a ticket_created rule sees the first message, as it did when the ticket was created
        let message: Option<i64> = if first_message {
            sqlx::query_scalar(
                "select min(message_id) from message where ticket_id = $1 and direction = 'inbound'",
            )
            .bind(number)
            .fetch_one(&mut *conn)
            .await?
        } else {
            None
        };
        let Some(facts) = load_facts(&mut conn, number, message, &mut hours).await? else {
            continue;
        };
        let e = rule.evaluate(&facts);
        out.push(DryRunResult {
            number,
            subject,
            matched: e.matched,
            failed_condition: e
                .failed_condition
                .as_ref()
                .and_then(|c| serde_json::to_value(c).ok()),
            actions: if e.matched {
                rule.rule()
                    .actions
                    .iter()
                    .map(|a| actions::describe_action(a, &agent_name))
                    .collect()
            } else {
                Vec::new()
            },
            matched_conditions: e.matched_conditions,
        });
    }
    Ok(out)
}
