-- Files sent in chats. A message that carries one holds its description (JSON: id, name,
-- content_type, size); each file's record says which conversation it belongs to, which decides
-- who may fetch it. The bytes are not in the database: they live in a directory beside it
-- (`<database file>-attachments/`, see src/blobs.rs).
alter table message add column attachment text;
create table attachment (
    attachment_id   text primary key,
    conversation_id integer not null references conversation(conversation_id),
    name            text not null,
    content_type    text not null,
    size            integer not null,
    sender_kind     text not null,
    created_at      integer not null
);
create index attachment_conversation on attachment (conversation_id);
