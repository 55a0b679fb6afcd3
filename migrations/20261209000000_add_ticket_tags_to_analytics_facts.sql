-- Analytics per tag (src/analytics/breakdown.rs, tags): a period's created tickets and
-- resolutions are counted per tag the ticket carries now. Joining a period's hundred thousand
-- facts to ticket_tag cost more than a second at a million tickets, so, like the five scope
-- values of 20261208000100, each ticket_metric and ticket_resolution row carries a copy of its
-- ticket's tag ids (sorted, no duplicates, '{}' when untagged), kept equal to ticket_tag by the
-- triggers below: filled on insert, refreshed after any statement that adds or removes tags.
alter table ticket_metric add column ticket_tag_ids bigint[] not null default '{}';
alter table ticket_resolution add column ticket_tag_ids bigint[] not null default '{}';

update ticket_metric f set ticket_tag_ids = x.ids
from (select ticket_id, array_agg(tag_id order by tag_id) as ids from ticket_tag group by ticket_id) x
where x.ticket_id = f.ticket_id;
update ticket_resolution f set ticket_tag_ids = x.ids
from (select ticket_id, array_agg(tag_id order by tag_id) as ids from ticket_tag group by ticket_id) x
where x.ticket_id = f.ticket_id;

-- The tag ids of one ticket, as the facts keep them.
create function ticket_tag_ids_of(p_ticket_id bigint) returns bigint[]
language sql stable as $$
    select coalesce(array_agg(tag_id order by tag_id), '{}') from ticket_tag where ticket_id = p_ticket_id
$$;

create function analytics_fact_fill_ticket_tags() returns trigger
language plpgsql as $$
begin
    new.ticket_tag_ids := ticket_tag_ids_of(new.ticket_id);
    return new;
end $$;
create trigger ticket_metric_fill_ticket_tags before insert on ticket_metric
    for each row execute function analytics_fact_fill_ticket_tags();
create trigger ticket_resolution_fill_ticket_tags before insert on ticket_resolution
    for each row execute function analytics_fact_fill_ticket_tags();

-- Once per statement on ticket_tag (a bulk tag or a tag's deletion is one refresh, not one per
-- row): the facts of the tickets it touched take their tickets' tags again. Rows of ticket_tag
-- are only ever inserted and deleted (a tag merge too); their updates copy last_message_at and
-- change no tag, so they have no trigger here.
create function ticket_tag_sync_analytics() returns trigger
language plpgsql as $$
begin
    update ticket_metric f set ticket_tag_ids = ticket_tag_ids_of(f.ticket_id)
    where f.ticket_id in (select distinct ticket_id from changed);
    update ticket_resolution f set ticket_tag_ids = ticket_tag_ids_of(f.ticket_id)
    where f.ticket_id in (select distinct ticket_id from changed);
    return null;
end $$;
create trigger ticket_tag_added_sync_analytics after insert on ticket_tag
    referencing new table as changed
    for each statement execute function ticket_tag_sync_analytics();
create trigger ticket_tag_removed_sync_analytics after delete on ticket_tag
    referencing old table as changed
    for each statement execute function ticket_tag_sync_analytics();
