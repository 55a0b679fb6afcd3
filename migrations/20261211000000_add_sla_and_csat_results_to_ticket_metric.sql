-- Analytics, tickets.csv (src/analytics/queries.rs, tickets_csv_chunks): each row shows the
-- ticket's SLA results and latest CSAT rating. Aggregating a million tickets' clocks and
-- surveys at export time cost more than the rest of a two-year export (1.1 s of 2.7 s), so
-- the metric row keeps the three results, kept equal to the clocks and surveys by the
-- triggers below (written in the transaction that changes a clock or a rating).
--   sla_first_response, sla_resolution: over the ticket's clocks of that kind, every cycle:
--     'breached' if any breached, else 'achieved' if any achieved, else 'running'; null
--     without a clock of that kind.
--   csat: the rating of the ticket's latest rated survey (good | okay | bad), else null.
alter table ticket_metric
    add column sla_first_response text,
    add column sla_resolution     text,
    add column csat               text;

-- The SLA result of one ticket's clocks of one kind (see above).
create function ticket_sla_result(p_ticket bigint, p_kind text) returns text
language sql stable as $$
    select (array['running', 'achieved', 'breached'])[max(case when c.breached_at is not null then 3
                                                               when c.achieved_at is not null then 2
                                                               else 1 end)]
    from sla_clock c where c.ticket_id = p_ticket and c.kind = p_kind
$$;

-- The rating of one ticket's latest rated survey.
create function ticket_csat_rating(p_ticket bigint) returns text
language sql stable as $$
    select s.rating from csat_survey s
    where s.ticket_id = p_ticket and s.rated_at is not null
    order by s.rated_at desc, s.csat_survey_id desc limit 1
$$;

-- Sets every metric row's three results from the clocks and surveys, set-based (this
-- migration's backfill; the seeder calls it after writing its history with the triggers off).
create function ticket_metric_fill_results() returns void
language sql as $$
    update ticket_metric m set sla_first_response = x.first_response, sla_resolution = x.resolution
    from (select c.ticket_id,
                 (array['running', 'achieved', 'breached'])[max(c.rank) filter (where c.kind = 'first_response')] as first_response,
                 (array['running', 'achieved', 'breached'])[max(c.rank) filter (where c.kind = 'resolution')] as resolution
          from (select ticket_id, kind, case when breached_at is not null then 3
                                             when achieved_at is not null then 2 else 1 end as rank
                from sla_clock where kind in ('first_response', 'resolution')) c
          group by c.ticket_id) x
    where m.ticket_id = x.ticket_id
      and (m.sla_first_response is distinct from x.first_response
           or m.sla_resolution is distinct from x.resolution);
    update ticket_metric m set csat = x.rating
    from (select distinct on (s.ticket_id) s.ticket_id, s.rating from csat_survey s
          where s.rated_at is not null
          order by s.ticket_id, s.rated_at desc, s.csat_survey_id desc) x
    where m.ticket_id = x.ticket_id and m.csat is distinct from x.rating;
$$;
select ticket_metric_fill_results();

-- Reports and the export read metric rows by ticket number and by creation time, which go
-- together; updates (a first response, a close, the results above) moved rows to the table's
-- end and the export's key-order scan read a page per row (correlation 0.14 at a million
-- tickets, after the backfill above). Room on each page keeps an updated row on its page, and
-- the table is rewritten once in key order (about 3 s at a million tickets, under lock).
alter table ticket_metric set (fillfactor = 80);
cluster ticket_metric using ticket_metric_pkey;

-- A clock started, stopped, breached, moved or dropped: its ticket's results again (both
-- tickets' when a clock moves to another ticket).
create function sla_clock_results_to_ticket_metric() returns trigger
language plpgsql as $$
declare
    t bigint;
begin
    for t in select distinct x from unnest(case tg_op when 'INSERT' then array[new.ticket_id]
                                                       when 'DELETE' then array[old.ticket_id]
                                                       else array[old.ticket_id, new.ticket_id] end) x
    loop
        update ticket_metric m
           set sla_first_response = r.first_response, sla_resolution = r.resolution
          from (select ticket_sla_result(t, 'first_response') as first_response,
                       ticket_sla_result(t, 'resolution') as resolution) r
         where m.ticket_id = t
           and (m.sla_first_response is distinct from r.first_response
                or m.sla_resolution is distinct from r.resolution);
    end loop;
    return null;
end $$;
create trigger sla_clock_results_to_ticket_metric_insert
    after insert on sla_clock
    for each row when (new.kind in ('first_response', 'resolution'))
    execute function sla_clock_results_to_ticket_metric();
create trigger sla_clock_results_to_ticket_metric_update
    after update of ticket_id, kind, achieved_at, breached_at on sla_clock
    for each row when (new.kind in ('first_response', 'resolution')
                       or old.kind in ('first_response', 'resolution'))
    execute function sla_clock_results_to_ticket_metric();
create trigger sla_clock_results_to_ticket_metric_delete
    after delete on sla_clock
    for each row when (old.kind in ('first_response', 'resolution'))
    execute function sla_clock_results_to_ticket_metric();

-- A survey rated (or rated again, moved or removed): its ticket's latest rating again.
create function csat_rating_to_ticket_metric() returns trigger
language plpgsql as $$
declare
    t bigint;
begin
    for t in select distinct x from unnest(case tg_op when 'INSERT' then array[new.ticket_id]
                                                       when 'DELETE' then array[old.ticket_id]
                                                       else array[old.ticket_id, new.ticket_id] end) x
    loop
        update ticket_metric m set csat = r.rating
          from (select ticket_csat_rating(t) as rating) r
         where m.ticket_id = t and m.csat is distinct from r.rating;
    end loop;
    return null;
end $$;
create trigger csat_rating_to_ticket_metric_insert
    after insert on csat_survey
    for each row when (new.rated_at is not null)
    execute function csat_rating_to_ticket_metric();
create trigger csat_rating_to_ticket_metric_update
    after update of ticket_id, rating, rated_at on csat_survey
    for each row execute function csat_rating_to_ticket_metric();
create trigger csat_rating_to_ticket_metric_delete
    after delete on csat_survey
    for each row when (old.rated_at is not null)
    execute function csat_rating_to_ticket_metric();
