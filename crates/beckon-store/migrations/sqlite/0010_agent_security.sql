-- An admin can disable an agent: a disabled agent cannot sign in, and its sessions are deleted.
alter table agent add column disabled_at integer;

-- Failed sign-ins per email (lowercased), whether or not an agent has it, so the back-off is the
-- same for every address and tells an attacker nothing about which accounts exist. Rows whose
-- last failure is old are deleted as new failures are counted.
create table sign_in_throttle (
    email         text primary key,
    failures      integer not null,
    blocked_until integer,
    updated_at    integer not null,
    created_at    integer not null
);
create index sign_in_throttle_updated on sign_in_throttle (updated_at);

create index agent_session_agent on agent_session (agent_id);
