-- Indexes for the inbox at scale (measured with scripts/bench-web on 1,000,000 tickets).
--
-- Active (not closed, not spam) tickets are a few percent of all tickets. Counting them per
-- mailbox, status or assignee from this small covering index is an index-only scan of tens of
-- thousands of entries instead of a walk over every ticket: the sidebar's open count per
-- mailbox went from 330 ms to 4 ms. ticket_id is included so that the open tickets' ids (for
-- per-tag counts) come from the index too.
create index ticket_active_folder_idx on ticket (status, mailbox_id, assignee_agent_id, ticket_id)
    where not spam and status <> 'closed';
-- The spam folder: 1% of tickets, newest first, without filtering the whole time index.
create index ticket_spam_idx on ticket (last_message_at desc, ticket_id desc) where spam;
-- Tickets by tag: the tag filter, "is this tag in use", and deleting a tag (the foreign key
-- from ticket_tag.tag_id had no index, so every tag delete scanned all of ticket_tag).
create index ticket_tag_tag_idx on ticket_tag (tag_id, ticket_id);
