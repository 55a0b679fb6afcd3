//! Analytics for leads (issue #13): a fixture of tickets with known events gives known
//! figures through the API (created, replied, closed, reopened, pending-paused, spam,
//! merged, bulk, unanswered, rule-sent, DST-crossing); the stored per-ticket values equal a
//! direct computation from the events; agents see only their own figures; CSV cells that a
//! spreadsheet would run are escaped.

use frontdesk::analytics::Scope;
use frontdesk::analytics::metrics;
use frontdesk::tickets::timeline::{Actor, TimelineEvent, Via};
use frontdesk::tickets::{Automated, TicketStatus};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::*;

fn utc(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A ticket row as ingest would leave it (status and assignee as its events end).
async fn ticket(
    db: &TestDb,
    mailbox: i64,
    subject: &str,
    created: &str,
    status: &str,
    assignee: Option<i64>,
) -> i64 {
    sqlx::query_scalar(
        "insert into ticket (mailbox_id, subject, created_at, last_message_at, status, assignee_agent_id)
         values ($1, $2, $3, $3, $4, $5) returning ticket_id",
    )
    .bind(mailbox)
    .bind(subject)
    .bind(utc(created))
    .bind(status)
    .bind(assignee)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

/// Appends one timeline event at a given time (as `timeline::record` stores it).
async fn event(db: &TestDb, ticket: i64, at: &str, actor: Actor, e: TimelineEvent) {
    let (agent, rule) = match actor {
        Actor::Agent(a) => (Some(a), None),
        Actor::Rule(r) => (None, Some(r)),
        _ => (None, None),
    };
    sqlx::query(
        "insert into ticket_event (ticket_id, kind, detail, actor_kind, agent_id, rule_id, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(ticket)
    .bind(e.kind())
    .bind(e.detail())
    .bind(actor.kind())
    .bind(agent)
    .bind(rule)
    .bind(utc(at))
    .execute(&db.pool)
    .await
    .unwrap();
}

fn created(automated: Option<Automated>) -> TimelineEvent {
    TimelineEvent::Created {
        via: Via::Email,
        automated,
        message_id: None,
    }
}

fn reply() -> TimelineEvent {
    TimelineEvent::ReplyQueued { message_id: 1 }
}

fn status(from: TicketStatus, to: TicketStatus) -> TimelineEvent {
    TimelineEvent::StatusChanged {
        from,
        to,
        reason: None,
        snoozed_until: None,
    }
}

fn assigned(to: i64) -> TimelineEvent {
    TimelineEvent::Assigned {
        from: None,
        to: Some(to),
    }
}

struct Fixture {
    db: TestDb,
    lead_token: String,
    dana_token: String,
    dana: i64,
    lee: i64,
    support: i64,
    /// Ticket numbers by name.
    t: std::collections::HashMap<&'static str, i64>,
}

/// The fixture (times UTC; March 2026 is the period, February the previous one):
///
/// | ticket | mailbox | events | counts as |
/// |---|---|---|---|
/// | t1 | support | created 03-02 10:00, Dana replies 11:00, closes 12:00 | FRT 1 h, resolution 2 h |
/// | t2 | support | created 03-03 09:00, Lee replies 10:00 and sets pending, customer reopens 03-04 10:00, Lee closes 12:00 | FRT 1 h, resolution 3 h (24 h pending left out) |
/// | t3 | support | created 03-05 08:00, Dana replies 08:30, closes 09:00; customer reopens 03-10 09:00, Dana replies 10:00, closes 11:00 | FRT 30 min; resolutions 1 h and 3 h (5 days closed left out); 1 reopen |
/// | t4 | support | created 03-06, Dana replies, marked spam | excluded |
/// | t5 | support | created 03-06, merged into t1 | excluded |
/// | t6 | support | list mail, closed at creation, nobody answered | excluded |
/// | t7 | support | created 03-20 10:00, assigned to Dana, no reply | unanswered |
/// | t8 | support | created 03-21 10:00, Dana closes 11:00 without reply | closed, not resolved |
/// | t9 | support | created 02-10 10:00, Dana replies 12:00, closes 13:00 | previous period |
/// | t10 | support | created 03-22 10:00, only a rule's automatic reply | unanswered |
/// | t11 | billing (Berlin, Mon-Fri 09-17) | created Fri 03-27 15:00 (16:00 CET), Lee replies Mon 03-30 08:00 (10:00 CEST) | FRT 65 h calendar, 2 h business across the DST change |
async fn fixture() -> Fixture {
    let db = TestDb::new().await;
    let lead = agent(&db, "lead@example.com", "Lena Lead", Role::Lead).await;
    let dana = agent(&db, "dana@example.com", "Dana Lee", Role::Agent).await;
    let lee = agent(&db, "lee@example.com", "Lee Park", Role::Agent).await;
    let support = offline_mailbox(&db.pool, "support@example.com", None).await;
    let billing = offline_mailbox(&db.pool, "billing@example.com", None).await;
    grant_through_team(&db.pool, "Support", dana, support).await;
    grant_through_team(&db.pool, "Everything", lee, support).await;
    sqlx::query("insert into team_mailbox (team_id, mailbox_id) select team_id, $1 from team where name = 'Everything'")
        .bind(billing)
        .execute(&db.pool)
        .await
        .unwrap();
    // Billing's SLA policy counts business time on a Berlin calendar.
    let calendar: i64 = sqlx::query_scalar(
        r#"insert into calendar (name, spec) values ('Berlin office',
           '{"time_zone": "Europe/Berlin", "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"],
             "wed": ["09:00-17:00"], "thu": ["09:00-17:00"], "fri": ["09:00-17:00"], "sat": [], "sun": []},
             "holidays": []}') returning calendar_id"#,
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let targets = json!({"urgent": {"first_response": 60, "next_response": 60, "resolution": 480},
        "high": {"first_response": 60, "next_response": 60, "resolution": 480},
        "normal": {"first_response": 60, "next_response": 60, "resolution": 480},
        "low": {"first_response": 60, "next_response": 60, "resolution": 480}});
    let policy: i64 = sqlx::query_scalar(
        "insert into sla_policy (name, calendar_id, targets) values ('Billing', $1, $2) returning sla_policy_id",
    )
    .bind(calendar)
    .bind(&targets)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    sqlx::query("update mailbox set sla_policy_id = $1 where mailbox_id = $2")
        .bind(policy)
        .bind(billing)
        .execute(&db.pool)
        .await
        .unwrap();

    use TicketStatus::*;
    let (d, l) = (Actor::Agent(dana), Actor::Agent(lee));
    let c = Actor::Customer;
    let mut t = std::collections::HashMap::new();

    let t1 = ticket(
        &db,
        support,
        "Printer on fire",
        "2026-03-02T10:00:00Z",
        "closed",
        Some(dana),
    )
    .await;
    event(&db, t1, "2026-03-02T10:00:00Z", c, created(None)).await;
    event(&db, t1, "2026-03-02T10:05:00Z", d, assigned(dana)).await;
    event(&db, t1, "2026-03-02T11:00:00Z", d, reply()).await;
    event(&db, t1, "2026-03-02T12:00:00Z", d, status(Open, Closed)).await;
    t.insert("t1", t1);

    let t2 = ticket(
        &db,
        support,
        "Invoice copy",
        "2026-03-03T09:00:00Z",
        "closed",
        Some(lee),
    )
    .await;
    event(&db, t2, "2026-03-03T09:00:00Z", c, created(None)).await;
    event(&db, t2, "2026-03-03T09:01:00Z", l, assigned(lee)).await;
    event(&db, t2, "2026-03-03T10:00:00Z", l, reply()).await;
    event(&db, t2, "2026-03-03T10:00:00Z", l, status(Open, Pending)).await;
    event(&db, t2, "2026-03-04T10:00:00Z", c, status(Pending, Open)).await;
    event(&db, t2, "2026-03-04T12:00:00Z", l, status(Open, Closed)).await;
    t.insert("t2", t2);

    let t3 = ticket(
        &db,
        support,
        "Login loop",
        "2026-03-05T08:00:00Z",
        "closed",
        Some(dana),
    )
    .await;
    event(&db, t3, "2026-03-05T08:00:00Z", c, created(None)).await;
    event(&db, t3, "2026-03-05T08:01:00Z", d, assigned(dana)).await;
    event(&db, t3, "2026-03-05T08:30:00Z", d, reply()).await;
    event(&db, t3, "2026-03-05T09:00:00Z", d, status(Open, Closed)).await;
    event(&db, t3, "2026-03-10T09:00:00Z", c, status(Closed, Open)).await;
    event(&db, t3, "2026-03-10T10:00:00Z", d, reply()).await;
    event(&db, t3, "2026-03-10T11:00:00Z", d, status(Open, Closed)).await;
    t.insert("t3", t3);

    let t4 = ticket(
        &db,
        support,
        "Cheap pills",
        "2026-03-06T10:00:00Z",
        "open",
        Some(dana),
    )
    .await;
    sqlx::query("update ticket set spam = true where ticket_id = $1")
        .bind(t4)
        .execute(&db.pool)
        .await
        .unwrap();
    event(&db, t4, "2026-03-06T10:00:00Z", c, created(None)).await;
    event(&db, t4, "2026-03-06T10:10:00Z", d, reply()).await;
    event(
        &db,
        t4,
        "2026-03-06T10:20:00Z",
        d,
        TimelineEvent::MarkedSpam {},
    )
    .await;
    t.insert("t4", t4);

    let t5 = ticket(
        &db,
        support,
        "Printer on fire (again)",
        "2026-03-06T11:00:00Z",
        "closed",
        None,
    )
    .await;
    event(&db, t5, "2026-03-06T11:00:00Z", c, created(None)).await;
    event(
        &db,
        t5,
        "2026-03-06T11:30:00Z",
        d,
        TimelineEvent::MergedInto {
            target: t1,
            messages: 1,
            cross_mailbox: None,
        },
    )
    .await;
    t.insert("t5", t5);

    let t6 = ticket(
        &db,
        support,
        "Newsletter",
        "2026-03-07T10:00:00Z",
        "closed",
        None,
    )
    .await;
    event(
        &db,
        t6,
        "2026-03-07T10:00:00Z",
        c,
        created(Some(Automated::List)),
    )
    .await;
    event(&db, t6, "2026-03-07T10:00:00Z", c, status(Open, Closed)).await;
    t.insert("t6", t6);

    // Subjects a spreadsheet would run as formulas.
    let t7 = ticket(
        &db,
        support,
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "2026-03-20T10:00:00Z",
        "open",
        Some(dana),
    )
    .await;
    event(&db, t7, "2026-03-20T10:00:00Z", c, created(None)).await;
    event(&db, t7, "2026-03-20T10:01:00Z", d, assigned(dana)).await;
    t.insert("t7", t7);

    let t8 = ticket(
        &db,
        support,
        "-1+2 @SUM(A1)",
        "2026-03-21T10:00:00Z",
        "closed",
        Some(dana),
    )
    .await;
    event(&db, t8, "2026-03-21T10:00:00Z", c, created(None)).await;
    event(&db, t8, "2026-03-21T11:00:00Z", d, status(Open, Closed)).await;
    t.insert("t8", t8);

    let t9 = ticket(
        &db,
        support,
        "February question",
        "2026-02-10T10:00:00Z",
        "closed",
        Some(dana),
    )
    .await;
    event(&db, t9, "2026-02-10T10:00:00Z", c, created(None)).await;
    event(&db, t9, "2026-02-10T12:00:00Z", d, reply()).await;
    event(&db, t9, "2026-02-10T13:00:00Z", d, status(Open, Closed)).await;
    t.insert("t9", t9);

    let t10 = ticket(
        &db,
        support,
        "Autoreplied only",
        "2026-03-22T10:00:00Z",
        "open",
        None,
    )
    .await;
    event(&db, t10, "2026-03-22T10:00:00Z", c, created(None)).await;
    event(&db, t10, "2026-03-22T10:00:01Z", Actor::Rule(1), reply()).await;
    t.insert("t10", t10);

    let t11 = ticket(
        &db,
        billing,
        "Refund before the weekend",
        "2026-03-27T15:00:00Z",
        "open",
        Some(lee),
    )
    .await;
    event(&db, t11, "2026-03-27T15:00:00Z", c, created(None)).await;
    event(&db, t11, "2026-03-27T15:01:00Z", l, assigned(lee)).await;
    event(&db, t11, "2026-03-30T08:00:00Z", l, reply()).await;
    t.insert("t11", t11);

    // Tags, teams, customers (lifecycle stage, VIP) and CSAT answers for the breakdowns:
    //
    // | ticket | tags | team | customer: stage, VIP |
    // |---|---|---|---|
    // | t1, t3 | login | Support | ana@acme.example: none of her own, company acme: renewal, VIP |
    // | t2 | billing | Support | bob@acme.example: onboarding, not VIP (his own, over acme's) |
    // | t4 (spam) | printer | Support | - (never counted) |
    // | t7 | login | Support | - |
    // | t8 | | Support | - |
    // | t9 (Feb) | billing, feedback | Support | ana |
    // | t10 | | none | - |
    // | t11 | billing | Everything | cy@gmail.example: at risk, VIP (her own, no company) |
    //
    // CSAT: t1's survey sent 03-02 12:00, answered good 03-03; t9's sent 02-10 13:00 and
    // answered okay 03-01: that answer counts in March, not in February.
    for (ticket, tags) in [
        (t1, &["login"][..]),
        (t3, &["login"]),
        (t7, &["login"]),
        (t2, &["billing"]),
        (t11, &["billing"]),
        (t9, &["billing", "feedback"]),
        (t4, &["printer"]),
    ] {
        for tag in tags {
            sqlx::query(
                "with g as (insert into tag (name) values ($2) on conflict (lower(name)) do update
                            set name = excluded.name returning tag_id)
                 insert into ticket_tag (ticket_id, tag_id, last_message_at)
                 select $1, g.tag_id, t.last_message_at from g, ticket t where t.ticket_id = $1",
            )
            .bind(ticket)
            .bind(tag)
            .execute(&db.pool)
            .await
            .unwrap();
        }
    }
    sqlx::query(
        "update ticket set team_id = (select team_id from team where name = 'Support')
         where ticket_id = any($1)",
    )
    .bind(vec![t1, t2, t3, t4, t7, t8, t9])
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "update ticket set team_id = (select team_id from team where name = 'Everything')
         where ticket_id = $1",
    )
    .bind(t11)
    .execute(&db.pool)
    .await
    .unwrap();
    let stage = |name: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select lifecycle_stage_id from lifecycle_stage where name = $1",
            )
            .bind(name)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let acme: i64 = sqlx::query_scalar(
        "insert into company (domain, name, vip, lifecycle_stage_id)
         values ('acme.example', 'Acme', true, $1) returning company_id",
    )
    .bind(stage("renewal").await)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    for (email, company, vip, own_stage, tickets) in [
        ("ana@acme.example", Some(acme), None, None, vec![t1, t3, t9]),
        (
            "bob@acme.example",
            Some(acme),
            Some(false),
            Some(stage("onboarding").await),
            vec![t2],
        ),
        (
            "cy@gmail.example",
            None,
            Some(true),
            Some(stage("at risk").await),
            vec![t11],
        ),
    ] {
        let customer: i64 = sqlx::query_scalar(
            "insert into customer (email, company_id, vip, lifecycle_stage_id)
             values ($1, $2, $3, $4) returning customer_id",
        )
        .bind(email)
        .bind(company)
        .bind(vip)
        .bind(own_stage)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        sqlx::query("update ticket set customer_id = $1 where ticket_id = any($2)")
            .bind(customer)
            .bind(tickets)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    for (ticket, sent, rating, rated) in [
        (t1, "2026-03-02T12:00:00Z", "good", "2026-03-03T09:00:00Z"),
        (t9, "2026-02-10T13:00:00Z", "okay", "2026-03-01T08:00:00Z"),
    ] {
        sqlx::query(
            "insert into csat_survey (ticket_id, resolution, mailbox_id, agent_id, state, send_at,
                                      sent_at, token_sha256, expires_at, rating, rated_at)
             select ticket_id, 1, mailbox_id, assignee_agent_id, 'sent', $2, $2,
                    sha256(ticket_id::text::bytea), $2 + interval '28 days', $3, $4
             from ticket where ticket_id = $1",
        )
        .bind(ticket)
        .bind(utc(sent))
        .bind(rating)
        .bind(utc(rated))
        .execute(&db.pool)
        .await
        .unwrap();
    }

    // SLA results (the sla_clock contract): counted by the instant of the result.
    for (ticket, kind, achieved, breached) in [
        (t1, "first_response", Some("2026-03-02T11:00:00Z"), None),
        (t11, "first_response", Some("2026-03-30T08:00:00Z"), None),
        (t2, "resolution", None, Some("2026-03-04T11:00:00Z")),
        // On a spam ticket: never counted.
        (t4, "first_response", Some("2026-03-06T10:10:00Z"), None),
    ] {
        sqlx::query(
            "insert into sla_clock (ticket_id, kind, started_at, achieved_at, breached_at)
             select ticket_id, $2, created_at, $3, $4 from ticket where ticket_id = $1",
        )
        .bind(ticket)
        .bind(kind)
        .bind(achieved.map(utc))
        .bind(breached.map(utc))
        .execute(&db.pool)
        .await
        .unwrap();
    }

    let filled = metrics::rebuild(&db.pool, 4).await.unwrap();
    assert_eq!(filled, 11, "every ticket filled, in batches");
    assert_eq!(
        metrics::rebuild(&db.pool, 4).await.unwrap(),
        0,
        "a second run fills nothing"
    );

    let lead_token = frontdesk::auth::create_api_token(&db.pool, lead)
        .await
        .unwrap();
    let dana_token = frontdesk::auth::create_api_token(&db.pool, dana)
        .await
        .unwrap();
    Fixture {
        db,
        lead_token,
        dana_token,
        dana,
        lee,
        support,
        t,
    }
}

const MARCH: &str = "from=2026-03-01&to=2026-03-31&tz=UTC";

async fn get(f: &Fixture, token: &str, path: &str) -> (u16, Value) {
    let (status, body) = api_json(&f.db, "GET", path, token, Value::Null).await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn the_fixture_gives_known_figures_through_the_summary() {
    let f = fixture().await;
    let (status, s) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/summary?{MARCH}"),
    )
    .await;
    assert_eq!(status, 200, "{s}");
    // Counted: t1 t2 t3 t7 t8 t10 t11 (spam, merged and unanswered list mail left out).
    assert_eq!(s["created"], 7, "{s}");
    // Closes: t1, t2, t3 twice, t8 (without reply); resolved: all but t8.
    assert_eq!(s["closed"], 5);
    assert_eq!(s["resolved"], 4);
    assert_eq!(s["reopened"], 1);
    // t7 (nobody replied) and t10 (only a rule's automatic reply).
    assert_eq!(s["unanswered"], 2);
    // First responses: 30 min, 1 h, 1 h, 65 h (t11, calendar) / 2 h (business).
    let fr = &s["first_response"];
    assert_eq!(fr["count"], 4);
    assert_eq!(fr["median_s"], 3600.0);
    assert_eq!(
        fr["p90_s"], 164_880.0,
        "p90 interpolates between 1 h and 65 h"
    );
    assert_eq!(fr["mean_s"], 60_750.0);
    assert_eq!(fr["business"]["median_s"], 3600.0);
    assert_eq!(fr["business"]["p90_s"], 6120.0);
    assert_eq!(fr["business"]["mean_s"], 4050.0);
    // Resolutions: 1 h (t3 first), 2 h (t1), 3 h (t2, 24 h pending left out), 3 h (t3 again,
    // 5 days closed left out).
    let res = &s["resolution"];
    assert_eq!(res["count"], 4);
    assert_eq!(res["median_s"], 9000.0);
    assert_eq!(res["p90_s"], 10_800.0);
    assert_eq!(res["mean_s"], 8100.0);
    // SLA: two first responses achieved, one resolution breached; the spam ticket's clock
    // is not counted.
    assert_eq!(
        s["sla"]["first_response"],
        json!({"achieved": 2, "breached": 0, "percent": 100.0})
    );
    assert_eq!(
        s["sla"]["resolution"],
        json!({"achieved": 0, "breached": 1, "percent": 0.0})
    );
    assert_eq!(
        s["sla"]["next_response"],
        json!({"achieved": 0, "breached": 0, "percent": null})
    );
    // CSAT: t1's survey (sent and answered good in March) and t9's answer (okay) given in
    // March to a February survey.
    assert_eq!(
        s["csat"],
        json!({"sent": 1, "responses": 2, "good": 1, "okay": 1, "bad": 0,
               "percent_satisfied": 50.0, "net": 50.0, "response_rate": 200.0})
    );
    // The previous period (31 days before March): t9 only.
    let p = &s["previous"];
    assert_eq!(
        (
            p["created"].clone(),
            p["closed"].clone(),
            p["resolved"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );
    assert_eq!(p["first_response"]["median_s"], 7200.0);
    assert_eq!(p["resolution"]["median_s"], 10_800.0);
    assert_eq!(p["unanswered"], 0);
    // February: t9's survey went out, its answer came in March.
    assert_eq!(
        (p["csat"]["sent"].clone(), p["csat"]["responses"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(p["csat"]["percent_satisfied"], Value::Null);
    // Per day: the backlog at each day's end (t2 pending over the 3rd, t3 closed between the
    // 5th and the 10th, t7, t8 closed the day it came, t10, t11), and the counts by day.
    let period = frontdesk::analytics::Period::new(
        jiff::civil::date(2026, 3, 1),
        jiff::civil::date(2026, 3, 31),
        "UTC",
    )
    .unwrap();
    let days = frontdesk::analytics::queries::daily(&f.db.pool, &Default::default(), &period)
        .await
        .unwrap();
    let day = |d: u8| days[usize::from(d) - 1].clone();
    assert_eq!(days.len(), 31);
    let backlog: Vec<(u8, i64)> = [1, 2, 3, 4, 5, 9, 10, 20, 21, 22, 27, 31]
        .into_iter()
        .map(|d| (d, day(d).backlog))
        .collect();
    assert_eq!(
        backlog,
        [
            (1, 0),
            (2, 0),
            (3, 1),
            (4, 0),
            (5, 0),
            (9, 0),
            (10, 0),
            (20, 1),
            (21, 1),
            (22, 2),
            (27, 3),
            (31, 3)
        ]
    );
    assert_eq!(
        (day(10).closed, day(10).reopened, day(5).created),
        (1, 1, 1)
    );
    assert_eq!(days.iter().map(|d| d.created).sum::<i64>(), 7);
    // A period that reaches now counts its backlog backwards from the tickets open now and the
    // period's own days; one that ends before now counts it forwards from the facts before it.
    // Both give the same backlog on every day, March's included (from Feb 25 while the range
    // stays within the longest period allowed).
    let today = frontdesk::analytics::Period::today_in("UTC");
    let days_back = |n: i64| today.checked_sub(jiff::Span::new().days(n)).unwrap();
    let from = jiff::civil::date(2026, 2, 25).max(days_back(700));
    let backlogs = |days: Vec<frontdesk::analytics::queries::Day>| {
        days.into_iter()
            .map(|d| (d.date, d.backlog))
            .collect::<Vec<(String, i64)>>()
    };
    let mut backwards = backlogs(
        frontdesk::analytics::queries::daily(
            &f.db.pool,
            &Default::default(),
            &frontdesk::analytics::Period::new(from, today, "UTC").unwrap(),
        )
        .await
        .unwrap(),
    );
    let forwards = backlogs(
        frontdesk::analytics::queries::daily(
            &f.db.pool,
            &Default::default(),
            &frontdesk::analytics::Period::new(from, days_back(1), "UTC").unwrap(),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        backwards.pop().map(|d| d.1),
        Some(3),
        "t7, t10, t11 open today"
    );
    assert_eq!(backwards, forwards);
    if from == jiff::civil::date(2026, 2, 25) {
        let at = |d: &str| forwards.iter().find(|x| x.0 == d).unwrap().1;
        assert_eq!(
            (
                at("2026-02-25"),
                at("2026-03-03"),
                at("2026-03-22"),
                at("2026-03-31")
            ),
            (0, 1, 2, 3)
        );
    }
    // The overview page reads the summary, the days and the busiest hours together, sharing
    // scans: it must give exactly what the three give one by one, in a zone that crosses DST
    // (Berlin, March 29), for a period that reaches today and under a filter.
    let billing = Scope {
        mailbox: Some(
            sqlx::query_scalar(
                "select mailbox_id from mailbox where address = 'billing@example.com'",
            )
            .fetch_one(&f.db.pool)
            .await
            .unwrap(),
        ),
        ..Default::default()
    };
    for (period, scope) in [
        (period.clone(), Scope::default()),
        (
            frontdesk::analytics::Period::new(
                jiff::civil::date(2026, 3, 1),
                jiff::civil::date(2026, 3, 31),
                "Europe/Berlin",
            )
            .unwrap(),
            Scope::default(),
        ),
        (
            frontdesk::analytics::Period::new(from, today, "America/New_York").unwrap(),
            Scope::default(),
        ),
        (period.clone(), billing),
    ] {
        use frontdesk::analytics::queries;
        let o = queries::overview(&f.db.pool, &scope, &period)
            .await
            .unwrap();
        let s = queries::summary(&f.db.pool, &scope, &period).await.unwrap();
        assert_eq!(
            serde_json::to_value(&o.summary).unwrap(),
            serde_json::to_value(&s).unwrap(),
            "{period:?} {scope:?}"
        );
        assert_eq!(
            o.days,
            queries::daily(&f.db.pool, &scope, &period).await.unwrap()
        );
        assert_eq!(
            o.grid,
            queries::busiest(&f.db.pool, &scope, &period).await.unwrap()
        );
        assert!(o.days.iter().map(|d| d.created).sum::<i64>() > 0);
    }
    // Filters: the billing mailbox alone is t11; a priority nobody has gives zeros and nulls.
    let (_, b) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/summary?{MARCH}&mailbox=billing@example.com"),
    )
    .await;
    assert_eq!(b["created"], 1);
    assert_eq!(b["first_response"]["business"]["median_s"], 7200.0);
    assert_eq!(b["first_response"]["median_s"], 234_000.0);
    let (_, u) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/summary?{MARCH}&priority=urgent"),
    )
    .await;
    assert_eq!(u["created"], 0);
    assert_eq!(u["first_response"]["median_s"], Value::Null);
    // Bad parameters name themselves.
    let (status, e) = get(&f, &f.lead_token, "/api/v1/analytics/summary?from=March").await;
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().starts_with("from:"), "{e}");
    let (status, _) = get(&f, &f.lead_token, "/api/v1/analytics/summary?tz=Mars/Base").await;
    assert_eq!(status, 400);
    f.db.drop_db().await;
}

#[tokio::test]
async fn agents_and_busiest_hours_follow_the_fixture() {
    let f = fixture().await;
    let (status, a) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/agents?{MARCH}"),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    let row = |email: &str| {
        a["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["email"] == email)
            .unwrap_or_else(|| panic!("{email} in {a}"))
            .clone()
    };
    let dana = row("dana@example.com");
    // Replies on t1, t3 twice (the spam ticket's reply is left out); closes t1, t3 twice, t8.
    assert_eq!(dana["assigned"], 3, "{dana}");
    assert_eq!(dana["replies"], 3);
    assert_eq!(dana["closed"], 4);
    assert_eq!(dana["first_response"]["count"], 2);
    assert_eq!(dana["first_response"]["median_s"], 2700.0);
    assert_eq!(dana["resolution"]["count"], 3);
    assert_eq!(dana["open_now"], 1, "t7");
    assert_eq!(dana["sla_percent"], 100.0, "t1's first response");
    let lee = row("lee@example.com");
    assert_eq!(lee["replies"], 2);
    assert_eq!(lee["closed"], 1);
    assert_eq!(lee["first_response"]["median_s"], 118_800.0);
    assert_eq!(lee["first_response"]["business"]["median_s"], 5400.0);
    assert_eq!(lee["open_now"], 1, "t11");
    assert_eq!(lee["sla_percent"], 50.0, "t11 achieved, t2 breached");
    assert_eq!(lee["csat"]["sent"], 0);

    let (_, b) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/busiest?{MARCH}"),
    )
    .await;
    assert_eq!(b["tz"], "UTC");
    let grid = b["grid"].as_array().unwrap();
    assert_eq!(grid.len(), 7);
    assert!(grid.iter().all(|r| r.as_array().unwrap().len() == 24));
    let total: i64 = grid
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(total, 7);
    assert_eq!(grid[0][10], 1, "t1: Monday 10:00");
    assert_eq!(grid[4][15], 1, "t11: Friday 15:00 UTC");
    // In Berlin (CET before the 29th) t11 arrived at 16:00 and t1 at 11:00.
    let (_, b) = get(
        &f,
        &f.lead_token,
        "/api/v1/analytics/busiest?from=2026-03-01&to=2026-03-31&tz=Europe/Berlin",
    )
    .await;
    assert_eq!(b["tz"], "Europe/Berlin");
    assert_eq!(b["grid"][4][16], 1);
    assert_eq!(b["grid"][0][11], 1);
    f.db.drop_db().await;
}

#[tokio::test]
async fn an_agent_sees_only_their_own_figures_and_a_lead_sees_all() {
    let f = fixture().await;
    // Dana's own: tickets assigned to her (t1, t3, t7, t8; the spam ticket left out).
    let (status, s) = get(
        &f,
        &f.dana_token,
        &format!("/api/v1/analytics/summary?{MARCH}"),
    )
    .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["created"], 4, "{s}");
    assert_eq!(s["unanswered"], 1);
    let (_, a) = get(
        &f,
        &f.dana_token,
        &format!("/api/v1/analytics/agents?{MARCH}"),
    )
    .await;
    let emails: Vec<&str> = a["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["dana@example.com"]);
    // Someone else's figures: refused.
    let (status, e) = get(
        &f,
        &f.dana_token,
        &format!("/api/v1/analytics/summary?{MARCH}&agent=lee@example.com"),
    )
    .await;
    assert_eq!(status, 403, "{e}");
    // A mailbox she cannot see is unknown to her.
    let (status, _) = get(
        &f,
        &f.dana_token,
        &format!("/api/v1/analytics/summary?{MARCH}&mailbox=billing@example.com"),
    )
    .await;
    assert_eq!(status, 400);
    // The lead: everything, and any agent's figures on asking.
    let (_, s) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/summary?{MARCH}&agent=lee@example.com"),
    )
    .await;
    assert_eq!(s["created"], 2, "t2 and t11");
    let (_, a) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/agents?{MARCH}"),
    )
    .await;
    assert!(a["agents"].as_array().unwrap().len() >= 3, "{a}");
    // Without a token: 401.
    let (status, _) = get(&f, "nope", "/api/v1/analytics/summary").await;
    assert_eq!(status, 401);
    // The pages: the lead gets the header link and the overview; the agent her own.
    let mut lead = Browser::signed_in(&f.db, "lead@example.com").await;
    let page = lead.get(&format!("/analytics?{MARCH}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(r#"href="/analytics""#), "header link");
    assert!(
        page.body.contains(r#"data-figure="created">7<"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("Berlin office"), "the calendar is named");
    let page = lead.get(&format!("/analytics/agents?{MARCH}")).await;
    assert_eq!(page.status, 200);
    let body = page.body.replace("&#38;", "&").replace("&amp;", "&");
    assert!(
        body.contains(&format!("/inbox?folder=open&assignee={}", f.lee)),
        "workload links to the inbox: {body}"
    );
    let mut dana = Browser::signed_in(&f.db, "dana@example.com").await;
    let page = dana.get(&format!("/analytics?{MARCH}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"data-figure="created">4<"#));
    assert!(
        !page.body.contains(r#"<a href="/analytics">Analytics</a>"#),
        "no header link for agents"
    );
    let _ = (f.dana, f.support);
    f.db.drop_db().await;
}

#[tokio::test]
async fn the_tickets_csv_has_one_escaped_row_per_ticket() {
    let f = fixture().await;
    let req = axum::http::Request::get(format!("/api/v1/analytics/tickets.csv?{MARCH}"))
        .header("authorization", format!("Bearer {}", f.lead_token))
        .body(axum::body::Body::empty())
        .unwrap();
    use tower::ServiceExt;
    let resp = test_router(&f.db).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "number,subject,mailbox,team,assignee,tags,priority,status,created_at,first_response_at,first_response_s,first_response_business_s,resolved_at,resolution_s,resolution_business_s,replies,reopened,sla_first_response,sla_resolution,csat"
    );
    assert_eq!(lines.len(), 1 + 7, "{body}");
    assert!(
        body.contains(r#""'=HYPERLINK(""http://evil.example"",""x"")""#),
        "{body}"
    );
    assert!(body.contains("'-1+2 @SUM(A1)"), "{body}");
    let t1 = lines
        .iter()
        .find(|l| l.starts_with(&format!("{},", f.t["t1"])))
        .unwrap();
    assert!(
        t1.contains(
            ",2026-03-02T11:00:00Z,3600,3600,2026-03-02T12:00:00Z,7200,7200,1,0,achieved,,"
        ),
        "{t1}"
    );
    let t3 = lines
        .iter()
        .find(|l| l.starts_with(&format!("{},", f.t["t3"])))
        .unwrap();
    assert!(
        t3.contains(",2026-03-10T11:00:00Z,10800,10800,2,1,"),
        "{t3}"
    );
    f.db.drop_db().await;
}

#[tokio::test]
async fn a_tickets_csv_of_many_parts_has_every_row_once_in_order() {
    let db = TestDb::new().await;
    let mailbox = offline_mailbox(&db.pool, "support@example.com", None).await;
    // 60,000 tickets of ~200 bytes a row: the export is read in parts of 25,000 numbers and
    // sent in many 64 KiB chunks. Creation times are a permutation of the numbers (as if every
    // mail had been imported in a random order), so the period's first and last tickets by
    // time are nowhere near its smallest and largest numbers: rows still come by number,
    // each once.
    sqlx::query(
        "insert into ticket (mailbox_id, subject, created_at, last_message_at)
         select $1, 'Question ' || g || ' ' || repeat('x', 120), t, t
         from generate_series(1, 60000) g,
              lateral (select timestamptz '2026-03-05 00:00:00Z'
                              + (g * 7919 % 60000) * interval '10 seconds' as t) x",
    )
    .bind(mailbox)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into ticket_metric (ticket_id, created_at, calendar)
         select ticket_id, created_at, '24/7' from ticket on conflict (ticket_id) do nothing",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("analyze ticket, ticket_metric")
        .execute(&db.pool)
        .await
        .unwrap();
    let lead = agent(&db, "lead@example.com", "Lee", Role::Lead).await;
    let token = frontdesk::auth::create_api_token(&db.pool, lead)
        .await
        .unwrap();
    // The whole month, then four days in the middle of the tickets' week.
    for (query, start, end) in [
        (MARCH, "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"),
        (
            "from=2026-03-06&to=2026-03-09&tz=UTC",
            "2026-03-06T00:00:00Z",
            "2026-03-10T00:00:00Z",
        ),
    ] {
        let req = axum::http::Request::get(format!("/api/v1/analytics/tickets.csv?{query}"))
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        use tower::ServiceExt;
        let resp = test_router(&db).oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 25)
            .await
            .unwrap();
        assert!(body.len() > 4 * 64 * 1024, "{} bytes", body.len());
        let body = String::from_utf8(body.to_vec()).unwrap();
        let numbers: Vec<i64> = body
            .split("\r\n")
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect();
        let expected: Vec<i64> = sqlx::query_scalar(
            "select ticket_id from ticket
             where created_at >= $1::timestamptz and created_at < $2::timestamptz
             order by ticket_id",
        )
        .bind(start)
        .bind(end)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert!(
            expected.len() > 25_000,
            "{query}: {} tickets",
            expected.len()
        );
        assert_eq!(numbers.len(), expected.len(), "{query}");
        assert_eq!(numbers, expected, "{query}: every ticket once, by number");
    }
    db.drop_db().await;
}

#[tokio::test]
async fn stored_values_equal_a_direct_computation_and_do_not_move() {
    let f = fixture().await;
    let mut conn = f.db.pool.acquire().await.unwrap();
    for (name, ticket) in &f.t {
        let facts = metrics::compute_for(&mut conn, *ticket)
            .await
            .unwrap()
            .unwrap();
        type Row = (
            Option<String>,
            Option<OffsetDateTime>,
            Option<f64>,
            Option<f64>,
            Option<OffsetDateTime>,
            Option<f64>,
            i32,
            i32,
        );
        let row: Row = sqlx::query_as(
            "select excluded, first_response_at, first_response_s, first_response_business_s,
                    resolved_at, resolution_business_s, replies, reopened
             from ticket_metric where ticket_id = $1",
        )
        .bind(ticket)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        assert_eq!(
            row.0.as_deref(),
            facts.excluded.map(|e| e.as_str()),
            "{name}"
        );
        let fr = facts.first_response.as_ref();
        assert_eq!(row.1, fr.map(|f| f.at), "{name}");
        assert_eq!(row.2, fr.map(|f| f.seconds), "{name}");
        assert_eq!(row.3, fr.map(|f| f.business_seconds), "{name}");
        assert_eq!(
            row.4,
            facts.final_resolution().map(|c| c.closed_at),
            "{name}"
        );
        assert_eq!(
            row.5,
            facts.final_resolution().map(|c| c.business_seconds),
            "{name}"
        );
        assert_eq!((row.6, row.7), (facts.replies, facts.reopened), "{name}");
        let closes: Vec<(OffsetDateTime, bool, f64)> = sqlx::query_as(
            "select closed_at, replied, resolution_s from ticket_resolution where ticket_id = $1 order by seq",
        )
        .bind(ticket)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let expected: Vec<_> = facts
            .closes
            .iter()
            .map(|c| (c.closed_at, c.replied, c.seconds))
            .collect();
        assert_eq!(closes, expected, "{name}");
    }
    // History is frozen: the billing calendar becomes 24/7-like; t11's stored business time
    // stays what it was when the response completed, even after a new event refreshes it.
    sqlx::query(r#"update calendar set spec = '{"time_zone": "UTC", "hours": {"mon": ["00:00-24:00"], "tue": ["00:00-24:00"], "wed": ["00:00-24:00"], "thu": ["00:00-24:00"], "fri": ["00:00-24:00"], "sat": ["00:00-24:00"], "sun": ["00:00-24:00"]}, "holidays": []}'"#)
        .execute(&mut *conn)
        .await
        .unwrap();
    let t11 = f.t["t11"];
    event(
        &f.db,
        t11,
        "2026-04-01T10:00:00Z",
        Actor::Agent(f.lee),
        status(TicketStatus::Open, TicketStatus::Closed),
    )
    .await;
    metrics::refresh(&mut conn, t11).await.unwrap();
    let business: f64 = scalar_for(
        &f.db.pool,
        "select first_response_business_s from ticket_metric where ticket_id = $1",
        t11,
    )
    .await;
    assert_eq!(business, 7200.0);
    let march = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/summary?{MARCH}"),
    )
    .await
    .1;
    assert_eq!(
        march["first_response"]["business"]["p90_s"], 6120.0,
        "March did not move"
    );
    drop(conn);
    f.db.drop_db().await;
}

#[tokio::test]
async fn the_timeline_hook_stores_values_as_tickets_change() {
    // Real paths: a mail ingested, a reply, pending, the customer writes again, closed.
    let app = TestApp::with_mail(&["23-reply-in-reply-to-only-a.eml"]).await;
    let db = &app.db;
    let dana_id = app.agent("dana@example.com", "Dana Lee", Role::Admin).await;
    let n = app.only_ticket_id().await;
    let row = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_as::<_, (Option<OffsetDateTime>, i32, i32, Option<String>)>(
                "select first_response_at, replies, reopened, excluded from ticket_metric where ticket_id = $1",
            )
            .bind(n)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(row(db).await, (None, 0, 0, None), "created by ingest");
    let dana = frontdesk::auth::find_agent(&db.pool, dana_id)
        .await
        .unwrap()
        .unwrap();
    let input = frontdesk::tickets::reply::ReplyInput {
        to: vec!["jana.roth@example.org".into()],
        text: "On it.".into(),
        status_after: Some(TicketStatus::Pending),
        ..Default::default()
    };
    frontdesk::tickets::reply::create_reply(&db.pool, &dana, None, n, &input)
        .await
        .unwrap();
    let (fr_at, replies, _, _) = row(db).await;
    assert!(
        fr_at.is_some(),
        "the first response is stored with the reply"
    );
    assert_eq!(replies, 1);
    // The customer writes again (pending → open), then Dana closes.
    app.deliver(&["23-reply-in-reply-to-only-b.eml"]).await;
    app.ingest().await;
    let mut tx = db.pool.begin().await.unwrap();
    frontdesk::tickets::actions::set_status(
        &mut tx,
        Actor::Agent(dana_id),
        None,
        n,
        TicketStatus::Closed,
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    let facts = metrics::compute_for(&mut conn, n).await.unwrap().unwrap();
    assert_eq!(facts.closes.len(), 1);
    let stored: (Option<OffsetDateTime>, Option<f64>, Option<OffsetDateTime>) = sqlx::query_as(
        "select first_response_at, first_response_s, resolved_at from ticket_metric where ticket_id = $1",
    )
    .bind(n)
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let fr = facts.first_response.unwrap();
    assert_eq!(
        stored,
        (
            Some(fr.at),
            Some(fr.seconds),
            Some(facts.closes[0].closed_at)
        )
    );
    // Marked spam: out of every figure.
    drop(conn);
    frontdesk::tickets::actions::set_spam(&db.pool, Actor::Agent(dana_id), None, n, true)
        .await
        .unwrap();
    assert_eq!(row(db).await.3.as_deref(), Some("spam"));
    app.finish().await;
}

/// The row of `list` whose `key` is `value`.
fn row_of(list: &Value, key: &str, value: &str) -> Value {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("{key} = {value} in {list}"))
        .clone()
}

#[tokio::test]
async fn tags_give_volume_trend_time_to_resolve_and_rising() {
    let f = fixture().await;
    let (status, r) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/tags?{MARCH}"),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["bucket"], "day");
    assert_eq!(r["buckets"].as_array().unwrap().len(), 31);
    assert_eq!(r["buckets"][0], "2026-03-01");
    // By volume; the spam ticket's tag is nowhere; feedback only had February's t9.
    let names: Vec<&str> = r["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["login", "billing", "feedback"], "{r}");
    assert_eq!(r["rising"], json!(["login", "billing"]));
    let login = row_of(&r["tags"], "tag", "login");
    assert_eq!(
        (
            login["created"].clone(),
            login["previous_created"].clone(),
            login["change"].clone(),
            login["growth_percent"].clone()
        ),
        (json!(3), json!(0), json!(3), Value::Null)
    );
    // t1 on the 2nd, t3 on the 5th, t7 on the 20th.
    let trend: Vec<i64> = login["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_i64().unwrap())
        .collect();
    assert_eq!((trend[1], trend[4], trend[19]), (1, 1, 1));
    assert_eq!(trend.iter().sum::<i64>(), 3);
    // Resolutions closed in March: t1 2 h, t3 1 h and 3 h.
    assert_eq!(login["resolution"]["count"], 3);
    assert_eq!(login["resolution"]["median_s"], 7200.0);
    assert_eq!(login["resolution"]["p90_s"], 10_080.0);
    assert_eq!(login["previous_resolution_median_s"], Value::Null);
    let billing = row_of(&r["tags"], "tag", "billing");
    assert_eq!(billing["created"], 2);
    assert_eq!(billing["previous_created"], 1);
    assert_eq!(billing["growth_percent"], 100.0);
    // t2 (3 h, 24 h pending left out); t11 is not closed.
    assert_eq!(billing["resolution"]["count"], 1);
    assert_eq!(billing["resolution"]["median_s"], 10_800.0);
    assert_eq!(billing["previous_resolution_median_s"], 10_800.0, "t9");
    let feedback = row_of(&r["tags"], "tag", "feedback");
    assert_eq!(
        (feedback["created"].clone(), feedback["change"].clone()),
        (json!(0), json!(-1))
    );
    assert_eq!(feedback["growth_percent"], -100.0);

    // Longer periods go by week (from Monday): February and March start in the week of
    // Monday 26 January.
    let (_, w) = get(
        &f,
        &f.lead_token,
        "/api/v1/analytics/tags?from=2026-02-01&to=2026-03-31&tz=UTC",
    )
    .await;
    assert_eq!(w["bucket"], "week");
    assert_eq!(w["buckets"][0], "2026-01-26");
    let billing = row_of(&w["tags"], "tag", "billing");
    let trend = billing["trend"].as_array().unwrap();
    let at = |monday: &str| {
        let i = w["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .position(|b| b == monday)
            .unwrap();
        trend[i].as_i64().unwrap()
    };
    assert_eq!(
        (at("2026-02-09"), at("2026-03-02"), at("2026-03-23")),
        (1, 1, 1)
    );

    // The page and the CSV in the table's grouping.
    let mut lead = Browser::signed_in(&f.db, "lead@example.com").await;
    let page = lead.get(&format!("/analytics/tags?{MARCH}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(r#"data-tag-created="login">3<"#),
        "{}",
        page.body
    );
    let csv = lead.get(&format!("/analytics/tags.csv?{MARCH}")).await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.body
            .contains("\r\nlogin,3,0,3,,1,3,7200,10080,7200,7200,10080,\r\n"),
        "{}",
        csv.body
    );
    let trend = lead.get(&format!("/analytics/tag-trend.csv?{MARCH}")).await;
    assert!(
        trend.body.starts_with("tag,date,created\r\n"),
        "{}",
        trend.body
    );
    assert!(trend.body.contains("\r\nlogin,2026-03-02,1\r\n"));
    f.db.drop_db().await;
}

#[tokio::test]
async fn mailboxes_teams_and_customers_break_the_overview_figures_down() {
    let f = fixture().await;
    let (status, m) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/mailboxes?{MARCH}"),
    )
    .await;
    assert_eq!(status, 200, "{m}");
    let names: Vec<&str> = m["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["billing@example.com", "support@example.com"]);
    let support = row_of(&m["mailboxes"], "name", "support@example.com");
    assert_eq!(support["id"], f.support);
    assert_eq!(
        (
            support["created"].clone(),
            support["closed"].clone(),
            support["resolved"].clone()
        ),
        (json!(6), json!(5), json!(4))
    );
    assert_eq!(support["first_response"]["median_s"], 3600.0);
    assert_eq!(support["resolution"]["median_s"], 9000.0);
    assert_eq!(
        support["sla"],
        json!({"achieved": 1, "breached": 1, "percent": 50.0})
    );
    assert_eq!(support["csat"]["responses"], 2);
    assert_eq!(support["csat"]["percent_satisfied"], 50.0);
    assert_eq!(support["previous"]["created"], 1);
    assert_eq!(support["previous"]["csat"]["sent"], 1);
    assert_eq!(
        support["previous"]["csat"]["responses"], 0,
        "t9's answer is March's"
    );
    let billing = row_of(&m["mailboxes"], "name", "billing@example.com");
    assert_eq!(billing["created"], 1);
    assert_eq!(billing["first_response"]["median_s"], 234_000.0);
    assert_eq!(billing["first_response"]["business"]["median_s"], 7200.0);
    assert_eq!(billing["sla"]["percent"], 100.0);

    let (_, t) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/teams?{MARCH}"),
    )
    .await;
    let names: Vec<&str> = t["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Everything", "Support", "No team"], "{t}");
    let team = row_of(&t["teams"], "name", "Support");
    assert_eq!(
        (
            team["created"].clone(),
            team["closed"].clone(),
            team["resolved"].clone()
        ),
        (json!(5), json!(5), json!(4))
    );
    assert_eq!(team["sla"]["percent"], 50.0);
    assert_eq!(team["csat"]["percent_satisfied"], 50.0);
    assert_eq!(team["previous"]["csat"]["percent_satisfied"], Value::Null);
    let everything = row_of(&t["teams"], "name", "Everything");
    assert_eq!(everything["created"], 1);
    assert_eq!(everything["first_response"]["median_s"], 234_000.0);
    let none = row_of(&t["teams"], "name", "No team");
    assert_eq!(
        (none["id"].clone(), none["created"].clone()),
        (Value::Null, json!(1))
    );

    let (_, c) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/customers?{MARCH}"),
    )
    .await;
    let names: Vec<&str> = c["lifecycle_stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "onboarding",
            "active",
            "renewal",
            "at risk",
            "churned",
            "No stage"
        ],
        "{c}"
    );
    // Ana's tickets take acme's stage; Bob's own stage wins over it.
    let renewal = row_of(&c["lifecycle_stages"], "name", "renewal");
    assert_eq!(
        (
            renewal["created"].clone(),
            renewal["closed"].clone(),
            renewal["resolved"].clone()
        ),
        (json!(2), json!(3), json!(3))
    );
    assert_eq!(renewal["first_response"]["median_s"], 2700.0);
    assert_eq!(renewal["resolution"]["median_s"], 7200.0);
    assert_eq!(renewal["csat"]["responses"], 2);
    assert_eq!(renewal["previous"]["created"], 1);
    assert_eq!(renewal["previous"]["csat"]["responses"], 0);
    let onboarding = row_of(&c["lifecycle_stages"], "name", "onboarding");
    assert_eq!(onboarding["created"], 1);
    assert_eq!(onboarding["resolution"]["median_s"], 10_800.0);
    assert_eq!(onboarding["sla"]["percent"], 0.0);
    assert_eq!(
        row_of(&c["lifecycle_stages"], "name", "at risk")["created"],
        1
    );
    assert_eq!(
        row_of(&c["lifecycle_stages"], "name", "active")["created"],
        0
    );
    let none = row_of(&c["lifecycle_stages"], "name", "No stage");
    assert_eq!(
        (
            none["created"].clone(),
            none["closed"].clone(),
            none["resolved"].clone()
        ),
        (json!(3), json!(1), json!(0))
    );
    // VIP: acme's (Ana: t1, t3) and Cy's own (t11); Bob is set to not VIP.
    let vip = row_of(&c["vip"], "name", "VIP");
    assert_eq!(
        (
            vip["id"].clone(),
            vip["created"].clone(),
            vip["resolved"].clone()
        ),
        (json!(1), json!(3), json!(3))
    );
    let not_vip = row_of(&c["vip"], "name", "Not VIP");
    assert_eq!(
        (
            not_vip["created"].clone(),
            not_vip["closed"].clone(),
            not_vip["resolved"].clone()
        ),
        (json!(4), json!(2), json!(1))
    );

    // The pages and their CSVs.
    let mut lead = Browser::signed_in(&f.db, "lead@example.com").await;
    let page = lead.get(&format!("/analytics/mailboxes?{MARCH}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(r#"data-created="support@example.com">6<"#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"data-created="No team">1<"#));
    let page = lead.get(&format!("/analytics/customers?{MARCH}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(r#"data-created="renewal">2<"#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"data-created="VIP">3<"#));
    let csv = lead.get(&format!("/analytics/customers.csv?{MARCH}")).await;
    assert!(
        csv.body
            .starts_with("group,id,name,created,previous_created,"),
        "{}",
        csv.body
    );
    assert!(csv.body.contains("\r\nvip,1,VIP,3,"), "{}", csv.body);
    let csv = lead.get(&format!("/analytics/teams.csv?{MARCH}")).await;
    assert!(
        csv.body.contains("\r\n,No team,1,0,0,0,0,0,"),
        "{}",
        csv.body
    );
    f.db.drop_db().await;
}

/// The analytics facts carry a copy of what reports filter and group by: their ticket's
/// mailbox, team, assignee, priority, customer, tags and excluded flag, and the customer's
/// effective lifecycle stage and VIP flag. The copies equal the sources after the whole fixture
/// and follow them when a ticket changes team, priority or tags, a company or customer changes
/// stage or VIP flag, and a ticket is marked spam; the reports follow too.
#[tokio::test]
async fn reports_follow_tickets_and_customers_that_change_and_every_fact_copies_them() {
    let f = fixture().await;
    let copies_differing = |db: &TestDb| {
        let pool = db.pool.clone();
        async move {
            let mut n = 0i64;
            for table in [
                "ticket_metric",
                "ticket_resolution",
                "sla_clock",
                "csat_survey",
            ] {
                // The customer's effective stage and VIP flag: their own, else their company's.
                let (rows, differing): (i64, i64) = sqlx::query_as(&format!(
                    "select count(*), count(*) filter (where (f.ticket_mailbox_id, f.ticket_team_id,
                         f.ticket_assignee_agent_id, f.ticket_priority, f.ticket_customer_id,
                         f.ticket_customer_stage_id, f.ticket_customer_vip)
                         is distinct from (t.mailbox_id, t.team_id, t.assignee_agent_id, t.priority,
                         t.customer_id, coalesce(c.lifecycle_stage_id, co.lifecycle_stage_id),
                         coalesce(c.vip, co.vip, false)))
                     from {table} f join ticket t on t.ticket_id = f.ticket_id
                     left join customer c on c.customer_id = t.customer_id
                     left join company co on co.company_id = c.company_id"
                ))
                .fetch_one(&pool)
                .await
                .unwrap();
                assert!(rows > 0, "the fixture has {table} rows");
                n += differing;
            }
            // Whether the metric row's ticket is active (not closed, not spam).
            let differing: i64 = sqlx::query_scalar(
                "select count(*) from ticket_metric m join ticket t on t.ticket_id = m.ticket_id
                 where m.ticket_active <> (not t.spam and t.status <> 'closed')",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            n += differing;
            // The excluded flag on the facts other than the metric row itself.
            for table in ["ticket_resolution", "sla_clock", "csat_survey"] {
                let differing: i64 = sqlx::query_scalar(&format!(
                    "select count(*) from {table} f join ticket_metric m on m.ticket_id = f.ticket_id
                     where f.ticket_excluded <> (m.excluded is not null)"
                ))
                .fetch_one(&pool)
                .await
                .unwrap();
                n += differing;
            }
            // The calendar on the resolution rows (the overview's calendar names).
            let differing: i64 = sqlx::query_scalar(
                "select count(*) from ticket_resolution r join ticket_metric m on m.ticket_id = r.ticket_id
                 where r.calendar is distinct from m.calendar",
            )
            .fetch_one(&pool)
            .await
            .unwrap();
            n += differing;
            // The tag ids on the metric and resolution rows (the tag reports' copy).
            for table in ["ticket_metric", "ticket_resolution"] {
                let differing: i64 = sqlx::query_scalar(&format!(
                    "select count(*) from {table} f
                     where f.ticket_tag_ids <> coalesce((select array_agg(tt.tag_id order by tt.tag_id)
                                                from ticket_tag tt where tt.ticket_id = f.ticket_id), '{{}}')"
                ))
                .fetch_one(&pool)
                .await
                .unwrap();
                n += differing;
            }
            n
        }
    };
    assert_eq!(copies_differing(&f.db).await, 0);
    let team_created = |t: &Value, name: &str| row_of(&t["teams"], "name", name)["created"].clone();
    let (_, before) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/teams?{MARCH}"),
    )
    .await;
    assert_eq!(
        (
            team_created(&before, "Support"),
            team_created(&before, "Everything")
        ),
        (json!(5), json!(1)),
        "{before}"
    );
    // t1 moves from Support to Everything (as the sidebar's team field or a rule does it).
    sqlx::query(
        "update ticket set team_id = (select team_id from team where name = 'Everything'),
                           priority = 'high'
         where ticket_id = $1",
    )
    .bind(f.t["t1"])
    .execute(&f.db.pool)
    .await
    .unwrap();
    assert_eq!(copies_differing(&f.db).await, 0);
    let (_, after) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/teams?{MARCH}"),
    )
    .await;
    assert_eq!(
        (
            team_created(&after, "Support"),
            team_created(&after, "Everything")
        ),
        (json!(4), json!(2)),
        "{after}"
    );
    let (_, high) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/summary?{MARCH}&priority=high"),
    )
    .await;
    assert_eq!(
        (high["created"].clone(), high["resolved"].clone()),
        (json!(1), json!(1)),
        "{high}"
    );
    // t1's tags change from login to billing and a new tag (as the sidebar replaces them):
    // the tag report moves its ticket and its two resolutions with them.
    let tag_figures = |t: &Value, name: &str| {
        let r = row_of(&t["tags"], "tag", name);
        (r["created"].clone(), r["resolution"]["count"].clone())
    };
    let (_, before) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/tags?{MARCH}"),
    )
    .await;
    assert_eq!(
        tag_figures(&before, "login"),
        (json!(3), json!(3)),
        "{before}"
    );
    assert_eq!(
        tag_figures(&before, "billing"),
        (json!(2), json!(1)),
        "{before}"
    );
    let (status, body) = api_json(
        &f.db,
        "PATCH",
        &format!("/api/v1/tickets/{}", f.t["t1"]),
        &f.lead_token,
        json!({"tags": ["billing", "upgrade"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(copies_differing(&f.db).await, 0);
    let (_, after) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/tags?{MARCH}"),
    )
    .await;
    assert_eq!(
        tag_figures(&after, "login"),
        (json!(2), json!(2)),
        "{after}"
    );
    assert_eq!(
        tag_figures(&after, "billing"),
        (json!(3), json!(2)),
        "{after}"
    );
    assert_eq!(
        tag_figures(&after, "upgrade"),
        (json!(1), json!(1)),
        "{after}"
    );
    // acme (Ana's company: renewal, VIP) becomes "at risk" and not VIP: Ana's March tickets
    // (t1, t3) move with it; Bob's own stage still wins over acme's.
    let stage_created = |c: &Value, name: &str| {
        c["lifecycle_stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .map_or(json!(0), |r| r["created"].clone())
    };
    let vip_created = |c: &Value| row_of(&c["vip"], "name", "VIP")["created"].clone();
    let customers = |q: &'static str| {
        let f = &f;
        async move {
            get(
                f,
                &f.lead_token,
                &format!("/api/v1/analytics/customers?{MARCH}{q}"),
            )
            .await
            .1
        }
    };
    let before = customers("").await;
    assert_eq!(
        (
            stage_created(&before, "renewal"),
            stage_created(&before, "at risk"),
            stage_created(&before, "onboarding"),
            vip_created(&before)
        ),
        (json!(2), json!(1), json!(1), json!(3)),
        "{before}"
    );
    sqlx::query(
        "update company set vip = false,
             lifecycle_stage_id = (select lifecycle_stage_id from lifecycle_stage where name = 'at risk')
         where domain = 'acme.example'",
    )
    .execute(&f.db.pool)
    .await
    .unwrap();
    assert_eq!(copies_differing(&f.db).await, 0);
    let after = customers("").await;
    assert_eq!(
        (
            stage_created(&after, "renewal"),
            stage_created(&after, "at risk"),
            stage_created(&after, "onboarding"),
            vip_created(&after)
        ),
        (json!(0), json!(3), json!(1), json!(1)),
        "{after}"
    );
    assert_eq!(
        customers("&lifecycle_stage=at%20risk").await["lifecycle_stages"][0]["created"],
        3
    );
    // Ana gets a stage of her own: it wins over her company's.
    sqlx::query(
        "update customer set lifecycle_stage_id =
             (select lifecycle_stage_id from lifecycle_stage where name = 'renewal')
         where email = 'ana@acme.example'",
    )
    .execute(&f.db.pool)
    .await
    .unwrap();
    assert_eq!(copies_differing(&f.db).await, 0);
    let mine = customers("").await;
    assert_eq!(
        (
            stage_created(&mine, "renewal"),
            stage_created(&mine, "at risk")
        ),
        (json!(2), json!(1)),
        "{mine}"
    );
    // t7 (unanswered) is closed, then t10 (unanswered) goes from open to pending: only the
    // close takes one off the unanswered tickets.
    let unanswered = || async {
        get(
            &f,
            &f.lead_token,
            &format!("/api/v1/analytics/summary?{MARCH}"),
        )
        .await
        .1["unanswered"]
            .clone()
    };
    assert_eq!(unanswered().await, 2);
    for (ticket, status) in [("t7", "closed"), ("t10", "pending")] {
        sqlx::query("update ticket set status = $2 where ticket_id = $1")
            .bind(f.t[ticket])
            .bind(status)
            .execute(&f.db.pool)
            .await
            .unwrap();
    }
    assert_eq!(copies_differing(&f.db).await, 0);
    assert_eq!(unanswered().await, 1);
    // t1 is marked spam: its close, its SLA clock (one, achieved) and its survey leave every
    // report with it.
    let (_, before) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/summary?{MARCH}"),
    )
    .await;
    event(
        &f.db,
        f.t["t1"],
        "2026-03-31T10:00:00Z",
        Actor::Agent(f.dana),
        TimelineEvent::MarkedSpam {},
    )
    .await;
    let mut conn = f.db.pool.acquire().await.unwrap();
    metrics::refresh(&mut conn, f.t["t1"]).await.unwrap();
    drop(conn);
    assert_eq!(copies_differing(&f.db).await, 0);
    let (_, after) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/summary?{MARCH}"),
    )
    .await;
    let figures = |s: &Value| {
        (
            s["resolved"].as_i64().unwrap(),
            s["csat"]["sent"].as_i64().unwrap(),
            s["sla"]["first_response"]["achieved"].as_i64().unwrap(),
        )
    };
    let (resolved, sent, achieved) = figures(&before);
    assert_eq!(
        figures(&after),
        (resolved - 1, sent - 1, achieved - 1),
        "{before} {after}"
    );
    f.db.drop_db().await;
}

#[tokio::test]
async fn lifecycle_stage_and_vip_filter_every_figure_with_the_usual_access_rules() {
    let f = fixture().await;
    let summary = |q: &'static str| {
        let f = &f;
        async move {
            get(
                f,
                &f.lead_token,
                &format!("/api/v1/analytics/summary?{MARCH}&{q}"),
            )
            .await
        }
    };
    assert_eq!(summary("lifecycle_stage=renewal").await.1["created"], 2);
    assert_eq!(summary("lifecycle_stage=at%20risk").await.1["created"], 1);
    assert_eq!(summary("vip=yes").await.1["created"], 3);
    assert_eq!(summary("vip=no").await.1["created"], 4);
    let (_, s) = summary("lifecycle_stage=renewal&vip=yes").await;
    assert_eq!(
        (s["created"].clone(), s["csat"]["responses"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(s["previous"]["created"], 1, "t9");
    let (status, e) = summary("lifecycle_stage=nope").await;
    assert_eq!(status, 400);
    assert!(
        e["error"].as_str().unwrap().starts_with("lifecycle_stage:"),
        "{e}"
    );
    let (status, e) = summary("vip=maybe").await;
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().starts_with("vip:"), "{e}");
    // The breakdowns take the filters too.
    let (_, t) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/tags?{MARCH}&vip=yes"),
    )
    .await;
    assert_eq!(row_of(&t["tags"], "tag", "login")["created"], 2);
    assert_eq!(row_of(&t["tags"], "tag", "billing")["created"], 1, "t11");
    let (_, c) = get(
        &f,
        &f.lead_token,
        &format!("/api/v1/analytics/customers?{MARCH}&lifecycle_stage=renewal"),
    )
    .await;
    let names: Vec<&str> = c["lifecycle_stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["renewal"]);

    // An agent's token: her own tickets (t1, t3, t7, t8), in the mailboxes she sees.
    for route in ["tags", "mailboxes", "teams", "customers"] {
        let (status, body) = get(
            &f,
            &f.dana_token,
            &format!("/api/v1/analytics/{route}?{MARCH}"),
        )
        .await;
        assert_eq!(status, 200, "{route}: {body}");
        let (status, _) = get(
            &f,
            &f.dana_token,
            &format!("/api/v1/analytics/{route}?{MARCH}&agent=lee@example.com"),
        )
        .await;
        assert_eq!(status, 403, "{route}");
        let (status, _) = get(&f, "nope", &format!("/api/v1/analytics/{route}")).await;
        assert_eq!(status, 401, "{route}");
    }
    let (_, m) = get(
        &f,
        &f.dana_token,
        &format!("/api/v1/analytics/mailboxes?{MARCH}"),
    )
    .await;
    let names: Vec<&str> = m["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["support@example.com"],
        "billing is out of her sight"
    );
    assert_eq!(m["mailboxes"][0]["created"], 4);
    let (_, t) = get(
        &f,
        &f.dana_token,
        &format!("/api/v1/analytics/tags?{MARCH}"),
    )
    .await;
    assert_eq!(row_of(&t["tags"], "tag", "login")["created"], 3);
    assert!(
        t["tags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["tag"] != "billing" || r["created"] == 0),
        "Lee's billing tickets are not hers: {t}"
    );
    // The page keeps the filter in its form and links.
    let mut lead = Browser::signed_in(&f.db, "lead@example.com").await;
    let page = lead
        .get(&format!("/analytics?{MARCH}&lifecycle_stage=renewal"))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"data-figure="created">2<"#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"<option value="renewal" selected>"#));
    f.db.drop_db().await;
}

#[tokio::test]
async fn report_connections_plan_each_call_for_its_own_parameters() {
    let db = TestDb::new().await;
    let reports = frontdesk::db::reports_pool(&db.pool, 4);
    // sqlx prepares a statement once per connection; after five calls PostgreSQL may keep a
    // generic plan, which was 3x slower for a two-year report. Reports never get one.
    for _ in 0..8 {
        let (mode, work_mem): (String, String) = sqlx::query_as(
            "select current_setting('plan_cache_mode'), current_setting('work_mem')
             where $1::bigint is null or $1 > 0",
        )
        .bind(None::<i64>)
        .fetch_one(&reports)
        .await
        .unwrap();
        assert_eq!(mode, "force_custom_plan");
        assert_eq!(work_mem, frontdesk::db::REPORT_WORK_MEM);
    }
    let main_mode: String = sqlx::query_scalar("select current_setting('plan_cache_mode')")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        main_mode, "auto",
        "the inbox's short queries keep cached plans"
    );
    reports.close().await;
    db.drop_db().await;
}

#[tokio::test]
async fn metric_rows_follow_their_tickets_sla_clocks_and_ratings() {
    let db = TestDb::new().await;
    let mailbox = offline_mailbox(&db.pool, "support@example.com", None).await;
    let ticket: i64 = sqlx::query_scalar(
        "insert into ticket (mailbox_id, subject) values ($1, 'Refund') returning ticket_id",
    )
    .bind(mailbox)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    // A clock started before the ticket's metric row exists (the single-event path): the row
    // takes the result when it is written.
    sqlx::query(
        "insert into sla_clock (ticket_id, kind, started_at) values ($1, 'first_response', now())",
    )
    .bind(ticket)
    .execute(&db.pool)
    .await
    .unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    frontdesk::analytics::metrics::on_created(&mut conn, &[(ticket, None)])
        .await
        .unwrap();
    type Copies = (Option<String>, Option<String>, Option<String>);
    let copies = |pool: sqlx::PgPool| async move {
        sqlx::query_as::<_, Copies>(
            "select sla_first_response, sla_resolution, csat from ticket_metric where ticket_id = $1",
        )
        .bind(ticket)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let run = |sql: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query(sql).bind(ticket).execute(&pool).await.unwrap();
        }
    };
    assert_eq!(
        copies(db.pool.clone()).await,
        (Some("running".into()), None, None)
    );
    run("insert into sla_clock (ticket_id, kind, started_at) values ($1, 'resolution', now())")
        .await;
    run("update sla_clock set achieved_at = now(), stopped_at = now() where ticket_id = $1 and kind = 'first_response'").await;
    assert_eq!(
        copies(db.pool.clone()).await,
        (Some("achieved".into()), Some("running".into()), None)
    );
    // A later cycle that breaches outranks the achieved one; dropping it brings that back.
    run("insert into sla_clock (ticket_id, kind, cycle, started_at, breached_at) values ($1, 'first_response', 2, now(), now())").await;
    assert_eq!(copies(db.pool.clone()).await.0.as_deref(), Some("breached"));
    run("delete from sla_clock where ticket_id = $1 and kind = 'first_response' and cycle = 2")
        .await;
    assert_eq!(copies(db.pool.clone()).await.0.as_deref(), Some("achieved"));
    // Next-response clocks are not a column of the export.
    run("insert into sla_clock (ticket_id, kind, started_at, breached_at) values ($1, 'next_response', now(), now())").await;
    assert_eq!(
        copies(db.pool.clone()).await,
        (Some("achieved".into()), Some("running".into()), None)
    );
    // Surveys: sent, then rated, then rated again; the latest rating shows.
    run("insert into csat_survey (ticket_id, resolution, mailbox_id, state, sent_at, token_sha256) select ticket_id, 1, mailbox_id, 'sent', now(), '\\x01' from ticket where ticket_id = $1").await;
    assert_eq!(copies(db.pool.clone()).await.2, None);
    run("update csat_survey set rating = 'bad', rated_at = now() - interval '1 hour' where ticket_id = $1").await;
    assert_eq!(copies(db.pool.clone()).await.2.as_deref(), Some("bad"));
    run("insert into csat_survey (ticket_id, resolution, mailbox_id, state, sent_at, token_sha256, rating, rated_at) select ticket_id, 2, mailbox_id, 'sent', now(), '\\x02', 'good', now() from ticket where ticket_id = $1").await;
    assert_eq!(copies(db.pool.clone()).await.2.as_deref(), Some("good"));
    run("delete from csat_survey where ticket_id = $1 and resolution = 2").await;
    assert_eq!(copies(db.pool.clone()).await.2.as_deref(), Some("bad"));
    // The set-based fill (migration and seeder) agrees with the triggers.
    run("update ticket_metric set sla_first_response = null, sla_resolution = null, csat = null where ticket_id = $1").await;
    sqlx::query("select ticket_metric_fill_results()")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        copies(db.pool.clone()).await,
        (
            Some("achieved".into()),
            Some("running".into()),
            Some("bad".into())
        )
    );
    drop(conn);
    db.drop_db().await;
}
