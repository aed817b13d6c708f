-- The name the visitor gave (a pre-chat answer), kept apart from the context so History can
-- find a conversation by it.
alter table conversation add column visitor_name text;
