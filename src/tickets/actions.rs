//! What agents (and Frontdesk itself) do to a ticket: assign, set status and priority, tag,
//! mark spam, write internal notes with @mentions, merge, wake snoozed tickets. Every change
//! goes through [`timeline::record`] in the same transaction (one typed event, the hook, the
//! live notification). Every function taking `visible` first checks that the ticket is in one
//! of those mailboxes (`None` = all).

use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use super::mentions;
use super::model::{Priority, TicketStatus};
use super::timeline::{self, Actor, StatusReason, TimelineEvent};

/// Errors of ticket actions.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The ticket does not exist or is not visible to the agent.
    #[error("not found")]
    NotFound,
    /// Bad input, with a message for the agent.
    #[error("{0}")]
    Invalid(String),
    /// The chosen assignee (named) cannot see the ticket's mailbox: they would get a 404 on
    /// their own ticket.
    #[error("{0} cannot see this ticket's mailbox; grant it to one of their teams first")]
    AssigneeCannotSee(String),
    /// A merge across mailboxes that was not confirmed (or confirmed for other people than
    /// those who would now gain access).
    #[error("{0}")]
    MergeNeedsConfirmation(CrossMailboxMerge),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Locks the ticket row if it is visible; `NotFound` otherwise.
async fn lock_visible(
    conn: &mut PgConnection,
    number: i64,
    visible: Option<&[i64]>,
) -> Result<(), ActionError> {
    let found: Option<i64> = sqlx::query_scalar(
        "select ticket_id from ticket where ticket_id = $1 and ($2::bigint[] is null or mailbox_id = any($2)) for update",
    )
    .bind(number)
    .bind(visible)
    .fetch_optional(&mut *conn)
    .await?;
    found.map(|_| ()).ok_or(ActionError::NotFound)
}

/// Assigns the ticket to an agent (by id), or unassigns it with `None`. A disabled agent
/// cannot be given a ticket (one they already have stays theirs until someone changes it), nor
/// can an agent who cannot see the ticket's mailbox ([`ActionError::AssigneeCannotSee`]).
pub async fn assign(
    pool: &PgPool,
    actor: Actor,
    visible: Option<&[i64]>,
    number: i64,
    assignee: Option<i64>,
) -> Result<(), ActionError> {
    let mut tx = pool.begin().await?;
    assign_in(&mut tx, actor, visible, number, assignee).await?;
    tx.commit().await?;
    Ok(())
}

/// [`assign`] inside the caller's transaction (for several changes that stand or fall
/// together).
pub async fn assign_in(
    tx: &mut PgConnection,
    actor: Actor,
    visible: Option<&[i64]>,
    number: i64,
    assignee: Option<i64>,
) -> Result<(), ActionError> {
    lock_visible(tx, number, visible).await?;
    let old: Option<i64> =
        sqlx::query_scalar("select assignee_agent_id from ticket where ticket_id = $1")
            .bind(number)
            .fetch_one(&mut *tx)
            .await?;
    if old != assignee {
        if let Some(a) = assignee {
            let found: Option<(String, bool, bool)> = sqlx::query_as(&format!(
                "select a.name, a.disabled_at is null, {} from agent a where a.agent_id = $2",
                crate::auth::AGENT_SEES_TICKET
            ))
            .bind(number)
            .bind(a)
            .fetch_optional(&mut *tx)
            .await?;
            match found {
                None => return Err(ActionError::Invalid("no such agent".into())),
                Some((_, false, _)) => {
                    return Err(ActionError::Invalid(
                        "that agent is disabled and cannot be assigned tickets".into(),
                    ));
                }
                Some((name, true, false)) => return Err(ActionError::AssigneeCannotSee(name)),
                Some((_, true, true)) => {}
            }
        }
        sqlx::query("update ticket set assignee_agent_id = $2 where ticket_id = $1")
            .bind(number)
            .bind(assignee)
            .execute(&mut *tx)
            .await?;
        timeline::record(
            tx,
            number,
            actor,
            &TimelineEvent::Assigned {
                from: old,
                to: assignee,
            },
        )
        .await?;
    }
    Ok(())
}

/// Sets the status. `snoozed_until` (UTC) goes with `snoozed`; without it the ticket is snoozed
/// until the customer replies.
pub async fn set_status(
    conn: &mut PgConnection,
    actor: Actor,
    visible: Option<&[i64]>,
    number: i64,
    status: TicketStatus,
    snoozed_until: Option<OffsetDateTime>,
) -> Result<(), ActionError> {
    lock_visible(conn, number, visible).await?;
    let old: TicketStatus = sqlx::query_scalar("select status from ticket where ticket_id = $1")
        .bind(number)
        .fetch_one(&mut *conn)
        .await?;
    let until = if status == TicketStatus::Snoozed {
        snoozed_until
    } else {
        None
    };
    sqlx::query("update ticket set status = $2, snoozed_until = $3 where ticket_id = $1")
        .bind(number)
        .bind(status)
        .bind(until)
        .execute(&mut *conn)
        .await?;
    if old != status {
        timeline::record(
            conn,
            number,
            actor,
            &TimelineEvent::StatusChanged {
                from: old,
                to: status,
                reason: None,
                snoozed_until: until.map(OffsetDateTime::unix_timestamp),
            },
        )
        .await?;
    }
    Ok(())
}

/// Sets the priority.
pub async fn set_priority(
    pool: &PgPool,
    actor: Actor,
    visible: Option<&[i64]>,
    number: i64,
    priority: Priority,
) -> Result<(), ActionError> {
    let mut tx = pool.begin().await?;
    set_priority_in(&mut tx, actor, visible, number, priority).await?;
    tx.commit().await?;
    Ok(())
}

/// [`set_priority`] inside the caller's transaction.
pub async fn set_priority_in(
    tx: &mut PgConnection,
    actor: Actor,
    visible: Option<&[i64]>,
    number: i64,
    priority: Priority,
) -> Result<(), ActionError> {
    lock_visible(tx, number, visible).await?;
    let old: Priority = sqlx::query_scalar("select priority from ticket where ticket_id = $1")
        .bind(number)
        .fetch_one(&mut *tx)
        .await?;
    if old != priority {
        sqlx::query("update ticket set priority = $2 where ticket_id = $1")
            .bind(number)
            .bind(priority)
            .execute(&mut *tx)
            .await?;
        timeline::record(
            tx,
            number,
            actor,
            &TimelineEvent::PriorityChanged {
                from: old,
                to: priority,
            },
        )
        .await?;
    }
    Ok(())
}

/// Puts the ticket under an SLA policy (by id), or under none; returns whether it changed.
/// Running clocks are recomputed from their start with the new policy's targets (a ticket
/// without clocks gets them from its history); achieved and breached results never change
/// ([`crate::sla::clocks::policy_changed`]). An unknown policy is [`ActionError::Invalid`].
pub async fn set_sla_policy_in(
    tx: &mut PgConnection,
    actor: Actor,
    visible: Option<&[i64]>,
    number: i64,
    policy: Option<i64>,
) -> Result<bool, ActionError> {
    lock_visible(tx, number, visible).await?;
    let old: Option<(i64, String)> = sqlx::query_as(
        "select p.sla_policy_id, p.name from ticket t
         join sla_policy p on p.sla_policy_id = t.sla_policy_id where t.ticket_id = $1",
    )
    .bind(number)
    .fetch_optional(&mut *tx)
    .await?;
    let new: Option<(i64, String)> = match policy {
        None => None,
        Some(id) => Some(
            sqlx::query_as("select sla_policy_id, name from sla_policy where sla_policy_id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| ActionError::Invalid(format!("no SLA policy with id {id}")))?,
        ),
    };
    if old.as_ref().map(|p| p.0) == policy {
        return Ok(false);
    }
    sqlx::query("update ticket set sla_policy_id = $2 where ticket_id = $1")
        .bind(number)
        .bind(policy)
        .execute(&mut *tx)
        .await?;
    let as_ref = |p: Option<(i64, String)>| p.map(|(id, name)| timeline::PolicyRef { id, name });
    timeline::record(
        tx,
        number,
        actor,
        &TimelineEvent::SlaPolicyChanged {
            from: as_ref(old),
            to: as_ref(new),
        },
    )
    .await?;
    crate::sla::clocks::policy_changed(tx, number).await?;
    Ok(true)
}

/// Puts the ticket with a team (by id), or with none. Returns whether it changed. An unknown
/// team is [`ActionError::Invalid`].
pub async fn set_team_in(
    tx: &mut PgConnection,
    actor: Actor,
    visible: Option<&[i64]>,
    number: i64,
    team: Option<i64>,
) -> Result<bool, ActionError> {
    lock_visible(tx, number, visible).await?;
    let old: Option<(i64, String)> = sqlx::query_as(
        "select tm.team_id, tm.name from ticket t join team tm on tm.team_id = t.team_id where t.ticket_id = $1",
    )
    .bind(number)
    .fetch_optional(&mut *tx)
    .await?;
    if old.as_ref().map(|t| t.0) == team {
        return Ok(false);
    }
    let new: Option<(i64, String)> = match team {
        None => None,
        Some(id) => Some(
            sqlx::query_as("select team_id, name from team where team_id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| ActionError::Invalid("no such team".into()))?,
        ),
    };
    sqlx::query("update ticket set team_id = $2 where ticket_id = $1")
        .bind(number)
        .bind(team)
        .execute(&mut *tx)
        .await?;
    let as_ref = |t: Option<(i64, String)>| t.map(|(id, name)| timeline::TeamRef { id, name });
    timeline::record(
        tx,
        number,
        actor,
        &TimelineEvent::TeamChanged {
            from: as_ref(old),
            to: as_ref(new),
        },
    )
    .await?;
    Ok(true)
}

/// Replaces the ticket's tags; unknown tags are created on the fly. Names are trimmed, empty
/// ones dropped, at most 50 characters each. Returns the tags the ticket now has, as given.
pub async fn set_tags(
    pool: &PgPool,
    actor: Actor,
    visible: Option<&[i64]>,
    number: i64,
    tags: &[String],
) -> Result<Vec<String>, ActionError> {
    let mut tx = pool.begin().await?;
    let names = set_tags_in(&mut tx, actor, visible, number, tags).await?;
    tx.commit().await?;
    Ok(names)
}

/// [`set_tags`] inside the caller's transaction.
pub async fn set_tags_in(
    tx: &mut PgConnection,
    actor: Actor,
    visible: Option<&[i64]>,
    number: i64,
    tags: &[String],
) -> Result<Vec<String>, ActionError> {
    let mut names: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().trim_start_matches('#').trim();
        if t.is_empty() {
            continue;
        }
        if t.chars().count() > 50 {
            return Err(ActionError::Invalid(format!("tag too long: {t:?}")));
        }
        if !names.iter().any(|n| n.eq_ignore_ascii_case(t)) {
            names.push(t.to_string());
        }
    }
    lock_visible(tx, number, visible).await?;
    let old: Vec<String> = sqlx::query_scalar("select g.name from ticket_tag tt join tag g using (tag_id) where tt.ticket_id = $1 order by g.name")
        .bind(number)
        .fetch_all(&mut *tx)
        .await?;
    sqlx::query(
        "insert into tag (name) select unnest($1::text[]) on conflict (lower(name)) do nothing",
    )
    .bind(&names)
    .execute(&mut *tx)
    .await?;
    sqlx::query("delete from ticket_tag where ticket_id = $1")
        .bind(number)
        .execute(&mut *tx)
        .await?;
    sqlx::query("insert into ticket_tag (ticket_id, tag_id) select $1, tag_id from tag where lower(name) = any(select lower(unnest($2::text[])))")
        .bind(number)
        .bind(&names)
        .execute(&mut *tx)
        .await?;
    let added: Vec<String> = names
        .iter()
        .filter(|n| !old.iter().any(|o| o.eq_ignore_ascii_case(n)))
        .cloned()
        .collect();
    let removed: Vec<String> = old
        .iter()
        .filter(|o| !names.iter().any(|n| n.eq_ignore_ascii_case(o)))
        .cloned()
        .collect();
    if !added.is_empty() || !removed.is_empty() {
        timeline::record(
            tx,
            number,
            actor,
            &TimelineEvent::TagsChanged { added, removed },
        )
        .await?;
    }
    Ok(names)
}

/// Marks a ticket as spam (or not).
pub async fn set_spam(
    pool: &PgPool,
    actor: Actor,
    visible: Option<&[i64]>,
    number: i64,
    spam: bool,
) -> Result<(), ActionError> {
    let mut tx = pool.begin().await?;
    lock_visible(&mut tx, number, visible).await?;
    sqlx::query("update ticket set spam = $2 where ticket_id = $1")
        .bind(number)
        .bind(spam)
        .execute(&mut *tx)
        .await?;
    let event = if spam {
        TimelineEvent::MarkedSpam {}
    } else {
        TimelineEvent::UnmarkedSpam {}
    };
    timeline::record(&mut tx, number, actor, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// A written note: its id, who was told, and the mentions that reached nobody.
#[derive(Debug, Clone)]
pub struct NoteOutcome {
    /// The note's message id.
    pub id: i64,
    /// The agents notified of it.
    pub notified: Vec<mentions::Mentioned>,
    /// `@handles` that named nobody who could be told; the note is saved all the same.
    pub unresolved: Vec<mentions::UnresolvedMention>,
}

/// Writes an internal note; every @mentioned agent (who can see the mailbox) gets a
/// notification, and those offline also an email through the outbox (see
/// [`super::mentions`]), all in one transaction. `public_url` is the base of the ticket link
/// in that email. Mentions that reach nobody do not stop the note; they are returned so that
/// the author learns nobody was told.
pub async fn add_note(
    pool: &PgPool,
    actor: i64,
    visible: Option<&[i64]>,
    number: i64,
    text: &str,
    public_url: &str,
) -> Result<NoteOutcome, ActionError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ActionError::Invalid("a note cannot be empty".into()));
    }
    let mut tx = pool.begin().await?;
    lock_visible(&mut tx, number, visible).await?;
    let (name, email): (String, String) =
        sqlx::query_as("select name, email from agent where agent_id = $1")
            .bind(actor)
            .fetch_one(&mut *tx)
            .await?;
    let id: i64 = sqlx::query_scalar(
        "insert into message (ticket_id, direction, author_agent_id, from_email, from_name, text_body, created_at, received_at)
         values ($1, 'note', $2, $3, $4, $5, now(), now()) returning message_id",
    )
    .bind(number)
    .bind(actor)
    .bind(&email)
    .bind(&name)
    .bind(text)
    .fetch_one(&mut *tx)
    .await?;
    let resolution =
        mentions::resolve_mentions(&mut tx, number, actor, &mentions::mention_handles(text))
            .await?;
    let mentioned = mentions::notify_mentioned(&mut tx, number, id, &resolution.agents).await?;
    if mentioned.iter().any(|m| m.offline) {
        let (mailbox_id, subject, address, mailbox_name): (i64, String, String, String) =
            sqlx::query_as(
                "select t.mailbox_id, t.subject, mb.address, mb.name
                 from ticket t join mailbox mb using (mailbox_id) where t.ticket_id = $1",
            )
            .bind(number)
            .fetch_one(&mut *tx)
            .await?;
        let note = mentions::NoteRef {
            ticket: number,
            ticket_subject: &subject,
            mailbox_id,
            mailbox_address: &address,
            mailbox_name: &mailbox_name,
            author_name: &name,
            author_email: &email,
            text,
            public_url,
        };
        mentions::queue_mention_mails(&mut tx, &note, &mentioned)
            .await
            .map_err(|e| match e {
                crate::outbox::OutboxError::Db(d) => ActionError::Db(d),
                other => ActionError::Invalid(other.to_string()),
            })?;
    }
    sqlx::query("delete from draft where ticket_id = $1 and kind = 'note' and owner_agent_id = $2")
        .bind(number)
        .bind(actor)
        .execute(&mut *tx)
        .await?;
    timeline::record(
        &mut tx,
        number,
        Actor::Agent(actor),
        &TimelineEvent::NoteAdded { message_id: id },
    )
    .await?;
    tx.commit().await?;
    Ok(NoteOutcome {
        id,
        notified: mentioned,
        unresolved: resolution.unresolved,
    })
}

/// Writes an internal note on behalf of a rule (no author agent; the note is signed with the
/// rule's name), in the caller's transaction. Mentions in it notify nobody.
pub async fn add_rule_note_in(
    tx: &mut PgConnection,
    actor: Actor,
    rule_name: &str,
    number: i64,
    text: &str,
) -> Result<i64, ActionError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ActionError::Invalid("a note cannot be empty".into()));
    }
    lock_visible(tx, number, None).await?;
    let id: i64 = sqlx::query_scalar(
        "insert into message (ticket_id, direction, from_name, text_body, created_at, received_at)
         values ($1, 'note', $2, $3, now(), now()) returning message_id",
    )
    .bind(number)
    .bind(format!("Rule '{rule_name}'"))
    .bind(text)
    .fetch_one(&mut *tx)
    .await?;
    timeline::record(
        tx,
        number,
        actor,
        &TimelineEvent::NoteAdded { message_id: id },
    )
    .await?;
    Ok(id)
}

/// Gives an agent an in-app notification about a ticket with a text (a rule's `notify`), in
/// the caller's transaction, and marks it to be mailed: the notification mail worker
/// ([`super::notification_mail`]) queues the mail within seconds of the commit.
pub async fn notify_agent_in(
    tx: &mut PgConnection,
    agent_id: i64,
    number: i64,
    text: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into notification (agent_id, ticket_id, kind, text, mail_due)
         values ($1, $2, 'rule', $3, true)",
    )
    .bind(agent_id)
    .bind(number)
    .bind(text)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records that the agent has seen the ticket as it is now (clears its unread marker).
/// Called on every ticket page view, but writes only when the ticket has had a message since
/// the agent's last view (a view of an already-read ticket is a pure read: no row lock, no WAL);
/// the commit does not wait for the disk ([`crate::db::begin_async_commit`]): a lost read marker
/// only shows a ticket as unread.
pub async fn mark_viewed(pool: &PgPool, agent_id: i64, number: i64) -> sqlx::Result<()> {
    let mut tx = crate::db::begin_async_commit(pool).await?;
    sqlx::query(
        "insert into ticket_view (agent_id, ticket_id, seen_at)
         select $1, $2, now()
         where not exists (select 1 from ticket_view v join ticket t using (ticket_id)
                           where v.agent_id = $1 and v.ticket_id = $2 and v.seen_at >= t.last_message_at)
         on conflict (agent_id, ticket_id) do update set seen_at = now()",
    )
    .bind(agent_id)
    .bind(number)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Unread notifications of an agent, newest first.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub notification_id: i64,
    pub ticket_id: i64,
    pub subject: String,
    pub author: Option<String>,
    /// `mention`, or `rule` (a rule's `notify`, whose words are in `text`).
    pub kind: String,
    pub text: Option<String>,
    pub created_at: OffsetDateTime,
    pub read: bool,
}

/// The agent's latest notifications (50), newest first.
pub async fn notifications(pool: &PgPool, agent_id: i64) -> sqlx::Result<Vec<NotificationRow>> {
    sqlx::query_as(
        "select n.notification_id, n.ticket_id, t.subject, m.from_name as author, n.kind, n.text, n.created_at, n.read_at is not null as read
         from notification n join ticket t on t.ticket_id = n.ticket_id left join message m on m.message_id = n.message_id
         where n.agent_id = $1 order by n.created_at desc limit 50",
    )
    .bind(agent_id)
    .fetch_all(pool)
    .await
}

/// Number of unread notifications.
pub async fn unread_notifications(pool: &PgPool, agent_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from notification where agent_id = $1 and read_at is null")
        .bind(agent_id)
        .fetch_one(pool)
        .await
}

/// Marks all of an agent's notifications on a ticket read (when they open it).
pub async fn read_notifications(pool: &PgPool, agent_id: i64, number: i64) -> sqlx::Result<()> {
    sqlx::query("update notification set read_at = now() where agent_id = $1 and ticket_id = $2 and read_at is null")
        .bind(agent_id)
        .bind(number)
        .execute(pool)
        .await?;
    Ok(())
}

/// How many snoozed tickets one transaction of [`wake_snoozed`] reopens.
const WAKE_BATCH: i64 = 100;

/// Reopens snoozed tickets whose `snoozed_until` (UTC) has passed; returns how many.
///
/// Works in transactions of at most [`WAKE_BATCH`] tickets, earliest first, so that a mass of
/// snoozes ending together never holds thousands of row locks (and dirty pages) in one go; rows
/// another node is waking are skipped (`SKIP LOCKED`), so every node may run it.
pub async fn wake_snoozed(pool: &PgPool) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        let woken: Vec<i64> = sqlx::query_scalar(
            "update ticket set status = 'open', snoozed_until = null
             where ticket_id in (
                 select ticket_id from ticket
                 where status = 'snoozed' and snoozed_until <= now()
                 order by snoozed_until, ticket_id
                 limit $1
                 for update skip locked)
             returning ticket_id",
        )
        .bind(WAKE_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        for id in &woken {
            timeline::record(
                &mut tx,
                *id,
                Actor::System,
                &TimelineEvent::StatusChanged {
                    from: TicketStatus::Snoozed,
                    to: TicketStatus::Open,
                    reason: Some(StatusReason::SnoozeEnded),
                    snoozed_until: None,
                },
            )
            .await?;
        }
        tx.commit().await?;
        total += woken.len() as u64;
        if (woken.len() as i64) < WAKE_BATCH {
            return Ok(total);
        }
    }
}

/// A bulk action on selected inbox rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    Assign(Option<i64>),
    Status(TicketStatus),
    AddTag(String),
    Spam,
}

/// What a bulk action did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    /// Tickets changed (an assignment to the current assignee counts).
    pub changed: usize,
    /// Tickets not assigned because the assignee cannot see their mailbox, and the assignee's
    /// name.
    pub assignee_cannot_see: Option<(usize, String)>,
}

/// Applies one action to several tickets (at most 500); tickets the agent cannot see, and for
/// an assignment tickets the assignee cannot see, are skipped.
pub async fn bulk(
    pool: &PgPool,
    actor: Actor,
    visible: Option<&[i64]>,
    numbers: &[i64],
    action: &BulkAction,
) -> Result<BulkOutcome, ActionError> {
    let mut out = BulkOutcome::default();
    for &n in numbers.iter().take(500) {
        let result = match action {
            BulkAction::Assign(a) => assign(pool, actor, visible, n, *a).await,
            BulkAction::Status(s) => {
                let mut tx = pool.begin().await?;
                let r = set_status(&mut tx, actor, visible, n, *s, None).await;
                if r.is_ok() {
                    tx.commit().await?;
                }
                r
            }
            BulkAction::AddTag(t) => {
                let current: Vec<String> = sqlx::query_scalar("select g.name from ticket_tag tt join tag g using (tag_id) where tt.ticket_id = $1")
                    .bind(n)
                    .fetch_all(pool)
                    .await?;
                let mut tags = current;
                tags.push(t.clone());
                set_tags(pool, actor, visible, n, &tags).await.map(|_| ())
            }
            BulkAction::Spam => set_spam(pool, actor, visible, n, true).await,
        };
        match result {
            Ok(()) => out.changed += 1,
            Err(ActionError::NotFound) => {}
            Err(ActionError::AssigneeCannotSee(name)) => {
                let skipped = out.assignee_cannot_see.get_or_insert((0, name));
                skipped.0 += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// What merging a ticket into one of another mailbox would do: who gains access to its mail
/// and internal notes (active agents who see the target's mailbox but not the source's; admins
/// and leads see all anyway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossMailboxMerge {
    pub from_mailbox: String,
    pub into_mailbox: String,
    /// `(agent_id, name)`, by name.
    pub gaining: Vec<(i64, String)>,
}

impl CrossMailboxMerge {
    /// What a confirmation must send back to [`merge`]: it names the mailboxes and the agents
    /// gaining access, so a confirmation given for other people is not taken.
    pub fn confirmation(&self) -> String {
        let ids: Vec<String> = self.gaining.iter().map(|(id, _)| id.to_string()).collect();
        format!(
            "{} into {}: {}",
            self.from_mailbox,
            self.into_mailbox,
            ids.join(" ")
        )
    }

    /// The names of those gaining access, for a sentence ("nobody" when none).
    pub fn gaining_names(&self) -> String {
        if self.gaining.is_empty() {
            return "nobody beyond admins and leads".into();
        }
        let names: Vec<&str> = self.gaining.iter().map(|(_, n)| n.as_str()).collect();
        names.join(", ")
    }
}

impl std::fmt::Display for CrossMailboxMerge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "merging moves mail and internal notes of {} into {}: {} will gain access to them; confirm to merge",
            self.from_mailbox,
            self.into_mailbox,
            self.gaining_names()
        )
    }
}

/// Merges ticket `source` into `target`: its messages, notes, participants and tags move over,
/// and `source` is closed with a pointer to `target`. Both must be visible (so only someone
/// who sees both mailboxes merges across them); a ticket cannot be merged into itself. Across
/// mailboxes, `confirmed` must be the [`CrossMailboxMerge::confirmation`] of this merge as it
/// stands now, else nothing happens and [`ActionError::MergeNeedsConfirmation`] says who would
/// gain access; the timeline of both tickets records the cross-mailbox merge.
pub async fn merge(
    pool: &PgPool,
    actor: Actor,
    visible: Option<&[i64]>,
    source: i64,
    target: i64,
    confirmed: Option<&str>,
) -> Result<(), ActionError> {
    if source == target {
        return Err(ActionError::Invalid(
            "a ticket cannot be merged into itself".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    // Lock in id order so two opposite merges cannot deadlock.
    for n in [source.min(target), source.max(target)] {
        lock_visible(&mut tx, n, visible).await?;
    }
    let cross = cross_mailbox(&mut tx, source, target).await?;
    if let Some(c) = &cross
        && confirmed != Some(c.confirmation().as_str())
    {
        return Err(ActionError::MergeNeedsConfirmation(c.clone()));
    }
    let recorded = cross.map(|c| timeline::CrossMailbox {
        from: c.from_mailbox,
        into: c.into_mailbox,
        gained_access: c.gaining.into_iter().map(|(id, _)| id).collect(),
    });
    // Messages that change mailbox are indexed again in the new mailbox's search language
    // (search::index_pending).
    let moved = sqlx::query(
        "update message set ticket_id = $2,
            search_config = case when $3 then null else search_config end
         where ticket_id = $1",
    )
    .bind(source)
    .bind(target)
    .bind(recorded.is_some())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "insert into ticket_participant (ticket_id, email, name, role)
         select $2, email, name, case when role = 'customer' then 'cc' else role end from ticket_participant where ticket_id = $1
         on conflict (ticket_id, email) do nothing",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *tx)
    .await?;
    sqlx::query("insert into ticket_tag (ticket_id, tag_id) select $2, tag_id from ticket_tag where ticket_id = $1 on conflict do nothing")
        .bind(source)
        .bind(target)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "update ticket t set message_count = t.message_count + s.message_count,
                last_message_at = greatest(t.last_message_at, s.last_message_at),
                snippet = case when s.last_message_at > t.last_message_at then s.snippet else t.snippet end
         from ticket s where s.ticket_id = $1 and t.ticket_id = $2",
    )
    .bind(source)
    .bind(target)
    .execute(&mut *tx)
    .await?;
    sqlx::query("update ticket set status = 'closed', message_count = 0, snoozed_until = null where ticket_id = $1").bind(source).execute(&mut *tx).await?;
    // Who waits since when follows the messages: recompute both tickets from theirs.
    for n in [source, target] {
        sqlx::query("select ticket_refresh_waiting($1)")
            .bind(n)
            .execute(&mut *tx)
            .await?;
    }
    timeline::record(
        &mut tx,
        source,
        actor,
        &TimelineEvent::MergedInto {
            target,
            messages: moved,
            cross_mailbox: recorded.clone(),
        },
    )
    .await?;
    timeline::record(
        &mut tx,
        target,
        actor,
        &TimelineEvent::MergedFrom {
            source,
            messages: moved,
            cross_mailbox: recorded,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// [`CrossMailboxMerge`] for merging `source` into `target`, or `None` when both are in one
/// mailbox.
async fn cross_mailbox(
    conn: &mut PgConnection,
    source: i64,
    target: i64,
) -> Result<Option<CrossMailboxMerge>, ActionError> {
    let (from_id, from, into_id, into): (i64, String, i64, String) = sqlx::query_as(
        "select s.mailbox_id, sm.address, t.mailbox_id, tm.address
         from ticket s join mailbox sm on sm.mailbox_id = s.mailbox_id,
              ticket t join mailbox tm on tm.mailbox_id = t.mailbox_id
         where s.ticket_id = $1 and t.ticket_id = $2",
    )
    .bind(source)
    .bind(target)
    .fetch_one(&mut *conn)
    .await?;
    if from_id == into_id {
        return Ok(None);
    }
    let gaining: Vec<(i64, String)> = sqlx::query_as(
        "select a.agent_id, a.name from agent a
         where a.disabled_at is null and a.role not in ('admin', 'lead')
           and exists (select 1 from team_member m join team_mailbox tm on tm.team_id = m.team_id
                       where m.agent_id = a.agent_id and tm.mailbox_id = $2)
           and not exists (select 1 from team_member m join team_mailbox tm on tm.team_id = m.team_id
                           where m.agent_id = a.agent_id and tm.mailbox_id = $1)
         order by a.name, a.agent_id",
    )
    .bind(from_id)
    .bind(into_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(CrossMailboxMerge {
        from_mailbox: from,
        into_mailbox: into,
        gaining,
    }))
}

/// Reopens a ticket that is not open (ending a snooze), recording why; nothing when it is open.
/// Used when something needs an agent's eyes: a reply that could not be delivered.
pub async fn reopen(
    conn: &mut PgConnection,
    number: i64,
    actor: Actor,
    reason: StatusReason,
) -> sqlx::Result<()> {
    let reopened_from: Option<TicketStatus> = sqlx::query_scalar(
        "update ticket t set status = 'open', snoozed_until = null
         from (select status from ticket where ticket_id = $1 for update) old
         where t.ticket_id = $1 and old.status <> 'open'
         returning old.status",
    )
    .bind(number)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(from) = reopened_from {
        timeline::record(
            conn,
            number,
            actor,
            &TimelineEvent::StatusChanged {
                from,
                to: TicketStatus::Open,
                reason: Some(reason),
                snoozed_until: None,
            },
        )
        .await?;
    }
    Ok(())
}
