-- The agent's time zone: an IANA name (Europe/Berlin), checked by the application against the
-- time zone database (timezone::AgentTimeZone::parse). Times are stored in UTC as before and
-- shown in this zone.
alter table agent add column time_zone text not null default 'UTC';
