-- Mention mail for offline agents.

-- When the agent last used the web UI: any signed-in page or request, or an open live-event
-- stream. Touched at most once a minute (see auth::SEEN_EVERY_SECS); an agent not seen for
-- 5 minutes (auth::OFFLINE_AFTER_SECS) counts as offline. Kept in PostgreSQL, not in a node's
-- memory, so that every node agrees on who is online.
alter table agent add column last_seen_at timestamptz;

-- The outbox also carries notification mail (an @mention mailed to an offline agent). Such a
-- row references its notification instead of a message: it is not a ticket message, never
-- shown in the conversation, never threaded into it. One row per notification at most, so a
-- mention is never mailed twice.
alter table outbox alter column message_id drop not null;
alter table outbox add column notification_id bigint unique references notification on delete cascade;
alter table outbox add constraint outbox_subject_check check (num_nonnulls(message_id, notification_id) = 1);
