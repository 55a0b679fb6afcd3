-- Threading's subject fallback looks up one sender's tickets active in the last 30 days
-- (src/ingest/store.rs find_thread_by_subject): customer, newest activity first, the mailbox
-- filtered among those few rows. The customer sidebar's "previous conversations" reads the
-- same order. The plain customer index is a prefix of this one, so it goes: one index to
-- maintain per ticket write, as before.
create index ticket_customer_last_message_idx on ticket (customer_id, last_message_at desc, ticket_id desc);
drop index if exists ticket_customer_idx;
