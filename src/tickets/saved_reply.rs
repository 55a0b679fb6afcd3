//! Saved replies: canned text with variables that the composer fills in for one ticket.

use sqlx::PgExecutor;

/// Stores a saved reply (`name` and `body` as given; the caller trims them) and returns its id.
///
/// # Errors
/// The database's.
pub async fn create_saved_reply(
    db: impl PgExecutor<'_>,
    name: &str,
    body: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into saved_reply (name, body) values ($1, $2) returning saved_reply_id",
    )
    .bind(name)
    .bind(body)
    .fetch_one(db)
    .await
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
