//! Tags as admins manage them: list with ticket counts, rename, colour, merge and delete.
//!
//! Agents put tags on tickets in `actions::set_tags`; this module changes the tags
//! themselves. Merge and delete change `ticket_tag` for many tickets at once, set-based, and
//! give each affected ticket one `tags_changed` timeline event. `ticket_tag` rows are only
//! ever inserted and deleted (never updated), so the `tag_open_count` triggers keep the
//! inbox's open counts right. Every change is written to the audit log in the same
//! transaction.

use serde::Serialize;
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgExecutor};

use super::timeline::{self, Actor, PendingEvents, TimelineEvent};
use crate::audit::{self, AuditActor};

/// The colours a tag may have (CSS class suffix `tag-colour-<name>`); checked on the server.
pub const PALETTE: &[&str] = &[
    "grey", "red", "orange", "yellow", "green", "teal", "blue", "purple",
];

/// Longest tag name accepted (as for tags set on tickets).
pub const MAX_NAME_CHARS: usize = 50;

/// A tag with how many tickets carry it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct TagSummary {
    pub tag_id: i64,
    pub name: String,
    /// One of [`PALETTE`], or `None`.
    pub colour: Option<String>,
    /// Open, non-spam tickets with the tag (from `tag_open_count`).
    pub open_tickets: i64,
    /// Every ticket with the tag, whatever its status.
    pub all_tickets: i64,
}

/// Why a tag change was refused.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    #[error("no such tag")]
    NotFound,
    /// Bad input: the form field it concerns and a message for the admin.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn invalid(field: &'static str, message: impl Into<String>) -> TagError {
    TagError::Invalid {
        field,
        message: message.into(),
    }
}

const SUMMARY: &str = "select g.tag_id, g.name, g.colour,
        coalesce((select sum(c.n) from tag_open_count c where c.tag_id = g.tag_id), 0)::bigint as open_tickets,
        (select count(*) from ticket_tag tt where tt.tag_id = g.tag_id) as all_tickets
     from tag g";

/// Every tag by name (case ignored), with its ticket counts.
pub async fn list_tags(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<TagSummary>> {
    sqlx::query_as(&format!("{SUMMARY} order by lower(g.name), g.tag_id"))
        .fetch_all(db)
        .await
}

/// One tag with its ticket counts.
pub async fn get_tag(db: impl PgExecutor<'_>, tag_id: i64) -> sqlx::Result<Option<TagSummary>> {
    sqlx::query_as(&format!("{SUMMARY} where g.tag_id = $1"))
        .bind(tag_id)
        .fetch_optional(db)
        .await
}

/// The name and colour of a tag, locked for the rest of the transaction.
async fn lock(conn: &mut PgConnection, tag_id: i64) -> Result<(String, Option<String>), TagError> {
    sqlx::query_as("select name, colour from tag where tag_id = $1 for update")
        .bind(tag_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(TagError::NotFound)
}

/// Renames a tag. The name is trimmed (a leading `#` dropped), 1..=50 characters, and no
/// other tag may have it (case ignored); changing only its case is allowed.
pub async fn rename(
    conn: &mut PgConnection,
    actor: &AuditActor,
    tag_id: i64,
    new_name: &str,
) -> Result<(), TagError> {
    let name = new_name.trim().trim_start_matches('#').trim();
    if name.is_empty() {
        return Err(invalid("name", "A tag needs a name."));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(
            "name",
            format!("At most {MAX_NAME_CHARS} characters."),
        ));
    }
    let (old, _) = lock(conn, tag_id).await?;
    if old == name {
        return Ok(());
    }
    let taken: Option<String> =
        sqlx::query_scalar("select name from tag where lower(name) = lower($1) and tag_id <> $2")
            .bind(name)
            .bind(tag_id)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(other) = taken {
        return Err(invalid(
            "name",
            format!("A tag named “{other}” exists already; merge into it instead."),
        ));
    }
    sqlx::query("update tag set name = $2 where tag_id = $1")
        .bind(tag_id)
        .bind(name)
        .execute(&mut *conn)
        .await?;
    audit::record(
        &mut *conn,
        actor,
        "tag.rename",
        name,
        Some(json!({"name": old})),
        Some(json!({"name": name})),
    )
    .await?;
    Ok(())
}

/// Sets a tag's colour: one of [`PALETTE`], or `None` (empty input) for none.
pub async fn set_colour(
    conn: &mut PgConnection,
    actor: &AuditActor,
    tag_id: i64,
    colour: Option<&str>,
) -> Result<(), TagError> {
    let colour = colour.map(str::trim).filter(|c| !c.is_empty());
    if let Some(c) = colour
        && !PALETTE.contains(&c)
    {
        return Err(invalid(
            "colour",
            format!("Choose one of: {}.", PALETTE.join(", ")),
        ));
    }
    let (name, old) = lock(conn, tag_id).await?;
    if old.as_deref() == colour {
        return Ok(());
    }
    sqlx::query("update tag set colour = $2 where tag_id = $1")
        .bind(tag_id)
        .bind(colour)
        .execute(&mut *conn)
        .await?;
    audit::record(
        &mut *conn,
        actor,
        "tag.colour",
        &name,
        Some(json!({"colour": old})),
        Some(json!({"colour": colour})),
    )
    .await?;
    Ok(())
}

/// Merges tag `source` into `target`: every ticket with `source` gets `target` (if it lacks
/// it), `source` disappears, and each of those tickets gets one `tags_changed` event (by
/// `by`). Returns how many tickets carried `source`.
pub async fn merge(
    conn: &mut PgConnection,
    actor: &AuditActor,
    by: Actor,
    source: i64,
    target: i64,
) -> Result<u64, TagError> {
    if source == target {
        return Err(invalid("into", "Choose another tag to merge into."));
    }
    // Both rows locked in id order, so that two opposite merges cannot deadlock.
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "select tag_id, name from tag where tag_id in ($1, $2) order by tag_id for update",
    )
    .bind(source)
    .bind(target)
    .fetch_all(&mut *conn)
    .await?;
    let name_of = |id: i64| rows.iter().find(|r| r.0 == id).map(|r| r.1.clone());
    let source_name = name_of(source).ok_or(TagError::NotFound)?;
    let target_name =
        name_of(target).ok_or_else(|| invalid("into", "That tag does not exist (any more)."))?;
    // Tickets that gain `target` (they had `source` only).
    let gained: Vec<i64> = sqlx::query_scalar(
        "insert into ticket_tag (ticket_id, tag_id)
         select ticket_id, $2 from ticket_tag where tag_id = $1
         on conflict do nothing
         returning ticket_id",
    )
    .bind(source)
    .bind(target)
    .fetch_all(&mut *conn)
    .await?;
    let affected = untag_all(conn, source).await?;
    let mut events = PendingEvents::default();
    for &t in &affected {
        let added = if gained.contains(&t) {
            vec![target_name.clone()]
        } else {
            Vec::new()
        };
        events.push(
            t,
            by,
            TimelineEvent::TagsChanged {
                added,
                removed: vec![source_name.clone()],
            },
            None,
        );
    }
    timeline::record_pending(conn, events).await?;
    sqlx::query("delete from tag where tag_id = $1")
        .bind(source)
        .execute(&mut *conn)
        .await?;
    audit::record(
        &mut *conn,
        actor,
        "tag.merge",
        &source_name,
        Some(json!({"name": source_name, "tickets": affected.len()})),
        Some(json!({"merged_into": target_name})),
    )
    .await?;
    Ok(affected.len() as u64)
}

/// Deletes a tag: it is taken off every ticket (each gets a `tags_changed` event by `by`).
/// Returns how many tickets carried it.
pub async fn delete(
    conn: &mut PgConnection,
    actor: &AuditActor,
    by: Actor,
    tag_id: i64,
) -> Result<u64, TagError> {
    let (name, colour) = lock(conn, tag_id).await?;
    let affected = untag_all(conn, tag_id).await?;
    let mut events = PendingEvents::default();
    for &t in &affected {
        events.push(
            t,
            by,
            TimelineEvent::TagsChanged {
                added: Vec::new(),
                removed: vec![name.clone()],
            },
            None,
        );
    }
    timeline::record_pending(conn, events).await?;
    sqlx::query("delete from tag where tag_id = $1")
        .bind(tag_id)
        .execute(&mut *conn)
        .await?;
    audit::record(
        &mut *conn,
        actor,
        "tag.delete",
        &name,
        Some(json!({"name": name, "colour": colour, "tickets": affected.len()})),
        None,
    )
    .await?;
    Ok(affected.len() as u64)
}

/// Takes a tag off every ticket with a plain delete, so the `tag_open_count` trigger counts
/// each open ticket down (a cascade from `tag` would leave that to a deleted tag's row).
/// Returns the tickets it was on.
async fn untag_all(conn: &mut PgConnection, tag_id: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("delete from ticket_tag where tag_id = $1 returning ticket_id")
        .bind(tag_id)
        .fetch_all(&mut *conn)
        .await
}

/// Whether `colour` is in [`PALETTE`].
pub fn is_palette_colour(colour: &str) -> bool {
    PALETTE.contains(&colour)
}
