-- The language the visitor's widget speaks (en, fr): what the server says in the conversation
-- is written in it.
alter table conversation add column language text not null default 'en';
