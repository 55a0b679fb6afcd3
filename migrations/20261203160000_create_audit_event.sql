-- Every change to Frontdesk's configuration (agents, teams, mailboxes, tags, saved replies,
-- quarantine, rules, SLA policies), made in the admin console, the admin API or the CLI.
-- Ticket changes are not here: they are the ticket's timeline (ticket_event).
create table audit_event (
    audit_event_id  bigint generated always as identity primary key,
    at              timestamptz not null default now(),
    -- agent: agent_id is set; cli: the command line on the server; system: Frontdesk itself
    actor_kind      text not null check (actor_kind in ('agent', 'cli', 'system')),
    agent_id        bigint references agent on delete set null,
    -- The actor as shown (an agent's email at the time), kept if the agent is deleted.
    actor_label     text not null,
    -- dotted noun.verb: agent.invite, mailbox.update, team.create, tag.merge ...
    action          text not null,
    -- what was changed, as people name it: an email, an address, a team or tag name
    target          text not null,
    -- the changed fields before and after; secrets appear only as "changed"
    before          jsonb,
    after           jsonb,
    -- agent_id may become null when the agent row is deleted; only agents have one
    constraint audit_event_actor_check check (actor_kind = 'agent' or agent_id is null)
);
create index audit_event_at_idx on audit_event (audit_event_id desc);
create index audit_event_action_idx on audit_event (action, audit_event_id desc);
create index audit_event_actor_idx on audit_event (actor_label, audit_event_id desc);
