-- Files sent in chats. A message that carries one holds its description (JSON: id, name,
-- content_type, size); each file's record says which conversation it belongs to, which decides
-- who may fetch it. With PostgreSQL the bytes are in the database too (`attachment_blob`), so
-- every node of a cluster serves every file.
alter table message add column attachment text;
create table attachment (
    attachment_id   text primary key,
    conversation_id bigint not null references conversation(conversation_id),
    name            text not null,
    content_type    text not null,
    size            bigint not null,
    sender_kind     text not null,
    created_at      bigint not null
);
create index attachment_conversation on attachment (conversation_id);
create table attachment_blob (
    blob_key text primary key,
    bytes    bytea not null
);
