-- Analytics (src/analytics/queries.rs, scope_sql!): reports on resolutions, SLA clocks, CSAT
-- surveys and timeline events leave out excluded tickets (spam, merged, bulk) by an anti-join
-- with this small set instead of joining every fact to its ticket_metric row.
create index ticket_metric_excluded_idx on ticket_metric (ticket_id) where excluded is not null;
