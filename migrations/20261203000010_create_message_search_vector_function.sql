-- The search vector of one message, defined once. The background indexer
-- (search::index_pending) and the benchmark seeder (src/bin/frontdesk-seed.rs) both call it,
-- and a test checks that what they store is what this gives.
-- Weights: subject A; sender address and name B; body, first 20,000 characters, unweighted (D).
-- The 'simple' configuration: mail is multilingual, so no stemming.
-- Same expression as the indexer used since migration 8, so stored vectors stay valid.
-- message.search is a stored column with its own GIN index (message_search_idx), so no
-- expression index depends on this function; it is immutable (to_tsvector with an explicit
-- configuration is) and parallel safe all the same, so one could.
create function message_search_vector(subject text, from_email text, from_name text, text_body text)
returns tsvector
language sql
immutable
parallel safe
as $$
    select setweight(to_tsvector('simple', coalesce(subject, '')), 'A')
        || setweight(to_tsvector('simple', coalesce(from_email, '') || ' ' || coalesce(from_name, '')), 'B')
        || to_tsvector('simple', left(text_body, 20000))
$$;
