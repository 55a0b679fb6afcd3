-- Full-text search over subjects, bodies, notes and sender addresses, with PostgreSQL alone.
-- The vector is filled by a background indexer (search::index_pending), not in the ingest
-- transaction, so building it (~0.2-2 ms per message) never slows ingest down; new mail is
-- searchable within seconds. The 'simple' configuration: mail is multilingual, so no stemming.
alter table message add column search tsvector;
create index message_search_idx on message using gin (search);
-- The indexer's work queue.
create index message_unindexed_idx on message (message_id) where search is null;
