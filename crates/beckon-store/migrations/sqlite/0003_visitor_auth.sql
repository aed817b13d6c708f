-- Authenticated visitors (JWT from the host site). A widget's auth settings (public keys or a
-- JWKS URL, issuers, audience, leeway, required or optional) are JSON, null when off. The
-- verified `sub` is kept on the visitor (this browser) and on each conversation, so a person is
-- recognised across devices and visits.
alter table widget add column auth text;
alter table visitor add column auth_sub text;
alter table conversation add column auth_sub text;
create index conversation_auth_sub on conversation (org_id, auth_sub) where auth_sub is not null;
