-- Agents in the admin console: available / away, a cap of open tickets (both used by
-- assignment), and one-time links to set a password (invitations and password resets),
-- mailed through the outbox.

-- Away agents are not offered new tickets by assignment (next issue); they can still work.
alter table agent add column available boolean not null default true;
-- At most this many open tickets assigned by assignment; null = no cap.
alter table agent add column max_open_tickets integer check (max_open_tickets > 0);

-- A one-time link `{public_url}/invite/{token}` where an agent sets their password: when
-- invited ('invite') or after an admin reset it ('password_reset'). Only the token's sha256
-- is stored. A link is good once (used_at), until expires_at (72 hours after creation).
create table invitation (
    invitation_id  bigint generated always as identity primary key,
    agent_id       bigint not null references agent on delete cascade,
    token_sha256   bytea not null unique,
    purpose        text not null check (purpose in ('invite', 'password_reset')),
    created_at     timestamptz not null default now(),
    expires_at     timestamptz not null default now() + interval '72 hours',
    used_at        timestamptz
);
create index invitation_agent_idx on invitation (agent_id) where used_at is null;

-- The outbox also carries system mail: the mail with an invitation's link. Such a row has no
-- message, no notification and no ticket; its outcome touches nothing but the row.
alter table outbox add column invitation_id bigint unique references invitation on delete cascade;
alter table outbox drop constraint outbox_subject_check;
alter table outbox add constraint outbox_subject_check
    check (num_nonnulls(message_id, notification_id, invitation_id) = 1);
