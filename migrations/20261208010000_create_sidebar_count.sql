-- The inbox sidebar's view counts per agent (issue #16): each saved view's tickets to do and
-- the built-in "At-risk accounts" and "VIP waiting". At a million tickets they take hundreds of
-- milliseconds, so pages no longer count them: `GET /inbox/sidebar-counts` answers from this
-- cache while a row is fresh (tickets::sidebar_counts::FRESH_FOR_SECS) and was computed for
-- the same scope, else recomputes and replaces the row. Kept in PostgreSQL, not in process,
-- so that every app node shares it.
create table sidebar_count (
    agent_id     bigint primary key references agent on delete cascade,
    computed_at  timestamptz not null,
    -- md5 of what the counts depend on besides the tickets: the agent's visible mailboxes,
    -- their views' ids and filters, the at-risk stage. A changed view, a new view or a change
    -- of mailbox access no longer matches, so the row is not used.
    scope        text not null,
    -- {"view:<saved_view_id>": n or null (a closed or spam list), "at-risk": n, "vip-waiting": n}
    counts       jsonb not null
);
