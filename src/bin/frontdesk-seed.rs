//! The benchmark seeder: fills an empty database with generated, realistic helpdesk data for
//! benchmarks (`scripts/bench-web`, `scripts/bench-presence`): customers, mailboxes, agents in
//! teams, tags, tickets over two years, their messages and notes. A binary of its own, not part
//! of the server or its library:
//!
//! ```sh
//! DATABASE_URL=postgres://... cargo run --release --bin frontdesk-seed -- --tickets 1000000
//! ```
//!
//! It migrates the database, then prints what it loaded, how fast, and the lines the
//! benchmark scripts read (`admin-email:`, `admin-password:`, `search-common:`,
//! `search-rare:`, `search-cjk:`). Without `DATABASE_URL` it uses the embedded cluster under
//! `FRONTDESK_DATA_DIR`, which must exist already (`frontdesk migrate` creates it).
//!
//! Speed comes from PostgreSQL `COPY` in one transaction on freshly truncated tables
//! (`COPY ... FREEZE`: no hint-bit rewrite afterwards, and the closing vacuum finds the pages
//! already frozen), with the secondary indexes
//! of the loaded tables dropped before and rebuilt after (a sorted build is many times faster
//! than a million random inserts; DDL is transactional, so a failed seed leaves them as they
//! were). One thread generates the rows while the server parses them.
//!
//! Everything is a pure function of `(--seed, ticket number)`: the ticket pass and the message
//! pass regenerate the same plan, so nothing is held in memory.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sqlx::{Connection, PgPool};

use clap::Parser;
use frontdesk::db::copy as bin;
use frontdesk::{auth, config::Config, db};

/// Fill an empty database with generated tickets for benchmarks (PostgreSQL COPY).
#[derive(Parser, Debug)]
#[command(name = "frontdesk-seed")]
struct Args {
    #[arg(long)]
    tickets: u64,
    /// Average emails per ticket (internal notes come on top).
    #[arg(long, default_value_t = 3)]
    messages_per_ticket: u32,
    #[arg(long, default_value_t = 3)]
    mailboxes: u32,
    /// Agents with role agent (an admin is added).
    #[arg(long, default_value_t = 20)]
    agents: u32,
    /// Generator seed: the same seed gives the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[tokio::main]
async fn main() {
    frontdesk::telemetry::init();
    let args = Args::parse();
    let result = async {
        let config = Config::from_env()?;
        let mut database = db::connect(&config.db, false).await?;
        db::migrate(&database.pool).await?;
        let opts = SeedOptions {
            tickets: args.tickets,
            messages_per_ticket: args.messages_per_ticket,
            mailboxes: args.mailboxes,
            agents: args.agents,
            seed: args.seed,
        };
        let report = run(&database.pool, &opts).await;
        database.pool.close().await;
        if let Some(pg) = database.embedded.as_mut() {
            pg.stop();
        }
        anyhow::Ok(report?)
    }
    .await;
    match result {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub tickets: u64,
    /// Average messages per ticket (notes not counted), at least 1.
    pub messages_per_ticket: u32,
    pub mailboxes: u32,
    /// Agents with role `agent`; one admin is added.
    pub agents: u32,
    /// Seed of the generator: the same seed gives the same data.
    pub seed: u64,
}

/// What was generated, and how fast.
#[derive(Debug)]
pub struct SeedReport {
    pub admin_email: String,
    pub password: String,
    /// `(table, rows, copy time)`, in load order.
    pub tables: Vec<(&'static str, u64, Duration)>,
    pub index_time: Duration,
    /// Filling `message.search` with `message_search_vector_in` (the indexer's vectors).
    pub vector_time: Duration,
    pub total_time: Duration,
    /// A frequent and a rare word of the message bodies, for search benchmarks.
    pub common_word: &'static str,
    pub rare_word: String,
    pub search_vectors: bool,
}

impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rows = 0;
        let mut copy = Duration::ZERO;
        for (table, n, t) in &self.tables {
            rows += n;
            copy += *t;
            writeln!(
                f,
                "copy {table}: {n} rows in {:.1} s = {:.0} rows/s",
                t.as_secs_f64(),
                *n as f64 / t.as_secs_f64().max(1e-9)
            )?;
        }
        writeln!(
            f,
            "copy total: {rows} rows in {:.1} s = {:.0} rows/s; indexes rebuilt in {:.1} s",
            copy.as_secs_f64(),
            rows as f64 / copy.as_secs_f64().max(1e-9),
            self.index_time.as_secs_f64()
        )?;
        writeln!(
            f,
            "seeded in {:.1} s = {:.0} rows/s overall{}",
            self.total_time.as_secs_f64(),
            rows as f64 / self.total_time.as_secs_f64().max(1e-9),
            if self.search_vectors {
                " (search vectors included)"
            } else {
                ""
            }
        )?;
        if self.search_vectors {
            writeln!(
                f,
                "search vectors (message_search_vector_in) in {:.1} s",
                self.vector_time.as_secs_f64()
            )?;
        }
        writeln!(f, "admin-email: {}", self.admin_email)?;
        writeln!(f, "admin-password: {}", self.password)?;
        writeln!(
            f,
            "agents: agent1@example.com .. (role agent, same password)"
        )?;
        writeln!(f, "search-common: {}", self.common_word)?;
        writeln!(f, "search-rare: {}", self.rare_word)?;
        write!(f, "search-cjk: {CJK_FRAGMENT}")
    }
}

/// Fills the database. Refuses unless it has no tickets and no customers yet (the loaded
/// tables are truncated, which `COPY FREEZE` requires).
pub async fn run(pool: &PgPool, opts: &SeedOptions) -> anyhow::Result<SeedReport> {
    if opts.tickets == 0 || opts.messages_per_ticket == 0 || opts.mailboxes == 0 || opts.agents == 0
    {
        bail!("--tickets, --messages-per-ticket, --mailboxes and --agents must be at least 1");
    }
    let started = Instant::now();
    let (has_data,): (bool,) =
        sqlx::query_as("select exists (select 1 from ticket) or exists (select 1 from customer)")
            .fetch_one(pool)
            .await?;
    if has_data {
        bail!("seed fills an empty database only: this one already has tickets or customers");
    }
    let password = auth::random_secret()[..20].to_string();
    let pw = password.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&pw)).await??;

    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("set local synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    sqlx::query("set local maintenance_work_mem = '1GB'")
        .execute(&mut *tx)
        .await?;

    // Mailboxes (disabled: nothing to poll), agents, teams, tags: a few rows each.
    let mut mailboxes = Vec::new();
    for i in 0..opts.mailboxes as usize {
        let (name, local) = MAILBOXES
            .get(i)
            .map(|(n, l)| (n.to_string(), l.to_string()))
            .unwrap_or_else(|| (format!("Queue {}", i + 1), format!("queue{}", i + 1)));
        let address = format!("{local}@example.com");
        let id: i64 = sqlx::query_scalar(
            "insert into mailbox (name, address, imap_url, enabled) values ($1, $2, 'imap://seed:seed@127.0.0.1:9/INBOX', false)
             on conflict (lower(address)) do update set name = excluded.name returning mailbox_id",
        )
        .bind(&name)
        .bind(&address)
        .fetch_one(&mut *tx)
        .await?;
        let words = name.split(' ').map(str::to_lowercase).collect();
        mailboxes.push(Mailbox {
            id,
            name,
            address,
            words,
        });
    }
    let admin_email = "bench-admin@example.com".to_string();
    let upsert_agent =
        "insert into agent (email, name, role, password_hash) values ($1, $2, $3, $4)
         on conflict (lower(email)) do update set name = excluded.name, role = excluded.role,
             password_hash = excluded.password_hash
         returning agent_id";
    let admin_id: i64 = sqlx::query_scalar(upsert_agent)
        .bind(&admin_email)
        .bind("Bench Admin")
        .bind("admin")
        .bind(&hash)
        .fetch_one(&mut *tx)
        .await?;
    let mut agents = vec![Person::new(admin_id, "Bench", "Admin", admin_email.clone())];
    let mut team_ids = Vec::new();
    for mb in &mailboxes {
        let id: i64 = sqlx::query_scalar(
            "insert into team (name) values ($1) on conflict (name) do update set name = excluded.name returning team_id",
        )
        .bind(format!("{} team", mb.name))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "insert into team_mailbox (team_id, mailbox_id) values ($1, $2) on conflict do nothing",
        )
        .bind(id)
        .bind(mb.id)
        .execute(&mut *tx)
        .await?;
        team_ids.push(id);
    }
    // Who may work which mailbox: agent i is in team i, every third also in team i + 1.
    let nmb = mailboxes.len();
    let mut workers: Vec<Vec<usize>> = vec![vec![0]; nmb]; // index 0: the admin sees all
    for i in 0..opts.agents as usize {
        let first = FIRST_NAMES[(i * 7 + 3) % FIRST_NAMES.len()];
        let last = LAST_NAMES[(i * 11 + 5) % LAST_NAMES.len()];
        let email = format!("agent{}@example.com", i + 1);
        let id: i64 = sqlx::query_scalar(upsert_agent)
            .bind(&email)
            .bind(format!("{first} {last}"))
            .bind("agent")
            .bind(&hash)
            .fetch_one(&mut *tx)
            .await?;
        agents.push(Person::new(id, first, last, email));
        let mut teams = vec![i % nmb];
        if i % 3 == 0 && nmb > 1 {
            teams.push((i + 1) % nmb);
        }
        for t in teams {
            sqlx::query("insert into team_member (team_id, agent_id) values ($1, $2) on conflict do nothing")
                .bind(team_ids[t])
                .bind(id)
                .execute(&mut *tx)
                .await?;
            workers[t].push(agents.len() - 1);
        }
    }
    let mut tags = Vec::new();
    for name in TAGS {
        let id: i64 = sqlx::query_scalar(
            "insert into tag (name) values ($1) on conflict (lower(name)) do update set name = excluded.name returning tag_id",
        )
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        tags.push(id);
    }

    // The search vector column (search::index_pending) is filled here when it exists, so that
    // the seeded database is fully searchable at once instead of after the indexer's hours.
    // With `message.search_config` (migration 20261206040000) the vectors are built in each
    // mailbox's search language, as the indexer builds them.
    let (search_vectors, search_languages): (bool, bool) = sqlx::query_as(
        "select exists (select 1 from information_schema.columns
                        where table_schema = current_schema() and table_name = 'message' and column_name = 'search'),
                exists (select 1 from information_schema.columns
                        where table_schema = current_schema() and table_name = 'message' and column_name = 'search_config')",
    )
    .fetch_one(&mut *tx)
    .await?;

    // Empty already (checked above); truncating lets COPY FREEZE write frozen, all-visible rows.
    sqlx::query("truncate customer, ticket, ticket_tag, ticket_participant, message cascade")
        .execute(&mut *tx)
        .await?;
    // The inbox counters' triggers would do one upsert per row: they are off during the load
    // and the counters are recomputed once at the end (rebuild_inbox_counts).
    for table in ["ticket", "ticket_tag"] {
        sqlx::query(&format!("alter table {table} disable trigger user"))
            .execute(&mut *tx)
            .await?;
    }
    // Foreign keys are skipped when allowed (superuser) and no user trigger would be skipped
    // with them: the generated rows are consistent by construction.
    let (superuser, user_triggers): (bool, i64) = sqlx::query_as(
        "select (select rolsuper from pg_roles where rolname = current_user),
                (select count(*) from pg_trigger where not tgisinternal and tgenabled <> 'D'
                   and tgrelid in ('customer'::regclass, 'ticket'::regclass, 'ticket_tag'::regclass,
                                   'ticket_participant'::regclass, 'message'::regclass))",
    )
    .fetch_one(&mut *tx)
    .await?;
    if superuser && user_triggers == 0 {
        sqlx::query("set local session_replication_role = replica")
            .execute(&mut *tx)
            .await?;
    }
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
         from pg_index i join pg_class c on c.oid = i.indrelid
         where c.relnamespace = current_schema()::regnamespace
           and c.relname in ('customer', 'ticket', 'ticket_tag', 'ticket_participant', 'message')
           and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)",
    )
    .fetch_all(&mut *tx)
    .await?;
    for (name, _) in &indexes {
        sqlx::query(&format!("drop index {name}"))
            .execute(&mut *tx)
            .await?;
    }

    let world = World::new(opts, mailboxes, agents, workers, tags);
    let common_word = COMMON_WORD;
    let rare_word = world.vocab.words[world.vocab.words.len() - 1].clone();
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Option<Vec<u8>>>(16);
    let generator = std::thread::spawn(move || world.generate(&sender));

    let message_columns = String::from(
        "message_id, ticket_id, direction, from_email, from_name, to_addrs, cc_addrs, subject, text_body,
         header_message_id, in_reply_to, \"references\", created_at, delivery_state, author_agent_id",
    );
    let copies = [
        ("customer", "customer_id, email, name, created_at".to_string()),
        (
            "ticket",
            "ticket_id, mailbox_id, subject, status, priority, customer_id, assignee_agent_id, created_at,
             last_message_at, message_count, spam, snippet, snoozed_until"
                .to_string(),
        ),
        ("ticket_tag", "ticket_id, tag_id, last_message_at".to_string()),
        ("ticket_participant", "ticket_id, email, name, role".to_string()),
        ("message", message_columns),
    ];
    let mut tables = Vec::new();
    for (table, columns) in copies {
        let t0 = Instant::now();
        let mut copy = tx
            .copy_in_raw(&format!(
                "copy {table} ({columns}) from stdin with (freeze{})",
                if table == "message" {
                    ", format binary"
                } else {
                    ""
                }
            ))
            .await
            .with_context(|| format!("copy {table}"))?;
        let mut failed = None;
        loop {
            match receiver.recv().await {
                Some(Some(chunk)) => {
                    if let Err(e) = copy.send(chunk).await {
                        failed = Some(e);
                        break;
                    }
                }
                Some(None) => break,
                None => {
                    copy.abort("generator stopped").await.ok();
                    bail!("the row generator stopped early");
                }
            }
        }
        if let Some(e) = failed {
            copy.abort("send failed").await.ok();
            return Err(e).with_context(|| format!("copy {table}"));
        }
        let rows = copy
            .finish()
            .await
            .with_context(|| format!("copy {table}"))?;
        tables.push((table, rows, t0.elapsed()));
    }
    generator
        .join()
        .map_err(|_| anyhow::anyhow!("the row generator panicked"))?;

    // In one pass, before the indexes come back so that no index is updated row by row: the
    // receipt time is the generated Date (there is no IMAP INTERNALDATE), and the search vectors
    // by the indexer's own definition (search::index_pending: message_search_vector_in with the
    // mailbox's configuration, migration 20261206040000; before it, message_search_vector of
    // migration 20261203000010). ~0.1 ms a message on one core (simple configuration).
    let t0 = Instant::now();
    let statement = if search_languages {
        "update message m set received_at = m.created_at,
            search = message_search_vector_in(c.cfg, m.subject, m.from_email, m.from_name, m.text_body, null),
            search_config = c.cfg
         from (select t.ticket_id, ('frontdesk_' || b.search_language)::regconfig as cfg
               from ticket t join mailbox b on b.mailbox_id = t.mailbox_id) c
         where c.ticket_id = m.ticket_id"
    } else if search_vectors {
        "update message set received_at = created_at,
            search = message_search_vector(subject, from_email, from_name, text_body)"
    } else {
        "update message set received_at = created_at"
    };
    sqlx::query(statement)
        .execute(&mut *tx)
        .await
        .context("filling message.received_at and message.search")?;
    let vector_time = t0.elapsed();
    let t0 = Instant::now();
    for (name, def) in &indexes {
        sqlx::query(def)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("rebuilding index {name}"))?;
    }
    let index_time = t0.elapsed();
    for table in ["ticket", "ticket_tag"] {
        sqlx::query(&format!("alter table {table} enable trigger user"))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("select rebuild_inbox_counts()")
        .execute(&mut *tx)
        .await?;
    for (table, column) in [
        ("customer", "customer_id"),
        ("ticket", "ticket_id"),
        ("message", "message_id"),
    ] {
        sqlx::query(&format!(
            "select setval(pg_get_serial_sequence('{table}', '{column}'), (select max({column}) from {table}))"
        ))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let t0 = Instant::now();
    let analytics_rows = seed_analytics(&mut conn).await?;
    tables.push((
        "analytics (events, metrics, SLA clocks)",
        analytics_rows,
        t0.elapsed(),
    ));
    lay_out_facts_as_written(&mut conn).await?;
    // VACUUM as well as ANALYZE: millions of inserted rows would otherwise trigger
    // autovacuum's insert-driven vacuum of the big tables minutes later, in the middle of a
    // benchmark; a real database of this size has long been vacuumed.
    sqlx::query(
        "vacuum (analyze) customer, ticket, ticket_tag, ticket_participant, message, tag, agent, mailbox,
         ticket_event, ticket_metric, ticket_resolution, sla_clock, csat_survey, company",
    )
    .execute(&mut *conn)
    .await?;
    Ok(SeedReport {
        admin_email,
        password,
        tables,
        index_time,
        vector_time,
        total_time: started.elapsed(),
        common_word,
        rare_word,
        search_vectors,
    })
}

/// Rewrites the analytics facts in the order a live server writes them. The seed fills them
/// set-based, a kind of event at a time, and then updates every metric row twice; that leaves
/// the facts of one week spread over the whole table (`ticket_metric`'s order matched its key
/// with a correlation of 0.21, `ticket_event`'s its time with 0.005), twice its size, and
/// each report then reads most of a table for a few days of facts. A live server appends
/// events as they happen, writes a ticket's metric row and clocks when the ticket is created
/// and updates them while it is young (near the table's end; fillfactor 80 keeps most
/// updates on their page), and writes a resolution at each close: `CLUSTER` puts each table
/// in that order. 22 s at a million tickets.
async fn lay_out_facts_as_written(conn: &mut sqlx::PgConnection) -> anyhow::Result<()> {
    let t0 = Instant::now();
    for sql in [
        "cluster ticket_metric using ticket_metric_pkey",
        "cluster sla_clock using sla_clock_pkey",
        "cluster ticket_resolution using ticket_resolution_closed_idx",
        "cluster csat_survey using csat_survey_ticket_id_resolution_key",
        "create index seed_ticket_event_created_idx on ticket_event (created_at)",
        "cluster ticket_event using seed_ticket_event_created_idx",
        "drop index seed_ticket_event_created_idx",
    ] {
        sqlx::query(sql)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("laying out the analytics facts: {sql}"))?;
    }
    tracing::info!(
        secs = t0.elapsed().as_secs_f64(),
        "analytics facts laid out in the order a live server writes them"
    );
    Ok(())
}

/// The analytics history of the seeded tickets, set-based in SQL from their messages (the
/// timeline hook does not run on COPY): `created`, `assigned` and `reply_queued` events (each
/// outbound message is a person's reply), a close 30 minutes after the last message of every
/// closed ticket, and for one closed ticket in twelve an earlier close and a reopen; the
/// per-ticket values (`ticket_metric`, `ticket_resolution`) as the hook would store them on the
/// 24/7 calendar (no pending time in the seed); and SLA clocks (first response within 4 hours,
/// resolution within 3 days: achieved, else breached at the due instant); a CSAT survey sent
/// at each close after a reply, two in five answered (70 % good, 15 % okay, 15 % bad) within
/// two days; and a lifecycle stage on one customer in three (one in 120 VIP). Returns the rows
/// written.
async fn seed_analytics(conn: &mut sqlx::PgConnection) -> anyhow::Result<u64> {
    let mut tx = conn.begin().await?;
    sqlx::query("set local synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    let steps: [(&str, &str); 18] = [
        // First, so that the analytics facts below copy each customer's stage and VIP flag
        // as they are inserted (instead of a trigger rewriting them per customer afterwards).
        (
            "customer stages and VIP",
            "update customer c set lifecycle_stage_id = s.lifecycle_stage_id,
                 vip = case when c.customer_id % 120 = 0 then true end
             from (select lifecycle_stage_id, row_number() over (order by position) - 1 as k
                   from lifecycle_stage) s
             where c.customer_id % 3 = 0 and s.k = (c.customer_id / 3) % 5",
        ),
        (
            "created events",
            "insert into ticket_event (ticket_id, kind, detail, actor_kind, created_at)
             select ticket_id, 'created', '{\"via\": \"email\", \"automated\": null}'::jsonb, 'customer', created_at
             from ticket",
        ),
        (
            "assigned events",
            "insert into ticket_event (ticket_id, kind, detail, actor_kind, agent_id, created_at)
             select ticket_id, 'assigned', jsonb_build_object('from', null, 'to', assignee_agent_id), 'agent',
                    assignee_agent_id, created_at + interval '1 minute'
             from ticket where assignee_agent_id is not null",
        ),
        (
            "reply events",
            "insert into ticket_event (ticket_id, kind, detail, actor_kind, agent_id, created_at)
             select ticket_id, 'reply_queued', jsonb_build_object('message_id', message_id), 'agent',
                    author_agent_id, created_at
             from message where direction = 'outbound' and author_agent_id is not null",
        ),
        (
            "closes (temporary)",
            "create temporary table seed_close on commit drop as
             select t.ticket_id, 1 as seq, t.created_at + (t.last_message_at - t.created_at) / 3 as closed_at,
                    t.created_at + (t.last_message_at - t.created_at) / 2 as reopened_at, t.assignee_agent_id as agent_id
             from ticket t where t.status = 'closed' and t.ticket_id % 12 = 0 and t.last_message_at > t.created_at
             union all
             select t.ticket_id, case when t.ticket_id % 12 = 0 and t.last_message_at > t.created_at then 2 else 1 end,
                    t.last_message_at + interval '30 minutes', null, t.assignee_agent_id
             from ticket t where t.status = 'closed'",
        ),
        // Without an index and statistics, the resolutions' look-up of a ticket's earlier close
        // scans the whole temporary table per close: quadratic, over ten minutes at 1M tickets.
        (
            "closes index",
            "create index on seed_close (ticket_id, seq)",
        ),
        ("closes statistics", "analyze seed_close"),
        (
            "status events",
            "insert into ticket_event (ticket_id, kind, detail, actor_kind, agent_id, created_at)
             select ticket_id, 'status_changed', '{\"from\": \"open\", \"to\": \"closed\"}'::jsonb,
                    case when agent_id is null then 'system' else 'agent' end, agent_id, closed_at
             from seed_close
             union all
             select ticket_id, 'status_changed', '{\"from\": \"closed\", \"to\": \"open\", \"reason\": \"customer_reply\"}'::jsonb,
                    'customer', null, reopened_at
             from seed_close where reopened_at is not null",
        ),
        (
            "resolutions",
            "insert into ticket_resolution (ticket_id, seq, closed_at, agent_id, replied, resolution_s,
                 resolution_business_s, reopened_at, calendar)
             select c.ticket_id, c.seq, c.closed_at, c.agent_id,
                    exists (select 1 from message m where m.ticket_id = c.ticket_id and m.direction = 'outbound'
                            and m.author_agent_id is not null and m.created_at < c.closed_at),
                    s.secs, s.secs, c.reopened_at, '24/7'
             from seed_close c join ticket t on t.ticket_id = c.ticket_id
             cross join lateral (select extract(epoch from c.closed_at - t.created_at)::float8
                 - coalesce((select extract(epoch from p.reopened_at - p.closed_at)::float8 from seed_close p
                             where p.ticket_id = c.ticket_id and p.seq < c.seq), 0) as secs) s",
        ),
        (
            "metrics",
            "insert into ticket_metric (ticket_id, created_at, calendar, first_response_at, first_response_s,
                 first_response_business_s, first_response_agent_id, replies, reopened)
             select t.ticket_id, t.created_at, '24/7', f.created_at, f.secs, f.secs, f.author_agent_id,
                    coalesce(r.n, 0), case when t.status = 'closed' and t.ticket_id % 12 = 0
                                            and t.last_message_at > t.created_at then 1 else 0 end
             from ticket t
             left join lateral (select m.created_at, m.author_agent_id,
                                       greatest(extract(epoch from m.created_at - t.created_at)::float8, 0) as secs
                                from message m where m.ticket_id = t.ticket_id and m.direction = 'outbound'
                                  and m.author_agent_id is not null
                                order by m.created_at limit 1) f on true
             left join lateral (select count(*) as n from message m where m.ticket_id = t.ticket_id
                                and m.direction = 'outbound' and m.author_agent_id is not null) r on true",
        ),
        (
            "metric resolutions",
            "update ticket_metric m set
                 first_resolved_at = f.closed_at, first_resolution_s = f.resolution_s,
                 first_resolution_business_s = f.resolution_s,
                 resolved_at = l.closed_at, resolution_s = l.resolution_s, resolution_business_s = l.resolution_s
             from (select distinct on (ticket_id) ticket_id, closed_at, resolution_s from ticket_resolution
                   where replied order by ticket_id, seq) f
             left join (select distinct on (ticket_id) ticket_id, closed_at, resolution_s from ticket_resolution
                        where replied and reopened_at is null order by ticket_id, seq desc) l
                    on l.ticket_id = f.ticket_id
             where m.ticket_id = f.ticket_id",
        ),
        // The metric rows' SLA results and ratings are set once at the end, set-based, not by
        // the per-row triggers (migration 20261211000000) for two million rows.
        (
            "clock trigger off",
            "alter table sla_clock disable trigger sla_clock_results_to_ticket_metric_insert",
        ),
        (
            "rating trigger off",
            "alter table csat_survey disable trigger csat_rating_to_ticket_metric_insert",
        ),
        (
            "SLA clocks",
            "insert into sla_clock (ticket_id, kind, started_at, due_at, achieved_at, breached_at, stopped_at)
             select m.ticket_id, 'first_response', m.created_at, m.created_at + interval '4 hours',
                    case when m.first_response_s <= 14400 then m.first_response_at end,
                    case when m.first_response_s > 14400 then m.created_at + interval '4 hours' end,
                    m.first_response_at
             from ticket_metric m where m.first_response_at is not null
             union all
             select m.ticket_id, 'resolution', m.created_at, m.created_at + interval '3 days',
                    case when m.resolution_s <= 259200 then m.resolved_at end,
                    case when m.resolution_s > 259200 then m.created_at + interval '3 days' end,
                    m.resolved_at
             from ticket_metric m where m.resolved_at is not null",
        ),
        (
            "CSAT surveys",
            "insert into csat_survey (ticket_id, resolution, mailbox_id, agent_id, state, send_at, sent_at,
                 token_sha256, expires_at, rating, comment, rated_at, created_at)
             select r.ticket_id, r.seq, t.mailbox_id, r.agent_id, 'sent', r.closed_at, r.closed_at,
                    sha256(convert_to('seed ' || r.ticket_id || ' ' || r.seq, 'UTF8')),
                    r.closed_at + interval '28 days', a.rating,
                    case when a.rating = 'bad' then 'Took too long to get an answer' end,
                    case when a.rating is not null then r.closed_at + (r.ticket_id % 47 + 1) * interval '1 hour' end,
                    r.closed_at
             from ticket_resolution r join ticket t on t.ticket_id = r.ticket_id
             cross join lateral (select case when r.ticket_id % 5 >= 2 then null
                                             when (r.ticket_id / 5) % 20 < 14 then 'good'
                                             when (r.ticket_id / 5) % 20 < 17 then 'okay'
                                             else 'bad' end as rating) a
             where r.replied",
        ),
        (
            "metric SLA results and ratings",
            "select ticket_metric_fill_results()",
        ),
        (
            "clock trigger on",
            "alter table sla_clock enable trigger sla_clock_results_to_ticket_metric_insert",
        ),
        (
            "rating trigger on",
            "alter table csat_survey enable trigger csat_rating_to_ticket_metric_insert",
        ),
    ];
    let mut rows = 0;
    for (what, sql) in steps {
        let t0 = Instant::now();
        let n = sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("seeding analytics: {what}"))?
            .rows_affected();
        tracing::info!(
            step = what,
            rows = n,
            secs = t0.elapsed().as_secs_f64(),
            "analytics history"
        );
        rows += n;
    }
    tx.commit().await?;
    Ok(rows)
}

/// Sentences in Japanese and Chinese, one of which ends the first mail of one ticket in 250.
const CJK_SENTENCES: [&str; 8] = [
    "請求書の再発行をお願いします。",
    "ログインできません。パスワードを再設定したいです。",
    "注文した商品がまだ届いていません。",
    "領収書を送ってください。",
    "アカウントを削除したいです。",
    "我无法登录我的账户。",
    "请尽快退款。",
    "发票地址需要更改。",
];

/// A fragment inside one of [`CJK_SENTENCES`] (not a word on its own), for the CJK search
/// benchmark: found only through the bigram index.
const CJK_FRAGMENT: &str = "再発行";

struct Mailbox {
    id: i64,
    name: String,
    address: String,
    /// Lower-cased name words, for signatures.
    words: Vec<String>,
}

struct Person {
    id: i64,
    name: String,
    /// Lower-cased name words, for signatures.
    words: Vec<String>,
    email: String,
}

impl Person {
    fn new(id: i64, first: &'static str, last: &'static str, email: String) -> Person {
        Person {
            id,
            name: format!("{first} {last}"),
            words: vec![first.to_lowercase(), last.to_lowercase()],
            email,
        }
    }
}

/// The frequent word reported for search benchmarks (rank 33: in about half the messages).
const COMMON_WORD: &str = "account";
/// Buffer size handed to COPY.
const CHUNK: usize = 1 << 20;
/// Oldest activity: two years back.
const SPAN_SECS: i64 = 730 * 86_400;

/// Everything the generator needs, shared by both passes.
struct World {
    opts: SeedOptions,
    now: i64,
    mailboxes: Vec<Mailbox>,
    agents: Vec<Person>,
    /// Per mailbox, indexes into `agents` of who works it.
    workers: Vec<Vec<usize>>,
    tags: Vec<i64>,
    customers: u64,
    vocab: Vocab,
    first_lower: Vec<String>,
    last_lower: Vec<String>,
}

/// One ticket's shape: a pure function of its number.
struct Plan {
    mailbox: usize,
    customer: u64,
    created: i64,
    subject: String,
    /// `(direction, at, agent index)`.
    messages: Vec<(Direction, i64, usize)>,
    assignee: Option<usize>,
    status: &'static str,
    priority: &'static str,
    spam: bool,
    snoozed_until: Option<i64>,
    tags: Vec<i64>,
    cc: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Inbound,
    Outbound,
    Note,
}

impl World {
    fn new(
        opts: &SeedOptions,
        mailboxes: Vec<Mailbox>,
        agents: Vec<Person>,
        workers: Vec<Vec<usize>>,
        tags: Vec<i64>,
    ) -> World {
        World {
            opts: opts.clone(),
            now: time::OffsetDateTime::now_utc().unix_timestamp(),
            mailboxes,
            agents,
            workers,
            tags,
            customers: (opts.tickets * 2 / 5).max(1),
            vocab: Vocab::new(),
            first_lower: FIRST_NAMES.iter().map(|n| n.to_lowercase()).collect(),
            last_lower: LAST_NAMES.iter().map(|n| n.to_lowercase()).collect(),
        }
    }

    fn rng(&self, kind: u64, a: u64, b: u64) -> SmallRng {
        SmallRng::seed_from_u64(mix(
            self.opts.seed ^ mix(kind.wrapping_mul(0x9e37_79b9) ^ mix(a) ^ b.rotate_left(40))
        ))
    }

    /// Indexes into [`FIRST_NAMES`] and [`LAST_NAMES`].
    fn customer_name(&self, c: u64) -> (usize, usize) {
        let h = mix(c ^ 0xc0ffee);
        (
            (h % FIRST_NAMES.len() as u64) as usize,
            ((h >> 20) % LAST_NAMES.len() as u64) as usize,
        )
    }

    fn customer_full_name(&self, c: u64) -> String {
        let (f, l) = self.customer_name(c);
        format!("{} {}", FIRST_NAMES[f], LAST_NAMES[l])
    }

    fn customer_email(&self, c: u64) -> String {
        let (f, l) = self.customer_name(c);
        let domain = DOMAINS[((mix(c) >> 7) % DOMAINS.len() as u64) as usize];
        format!(
            "{}.{}{}@{domain}",
            self.first_lower[f],
            self.last_lower[l],
            c + 1
        )
    }

    /// A colleague of the customer in copy (a domain no customer has, so never the same).
    fn cc_email(&self, number: u64) -> String {
        let (f, l) = self.customer_name(number.wrapping_mul(31) + 7);
        format!(
            "{}.{}{}@partner.example.net",
            self.first_lower[f], self.last_lower[l], number
        )
    }

    fn plan(&self, number: u64) -> Plan {
        let mut rng = self.rng(1, number, 0);
        let n = self.opts.tickets;
        let mailbox = match rng.random_range(0..10) {
            0..6 => 0,
            6..8 => 1 % self.mailboxes.len(),
            _ => rng.random_range(0..self.mailboxes.len()),
        };
        // Repeat customers: a skewed pick makes a few customers write many times.
        let u: f64 = rng.random();
        let customer = ((u * u * self.customers as f64) as u64).min(self.customers - 1);
        // Ticket numbers grow with time, as they do for real.
        let slot = SPAN_SECS as f64 / n as f64;
        let created =
            self.now - SPAN_SECS + ((number - 1) as f64 * slot + rng.random::<f64>() * slot) as i64;
        let subject = self.subject(&mut rng);
        let workers = &self.workers[mailbox];
        let mut assignee_pick = workers[rng.random_range(0..workers.len())];
        // Length: geometric with the requested mean, capped.
        let mean = self.opts.messages_per_ticket as f64;
        let mut count = 1;
        while count < 40 && rng.random::<f64>() >= 1.0 / mean {
            count += 1;
        }
        let mut messages = Vec::with_capacity(count + 1);
        let mut at = created;
        let mut next = Direction::Inbound;
        let mut emails = 0;
        while emails < count {
            if emails > 0 {
                // 1 minute to 3 days later.
                let gap = 60.0 * (rng.random::<f64>() * (3.0f64 * 24.0 * 60.0).ln()).exp();
                at = (at + gap as i64).min(self.now - 60);
            }
            if emails > 0 && rng.random_range(0..12) == 0 {
                messages.push((Direction::Note, at, assignee_pick));
                continue;
            }
            if next == Direction::Outbound && rng.random_range(0..5) == 0 {
                // someone else answered this one
                assignee_pick = workers[rng.random_range(0..workers.len())];
            }
            messages.push((next, at, assignee_pick));
            next = if next == Direction::Inbound {
                Direction::Outbound
            } else {
                Direction::Inbound
            };
            emails += 1;
        }
        let last = messages
            .iter()
            .rev()
            .find(|m| m.0 != Direction::Note)
            .map(|m| m.1)
            .unwrap_or(created);
        let recent = self.now - last < 14 * 86_400;
        let r = rng.random_range(0..1000);
        let status = if recent {
            match r {
                0..450 => "open",
                450..600 => "pending",
                600..680 => "snoozed",
                _ => "closed",
            }
        } else {
            match r {
                0..20 => "open",
                20..27 => "pending",
                27..30 => "snoozed",
                _ => "closed",
            }
        };
        let assigned_share = match status {
            "open" => 55,
            "closed" => 92,
            _ => 96,
        };
        let assignee = (rng.random_range(0..100) < assigned_share).then_some(assignee_pick);
        let priority = match rng.random_range(0..100) {
            0..10 => "low",
            10..75 => "normal",
            75..93 => "high",
            _ => "urgent",
        };
        let spam = rng.random_range(0..100) == 0;
        let snoozed_until =
            (status == "snoozed").then(|| self.now + rng.random_range(3_600..14 * 86_400));
        let ntags = match rng.random_range(0..10) {
            0..3 => 0,
            3..7 => 1,
            7..9 => 2,
            _ => 3,
        };
        let mut tags: Vec<i64> = Vec::with_capacity(ntags);
        for _ in 0..ntags {
            // Zipf-like: a few tags are everywhere, most are rare.
            let u: f64 = rng.random();
            let t = self.tags[((u * u * u) * self.tags.len() as f64) as usize];
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let cc = (rng.random_range(0..100) < 8).then_some(number);
        Plan {
            mailbox,
            customer,
            created,
            subject,
            messages,
            assignee,
            status,
            priority,
            spam,
            snoozed_until,
            tags,
            cc,
        }
    }

    fn subject(&self, rng: &mut SmallRng) -> String {
        let template = SUBJECTS[rng.random_range(0..SUBJECTS.len())];
        let mut s = String::with_capacity(48);
        let mut rest = template;
        while let Some(i) = rest.find('{') {
            s.push_str(&rest[..i]);
            match &rest[i..i + 3] {
                "{n}" => write!(s, "{}", rng.random_range(10_000..999_999)).unwrap(),
                _ => s.push_str(&self.vocab.words[rng.random_range(60..3000)]),
            }
            rest = &rest[i + 3..];
        }
        s.push_str(rest);
        s
    }

    /// A message body: greeting, Zipf-distributed sentences, sign-off.
    fn body(&self, number: u64, index: usize, plan: &Plan, out: &mut String) {
        let mut rng = self.rng(2, number, index as u64);
        let (direction, _, agent) = plan.messages[index];
        let author = &self.agents[agent];
        let (cfirst, clast) = self.customer_name(plan.customer);
        // 200..2000 characters, log-uniform: most mail is short.
        let target = (200.0 * (rng.random::<f64>() * 10f64.ln()).exp()) as usize;
        out.clear();
        let mut w = Text { out };
        match direction {
            Direction::Inbound => {
                w.word(GREETINGS[rng.random_range(0..GREETINGS.len())], true);
                w.push(",\n\n");
            }
            Direction::Outbound => {
                w.word("hi", true);
                w.push(" ");
                w.word(&self.first_lower[cfirst], true);
                w.push(",\n\n");
            }
            Direction::Note => {}
        }
        let body_end = target.saturating_sub(40).max(60);
        let mut in_paragraph = 0;
        while w.out.len() < body_end {
            let len = rng.random_range(4..17);
            for k in 0..len {
                w.word(self.vocab.sample(&mut rng), k == 0);
                if k + 1 < len {
                    w.push(if rng.random_range(0..14) == 0 {
                        ", "
                    } else {
                        " "
                    });
                }
            }
            w.push(if rng.random_range(0..8) == 0 {
                "?"
            } else {
                "."
            });
            in_paragraph += 1;
            if in_paragraph >= 4 && rng.random_range(0..2) == 0 {
                w.push("\n\n");
                in_paragraph = 0;
            } else {
                w.push(" ");
            }
        }
        while w.out.ends_with(' ') || w.out.ends_with('\n') {
            w.out.pop();
        }
        match direction {
            Direction::Inbound => {
                // One ticket in 250 is from a customer who writes Japanese or Chinese too.
                if number.is_multiple_of(250) {
                    w.push("\n\n");
                    w.push(CJK_SENTENCES[(number / 250) as usize % CJK_SENTENCES.len()]);
                }
                w.push("\n\n");
                w.word("thanks", true);
                w.push(",\n");
                w.word(&self.first_lower[cfirst], true);
                w.push(" ");
                w.word(&self.last_lower[clast], true);
            }
            Direction::Outbound => {
                w.push("\n\n");
                w.word("best", true);
                w.push(" ");
                w.word("regards", false);
                w.push(",\n");
                for (k, n) in author.words.iter().enumerate() {
                    if k > 0 {
                        w.push(" ");
                    }
                    w.word(n, true);
                }
                w.push("\n");
                let mb = &self.mailboxes[plan.mailbox];
                for (k, n) in mb.words.iter().enumerate() {
                    if k > 0 {
                        w.push(" ");
                    }
                    w.word(n, true);
                }
            }
            Direction::Note => {}
        }
    }

    /// Runs both passes, sending COPY text chunks; `None` ends a table.
    fn generate(&self, tx: &tokio::sync::mpsc::Sender<Option<Vec<u8>>>) {
        let mut out = Out::new(tx);
        // customer
        for c in 0..self.customers {
            let created = self.now - SPAN_SECS - 86_400 * (1 + c as i64 % 365);
            let b = out.row();
            int(b, c as i64 + 1);
            field(b, &self.customer_email(c));
            field(b, &self.customer_full_name(c));
            b.push(b'\t');
            ts(b, created);
            if !out.end_row() {
                return;
            }
        }
        if !out.end_table() {
            return;
        }
        // ticket
        let mut text = String::new();
        for number in 1..=self.opts.tickets {
            let p = self.plan(number);
            let last = p
                .messages
                .iter()
                .enumerate()
                .rev()
                .find(|(_, m)| m.0 != Direction::Note)
                .expect("a ticket has an email");
            self.body(number, last.0, &p, &mut text);
            let snippet = frontdesk::tickets::model::snippet(&text);
            let emails = p.messages.iter().filter(|m| m.0 != Direction::Note).count();
            let b = out.row();
            int(b, number as i64);
            b.push(b'\t');
            int(b, self.mailboxes[p.mailbox].id);
            field(b, &p.subject);
            b.push(b'\t');
            b.extend_from_slice(p.status.as_bytes());
            b.push(b'\t');
            b.extend_from_slice(p.priority.as_bytes());
            b.push(b'\t');
            int(b, p.customer as i64 + 1);
            b.push(b'\t');
            match p.assignee {
                Some(a) => int(b, self.agents[a].id),
                None => b.extend_from_slice(b"\\N"),
            }
            b.push(b'\t');
            ts(b, p.created);
            b.push(b'\t');
            ts(b, last.1.1);
            b.push(b'\t');
            int(b, emails as i64);
            b.extend_from_slice(if p.spam { b"\tt" } else { b"\tf" });
            field(b, &snippet);
            b.push(b'\t');
            match p.snoozed_until {
                Some(t) => ts(b, t),
                None => b.extend_from_slice(b"\\N"),
            }
            if !out.end_row() {
                return;
            }
        }
        if !out.end_table() {
            return;
        }
        // ticket_tag
        for number in 1..=self.opts.tickets {
            let p = self.plan(number);
            let last = p
                .messages
                .iter()
                .rev()
                .find(|m| m.0 != Direction::Note)
                .expect("a ticket has an email")
                .1;
            for t in &p.tags {
                let b = out.row();
                int(b, number as i64);
                b.push(b'\t');
                int(b, *t);
                b.push(b'\t');
                ts(b, last);
                if !out.end_row() {
                    return;
                }
            }
        }
        if !out.end_table() {
            return;
        }
        // ticket_participant
        for number in 1..=self.opts.tickets {
            let p = self.plan(number);
            let b = out.row();
            int(b, number as i64);
            field(b, &self.customer_email(p.customer));
            field(b, &self.customer_full_name(p.customer));
            b.extend_from_slice(b"\tcustomer");
            if !out.end_row() {
                return;
            }
            if let Some(cc) = p.cc {
                let b = out.row();
                int(b, number as i64);
                field(b, &self.cc_email(cc));
                b.extend_from_slice(b"\t\\N\tcc");
                if !out.end_row() {
                    return;
                }
            }
        }
        if !out.end_table() {
            return;
        }
        // message, in COPY's binary format. The search vectors are filled after the load by
        // the SQL function message_search_vector_in, the indexer's own definition.
        bin::header(out.row());
        let fields: i16 = 15;
        let mut message_id = 0i64;
        for number in 1..=self.opts.tickets {
            let p = self.plan(number);
            let customer_name = self.customer_full_name(p.customer);
            let customer_email = self.customer_email(p.customer);
            let cc_email = p.cc.map(|c| self.cc_email(c));
            let mb = &self.mailboxes[p.mailbox];
            let mut chain: Vec<String> = Vec::new();
            let mut salt = mix(number ^ 0x5eed);
            for (i, &(direction, at, agent)) in p.messages.iter().enumerate() {
                message_id += 1;
                let author = &self.agents[agent];
                self.body(number, i, &p, &mut text);
                let subject = match (direction, i) {
                    (Direction::Note, _) => String::new(),
                    (_, 0) => p.subject.clone(),
                    _ => format!("Re: {}", p.subject),
                };
                let (kind, from_email, from_name): (&str, &str, String) = match direction {
                    Direction::Inbound => ("inbound", &customer_email, customer_name.clone()),
                    Direction::Outbound => (
                        "outbound",
                        &mb.address,
                        format!("{} via {}", author.name, mb.name),
                    ),
                    Direction::Note => ("note", &author.email, author.name.clone()),
                };
                let b = out.row();
                bin::row(b, fields);
                bin::int8(b, message_id);
                bin::int8(b, number as i64);
                bin::text(b, kind);
                bin::text(b, from_email);
                bin::text(b, &from_name);
                if direction == Direction::Note {
                    bin::jsonb(b, "[]");
                    bin::jsonb(b, "[]");
                } else {
                    let (to_addr, to_name) = match direction {
                        Direction::Inbound => (mb.address.as_str(), mb.name.as_str()),
                        _ => (customer_email.as_str(), customer_name.as_str()),
                    };
                    bin::jsonb(
                        b,
                        &format!("[{{\"email\": \"{to_addr}\", \"name\": \"{to_name}\"}}]"),
                    );
                    match &cc_email {
                        Some(cc) => {
                            bin::jsonb(b, &format!("[{{\"email\": \"{cc}\", \"name\": null}}]"))
                        }
                        None => bin::jsonb(b, "[]"),
                    }
                }
                bin::text(b, &subject);
                bin::text(b, &text);
                if direction == Direction::Note {
                    bin::null(b);
                    bin::null(b);
                    bin::text_array::<&str>(b, &[]);
                } else {
                    salt = mix(salt);
                    let domain = match direction {
                        Direction::Inbound => {
                            customer_email.rsplit('@').next().unwrap_or("example.org")
                        }
                        _ => "example.com",
                    };
                    let id = format!("{number}.{i}.{:08x}@{domain}", salt as u32);
                    bin::text(b, &id);
                    match chain.last() {
                        Some(prev) => bin::text(b, prev),
                        None => bin::null(b),
                    }
                    bin::text_array(b, &chain[chain.len().saturating_sub(10)..]);
                    chain.push(id);
                }
                bin::timestamptz_unix(b, at);
                match direction {
                    Direction::Outbound => bin::text(b, "sent"),
                    _ => bin::null(b),
                }
                match direction {
                    Direction::Inbound => bin::null(b),
                    _ => bin::int8(b, author.id),
                }
                if !out.end_row_binary() {
                    return;
                }
            }
        }
        bin::trailer(out.row());
        out.end_table();
    }
}

/// splitmix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Lets `write!` append to a byte buffer.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A tab, then `s` escaped for COPY's text format.
fn field(b: &mut Vec<u8>, s: &str) {
    b.push(b'\t');
    for &c in s.as_bytes() {
        match c {
            b'\\' => b.extend_from_slice(b"\\\\"),
            b'\n' => b.extend_from_slice(b"\\n"),
            b'\r' => b.extend_from_slice(b"\\r"),
            b'\t' => b.extend_from_slice(b"\\t"),
            _ => b.push(c),
        }
    }
}

fn int(b: &mut Vec<u8>, v: i64) {
    let _ = write!(Bytes(b), "{v}");
}

/// A UTC timestamp from Unix seconds, `YYYY-MM-DD HH:MM:SS+00`.
fn ts(b: &mut Vec<u8>, secs: i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let _ = write!(
        Bytes(b),
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}+00",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
}

/// COPY data in chunks of about [`CHUNK`] bytes.
struct Out<'a> {
    buf: Vec<u8>,
    tx: &'a tokio::sync::mpsc::Sender<Option<Vec<u8>>>,
}

impl<'a> Out<'a> {
    fn new(tx: &'a tokio::sync::mpsc::Sender<Option<Vec<u8>>>) -> Out<'a> {
        Out {
            buf: Vec::with_capacity(CHUNK + 65_536),
            tx,
        }
    }

    fn row(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Ends a row; false when the receiver is gone (stop generating).
    fn end_row(&mut self) -> bool {
        self.buf.push(b'\n');
        self.end_row_binary()
    }

    /// Ends a row of binary COPY data (no terminator).
    fn end_row_binary(&mut self) -> bool {
        if self.buf.len() >= CHUNK {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return true;
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 65_536));
        self.tx.blocking_send(Some(full)).is_ok()
    }

    fn end_table(&mut self) -> bool {
        self.flush() && self.tx.blocking_send(None).is_ok()
    }
}

/// Words with Zipf-like frequencies: real words at the top, then made-up ones down a long
/// tail, so that bodies have very common and very rare words.
struct Vocab {
    words: Vec<String>,
    /// Uniform index → word rank, proportional to 1/rank.
    table: Vec<u16>,
}

const TABLE_BITS: u32 = 22;

impl Vocab {
    fn new() -> Vocab {
        let mut words: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for w in COMMON_WORDS.split_whitespace() {
            if seen.insert(w.to_string()) {
                words.push(w.to_string());
            }
        }
        let mut i = 0u64;
        while words.len() < 30_000 {
            let mut h = mix(i ^ 0xabcdef);
            i += 1;
            let syllables = 2 + (h % 2) as usize;
            h >>= 2;
            let mut w = String::new();
            for _ in 0..syllables {
                w.push_str(ONSETS[(h % ONSETS.len() as u64) as usize]);
                h /= ONSETS.len() as u64;
                w.push_str(VOWELS[(h % VOWELS.len() as u64) as usize]);
                h /= VOWELS.len() as u64;
                if h.is_multiple_of(3) {
                    w.push_str(CODAS[((h / 3) % CODAS.len() as u64) as usize]);
                }
                h /= 3 * CODAS.len() as u64;
            }
            if seen.insert(w.clone()) {
                words.push(w);
            }
        }
        // Zipf's exponent a little above 1: real words make most of a text, yet the tail is long.
        let weights: Vec<f64> = (0..words.len())
            .map(|r| (r as f64 + 1.0).powf(-1.15))
            .collect();
        let total: f64 = weights.iter().sum();
        let size = 1usize << TABLE_BITS;
        let mut table = Vec::with_capacity(size);
        let mut rank = 0;
        let mut cum = weights[0];
        for j in 0..size {
            let target = (j as f64 + 0.5) / size as f64 * total;
            while cum < target && rank + 1 < words.len() {
                rank += 1;
                cum += weights[rank];
            }
            table.push(rank as u16);
        }
        Vocab { words, table }
    }

    fn sample(&self, rng: &mut SmallRng) -> &str {
        let j = rng.random::<u32>() >> (32 - TABLE_BITS);
        &self.words[self.table[j as usize] as usize]
    }
}

const MAILBOXES: [(&str, &str); 6] = [
    ("Support", "support"),
    ("Billing", "billing"),
    ("Sales", "sales"),
    ("Partners", "partners"),
    ("Security", "security"),
    ("Press", "press"),
];

const DOMAINS: [&str; 6] = [
    "example.org",
    "mail.example.org",
    "corp.example.org",
    "shop.example.org",
    "example.net",
    "post.example.org",
];

const GREETINGS: [&str; 4] = ["hello", "hi", "dear", "greetings"];

const TAGS: [&str; 40] = [
    "billing",
    "refund",
    "shipping",
    "bug",
    "feature-request",
    "login",
    "password",
    "invoice",
    "vip",
    "enterprise",
    "trial",
    "cancellation",
    "api",
    "mobile",
    "android",
    "ios",
    "export",
    "import",
    "integration",
    "onboarding",
    "complaint",
    "praise",
    "security",
    "gdpr",
    "outage",
    "performance",
    "upgrade",
    "downgrade",
    "discount",
    "tax",
    "warranty",
    "returns",
    "damaged",
    "delivery",
    "account",
    "sso",
    "webhooks",
    "reports",
    "translation",
    "escalated",
];

const SUBJECTS: [&str; 30] = [
    "Refund for order {n}",
    "Cannot log in to my account",
    "Invoice {n} is wrong",
    "Question about {w}",
    "Problem with {w} and {w}",
    "Shipping delay for order {n}",
    "Password reset not working",
    "How do I change my {w}",
    "Cancel my subscription",
    "Charged twice for order {n}",
    "Feature request: {w} support",
    "Error when uploading {w}",
    "Update billing address",
    "Where is my package",
    "Damaged item in order {n}",
    "Account locked after update",
    "API returns error {n}",
    "Export to {w} fails",
    "Request for a quote",
    "Trial extension please",
    "Wrong item received",
    "Cannot find the {w} setting",
    "Two factor codes not arriving",
    "Upgrade to the {w} plan",
    "Data deletion request",
    "Slow {w} since yesterday",
    "Missing {w} in my report",
    "Return label for order {n}",
    "Discount code {n} rejected",
    "Thank you for the quick help",
];

const FIRST_NAMES: [&str; 48] = [
    "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Kara",
    "Liam", "Maria", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Samuel", "Tara", "Umar", "Vera",
    "Walter", "Xenia", "Yusuf", "Zoe", "Aisha", "Bruno", "Chloe", "Diego", "Emma", "Farah",
    "George", "Hannah", "Ivan", "Julia", "Kenji", "Lena", "Marco", "Nina", "Oscar", "Priya",
    "Rafael", "Sofia", "Tom", "Ursula", "Victor", "Wen",
];

const LAST_NAMES: [&str; 48] = [
    "Schmidt",
    "Miller",
    "Garcia",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Nakamura",
    "Okafor",
    "Johansson",
    "Silva",
    "Novak",
    "Brown",
    "Lee",
    "Patel",
    "Fischer",
    "Moreau",
    "Jensen",
    "Ivanova",
    "Costa",
    "Hughes",
    "Weber",
    "Lopez",
    "Murphy",
    "Tanaka",
    "Berg",
    "Keller",
    "Nguyen",
    "Clark",
    "Romano",
    "Meyer",
    "Larsen",
    "Walsh",
    "Kim",
    "Horvat",
    "Bauer",
    "Santos",
    "Fournier",
    "Young",
    "Popescu",
    "Ali",
    "Hansen",
    "Wright",
    "Sato",
    "Vogel",
    "Moretti",
    "Evans",
    "Lindqvist",
    "Adams",
];

const ONSETS: [&str; 20] = [
    "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr", "gl",
    "sh", "th",
];
const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ai"];
const CODAS: [&str; 6] = ["n", "r", "l", "s", "k", "m"];

/// The most frequent words first, in rank order.
const COMMON_WORDS: &str = "the to and i you a of is it for my in that we this on with
    be have your not can are please order but will as at if so do account just me our from
    an or was get would there all been when what us now any they could one time about
    help know also need thank more like has out up still see issue some back which new
    email did your here then problem only other payment after check again service because
    last them should day working same team since way update first any before today use
    invoice refund app error days week customer support page number plan phone data
    access link password login address product price card bank details system version
    screen file report delivery package shipping message contact subscription free month
    receipt credit charge cancel settings user website browser download install device
    mobile feature request available problem received sent attached weeks hours minutes
    morning yesterday tomorrow monday friday quickly soon possible unfortunately however
    already tried again resolved fixed broken missing wrong correct different multiple
    several every never always usually sometimes maybe probably actually really";

/// Body text being written.
struct Text<'o> {
    out: &'o mut String,
}

impl Text<'_> {
    /// A lower-case word, capitalised when asked.
    fn word(&mut self, w: &str, cap: bool) {
        let mut c = w.chars();
        match c.next() {
            Some(f) if cap => {
                self.out.push(f.to_ascii_uppercase());
                self.out.push_str(c.as_str());
            }
            _ => self.out.push_str(w),
        }
    }

    fn push(&mut self, s: &str) {
        self.out.push_str(s);
    }
}
