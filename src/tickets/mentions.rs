//! @mentions in internal notes: who is mentioned, their in-app notifications, and the email
//! that an offline mentioned agent gets on top.
//!
//! Offline means not seen in the web UI for [`crate::auth::OFFLINE_AFTER_SECS`] when the note
//! is written (`agent.last_seen_at`, kept in PostgreSQL so that every node agrees). The mail
//! goes through the outbox in the note's transaction, so it is sent once the note exists and
//! never for a note that was rolled back; it is one outbox row per notification, never two.

use rand::RngCore;
use sqlx::PgConnection;

use crate::auth::{AGENT_SEES_TICKET, OFFLINE_AFTER_SECS};
use crate::outbox::{self, NotificationEmail, OutboxError};
use crate::tickets::EmailAddress;

/// `@handle` mentions in a note: the handle is the local part of an agent's email or their
/// name without spaces, case-insensitive (`@dana`, `@dana.lee`, `@DanaLee`).
pub fn mention_handles(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (_, handle) in mention_spans(text) {
        if !out.contains(&handle) {
            out.push(handle);
        }
    }
    out
}

/// Every `@handle` of a note where it stands: the byte range of `@handle` in `text` and the
/// handle, lower-cased, in order (repeats included).
pub fn mention_spans(text: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices('@') {
        // An address (`a@b.c`, `first_last@b.c`, `a+tag@b.c`) or a URL path (`/@dana`) is not a
        // mention: the @ must start a word.
        if i > 0
            && text[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '/'))
        {
            continue;
        }
        let written: String = text[i + 1..]
            .chars()
            .take_while(|c| is_handle_char(*c))
            .collect();
        let written = written.trim_end_matches(['.', '-', '_']);
        if !written.is_empty() {
            out.push((i..i + 1 + written.len(), written.to_lowercase()));
        }
    }
    out
}

/// Whether `handle` names the agent with this email and name, as [`resolve_mentions`] matches.
pub fn handle_names(handle: &str, email: &str, name: &str) -> bool {
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    let name = name.to_lowercase();
    handle == local || handle == name.replace(' ', "") || handle == name.replace(' ', ".")
}

/// The agents each note of ticket `ticket` notified (`(note message id, email, name)`), to
/// show which of its @mentions reached someone.
pub async fn notified_by_notes(
    db: impl sqlx::PgExecutor<'_>,
    ticket: i64,
) -> sqlx::Result<Vec<(i64, String, String)>> {
    sqlx::query_as(
        "select n.message_id, a.email, a.name from notification n join agent a on a.agent_id = n.agent_id
         where n.kind = 'mention'
           and n.message_id in (select message_id from message where ticket_id = $1 and direction = 'note')",
    )
    .bind(ticket)
    .fetch_all(db)
    .await
}

fn is_handle_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The handle that names an agent in a note, as the composer suggests it: the local part of
/// their address when it can be typed as a mention, else their name with dots for spaces
/// (`Dana Lee` → `dana.lee`). Both are what [`resolve_mentions`] matches.
pub fn handle_for(email: &str, name: &str) -> String {
    let typable = |h: &str| mention_handles(&format!("@{h}")) == [h];
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    if typable(&local) {
        return local;
    }
    let dotted = name.trim().replace(' ', ".").to_lowercase();
    if typable(&dotted) {
        return dotted;
    }
    name.replace(' ', "").to_lowercase()
}

/// Which agents a handle names (disabled agents never): the local part of their email, or
/// their name without spaces or with dots for spaces, ignoring case. `a` is the agent table,
/// `h` the handle. Mentions reach only agents who see the ticket ([`AGENT_SEES_TICKET`]).
const HANDLE_NAMES_AGENT: &str = "(a.disabled_at is null
     and (lower(split_part(a.email, '@', 1)) = h.handle
          or lower(replace(a.name, ' ', '')) = h.handle
          or lower(replace(a.name, ' ', '.')) = h.handle))";

/// Why a mention in a note notified nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnresolvedReason {
    /// No agent has this handle.
    NoSuchAgent,
    /// The handle names an agent who cannot see the ticket's mailbox.
    NoAccess,
}

/// A mention that notified nobody, for the author to be told so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UnresolvedMention {
    /// The handle as written, without the `@`, lower-cased.
    pub handle: String,
    pub reason: UnresolvedReason,
    /// The agent it names (for `NoAccess`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
}

impl UnresolvedMention {
    /// What the author reads: `@foo matches no agent; nobody was notified.`
    pub fn message(&self) -> String {
        match (&self.reason, &self.agent) {
            (UnresolvedReason::NoAccess, Some(name)) => format!(
                "@{} is {name}, who cannot see this mailbox; nobody was notified.",
                self.handle
            ),
            _ => format!("@{} matches no agent; nobody was notified.", self.handle),
        }
    }
}

/// The agents a note's handles name and may tell, and the handles that reach nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MentionResolution {
    /// Agents to notify: named by a handle, able to see the ticket, not the author.
    pub agents: Vec<i64>,
    /// Handles that name nobody who can be told. A handle naming the author only (a
    /// self-mention) is neither.
    pub unresolved: Vec<UnresolvedMention>,
}

/// Resolves `handles` for a note by `author` on ticket `ticket`.
pub async fn resolve_mentions(
    conn: &mut PgConnection,
    ticket: i64,
    author: i64,
    handles: &[String],
) -> sqlx::Result<MentionResolution> {
    if handles.is_empty() {
        return Ok(MentionResolution::default());
    }
    // One row per (handle, agent it names); a handle naming nobody has one row of nulls.
    let sql = format!(
        "select h.handle, a.agent_id, a.name, coalesce({AGENT_SEES_TICKET}, false) as sees
         from unnest($2::text[]) with ordinality as h(handle, i)
         left join agent a on {HANDLE_NAMES_AGENT}
         order by h.i, a.agent_id"
    );
    let rows: Vec<(String, Option<i64>, Option<String>, bool)> = sqlx::query_as(&sql)
        .bind(ticket)
        .bind(handles)
        .fetch_all(conn)
        .await?;
    let mut out = MentionResolution::default();
    for handle in handles {
        let named: Vec<_> = rows
            .iter()
            .filter(|(h, id, _, _)| h == handle && id.is_some())
            .collect();
        let others: Vec<_> = named
            .iter()
            .filter(|(_, id, _, _)| *id != Some(author))
            .collect();
        let reachable: Vec<i64> = others
            .iter()
            .filter(|(_, _, _, sees)| *sees)
            .filter_map(|(_, id, _, _)| *id)
            .collect();
        for id in &reachable {
            if !out.agents.contains(id) {
                out.agents.push(*id);
            }
        }
        let self_mention_only = others.is_empty() && !named.is_empty();
        if reachable.is_empty() && !self_mention_only {
            out.unresolved.push(UnresolvedMention {
                handle: handle.clone(),
                reason: if others.is_empty() {
                    UnresolvedReason::NoSuchAgent
                } else {
                    UnresolvedReason::NoAccess
                },
                agent: others.first().and_then(|(_, _, name, _)| name.clone()),
            });
        }
    }
    Ok(out)
}

/// An agent the note composer offers after `@`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mentionable {
    pub name: String,
    /// What to type after `@` ([`handle_for`]).
    pub handle: String,
}

/// The agents a note on ticket `ticket` can notify (they can see its mailbox), except `me`, by
/// name; `None` when the ticket is not in the `visible` mailboxes.
pub async fn mentionable(
    pool: &sqlx::PgPool,
    visible: Option<&[i64]>,
    ticket: i64,
    me: i64,
) -> sqlx::Result<Option<Vec<Mentionable>>> {
    let found: Option<i64> = sqlx::query_scalar(
        "select ticket_id from ticket where ticket_id = $1 and ($2::bigint[] is null or mailbox_id = any($2))",
    )
    .bind(ticket)
    .bind(visible)
    .fetch_optional(pool)
    .await?;
    if found.is_none() {
        return Ok(None);
    }
    let sql = format!(
        "select a.email, a.name from agent a
         where a.agent_id <> $2 and a.disabled_at is null and {AGENT_SEES_TICKET}
         order by lower(a.name), a.agent_id"
    );
    let rows: Vec<(String, String)> = sqlx::query_as(&sql)
        .bind(ticket)
        .bind(me)
        .fetch_all(pool)
        .await?;
    Ok(Some(
        rows.into_iter()
            .map(|(email, name)| Mentionable {
                handle: handle_for(&email, &name),
                name,
            })
            .collect(),
    ))
}

/// A mentioned agent who got a notification.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Mentioned {
    pub notification_id: i64,
    pub agent_id: i64,
    pub email: String,
    pub name: String,
    /// Not seen in the web UI for [`OFFLINE_AFTER_SECS`] (or never).
    pub offline: bool,
}

/// The note being told about, as the mail needs it.
#[derive(Debug, Clone)]
pub struct NoteRef<'a> {
    /// The ticket number.
    pub ticket: i64,
    pub ticket_subject: &'a str,
    pub mailbox_id: i64,
    /// The mailbox's address (From and envelope sender) and name.
    pub mailbox_address: &'a str,
    pub mailbox_name: &'a str,
    pub author_name: &'a str,
    pub author_email: &'a str,
    /// The note as written.
    pub text: &'a str,
    /// `FRONTDESK_PUBLIC_URL` (e.g. `https://desk.example.com`); empty gives a relative link.
    pub public_url: &'a str,
}

/// Notifies `agents` (from [`resolve_mentions`]) of note `message_id`, and says which of them
/// are offline.
pub async fn notify_mentioned(
    conn: &mut PgConnection,
    ticket: i64,
    message_id: i64,
    agents: &[i64],
) -> sqlx::Result<Vec<Mentioned>> {
    if agents.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "with n as (
            insert into notification (agent_id, ticket_id, message_id, kind)
            select a.agent_id, $1, $2, 'mention' from agent a where a.agent_id = any($3)
            returning notification_id, agent_id
         )
         select n.notification_id, a.agent_id, a.email, a.name,
                (a.last_seen_at is null or a.last_seen_at < now() - make_interval(secs => $4)) as offline
         from n join agent a using (agent_id)
         order by a.agent_id",
    )
    .bind(ticket)
    .bind(message_id)
    .bind(agents)
    .bind(f64::from(OFFLINE_AFTER_SECS))
    .fetch_all(conn)
    .await
}

/// The mail telling `to` about the note: `[#N] Dana mentioned you: <subject>`, the note, and
/// a link to the ticket. Pure apart from the random part of the Message-ID.
pub fn mention_mail(note: &NoteRef<'_>, to: &Mentioned) -> NotificationEmail {
    let domain = note
        .mailbox_address
        .rsplit_once('@')
        .map(|(_, d)| d.to_string())
        .unwrap_or_else(|| "frontdesk.invalid".into());
    let mut rnd = [0u8; 8];
    rand::rng().fill_bytes(&mut rnd);
    let link = format!(
        "{}/tickets/{}",
        note.public_url.trim_end_matches('/'),
        note.ticket
    );
    let text = format!(
        "{author} mentioned you in an internal note on ticket #{n} \"{subject}\":\n\n{note}\n\n\
         Open the ticket: {link}\n\n\
         -- \nYou get this mail because you were not signed in to Frontdesk when you were \
         mentioned. Internal notes are never sent to the customer.\n",
        author = note.author_name,
        n = note.ticket,
        subject = note.ticket_subject,
        note = note.text.trim_end(),
    );
    NotificationEmail {
        mailbox_id: note.mailbox_id,
        notification_id: to.notification_id,
        from_name: format!("{} via {}", note.author_name, note.mailbox_name),
        from_address: note.mailbox_address.to_string(),
        to: EmailAddress {
            email: to.email.clone(),
            name: Some(to.name.clone()),
        },
        reply_to: Some(EmailAddress {
            email: note.author_email.to_string(),
            name: Some(note.author_name.to_string()),
        }),
        subject: format!(
            "[#{}] {} mentioned you: {}",
            note.ticket, note.author_name, note.ticket_subject
        ),
        header_message_id: format!(
            "fd.mention.{}.{}@{domain}",
            to.notification_id,
            hex::encode(rnd)
        ),
        text,
    }
}

/// Queues a mention mail for each offline agent in `mentioned`, in the caller's transaction.
/// Returns how many were queued. A mail that cannot be built (an agent's address the mail
/// library refuses) is logged and skipped: the in-app notification still stands, and the
/// note must not fail because of it.
pub async fn queue_mention_mails(
    conn: &mut PgConnection,
    note: &NoteRef<'_>,
    mentioned: &[Mentioned],
) -> Result<usize, OutboxError> {
    let mut queued = 0;
    for m in mentioned.iter().filter(|m| m.offline) {
        match outbox::enqueue_notification(conn, &mention_mail(note, m)).await {
            Ok(_) => queued += 1,
            Err(OutboxError::Compose(e)) => {
                tracing::warn!(error = %e, agent.id = m.agent_id, ticket.number = note.ticket, "mention mail not queued");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_words_starting_with_at() {
        assert_eq!(
            mention_handles("@dana please check, cc @Lee.Park."),
            ["dana", "lee.park"]
        );
        assert!(mention_handles("mail bob@example.com").is_empty());
        assert_eq!(mention_handles("@dana @dana"), ["dana"]);
    }

    #[test]
    fn addresses_and_urls_are_not_mentions() {
        for text in [
            "write to dana@example.com",
            "<dana.lee@example.com>",
            "first_last@example.com",
            "first-last@example.com",
            "dana+billing@example.com",
            "https://mastodon.social/@dana",
        ] {
            assert!(mention_handles(text).is_empty(), "{text:?}");
        }
        assert_eq!(mention_handles("(@dana) and\n@lee:"), ["dana", "lee"]);
    }

    #[test]
    fn the_suggested_handle_can_be_typed_and_names_the_agent() {
        assert_eq!(handle_for("lee.park@example.com", "Lee Park"), "lee.park");
        assert_eq!(handle_for("Dana@example.com", "Dana Lee"), "dana");
        // A local part that cannot be typed as a mention: the name with dots.
        assert_eq!(handle_for("dana+desk@example.com", "Dana Lee"), "dana.lee");
        for (email, name) in [("x+y@e.com", "Jörg Müller"), ("a@b.c", "A")] {
            let h = handle_for(email, name);
            assert_eq!(mention_handles(&format!("@{h}")), [h], "{email} {name}");
        }
    }

    #[test]
    fn unresolved_mentions_say_nobody_was_notified() {
        let unknown = UnresolvedMention {
            handle: "foo".into(),
            reason: UnresolvedReason::NoSuchAgent,
            agent: None,
        };
        assert_eq!(
            unknown.message(),
            "@foo matches no agent; nobody was notified."
        );
        let blind = UnresolvedMention {
            handle: "lee".into(),
            reason: UnresolvedReason::NoAccess,
            agent: Some("Lee Park".into()),
        };
        assert_eq!(
            blind.message(),
            "@lee is Lee Park, who cannot see this mailbox; nobody was notified."
        );
    }

    fn note<'a>(public_url: &'a str) -> NoteRef<'a> {
        NoteRef {
            ticket: 42,
            ticket_subject: "Drucker brennt",
            mailbox_id: 1,
            mailbox_address: "support@example.com",
            mailbox_name: "Example Support",
            author_name: "Dana Lee",
            author_email: "dana@example.com",
            text: "@lee.park can you check?",
            public_url,
        }
    }

    fn lee() -> Mentioned {
        Mentioned {
            notification_id: 7,
            agent_id: 2,
            email: "lee.park@example.com".into(),
            name: "Lee Park".into(),
            offline: true,
        }
    }

    #[test]
    fn a_mention_mail_names_author_ticket_and_links_to_it() {
        let m = mention_mail(&note("https://desk.example.com/"), &lee());
        assert_eq!(m.subject, "[#42] Dana Lee mentioned you: Drucker brennt");
        assert!(m.text.contains("@lee.park can you check?"));
        assert!(m.text.contains("https://desk.example.com/tickets/42\n"));
        assert_eq!(m.to.email, "lee.park@example.com");
        assert_eq!(m.reply_to.unwrap().email, "dana@example.com");
        assert!(m.header_message_id.starts_with("fd.mention.7."));
        assert!(m.header_message_id.ends_with("@example.com"));
        // Without a public URL the link is relative.
        let m = mention_mail(&note(""), &lee());
        assert!(m.text.contains("Open the ticket: /tickets/42\n"));
    }
}
