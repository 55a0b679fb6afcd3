//! Full-text search over tickets (PostgreSQL `tsvector`, no extra service): subjects, bodies,
//! internal notes and sender addresses. [`index_pending`] builds the vectors in the
//! background; [`search`] answers queries, best match first, newest first among equals, with
//! the matching words marked.

use std::time::Duration;

use sqlx::{FromRow, PgPool};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// Messages indexed per statement.
const INDEX_BATCH: i64 = 500;

/// Builds the search vector of up to [`INDEX_BATCH`] unindexed messages; returns how many.
/// Safe on several nodes at once (`SKIP LOCKED`). The vector is the SQL function
/// `message_search_vector` (migrations/20261203000010), which the benchmark seeder uses too.
pub async fn index_pending(pool: &PgPool) -> sqlx::Result<u64> {
    let r = sqlx::query(
        "update message m set search =
            message_search_vector(m.subject, m.from_email, m.from_name, m.text_body)
         where m.message_id in (
            select message_id from message where search is null order by message_id limit $1 for update skip locked)",
    )
    .bind(INDEX_BATCH)
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}

/// The indexer worker: indexes while there is work, then checks every second.
pub async fn run_indexer(pool: PgPool, shutdown: CancellationToken) {
    loop {
        let idle = match index_pending(&pool).await {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(error = %e, "search indexing failed; retrying");
                true
            }
        };
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.cancelled() => return,
            }
        } else if shutdown.is_cancelled() {
            return;
        }
    }
}

/// One search hit: a ticket and the best-matching message's excerpt.
#[derive(Debug, Clone, FromRow)]
pub struct Hit {
    pub number: i64,
    pub subject: String,
    pub status: String,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    pub last_message_at: OffsetDateTime,
    /// Excerpt with matches between `\u{1}` and `\u{2}` (escape, then turn into `<mark>`).
    pub excerpt: String,
}

/// Searches the visible mailboxes with web-search syntax (`"exact phrase"`, `-not`, `or`).
/// At most `limit` tickets, best match first, newest first among equals.
pub async fn search(
    pool: &PgPool,
    visible: Option<&[i64]>,
    query: &str,
    limit: i64,
) -> sqlx::Result<Vec<Hit>> {
    let query = query.trim();
    if query.is_empty() {
        return Ok(Vec::new());
    }
    // The tsquery is written inline (not in a CTE) and the statement is planned per call, so the
    // planner sees how common the words are: rare words use the GIN index, common ones walk
    // messages newest first and stop at 2000 matches. Ranking runs on those 2000 only
    // (measured at 1M tickets: a common word went from 11.4 s to ~20 ms). The choice rests on
    // the planner's estimate of a word's frequency, hence the larger statistics target on
    // message.search (migration 23): with the default, a rare word (541 matches) was estimated
    // at 15,891 and walked 3M messages when this cap was 1000 (30 s).
    sqlx::query_as(
        "with matches as (
            select m.ticket_id, m.message_id, m.search
            from message m
            where m.search @@ websearch_to_tsquery('simple', $1)
              and ($2::bigint[] is null or (select t.mailbox_id from ticket t where t.ticket_id = m.ticket_id) = any($2))
            order by m.message_id desc
            limit 2000
         ),
         best as (
            select distinct on (ticket_id) ticket_id, message_id, ts_rank(search, websearch_to_tsquery('simple', $1)) as rank
            from matches
            order by ticket_id, rank desc, message_id desc
         ),
         top as (select * from best order by rank desc, message_id desc limit $3)
         select t.ticket_id as number, t.subject, t.status, c.email as customer_email, c.name as customer_name,
                t.last_message_at,
                ts_headline('simple', left(m.text_body, 5000), websearch_to_tsquery('simple', $1), $4) as excerpt
         from top join ticket t on t.ticket_id = top.ticket_id join message m on m.message_id = top.message_id
         left join customer c on c.customer_id = t.customer_id
         order by top.rank desc, top.message_id desc",
    )
    .persistent(false)
    .bind(query)
    .bind(visible)
    .bind(limit.clamp(1, 200))
    .bind("StartSel=\u{1}, StopSel=\u{2}, MaxWords=30, MinWords=12, MaxFragments=2")
    .fetch_all(pool)
    .await
}

/// Escapes an excerpt for HTML and turns the match markers into `<mark>` elements.
pub fn excerpt_html(excerpt: &str) -> String {
    let mut out = String::with_capacity(excerpt.len() + 32);
    for c in excerpt.chars() {
        match c {
            '\u{1}' => out.push_str("<mark>"),
            '\u{2}' => out.push_str("</mark>"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// The excerpt as plain text with `**` around matches (for the API).
pub fn excerpt_text(excerpt: &str) -> String {
    excerpt.replace(['\u{1}', '\u{2}'], "**")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_escaped_before_marking() {
        assert_eq!(
            excerpt_html("a <b> \u{1}x\u{2} & y"),
            "a &lt;b&gt; <mark>x</mark> &amp; y"
        );
        assert_eq!(excerpt_text("\u{1}x\u{2}"), "**x**");
    }
}
