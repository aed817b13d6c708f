-- Coordination kept in the store, so that any node (or the same node after a restart) can take
-- over: offer deadlines, declines, the place in line last announced, and agent presence as open
-- consoles on live nodes.

-- An offer not accepted by this time goes to the next agent; any node's sweeper does it.
alter table conversation add column offer_expires_at integer;
create index conversation_offer_expiry on conversation (offer_expires_at) where offer_expires_at is not null;
-- The place in line the visitor was last told (announced once for the whole cluster).
alter table conversation add column announced_position integer;

-- Agents who declined a conversation (or let its offer expire) are not offered it again.
create table conversation_decline (
    conversation_id integer not null references conversation(conversation_id),
    agent_id        integer not null references agent(agent_id),
    created_at      integer not null,
    primary key (conversation_id, agent_id)
);

-- Each running node renews its lease; a node whose lease ran out is dead and its consoles closed.
create table node (
    node_id    text primary key,
    started_at integer not null,
    expires_at integer not null
);

-- An agent's open console (an agent socket) on a node. Closed consoles linger for the presence
-- grace period (a reload keeps the agent's offers), then are deleted.
create table agent_console (
    console_id text primary key,
    agent_id   integer not null references agent(agent_id),
    node_id    text not null,
    closed_at  integer,
    created_at integer not null
);
create index agent_console_agent on agent_console (agent_id);
create index agent_console_node on agent_console (node_id);

-- Ties in assignment go to the agent idle the longest: when they last got a conversation or
-- became available.
alter table agent add column idle_since integer not null default 0;
