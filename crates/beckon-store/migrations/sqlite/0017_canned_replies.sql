-- Canned replies: an agent types /shortcut in a chat to insert the text. Shared ones (agent_id
-- null) belong to the whole organisation; personal ones to one agent.
create table canned_reply (
    canned_reply_id integer primary key,
    org_id          integer not null references org(org_id),
    agent_id        integer references agent(agent_id) on delete cascade,
    shortcut        text not null,
    text            text not null,
    created_at      integer not null
);
-- One shortcut per owner (the organisation's shared set, or one agent's own).
create unique index canned_reply_shortcut on canned_reply (org_id, coalesce(agent_id, 0), shortcut);
