-- Attachment file names join the search vector (src/search/mod.rs: index_pending). Messages
-- with attachments are indexed again by the background indexer; the others are unchanged.
update message set search = null
where search is not null
  and message_id in (select message_id from attachment where not inline);
