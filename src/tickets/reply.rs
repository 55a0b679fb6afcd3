//! An agent's reply by email: the outbound message and its outbox row, in one transaction,
//! threaded onto the conversation (RFC 5322 3.6.4: In-Reply-To and References of the latest
//! customer message, our own Message-ID, `[#N]` in the subject).

use rand::RngCore;
use sqlx::PgPool;

use super::actions::{self, ActionError};
use super::messages::{self, OutboundReply};
use super::model::{EmailAddress, TicketStatus};
use super::timeline::Actor;
use crate::auth::Agent;
use crate::mailboxes::canonical_address;
use crate::outbox::{self, OutboxError, OutgoingAttachment, OutgoingEmail};

/// What the agent sends.
#[derive(Debug, Clone, Default)]
pub struct ReplyInput {
    /// Recipient addresses; at least one.
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub text: String,
    /// Status to set after sending (`None` keeps the status).
    pub status_after: Option<TicketStatus>,
    pub attachments: Vec<OutgoingAttachment>,
    /// The newest message or note the agent had seen. When something newer exists on the
    /// ticket, nothing is sent ([`ReplyError::Stale`]). `None` skips the check.
    pub seen_message_id: Option<i64>,
    /// With `status_after` closed: close "without survey" (no CSAT survey for this
    /// resolution, `crate::csat`).
    pub without_survey: bool,
    /// The public URL survey links start with (`Config::public_url`). With it, a closing
    /// reply of an agent carries the CSAT survey when the mailbox sends it that way; without
    /// it the close mails the survey separately.
    pub survey_url: Option<String>,
}

/// Errors of [`create_reply`].
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// Messages or notes newer than what the agent had seen (their ids, oldest first).
    #[error("the ticket has new messages since you opened it")]
    Stale(Vec<i64>),
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<ReplyError> for ActionError {
    fn from(e: ReplyError) -> Self {
        match e {
            ReplyError::Action(a) => a,
            ReplyError::Stale(_) => {
                ActionError::Invalid("the ticket has new messages since you opened it".into())
            }
            ReplyError::Outbox(OutboxError::Compose(c)) => ActionError::Invalid(c.to_string()),
            ReplyError::Outbox(OutboxError::Db(d)) | ReplyError::Db(d) => ActionError::Db(d),
            ReplyError::Outbox(o) => ActionError::Invalid(o.to_string()),
        }
    }
}

/// The saved replies `agent_id` may use (shared ones and their own personal ones) as
/// `(name, body)`, by name; bodies still hold their `{{...}}` variables.
pub async fn saved_replies(pool: &PgPool, agent_id: i64) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "select name, body from saved_reply
         where owner_agent_id is null or owner_agent_id = $1 order by name",
    )
    .bind(agent_id)
    .fetch_all(pool)
    .await
}

/// Every saved reply as `(id, name, body)`, by name (for `frontdesk saved-reply list`).
pub async fn list_saved_replies(pool: &PgPool) -> sqlx::Result<Vec<(i64, String, String)>> {
    sqlx::query_as(
        "select saved_reply_id, name, body from saved_reply order by name, saved_reply_id",
    )
    .fetch_all(pool)
    .await
}

/// Splits a comma, semicolon or line separated address list and checks each address.
pub fn parse_address_list(input: &str) -> Result<Vec<String>, ActionError> {
    let mut out: Vec<String> = Vec::new();
    for raw in input
        .split([',', ';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        // "Name <a@b>" → a@b
        let addr = raw
            .rsplit_once('<')
            .map(|(_, a)| a.trim_end_matches('>'))
            .unwrap_or(raw)
            .trim()
            .to_lowercase();
        let valid = addr.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        }) && !addr
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '"');
        if !valid {
            return Err(ActionError::Invalid(format!(
                "not an email address: {raw:?}"
            )));
        }
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    Ok(out)
}

/// The message a reply answers: its ids and, for Outlook's Thread-Index, its raw bytes.
#[derive(sqlx::FromRow)]
struct Parent {
    header_message_id: Option<String>,
    references: Vec<String>,
    raw: Option<Vec<u8>>,
}

/// `Re: <subject> [#N]`, without stacking prefixes or tokens.
pub fn reply_subject(subject: &str, number: i64) -> String {
    let token = format!("[#{number}]");
    let mut s = subject.trim().to_string();
    loop {
        let lower = s.to_lowercase();
        let Some(rest) = [
            "re:", "aw:", "sv:", "vs:", "antw:", "fwd:", "wg:", "fw:", "tr:",
        ]
        .iter()
        .find_map(|p| lower.strip_prefix(p).map(|_| p.len())) else {
            break;
        };
        s = s[rest..].trim_start().to_string();
    }
    if s.contains(&token) {
        format!("Re: {s}")
    } else {
        format!("Re: {s} {token}")
    }
}

/// Who writes a reply.
#[derive(Debug, Clone, Copy)]
pub enum ReplyAuthor<'a> {
    /// An agent.
    Agent(&'a Agent),
    /// A rule's `send_saved_reply`: its id and name (the From name uses the mailbox's name).
    Rule { id: i64, name: &'a str },
}

impl ReplyAuthor<'_> {
    fn actor(&self) -> Actor {
        match self {
            ReplyAuthor::Agent(a) => Actor::Agent(a.agent_id),
            ReplyAuthor::Rule { id, .. } => Actor::Rule(*id),
        }
    }
}

/// Queues a reply: inserts the outbound message (delivery state `queued`) and its outbox row,
/// updates the ticket, optionally sets its status. Returns the message id. The recipients
/// never include our own addresses.
pub async fn create_reply(
    pool: &PgPool,
    agent: &Agent,
    visible: Option<&[i64]>,
    number: i64,
    input: &ReplyInput,
) -> Result<i64, ReplyError> {
    let mut tx = pool.begin().await?;
    let message_id =
        queue_reply_in(&mut tx, ReplyAuthor::Agent(agent), visible, number, input).await?;
    // Sending removes the reply draft (it is this message now).
    sqlx::query("delete from draft where ticket_id = $1 and kind = 'reply'")
        .bind(number)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(
        ticket.number = number,
        message.id = message_id,
        agent.id = agent.agent_id,
        "reply queued"
    );
    Ok(message_id)
}

/// [`create_reply`]'s work in the caller's transaction, for an agent or a rule.
pub async fn queue_reply_in(
    tx: &mut sqlx::PgConnection,
    author: ReplyAuthor<'_>,
    visible: Option<&[i64]>,
    number: i64,
    input: &ReplyInput,
) -> Result<i64, ReplyError> {
    let text = input.text.trim_end();
    if text.trim().is_empty() {
        return Err(ActionError::Invalid("a reply cannot be empty".into()).into());
    }
    let ticket: Option<(i64, String, String, String, String, String)> = sqlx::query_as(
        "select t.mailbox_id, t.subject, mb.address, mb.name, mb.signature, mb.from_name_format from ticket t join mailbox mb using (mailbox_id)
         where t.ticket_id = $1 and ($2::bigint[] is null or t.mailbox_id = any($2)) for update of t",
    )
    .bind(number)
    .bind(visible)
    .fetch_optional(&mut *tx)
    .await?;
    let (mailbox_id, subject, address, mailbox_name, signature, from_name_format) =
        ticket.ok_or(ActionError::NotFound)?;

    // The send-time guard: the ticket row is locked, so of two agents sending at once the
    // second sees the first one's reply here and is held.
    if let Some(seen) = input.seen_message_id {
        let newer: Vec<i64> = sqlx::query_scalar(
            "select message_id from message where ticket_id = $1 and message_id > $2 order by message_id",
        )
        .bind(number)
        .bind(seen)
        .fetch_all(&mut *tx)
        .await?;
        if !newer.is_empty() {
            tracing::info!(
                ticket.number = number,
                actor = ?author.actor(),
                newer = newer.len(),
                "reply held: newer activity"
            );
            return Err(ReplyError::Stale(newer));
        }
    }

    let own: Vec<String> = crate::mailboxes::own_addresses(&mut *tx).await?;
    let is_own = |a: &String| own.contains(&canonical_address(a));
    let to: Vec<String> = input.to.iter().filter(|a| !is_own(a)).cloned().collect();
    let cc: Vec<String> = input
        .cc
        .iter()
        .filter(|a| !is_own(a) && !to.contains(a))
        .cloned()
        .collect();
    if to.is_empty() {
        return Err(ActionError::Invalid(
            "a reply needs at least one recipient other than our own mailboxes".into(),
        )
        .into());
    }

    // Thread onto the newest customer message (else our newest reply).
    let parent: Option<Parent> = sqlx::query_as(
        r#"select m.header_message_id, m."references", r.raw from message m left join raw_message r using (raw_message_id)
           where m.ticket_id = $1 and m.direction in ('inbound', 'outbound') and m.header_message_id is not null
           order by (m.direction = 'inbound') desc, m.created_at desc, m.message_id desc limit 1"#,
    )
    .bind(number)
    .fetch_optional(&mut *tx)
    .await?;
    let (in_reply_to, references, thread_index) = match parent {
        Some(Parent {
            header_message_id: id,
            references: refs,
            raw,
        }) => {
            let thread_index = raw.as_deref().and_then(|r| {
                mail_parser::MessageParser::default()
                    .parse_headers(r)
                    .and_then(|m| m.header_raw("Thread-Index").map(|v| v.trim().to_string()))
            });
            (id, refs, thread_index)
        }
        None => (None, Vec::new(), None),
    };

    let domain = address
        .rsplit_once('@')
        .map(|(_, d)| d.to_string())
        .unwrap_or_else(|| "frontdesk.invalid".into());
    let mut rnd = [0u8; 8];
    rand::rng().fill_bytes(&mut rnd);
    let header_message_id = format!("fd.{number}.{}@{domain}", hex::encode(rnd));
    let body = if signature.trim().is_empty() {
        text.to_string()
    } else {
        format!("{text}\n\n-- \n{}", signature.trim_end())
    };
    let from_name = match author {
        ReplyAuthor::Agent(agent) => {
            crate::mailboxes::settings::from_name(&from_name_format, &agent.name, &mailbox_name)
        }
        ReplyAuthor::Rule { .. } => mailbox_name.clone(),
    };
    let subject = reply_subject(&subject, number);
    let chain = outbox::compose::references_chain(&references, in_reply_to.as_deref());
    let to_addrs: Vec<EmailAddress> = to
        .iter()
        .map(|e| EmailAddress {
            email: e.clone(),
            name: None,
        })
        .collect();
    let cc_addrs: Vec<EmailAddress> = cc
        .iter()
        .map(|e| EmailAddress {
            email: e.clone(),
            name: None,
        })
        .collect();

    let closing = input.status_after == Some(TicketStatus::Closed);
    let message_id = messages::append_reply(
        &mut *tx,
        number,
        &OutboundReply {
            author: author.actor(),
            from_email: &address,
            from_name: &from_name,
            to: &to_addrs,
            cc: &cc_addrs,
            subject: &subject,
            text: &body,
            header_message_id: &header_message_id,
            in_reply_to: in_reply_to.as_deref(),
            references: &chain,
            attachments: &input.attachments,
        },
    )
    .await?;
    // The survey goes into the mail only (not the stored message): its token is the
    // customer's, not something agents should be able to click.
    let survey = match (&input.survey_url, author) {
        (Some(url), ReplyAuthor::Agent(_)) if closing && !input.without_survey => {
            crate::csat::survey::prepare_in_reply(&mut *tx, number, url).await?
        }
        _ => None,
    };
    let mail_text = match survey {
        Some(block) => format!("{body}\n\n{block}"),
        None => body.clone(),
    };
    outbox::enqueue(
        &mut *tx,
        &OutgoingEmail {
            mailbox_id,
            message_id,
            from_name,
            from_address: address.clone(),
            to: to_addrs,
            cc: cc_addrs,
            reply_to: None,
            subject,
            header_message_id,
            in_reply_to,
            references: chain,
            text: mail_text,
            attachments: input.attachments.clone(),
            thread_index,
        },
    )
    .await?;
    if let Some(status) = input.status_after {
        actions::set_status(tx, author.actor(), visible, number, status, None).await?;
    }
    if closing && input.without_survey {
        crate::csat::survey::withdraw(tx, number).await?;
    }
    Ok(message_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_subjects_do_not_stack() {
        assert_eq!(reply_subject("Drucker", 7), "Re: Drucker [#7]");
        assert_eq!(reply_subject("AW: Re: Drucker", 7), "Re: Drucker [#7]");
        assert_eq!(reply_subject("Re: Drucker [#7]", 7), "Re: Drucker [#7]");
    }

    #[test]
    fn address_lists_are_validated() {
        assert_eq!(
            parse_address_list("a@example.org, Bob <B@Example.org>;a@example.org").unwrap(),
            ["a@example.org", "b@example.org"]
        );
        assert!(parse_address_list("not-an-address").is_err());
        assert!(parse_address_list("x@y").is_err());
        assert!(parse_address_list("").unwrap().is_empty());
    }
}
