-- A signed-in visitor is the pair (issuer, sub): two identity providers of one organisation may
-- both have a user "42", and they are two people.
alter table visitor add column auth_iss text;
alter table conversation add column auth_iss text;
drop index conversation_auth_sub;
create index conversation_auth_identity on conversation (org_id, auth_sub, auth_iss) where auth_sub is not null;
