-- "SLA at risk" without reading the clocks: true while one of the ticket's running clocks has
-- breached or passed its warning threshold (kept by src/sla/clocks.rs and the SLA worker, which
-- stamps warnings and breaches within a second). The inbox folder and its count read this index
-- only (counting through the clocks took ~0.5 s at 100,000 open tickets).
alter table ticket add column sla_at_risk boolean not null default false;
create index ticket_sla_at_risk_idx on ticket (mailbox_id) where sla_at_risk and not spam and status <> 'closed';
