-- Inbox needs: a spam folder, and the latest message's first words on each row without a
-- per-row lookup into message.
alter table ticket add column spam boolean not null default false;
alter table ticket add column snippet text not null default '';
-- "snoozed until": a snoozed ticket reopens then (or on the customer's reply).
alter table ticket add column snoozed_until timestamptz;
update ticket t set snippet = left(regexp_replace(m.text_body, '\s+', ' ', 'g'), 160)
from (select distinct on (ticket_id) ticket_id, text_body from message
      where direction <> 'note' order by ticket_id, created_at desc, message_id desc) m
where m.ticket_id = t.ticket_id;
create index ticket_status_last_message_idx on ticket (status, last_message_at desc, ticket_id desc);
create index ticket_assignee_idx on ticket (assignee_agent_id, last_message_at desc) where assignee_agent_id is not null;
