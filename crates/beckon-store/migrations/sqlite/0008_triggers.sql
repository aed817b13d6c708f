-- No-code proactive trigger rules and what each visitor was already shown.

-- An organisation's trigger rules: one JSON array as the admin wrote it (the server parses it
-- with beckon-triggers; the store keeps it opaque), replaced whole like the routing rules.
create table trigger_rules (
    org_id     integer primary key references org(org_id),
    rules      text not null,
    updated_at integer not null,
    created_at integer not null
);

-- The invites a visitor was shown and dismissed (beckon-triggers' History, as JSON), keyed by the
-- signed-in identity when there is one ("sub:<widget>:<sub>") so clearing the browser's storage
-- does not reset the limits, else by visitor ("visitor:<id>").
create table trigger_history (
    visitor_key text primary key,
    history     text not null,
    updated_at  integer not null
);

-- Views of one page by one visitor, across visits (the "page views of this page" condition).
create index page_view_visitor_url on page_view (visitor_id, url);
