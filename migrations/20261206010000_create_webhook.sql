-- Signed webhooks: endpoints admins register, and the durable delivery queue (the outbox
-- pattern: a delivery row is written in the same transaction as the ticket change).

create table webhook_endpoint (
    webhook_endpoint_id  bigint generated always as identity primary key,
    url                  text not null,
    -- event names, e.g. {ticket.created,reply.sent}; checked by the application
    events               text[] not null,
    -- the HMAC key; shown to no one after it is set
    secret               text not null,
    enabled              boolean not null default true,
    -- set when deliveries have failed without a success since then; cleared by a 2xx
    failing_since        timestamptz,
    -- why the endpoint was turned off by Frontdesk (a day of failures); null otherwise
    disabled_reason      text,
    disabled_at          timestamptz,
    created_at           timestamptz not null default now()
);

create table webhook_delivery (
    webhook_delivery_id  bigint generated always as identity primary key,
    -- the event id the receiver sees (payload "id", Frontdesk-Event-Id): stable across retries
    event_id             text not null unique default gen_random_uuid()::text,
    -- a registered endpoint, or (for a rule's webhook action) a URL and optional secret
    webhook_endpoint_id  bigint references webhook_endpoint on delete cascade,
    url                  text,
    secret               text,
    rule_id              bigint references rule on delete set null,
    event                text not null,
    ticket_id            bigint,
    -- the body without id/event/at, which are added from the columns at each attempt
    payload              jsonb not null,
    state                text not null default 'pending'
                         check (state in ('pending', 'delivered', 'failed')),
    attempts             integer not null default 0,
    -- when the next attempt is due; a claimed row is pushed forward by the lease, so no other
    -- node takes it while it is being delivered
    next_attempt_at      timestamptz not null default now(),
    last_attempt_at      timestamptz,
    last_status          integer,
    last_error           text,
    delivered_at         timestamptz,
    created_at           timestamptz not null default now(),
    check ((webhook_endpoint_id is null) <> (url is null))
);
create index webhook_delivery_due_idx on webhook_delivery (next_attempt_at) where state = 'pending';
create index webhook_delivery_endpoint_idx on webhook_delivery (webhook_endpoint_id, webhook_delivery_id desc);
