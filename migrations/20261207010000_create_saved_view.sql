-- Saved views of the inbox (issue #16): a name and an inbox query string, personal or shared
-- with a team or with everyone, listed in each agent's own order.
--
-- `query` is the inbox's canonical query string (`folder=open&priority=urgent&sort=oldest`),
-- written only after the inbox's own parser accepted it, and read back through that parser.
-- Mailbox access is never stored: whoever opens or counts a view sees only their own
-- mailboxes' tickets.
create table saved_view (
    saved_view_id   bigint generated always as identity primary key,
    name            text not null check (length(btrim(name)) between 1 and 80),
    query           text not null,
    owner_agent_id  bigint not null references agent on delete cascade,
    visibility      text not null check (visibility in ('personal', 'team', 'everyone')),
    -- the team a `team` view is shared with; see saved_view_team_deleted below
    team_id         bigint references team on delete cascade,
    created_at      timestamptz not null default now(),
    check ((visibility = 'team') = (team_id is not null))
);
create index saved_view_owner_idx on saved_view (owner_agent_id);
create index saved_view_team_idx on saved_view (team_id) where team_id is not null;
create index saved_view_everyone_idx on saved_view (saved_view_id) where visibility = 'everyone';

-- Each agent's order of the views they see. A view without a row (new, or newly shared with
-- them) comes after the ordered ones, oldest first.
create table saved_view_position (
    agent_id       bigint not null references agent on delete cascade,
    saved_view_id  bigint not null references saved_view on delete cascade,
    position       integer not null,
    primary key (agent_id, saved_view_id)
);

-- Deleting a team keeps its views: each becomes a personal view of its owner (who may share
-- it again). Runs before the foreign key's cascade, which then finds nothing to delete.
create function saved_view_team_deleted() returns trigger language plpgsql as $$
begin
    update saved_view set visibility = 'personal', team_id = null where team_id = old.team_id;
    return old;
end
$$;
create trigger saved_view_team_deleted before delete on team
    for each row execute function saved_view_team_deleted();

-- The sidebar counts each view's tickets still to be done (not closed, not spam) within the
-- viewer's mailboxes. This partial index holds every column such a count filters on, so each
-- count is an index-only scan of the active tickets (of the viewer's mailboxes), never a walk
-- of the ticket table; the tag filter joins ticket_tag by (tag_id, ticket_id), the VIP and
-- stage filters go through the customer indexes as the inbox list does.
create index ticket_active_view_idx on ticket (mailbox_id, status)
    include (assignee_agent_id, priority, customer_id, waiting_since, sla_at_risk, ticket_id)
    where not spam and status <> 'closed';
