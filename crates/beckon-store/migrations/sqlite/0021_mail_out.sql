-- Emails waiting to go out (a chat's transcript the visitor asked for): sent by whichever node's
-- sweeper claims one (under a lease, as answers to left messages are), kept once sent or refused.
create table mail_out (
    mail_id         integer primary key,
    org_id          integer not null references org(org_id),
    conversation_id integer references conversation(conversation_id),
    to_addr         text not null,
    subject         text not null,
    body            text not null,
    created_at      integer not null,
    -- When it may be tried (next); null once sent or given up.
    due_at          integer,
    sent_at         integer,
    error           text
);
create index mail_out_due on mail_out (due_at) where due_at is not null;
create index mail_out_conversation on mail_out (conversation_id);
