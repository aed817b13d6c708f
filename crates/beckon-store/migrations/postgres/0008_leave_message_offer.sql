-- After this long without an agent, a waiting visitor is offered to leave a message instead
-- (null: never); and, per conversation, when that offer is due (a deadline the sweeper takes).
alter table queue add column leave_message_after_secs integer;
alter table conversation add column leave_message_at bigint;
create index conversation_leave_message_at on conversation (leave_message_at) where leave_message_at is not null;
