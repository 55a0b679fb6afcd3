-- The housekeeping loop (every node, every 2 s) looks for snoozed tickets whose time has come.
-- Without this it walked every snoozed ticket's row through the status index (tens of
-- thousands at 1M tickets) on each pass.
create index ticket_snoozed_until_idx on ticket (snoozed_until, ticket_id) where status = 'snoozed';
