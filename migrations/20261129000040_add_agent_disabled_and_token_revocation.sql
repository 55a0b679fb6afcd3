-- Agent administration from the command line: disabling an agent, ending their sessions, and
-- revoking API tokens one by one.

-- A disabled agent cannot sign in, their sessions and API tokens stop working, and they are
-- not offered for assignment or @mentions. Their tickets keep them as assignee, and their
-- messages, notes and events keep their name: the row stays, so nothing is deleted.
alter table agent add column disabled_at timestamptz;

-- Browser sessions live in tower_sessions.session as opaque encoded data, so they cannot be
-- found by agent. Instead each session records the agent's generation at sign-in, and a
-- session whose generation is not the agent's current one is refused at its next request.
-- Bumping it (new password, disable) ends every session of the agent at once, on every node.
-- Sessions from before this column record no generation and count as generation 0.
alter table agent add column session_generation integer not null default 0;

-- A label, so that `frontdesk token list` can tell an agent's tokens apart (the secret is only
-- shown once, at creation). A revoked token is kept, for the list, but never accepted again.
alter table api_token add column name text;
alter table api_token add column revoked_at timestamptz;
