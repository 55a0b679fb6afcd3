-- Placeholder of the sla_clock table agreed with the SLA-clocks work (notes:
-- sla_clock_contract.md), so that analytics can read SLA results before that work is merged.
-- `if not exists`: when the real migration created the table first, this does nothing.
-- One row per clock run; next_response gets a new cycle per customer message after our reply.
create table if not exists sla_clock (
    ticket_id    bigint not null references ticket (ticket_id) on delete cascade,
    kind         text   not null check (kind in ('first_response', 'next_response', 'resolution')),
    cycle        int    not null default 1,
    policy_id    bigint references sla_policy (sla_policy_id),
    started_at   timestamptz not null,
    due_at       timestamptz,
    achieved_at  timestamptz,
    breached_at  timestamptz,
    paused       boolean not null default false,
    primary key (ticket_id, kind, cycle)
);
