-- A queue's operating hours (JSON OperatingHours); null: always open.
alter table queue add column hours text;
