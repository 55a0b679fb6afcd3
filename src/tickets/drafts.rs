//! Shared drafts: a reply or note saved server-side while it is typed, one per ticket and kind.
//! It survives a closed tab and a restart; other agents see who is drafting and may read it or
//! take it over; sending or discarding removes it. Every save names the version it was based
//! on, so two people never silently overwrite each other.

use serde::Serialize;
use sqlx::{FromRow, PgPool};
use time::OffsetDateTime;

use super::actions::ActionError;

/// A draft as the composer shows it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Draft {
    pub kind: String,
    pub owner_agent_id: i64,
    pub owner_name: String,
    pub body: String,
    pub to_addrs: String,
    pub cc_addrs: String,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Why a save was refused.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    /// Someone else saved or took over since `version`: the current draft.
    #[error("the draft changed since version you edited")]
    Conflict(Box<Draft>),
    /// The draft this save was based on is gone (sent or discarded meanwhile): it is not
    /// brought back by a late autosave. Saving again from version 0 starts a new draft.
    #[error("the draft was sent or discarded")]
    Gone,
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn check_kind(kind: &str) -> Result<(), ActionError> {
    if matches!(kind, "reply" | "note") {
        Ok(())
    } else {
        Err(ActionError::Invalid(format!("unknown draft kind {kind:?}")))
    }
}

/// The ticket's mailbox, if the agent may see the ticket.
async fn check_visible(
    pool: &PgPool,
    visible: Option<&[i64]>,
    ticket: i64,
) -> Result<i64, ActionError> {
    super::visible_mailbox_of(pool, visible, ticket)
        .await?
        .ok_or(ActionError::NotFound)
}

/// Tells every node that the ticket's drafts changed (new, taken over, or gone).
async fn announce(pool: &PgPool, ticket: i64, mailbox: i64) -> sqlx::Result<()> {
    crate::live::notify(pool, &crate::live::LiveEvent::Draft { ticket, mailbox }).await
}

/// The drafts of a ticket (reply and note), if any.
pub async fn drafts_of(
    pool: &PgPool,
    visible: Option<&[i64]>,
    ticket: i64,
) -> Result<Vec<Draft>, ActionError> {
    check_visible(pool, visible, ticket).await?;
    Ok(sqlx::query_as(
        "select d.kind, d.owner_agent_id, a.name as owner_name, d.body, d.to_addrs, d.cc_addrs, d.version, d.updated_at
         from draft d join agent a on a.agent_id = d.owner_agent_id where d.ticket_id = $1 order by d.kind",
    )
    .bind(ticket)
    .fetch_all(pool)
    .await?)
}

/// What the composer sends on every autosave.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DraftText {
    /// The version the text was based on (0 for a new draft).
    pub version: i32,
    pub body: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub cc: String,
}

/// Saves the agent's draft. Refused with the current draft when someone else owns it or saved
/// a version newer than `text.version`. Returns the new version. A new draft is announced
/// to every node ([`crate::live::LiveEvent::Draft`]); later autosaves are not.
pub async fn save(
    pool: &PgPool,
    agent: i64,
    visible: Option<&[i64]>,
    ticket: i64,
    kind: &str,
    text: &DraftText,
) -> Result<i32, DraftError> {
    let (base_version, body, to, cc) = (text.version, &text.body, &text.to, &text.cc);
    check_kind(kind)?;
    let mailbox = check_visible(pool, visible, ticket).await?;
    // Only a save from version 0 may create the draft; a later one only updates it, so an
    // autosave that arrives after the draft was sent or discarded does not resurrect it.
    let saved: Option<i32> = if base_version == 0 {
        sqlx::query_scalar(
            "insert into draft (ticket_id, kind, owner_agent_id, body, to_addrs, cc_addrs) values ($1, $2, $3, $4, $5, $6)
             on conflict (ticket_id, kind) do update
                set body = excluded.body, to_addrs = excluded.to_addrs, cc_addrs = excluded.cc_addrs,
                    version = draft.version + 1, updated_at = now()
                where draft.owner_agent_id = $3 and draft.version = 0
             returning version",
        )
        .bind(ticket)
        .bind(kind)
        .bind(agent)
        .bind(body)
        .bind(to)
        .bind(cc)
        .fetch_optional(pool)
        .await?
    } else {
        sqlx::query_scalar(
            "update draft set body = $4, to_addrs = $5, cc_addrs = $6, version = version + 1, updated_at = now()
             where ticket_id = $1 and kind = $2 and owner_agent_id = $3 and version = $7
             returning version",
        )
        .bind(ticket)
        .bind(kind)
        .bind(agent)
        .bind(body)
        .bind(to)
        .bind(cc)
        .bind(base_version)
        .fetch_optional(pool)
        .await?
    };
    match saved {
        Some(v) => {
            if v == 1 {
                announce(pool, ticket, mailbox).await?;
            }
            Ok(v)
        }
        None => {
            let current = drafts_of(pool, visible, ticket)
                .await?
                .into_iter()
                .find(|d| d.kind == kind);
            match current {
                Some(d) => Err(DraftError::Conflict(Box::new(d))),
                None => Err(DraftError::Gone),
            }
        }
    }
}

/// Takes over someone's draft (the text stays); returns the new version.
pub async fn take_over(
    pool: &PgPool,
    agent: i64,
    visible: Option<&[i64]>,
    ticket: i64,
    kind: &str,
) -> Result<i32, ActionError> {
    check_kind(kind)?;
    let mailbox = check_visible(pool, visible, ticket).await?;
    let v: Option<i32> = sqlx::query_scalar(
        "update draft set owner_agent_id = $3, version = version + 1, updated_at = now()
         where ticket_id = $1 and kind = $2 returning version",
    )
    .bind(ticket)
    .bind(kind)
    .bind(agent)
    .fetch_optional(pool)
    .await?;
    let v = v.ok_or(ActionError::NotFound)?;
    announce(pool, ticket, mailbox).await?;
    Ok(v)
}

/// Discards a draft (anyone who can see the ticket may).
pub async fn discard(
    pool: &PgPool,
    visible: Option<&[i64]>,
    ticket: i64,
    kind: &str,
) -> Result<(), ActionError> {
    check_kind(kind)?;
    let mailbox = check_visible(pool, visible, ticket).await?;
    let gone = sqlx::query("delete from draft where ticket_id = $1 and kind = $2")
        .bind(ticket)
        .bind(kind)
        .execute(pool)
        .await?
        .rows_affected();
    if gone > 0 {
        announce(pool, ticket, mailbox).await?;
    }
    Ok(())
}
