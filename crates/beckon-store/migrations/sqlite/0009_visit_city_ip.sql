-- The visitor's city, when the GeoIP database has cities; and their IP address, stored only when
-- the admin turned on `retain_visitor_ip` (off by default: only the country and city are kept).
alter table visit add column city text;
alter table visit add column ip text;
