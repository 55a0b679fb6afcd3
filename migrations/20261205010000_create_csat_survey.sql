-- CSAT surveys (src/csat). Per mailbox: on or off (off by default: turning it on is a
-- decision, existing installations do not start mailing their customers), and how the survey
-- goes out: 'reply' = inside the agent's closing reply ("Send and close"; a close without a
-- reply sends it as a separate mail at once), 'delayed' = as a separate mail
-- csat_delay_minutes after the close (cancelled when the ticket reopens before).
alter table mailbox add column csat boolean not null default false;
alter table mailbox add column csat_mode text not null default 'reply'
    check (csat_mode in ('reply', 'delayed'));
alter table mailbox add column csat_delay_minutes integer not null default 60
    check (csat_delay_minutes between 1 and 10080);

-- One survey per resolution: `resolution` is the ticket's nth close. The token is random
-- and only its sha256 is kept (set when the survey is sent); it expires 28 days after
-- sending. state: 'scheduled' (waiting for send_at, claimed by the worker with SKIP
-- LOCKED), 'sent' (its mail is in the outbox, or it went inside the closing reply),
-- 'cancelled' (reopened, spam or merged before it went out). The rating is the latest one
-- given (a second answer replaces the first); every answer is also a `csat_rated` event.
-- agent_id is the ticket's assignee at the close (analytics credits them).
create table csat_survey (
    csat_survey_id  bigint generated always as identity primary key,
    ticket_id       bigint not null references ticket on delete cascade,
    resolution      integer not null,
    mailbox_id      bigint not null references mailbox on delete cascade,
    agent_id        bigint references agent on delete set null,
    state           text not null default 'scheduled'
                    check (state in ('scheduled', 'sent', 'cancelled')),
    send_at         timestamptz not null default now(),
    sent_at         timestamptz,
    token_sha256    bytea unique,
    expires_at      timestamptz,
    rating          text check (rating in ('good', 'okay', 'bad')),
    comment         text,
    rated_at        timestamptz,
    created_at      timestamptz not null default now(),
    unique (ticket_id, resolution),
    check (state <> 'sent' or (sent_at is not null and token_sha256 is not null))
);
create index csat_survey_due_idx on csat_survey (send_at) where state = 'scheduled';
create index csat_survey_sent_idx on csat_survey (sent_at) where sent_at is not null;
create index csat_survey_rated_idx on csat_survey (rated_at) where rated_at is not null;

-- The outbox also carries the separate survey mail.
alter table outbox add column csat_survey_id bigint unique references csat_survey on delete cascade;
alter table outbox drop constraint outbox_subject_check;
alter table outbox add constraint outbox_subject_check
    check (num_nonnulls(message_id, notification_id, invitation_id, csat_survey_id) = 1);

-- The timeline's CSAT kind: the customer rated (detail: rating, comment).
alter table ticket_event drop constraint ticket_event_kind_check;
alter table ticket_event add constraint ticket_event_kind_check check (kind in (
    'created', 'message_received', 'reply_queued', 'note_added', 'status_changed',
    'assigned', 'priority_changed', 'tags_changed', 'marked_spam', 'unmarked_spam',
    'merged_into', 'merged_from', 'delivery_failed', 'bounce_received', 'rule_fired',
    'team_changed', 'sla_warning', 'sla_breached', 'sla_policy_changed', 'csat_rated'));
