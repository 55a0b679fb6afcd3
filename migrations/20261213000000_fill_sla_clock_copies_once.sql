-- Ingest writes a batch's SLA clocks in one upsert (src/sla/clocks.rs, ClockRows::upsert) that
-- sets each clock's copies of its ticket itself (scope, the customer's effective stage and VIP,
-- excluded). The two fill triggers now run only for writers that leave the copies unset
-- (ticket_mailbox_id is never null once filled), as ticket_metric's since 20261210000000; and
-- new clocks' results reach ticket_metric once per statement instead of once per row (a batch
-- of 500 new tickets writes ~1,000 clocks: ~150 ms of row triggers).
drop trigger sla_clock_fill_ticket_scope on sla_clock;
create trigger sla_clock_fill_ticket_scope before insert on sla_clock
    for each row when (new.ticket_mailbox_id is null)
    execute function analytics_fact_fill_ticket_scope();

drop trigger sla_clock_fill_ticket_excluded on sla_clock;
create trigger sla_clock_fill_ticket_excluded before insert on sla_clock
    for each row when (new.ticket_mailbox_id is null)
    execute function analytics_fact_fill_ticket_excluded();

-- The metric rows' SLA results (ticket_sla_result of migration 20261211000000) of every ticket
-- that gained a first-response or resolution clock in the statement.
create function sla_clock_results_to_ticket_metric_rows() returns trigger
language plpgsql as $$
begin
    update ticket_metric m
       set sla_first_response = r.first_response, sla_resolution = r.resolution
      from (select c.ticket_id,
                   (array['running', 'achieved', 'breached'])[max(c.rank) filter (where c.kind = 'first_response')] as first_response,
                   (array['running', 'achieved', 'breached'])[max(c.rank) filter (where c.kind = 'resolution')] as resolution
            from (select ticket_id, kind, case when breached_at is not null then 3
                                               when achieved_at is not null then 2 else 1 end as rank
                  from sla_clock
                  where kind in ('first_response', 'resolution')
                    and ticket_id in (select ticket_id from new_rows
                                      where kind in ('first_response', 'resolution'))) c
            group by c.ticket_id) r
     where m.ticket_id = r.ticket_id
       and (m.sla_first_response is distinct from r.first_response
            or m.sla_resolution is distinct from r.resolution);
    return null;
end $$;
drop trigger sla_clock_results_to_ticket_metric_insert on sla_clock;
create trigger sla_clock_results_to_ticket_metric_insert
    after insert on sla_clock
    referencing new table as new_rows
    for each statement
    execute function sla_clock_results_to_ticket_metric_rows();
