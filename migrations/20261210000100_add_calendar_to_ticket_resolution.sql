-- The overview names the calendars its business-hours figures were counted on: those of the
-- period's first responses (ticket_metric.calendar) and of its resolutions, which had to be
-- joined to ticket_metric (a hash join over every metric row: ~0.7 s of the overview page at a
-- million tickets). A resolution now carries its ticket's calendar, copied from ticket_metric
-- when the resolution is stored. The metric's calendar no longer changes once the ticket has a
-- resolution (src/analytics/metrics.rs, refresh), so the copy stays equal to it.
alter table ticket_resolution add column calendar text;

update ticket_resolution r set calendar = m.calendar
from ticket_metric m where m.ticket_id = r.ticket_id;

create function ticket_resolution_fill_calendar() returns trigger
language plpgsql as $$
begin
    select m.calendar into new.calendar from ticket_metric m where m.ticket_id = new.ticket_id;
    return new;
end $$;
create trigger ticket_resolution_fill_calendar before insert on ticket_resolution
    for each row when (new.calendar is null)
    execute function ticket_resolution_fill_calendar();
