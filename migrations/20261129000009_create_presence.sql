-- Who is viewing a ticket or writing on it, across every node. Rows expire: a browser renews
-- its row every few seconds while the page is open; a closed tab or lost network simply stops
-- renewing, and the row no longer counts after expires_at.
create table presence (
    agent_id    bigint not null references agent on delete cascade,
    ticket_id   bigint not null references ticket on delete cascade,
    -- viewing | replying | noting
    activity    text not null check (activity in ('viewing', 'replying', 'noting')),
    expires_at  timestamptz not null,
    primary key (agent_id, ticket_id)
);
create index presence_ticket_idx on presence (ticket_id, expires_at);
