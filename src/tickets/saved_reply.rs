//! Saved replies: canned text with variables that the composer fills in for one ticket.

use serde::Serialize;
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgExecutor};
use time::OffsetDateTime;

use crate::audit::{self, AuditActor};

/// The variables [`fill_saved_reply`] fills, as `(variable, what it becomes)`, for the editor.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "{{customer.first_name}}",
        "the first word of the customer's name, else the part of their address before @",
    ),
    (
        "{{customer.name}}",
        "the customer's name, else their first name",
    ),
    (
        "{{agent.name}}",
        "the name of the agent who inserts the reply",
    ),
    ("{{ticket.number}}", "the ticket's number"),
];

/// Sample values for [`preview`]: customer name and address, ticket number.
pub const SAMPLE_CUSTOMER: (&str, &str) = ("Jana Roth", "jana.roth@example.org");
/// The ticket number [`preview`] uses.
pub const SAMPLE_TICKET: i64 = 1042;

/// Longest name accepted.
pub const MAX_NAME_CHARS: usize = 100;

/// A saved reply as the admin console lists it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct SavedReply {
    pub saved_reply_id: i64,
    pub name: String,
    /// With its `{{...}}` variables.
    pub body: String,
    /// `None` = shared with every agent; else the one agent who sees it.
    pub owner_agent_id: Option<i64>,
    /// The owner's name (personal replies only).
    pub owner_name: Option<String>,
    /// UTC.
    pub created_at: OffsetDateTime,
}

/// Why a saved reply change was refused.
#[derive(Debug, thiserror::Error)]
pub enum SavedReplyError {
    #[error("no such saved reply")]
    NotFound,
    /// Bad input: the form field and a message for the admin.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A saved reply's fields as given by a form, the API or the CLI.
#[derive(Debug, Clone, Default)]
pub struct SavedReplyInput {
    pub name: String,
    pub body: String,
    /// `None` = shared.
    pub owner_agent_id: Option<i64>,
}

impl SavedReplyInput {
    /// Trims the name and the body's end and checks both are there (name at most
    /// [`MAX_NAME_CHARS`]).
    pub fn validated(&self) -> Result<SavedReplyInput, SavedReplyError> {
        let name = self.name.trim();
        let body = self.body.trim_end();
        if name.is_empty() {
            return Err(SavedReplyError::Invalid {
                field: "name",
                message: "A saved reply needs a name.".into(),
            });
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(SavedReplyError::Invalid {
                field: "name",
                message: format!("At most {MAX_NAME_CHARS} characters."),
            });
        }
        if body.trim().is_empty() {
            return Err(SavedReplyError::Invalid {
                field: "body",
                message: "A saved reply needs a text.".into(),
            });
        }
        Ok(SavedReplyInput {
            name: name.to_string(),
            body: body.to_string(),
            owner_agent_id: self.owner_agent_id,
        })
    }

    fn audit_fields(&self, owner_email: Option<&str>) -> serde_json::Value {
        json!({"name": self.name, "body": self.body, "shared": self.owner_agent_id.is_none(), "owner": owner_email})
    }
}

const SELECT: &str =
    "select s.saved_reply_id, s.name, s.body, s.owner_agent_id, a.name as owner_name, s.created_at
     from saved_reply s left join agent a on a.agent_id = s.owner_agent_id";

/// Every saved reply, shared and personal, by name.
pub async fn list_all(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<SavedReply>> {
    sqlx::query_as(&format!(
        "{SELECT} order by lower(s.name), s.saved_reply_id"
    ))
    .fetch_all(db)
    .await
}

/// One saved reply.
pub async fn get(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<Option<SavedReply>> {
    sqlx::query_as(&format!("{SELECT} where s.saved_reply_id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

async fn owner_email(conn: &mut PgConnection, owner: Option<i64>) -> sqlx::Result<Option<String>> {
    match owner {
        None => Ok(None),
        Some(id) => {
            sqlx::query_scalar("select email from agent where agent_id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
        }
    }
}

/// Stores a saved reply (validated with [`SavedReplyInput::validated`]) and writes
/// `saved_reply.create` to the audit log; returns its id.
pub async fn create_saved_reply(
    conn: &mut PgConnection,
    actor: &AuditActor,
    input: &SavedReplyInput,
) -> Result<i64, SavedReplyError> {
    let input = input.validated()?;
    let id: i64 = sqlx::query_scalar(
        "insert into saved_reply (name, body, owner_agent_id) values ($1, $2, $3) returning saved_reply_id",
    )
    .bind(&input.name)
    .bind(&input.body)
    .bind(input.owner_agent_id)
    .fetch_one(&mut *conn)
    .await?;
    let owner = owner_email(conn, input.owner_agent_id).await?;
    audit::record(
        &mut *conn,
        actor,
        "saved_reply.create",
        &input.name,
        None,
        Some(input.audit_fields(owner.as_deref())),
    )
    .await?;
    Ok(id)
}

/// Changes a saved reply; `saved_reply.update` in the audit log with the changed fields.
pub async fn update_saved_reply(
    conn: &mut PgConnection,
    actor: &AuditActor,
    id: i64,
    input: &SavedReplyInput,
) -> Result<(), SavedReplyError> {
    let input = input.validated()?;
    let old: (String, String, Option<i64>) = sqlx::query_as(
        "select name, body, owner_agent_id from saved_reply where saved_reply_id = $1 for update",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(SavedReplyError::NotFound)?;
    let old_owner = owner_email(conn, old.2).await?;
    let new_owner = owner_email(conn, input.owner_agent_id).await?;
    let before = SavedReplyInput {
        name: old.0,
        body: old.1,
        owner_agent_id: old.2,
    }
    .audit_fields(old_owner.as_deref());
    let after = input.audit_fields(new_owner.as_deref());
    let Some((before, after)) = audit::changed_fields(&before, &after) else {
        return Ok(());
    };
    sqlx::query(
        "update saved_reply set name = $2, body = $3, owner_agent_id = $4 where saved_reply_id = $1",
    )
    .bind(id)
    .bind(&input.name)
    .bind(&input.body)
    .bind(input.owner_agent_id)
    .execute(&mut *conn)
    .await?;
    audit::record(
        &mut *conn,
        actor,
        "saved_reply.update",
        &input.name,
        Some(before),
        Some(after),
    )
    .await?;
    Ok(())
}

/// Deletes a saved reply; `saved_reply.delete` in the audit log.
pub async fn delete_saved_reply(
    conn: &mut PgConnection,
    actor: &AuditActor,
    id: i64,
) -> Result<(), SavedReplyError> {
    let old: (String, String, Option<i64>) = sqlx::query_as(
        "delete from saved_reply where saved_reply_id = $1 returning name, body, owner_agent_id",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(SavedReplyError::NotFound)?;
    let owner = owner_email(conn, old.2).await?;
    let fields = SavedReplyInput {
        name: old.0.clone(),
        body: old.1,
        owner_agent_id: old.2,
    }
    .audit_fields(owner.as_deref());
    audit::record(
        &mut *conn,
        actor,
        "saved_reply.delete",
        &old.0,
        Some(fields),
        None,
    )
    .await?;
    Ok(())
}

/// A saved reply's body with the sample customer, ticket and `agent` filled in.
pub fn preview(body: &str, agent: &str) -> String {
    fill_saved_reply(
        body,
        SAMPLE_CUSTOMER.0,
        SAMPLE_CUSTOMER.1,
        agent,
        SAMPLE_TICKET,
    )
}

/// Fills a saved reply's variables for one ticket: `{{customer.first_name}}` (the first word of
/// the customer's name, else the local part of their address), `{{customer.name}}` (their
/// name, else that first name), `{{agent.name}}` and `{{ticket.number}}`. Unknown `{{...}}`
/// stay as they are.
pub fn fill_saved_reply(
    body: &str,
    customer_name: &str,
    customer_email: &str,
    agent: &str,
    number: i64,
) -> String {
    let first = customer_name
        .split_whitespace()
        .next()
        .map(str::to_string)
        .unwrap_or_else(|| customer_email.split('@').next().unwrap_or("").to_string());
    let name = if customer_name.is_empty() {
        first.clone()
    } else {
        customer_name.to_string()
    };
    body.replace("{{customer.first_name}}", &first)
        .replace("{{customer.name}}", &name)
        .replace("{{agent.name}}", agent)
        .replace("{{ticket.number}}", &number.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_reply_variables_are_filled() {
        let b = "Hallo {{customer.first_name}}, {{agent.name}} hier zu #{{ticket.number}}.";
        assert_eq!(
            fill_saved_reply(b, "Jana Roth", "jana@example.org", "Dana", 7),
            "Hallo Jana, Dana hier zu #7."
        );
        assert_eq!(
            fill_saved_reply(b, "", "jana@example.org", "Dana", 7),
            "Hallo jana, Dana hier zu #7."
        );
    }
}
