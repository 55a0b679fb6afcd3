-- Analytics (src/analytics/queries.rs, scope_sql!): every report filters and groups its facts
-- by their ticket as it is now (mailbox, team, assignee, priority, customer). Joining a
-- period's hundred thousand facts to the ticket table costs more than the rest of a report at a
-- million tickets, so each fact row carries a copy of those five values, kept equal to the
-- ticket's by the triggers below (filled on insert, updated when the ticket changes).
alter table ticket_metric
    add column ticket_mailbox_id        bigint,
    add column ticket_team_id           bigint,
    add column ticket_assignee_agent_id bigint,
    add column ticket_priority          text,
    add column ticket_customer_id       bigint;
alter table ticket_resolution
    add column ticket_mailbox_id        bigint,
    add column ticket_team_id           bigint,
    add column ticket_assignee_agent_id bigint,
    add column ticket_priority          text,
    add column ticket_customer_id       bigint;
alter table sla_clock
    add column ticket_mailbox_id        bigint,
    add column ticket_team_id           bigint,
    add column ticket_assignee_agent_id bigint,
    add column ticket_priority          text,
    add column ticket_customer_id       bigint;
alter table csat_survey
    add column ticket_mailbox_id        bigint,
    add column ticket_team_id           bigint,
    add column ticket_assignee_agent_id bigint,
    add column ticket_priority          text,
    add column ticket_customer_id       bigint;

update ticket_metric f set ticket_mailbox_id = t.mailbox_id, ticket_team_id = t.team_id,
    ticket_assignee_agent_id = t.assignee_agent_id, ticket_priority = t.priority,
    ticket_customer_id = t.customer_id
from ticket t where t.ticket_id = f.ticket_id;
update ticket_resolution f set ticket_mailbox_id = t.mailbox_id, ticket_team_id = t.team_id,
    ticket_assignee_agent_id = t.assignee_agent_id, ticket_priority = t.priority,
    ticket_customer_id = t.customer_id
from ticket t where t.ticket_id = f.ticket_id;
update sla_clock f set ticket_mailbox_id = t.mailbox_id, ticket_team_id = t.team_id,
    ticket_assignee_agent_id = t.assignee_agent_id, ticket_priority = t.priority,
    ticket_customer_id = t.customer_id
from ticket t where t.ticket_id = f.ticket_id;
update csat_survey f set ticket_mailbox_id = t.mailbox_id, ticket_team_id = t.team_id,
    ticket_assignee_agent_id = t.assignee_agent_id, ticket_priority = t.priority,
    ticket_customer_id = t.customer_id
from ticket t where t.ticket_id = f.ticket_id;

-- A new fact row takes its ticket's values (a writer that already has them may set them;
-- ticket_mailbox_id is never null once filled, since ticket.mailbox_id is not null).
create function analytics_fact_fill_ticket_scope() returns trigger
language plpgsql as $$
begin
    if new.ticket_mailbox_id is null then
        select t.mailbox_id, t.team_id, t.assignee_agent_id, t.priority, t.customer_id
          into new.ticket_mailbox_id, new.ticket_team_id, new.ticket_assignee_agent_id,
               new.ticket_priority, new.ticket_customer_id
          from ticket t where t.ticket_id = new.ticket_id;
    end if;
    return new;
end $$;
create trigger ticket_metric_fill_ticket_scope before insert on ticket_metric
    for each row execute function analytics_fact_fill_ticket_scope();
create trigger ticket_resolution_fill_ticket_scope before insert on ticket_resolution
    for each row execute function analytics_fact_fill_ticket_scope();
create trigger sla_clock_fill_ticket_scope before insert on sla_clock
    for each row execute function analytics_fact_fill_ticket_scope();
create trigger csat_survey_fill_ticket_scope before insert on csat_survey
    for each row execute function analytics_fact_fill_ticket_scope();

-- A ticket's change of mailbox, team, assignee, priority or customer is copied to its facts.
create function ticket_sync_analytics_scope() returns trigger
language plpgsql as $$
begin
    update ticket_metric set ticket_mailbox_id = new.mailbox_id, ticket_team_id = new.team_id,
        ticket_assignee_agent_id = new.assignee_agent_id, ticket_priority = new.priority,
        ticket_customer_id = new.customer_id
    where ticket_id = new.ticket_id;
    update ticket_resolution set ticket_mailbox_id = new.mailbox_id, ticket_team_id = new.team_id,
        ticket_assignee_agent_id = new.assignee_agent_id, ticket_priority = new.priority,
        ticket_customer_id = new.customer_id
    where ticket_id = new.ticket_id;
    update sla_clock set ticket_mailbox_id = new.mailbox_id, ticket_team_id = new.team_id,
        ticket_assignee_agent_id = new.assignee_agent_id, ticket_priority = new.priority,
        ticket_customer_id = new.customer_id
    where ticket_id = new.ticket_id;
    update csat_survey set ticket_mailbox_id = new.mailbox_id, ticket_team_id = new.team_id,
        ticket_assignee_agent_id = new.assignee_agent_id, ticket_priority = new.priority,
        ticket_customer_id = new.customer_id
    where ticket_id = new.ticket_id;
    return null;
end $$;
create trigger ticket_sync_analytics_scope
    after update of mailbox_id, team_id, assignee_agent_id, priority, customer_id on ticket
    for each row
    when (old.mailbox_id is distinct from new.mailbox_id
          or old.team_id is distinct from new.team_id
          or old.assignee_agent_id is distinct from new.assignee_agent_id
          or old.priority is distinct from new.priority
          or old.customer_id is distinct from new.customer_id)
    execute function ticket_sync_analytics_scope();
