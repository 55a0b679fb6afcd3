//! The inbox: folders with live counts, filters, sorting and keyset pagination.

use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};
use time::OffsetDateTime;

/// A built-in folder of the inbox sidebar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    /// Open and nobody assigned.
    Unassigned,
    /// Assigned to me, not closed.
    Mine,
    /// Every open ticket.
    Open,
    Pending,
    Snoozed,
    Closed,
    Spam,
    /// Not closed, with an SLA clock breached or past its warning threshold.
    SlaAtRisk,
    /// Everything but spam (used with mailbox or tag filters).
    All,
}

impl Folder {
    /// Every folder, in sidebar order, with its URL key and label.
    pub const ALL: [(Folder, &'static str, &'static str); 9] = [
        (Folder::Unassigned, "unassigned", "Unassigned"),
        (Folder::Mine, "mine", "Mine"),
        (Folder::Open, "open", "All open"),
        (Folder::Pending, "pending", "Pending"),
        (Folder::Snoozed, "snoozed", "Snoozed"),
        (Folder::Closed, "closed", "Closed"),
        (Folder::Spam, "spam", "Spam"),
        (Folder::SlaAtRisk, "sla", "SLA at risk"),
        (Folder::All, "all", "Everything"),
    ];

    /// Parses the URL key; unknown keys are `None`.
    pub fn parse(key: &str) -> Option<Folder> {
        Folder::ALL
            .iter()
            .find(|(_, k, _)| *k == key)
            .map(|(f, _, _)| *f)
    }

    pub fn key(self) -> &'static str {
        Folder::ALL
            .iter()
            .find(|(f, _, _)| *f == self)
            .map(|(_, k, _)| *k)
            .unwrap_or("open")
    }
}

/// How rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// Latest activity first (default).
    Recent,
    /// Longest waiting first: oldest last activity.
    Oldest,
    /// Newest tickets first, by creation.
    Newest,
    /// Nearest SLA due time first (overdue ones first of all); tickets without a running clock
    /// last.
    DueSoonest,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        match s {
            "recent" => Some(Sort::Recent),
            "oldest" => Some(Sort::Oldest),
            "newest" => Some(Sort::Newest),
            "due" => Some(Sort::DueSoonest),
            _ => None,
        }
    }
}

/// Who the ticket is assigned to, as a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Me,
    Unassigned,
    Agent(i64),
}

/// A validated inbox query.
#[derive(Debug, Clone)]
pub struct InboxQuery {
    pub folder: Folder,
    pub mailbox_id: Option<i64>,
    pub tag: Option<String>,
    pub assignee: Option<AssigneeFilter>,
    pub priority: Option<super::Priority>,
    /// Only tickets whose customer is VIP (their own flag, else their company's).
    pub vip: bool,
    /// Only tickets whose customer is in this lifecycle stage (own, else their company's).
    pub stage: Option<i64>,
    /// Only tickets whose customer is waiting for our answer (`waiting_since` set).
    pub waiting: bool,
    pub sort: Sort,
    /// `(timestamp in µs, ticket number)` of the last row of the previous page.
    pub after: Option<(i64, i64)>,
    pub limit: i64,
}

/// One inbox row.
#[derive(Debug, Clone, FromRow)]
pub struct InboxRow {
    pub number: i64,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub snippet: String,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    /// The customer is VIP (own flag, else their company's).
    pub customer_vip: bool,
    pub mailbox_address: String,
    pub assignee_name: Option<String>,
    pub tags: Vec<String>,
    pub message_count: i32,
    pub created_at: OffsetDateTime,
    pub last_message_at: OffsetDateTime,
    /// Since when the customer has been waiting for our answer: their oldest message after our
    /// last reply. `None` when we wrote last.
    pub waiting_since: Option<OffsetDateTime>,
    /// The agent whose reply is the latest message; `None` when the customer wrote last.
    pub last_author_name: Option<String>,
    /// The nearest due time of the ticket's running SLA clocks (UTC; past when overdue).
    pub sla_due_at: Option<OffsetDateTime>,
    /// A running SLA clock is past its warning threshold.
    pub sla_warned: bool,
    /// Activity since this agent last opened the ticket.
    pub unread: bool,
    /// Other agents on the ticket right now: `"Lee Park replying, Dana Lee viewing"`.
    pub presence: String,
}

impl InboxRow {
    /// Keyset position of this row for the given sort.
    pub fn cursor(&self, sort: Sort) -> (i64, i64) {
        keyset(
            sort,
            self.created_at,
            self.last_message_at,
            self.sla_due_at,
            self.number,
        )
    }
}

/// `(timestamp in µs, ticket number)`: a ticket's place in a list sorted by `sort`.
fn keyset(
    sort: Sort,
    created_at: OffsetDateTime,
    last_message_at: OffsetDateTime,
    sla_due_at: Option<OffsetDateTime>,
    number: i64,
) -> (i64, i64) {
    let at = match sort {
        Sort::Newest => created_at,
        Sort::DueSoonest => sla_due_at.unwrap_or(NO_DUE),
        _ => last_message_at,
    };
    ((at.unix_timestamp_nanos() / 1000) as i64, number)
}

/// The sort value of a ticket without a running SLA clock (`ticket_sla_due_idx` uses the same).
const NO_DUE: OffsetDateTime = time::macros::datetime!(9999-12-31 00:00 UTC);
const NO_DUE_SQL: &str = "coalesce(t.sla_due_at, '9999-12-31 00:00:00+00'::timestamptz)";

/// Keyset position of ticket `number` for `sort` (as [`InboxRow::cursor`]), whether or not it
/// is in a list now; `None` when it is not in the `visible` mailboxes.
pub async fn cursor_of(
    pool: &PgPool,
    visible: Option<&[i64]>,
    number: i64,
    sort: Sort,
) -> sqlx::Result<Option<(i64, i64)>> {
    let row: Option<(OffsetDateTime, OffsetDateTime, Option<OffsetDateTime>)> = sqlx::query_as(
        "select created_at, last_message_at, sla_due_at from ticket
         where ticket_id = $1 and ($2::bigint[] is null or mailbox_id = any($2))",
    )
    .bind(number)
    .bind(visible)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(c, l, d)| keyset(sort, c, l, d, number)))
}

fn push_scope(qb: &mut QueryBuilder<'_, Postgres>, visible: Option<&[i64]>) {
    qb.push(" where true");
    if let Some(v) = visible {
        qb.push(" and t.mailbox_id = any(")
            .push_bind(v.to_vec())
            .push(")");
    }
}

/// The SQL condition of [`Folder::SlaAtRisk`] on ticket `t` (`ticket_sla_at_risk_idx`).
macro_rules! sla_at_risk {
    () => {
        "t.sla_at_risk"
    };
}

fn push_folder(qb: &mut QueryBuilder<'_, Postgres>, folder: Folder, agent_id: i64) {
    match folder {
        Folder::Unassigned => {
            qb.push(" and not t.spam and t.status = 'open' and t.assignee_agent_id is null")
        }
        Folder::Mine => qb
            .push(" and not t.spam and t.status <> 'closed' and t.assignee_agent_id = ")
            .push_bind(agent_id),
        Folder::Open => qb.push(" and not t.spam and t.status = 'open'"),
        Folder::Pending => qb.push(" and not t.spam and t.status = 'pending'"),
        Folder::Snoozed => qb.push(" and not t.spam and t.status = 'snoozed'"),
        Folder::Closed => qb.push(" and not t.spam and t.status = 'closed'"),
        Folder::Spam => qb.push(" and t.spam"),
        Folder::SlaAtRisk => qb.push(concat!(
            " and not t.spam and t.status <> 'closed' and ",
            sla_at_risk!()
        )),
        Folder::All => qb.push(" and not t.spam"),
    };
}

/// SQL: the ids of VIP customers (their own flag, else their company's; see
/// `crate::customers`), from the partial indexes on the flags and the customers of each VIP
/// company by `customer_company_idx` (the `lateral ... offset 0` keeps PostgreSQL from
/// reading the whole customer table for a hash join instead), so neither table is read whole.
/// Measured at 200,000 tickets / 80,000 customers / 8,000 companies (2% VIP) on a busy
/// 2-core machine: the VIP set in 12 ms, where the hash join took 40-60 ms.
pub const VIP_CUSTOMER_IDS: &str = "select customer_id from customer where vip is not null and vip
    union all select c.customer_id from company co cross join lateral (
        select c.customer_id from customer c where c.company_id = co.company_id and c.vip is null offset 0) c
    where co.vip";

/// Adds `t.customer_id in (customers of stage `stage`, their own else their company's)`,
/// read the way [`VIP_CUSTOMER_IDS`] is.
fn push_stage_customers(qb: &mut QueryBuilder<'_, Postgres>, stage: i64) {
    qb.push(" and t.customer_id in (select customer_id from customer where lifecycle_stage_id = ")
        .push_bind(stage)
        .push(
            " union all select c.customer_id from company co cross join lateral (
                select c.customer_id from customer c
                where c.company_id = co.company_id and c.lifecycle_stage_id is null offset 0) c
              where co.lifecycle_stage_id = ",
        )
        .push_bind(stage)
        .push(")");
}

/// The VIP, lifecycle stage and waiting filters of `q`.
fn push_account_filters(qb: &mut QueryBuilder<'_, Postgres>, q: &InboxQuery) {
    if q.vip {
        qb.push(format!(" and t.customer_id in ({VIP_CUSTOMER_IDS})"));
    }
    if let Some(stage) = q.stage {
        push_stage_customers(qb, stage);
    }
    if q.waiting {
        qb.push(" and t.waiting_since is not null");
    }
}

/// How many tickets the shared views of the inbox sidebar hold for an agent who sees
/// `visible` (`None` = all): `(at-risk accounts, VIP waiting)`. "At-risk accounts": open
/// tickets of customers in stage `at_risk` (none when `None`); "VIP waiting": open tickets of
/// VIP customers waiting for our answer. Driven by the few customers with account attributes, so
/// it does not walk the open tickets.
pub async fn view_counts(
    pool: &PgPool,
    visible: Option<&[i64]>,
    at_risk: Option<i64>,
) -> sqlx::Result<(i64, i64)> {
    let mut qb = QueryBuilder::new("select (select count(*) from ticket t");
    push_scope(&mut qb, visible);
    push_folder(&mut qb, Folder::Open, 0);
    match at_risk {
        Some(stage) => push_stage_customers(&mut qb, stage),
        None => {
            qb.push(" and false");
        }
    }
    qb.push("), (select count(*) from ticket t");
    push_scope(&mut qb, visible);
    push_folder(&mut qb, Folder::Open, 0);
    qb.push(format!(
        " and t.waiting_since is not null and t.customer_id in ({VIP_CUSTOMER_IDS}))"
    ));
    qb.build_query_as().fetch_one(pool).await
}

/// The mailbox, tag, assignee, priority and account filters of `q` on ticket `t` (its folder
/// and the agent's scope are pushed separately). `by_tag`: the query reads `ticket_tag tg`
/// joined to `t`, and the tag filter is on `tg`.
fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, q: &InboxQuery, agent_id: i64, by_tag: bool) {
    if let Some(m) = q.mailbox_id {
        qb.push(" and t.mailbox_id = ").push_bind(m);
    }
    if let Some(tag) = &q.tag {
        if by_tag {
            qb.push(" and tg.tag_id = (select tag_id from tag where lower(name) = lower(")
                .push_bind(tag.clone())
                .push("))");
        } else {
            qb.push(" and exists (select 1 from ticket_tag tt join tag g on g.tag_id = tt.tag_id where tt.ticket_id = t.ticket_id and lower(g.name) = lower(")
                .push_bind(tag.clone())
                .push("))");
        }
    }
    match q.assignee {
        Some(AssigneeFilter::Me) => {
            qb.push(" and t.assignee_agent_id = ").push_bind(agent_id);
        }
        Some(AssigneeFilter::Unassigned) => {
            qb.push(" and t.assignee_agent_id is null");
        }
        Some(AssigneeFilter::Agent(id)) => {
            qb.push(" and t.assignee_agent_id = ").push_bind(id);
        }
        None => {}
    }
    if let Some(p) = &q.priority {
        qb.push(" and t.priority = ").push_bind(*p);
    }
    push_account_filters(qb, q);
}

/// How many tickets of each list in `lists` are still to be done (not closed, not spam), for
/// agent `agent_id` who sees `visible` (`None` = all): the sidebar counts of saved views. For
/// a list of a working folder (Unassigned, Mine, All open, Pending, Snoozed, SLA at risk)
/// this is exactly its number of tickets; for Everything it leaves the closed ones out; a
/// Closed or Spam list has no count (`None`). One statement for all lists; each count reads
/// `ticket_active_view_idx` (the active tickets only), never the whole ticket table.
pub async fn count_to_do(
    pool: &PgPool,
    agent_id: i64,
    visible: Option<&[i64]>,
    lists: &[InboxQuery],
) -> sqlx::Result<Vec<Option<i64>>> {
    let counted: Vec<&InboxQuery> = lists
        .iter()
        .filter(|q| !matches!(q.folder, Folder::Closed | Folder::Spam))
        .collect();
    if counted.is_empty() {
        return Ok(vec![None; lists.len()]);
    }
    let mut qb = QueryBuilder::new("select array[");
    for (i, q) in counted.iter().enumerate() {
        if i > 0 {
            qb.push(", ");
        }
        let by_tag = q.tag.is_some();
        qb.push("(select count(*) from ");
        qb.push(if by_tag {
            "ticket_tag tg join ticket t on t.ticket_id = tg.ticket_id"
        } else {
            "ticket t"
        });
        push_scope(&mut qb, visible);
        qb.push(" and not t.spam and t.status <> 'closed'");
        push_folder(&mut qb, q.folder, agent_id);
        push_filters(&mut qb, q, agent_id, by_tag);
        qb.push(")");
    }
    qb.push("]::bigint[]");
    let counts: Vec<i64> = qb.build_query_scalar().fetch_one(pool).await?;
    let mut counts = counts.into_iter();
    Ok(lists
        .iter()
        .map(|q| match q.folder {
            Folder::Closed | Folder::Spam => None,
            _ => counts.next(),
        })
        .collect())
}

/// One page of the inbox for an agent. Returns the rows and whether more follow.
///
/// With a tag filter and a sort by activity, rows come from `ticket_tag_recent_idx` (the
/// ticket's last activity is copied onto `ticket_tag`), newest or oldest first, so a page costs
/// the same for a rare tag as for a common one.
pub async fn list(
    pool: &PgPool,
    agent_id: i64,
    visible: Option<&[i64]>,
    q: &InboxQuery,
) -> sqlx::Result<(Vec<InboxRow>, bool)> {
    // The page's tickets are chosen by a small inner query (one or two tables: quick to plan,
    // and the index walk stops after the page); each row's decorations are then looked up per
    // row. As one many-way join, planning alone took ~2 ms at 1M tickets, more than running it.
    let mut qb = QueryBuilder::new(
        "select t.ticket_id as number, t.subject, t.status, t.priority, t.snippet,
                c.email as customer_email, c.name as customer_name,
                coalesce(c.vip, (select co.vip from company co where co.company_id = c.company_id), false) as customer_vip,
                (select mb.address from mailbox mb where mb.mailbox_id = t.mailbox_id) as mailbox_address,
                (select a.name from agent a where a.agent_id = t.assignee_agent_id) as assignee_name,
                coalesce((select array_agg(g.name order by g.name) from ticket_tag tt join tag g on g.tag_id = tt.tag_id
                          where tt.ticket_id = t.ticket_id), '{}') as tags,
                t.message_count, t.created_at, t.last_message_at, t.waiting_since,
                (select a.name from agent a where a.agent_id = t.last_author_agent_id) as last_author_name,
                t.sla_due_at,
                coalesce((select bool_or(k.warned_at is not null or k.warn_at <= now()) from sla_clock k
                          where k.ticket_id = t.ticket_id and k.stopped_at is null and not k.paused
                            and t.sla_due_at is not null), false) as sla_warned,
                coalesce((select v.seen_at < t.last_message_at from ticket_view v
                          where v.ticket_id = t.ticket_id and v.agent_id = ",
    );
    qb.push_bind(agent_id);
    qb.push(
        "), true) as unread,
                coalesce((select string_agg(pa.name || ' ' || p.activity, ', ' order by pa.name)
                          from presence p join agent pa on pa.agent_id = p.agent_id
                          where p.ticket_id = t.ticket_id and p.expires_at > now() and p.agent_id <> ",
    );
    qb.push_bind(agent_id);
    qb.push("), '') as presence from (select t.* from ");
    // By tag and activity: walk the tag's own time index.
    let by_tag = q.tag.is_some() && !matches!(q.sort, Sort::Newest | Sort::DueSoonest);
    if by_tag {
        qb.push("ticket_tag tg join ticket t on t.ticket_id = tg.ticket_id");
    } else {
        qb.push("ticket t");
    }
    push_scope(&mut qb, visible);
    push_folder(&mut qb, q.folder, agent_id);
    push_filters(&mut qb, q, agent_id, by_tag);
    let (col, dir, cmp) = match q.sort {
        Sort::Recent => ("t.last_message_at", "desc", "<"),
        Sort::Oldest => ("t.last_message_at", "asc", ">"),
        Sort::Newest => ("t.created_at", "desc", "<"),
        Sort::DueSoonest => (NO_DUE_SQL, "asc", ">"),
    };
    // The same values, named from the table the index belongs to.
    let (col, id) = if by_tag {
        ("tg.last_message_at", "tg.ticket_id")
    } else {
        (col, "t.ticket_id")
    };
    if let Some((micros, number)) = q.after {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        qb.push(format!(" and ({col}, {id}) {cmp} ("))
            .push_bind(at)
            .push(", ")
            .push_bind(number)
            .push(")");
    }
    qb.push(format!(" order by {col} {dir}, {id} {dir} limit "))
        .push_bind(q.limit + 1);
    let outer = match q.sort {
        Sort::Newest => "t.created_at",
        Sort::DueSoonest => NO_DUE_SQL,
        _ => "t.last_message_at",
    };
    qb.push(format!(
        ") t left join customer c on c.customer_id = t.customer_id order by {outer} {dir}, t.ticket_id {dir}"
    ));
    let mut rows: Vec<InboxRow> = qb.build_query_as().fetch_all(pool).await?;
    let more = rows.len() as i64 > q.limit;
    rows.truncate(q.limit as usize);
    Ok((rows, more))
}

/// Sidebar counts for every folder.
#[derive(Debug, Clone, Default, FromRow)]
pub struct FolderCounts {
    pub unassigned: i64,
    pub mine: i64,
    pub open: i64,
    pub pending: i64,
    pub snoozed: i64,
    pub closed: i64,
    pub spam: i64,
    pub sla_at_risk: i64,
    pub all: i64,
}

impl FolderCounts {
    pub fn get(&self, f: Folder) -> i64 {
        match f {
            Folder::Unassigned => self.unassigned,
            Folder::Mine => self.mine,
            Folder::Open => self.open,
            Folder::Pending => self.pending,
            Folder::Snoozed => self.snoozed,
            Folder::Closed => self.closed,
            Folder::Spam => self.spam,
            Folder::SlaAtRisk => self.sla_at_risk,
            Folder::All => self.all,
        }
    }
}

/// Counts of every folder, over the visible mailboxes: sums over `ticket_count`, which
/// triggers keep current, so no count walks the tickets (exact at any size); "SLA at risk"
/// counts the partial index of at-risk tickets.
pub async fn folder_counts(
    pool: &PgPool,
    agent_id: i64,
    visible: Option<&[i64]>,
) -> sqlx::Result<FolderCounts> {
    sqlx::query_as(concat!(
        "select
            coalesce(sum(n) filter (where not spam and status = 'open' and assignee_key = 0), 0)::bigint as unassigned,
            coalesce(sum(n) filter (where not spam and status <> 'closed' and assignee_key = $1), 0)::bigint as mine,
            coalesce(sum(n) filter (where not spam and status = 'open'), 0)::bigint as open,
            coalesce(sum(n) filter (where not spam and status = 'pending'), 0)::bigint as pending,
            coalesce(sum(n) filter (where not spam and status = 'snoozed'), 0)::bigint as snoozed,
            coalesce(sum(n) filter (where not spam and status = 'closed'), 0)::bigint as closed,
            coalesce(sum(n) filter (where spam), 0)::bigint as spam,
            coalesce(sum(n) filter (where not spam), 0)::bigint as all,
            (select count(*) from ticket t where not t.spam and t.status <> 'closed'
               and ($2::bigint[] is null or t.mailbox_id = any($2)) and ",
        sla_at_risk!(),
        ") as sla_at_risk
         from ticket_count where ($2::bigint[] is null or mailbox_id = any($2))",
    ))
    .bind(agent_id)
    .bind(visible)
    .fetch_one(pool)
    .await
}

/// A sidebar entry for a mailbox or a tag, with its open-ticket count.
#[derive(Debug, Clone, FromRow)]
pub struct SidebarEntry {
    pub id: i64,
    pub name: String,
    pub open: i64,
}

/// Visible mailboxes with their open counts (from `ticket_count`).
pub async fn mailbox_entries(
    pool: &PgPool,
    visible: Option<&[i64]>,
) -> sqlx::Result<Vec<SidebarEntry>> {
    sqlx::query_as(
        "select mb.mailbox_id as id, mb.name,
                coalesce((select sum(c.n) from ticket_count c
                          where c.mailbox_id = mb.mailbox_id and c.status = 'open' and not c.spam), 0)::bigint as open
         from mailbox mb where ($1::bigint[] is null or mb.mailbox_id = any($1)) order by mb.name",
    )
    .bind(visible)
    .fetch_all(pool)
    .await
}

/// Tags with their open-ticket counts in the visible mailboxes (from `tag_open_count`, which
/// triggers keep current, so the sidebar never joins all of `ticket_tag`).
pub async fn tag_entries(
    pool: &PgPool,
    visible: Option<&[i64]>,
) -> sqlx::Result<Vec<SidebarEntry>> {
    sqlx::query_as(
        "select g.tag_id as id, g.name, coalesce(sum(c.n), 0)::bigint as open
         from tag g join tag_open_count c using (tag_id)
         where ($1::bigint[] is null or c.mailbox_id = any($1))
         group by g.tag_id, g.name having sum(c.n) > 0 order by g.name",
    )
    .bind(visible)
    .fetch_all(pool)
    .await
}
