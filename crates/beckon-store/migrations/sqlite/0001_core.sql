-- Beckon core schema (SQLite). Timestamps are Unix milliseconds; ids are integers.
-- Conventions: lowercase singular table names, <table>_id keys, created_at on every table.

create table org (
    org_id      integer primary key,
    name        text not null,
    created_at  integer not null
);

create table queue (
    queue_id    integer primary key,
    org_id      integer not null references org(org_id),
    name        text not null,
    created_at  integer not null,
    unique (org_id, name)
);

create table widget (
    widget_id        integer primary key,
    org_id           integer not null references org(org_id),
    widget_key       text not null unique,
    name             text not null,
    allowed_origins  text not null,             -- JSON array of origins, or ["*"]
    default_queue_id integer references queue(queue_id),
    settings         text not null default '{}', -- JSON WidgetSettings
    created_at       integer not null
);

create table agent (
    agent_id      integer primary key,
    org_id        integer not null references org(org_id),
    email         text not null unique,          -- stored lowercased
    name          text not null,
    password_hash text not null,                 -- argon2 PHC string
    role          text not null check (role in ('agent', 'admin')),
    capacity      integer not null check (capacity >= 0),
    presence      text not null default 'offline',
    created_at    integer not null
);

create table agent_queue (
    agent_id   integer not null references agent(agent_id),
    queue_id   integer not null references queue(queue_id),
    created_at integer not null,
    primary key (agent_id, queue_id)
);

create table agent_session (
    agent_session_id integer primary key,
    token_hash       text not null unique,       -- SHA-256 of the cookie value
    agent_id         integer not null references agent(agent_id),
    expires_at       integer not null,
    created_at       integer not null
);

create table visitor (
    visitor_id   integer primary key,
    widget_id    integer not null references widget(widget_id),
    token_hash   text not null unique,           -- SHA-256 of the visitor token
    last_seen_at integer not null,
    created_at   integer not null
);

create table visit (
    visit_id         integer primary key,
    visitor_id       integer not null references visitor(visitor_id),
    number           integer not null,           -- 1 for the first visit
    started_at       integer not null,
    last_activity_at integer not null,
    created_at       integer not null,
    unique (visitor_id, number)
);

create table page_view (
    page_view_id integer primary key,
    visit_id     integer not null references visit(visit_id),
    visitor_id   integer not null references visitor(visitor_id),
    url          text not null,
    title        text not null,
    referrer     text not null,
    created_at   integer not null
);
create index page_view_visitor on page_view (visitor_id, created_at);

create table conversation (
    conversation_id  integer primary key,
    org_id           integer not null references org(org_id),
    widget_id        integer not null references widget(widget_id),
    visitor_id       integer not null references visitor(visitor_id),
    queue_id         integer references queue(queue_id),
    state            text not null check (state in ('queued', 'active', 'transferred', 'ended', 'abandoned')),
    proactive        integer not null default 0,
    invite_id        text,
    agent_id         integer references agent(agent_id),
    offered_agent_id integer references agent(agent_id),
    context          text not null default '{}', -- JSON, SDK wire format
    last_seq         integer not null default 0,
    created_at       integer not null,
    accepted_at      integer,
    ended_at         integer
);
-- One open conversation per visitor, enforced by the database itself.
create unique index conversation_one_open_per_visitor on conversation (visitor_id)
    where state in ('queued', 'active', 'transferred');
create index conversation_waiting on conversation (queue_id, created_at)
    where state in ('queued', 'transferred');
create index conversation_agent on conversation (agent_id) where agent_id is not null;
create index conversation_offered on conversation (offered_agent_id) where offered_agent_id is not null;

create table message (
    message_id      integer primary key,
    conversation_id integer not null references conversation(conversation_id),
    seq             integer not null,
    sender_kind     text not null check (sender_kind in ('visitor', 'agent', 'system')),
    sender_agent_id integer references agent(agent_id),
    sender_name     text,
    text            text not null,
    tags            text not null default '[]', -- JSON array of strings
    client_msg_id   text,
    created_at      integer not null,
    unique (conversation_id, seq)
);
create unique index message_client_msg_id on message (conversation_id, client_msg_id)
    where client_msg_id is not null;

create table invite_event (
    invite_event_id integer primary key,
    widget_id       integer not null references widget(widget_id),
    visitor_id      integer not null references visitor(visitor_id),
    invite_id       text not null,
    source          text not null,               -- 'sdk', 'rule:<id>', 'agent:<id>'
    outcome         text not null,
    reason          text,
    message         text not null,
    created_at      integer not null,
    unique (visitor_id, invite_id, outcome)
);
