-- What the visitor's browser told us at the start of a visit, for the agent's visitor panel and
-- for trigger conditions. The raw IP address is not stored.
alter table visit add column browser text;
alter table visit add column os text;
alter table visit add column device text;    -- desktop | mobile | tablet | other
alter table visit add column language text;  -- first Accept-Language tag, e.g. fr-FR
alter table visit add column country text;   -- ISO 3166-1 alpha-2, when GeoIP resolves it
