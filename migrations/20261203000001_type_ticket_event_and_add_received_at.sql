-- The typed timeline (src/tickets/timeline.rs): every event says who acted, and only known
-- kinds can be stored. A message keeps its receipt time at our server beside its Date.

alter table ticket_event
    add column actor_kind text,
    add column rule_id bigint;

-- Who acted, for the rows written before this column: an agent when one is named, the
-- customer for ticket creation and the reopening by their reply, else Frontdesk itself.
update ticket_event set actor_kind = case
    when agent_id is not null then 'agent'
    when kind = 'created' or detail->>'reason' = 'customer_reply' then 'customer'
    else 'system' end;

-- Bounces were stored as 'delivery_failed' with another shape; they are their own kind now.
update ticket_event set kind = 'bounce_received'
where kind = 'delivery_failed' and detail ? 'bounce_message_id';

alter table ticket_event
    alter column actor_kind set not null,
    add constraint ticket_event_actor_check check (
        actor_kind in ('agent', 'customer', 'system', 'rule')
        and (agent_id is not null) = (actor_kind = 'agent')
        and (rule_id is not null) = (actor_kind = 'rule')),
    -- Keep in step with TimelineEvent::KINDS (a test compares them).
    add constraint ticket_event_kind_check check (kind in (
        'created', 'message_received', 'reply_queued', 'note_added', 'status_changed',
        'assigned', 'priority_changed', 'tags_changed', 'marked_spam', 'unmarked_spam',
        'merged_into', 'merged_from', 'delivery_failed', 'bounce_received'));

-- Receipt time at our server (IMAP INTERNALDATE, else when we fetched it); created_at stays
-- the sender's Date header for inbound mail. Replies and notes: when they were written.
alter table message add column received_at timestamptz;
update message m set received_at = r.received_at
from raw_message r where r.raw_message_id = m.raw_message_id;
update message set received_at = created_at where received_at is null;
alter table message
    alter column received_at set not null,
    alter column received_at set default now();
