-- Where a queue's chats go while it is closed or nobody of it is at work (null: nowhere else).
alter table queue add column fallback_queue_id integer references queue(queue_id) on delete set null;
