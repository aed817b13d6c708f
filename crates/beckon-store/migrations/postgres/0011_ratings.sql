-- The visitor's rating of a chat an agent answered (1–5, with an optional comment), and when.
alter table conversation add column rating bigint;
alter table conversation add column rating_comment text;
alter table conversation add column rated_at bigint;
create index conversation_rated on conversation (org_id, rated_at) where rating is not null;
