-- Routing rules (src/rules): ordered, each with a trigger, conditions and actions stored as
-- the API's JSON shape, a firing mode and "stop processing later rules".
create table rule (
    rule_id        bigint generated always as identity primary key,
    position       integer not null,
    name           text not null,
    enabled        boolean not null default true,
    -- ticket_created, customer_replied, ..., time (rules::model::Trigger)
    trigger        text not null,
    -- {"all": [...]} or {"any": [...]}: the conditions as the API takes them
    conditions     jsonb not null,
    -- [{"type": "assign_team", "team": "Billing"}, ...]
    actions        jsonb not null,
    -- once_per_ticket | on_state_entry | every_time
    mode           text not null check (mode in ('once_per_ticket', 'on_state_entry', 'every_time')),
    stop           boolean not null default false,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    last_fired_at  timestamptz,
    fire_count     bigint not null default 0
);
create index rule_trigger_idx on rule (trigger, position) where enabled;

-- The per-ticket firing record: makes "once per ticket" and "once each time the conditions
-- become true" hold across nodes and restarts. matched = whether the conditions held at the
-- last evaluation (for on_state_entry).
create table rule_ticket_state (
    rule_id        bigint not null references rule on delete cascade,
    ticket_id      bigint not null references ticket on delete cascade,
    fired_count    integer not null default 0,
    last_fired_at  timestamptz,
    matched        boolean not null default false,
    primary key (rule_id, ticket_id)
);
create index rule_ticket_state_ticket_idx on rule_ticket_state (ticket_id);

-- The team a ticket is with (set by an assign_team action or an agent); its assignment mode
-- picks the agent.
alter table ticket add column team_id bigint references team on delete set null;

-- Round robin's turn per team: the agent who got the team's last ticket. The team row is
-- locked while a turn is taken, so two nodes never hand out the same turn.
alter table team add column last_assigned_agent_id bigint references agent on delete set null;

-- The timeline's new kinds: a rule fired (detail: rule id and name, matched conditions,
-- changes), and the ticket's team changed.
alter table ticket_event drop constraint ticket_event_kind_check;
alter table ticket_event add constraint ticket_event_kind_check check (kind in (
    'created', 'message_received', 'reply_queued', 'note_added', 'status_changed',
    'assigned', 'priority_changed', 'tags_changed', 'marked_spam', 'unmarked_spam',
    'merged_into', 'merged_from', 'delivery_failed', 'bounce_received', 'rule_fired',
    'team_changed'));

-- A rule's notify action gives agents an in-app notification with its words.
alter table notification drop constraint notification_kind_check;
alter table notification add constraint notification_kind_check check (kind in ('mention', 'rule'));
alter table notification add column text text;
