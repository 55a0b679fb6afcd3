-- Messages the poller found flagged \Deleted but not yet expunged: they are not imported (the
-- user is deleting them), but the folder cursor may move past them, so each is remembered here
-- and looked at again on every poll: imported if the flag is gone, forgotten once expunged.
create table imap_deleted_uid (
    mailbox_id    bigint not null references mailbox on delete cascade,
    folder        text not null,
    uid_validity  bigint not null,
    uid           bigint not null,
    seen_at       timestamptz not null default now(),
    primary key (mailbox_id, folder, uid_validity, uid)
);
