//! Full-text search over tickets (PostgreSQL `tsvector`, no extra service): subjects, bodies,
//! internal notes, sender addresses and attachment file names. [`index_pending`] builds the
//! vectors in the background; [`search`] answers queries, best match first, newest first among
//! equals, with the matching words marked. A query may hold filters ([`parse`]): `tag:refund`,
//! `from:jana@example.org`, `status:open`; `#17` alone is ticket 17.
//!
//! Language (migration 20261206040000): each mailbox has a search language
//! (`mailbox.search_language`, default `english`); its mail is indexed with the text search
//! configuration `frontdesk_<language>`, a copy of PostgreSQL's own with `unaccent` before the
//! stemmer for non-ASCII words, so "invoices" finds "invoice" and "Muller" finds "Müller".
//! CJK runs are also indexed as overlapping bigrams, and the query cuts them the same way
//! ([`cjk_phrases`]), so a fragment finds the sentence it comes from.

use std::time::Duration;

use sqlx::{FromRow, PgPool};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// Messages indexed per statement.
const INDEX_BATCH: i64 = 500;

/// Builds the search vector of up to [`INDEX_BATCH`] messages waiting for one (new mail, mail
/// stored before the mailbox languages, mail of a mailbox whose language changed: all have
/// `message.search_config` null); returns how many. Safe on several nodes at once
/// (`SKIP LOCKED`). The vector is the SQL function `message_search_vector_in`
/// (migrations/20261206040000) with the configuration of the message's mailbox
/// (`frontdesk_<mailbox.search_language>`, stored in `message.search_config`) and the
/// message's attachment names; the benchmark seeder stores the same.
pub async fn index_pending(pool: &PgPool) -> sqlx::Result<u64> {
    let r = sqlx::query(
        "update message m set
            search = message_search_vector_in(p.cfg, m.subject, m.from_email, m.from_name, m.text_body,
                (select string_agg(a.filename, ' ') from attachment a
                 where a.message_id = m.message_id and not a.inline)),
            search_config = p.cfg
         from (
            select q.message_id, ('frontdesk_' || b.search_language)::regconfig as cfg
            from message q join ticket t on t.ticket_id = q.ticket_id join mailbox b on b.mailbox_id = t.mailbox_id
            where q.search_config is null
            order by q.message_id limit $1
            for update of q skip locked) p
         where m.message_id = p.message_id",
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

/// Whether `c` is written without spaces between words and indexed as bigrams: Hiragana,
/// Katakana, CJK ideographs, Hangul (the ranges of the SQL function `cjk_bigrams`).
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30ff}' | '\u{31f0}'..='\u{31ff}' | '\u{3400}'..='\u{4dbf}'
        | '\u{4e00}'..='\u{9fff}' | '\u{f900}'..='\u{faff}' | '\u{ac00}'..='\u{d7af}'
        | '\u{1100}'..='\u{11ff}' | '\u{3130}'..='\u{318f}')
}

/// Rewrites the CJK runs of a web-search query the way the index stores them: a run of two or
/// more characters becomes the phrase of its overlapping bigrams (`東京都` -> `"東京 京都"`),
/// so that a fragment from the middle of a sentence matches; inside a quoted phrase the
/// bigrams join that phrase without quotes of their own. One character stays as it is.
pub fn cjk_phrases(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() * 2);
    let mut in_quotes = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !is_cjk(c) {
            if c == '"' {
                in_quotes = !in_quotes;
            }
            out.push(c);
            i += 1;
            continue;
        }
        let end = (i..chars.len())
            .find(|&j| !is_cjk(chars[j]))
            .unwrap_or(chars.len());
        let run = &chars[i..end];
        if run.len() == 1 {
            out.push(run[0]);
        } else {
            let bigrams: Vec<String> = run.windows(2).map(|w| w.iter().collect()).collect();
            let bigrams = bigrams.join(" ");
            let before = out.chars().last();
            if in_quotes {
                if before.is_some_and(|b| !b.is_whitespace() && b != '"') {
                    out.push(' ');
                }
                out.push_str(&bigrams);
                if end < chars.len() && !chars[end].is_whitespace() && chars[end] != '"' {
                    out.push(' ');
                }
            } else {
                if before.is_some_and(|b| !b.is_whitespace() && b != '-') {
                    out.push(' ');
                }
                out.push('"');
                out.push_str(&bigrams);
                out.push('"');
                if end < chars.len() && !chars[end].is_whitespace() {
                    out.push(' ');
                }
            }
        }
        i = end;
    }
    out
}

/// The text search configurations of the visible mailboxes (`frontdesk_<search_language>`),
/// sorted, without duplicates; only names of lower-case ASCII letters and `_` (they are
/// written into the statement).
async fn search_configs(pool: &PgPool, visible: Option<&[i64]>) -> sqlx::Result<Vec<String>> {
    let configs: Vec<String> = sqlx::query_scalar(
        "select distinct 'frontdesk_' || search_language from mailbox
         where $1::bigint[] is null or mailbox_id = any($1) order by 1",
    )
    .bind(visible)
    .fetch_all(pool)
    .await?;
    Ok(configs
        .into_iter()
        .filter(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .collect())
}

/// The tsquery of parameter `$1` (web-search syntax) in 'simple' (vectors not yet re-indexed
/// in their mailbox's language match exactly) OR'ed with each configuration's.
fn tsquery_sql(configs: &[String]) -> String {
    let mut q = String::from("(websearch_to_tsquery('simple', $1)");
    for c in configs {
        q.push_str(&format!(" || websearch_to_tsquery('{c}', $1)"));
    }
    q.push(')');
    q
}

/// Searches the visible mailboxes with web-search syntax (`"exact phrase"`, `-not`, `or`) and
/// the filters of [`parse`], in the visible mailboxes' search languages (and exactly, for
/// vectors not yet re-indexed). At most `limit` tickets, best match first, newest first among
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
    // Stemming and accent folding come from the mailboxes' configurations; CJK fragments from
    // the bigrams ([`cjk_phrases`]).
    let text = cjk_phrases(&q.text);
    let tsq = tsquery_sql(&search_configs(pool, visible).await?);
    // The tsquery is written inline (not in a CTE) and the statement is planned per call, so the
    // planner sees how common the words are: rare words use the GIN index, common ones walk
    // messages newest first and stop at 2000 matches. Ranking runs on those 2000 only
    // (measured at 1M tickets: a common word went from 11.4 s to ~20 ms). The choice rests on
    // the planner's estimate of a word's frequency, hence the larger statistics target on
    // message.search (migration 23): with the default, a rare word (541 matches) was estimated
    // at 15,891 and walked 3M messages when this cap was 1000 (30 s).
    sqlx::query_as(&format!(
        "with matches as (
            select m.ticket_id, m.message_id, m.search, m.search_config
            from message m
            where m.search @@ {tsq}
              and ($2::bigint[] is null or (select t.mailbox_id from ticket t where t.ticket_id = m.ticket_id) = any($2))
              and ($8 or exists (select 1 from ticket t where t.ticket_id = m.ticket_id and {filters}))
            order by m.message_id desc
            limit 2000
         ),
         best as (
            select distinct on (ticket_id) ticket_id, message_id, search_config, ts_rank(search, {tsq}) as rank
            from matches
            order by ticket_id, rank desc, message_id desc
         ),
         top as (select * from best order by rank desc, message_id desc limit $3)
         select t.ticket_id as number, t.subject, t.status, c.email as customer_email, c.name as customer_name,
                t.last_message_at,
                ts_headline(coalesce(top.search_config, 'simple'), left(m.text_body, 5000), {tsq}, $4) as excerpt
         from top join ticket t on t.ticket_id = top.ticket_id join message m on m.message_id = top.message_id
         left join customer c on c.customer_id = t.customer_id
         order by top.rank desc, top.message_id desc",
        filters = filters(5)
    ))
    .persistent(false)
    .bind(&text)
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
    fn cjk_runs_become_phrases_of_their_bigrams() {
        assert_eq!(cjk_phrases("東京都"), "\"東京 京都\"");
        assert_eq!(cjk_phrases("請求書 invoice"), "\"請求 求書\" invoice");
        assert_eq!(cjk_phrases("abc東京"), "abc \"東京\"");
        assert_eq!(cjk_phrases("-東京都"), "-\"東京 京都\"");
        assert_eq!(cjk_phrases("\"東京都 tower\""), "\"東京 京都 tower\"");
        assert_eq!(cjk_phrases("한국어"), "\"한국 국어\"");
        // One character, and text without CJK, stay as they are.
        assert_eq!(cjk_phrases("日 Müller -x"), "日 Müller -x");
        assert_eq!(cjk_phrases(""), "");
    }

    #[test]
    fn every_configuration_is_ored_with_simple() {
        assert_eq!(tsquery_sql(&[]), "(websearch_to_tsquery('simple', $1))");
        assert_eq!(
            tsquery_sql(&["frontdesk_english".into(), "frontdesk_german".into()]),
            "(websearch_to_tsquery('simple', $1) || websearch_to_tsquery('frontdesk_english', $1) \
             || websearch_to_tsquery('frontdesk_german', $1))"
        );
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
