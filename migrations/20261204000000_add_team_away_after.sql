-- A team may count members away when they have not been seen in the web UI for a while
-- (domain notes §4): null = only the agent's own available / away switch counts.
alter table team add column away_after_minutes integer
    check (away_after_minutes between 1 and 10080);
