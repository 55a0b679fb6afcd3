-- Shared drafts: the reply being written on a ticket, saved as it is typed. One per ticket and
-- kind, owned by the agent writing it; others may read it or take it over. `version` makes
-- concurrent saves explicit (a stale save is refused, never silently overwrites).
create table draft (
    ticket_id       bigint not null references ticket on delete cascade,
    -- reply | note
    kind            text not null check (kind in ('reply', 'note')),
    owner_agent_id  bigint not null references agent on delete cascade,
    body            text not null default '',
    to_addrs        text not null default '',
    cc_addrs        text not null default '',
    version         integer not null default 1,
    updated_at      timestamptz not null default now(),
    primary key (ticket_id, kind)
);
