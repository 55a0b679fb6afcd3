-- Ingest inserts a batch of tickets in one statement (src/tickets/messages.rs). The per-row
-- counting trigger upserted the same ticket_count row once per ticket (about 60% of the
-- insert's cost, and a longer update chain on that one row with every ticket of the
-- transaction); inserts and deletes are now counted once per statement from the transition
-- tables, grouped by counter. Updates keep the per-row trigger: a statement trigger cannot
-- have a column list with transition tables, so it would run for every message's update.

drop trigger ticket_count_insert_delete on ticket;

create function ticket_count_insert_rows() returns trigger language plpgsql as $$
begin
    insert into ticket_count (mailbox_id, status, spam, assignee_key, n)
    select mailbox_id, status, spam, coalesce(assignee_agent_id, 0), count(*)
    from new_rows group by 1, 2, 3, 4
    on conflict (mailbox_id, status, spam, assignee_key) do update set n = ticket_count.n + excluded.n;
    return null;
end $$;

create function ticket_count_delete_rows() returns trigger language plpgsql as $$
begin
    insert into ticket_count (mailbox_id, status, spam, assignee_key, n)
    select mailbox_id, status, spam, coalesce(assignee_agent_id, 0), -count(*)
    from old_rows group by 1, 2, 3, 4
    on conflict (mailbox_id, status, spam, assignee_key) do update set n = ticket_count.n + excluded.n;
    return null;
end $$;

create trigger ticket_count_insert after insert on ticket
    referencing new table as new_rows
    for each statement execute function ticket_count_insert_rows();
create trigger ticket_count_delete after delete on ticket
    referencing old table as old_rows
    for each statement execute function ticket_count_delete_rows();

-- The same for tags put on or taken off tickets (rules tag a whole ingest batch in one
-- statement: src/rules/batch.rs): counted once per statement, per (tag, mailbox), for the
-- tickets that are open and not spam. When the ticket itself is being deleted it is already
-- gone (cascade) and its counts were taken off by ticket_open_tag_count.
drop trigger ticket_tag_open_count on ticket_tag;
drop function ticket_tag_open_count();

create function ticket_tag_open_count_insert_rows() returns trigger language plpgsql as $$
begin
    insert into tag_open_count (tag_id, mailbox_id, n)
    select r.tag_id, t.mailbox_id, count(*)
    from new_rows r join ticket t on t.ticket_id = r.ticket_id
    where t.status = 'open' and not t.spam
    group by 1, 2
    on conflict (tag_id, mailbox_id) do update set n = tag_open_count.n + excluded.n;
    return null;
end $$;

create function ticket_tag_open_count_delete_rows() returns trigger language plpgsql as $$
begin
    insert into tag_open_count (tag_id, mailbox_id, n)
    select r.tag_id, t.mailbox_id, -count(*)
    from old_rows r join ticket t on t.ticket_id = r.ticket_id
    where t.status = 'open' and not t.spam
    group by 1, 2
    on conflict (tag_id, mailbox_id) do update set n = tag_open_count.n + excluded.n;
    return null;
end $$;

create trigger ticket_tag_open_count_insert after insert on ticket_tag
    referencing new table as new_rows
    for each statement execute function ticket_tag_open_count_insert_rows();
create trigger ticket_tag_open_count_delete after delete on ticket_tag
    referencing old table as old_rows
    for each statement execute function ticket_tag_open_count_delete_rows();
