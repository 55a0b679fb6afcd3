//! Full-text search over tickets (PostgreSQL `tsvector`, no extra service): subjects, bodies,
//! internal notes, sender addresses and attachment file names. [`index_pending`] builds the
//! vectors in the background; [`search`] answers queries, best match first, newest first among
//! equals, with the matching words marked. A query may hold filters ([`parse`]): `tag:refund`,
//! `from:jana@example.org`, `status:open`; `#17` alone is ticket 17.

use std::time::Duration;

use sqlx::{FromRow, PgPool};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// Messages indexed per statement.
const INDEX_BATCH: i64 = 500;

/// Builds the search vector of up to [`INDEX_BATCH`] unindexed messages; returns how many.
/// Safe on several nodes at once (`SKIP LOCKED`). The vector is the SQL function
/// `message_search_vector` (migrations/20261203000010), which the benchmark seeder uses too,
/// with the message's attachment names (its five-argument form, migration 20261203140100;
/// the same as the four-argument one for a message without attachments).
pub async fn index_pending(pool: &PgPool) -> sqlx::Result<u64> {
    let r = sqlx::query(
        "update message m set search =
            message_search_vector(m.subject, m.from_email, m.from_name, m.text_body,
                (select string_agg(a.filename, ' ') from attachment a
                 where a.message_id = m.message_id and not a.inline))
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

/// The ticket statuses a `status:` filter takes.
pub const STATUSES: [&str; 4] = ["open", "pending", "snoozed", "closed"];

/// A search query taken apart: the words for full text, and the filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    /// `#17` (and nothing else): ticket 17.
    pub ticket: Option<i64>,
    /// What is left for full text (web-search syntax), trimmed; may be empty.
    pub text: String,
    /// `tag:NAME`, lower-cased; every one must be on the ticket.
    pub tags: Vec<String>,
    /// `from:ADDRESS`: the ticket's customer, lower-cased.
    pub from: Option<String>,
    /// `status:STATUS`, one of [`STATUSES`].
    pub status: Option<String>,
    /// Filters with a value they cannot take (`status:bogus`), as written; left out of the search.
    pub unknown: Vec<String>,
}

impl ParsedQuery {
    fn has_filters(&self) -> bool {
        !self.tags.is_empty() || self.from.is_some() || self.status.is_some()
    }
}

/// Takes a query apart. Filters are words outside quotes of the form `tag:`, `from:`,
/// `status:` with a value (the key in any case); everything else stays text, in order.
pub fn parse(query: &str) -> ParsedQuery {
    let query = query.trim();
    let mut p = ParsedQuery::default();
    if let Some(n) = query.strip_prefix('#')
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
    {
        p.ticket = n.parse().ok();
        return p;
    }
    let mut text: Vec<&str> = Vec::new();
    let mut in_quotes = false;
    for word in query.split_whitespace() {
        let filter = (!in_quotes)
            .then(|| word.split_once(':'))
            .flatten()
            .filter(|(_, v)| !v.is_empty());
        match filter.map(|(k, v)| (k.to_ascii_lowercase(), v)) {
            Some((k, v)) if k == "tag" => p.tags.push(v.trim_start_matches('#').to_lowercase()),
            Some((k, v)) if k == "from" => p.from = Some(v.to_lowercase()),
            Some((k, v)) if k == "status" => {
                let v = v.to_lowercase();
                if STATUSES.contains(&v.as_str()) {
                    p.status = Some(v);
                } else {
                    p.unknown.push(word.to_string());
                }
            }
            _ => text.push(word),
        }
        if word.matches('"').count() % 2 == 1 {
            in_quotes = !in_quotes;
        }
    }
    p.text = text.join(" ");
    p
}

/// Searches the visible mailboxes with web-search syntax (`"exact phrase"`, `-not`, `or`) and
/// the filters of [`parse`]. At most `limit` tickets, best match first, newest first among
/// equals; with filters only, the matching tickets by last activity, newest first. `#17` is
/// ticket 17 alone when it is visible.
pub async fn search(
    pool: &PgPool,
    visible: Option<&[i64]>,
    query: &str,
    limit: i64,
) -> sqlx::Result<Vec<Hit>> {
    let q = parse(query);
    if let Some(n) = q.ticket {
        return sqlx::query_as(
            "select t.ticket_id as number, t.subject, t.status, c.email as customer_email,
                    c.name as customer_name, t.last_message_at, t.snippet as excerpt
             from ticket t left join customer c on c.customer_id = t.customer_id
             where t.ticket_id = $1 and ($2::bigint[] is null or t.mailbox_id = any($2))",
        )
        .bind(n)
        .bind(visible)
        .fetch_all(pool)
        .await;
    }
    // The filters, on ticket `t`, from parameter `$first` on (customer, status, tags); each is
    // `true` when absent, which the planner folds away (the statements are planned per call,
    // with their values), so a plain search costs what it did.
    let filters = |first: usize| {
        let (f, s, t) = (first, first + 1, first + 2);
        format!(
            "(${f}::text is null or t.customer_id = (select customer_id from customer where lower(email) = ${f}))
              and (${s}::text is null or t.status = ${s})
              and (cardinality(${t}::text[]) = 0 or t.ticket_id in (
                    select tt.ticket_id from ticket_tag tt join tag g on g.tag_id = tt.tag_id
                    where lower(g.name) = any(${t}) group by tt.ticket_id having count(*) = cardinality(${t})))"
        )
    };
    if q.text.is_empty() {
        if !q.has_filters() {
            return Ok(Vec::new());
        }
        return sqlx::query_as(&format!(
            "select t.ticket_id as number, t.subject, t.status, c.email as customer_email,
                    c.name as customer_name, t.last_message_at, t.snippet as excerpt
             from ticket t left join customer c on c.customer_id = t.customer_id
             where ($1::bigint[] is null or t.mailbox_id = any($1)) and {}
             order by t.last_message_at desc, t.ticket_id desc limit $2",
            filters(3)
        ))
        .persistent(false)
        .bind(visible)
        .bind(limit.clamp(1, 200))
        .bind(&q.from)
        .bind(&q.status)
        .bind(&q.tags)
        .fetch_all(pool)
        .await;
    }
    // The tsquery is written inline (not in a CTE) and the statement is planned per call, so the
    // planner sees how common the words are: rare words use the GIN index, common ones walk
    // messages newest first and stop at 2000 matches. Ranking runs on those 2000 only
    // (measured at 1M tickets: a common word went from 11.4 s to ~20 ms). The choice rests on
    // the planner's estimate of a word's frequency, hence the larger statistics target on
    // message.search (migration 23): with the default, a rare word (541 matches) was estimated
    // at 15,891 and walked 3M messages when this cap was 1000 (30 s).
    sqlx::query_as(&format!(
        "with matches as (
            select m.ticket_id, m.message_id, m.search
            from message m
            where m.search @@ websearch_to_tsquery('simple', $1)
              and ($2::bigint[] is null or (select t.mailbox_id from ticket t where t.ticket_id = m.ticket_id) = any($2))
              and ($8 or exists (select 1 from ticket t where t.ticket_id = m.ticket_id and {}))
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
        filters(5)
    ))
    .persistent(false)
    .bind(&q.text)
    .bind(visible)
    .bind(limit.clamp(1, 200))
    .bind("StartSel=\u{1}, StopSel=\u{2}, MaxWords=30, MinWords=12, MaxFragments=2")
    .bind(&q.from)
    .bind(&q.status)
    .bind(&q.tags)
    .bind(!q.has_filters())
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
    fn queries_are_taken_apart_into_words_and_filters() {
        assert_eq!(parse(" #17 ").ticket, Some(17));
        assert_eq!(parse("#17 refund").ticket, None);
        assert_eq!(parse("#").ticket, None);
        let p = parse("Refund tag:#Refund from:Jana@Example.org STATUS:open \"tag:x y\" -z");
        assert_eq!(p.text, "Refund \"tag:x y\" -z");
        assert_eq!(p.tags, ["refund"]);
        assert_eq!(p.from.as_deref(), Some("jana@example.org"));
        assert_eq!(p.status.as_deref(), Some("open"));
        let p = parse("status:bogus tag: word");
        assert_eq!(p.unknown, ["status:bogus"]);
        assert_eq!(p.text, "tag: word");
        assert!(!p.has_filters());
    }

    #[test]
    fn excerpts_are_escaped_before_marking() {
        assert_eq!(
            excerpt_html("a <b> \u{1}x\u{2} & y"),
            "a &lt;b&gt; <mark>x</mark> &amp; y"
        );
        assert_eq!(excerpt_text("\u{1}x\u{2}"), "**x**");
    }
}
