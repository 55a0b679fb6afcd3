-- Replies whose only reference is a thread root we never received (it went to a colleague's
-- personal address) share that root: the first References id, else In-Reply-To (RFC 5322
-- 3.6.4: each reply's References starts with its parent's, so the first id is the root).
-- Ingest looks the roots of a batch up here (src/ingest/store.rs, `root_threads`); messages
-- that start a conversation have no root and stay out of the index.
create index message_thread_root_idx on message ((coalesce("references"[1], in_reply_to)))
    where coalesce("references"[1], in_reply_to) is not null;
