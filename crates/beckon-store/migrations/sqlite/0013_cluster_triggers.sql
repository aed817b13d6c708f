-- What the trigger runtime shares between nodes.

-- The invite on a visitor's screen, claimed by the node that sends it: a visitor with tabs on two
-- nodes never gets two invites at once.
alter table visitor add column invite_id text;
alter table visitor add column invite_until integer;

-- A visitor's history is updated by compare-and-set on this version (two nodes never overwrite
-- each other's shows and dismissals).
alter table trigger_history add column version integer not null default 0;

-- The queue a rule's invite sends the visitor to (where an accepted chat goes, and per-queue
-- pacing counted once for the cluster).
alter table invite_event add column queue_id integer;
create index invite_event_pacing on invite_event (queue_id, created_at) where outcome = 'offered';
