//! The read side of analytics: every figure of the API and the pages, from the stored
//! per-ticket values (`ticket_metric`, `ticket_resolution`), the timeline (`ticket_event`:
//! replies, assignments) and the SLA clocks (`sla_clock`). Read-only.
//!
//! Every query takes a [`Scope`] (which tickets) and a period `[start, end)` in UTC; tickets
//! excluded by [`super::metrics::Exclusion`] are never counted. Durations are seconds;
//! median and p90 are PostgreSQL's `percentile_cont` (linear interpolation between the two
//! nearest values), mean the arithmetic mean.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sqlx::PgPool;
use time::OffsetDateTime;

use super::{Period, Scope};

/// The ticket filter of every query, on the fact table with alias `$f` (a table with a
/// `ticket_id`: `ticket_metric m`, `ticket_resolution r`, `sla_clock c`, `csat_survey s`,
/// `ticket_event e`) and its ticket's values as `t`: the fact row's own copy ([`ticket_of!`])
/// where it has one, else `ticket t` **left** joined on the fact's ticket. Parameters `$1`..`$8`
/// are bound by [`bind_scope!`], so a query's own parameters start at `$9`.
///
/// Counted tickets are those not marked excluded in `ticket_metric` (spam, merged, bulk): on
/// `m` itself a column test, on the other facts their copy of the flag (`ticket_excluded`,
/// kept by triggers, migration 20261209000200), on timeline events and tickets an anti-join
/// with the few excluded tickets (the partial index `ticket_metric_excluded_idx`), so a report
/// never reads a million metric rows to learn that almost none are excluded. Filters that are not set (null parameters) fold
/// away when PostgreSQL plans the statement for its values; where `t` is a left-joined ticket,
/// nothing reads it then and the join is removed from the plan. Either way a report reads only
/// its fact table's period.
///
/// The lifecycle stage (`$7`) and VIP (`$8`) filters are on the customer's effective value
/// (their own, else their company's; see `crate::customers`). Facts carry it
/// (`t.customer_stage_id`, `t.customer_vip`, kept by triggers, migration 20261209000100); on
/// the ticket itself and on timeline events it is read as the inbox reads it
/// (`crate::tickets::inbox::VIP_CUSTOMER_IDS`): from the partial indexes on the attributes and
/// the customers of each company, never the whole customer table.
macro_rules! scope_sql {
    (@filters $f:literal) => {
        concat!(
            "
    and ($1::bigint[] is null or t.mailbox_id = any($1))
    and ($2::bigint is null or t.mailbox_id = $2)
    and ($3::bigint is null or t.team_id = $3)
    and ($4::bigint is null or t.assignee_agent_id = $4)
    and ($5::text is null or exists (select 1 from ticket_tag tt join tag g on g.tag_id = tt.tag_id
                                     where tt.ticket_id = ", $f, ".ticket_id and lower(g.name) = lower($5)))
    and ($6::text is null or t.priority = $6)"
        )
    };
    (@customer copied) => {
        "
    and ($7::bigint is null or t.customer_stage_id = $7)
    and ($8::boolean is null or t.customer_vip = $8)"
    };
    (@customer looked_up) => {
        "
    and ($7::bigint is null or t.customer_id in (
            select customer_id from customer where lifecycle_stage_id = $7
            union all select c.customer_id from company co cross join lateral (
                select c.customer_id from customer c
                where c.company_id = co.company_id and c.lifecycle_stage_id is null offset 0) c
            where co.lifecycle_stage_id = $7))
    and ($8::boolean is null or coalesce(t.customer_id in (
            select customer_id from customer where vip is not null and vip
            union all select c.customer_id from company co cross join lateral (
                select c.customer_id from customer c
                where c.company_id = co.company_id and c.vip is null offset 0) c
            where co.vip), false) = $8)"
    };
    ("m") => {
        concat!(
            "m.excluded is null",
            scope_sql!(@filters "m"),
            scope_sql!(@customer copied)
        )
    };
    ($f:literal, copied) => {
        concat!(
            "not ",
            $f,
            ".ticket_excluded",
            scope_sql!(@filters $f),
            scope_sql!(@customer copied)
        )
    };
    ($f:literal, looked_up) => {
        concat!(
            "not exists (select 1 from ticket_metric x where x.ticket_id = ",
            $f,
            ".ticket_id and x.excluded is not null)",
            scope_sql!(@filters $f),
            scope_sql!(@customer looked_up)
        )
    };
}

/// `t` of [`scope_sql!`] for a fact with alias `$f` that carries its ticket's values
/// (`ticket_metric`, `ticket_resolution`, `sla_clock`, `csat_survey`: columns `ticket_mailbox_id`,
/// `ticket_team_id`, `ticket_assignee_agent_id`, `ticket_priority`, `ticket_customer_id`,
/// `ticket_customer_stage_id`, `ticket_customer_vip`, kept equal to the ticket's and its
/// customer's by triggers): the columns a report filters and groups by, named as on `ticket`
/// (and `customer_stage_id`, `customer_vip`), read from the fact row itself instead of a join
/// with a million tickets.
macro_rules! ticket_of {
    ($f:literal) => {
        concat!(
            "cross join lateral (select ",
            $f,
            ".ticket_mailbox_id as mailbox_id, ",
            $f,
            ".ticket_team_id as team_id, ",
            $f,
            ".ticket_assignee_agent_id as assignee_agent_id, ",
            $f,
            ".ticket_priority as priority, ",
            $f,
            ".ticket_customer_id as customer_id, ",
            $f,
            ".ticket_customer_stage_id as customer_stage_id, ",
            $f,
            ".ticket_customer_vip as customer_vip) t"
        )
    };
}
/// [`ticket_of!`] for `ticket_metric m`.
pub(super) const TICKET_OF_M: &str = ticket_of!("m");
/// [`ticket_of!`] for `ticket_resolution r`.
pub(super) const TICKET_OF_R: &str = ticket_of!("r");
/// [`ticket_of!`] for `sla_clock c`.
pub(super) const TICKET_OF_C: &str = ticket_of!("c");
/// [`ticket_of!`] for `csat_survey s`.
pub(super) const TICKET_OF_S: &str = ticket_of!("s");

/// [`scope_sql!`] on `ticket_metric m`.
pub(super) const SCOPE_M: &str = scope_sql!("m");
/// [`scope_sql!`] on `ticket_resolution r`.
pub(super) const SCOPE_R: &str = scope_sql!("r", copied);
/// [`scope_sql!`] on `sla_clock c`.
pub(super) const SCOPE_C: &str = scope_sql!("c", copied);
/// [`scope_sql!`] on `csat_survey s`.
pub(super) const SCOPE_S: &str = scope_sql!("s", copied);
/// [`scope_sql!`] on `ticket_event e`.
pub(super) const SCOPE_E: &str = scope_sql!("e", looked_up);
/// [`scope_sql!`] on `ticket t` itself (no fact table: tickets as they are now).
pub(super) const SCOPE_T: &str = scope_sql!("t", looked_up);
/// A metric row `m` of an unanswered ticket: no person has answered it and it is not closed
/// (nor spam: the row's `ticket_active` copy, migration 20261209000300). Used by the summary
/// and the overview, which must count the same tickets.
const UNANSWERED_M: &str = "m.first_response_at is null and m.ticket_active";

macro_rules! bind_scope {
    ($q:expr, $s:expr) => {
        $q.bind($s.visible.clone())
            .bind($s.mailbox)
            .bind($s.team)
            .bind($s.agent)
            .bind($s.tag.clone())
            .bind($s.priority.map(|p| p.as_str()))
            .bind($s.lifecycle_stage)
            .bind($s.vip)
    };
}
pub(super) use bind_scope;

/// Median, p90 and mean of a duration in seconds; `None` when nothing was counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub median_s: Option<f64>,
    pub p90_s: Option<f64>,
    pub mean_s: Option<f64>,
}

/// A duration figure: how many values, their calendar statistics, and the same on the
/// business calendar (`business`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Dur {
    pub count: i64,
    #[serde(flatten)]
    pub calendar: Stats,
    pub business: Stats,
}

pub(super) type DurRow = (
    i64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

/// A count before a [`DurRow`].
type CountDurRow = (
    i64,
    i64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

fn round_ms(v: Option<f64>) -> Option<f64> {
    v.map(|v| (v * 1000.0).round() / 1000.0)
}

impl From<DurRow> for Dur {
    fn from(r: DurRow) -> Dur {
        Dur {
            count: r.0,
            calendar: Stats {
                median_s: round_ms(r.1),
                p90_s: round_ms(r.2),
                mean_s: round_ms(r.3),
            },
            business: Stats {
                median_s: round_ms(r.4),
                p90_s: round_ms(r.5),
                mean_s: round_ms(r.6),
            },
        }
    }
}

/// The statistics columns of a duration (calendar column `c`, business column `b`), with an
/// optional aggregate filter.
pub(super) fn dur_columns(c: &str, b: &str, filter: &str) -> String {
    let f = if filter.is_empty() {
        String::new()
    } else {
        format!(" filter (where {filter})")
    };
    format!(
        "count(*){f},
         percentile_cont(0.5) within group (order by {c}){f},
         percentile_cont(0.9) within group (order by {c}){f},
         avg({c}){f},
         percentile_cont(0.5) within group (order by {b}){f},
         percentile_cont(0.9) within group (order by {b}){f},
         avg({b}){f}"
    )
}

/// Achieved and breached SLA clocks of one kind, and the share achieved (percent, one
/// decimal; `None` when no clock ended).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SlaCounts {
    pub achieved: i64,
    pub breached: i64,
    pub percent: Option<f64>,
}

impl SlaCounts {
    /// The counts and the percent achieved.
    pub fn new(achieved: i64, breached: i64) -> SlaCounts {
        SlaCounts {
            achieved,
            breached,
            percent: percent(achieved, achieved + breached),
        }
    }
}

pub(super) fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

/// SLA results per clock kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Sla {
    pub first_response: SlaCounts,
    pub next_response: SlaCounts,
    pub resolution: SlaCounts,
}

/// CSAT figures of a period: surveys sent in it (by when each went out) and answers given
/// in it (by when the answer, the latest one of its survey, was given). Percentages have one
/// decimal and are `None` when their denominator is 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Csat {
    pub sent: i64,
    /// Surveys answered in the period (`good + okay + bad`).
    pub responses: i64,
    pub good: i64,
    pub okay: i64,
    pub bad: i64,
    /// `good / responses`, percent.
    pub percent_satisfied: Option<f64>,
    /// Help Scout's "Great − Not good": `(good − bad) / responses`, in percentage points
    /// (-100 to 100).
    pub net: Option<f64>,
    /// `responses / sent`, percent (answers to surveys of an earlier period count too, so it
    /// can pass 100).
    pub response_rate: Option<f64>,
}

impl Csat {
    /// The figures from the counts.
    pub fn new(sent: i64, good: i64, okay: i64, bad: i64) -> Csat {
        let responses = good + okay + bad;
        Csat {
            sent,
            responses,
            good,
            okay,
            bad,
            percent_satisfied: percent(good, responses),
            net: (responses > 0)
                .then(|| ((good - bad) as f64 * 1000.0 / responses as f64).round() / 10.0),
            response_rate: percent(responses, sent),
        }
    }
}

/// Per group the CSAT counts of the period: `(group..., sent, good, okay, bad)`, where
/// `select` starts the select list (e.g. the survey's agent) and `group_by` is the `group by`
/// clause (`1`: the first column). `s` is `csat_survey` and `t` its copy of the ticket's values
/// ([`TICKET_OF_S`]).
pub(super) fn csat_sql(select: &str, group_by: &str) -> String {
    format!(
        "select {select}, count(*) filter (where s.sent_at >= $9 and s.sent_at < $10),
                count(*) filter (where s.rating = 'good' and s.rated_at >= $9 and s.rated_at < $10),
                count(*) filter (where s.rating = 'okay' and s.rated_at >= $9 and s.rated_at < $10),
                count(*) filter (where s.rating = 'bad' and s.rated_at >= $9 and s.rated_at < $10)
         from csat_survey s {TICKET_OF_S}
         where {SCOPE_S} and ((s.sent_at >= $9 and s.sent_at < $10)
                            or (s.rated_at >= $9 and s.rated_at < $10))
         group by {group_by}"
    )
}

/// The figures of one period (`GET /api/v1/analytics/summary` without `previous`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// Tickets created in the period.
    pub created: i64,
    /// Closes in the period (a ticket closed twice counts twice), with or without a reply.
    pub closed: i64,
    /// Reopens in the period (a closed ticket became open, pending or snoozed).
    pub reopened: i64,
    /// Closes in the period after a person's reply (resolutions).
    pub resolved: i64,
    /// Tickets created in the period that no person has answered yet and that are not closed.
    pub unanswered: i64,
    /// First responses made in the period.
    pub first_response: Dur,
    /// Resolutions in the period: creation to close, less pending and earlier closed time.
    pub resolution: Dur,
    pub sla: Sla,
    pub csat: Csat,
}

/// The summary: this period's figures and the previous period's.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Summary {
    #[serde(flatten)]
    pub current: Figures,
    pub previous: Figures,
}

/// The figures of `scope` over `[start, end)`.
pub async fn figures(
    pool: &PgPool,
    scope: &Scope,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> sqlx::Result<Figures> {
    // Six independent queries, each on its own pooled connection at once: on the replica (or
    // the primary) they run in parallel backends instead of one after another.
    let counts = async {
        bind_scope!(
            sqlx::query_as::<_, (i64, i64)>(&format!(
                "select count(*), count(*) filter (where {UNANSWERED_M})
                 from ticket_metric m {TICKET_OF_M}
                 where {SCOPE_M} and m.created_at >= $9 and m.created_at < $10"
            )),
            scope
        )
        .bind(start)
        .bind(end)
        .fetch_one(pool)
        .await
    };
    let reopened = async {
        bind_scope!(
            sqlx::query_scalar::<_, i64>(&format!(
                "select count(*)
                 from ticket_resolution r {TICKET_OF_R}
                 where {SCOPE_R} and r.reopened_at >= $9 and r.reopened_at < $10"
            )),
            scope
        )
        .bind(start)
        .bind(end)
        .fetch_one(pool)
        .await
    };
    let ((created, unanswered), reopened, rest) = tokio::try_join!(
        counts,
        reopened,
        durations_sla_csat(pool, scope, start, end)
    )?;
    Ok(rest.into_figures(created, unanswered, reopened))
}

/// The figures of a period that are not plain counts of created tickets or reopens: first
/// responses, resolutions, SLA clocks and CSAT, four queries at once.
struct DurationsSlaCsat {
    first_response: DurRow,
    closes: CountDurRow,
    sla: Sla,
    csat: Csat,
}

impl DurationsSlaCsat {
    fn into_figures(self, created: i64, unanswered: i64, reopened: i64) -> Figures {
        let c = self.closes;
        let resolution = Dur::from((c.1, c.2, c.3, c.4, c.5, c.6, c.7));
        Figures {
            created,
            closed: c.0,
            reopened,
            resolved: resolution.count,
            unanswered,
            first_response: Dur::from(self.first_response),
            resolution,
            sla: self.sla,
            csat: self.csat,
        }
    }
}

async fn durations_sla_csat(
    pool: &PgPool,
    scope: &Scope,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> sqlx::Result<DurationsSlaCsat> {
    let fr = async {
        bind_scope!(
            sqlx::query_as::<_, DurRow>(&format!(
                "select {}
                 from ticket_metric m {TICKET_OF_M}
                 where {SCOPE_M} and m.first_response_at >= $9 and m.first_response_at < $10",
                dur_columns("m.first_response_s", "m.first_response_business_s", "")
            )),
            scope
        )
        .bind(start)
        .bind(end)
        .fetch_one(pool)
        .await
    };
    let closes = async {
        bind_scope!(
            sqlx::query_as::<_, CountDurRow>(&format!(
                "select count(*), {}
                     from ticket_resolution r {TICKET_OF_R}
                     where {SCOPE_R} and r.closed_at >= $9 and r.closed_at < $10",
                dur_columns("r.resolution_s", "r.resolution_business_s", "r.replied")
            )),
            scope
        )
        .bind(start)
        .bind(end)
        .fetch_one(pool)
        .await
    };
    let sla_rows = async {
        bind_scope!(
            sqlx::query_as::<_, (String, i64, i64)>(&format!(
                "select c.kind, count(*) filter (where c.achieved_at is not null),
                        count(*) filter (where c.breached_at is not null)
                 from sla_clock c {TICKET_OF_C}
                 where {SCOPE_C} and (c.achieved_at is not null or c.breached_at is not null)
                   and coalesce(c.achieved_at, c.breached_at) >= $9
                   and coalesce(c.achieved_at, c.breached_at) < $10
                 group by c.kind"
            )),
            scope
        )
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await
    };
    let csat_rows = async {
        bind_scope!(
            sqlx::query_as::<_, (i32, i64, i64, i64, i64)>(&csat_sql("1", "1")),
            scope
        )
        .bind(start)
        .bind(end)
        .fetch_all(pool)
        .await
    };
    let (first_response, closes, sla_rows, csat_rows) =
        tokio::try_join!(fr, closes, sla_rows, csat_rows)?;
    let mut sla = Sla::default();
    for (kind, achieved, breached) in sla_rows {
        let counts = SlaCounts::new(achieved, breached);
        match kind.as_str() {
            "first_response" => sla.first_response = counts,
            "next_response" => sla.next_response = counts,
            "resolution" => sla.resolution = counts,
            _ => {}
        }
    }
    let csat = csat_rows
        .first()
        .map(|r| Csat::new(r.1, r.2, r.3, r.4))
        .unwrap_or_else(|| Csat::new(0, 0, 0, 0));
    Ok(DurationsSlaCsat {
        first_response,
        closes,
        sla,
        csat,
    })
}

/// This period's figures and the previous period's (same number of days, just before).
pub async fn summary(pool: &PgPool, scope: &Scope, period: &Period) -> sqlx::Result<Summary> {
    let prev = period.previous();
    let (current, previous) = tokio::try_join!(
        figures(pool, scope, period.start(), period.end()),
        figures(pool, scope, prev.start(), prev.end())
    )?;
    Ok(Summary { current, previous })
}

/// One agent's figures (`GET /api/v1/analytics/agents`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgentFigures {
    #[serde(skip)]
    pub agent_id: i64,
    pub email: String,
    pub name: String,
    /// Times a ticket was assigned to them in the period.
    pub assigned: i64,
    /// Replies they wrote in the period.
    pub replies: i64,
    /// Closes they made in the period.
    pub closed: i64,
    /// First responses they made in the period.
    pub first_response: Dur,
    /// Resolutions they closed in the period.
    pub resolution: Dur,
    /// SLA clocks ended in the period on tickets assigned to them now: percent achieved.
    pub sla_percent: Option<f64>,
    /// Surveys of resolutions they were assigned at (sent and answered in the period).
    pub csat: Csat,
    /// Tickets assigned to them now and not closed (open, pending or snoozed).
    pub open_now: i64,
}

/// Per-agent figures over the period, for the agents `only` names (`None` = every active
/// agent, and any disabled one with figures), by name. The scope's `agent` is ignored here:
/// each row is about its agent.
pub async fn agents(
    pool: &PgPool,
    scope: &Scope,
    period: &Period,
    only: Option<i64>,
) -> sqlx::Result<Vec<AgentFigures>> {
    let scope = Scope {
        agent: None,
        ..scope.clone()
    };
    let (start, end) = (period.start(), period.end());
    let mut rows: BTreeMap<i64, AgentFigures> = BTreeMap::new();
    let people: Vec<(i64, String, String, bool)> = sqlx::query_as(
        "select agent_id, email, name, disabled_at is null from agent
         where ($1::bigint is null or agent_id = $1) order by lower(name), agent_id",
    )
    .bind(only)
    .fetch_all(pool)
    .await?;
    let mut active: Vec<i64> = Vec::new();
    for (id, email, name, is_active) in &people {
        rows.insert(
            *id,
            AgentFigures {
                agent_id: *id,
                email: email.clone(),
                name: name.clone(),
                ..AgentFigures::default()
            },
        );
        if *is_active {
            active.push(*id);
        }
    }
    let counts = |sql: String| {
        let scope = scope.clone();
        async move {
            bind_scope!(sqlx::query_as::<_, (Option<i64>, i64)>(&sql), scope)
                .bind(start)
                .bind(end)
                .fetch_all(pool)
                .await
        }
    };
    let assigned = counts(format!(
        "select (e.detail->>'to')::bigint, count(*)
         from ticket_event e left join ticket t on t.ticket_id = e.ticket_id
         where {SCOPE_E} and e.kind = 'assigned' and e.created_at >= $9 and e.created_at < $10
           and e.detail->>'to' is not null
         group by 1"
    ));
    let replies = counts(format!(
        "select e.agent_id, count(*)
         from ticket_event e left join ticket t on t.ticket_id = e.ticket_id
         where {SCOPE_E} and e.kind = 'reply_queued' and e.actor_kind = 'agent'
           and e.created_at >= $9 and e.created_at < $10
         group by 1"
    ));
    let closed = counts(format!(
        "select r.agent_id, count(*)
         from ticket_resolution r {TICKET_OF_R}
         where {SCOPE_R} and r.closed_at >= $9 and r.closed_at < $10 and r.agent_id is not null
         group by 1"
    ));
    type AgentDur = (
        Option<i64>,
        i64,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        Option<f64>,
    );
    let fr_sql = format!(
        "select m.first_response_agent_id, {}
         from ticket_metric m {TICKET_OF_M}
         where {SCOPE_M} and m.first_response_at >= $9 and m.first_response_at < $10
         group by 1",
        dur_columns("m.first_response_s", "m.first_response_business_s", "")
    );
    let fr = bind_scope!(sqlx::query_as::<_, AgentDur>(&fr_sql), scope)
        .bind(start)
        .bind(end)
        .fetch_all(pool);
    let res_sql = format!(
        "select r.agent_id, {}
         from ticket_resolution r {TICKET_OF_R}
         where {SCOPE_R} and r.replied and r.closed_at >= $9 and r.closed_at < $10
         group by 1",
        dur_columns("r.resolution_s", "r.resolution_business_s", "")
    );
    let res = bind_scope!(sqlx::query_as::<_, AgentDur>(&res_sql), scope)
        .bind(start)
        .bind(end)
        .fetch_all(pool);
    let sla_sql = format!(
        "select t.assignee_agent_id, count(*) filter (where c.achieved_at is not null),
                count(*) filter (where c.breached_at is not null)
         from sla_clock c {TICKET_OF_C}
         where {SCOPE_C} and (c.achieved_at is not null or c.breached_at is not null)
           and coalesce(c.achieved_at, c.breached_at) >= $9
           and coalesce(c.achieved_at, c.breached_at) < $10
         group by 1"
    );
    let sla = bind_scope!(
        sqlx::query_as::<_, (Option<i64>, i64, i64)>(&sla_sql),
        scope
    )
    .bind(start)
    .bind(end)
    .fetch_all(pool);
    let csat_sql = csat_sql("s.agent_id", "1");
    let csat = bind_scope!(
        sqlx::query_as::<_, (Option<i64>, i64, i64, i64, i64)>(&csat_sql),
        scope
    )
    .bind(start)
    .bind(end)
    .fetch_all(pool);
    let open_sql = format!(
        "select t.assignee_agent_id, count(*)
         from ticket t
         where {SCOPE_T} and t.assignee_agent_id is not null and t.status <> 'closed'
           and not t.spam
         group by 1"
    );
    let open =
        bind_scope!(sqlx::query_as::<_, (Option<i64>, i64)>(&open_sql), scope).fetch_all(pool);
    // Independent reads: at once, on separate pooled connections.
    let (assigned, replies, closed, fr, res, sla, csat, open) =
        tokio::try_join!(assigned, replies, closed, fr, res, sla, csat, open)?;
    for (list, field) in [(assigned, 0), (replies, 1), (closed, 2)] {
        for (agent, n) in list {
            if let Some(row) = agent.and_then(|a| rows.get_mut(&a)) {
                match field {
                    0 => row.assigned = n,
                    1 => row.replies = n,
                    _ => row.closed = n,
                }
            }
        }
    }
    let split = |r: AgentDur| (r.0, (r.1, r.2, r.3, r.4, r.5, r.6, r.7));
    for (agent, d) in fr.into_iter().map(split) {
        if let Some(row) = agent.and_then(|a| rows.get_mut(&a)) {
            row.first_response = Dur::from(d);
        }
    }
    for (agent, d) in res.into_iter().map(split) {
        if let Some(row) = agent.and_then(|a| rows.get_mut(&a)) {
            row.resolution = Dur::from(d);
        }
    }
    for (agent, achieved, breached) in sla {
        if let Some(row) = agent.and_then(|a| rows.get_mut(&a)) {
            row.sla_percent = percent(achieved, achieved + breached);
        }
    }
    for (agent, sent, good, okay, bad) in csat {
        if let Some(row) = agent.and_then(|a| rows.get_mut(&a)) {
            row.csat = Csat::new(sent, good, okay, bad);
        }
    }
    for (agent, n) in open {
        if let Some(row) = agent.and_then(|a| rows.get_mut(&a)) {
            row.open_now = n;
        }
    }
    // People first in name order; disabled agents only when they have figures.
    let mut out = Vec::new();
    for (id, _, _, _) in &people {
        if let Some(row) = rows.remove(id) {
            let has_figures = row.assigned + row.replies + row.closed + row.open_now > 0
                || row.first_response.count > 0
                || row.csat.sent + row.csat.responses > 0;
            if active.contains(id) || has_figures || only.is_some() {
                out.push(row);
            }
        }
    }
    Ok(out)
}

/// Tickets created per weekday (Monday first) and hour (0-23) of the period's time zone.
pub async fn busiest(
    pool: &PgPool,
    scope: &Scope,
    period: &Period,
) -> sqlx::Result<[[i64; 24]; 7]> {
    let rows: Vec<(i32, i32, i64)> = bind_scope!(
        sqlx::query_as(&format!(
            "select extract(isodow from m.created_at at time zone $11)::int,
                    extract(hour from m.created_at at time zone $11)::int, count(*)
             from ticket_metric m {TICKET_OF_M}
             where {SCOPE_M} and m.created_at >= $9 and m.created_at < $10
             group by 1, 2"
        )),
        scope
    )
    .bind(period.start())
    .bind(period.end())
    .bind(period.tz_name.clone())
    .fetch_all(pool)
    .await?;
    let mut grid = [[0i64; 24]; 7];
    for (dow, hour, n) in rows {
        if let (Some(day), Ok(h)) = (usize::try_from(dow - 1).ok(), usize::try_from(hour))
            && day < 7
            && h < 24
        {
            grid[day][h] = n;
        }
    }
    Ok(grid)
}

/// One local date of the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    /// `YYYY-MM-DD` in the period's time zone.
    pub date: String,
    pub created: i64,
    pub closed: i64,
    pub reopened: i64,
    /// Tickets not closed at the end of the day (created by then, counted, not closed).
    pub backlog: i64,
}

/// How [`daily`] learns the backlog at the period's start.
enum Backlog {
    /// Counted forwards: the backlog at the start itself.
    AtStart(i64),
    /// Counted backwards: the tickets not closed now.
    OpenNow(i64),
}

/// Counts per local date of the period: `(date, count)`, dates without any left out.
type PerDay = Vec<(time::Date, i64)>;

/// Runs a `select <local date>, count(*) … group by 1` query of the period (`$9`, `$10` its
/// bounds, `$11` its time zone).
async fn per_day(
    pool: &PgPool,
    scope: &Scope,
    period: &Period,
    sql: String,
) -> sqlx::Result<PerDay> {
    bind_scope!(sqlx::query_as::<_, (time::Date, i64)>(&sql), scope)
        .bind(period.start())
        .bind(period.end())
        .bind(period.tz_name.clone())
        .fetch_all(pool)
        .await
}

/// Closes per local date of the period.
async fn closed_per_day(pool: &PgPool, scope: &Scope, period: &Period) -> sqlx::Result<PerDay> {
    let sql = format!(
        "select (r.closed_at at time zone $11)::date, count(*)
         from ticket_resolution r {TICKET_OF_R}
         where {SCOPE_R} and r.closed_at >= $9 and r.closed_at < $10 group by 1"
    );
    per_day(pool, scope, period, sql).await
}

/// Reopens per local date of the period.
async fn reopened_per_day(pool: &PgPool, scope: &Scope, period: &Period) -> sqlx::Result<PerDay> {
    let sql = format!(
        "select (r.reopened_at at time zone $11)::date, count(*)
         from ticket_resolution r {TICKET_OF_R}
         where {SCOPE_R} and r.reopened_at >= $9 and r.reopened_at < $10 group by 1"
    );
    per_day(pool, scope, period, sql).await
}

/// What the backlog is counted from ([`Backlog`]).
async fn backlog_base(pool: &PgPool, scope: &Scope, period: &Period) -> sqlx::Result<Backlog> {
    // The backlog at an instant e is the tickets created before e less those closed at e. A
    // ticket is closed at e when its latest close before e was not reopened by e; each reopen
    // undoes exactly one close, so: created before e - closes before e + reopens before e.
    // That is counted once up to the period's start, then carried day by day. For a period
    // that reaches now (the usual "last N days"), it is counted backwards instead: the tickets
    // not closed now (the small index of active tickets), less what the period's own days
    // added. Counting forwards would read nearly every fact of the history (about 0.6 s of
    // database time at a million tickets); both give the same number.
    if period.end() > OffsetDateTime::now_utc() {
        let sql = format!(
            "select (select count(*) from ticket t
                     where {SCOPE_T} and not t.spam and t.status <> 'closed')
                  + (select count(*) from ticket t
                     where {SCOPE_T} and t.spam and t.status <> 'closed')"
        );
        let open_now: i64 = bind_scope!(sqlx::query_scalar(&sql), scope)
            .fetch_one(pool)
            .await?;
        Ok(Backlog::OpenNow(open_now))
    } else {
        let sql = format!(
            "select
               (select count(*) from ticket_metric m {TICKET_OF_M}
                where {SCOPE_M} and m.created_at < $9),
               (select count(*) from ticket_resolution r {TICKET_OF_R} where {SCOPE_R} and r.closed_at < $9),
               (select count(*) from ticket_resolution r {TICKET_OF_R} where {SCOPE_R} and r.reopened_at < $9)"
        );
        let (created, closes, reopens): (i64, i64, i64) = bind_scope!(sqlx::query_as(&sql), scope)
            .bind(period.start())
            .fetch_one(pool)
            .await?;
        Ok(Backlog::AtStart(created - closes + reopens))
    }
}

/// The period's days from their counts and the backlog's base.
fn days_of(
    period: &Period,
    created: &PerDay,
    closed: &PerDay,
    reopened: &PerDay,
    base: Backlog,
) -> Vec<Day> {
    // time's and jiff's dates both print as YYYY-MM-DD.
    let find = |list: &[(time::Date, i64)], d: jiff::civil::Date| {
        let d = d.to_string();
        list.iter()
            .find(|(x, _)| x.to_string() == d)
            .map_or(0, |(_, n)| *n)
    };
    let sum = |list: &[(time::Date, i64)]| list.iter().map(|(_, n)| n).sum::<i64>();
    let mut backlog = match base {
        Backlog::AtStart(n) => n,
        // No fact lies after now, so the period's days hold everything since its start.
        Backlog::OpenNow(n) => n - sum(created) + sum(closed) - sum(reopened),
    };
    period
        .dates()
        .iter()
        .map(|(d, _, _)| {
            let (created, closed, reopened) =
                (find(created, *d), find(closed, *d), find(reopened, *d));
            backlog += created - closed + reopened;
            Day {
                date: d.to_string(),
                created,
                closed,
                reopened,
                backlog,
            }
        })
        .collect()
}

/// Created, closed, reopened per local date, and the backlog at the end of each.
pub async fn daily(pool: &PgPool, scope: &Scope, period: &Period) -> sqlx::Result<Vec<Day>> {
    let created = per_day(
        pool,
        scope,
        period,
        format!(
            "select (m.created_at at time zone $11)::date, count(*)
             from ticket_metric m {TICKET_OF_M}
             where {SCOPE_M} and m.created_at >= $9 and m.created_at < $10 group by 1"
        ),
    );
    // Independent reads: at once, on separate pooled connections.
    let (created, closed, reopened, base) = tokio::try_join!(
        created,
        closed_per_day(pool, scope, period),
        reopened_per_day(pool, scope, period),
        backlog_base(pool, scope, period)
    )?;
    Ok(days_of(period, &created, &closed, &reopened, base))
}

/// What the overview page shows (`/analytics`): the summary, the days and the busiest hours.
#[derive(Debug, Clone)]
pub struct Overview {
    pub summary: Summary,
    pub days: Vec<Day>,
    /// As [`busiest`]: 7 rows Monday first, 24 counts of tickets created.
    pub grid: [[i64; 24]; 7],
}

/// The overview page's figures, equal to [`summary`], [`daily`] and [`busiest`] called one by
/// one, with the period's reads they share done once: its created tickets are read once,
/// grouped by local hour (which gives the created and unanswered counts, the days' created
/// counts and the weekday-by-hour grid), and its reopens once, per day: fourteen queries
/// instead of nineteen.
pub async fn overview(pool: &PgPool, scope: &Scope, period: &Period) -> sqlx::Result<Overview> {
    let prev = period.previous();
    let by_hour = async {
        bind_scope!(
            sqlx::query_as::<_, (time::PrimitiveDateTime, i64, i64)>(&format!(
                "select date_trunc('hour', m.created_at at time zone $11), count(*),
                        count(*) filter (where {UNANSWERED_M})
                 from ticket_metric m {TICKET_OF_M}
                 where {SCOPE_M} and m.created_at >= $9 and m.created_at < $10
                 group by 1"
            )),
            scope
        )
        .bind(period.start())
        .bind(period.end())
        .bind(period.tz_name.clone())
        .fetch_all(pool)
        .await
    };
    let (previous, by_hour, rest, closed, reopened, base) = tokio::try_join!(
        figures(pool, scope, prev.start(), prev.end()),
        by_hour,
        durations_sla_csat(pool, scope, period.start(), period.end()),
        closed_per_day(pool, scope, period),
        reopened_per_day(pool, scope, period),
        backlog_base(pool, scope, period)
    )?;
    let mut grid = [[0i64; 24]; 7];
    let mut created: PerDay = Vec::new();
    let (mut created_n, mut unanswered_n) = (0, 0);
    for (hour, n, unanswered) in by_hour {
        created_n += n;
        unanswered_n += unanswered;
        let day = usize::from(hour.weekday().number_days_from_monday());
        grid[day][usize::from(hour.hour())] += n;
        match created.iter_mut().find(|(d, _)| *d == hour.date()) {
            Some((_, c)) => *c += n,
            None => created.push((hour.date(), n)),
        }
    }
    let reopened_n = reopened.iter().map(|(_, n)| n).sum();
    let days = days_of(period, &created, &closed, &reopened, base);
    Ok(Overview {
        summary: Summary {
            current: rest.into_figures(created_n, unanswered_n, reopened_n),
            previous,
        },
        days,
        grid,
    })
}

/// The header of `tickets.csv`, in column order.
pub const TICKET_COLUMNS: [&str; 20] = [
    "number",
    "subject",
    "mailbox",
    "team",
    "assignee",
    "tags",
    "priority",
    "status",
    "created_at",
    "first_response_at",
    "first_response_s",
    "first_response_business_s",
    "resolved_at",
    "resolution_s",
    "resolution_business_s",
    "replies",
    "reopened",
    "sla_first_response",
    "sla_resolution",
    "csat",
];

/// The size of a `tickets.csv` chunk, bytes.
const CSV_CHUNK: usize = 64 * 1024;
/// A chunk's buffer: room for the chunk and the line that crosses its end, so it never grows.
const CSV_BUF: usize = CSV_CHUNK + 16 * 1024;

/// `tickets.csv` ([`TICKET_COLUMNS`]) for the tickets created in the period (counted ones
/// only), by ticket number (the order Frontdesk opened them), as chunks of about 64 KiB that
/// are sent as they are ready, so a two-year export of a million tickets never sits in memory
/// and its first bytes leave at once. The first item is the header and the first rows, or the
/// error that stopped the export before (so the caller can still answer with an error
/// status); a later error ends the stream with it (logged here).
///
/// The numbers the period's tickets span are cut into parts of [`CSV_PART`] numbers; two
/// parts are read and written at once, each in its own task on its own connection of `pool`
/// (formatting a million lines is most of an export's work), and sent in order.
pub fn tickets_csv_chunks(
    pool: PgPool,
    scope: Scope,
    period: Period,
) -> tokio::sync::mpsc::Receiver<sqlx::Result<String>> {
    use futures::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        // The names and the period's first and last tickets on two connections at once: both
        // come before any row.
        let setup = async {
            let (names, edges) = tokio::try_join!(
                ExportNames::load(&pool),
                period_edge_numbers(&pool, &period)
            )?;
            Ok::<_, sqlx::Error>((std::sync::Arc::new(names), edges))
        };
        let (names, edges) = match setup.await {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(error = %e, "tickets.csv: preparing the export failed");
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let mut header = Some(super::csv::line(&TICKET_COLUMNS));
        let parts = edges.map(|(a, b)| csv_parts(a, b)).unwrap_or_default();
        let mut parts = futures::stream::iter(parts)
            .map(|(first, last)| {
                let part = csv_part(
                    pool.clone(),
                    scope.clone(),
                    period.clone(),
                    names.clone(),
                    first,
                    last,
                );
                tokio::spawn(part)
            })
            .buffered(2);
        while let Some(done) = parts.next().await {
            let chunks = match done {
                Ok(Ok(chunks)) => chunks,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "tickets.csv: reading the tickets failed");
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "tickets.csv: a part's task failed");
                    let _ = tx.send(Err(sqlx::Error::WorkerCrashed)).await;
                    return;
                }
            };
            for mut chunk in chunks {
                if let Some(h) = header.take() {
                    chunk.insert_str(0, &h);
                }
                if tx.send(Ok(chunk)).await.is_err() {
                    return; // the client went away
                }
            }
        }
        if let Some(h) = header {
            let _ = tx.send(Ok(h)).await;
        }
    });
    rx
}

/// The ticket numbers in one part of `tickets.csv` (see [`tickets_csv_chunks`]): 25,000
/// lines of about 180 bytes at most, so two parts in flight and one being sent hold about
/// 15 MB.
const CSV_PART: i64 = 25_000;

/// The numbers of the period's first and last created tickets (counted ones), by the time
/// index: two index probes. Numbers follow creation only roughly (mail imported late gets a
/// new number and an old date), so these are where the parts start and end
/// ([`csv_parts`]), not bounds: none when the period has no ticket.
async fn period_edge_numbers(pool: &PgPool, period: &Period) -> sqlx::Result<Option<(i64, i64)>> {
    let (first, last) = sqlx::query_as::<_, (Option<i64>, Option<i64>)>(
        "select (select ticket_id from ticket_metric
                 where excluded is null and created_at >= $1 and created_at < $2
                 order by created_at limit 1),
                (select ticket_id from ticket_metric
                 where excluded is null and created_at >= $1 and created_at < $2
                 order by created_at desc limit 1)",
    )
    .bind(period.start())
    .bind(period.end())
    .fetch_one(pool)
    .await?;
    Ok(first.zip(last))
}

/// The ticket number ranges (inclusive) of an export's parts: [`CSV_PART`] numbers each from
/// the smaller of `a`, `b` to the larger, the first open below and the last open above, so
/// that together they hold every number whatever the period's tickets are numbered
/// ([`period_edge_numbers`] only estimates where they lie). A million tickets created over two
/// years span about 40 parts; ninety days, five.
fn csv_parts(a: i64, b: i64) -> Vec<(i64, i64)> {
    let (lo, hi) = (a.min(b), a.max(b));
    let mut parts: Vec<(i64, i64)> = (lo..=hi)
        .step_by(CSV_PART as usize)
        .map(|first| (first, first.saturating_add(CSV_PART - 1)))
        .collect();
    if let Some(first) = parts.first_mut() {
        first.0 = i64::MIN;
    }
    if let Some(last) = parts.last_mut() {
        last.1 = i64::MAX;
    }
    parts
}

/// Writes the `tickets.csv` lines of the tickets numbered `first..=last`
/// (created in the period, in the scope) as chunks of about 64 KiB, in number order. Every
/// value is on the ticket's row or its metric row (SLA results and the latest rating
/// included). A part of [`CSV_PART`] numbers is one merge join of two primary-key range scans
/// that streams in key order and sorts nothing; the open first and last parts ([`csv_parts`])
/// may instead read the period by its time index and sort what they find.
async fn csv_part(
    pool: PgPool,
    scope: Scope,
    period: Period,
    names: std::sync::Arc<ExportNames>,
    first: i64,
    last: i64,
) -> sqlx::Result<Vec<String>> {
    use futures::TryStreamExt;
    let open = first == i64::MIN || last == i64::MAX;
    // The tickets' own range makes a merge join of two range scans. An open part has no such
    // range, and a plain join there reads every ticket (a hash join of a full scan): it looks
    // up each of its few tickets by key instead (`offset 0` keeps the lookup from being
    // flattened into a join).
    let ticket = if open {
        "cross join lateral (select tk.subject, tk.mailbox_id, tk.team_id, tk.assignee_agent_id,
                                    tk.priority, tk.status
                             from ticket tk where tk.ticket_id = m.ticket_id offset 0) tk"
    } else {
        "join ticket tk on tk.ticket_id = m.ticket_id and tk.ticket_id between $11 and $12"
    };
    let sql = format!(
        "select m.ticket_id as number, tk.subject, tk.mailbox_id, tk.team_id,
                tk.assignee_agent_id, m.ticket_tag_ids as tag_ids, tk.priority, tk.status,
                m.created_at, m.first_response_at, m.first_response_s,
                m.first_response_business_s, m.resolved_at, m.resolution_s,
                m.resolution_business_s, m.replies, m.reopened, m.sla_first_response,
                m.sla_resolution, m.csat
         from ticket_metric m {TICKET_OF_M}
         {ticket}
         where {SCOPE_M} and m.ticket_id between $11 and $12
           and m.created_at >= $9 and m.created_at < $10
         order by m.ticket_id"
    );
    let mut conn = pool.begin().await?;
    if !open {
        // A sort would read the whole metric table for each part: the planner picks one when
        // the table's order has drifted from its key.
        sqlx::query("set local enable_sort = off")
            .execute(&mut *conn)
            .await?;
    }
    let mut rows = bind_scope!(sqlx::query(&sql), scope)
        .bind(period.start())
        .bind(period.end())
        .bind(first)
        .bind(last)
        .fetch(&mut *conn);
    let mut line = LineWriter::new(&names);
    let mut chunks = Vec::new();
    let mut buf = String::with_capacity(CSV_BUF);
    while let Some(row) = rows.try_next().await? {
        line.push(&mut buf, &row)?;
        if buf.len() >= CSV_CHUNK {
            chunks.push(std::mem::replace(&mut buf, String::with_capacity(CSV_BUF)));
        }
    }
    if !buf.is_empty() {
        chunks.push(buf);
    }
    Ok(chunks)
}

/// Writes `tickets.csv` lines ([`TICKET_COLUMNS`]) from the export query's rows, read by
/// column position with borrowed text, into the chunk buffer: times RFC 3339 UTC to the second, durations
/// in seconds (whole milliseconds at most), every cell through [`super::csv::push_cell`]. A
/// two-year export writes a million lines, so a line allocates nothing but its tag id array:
/// the values that need formatting go through one reused scratch buffer.
struct LineWriter<'a> {
    names: &'a ExportNames,
    scratch: String,
    time: Vec<u8>,
}

impl<'a> LineWriter<'a> {
    fn new(names: &'a ExportNames) -> Self {
        Self {
            names,
            scratch: String::with_capacity(256),
            time: Vec::with_capacity(40),
        }
    }

    /// Appends one line (with its line end) for `row` to `out`. The columns are read by
    /// position and without sqlx's per-value type check (name look-ups and type checks were
    /// about a quarter of the export's CPU in a profile): the query beside this writer fixes
    /// their types, and a null where a value is required is still an error.
    fn push(&mut self, out: &mut String, row: &sqlx::postgres::PgRow) -> sqlx::Result<()> {
        use super::csv::push_cell;
        use sqlx::Row;
        let mut int = itoa::Buffer::new();
        out.push_str(int.format(row.try_get_unchecked::<i64, _>(0)?));
        push_cell(out, row.try_get_unchecked::<&str, _>(1)?, false);
        let names = self.names;
        push_cell(
            out,
            ExportNames::of(&names.mailboxes, Some(row.try_get_unchecked(2)?)),
            false,
        );
        push_cell(
            out,
            ExportNames::of(&names.teams, row.try_get_unchecked(3)?),
            false,
        );
        push_cell(
            out,
            ExportNames::of(&names.agents, row.try_get_unchecked(4)?),
            false,
        );
        self.scratch.clear();
        names.tag_list(&row.try_get_unchecked::<Vec<i64>, _>(5)?, &mut self.scratch);
        push_cell(out, &self.scratch, false);
        push_cell(out, row.try_get_unchecked::<&str, _>(6)?, false);
        push_cell(out, row.try_get_unchecked::<&str, _>(7)?, false);
        self.time(out, Some(row.try_get_unchecked(8)?));
        self.time(out, row.try_get_unchecked(9)?);
        self.secs(out, row.try_get_unchecked(10)?);
        self.secs(out, row.try_get_unchecked(11)?);
        self.time(out, row.try_get_unchecked(12)?);
        self.secs(out, row.try_get_unchecked(13)?);
        self.secs(out, row.try_get_unchecked(14)?);
        for i in 15..17 {
            out.push(',');
            out.push_str(int.format(row.try_get_unchecked::<i32, _>(i)?));
        }
        for i in 17..20 {
            push_cell(
                out,
                row.try_get_unchecked::<Option<&str>, _>(i)?
                    .unwrap_or_default(),
                false,
            );
        }
        out.push_str("\r\n");
        Ok(())
    }

    /// A time cell: RFC 3339 UTC to the second (`2026-03-02T11:00:00Z`; the durations beside
    /// it keep their milliseconds), or empty. The times Frontdesk records carry microseconds:
    /// 27 bytes a cell in full, 20 to the second, 21 bytes a line for three time cells.
    /// The digits are written by hand (a million lines have three time cells each, and the
    /// general formatter was a tenth of an export's time); a year outside 0-9999 takes
    /// the formatter's route.
    fn time(&mut self, out: &mut String, t: Option<OffsetDateTime>) {
        let Some(t) = t.map(|t| t.to_offset(time::UtcOffset::UTC)) else {
            out.push(',');
            return;
        };
        let (year, month, day) = t.to_calendar_date();
        let year = match u16::try_from(year) {
            Ok(year) if year <= 9999 => year,
            _ => return self.time_formatted(out, t),
        };
        let (hour, minute, second) = t.to_hms();
        let mut cell = *b"0000-00-00T00:00:00Z";
        let digits = |at: &mut [u8], n: u16| {
            for (i, d) in at.iter_mut().rev().enumerate() {
                *d = b'0' + (n / 10u16.pow(i as u32) % 10) as u8;
            }
        };
        digits(&mut cell[0..4], year);
        digits(&mut cell[5..7], u16::from(u8::from(month)));
        digits(&mut cell[8..10], u16::from(day));
        digits(&mut cell[11..13], u16::from(hour));
        digits(&mut cell[14..16], u16::from(minute));
        digits(&mut cell[17..19], u16::from(second));
        out.push(',');
        out.push_str(std::str::from_utf8(&cell).unwrap_or_default());
    }

    /// [`Self::time`]'s cell (with its comma) through the general formatter, for the years it
    /// does not write by hand.
    fn time_formatted(&mut self, out: &mut String, t: OffsetDateTime) {
        const UTC_SECONDS: &[time::format_description::BorrowedFormatItem<'_>] =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        self.time.clear();
        let text = t
            .format_into(&mut self.time, UTC_SECONDS)
            .ok()
            .and_then(|_| std::str::from_utf8(&self.time).ok())
            .unwrap_or_default();
        super::csv::push_cell(out, text, false);
    }

    /// A duration cell ([`write_secs`]): digits and a point go straight into the line; only
    /// the rare float route (negative, huge) goes through [`super::csv::push_cell`].
    fn secs(&mut self, out: &mut String, v: Option<f64>) {
        match v {
            Some(x) if x.is_sign_positive() && x < 1e9 => {
                out.push(',');
                write_secs(out, v);
            }
            None => out.push(','),
            _ => {
                self.scratch.clear();
                write_secs(&mut self.scratch, v);
                super::csv::push_cell(out, &self.scratch, false);
            }
        }
    }
}

/// Writes seconds rounded to whole milliseconds as Rust prints the rounded `f64` (`3600`,
/// `1.5`, `0.25`; nothing for `None`) into `text`. Whole milliseconds are printed as integers
/// (float printing was a tenth of an export's time): from zero to a billion seconds, doubles
/// are far closer together than a millisecond, so the shortest text of the rounded value is
/// exactly these digits. Anything else (negative, huge) takes the float route.
fn write_secs(text: &mut String, v: Option<f64>) {
    use std::fmt::Write;
    match v {
        Some(v) if v.is_sign_positive() && v < 1e9 => {
            let ms = (v * 1000.0).round() as u64;
            text.push_str(itoa::Buffer::new().format(ms / 1000));
            let frac = (ms % 1000) as u16;
            if frac != 0 {
                let digits =
                    [frac / 100, frac / 10 % 10, frac % 10].map(|d| char::from(b'0' + d as u8));
                let used = if digits[2] != '0' {
                    3
                } else if digits[1] != '0' {
                    2
                } else {
                    1
                };
                text.push('.');
                text.extend(&digits[..used]);
            }
        }
        v => {
            if let Some(v) = round_ms(v) {
                let _ = write!(text, "{v}");
            }
        }
    }
}

/// The names `tickets.csv` shows for the ids on its rows: mailbox addresses, team names,
/// agent e-mails and tag names (small tables, read once per export).
struct ExportNames {
    mailboxes: HashMap<i64, String>,
    teams: HashMap<i64, String>,
    agents: HashMap<i64, String>,
    /// Each tag's name and its place among all names by lower case.
    tags: HashMap<i64, (usize, String)>,
}

impl ExportNames {
    async fn load(pool: &PgPool) -> sqlx::Result<ExportNames> {
        async fn map(pool: &PgPool, sql: &str) -> sqlx::Result<HashMap<i64, String>> {
            let rows: Vec<(i64, String)> = sqlx::query_as(sql).fetch_all(pool).await?;
            Ok(rows.into_iter().collect())
        }
        let (mailboxes, teams, agents, tags) = tokio::try_join!(
            map(pool, "select mailbox_id, address from mailbox"),
            map(pool, "select team_id, name from team"),
            map(pool, "select agent_id, email from agent"),
            map(pool, "select tag_id, name from tag"),
        )?;
        Ok(ExportNames {
            mailboxes,
            teams,
            agents,
            tags: Self::ranked(tags),
        })
    }

    /// Tag names by id, each with its place among all names by lower case.
    fn ranked(tags: HashMap<i64, String>) -> HashMap<i64, (usize, String)> {
        let mut tags: Vec<(i64, String)> = tags.into_iter().collect();
        tags.sort_by_cached_key(|(_, name)| name.to_lowercase());
        tags.into_iter()
            .enumerate()
            .map(|(rank, (id, name))| (id, (rank, name)))
            .collect()
    }

    /// The name of `id` in `names`, or empty.
    fn of(names: &HashMap<i64, String>, id: Option<i64>) -> &str {
        id.and_then(|id| names.get(&id))
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// Writes the names of the tags `ids` into `out`, by lower-case name, joined by `, ` (a
    /// tag deleted meanwhile is left out).
    fn tag_list(&self, ids: &[i64], out: &mut String) {
        let mut tags: Vec<&(usize, String)> =
            ids.iter().filter_map(|id| self.tags.get(id)).collect();
        tags.sort_unstable_by_key(|(rank, _)| *rank);
        for (i, (_, name)) in tags.into_iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(name);
        }
    }
}

/// The names of the calendars business seconds were counted on, for the tickets whose first
/// response or resolution falls in the period (`24/7` for mailboxes without an SLA policy).
pub async fn calendars(pool: &PgPool, scope: &Scope, period: &Period) -> sqlx::Result<Vec<String>> {
    bind_scope!(
        sqlx::query_scalar(&format!(
            "select m.calendar
             from ticket_metric m {TICKET_OF_M}
             where {SCOPE_M} and m.first_response_at >= $9 and m.first_response_at < $10
             union
             select r.calendar
             from ticket_resolution r {TICKET_OF_R}
             where {SCOPE_R} and r.closed_at >= $9 and r.closed_at < $10 and r.calendar is not null
             order by 1"
        )),
        scope
    )
    .bind(period.start())
    .bind(period.end())
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_the_rounded_float_prints() {
        let float = |v: f64| round_ms(Some(v)).unwrap().to_string();
        let mut values = vec![0.0, 0.0004, 0.0005, 0.001, 0.1, 0.25, 1.5, 59.9999, 3600.0];
        values.extend([86_399.999_5, 1_234_567.891, 999_999_999.999, 7.123_456]);
        // Sub-millisecond steps over a wide range, including every fraction's trailing zeros.
        values.extend((0..200_000).map(|i| i as f64 * 0.013_7 + (i % 7) as f64 * 1e-4));
        values.extend((0..2_000).map(|i| i as f64 * 499_999.7));
        for v in values {
            let mut text = String::new();
            write_secs(&mut text, Some(v));
            assert_eq!(text, float(v), "{v}");
        }
        // Outside the integer route: the float's own text.
        for v in [-1.5, -0.0, 2e9, 1e12 + 0.123] {
            let mut text = String::new();
            write_secs(&mut text, Some(v));
            assert_eq!(text, float(v), "{v}");
        }
        let mut text = String::new();
        write_secs(&mut text, None);
        assert_eq!(text, "");
    }

    /// Names for tests that print none.
    fn no_names() -> ExportNames {
        ExportNames {
            mailboxes: HashMap::new(),
            teams: HashMap::new(),
            agents: HashMap::new(),
            tags: HashMap::new(),
        }
    }

    #[test]
    fn time_cells_are_utc_to_the_second() {
        let names = no_names();
        let mut line = LineWriter::new(&names);
        let mut out = String::new();
        let berlin = time::macros::datetime!(2026-03-02 12:00:59.987654 +01:00);
        line.time(&mut out, Some(berlin));
        line.time(&mut out, None);
        line.time(
            &mut out,
            Some(time::macros::datetime!(2026-03-02 11:00:00 UTC)),
        );
        assert_eq!(out, ",2026-03-02T11:00:59Z,,2026-03-02T11:00:00Z");
    }

    #[test]
    fn time_cells_match_the_general_formatter() {
        let names = no_names();
        let mut line = LineWriter::new(&names);
        // Every 9,999,991 seconds (about 116 days) from year 1 to year 9999, and the years
        // the hand-written digits leave to the formatter.
        let mut t = time::macros::datetime!(0001-01-01 00:00:00 UTC);
        while t.year() < 9999 {
            let mut out = String::new();
            line.time(&mut out, Some(t));
            let mut formatted = String::new();
            line.time_formatted(&mut formatted, t);
            assert_eq!(out, formatted, "{t}");
            t += time::Duration::seconds(9_999_991);
        }
        let mut out = String::new();
        line.time(
            &mut out,
            Some(time::macros::datetime!(-0001-12-31 23:59:59 UTC)),
        );
        assert_eq!(out, ",'-0001-12-31T23:59:59Z");
    }

    #[test]
    fn export_parts_cover_every_number() {
        assert_eq!(csv_parts(5, 5), vec![(i64::MIN, i64::MAX)]);
        assert_eq!(
            csv_parts(60_000, 1),
            vec![(i64::MIN, 25_000), (25_001, 50_000), (50_001, i64::MAX)]
        );
        assert_eq!(
            csv_parts(1, 50_000),
            vec![(i64::MIN, 25_000), (25_001, i64::MAX)]
        );
    }

    #[test]
    fn tag_lists_go_by_lower_case_name() {
        let names = ExportNames {
            mailboxes: HashMap::new(),
            teams: HashMap::new(),
            agents: HashMap::new(),
            tags: ExportNames::ranked(
                [(1, "billing"), (2, "Alpha"), (3, "VIP"), (4, "zebra")]
                    .into_iter()
                    .map(|(id, name)| (id, name.to_string()))
                    .collect(),
            ),
        };
        let mut out = String::new();
        names.tag_list(&[3, 9, 1, 2], &mut out);
        assert_eq!(out, "Alpha, billing, VIP");
    }
}
