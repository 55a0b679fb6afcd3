-- Analytics leave out excluded tickets (spam, merged, bulk: ticket_metric.excluded). On
-- ticket_resolution, sla_clock and csat_survey that was an anti-join with the excluded tickets
-- per fact row: about a quarter of each report query at a million tickets. Those facts now
-- carry the flag (ticket_excluded), kept equal to ticket_metric.excluded by the triggers below
-- (filled on insert; copied when a metric row is written), and reports test the column.
alter table ticket_resolution add column ticket_excluded boolean not null default false;
alter table sla_clock add column ticket_excluded boolean not null default false;
alter table csat_survey add column ticket_excluded boolean not null default false;

update ticket_resolution f set ticket_excluded = true
from ticket_metric m where m.ticket_id = f.ticket_id and m.excluded is not null;
update sla_clock f set ticket_excluded = true
from ticket_metric m where m.ticket_id = f.ticket_id and m.excluded is not null;
update csat_survey f set ticket_excluded = true
from ticket_metric m where m.ticket_id = f.ticket_id and m.excluded is not null;

create function analytics_fact_fill_ticket_excluded() returns trigger
language plpgsql as $$
begin
    new.ticket_excluded := exists (select 1 from ticket_metric m
                                   where m.ticket_id = new.ticket_id and m.excluded is not null);
    return new;
end $$;
create trigger ticket_resolution_fill_ticket_excluded before insert on ticket_resolution
    for each row execute function analytics_fact_fill_ticket_excluded();
create trigger sla_clock_fill_ticket_excluded before insert on sla_clock
    for each row execute function analytics_fact_fill_ticket_excluded();
create trigger csat_survey_fill_ticket_excluded before insert on csat_survey
    for each row execute function analytics_fact_fill_ticket_excluded();

create function ticket_metric_sync_excluded() returns trigger
language plpgsql as $$
declare
    is_excluded boolean := new.excluded is not null;
begin
    update ticket_resolution set ticket_excluded = is_excluded
    where ticket_id = new.ticket_id and ticket_excluded <> is_excluded;
    update sla_clock set ticket_excluded = is_excluded
    where ticket_id = new.ticket_id and ticket_excluded <> is_excluded;
    update csat_survey set ticket_excluded = is_excluded
    where ticket_id = new.ticket_id and ticket_excluded <> is_excluded;
    return null;
end $$;
create trigger ticket_metric_sync_excluded_insert after insert on ticket_metric
    for each row when (new.excluded is not null)
    execute function ticket_metric_sync_excluded();
create trigger ticket_metric_sync_excluded_update after update of excluded on ticket_metric
    for each row when ((old.excluded is null) <> (new.excluded is null))
    execute function ticket_metric_sync_excluded();
