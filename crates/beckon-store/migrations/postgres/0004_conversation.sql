-- Conversations, who declined them, and their messages (with a full-text index).

create table conversation (
    conversation_id    bigint generated always as identity primary key,
    org_id             bigint not null references org(org_id),
    widget_id          bigint not null references widget(widget_id),
    visitor_id         bigint not null references visitor(visitor_id),
    queue_id           bigint references queue(queue_id),
    state              text not null check (state in ('queued', 'active', 'transferred', 'ended', 'abandoned')),
    proactive          boolean not null default false,
    invite_id          text,
    agent_id           bigint references agent(agent_id),
    offered_agent_id   bigint references agent(agent_id),
    -- An offer not accepted by this time goes to the next agent; any node's sweeper does it.
    offer_expires_at   bigint,
    -- The place in line the visitor was last told (announced once for the whole cluster).
    announced_position bigint,
    context            text not null default '{}', -- JSON, SDK wire format
    last_seq           bigint not null default 0,
    auth_sub           text,
    auth_iss           text,
    created_at         bigint not null,
    accepted_at        bigint,
    ended_at           bigint
);
-- One open conversation per visitor, enforced by the database itself.
create unique index conversation_one_open_per_visitor on conversation (visitor_id)
    where state in ('queued', 'active', 'transferred');
create index conversation_waiting on conversation (queue_id, created_at)
    where state in ('queued', 'transferred');
create index conversation_agent on conversation (agent_id) where agent_id is not null;
create index conversation_offered on conversation (offered_agent_id) where offered_agent_id is not null;
create index conversation_offer_expiry on conversation (offer_expires_at) where offer_expires_at is not null;
create index conversation_org_created on conversation (org_id, conversation_id);
create index conversation_visitor on conversation (visitor_id, conversation_id);
create index conversation_auth_identity on conversation (org_id, auth_sub, auth_iss) where auth_sub is not null;

-- Agents who declined a conversation (or let its offer expire) are not offered it again.
create table conversation_decline (
    conversation_id bigint not null references conversation(conversation_id),
    agent_id        bigint not null references agent(agent_id),
    created_at      bigint not null,
    primary key (conversation_id, agent_id)
);

create table message (
    message_id      bigint generated always as identity primary key,
    conversation_id bigint not null references conversation(conversation_id),
    seq             bigint not null,
    sender_kind     text not null check (sender_kind in ('visitor', 'agent', 'system')),
    sender_agent_id bigint references agent(agent_id),
    sender_name     text,
    text            text not null,
    tags            text not null default '[]', -- JSON array of strings
    client_msg_id   text,
    -- Full-text search over message text ("find the chat about order 1234"): the words of the
    -- text, lowercased, without stemming (the `simple` configuration, like SQLite's FTS5 index).
    search          tsvector generated always as (to_tsvector('simple', text)) stored,
    created_at      bigint not null,
    unique (conversation_id, seq)
);
create unique index message_client_msg_id on message (conversation_id, client_msg_id)
    where client_msg_id is not null;
create index message_search on message using gin (search);
