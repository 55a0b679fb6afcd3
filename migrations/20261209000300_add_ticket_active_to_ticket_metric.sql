-- The summary's "unanswered" (created in the period, no first response, not closed, not spam)
-- tested each period's unanswered tickets against every active ticket (an index of 40,000
-- entries at a million tickets whose heap pages the SLA and inbox workers keep rewriting: 150-
-- 280 ms per period). ticket_metric now carries whether its ticket is active
-- (ticket_active: not closed and not spam), set on insert and kept by a trigger on the ticket's
-- status and spam flag (it fires only when that changes, not on open <-> pending).
alter table ticket_metric add column ticket_active boolean not null default false;

update ticket_metric m set ticket_active = true
from ticket t
where t.ticket_id = m.ticket_id and not t.spam and t.status <> 'closed';

create function ticket_metric_fill_ticket_active() returns trigger
language plpgsql as $$
begin
    new.ticket_active := exists (select 1 from ticket t where t.ticket_id = new.ticket_id
                                   and not t.spam and t.status <> 'closed');
    return new;
end $$;
create trigger ticket_metric_fill_ticket_active before insert on ticket_metric
    for each row execute function ticket_metric_fill_ticket_active();

create function ticket_sync_metric_active() returns trigger
language plpgsql as $$
begin
    update ticket_metric set ticket_active = (not new.spam and new.status <> 'closed')
    where ticket_id = new.ticket_id;
    return null;
end $$;
create trigger ticket_sync_metric_active after update of status, spam on ticket
    for each row
    when ((old.status = 'closed' or old.spam) is distinct from (new.status = 'closed' or new.spam))
    execute function ticket_sync_metric_active();
