-- Attachment file names join the search vector: message_search_vector (migration
-- 20261203000010) with a fifth argument, the message's attachment names separated by spaces.
-- Each name counts whole and split at . _ - (`Rechnung_2025-03.pdf` is found by `rechnung`
-- and by `pdf`), weight C (below subject and sender). Without names it is the four-argument
-- function exactly, so vectors stored for messages without attachments stay valid, and the
-- seeder (no attachments) stores what the indexer would.
create function message_search_vector(subject text, from_email text, from_name text, text_body text,
                                      attachment_names text)
returns tsvector
language sql
immutable
parallel safe
as $$
    select message_search_vector(subject, from_email, from_name, text_body)
        || case when coalesce(attachment_names, '') = '' then ''::tsvector
                else setweight(to_tsvector('simple', attachment_names || ' '
                                           || regexp_replace(attachment_names, '[._-]+', ' ', 'g')), 'C')
           end
$$;

-- Messages with attachments are indexed again by the background indexer; the others are
-- unchanged.
update message set search = null
where search is not null
  and message_id in (select message_id from attachment where not inline);
