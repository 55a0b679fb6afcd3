-- Raw mail kept but not yet stored as tickets (src/ingest/store.rs). The poller commits a
-- batch's raw rows first, in a transaction of their own (store::keep_raw), so that the next
-- batch's raw COPY runs beside this batch's threading and ticket writes, on a second
-- connection; the store (store::store_kept_batch) deletes the batch's rows here in the
-- transaction that creates its tickets and moves the IMAP cursor. Rows that a crash leaves
-- here are stored at the next poll (store::store_pending) before any new mail is fetched.
create table raw_message_pending (
    raw_message_id bigint primary key references raw_message on delete cascade
);
