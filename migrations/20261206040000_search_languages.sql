-- Search that understands language (issue #16): stemming in the mailbox's language, accent
-- folding, and CJK text found by fragments.
--
-- unaccent is a trusted extension (PostgreSQL 13+), shipped with Debian's postgresql package.
create extension if not exists unaccent;

-- For every built-in text search configuration (simple, english, german, ...) a copy
-- public.frontdesk_<name> whose mapping for non-ASCII words (`word`, `hword`, `hword_part`)
-- runs unaccent first, then that configuration's own dictionaries for `word`. ASCII words keep
-- their mapping (there is nothing to fold). So 'Müller' and 'Muller' both become 'muller',
-- and under frontdesk_english 'invoices' and 'invoice' both become 'invoic'.
do $$
declare
    c record;
    unaccent_dict text;
    dicts text;
begin
    select format('%I.%I', n.nspname, d.dictname) into strict unaccent_dict
    from pg_ts_dict d join pg_namespace n on n.oid = d.dictnamespace
    join pg_depend dep on dep.classid = 'pg_ts_dict'::regclass and dep.objid = d.oid and dep.deptype = 'e'
    join pg_extension e on e.oid = dep.refobjid and e.extname = 'unaccent'
    where d.dictname = 'unaccent';
    for c in select oid, cfgname from pg_ts_config
             where cfgnamespace = 'pg_catalog'::regnamespace order by cfgname loop
        select string_agg(format('%I.%I', n.nspname, d.dictname), ', ' order by m.mapseqno) into dicts
        from pg_ts_config_map m
        join pg_ts_dict d on d.oid = m.mapdict
        join pg_namespace n on n.oid = d.dictnamespace
        where m.mapcfg = c.oid
          and m.maptokentype = (select t.tokid from ts_token_type('default') t where t.alias = 'word');
        execute format('create text search configuration public.%I (copy = pg_catalog.%I)',
                       'frontdesk_' || c.cfgname, c.cfgname);
        execute format('alter text search configuration public.%I alter mapping for word, hword, hword_part with %s, %s',
                       'frontdesk_' || c.cfgname, unaccent_dict, dicts);
    end loop;
end
$$;

-- The language a mailbox's mail is searched in: the <name> of a frontdesk_<name>
-- configuration above (settings validate it).
alter table mailbox add column search_language text not null default 'english';

-- CJK text (Hiragana, Katakana, CJK ideographs, Hangul) has no spaces between words, and the
-- parser keeps a whole run as one word, so a fragment would not match. Each maximal run is
-- also cut into overlapping two-character tokens ('東京都庁' -> '東京 京都 都庁'; a
-- one-character run stays itself), space-separated, so that to_tsvector gives adjacent
-- bigrams adjacent positions and a fragment is found as a phrase of its bigrams (the query
-- side does the same cutting, in Rust: search::cjk_phrases).
create function cjk_bigrams(t text)
returns text
language sql
immutable
parallel safe
as $$
    select coalesce(string_agg(substr(r.run, i, 2), ' ' order by r.o, i), '')
    from regexp_matches(coalesce(t, ''),
                        '[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]+',
                        'g') with ordinality as x(m, o)
    cross join lateral (select x.m[1] as run, x.o) r
    cross join lateral generate_series(1, greatest(length(r.run) - 1, 1)) i
$$;

-- The search vector of one message in a configuration (a mailbox's frontdesk_<language>):
-- the same weights as message_search_vector (subject A; sender address and name B;
-- attachment names, whole and split at . _ -, C; body, first 20,000 characters, unweighted),
-- built with `cfg`, plus the CJK bigrams of the subject (A) and body (unweighted) in 'simple'.
-- message_search_vector stays (vectors stored before this migration; the seeder's old form).
create function message_search_vector_in(cfg regconfig, subject text, from_email text, from_name text,
                                         text_body text, attachment_names text)
returns tsvector
language sql
immutable
parallel safe
as $$
    select setweight(to_tsvector(cfg, coalesce(subject, '')), 'A')
        || setweight(to_tsvector(cfg, coalesce(from_email, '') || ' ' || coalesce(from_name, '')), 'B')
        || to_tsvector(cfg, left(text_body, 20000))
        || case when coalesce(attachment_names, '') = '' then ''::tsvector
                else setweight(to_tsvector(cfg, attachment_names || ' '
                                           || regexp_replace(attachment_names, '[._-]+', ' ', 'g')), 'C')
           end
        || setweight(to_tsvector('simple', cjk_bigrams(subject)), 'A')
        || to_tsvector('simple', cjk_bigrams(left(text_body, 20000)))
$$;

-- Which configuration built message.search; null = to be (re-)indexed. Null for every stored
-- message (adding a nullable column rewrites nothing), so the background indexer re-indexes
-- stored mail in the mailbox's language; until then the old 'simple' vectors still match
-- exactly (search ORs a 'simple' query in). Changing a mailbox's language sets it to null
-- for the mailbox's messages.
alter table message add column search_config regconfig;
create index message_search_pending_idx on message (message_id) where search_config is null;
-- message_unindexed_idx (search is null, migration 8) stays: it is nearly empty, and a node of
-- the previous version still polls with it during a rolling upgrade.
