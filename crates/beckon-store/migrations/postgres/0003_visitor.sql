-- Visitors (one per browser), their visits and page views, invites and trigger history.

create table visitor (
    visitor_id   bigint primary key,             -- given by the server when the visitor arrives
    widget_id    bigint not null references widget(widget_id),
    token_hash   text not null unique,           -- SHA-256 of the visitor token
    auth_sub     text,                           -- the verified identity, when signed in
    auth_iss     text,
    -- The invite on the visitor's screen, claimed by the node that sends it: a visitor with tabs
    -- on two nodes never gets two invites at once.
    invite_id    text,
    invite_until bigint,
    last_seen_at bigint not null,
    created_at   bigint not null
);

create table visit (
    visit_id         bigint generated always as identity primary key,
    visitor_id       bigint not null references visitor(visitor_id),
    number           bigint not null,            -- 1 for the first visit
    started_at       bigint not null,
    last_activity_at bigint not null,
    -- What the browser told us at the start of the visit. The IP address is stored only when
    -- the admin turned on `retain_visitor_ip`.
    browser          text,
    os               text,
    device           text,                       -- desktop | mobile | tablet | other
    language         text,                       -- first Accept-Language tag, e.g. fr-FR
    country          text,                       -- ISO 3166-1 alpha-2, when GeoIP resolves it
    city             text,
    ip               text,
    created_at       bigint not null,
    unique (visitor_id, number)
);

create table page_view (
    page_view_id bigint generated always as identity primary key,
    visit_id     bigint not null references visit(visit_id),
    visitor_id   bigint not null references visitor(visitor_id),
    url          text not null,
    title        text not null,
    referrer     text not null,
    created_at   bigint not null
);
create index page_view_visit on page_view (visit_id, page_view_id);
create index page_view_visitor on page_view (visitor_id, created_at);
-- Views of one page by one visitor, across visits (the "page views of this page" condition).
create index page_view_visitor_url on page_view (visitor_id, url);

-- Each step of an invite's life, once per (visitor, invite, outcome).
create table invite_event (
    invite_event_id bigint generated always as identity primary key,
    widget_id       bigint not null references widget(widget_id),
    visitor_id      bigint not null references visitor(visitor_id),
    invite_id       text not null,
    source          text not null,               -- 'sdk', 'rule:<id>', 'agent:<id>'
    outcome         text not null,
    reason          text,
    message         text not null,
    queue_id        bigint,                      -- where a rule's invite sends the visitor
    created_at      bigint not null,
    unique (visitor_id, invite_id, outcome)
);
create index invite_event_widget on invite_event (widget_id, created_at);
create index invite_event_pacing on invite_event (queue_id, created_at) where outcome = 'offered';

-- The invites a visitor was shown and dismissed (beckon-triggers' History, as JSON), keyed by the
-- signed-in identity when there is one, else by visitor; updated by compare-and-set on `version`.
create table trigger_history (
    visitor_key text primary key,
    history     text not null,
    version     bigint not null default 0,
    updated_at  bigint not null
);
