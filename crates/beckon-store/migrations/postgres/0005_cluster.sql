-- Coordination kept in the store, so that any node (or the same node after a restart) can take
-- over: the nodes alive and the agent consoles open on them.

-- Each running node renews its lease; a node whose lease ran out is dead and its consoles closed.
create table node (
    node_id    text primary key,
    started_at bigint not null,
    expires_at bigint not null
);

-- An agent's open console (an agent socket) on a node. Closed consoles linger for the presence
-- grace period (a reload keeps the agent's offers), then are deleted.
create table agent_console (
    console_id text primary key,
    agent_id   bigint not null references agent(agent_id),
    node_id    text not null,
    closed_at  bigint,
    created_at bigint not null
);
create index agent_console_agent on agent_console (agent_id);
create index agent_console_node on agent_console (node_id);
