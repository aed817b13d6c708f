-- Messages left for an answer by email (the widget's offline form, or a visitor tired of
-- waiting): where answers go, the newest message already dealt with by the mail sweep, and the
-- lease of the node sending it (a node that dies mid-send leaves it to another after the lease).
alter table conversation add column reply_email text;
alter table conversation add column mailed_seq bigint not null default 0;
alter table conversation add column mail_lease_until bigint;
-- Only conversations with something not yet mailed: the sweep's scan stays small forever.
create index conversation_mail_due on conversation (conversation_id)
    where reply_email is not null and mailed_seq < last_seq;
