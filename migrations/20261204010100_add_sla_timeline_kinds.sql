-- The timeline's SLA kinds: a clock passed its warning threshold or breached (detail: clock,
-- due_at), and the ticket's SLA policy changed (detail: from, to).
alter table ticket_event drop constraint ticket_event_kind_check;
alter table ticket_event add constraint ticket_event_kind_check check (kind in (
    'created', 'message_received', 'reply_queued', 'note_added', 'status_changed',
    'assigned', 'priority_changed', 'tags_changed', 'marked_spam', 'unmarked_spam',
    'merged_into', 'merged_from', 'delivery_failed', 'bounce_received', 'rule_fired',
    'team_changed', 'sla_warning', 'sla_breached', 'sla_policy_changed'));
