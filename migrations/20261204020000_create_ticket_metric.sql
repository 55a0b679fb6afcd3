-- Analytics (src/analytics): per-ticket metric values, computed from the ticket's timeline
-- events by the timeline hook when a metric completes, in the same transaction, and never
-- recomputed afterwards, so reports of past periods never move. `frontdesk analytics
-- rebuild` fills the rows of tickets that have none (tickets from before this migration).
-- Seconds are real (UTC) seconds with the fraction; *_business_s count only the open time of
-- `calendar` (the calendar of the mailbox's SLA policy, else 24/7). Both leave out the time
-- the ticket was pending or closed.
create table ticket_metric (
    ticket_id                    bigint primary key references ticket on delete cascade,
    -- the ticket's creation (its first mail's receipt at our server)
    created_at                   timestamptz not null,
    -- left out of every figure: 'spam' (marked spam), 'merged' (merged into another ticket),
    -- 'bulk' (list or bulk mail that no person answered); null = counted
    excluded                     text check (excluded in ('spam', 'merged', 'bulk')),
    -- name of the calendar business seconds are counted on; '24/7' without an SLA policy
    calendar                     text not null default '24/7',
    -- the first reply written by a person (never notes, automatic or rule-sent mail)
    first_response_at            timestamptz,
    first_response_s             double precision,
    first_response_business_s    double precision,
    first_response_agent_id      bigint references agent on delete set null,
    -- the first resolution (first close after a person's reply), kept for good
    first_resolved_at            timestamptz,
    first_resolution_s           double precision,
    first_resolution_business_s  double precision,
    -- the final resolution: the latest, null while the ticket is open again after it
    resolved_at                  timestamptz,
    resolution_s                 double precision,
    resolution_business_s        double precision,
    -- replies written by people; times the ticket was reopened after a close
    replies                      integer not null default 0,
    reopened                     integer not null default 0,
    updated_at                   timestamptz not null default now()
);
create index ticket_metric_created_idx on ticket_metric (created_at) where excluded is null;
create index ticket_metric_first_response_idx on ticket_metric (first_response_at)
    where first_response_at is not null and excluded is null;

-- One row per close of a ticket, frozen once written; only reopened_at is stamped later,
-- when the ticket reopens. replied: a person had replied before the close (a resolution);
-- else "closed, no reply needed". agent_id: who closed it (null: a rule or Frontdesk).
create table ticket_resolution (
    ticket_id              bigint not null references ticket on delete cascade,
    seq                    integer not null,
    closed_at              timestamptz not null,
    agent_id               bigint references agent on delete set null,
    replied                boolean not null,
    resolution_s           double precision not null,
    resolution_business_s  double precision not null,
    reopened_at            timestamptz,
    primary key (ticket_id, seq)
);
create index ticket_resolution_closed_idx on ticket_resolution (closed_at);
create index ticket_resolution_reopened_idx on ticket_resolution (reopened_at)
    where reopened_at is not null;

-- Replies written by people and assignments, counted per period and agent.
create index ticket_event_agent_reply_idx on ticket_event (created_at, agent_id)
    where kind = 'reply_queued' and actor_kind = 'agent';
create index ticket_event_assigned_idx on ticket_event (created_at)
    where kind = 'assigned';
-- SLA results per period.
create index if not exists sla_clock_result_idx on sla_clock ((coalesce(achieved_at, breached_at)))
    where achieved_at is not null or breached_at is not null;
