-- What the inbox shows instead of the last activity: how long the customer has been waiting
-- and who wrote last. Kept by src/tickets/messages.rs where messages are appended (and by
-- ticket_refresh_waiting after a merge), so the inbox reads two columns, never the messages.
--
-- waiting_since: when we received the oldest message a person (not an auto-reply, bounce or
--   list) sent us after our last reply; null when we answered last (or nobody is waiting).
--   Receipt times (received_at), not the senders' Date headers: a wrong clock or a mail
--   written before our reply but arriving after it must not hide a wait. "After our last
--   reply" is in the order messages joined the ticket (message_id), as the appending code
--   sees it: a mail fetched after an agent replied was not seen by them, whatever its
--   receipt time at the mail server (IMAP INTERNALDATE has whole seconds, and polls lag).
-- last_author_agent_id: the agent whose reply is the latest message; null when the customer
--   wrote last.
alter table ticket
    add column waiting_since timestamptz,
    add column last_author_agent_id bigint references agent on delete set null;

-- Recomputes both columns of one ticket from its messages (used after messages move).
create function ticket_refresh_waiting(p_ticket bigint) returns void language sql as $$
    update ticket t set
        waiting_since = (
            select min(m.received_at) from message m
            where m.ticket_id = p_ticket and m.direction = 'inbound' and m.automated is null
              and m.message_id > coalesce((select max(o.message_id) from message o
                                          where o.ticket_id = p_ticket and o.direction = 'outbound'),
                                         0)),
        last_author_agent_id = (
            select case when l.direction = 'outbound' then l.author_agent_id end
            from message l
            where l.ticket_id = p_ticket
              and (l.direction = 'outbound' or (l.direction = 'inbound' and l.automated is null))
            order by l.message_id desc limit 1)
    where t.ticket_id = p_ticket;
$$;

-- Backfill, set-based (one pass over message rather than a function call per ticket).
with last_out as (
    select ticket_id, max(message_id) as id from message where direction = 'outbound' group by ticket_id
), wait as (
    select m.ticket_id, min(m.received_at) as since
    from message m left join last_out o using (ticket_id)
    where m.direction = 'inbound' and m.automated is null and (o.id is null or m.message_id > o.id)
    group by m.ticket_id
)
update ticket t set waiting_since = w.since from wait w where w.ticket_id = t.ticket_id;

with last_msg as (
    select distinct on (ticket_id) ticket_id, direction, author_agent_id
    from message
    where direction = 'outbound' or (direction = 'inbound' and automated is null)
    order by ticket_id, message_id desc
)
update ticket t set last_author_agent_id = l.author_agent_id
from last_msg l where l.ticket_id = t.ticket_id and l.direction = 'outbound';
