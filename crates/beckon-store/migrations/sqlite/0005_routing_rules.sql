-- An organisation's routing rules: one ordered list (JSON array of RoutingRule), replaced whole.
create table routing_rules (
    org_id     integer primary key references org(org_id),
    rules      text not null,
    updated_at integer not null,
    created_at integer not null
);
