-- Mailbox settings of the admin console. The signature already exists (plain text appended
-- to replies, 20261129000004). The From name format is "{agent} via {mailbox}" by default,
-- which is what replies carried before; a mailbox belongs to at most one team.
alter table mailbox
    add column from_name_format text not null default '{agent} via {mailbox}',
    add column team_id bigint references team on delete set null;

-- How a team's new tickets are assigned: stored now, used by routing rules later.
alter table team
    add column assignment text not null default 'manual'
        check (assignment in ('manual', 'round_robin', 'least_loaded'));
