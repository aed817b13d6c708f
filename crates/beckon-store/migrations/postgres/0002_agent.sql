-- Agents, the queues they serve, their sign-in sessions, and the sign-in back-off.

create table agent (
    agent_id      bigint generated always as identity primary key,
    org_id        bigint not null references org(org_id),
    email         text not null unique,          -- stored lowercased
    name          text not null,
    password_hash text not null,                 -- argon2 PHC string
    role          text not null check (role in ('agent', 'admin')),
    capacity      bigint not null check (capacity >= 0),
    presence      text not null default 'offline',
    -- Ties in assignment go to the agent idle the longest: when they last got a conversation
    -- or became available.
    idle_since    bigint not null default 0,
    disabled_at   bigint,                        -- a disabled agent cannot sign in
    created_at    bigint not null
);

create table agent_queue (
    agent_id   bigint not null references agent(agent_id),
    queue_id   bigint not null references queue(queue_id),
    created_at bigint not null,
    primary key (agent_id, queue_id)
);

create table agent_session (
    agent_session_id bigint generated always as identity primary key,
    token_hash       text not null unique,       -- SHA-256 of the cookie value
    agent_id         bigint not null references agent(agent_id),
    expires_at       bigint not null,
    created_at       bigint not null
);
create index agent_session_agent on agent_session (agent_id);

-- Failed sign-ins per email (lowercased), whether or not an agent has it, so the back-off is the
-- same for every address and tells an attacker nothing about which accounts exist.
create table sign_in_throttle (
    email         text primary key,
    failures      bigint not null,
    blocked_until bigint,
    updated_at    bigint not null,
    created_at    bigint not null
);
create index sign_in_throttle_updated on sign_in_throttle (updated_at);
