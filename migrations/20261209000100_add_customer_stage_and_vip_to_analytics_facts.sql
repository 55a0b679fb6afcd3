-- Analytics by customer (src/analytics/breakdown.rs, Grouping::LifecycleStage and ::Vip, and
-- the lifecycle_stage / vip filters of every report): a ticket counts under its customer's
-- effective lifecycle stage and VIP flag, their own else their company's (crate::customers).
-- Working that out per report meant hashing every staged customer and every customer of a
-- staged company, then probing it once per fact: most of a customers report at a million
-- tickets. So each fact row that already carries its ticket's customer (20261208000100) also
-- carries that customer's effective stage and VIP flag, kept equal by the triggers below: on
-- insert, when the ticket changes customer, and when a customer or a company changes stage,
-- VIP flag or company. Tickets without a customer: no stage, not VIP.
alter table ticket_metric
    add column ticket_customer_stage_id bigint,
    add column ticket_customer_vip      boolean not null default false;
alter table ticket_resolution
    add column ticket_customer_stage_id bigint,
    add column ticket_customer_vip      boolean not null default false;
alter table sla_clock
    add column ticket_customer_stage_id bigint,
    add column ticket_customer_vip      boolean not null default false;
alter table csat_survey
    add column ticket_customer_stage_id bigint,
    add column ticket_customer_vip      boolean not null default false;

-- Only the customers with an effective stage or VIP flag are written: the rest keep the
-- defaults (no stage, not VIP).
create temporary table effective_customer on commit drop as
select c.customer_id, coalesce(c.lifecycle_stage_id, co.lifecycle_stage_id) as stage_id,
       coalesce(c.vip, co.vip, false) as vip
from customer c left join company co on co.company_id = c.company_id
where coalesce(c.lifecycle_stage_id, co.lifecycle_stage_id) is not null or coalesce(c.vip, co.vip, false);
create unique index on effective_customer (customer_id);
analyze effective_customer;

update ticket_metric f set ticket_customer_stage_id = e.stage_id, ticket_customer_vip = e.vip
from effective_customer e where e.customer_id = f.ticket_customer_id;
update ticket_resolution f set ticket_customer_stage_id = e.stage_id, ticket_customer_vip = e.vip
from effective_customer e where e.customer_id = f.ticket_customer_id;
update sla_clock f set ticket_customer_stage_id = e.stage_id, ticket_customer_vip = e.vip
from effective_customer e where e.customer_id = f.ticket_customer_id;
update csat_survey f set ticket_customer_stage_id = e.stage_id, ticket_customer_vip = e.vip
from effective_customer e where e.customer_id = f.ticket_customer_id;

-- One customer's effective stage (null: none) and VIP flag (false for no customer).
create function customer_effective_stage(p_customer_id bigint) returns bigint
language sql stable as $$
    select coalesce(c.lifecycle_stage_id, co.lifecycle_stage_id)
    from customer c left join company co on co.company_id = c.company_id
    where c.customer_id = p_customer_id
$$;
create function customer_effective_vip(p_customer_id bigint) returns boolean
language sql stable as $$
    select coalesce((select coalesce(c.vip, co.vip, false)
                     from customer c left join company co on co.company_id = c.company_id
                     where c.customer_id = p_customer_id), false)
$$;

-- A new fact row: its ticket's values as before, then its customer's stage and VIP flag.
create or replace function analytics_fact_fill_ticket_scope() returns trigger
language plpgsql as $$
begin
    if new.ticket_mailbox_id is null then
        select t.mailbox_id, t.team_id, t.assignee_agent_id, t.priority, t.customer_id
          into new.ticket_mailbox_id, new.ticket_team_id, new.ticket_assignee_agent_id,
               new.ticket_priority, new.ticket_customer_id
          from ticket t where t.ticket_id = new.ticket_id;
    end if;
    if new.ticket_customer_id is not null then
        new.ticket_customer_stage_id := customer_effective_stage(new.ticket_customer_id);
        new.ticket_customer_vip := customer_effective_vip(new.ticket_customer_id);
    else
        new.ticket_customer_stage_id := null;
        new.ticket_customer_vip := false;
    end if;
    return new;
end $$;

-- Every fact of the tickets of the given customers takes their current stage and VIP flag.
create function analytics_sync_customers(p_customer_ids bigint[]) returns void
language plpgsql as $$
begin
    update ticket_metric set ticket_customer_stage_id = customer_effective_stage(ticket_customer_id),
        ticket_customer_vip = customer_effective_vip(ticket_customer_id)
    where ticket_customer_id = any(p_customer_ids);
    update ticket_resolution set ticket_customer_stage_id = customer_effective_stage(ticket_customer_id),
        ticket_customer_vip = customer_effective_vip(ticket_customer_id)
    where ticket_customer_id = any(p_customer_ids);
    update sla_clock set ticket_customer_stage_id = customer_effective_stage(ticket_customer_id),
        ticket_customer_vip = customer_effective_vip(ticket_customer_id)
    where ticket_customer_id = any(p_customer_ids);
    update csat_survey set ticket_customer_stage_id = customer_effective_stage(ticket_customer_id),
        ticket_customer_vip = customer_effective_vip(ticket_customer_id)
    where ticket_customer_id = any(p_customer_ids);
end $$;

-- The facts need an index by customer for those updates.
create index ticket_metric_ticket_customer_idx on ticket_metric (ticket_customer_id)
    where ticket_customer_id is not null;
create index ticket_resolution_ticket_customer_idx on ticket_resolution (ticket_customer_id)
    where ticket_customer_id is not null;
create index sla_clock_ticket_customer_idx on sla_clock (ticket_customer_id)
    where ticket_customer_id is not null;
create index csat_survey_ticket_customer_idx on csat_survey (ticket_customer_id)
    where ticket_customer_id is not null;

-- A ticket's change of customer (the other values as before).
create or replace function ticket_sync_analytics_scope() returns trigger
language plpgsql as $$
declare
    stage bigint := customer_effective_stage(new.customer_id);
    vip boolean := customer_effective_vip(new.customer_id);
begin
    update ticket_metric set ticket_mailbox_id = new.mailbox_id, ticket_team_id = new.team_id,
        ticket_assignee_agent_id = new.assignee_agent_id, ticket_priority = new.priority,
        ticket_customer_id = new.customer_id, ticket_customer_stage_id = stage, ticket_customer_vip = vip
    where ticket_id = new.ticket_id;
    update ticket_resolution set ticket_mailbox_id = new.mailbox_id, ticket_team_id = new.team_id,
        ticket_assignee_agent_id = new.assignee_agent_id, ticket_priority = new.priority,
        ticket_customer_id = new.customer_id, ticket_customer_stage_id = stage, ticket_customer_vip = vip
    where ticket_id = new.ticket_id;
    update sla_clock set ticket_mailbox_id = new.mailbox_id, ticket_team_id = new.team_id,
        ticket_assignee_agent_id = new.assignee_agent_id, ticket_priority = new.priority,
        ticket_customer_id = new.customer_id, ticket_customer_stage_id = stage, ticket_customer_vip = vip
    where ticket_id = new.ticket_id;
    update csat_survey set ticket_mailbox_id = new.mailbox_id, ticket_team_id = new.team_id,
        ticket_assignee_agent_id = new.assignee_agent_id, ticket_priority = new.priority,
        ticket_customer_id = new.customer_id, ticket_customer_stage_id = stage, ticket_customer_vip = vip
    where ticket_id = new.ticket_id;
    return null;
end $$;

-- A customer's own stage, VIP flag or company changes (a deleted company or stage sets them
-- to null through their foreign keys, which fires this too).
create function customer_sync_analytics() returns trigger
language plpgsql as $$
begin
    perform analytics_sync_customers(array[new.customer_id]);
    return null;
end $$;
create trigger customer_sync_analytics
    after update of lifecycle_stage_id, vip, company_id on customer
    for each row
    when (old.lifecycle_stage_id is distinct from new.lifecycle_stage_id
          or old.vip is distinct from new.vip
          or old.company_id is distinct from new.company_id)
    execute function customer_sync_analytics();

-- A company's stage or VIP flag changes: its customers' facts follow.
create function company_sync_analytics() returns trigger
language plpgsql as $$
begin
    perform analytics_sync_customers(
        array(select customer_id from customer where company_id = new.company_id));
    return null;
end $$;
create trigger company_sync_analytics
    after update of lifecycle_stage_id, vip on company
    for each row
    when (old.lifecycle_stage_id is distinct from new.lifecycle_stage_id
          or old.vip is distinct from new.vip)
    execute function company_sync_analytics();
