-- Admin console (issue #10): a tag's colour, one of a small fixed palette checked by the
-- application (`tickets::tags::PALETTE`); null = no colour.
alter table tag add column colour text;

-- A saved reply is shared (owner null, every agent sees it) or personal to one agent.
alter table saved_reply add column owner_agent_id bigint references agent on delete cascade;
create index saved_reply_owner_idx on saved_reply (owner_agent_id) where owner_agent_id is not null;
