-- Browser sessions, in the layout tower-sessions-sqlx-store's PostgresStore expects
-- (the same DDL as its migrate(); created here so that it runs under sqlx's migration lock).
create schema if not exists tower_sessions;
create table if not exists tower_sessions.session (
    id           text primary key not null,
    data         bytea not null,
    expiry_date  timestamptz not null
);
create index if not exists session_expiry_idx on tower_sessions.session (expiry_date);
