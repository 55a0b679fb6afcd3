//! Lifecycle stages (`lifecycle_stage`): onboarding, active, renewal, at risk, churned, plus
//! what admins add. Admins rename and add stages (never delete: customers and rules name
//! them); every change is in the audit log.

use serde::Serialize;
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgExecutor};

use crate::audit::{self, AuditActor};

/// The `builtin` key of the seeded "at risk" stage (the "At-risk accounts" view follows it
/// whatever admins rename it to).
pub const AT_RISK: &str = "at_risk";

/// Longest stage name, in characters.
pub const MAX_NAME_CHARS: usize = 40;

/// A lifecycle stage.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Stage {
    #[sqlx(rename = "lifecycle_stage_id")]
    pub id: i64,
    pub name: String,
    /// `onboarding`, `active`, `renewal`, `at_risk`, `churned` for the seeded stages; `None`
    /// for stages admins added.
    pub builtin: Option<String>,
    pub position: i32,
    /// Customers with this stage of their own, and companies with it.
    #[serde(skip)]
    pub customers: i64,
    #[serde(skip)]
    pub companies: i64,
}

/// Every stage in order, with how many customers and companies have it.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Stage>> {
    sqlx::query_as(
        "select s.lifecycle_stage_id, s.name, s.builtin, s.position,
                (select count(*) from customer c where c.lifecycle_stage_id = s.lifecycle_stage_id) as customers,
                (select count(*) from company c where c.lifecycle_stage_id = s.lifecycle_stage_id) as companies
         from lifecycle_stage s order by s.position, s.lifecycle_stage_id",
    )
    .fetch_all(db)
    .await
}

/// Every stage in order **without** counting its customers and companies (`customers` and
/// `companies` are 0): for pages that only name the stages (the inbox's filter, the ticket
/// sidebar), since counting reads every staged customer (tens of milliseconds at a million
/// tickets, on every page).
pub async fn list_uncounted(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Stage>> {
    sqlx::query_as(
        "select s.lifecycle_stage_id, s.name, s.builtin, s.position,
                0::bigint as customers, 0::bigint as companies
         from lifecycle_stage s order by s.position, s.lifecycle_stage_id",
    )
    .fetch_all(db)
    .await
}

/// The id of the stage named `name` (case ignored, spaces trimmed), if there is one.
pub async fn find_by_name(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "select lifecycle_stage_id from lifecycle_stage where lower(name) = lower($1)",
    )
    .bind(name.trim())
    .fetch_optional(db)
    .await
}

/// The id of a seeded stage by its `builtin` key ([`AT_RISK`]); `None` if it is gone.
pub async fn find_builtin(db: impl PgExecutor<'_>, key: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("select lifecycle_stage_id from lifecycle_stage where builtin = $1")
        .bind(key)
        .fetch_optional(db)
        .await
}

/// Why a stage change was refused.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// A bad name: the message says why.
    #[error("{0}")]
    Invalid(String),
    #[error("no such lifecycle stage")]
    NotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn check_name(name: &str) -> Result<String, StageError> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(StageError::Invalid("name: a stage needs a name".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(StageError::Invalid(format!(
            "name: at most {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name)
}

async fn check_free(
    conn: &mut PgConnection,
    name: &str,
    except: Option<i64>,
) -> Result<(), StageError> {
    let taken: Option<i64> = sqlx::query_scalar(
        "select lifecycle_stage_id from lifecycle_stage where lower(name) = lower($1)
           and ($2::bigint is null or lifecycle_stage_id <> $2)",
    )
    .bind(name)
    .bind(except)
    .fetch_optional(&mut *conn)
    .await?;
    match taken {
        Some(_) => Err(StageError::Invalid(format!(
            "name: there is already a stage called {name:?}"
        ))),
        None => Ok(()),
    }
}

/// Adds a stage after the others; returns its id. Audited as `lifecycle_stage.create`.
pub async fn create(
    conn: &mut PgConnection,
    actor: &AuditActor,
    name: &str,
) -> Result<i64, StageError> {
    let name = check_name(name)?;
    // One writer at a time, so that two admins adding the same name cannot both pass.
    sqlx::query("lock table lifecycle_stage in share row exclusive mode")
        .execute(&mut *conn)
        .await?;
    check_free(conn, &name, None).await?;
    let id: i64 = sqlx::query_scalar(
        "insert into lifecycle_stage (name, position)
         values ($1, (select coalesce(max(position), 0) + 1 from lifecycle_stage)) returning lifecycle_stage_id",
    )
    .bind(&name)
    .fetch_one(&mut *conn)
    .await?;
    audit::record(
        &mut *conn,
        actor,
        "lifecycle_stage.create",
        &name,
        None,
        Some(json!({ "name": name })),
    )
    .await?;
    Ok(id)
}

/// Renames a stage (customers, companies and views keep it). Audited as
/// `lifecycle_stage.rename`. Rules naming the old name are changed to the new one in the same
/// transaction ([`crate::rules::store::rename_lifecycle_stage`]), so they go on matching.
pub async fn rename(
    conn: &mut PgConnection,
    actor: &AuditActor,
    id: i64,
    name: &str,
) -> Result<(), StageError> {
    let name = check_name(name)?;
    sqlx::query("lock table lifecycle_stage in share row exclusive mode")
        .execute(&mut *conn)
        .await?;
    let old: String =
        sqlx::query_scalar("select name from lifecycle_stage where lifecycle_stage_id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StageError::NotFound)?;
    if old == name {
        return Ok(());
    }
    check_free(conn, &name, Some(id)).await?;
    sqlx::query("update lifecycle_stage set name = $2 where lifecycle_stage_id = $1")
        .bind(id)
        .bind(&name)
        .execute(&mut *conn)
        .await?;
    audit::record(
        &mut *conn,
        actor,
        "lifecycle_stage.rename",
        &old,
        Some(json!({ "name": old })),
        Some(json!({ "name": name })),
    )
    .await?;
    crate::rules::store::rename_lifecycle_stage(conn, actor, &old, &name).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(check_name("  at   risk ").unwrap(), "at risk");
        assert!(check_name("   ").is_err());
        assert!(check_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
    }
}
