-- Beckon's schema for PostgreSQL: the same tables and columns as the SQLite schema after all its
-- migrations, one file per concept. Timestamps are Unix milliseconds (bigint: the domain's clock,
-- and far-off deadlines beyond timestamptz's range), ids are bigint identities. JSON documents
-- the store keeps opaque (settings, rules, context, tags) are text, so they come back byte for
-- byte as written (jsonb would reorder an object's keys).
-- Conventions: lowercase singular table names, <table>_id keys, created_at on every table.

-- An organisation, its queues and its widgets.
create table org (
    org_id      bigint generated always as identity primary key,
    name        text not null,
    created_at  bigint not null
);

create table queue (
    queue_id    bigint generated always as identity primary key,
    org_id      bigint not null references org(org_id),
    name        text not null,
    hours       text,                            -- JSON OperatingHours; null: always open
    created_at  bigint not null,
    unique (org_id, name)
);

create table widget (
    widget_id        bigint generated always as identity primary key,
    org_id           bigint not null references org(org_id),
    widget_key       text not null unique,
    name             text not null,
    allowed_origins  text not null,              -- JSON array of origins, or ["*"]
    default_queue_id bigint references queue(queue_id),
    settings         text not null default '{}', -- JSON WidgetSettings
    auth             text,                       -- JSON WidgetAuth; null: visitors are anonymous
    created_at       bigint not null
);

-- An organisation's routing rules: one ordered list (JSON array of RoutingRule), replaced whole.
create table routing_rules (
    org_id     bigint primary key references org(org_id),
    rules      text not null,
    updated_at bigint not null,
    created_at bigint not null
);

-- An organisation's trigger rules: one JSON array as the admin wrote it (the server parses it
-- with beckon-triggers; the store keeps it opaque), replaced whole like the routing rules.
create table trigger_rules (
    org_id     bigint primary key references org(org_id),
    rules      text not null,
    updated_at bigint not null,
    created_at bigint not null
);
