-- The inbox's "newest first" sort (by created_at) at 1M tickets: without these, a folder
-- sorted by creation fetched every ticket of the folder and sorted them (measured: "mine,
-- newest" 267 ms with 3,195 active tickets of one agent; a "closed, newest" page would sort
-- 900,000). Each index gives the folder's rows in sort order, so a page stops after 51.
create index ticket_status_created_idx on ticket (status, created_at desc, ticket_id desc);
create index ticket_assignee_created_idx on ticket (assignee_agent_id, created_at desc, ticket_id desc)
    where assignee_agent_id is not null;
create index ticket_created_idx on ticket (created_at desc, ticket_id desc);
