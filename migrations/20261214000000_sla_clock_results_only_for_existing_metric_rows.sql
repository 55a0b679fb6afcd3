-- The per-statement trigger of migration 20261213000000 ranked the clocks of every ticket that
-- gained one, then found no metric row for most of them: ingest writes a batch's clocks before
-- its new tickets' metric rows (which read the results themselves), so ~3.6 ms of each batch
-- of ~800 new clocks went to nothing. The tickets are now narrowed to those with a metric row
-- first, by arrays rather than joins: on a new database whose tables have no statistics yet,
-- a join to the transition table was planned as a nested loop over sequential scans
-- (58-530 ms per batch, growing with the table).
create or replace function sla_clock_results_to_ticket_metric_rows() returns trigger
language plpgsql as $$
declare
    tickets bigint[];
begin
    select array_agg(distinct ticket_id) into tickets
      from new_rows where kind in ('first_response', 'resolution');
    select array_agg(ticket_id) into tickets
      from ticket_metric where ticket_id = any(tickets);
    if tickets is null then
        return null;
    end if;
    update ticket_metric m
       set sla_first_response = r.first_response, sla_resolution = r.resolution
      from (select c.ticket_id,
                   (array['running', 'achieved', 'breached'])[max(c.rank) filter (where c.kind = 'first_response')] as first_response,
                   (array['running', 'achieved', 'breached'])[max(c.rank) filter (where c.kind = 'resolution')] as resolution
            from (select ticket_id, kind, case when breached_at is not null then 3
                                               when achieved_at is not null then 2 else 1 end as rank
                  from sla_clock
                  where kind in ('first_response', 'resolution') and ticket_id = any(tickets)) c
            group by c.ticket_id) r
     where m.ticket_id = r.ticket_id and m.ticket_id = any(tickets)
       and (m.sla_first_response is distinct from r.first_response
            or m.sla_resolution is distinct from r.resolution);
    return null;
end $$;
