-- Ingest (src/analytics/metrics.rs, on_created) inserts a ticket_metric row for every new
-- ticket. Three row triggers filled its copies of the ticket (20261208000100 scope and customer,
-- 20261209000000 tags, 20261209000300 active), each reading the ticket again: 75 ms of a
-- 400 ms batch of 500 mails. They become one trigger that reads the ticket once, and that fires
-- only when the writer left the copies unset (ticket_mailbox_id is never null once filled):
-- on_created now sets every copy itself, so the ingest path runs no row trigger here.
drop trigger ticket_metric_fill_ticket_scope on ticket_metric;
drop trigger ticket_metric_fill_ticket_tags on ticket_metric;
drop trigger ticket_metric_fill_ticket_active on ticket_metric;
drop function ticket_metric_fill_ticket_active();

create function ticket_metric_fill() returns trigger
language plpgsql as $$
begin
    select t.mailbox_id, t.team_id, t.assignee_agent_id, t.priority, t.customer_id,
           not t.spam and t.status <> 'closed'
      into new.ticket_mailbox_id, new.ticket_team_id, new.ticket_assignee_agent_id,
           new.ticket_priority, new.ticket_customer_id, new.ticket_active
      from ticket t where t.ticket_id = new.ticket_id;
    new.ticket_active := coalesce(new.ticket_active, false);
    if new.ticket_customer_id is not null then
        new.ticket_customer_stage_id := customer_effective_stage(new.ticket_customer_id);
        new.ticket_customer_vip := customer_effective_vip(new.ticket_customer_id);
    else
        new.ticket_customer_stage_id := null;
        new.ticket_customer_vip := false;
    end if;
    new.ticket_tag_ids := ticket_tag_ids_of(new.ticket_id);
    return new;
end $$;
create trigger ticket_metric_fill before insert on ticket_metric
    for each row when (new.ticket_mailbox_id is null)
    execute function ticket_metric_fill();
