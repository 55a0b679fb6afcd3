-- Message bodies are toasted too; pglz on them cost ~0.25 ms per inserted message (measured
-- with scripts/bench-ingest). lz4 where the server has it.
do $$
begin
    alter table message alter column text_body set compression lz4;
    alter table message alter column html_body set compression lz4;
exception when feature_not_supported or invalid_parameter_value then
    raise notice 'lz4 not available, keeping default compression';
end $$;
