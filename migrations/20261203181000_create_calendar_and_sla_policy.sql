-- Business-hours calendars and SLA policies (src/sla). A calendar's spec is the API's JSON
-- shape (sla::calendar::CalendarSpec without the name): {"time_zone", "hours", "holidays"}.
create table calendar (
    calendar_id  bigint generated always as identity primary key,
    name         text not null unique,
    spec         jsonb not null,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

-- targets: {"urgent"|"high"|"normal"|"low": {"first_response", "next_response",
-- "resolution"}}, each in business minutes (sla::policies::PolicyTargets).
create table sla_policy (
    sla_policy_id    bigint generated always as identity primary key,
    name             text not null unique,
    calendar_id      bigint not null references calendar,
    targets          jsonb not null,
    warning_percent  integer not null default 25 check (warning_percent between 1 and 99),
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);
create index sla_policy_calendar_idx on sla_policy (calendar_id);

-- The policy a new ticket of the mailbox gets (null = none).
alter table mailbox add column sla_policy_id bigint references sla_policy on delete set null;
