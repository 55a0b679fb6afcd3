-- A mailbox can be disabled (its poller stops) without deleting its tickets.
alter table mailbox add column enabled boolean not null default true;
