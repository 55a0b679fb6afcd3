-- SLA clocks on tickets (src/sla/clocks.rs). One row per clock run: first_response and
-- resolution have at most one run per ticket; next_response gets a new run (cycle 1, 2, ...)
-- each time a customer writes after our last reply. The columns up to `paused` are the
-- contract analytics reads (notes/sla_clock_contract.md); the rest are the clocks' own.
create table sla_clock (
    ticket_id    bigint not null references ticket (ticket_id) on delete cascade,
    kind         text   not null check (kind in ('first_response', 'next_response', 'resolution')),
    cycle        int    not null default 1,
    policy_id    bigint references sla_policy (sla_policy_id) on delete set null,
    started_at   timestamptz not null,
    -- the current due instant; null while paused
    due_at       timestamptz,
    -- set when met before due (the reply, or closing for resolution)
    achieved_at  timestamptz,
    -- = due_at when missed: stamped at the due instant, never when a worker noticed
    breached_at  timestamptz,
    paused       boolean not null default false,
    -- when the run ended (our reply; closing for resolution), met or not; null while it runs
    stopped_at   timestamptz,
    -- when the policy's warning threshold is reached (null while paused) and when it was
    -- announced (the sla_warning event)
    warn_at      timestamptz,
    warned_at    timestamptz,
    -- the intervals the clock did not run (ticket pending or closed): [[start, end|null], ...]
    -- in Unix microseconds (UTC); kept so that edits recompute the due time from the start
    pauses       jsonb not null default '[]',
    primary key (ticket_id, kind, cycle)
);

-- The breach worker's queue: running clocks by due time (also the overdue ones are found here).
create index sla_clock_due_idx on sla_clock (due_at)
    where stopped_at is null and breached_at is null and not paused;
create index sla_clock_warn_idx on sla_clock (warn_at)
    where warned_at is null and stopped_at is null and breached_at is null and not paused;
-- Recomputing after a policy or calendar edit: the clocks still running under a policy.
create index sla_clock_policy_idx on sla_clock (policy_id) where stopped_at is null;

-- The policy a ticket's clocks run under (the mailbox default at creation, a rule or an agent).
-- sla_due_at: the nearest due instant of the ticket's running clocks (past when overdue), kept
-- by the clocks code, so the inbox shows and sorts by it without reading the clocks.
alter table ticket
    add column sla_policy_id bigint references sla_policy on delete set null,
    add column sla_due_at timestamptz;
-- "Due soonest": tickets without a running clock go last.
create index ticket_sla_due_idx on ticket
    ((coalesce(sla_due_at, '9999-12-31 00:00:00+00'::timestamptz)), ticket_id);
