-- Rules change customers' VIP flag, lifecycle stage and health score (issue 12), and those
-- changes are audited like an agent's: a rule is an audit actor of its own ("rule 'Name'").
alter table audit_event drop constraint audit_event_actor_kind_check;
alter table audit_event add constraint audit_event_actor_kind_check
    check (actor_kind in ('agent', 'cli', 'system', 'rule'));
