-- A rule's `notify` tells agents in the app and by mail. The rule inserts the notification in
-- its own transaction with mail_due = true; the notification mail worker
-- (tickets::notification_mail) claims due rows with FOR UPDATE SKIP LOCKED, queues one outbox
-- mail for each (outbox.notification_id is unique) and clears the flag in the same
-- transaction, so every notification is mailed once across nodes.
alter table notification add column mail_due boolean not null default false;
create index notification_mail_due_idx on notification (notification_id) where mail_due;
