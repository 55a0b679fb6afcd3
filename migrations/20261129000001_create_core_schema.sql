-- Core schema: agents, mailboxes, customers, tickets, messages, raw mail, ingest state.
-- Table names are singular, keys are <table>_id. Timestamps are timestamptz (UTC on the wire).

create table agent (
    agent_id      bigint generated always as identity primary key,
    email         text not null,
    name          text not null,
    role          text not null check (role in ('admin', 'lead', 'agent')),
    -- argon2id PHC string
    password_hash text not null,
    created_at    timestamptz not null default now()
);
create unique index agent_email_key on agent (lower(email));

-- API tokens are shown once and stored as sha256 only.
create table api_token (
    api_token_id  bigint generated always as identity primary key,
    agent_id      bigint not null references agent on delete cascade,
    token_sha256  bytea not null unique,
    created_at    timestamptz not null default now(),
    last_used_at  timestamptz
);

create table mailbox (
    mailbox_id  bigint generated always as identity primary key,
    name        text not null,
    address     text not null,
    -- imap[s]://user:pass@host:port/FOLDER?starttls=true ; secrets live here, never printed
    imap_url    text not null,
    smtp_url    text,
    created_at  timestamptz not null default now()
);
create unique index mailbox_address_key on mailbox (lower(address));

-- Teams grant agents access to mailboxes (admins and leads see every mailbox).
create table team (
    team_id  bigint generated always as identity primary key,
    name     text not null unique
);
create table team_member (
    team_id   bigint not null references team on delete cascade,
    agent_id  bigint not null references agent on delete cascade,
    primary key (team_id, agent_id)
);
create table team_mailbox (
    team_id     bigint not null references team on delete cascade,
    mailbox_id  bigint not null references mailbox on delete cascade,
    primary key (team_id, mailbox_id)
);

-- The IMAP cursor: highest UID stored per (mailbox, folder, UIDVALIDITY) (RFC 3501 2.3.1.1).
-- It is advanced in the same transaction that stores the messages.
create table imap_folder_state (
    mailbox_id    bigint not null references mailbox on delete cascade,
    folder        text not null,
    uid_validity  bigint not null,
    last_uid      bigint not null default 0,
    updated_at    timestamptz not null default now(),
    primary key (mailbox_id, folder, uid_validity)
);

-- What the poller last saw, for /healthz and the admin pages.
create table mailbox_health (
    mailbox_id            bigint primary key references mailbox on delete cascade,
    polled_by             text,
    last_poll_at          timestamptz,
    last_ok_at            timestamptz,
    last_error            text,
    last_error_at         timestamptz,
    consecutive_failures  integer not null default 0
);

create table customer (
    customer_id  bigint generated always as identity primary key,
    email        text not null,
    name         text,
    created_at   timestamptz not null default now()
);
create unique index customer_email_key on customer (lower(email));

-- ticket_id is the ticket number users see ([#N] in subjects).
create table ticket (
    ticket_id          bigint generated always as identity primary key,
    mailbox_id         bigint not null references mailbox,
    subject            text not null,
    status             text not null default 'open'
                       check (status in ('open', 'pending', 'snoozed', 'closed')),
    priority           text not null default 'normal'
                       check (priority in ('low', 'normal', 'high', 'urgent')),
    customer_id        bigint references customer,
    assignee_agent_id  bigint references agent,
    created_at         timestamptz not null default now(),
    last_message_at    timestamptz not null default now(),
    message_count      integer not null default 0
);
create index ticket_mailbox_last_message_idx on ticket (mailbox_id, last_message_at desc, ticket_id desc);
create index ticket_last_message_idx on ticket (last_message_at desc, ticket_id desc);
create index ticket_customer_idx on ticket (customer_id);

create table tag (
    tag_id  bigint generated always as identity primary key,
    name    text not null
);
create unique index tag_name_key on tag (lower(name));
create table ticket_tag (
    ticket_id  bigint not null references ticket on delete cascade,
    tag_id     bigint not null references tag on delete cascade,
    primary key (ticket_id, tag_id)
);

-- Everyone on the conversation except our own addresses. email is stored lower-cased.
create table ticket_participant (
    ticket_id  bigint not null references ticket on delete cascade,
    email      text not null,
    name       text,
    role       text not null check (role in ('customer', 'cc')),
    primary key (ticket_id, email)
);

-- Every fetched message, byte for byte, whatever became of it.
create table raw_message (
    raw_message_id     bigint generated always as identity primary key,
    mailbox_id         bigint not null references mailbox on delete cascade,
    -- Message-ID without angle brackets; null when absent or empty (never a dedupe key alone)
    header_message_id  text,
    -- dedupe hash: sha256(body) when a Message-ID exists, else sha256(whole raw message)
    content_sha256     bytea not null,
    raw                bytea not null,
    folder             text,
    uid_validity       bigint,
    uid                bigint,
    received_at        timestamptz not null,
    -- ticket | threaded | automated_dropped | own_address
    disposition        text not null,
    created_at         timestamptz not null default now()
);
create unique index raw_message_dedupe_key
    on raw_message (mailbox_id, coalesce(header_message_id, ''), content_sha256);

create table message (
    message_id         bigint generated always as identity primary key,
    ticket_id          bigint not null references ticket on delete cascade,
    raw_message_id     bigint references raw_message,
    direction          text not null check (direction in ('inbound', 'outbound')),
    from_email         text,
    from_name          text,
    -- [{"email": "...", "name": "..."}]
    to_addrs           jsonb not null default '[]',
    cc_addrs           jsonb not null default '[]',
    reply_to_addrs     jsonb not null default '[]',
    subject            text not null default '',
    text_body          text not null default '',
    -- sanitised with ammonia; null when the mail had no HTML part
    html_body          text,
    header_message_id  text,
    in_reply_to        text,
    "references"       text[] not null default '{}',
    automated          text check (automated in ('auto_reply', 'bounce', 'list')),
    -- Date header when sane, else the receipt time
    created_at         timestamptz not null,
    -- outbound only: queued | sent | failed
    delivery_state     text check (delivery_state in ('queued', 'sent', 'failed')),
    delivery_error     text
);
create index message_ticket_idx on message (ticket_id, created_at, message_id);
create index message_header_message_id_idx on message (header_message_id);

create table attachment (
    attachment_id  bigint generated always as identity primary key,
    message_id     bigint not null references message on delete cascade,
    filename       text not null,
    content_type   text not null,
    size           bigint not null,
    sha256         bytea not null,
    inline         boolean not null default false,
    content_id     text,
    content        bytea not null
);
create index attachment_message_idx on attachment (message_id);

-- The ticket's timeline: created, message_added, delivery_failed, status_changed, ...
create table ticket_event (
    ticket_event_id  bigint generated always as identity primary key,
    ticket_id        bigint not null references ticket on delete cascade,
    kind             text not null,
    detail           jsonb not null default '{}',
    agent_id         bigint references agent,
    created_at       timestamptz not null default now()
);
create index ticket_event_ticket_idx on ticket_event (ticket_id, created_at);

-- Mail that could not become a ticket: kept with its raw bytes and the reason.
create table quarantine (
    quarantine_id  bigint generated always as identity primary key,
    mailbox_id     bigint not null references mailbox on delete cascade,
    folder         text,
    uid_validity   bigint,
    uid            bigint,
    raw            bytea not null,
    reason         text not null,
    created_at     timestamptz not null default now()
);
