-- Agent side: internal notes, the outbound mail queue, mentions, read state, saved replies.

-- An internal note is a message of direction 'note', so messages and notes share one ordered
-- id space (the send-time guard compares against the newest of either).
alter table message drop constraint message_direction_check;
alter table message add constraint message_direction_check
    check (direction in ('inbound', 'outbound', 'note'));
-- The agent who wrote an outbound reply or a note.
alter table message add column author_agent_id bigint references agent;

-- Per-mailbox sending identity.
alter table mailbox add column signature text not null default '';

-- The durable send queue. A row is written in the transaction that writes the outbound
-- message, so a reply is never lost; the worker claims due rows with FOR UPDATE SKIP LOCKED.
-- raw holds the exact bytes to send, with a fixed Message-ID, so a resend is recognisable.
create table outbox (
    outbox_id        bigint generated always as identity primary key,
    message_id       bigint not null unique references message on delete cascade,
    mailbox_id       bigint not null references mailbox on delete cascade,
    envelope_from    text not null,
    envelope_to      text[] not null,
    raw              bytea not null,
    state            text not null default 'queued' check (state in ('queued', 'sent', 'failed')),
    attempts         integer not null default 0,
    next_attempt_at  timestamptz not null default now(),
    last_error       text,
    created_at       timestamptz not null default now(),
    sent_at          timestamptz
);
create index outbox_due_idx on outbox (next_attempt_at) where state = 'queued';

-- In-app notifications (an @mention in a note).
create table notification (
    notification_id  bigint generated always as identity primary key,
    agent_id         bigint not null references agent on delete cascade,
    ticket_id        bigint not null references ticket on delete cascade,
    message_id       bigint references message on delete cascade,
    kind             text not null check (kind in ('mention')),
    created_at       timestamptz not null default now(),
    read_at          timestamptz
);
create index notification_agent_unread_idx on notification (agent_id, created_at desc) where read_at is null;

-- When an agent last opened a ticket: drives the unread marker in the inbox.
create table ticket_view (
    agent_id   bigint not null references agent on delete cascade,
    ticket_id  bigint not null references ticket on delete cascade,
    seen_at    timestamptz not null default now(),
    primary key (agent_id, ticket_id)
);

create table saved_reply (
    saved_reply_id  bigint generated always as identity primary key,
    name            text not null,
    -- may use {{customer.first_name}}, {{customer.name}}, {{agent.name}}, {{ticket.number}}
    body            text not null,
    created_at      timestamptz not null default now()
);

-- Failed logins, for rate limiting across nodes (email lower-cased; ip as text).
create table login_attempt (
    email       text not null,
    ip          text not null,
    at          timestamptz not null default now()
);
create index login_attempt_email_idx on login_attempt (email, at);
create index login_attempt_ip_idx on login_attempt (ip, at);
