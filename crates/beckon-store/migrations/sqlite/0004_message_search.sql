-- Full-text search over message text, for transcripts ("find the chat about order 1234").
-- An external-content FTS5 index over `message`, kept in step by triggers.
create virtual table message_fts using fts5(text, content = 'message', content_rowid = 'message_id');
insert into message_fts (message_fts) values ('rebuild');
create trigger message_fts_insert after insert on message begin
    insert into message_fts (rowid, text) values (new.message_id, new.text);
end;
create trigger message_fts_delete after delete on message begin
    insert into message_fts (message_fts, rowid, text) values ('delete', old.message_id, old.text);
end;
create index conversation_org_created on conversation (org_id, conversation_id);
