// Beckon agent console, proactive triggers (docs/triggers.md): the admin's trigger rules (list,
// form editor with an "Advanced (JSON)" escape hatch and a live preview against the visitors on
// the site now), the "Why?" view of one live visitor (every rule, its verdict and its condition
// tree), and the invite analytics (funnel per source, chart of shown vs accepted per day, CSV).
//
// Why it is shaped this way:
// - It is a section of its own beside pages.js's, sharing console.js's helpers and agent socket
//   through window.BeckonConsole; its nav item is added here (after pages.js bound its own), and
//   pages.js's showSection hides this view like any other `[data-for]` one.
// - The server owns the rule model and its validation. The form edits a draft in the server's JSON
//   form; whatever the form cannot show (nested groups) stays editable as JSON. A refusal names
//   the field first (`rules[2].conditions.all[0].page_url: …`), and the editor marks every input
//   with that path (`data-path`), so the message lands next to the field it is about.
// - Saving replaces the whole list (PUT), so it re-reads the list first and swaps in only the rule
//   being edited: another admin's edit to a different rule is not undone.
// - The "Why?" button is added to each live-visitor card by watching the list, so pages.js needs
//   no knowledge of triggers; the panel refreshes on the visitor's live updates and every 3 s.
// - Nothing here builds markup from strings: rule names, messages, URLs and values are text.
(function () {
  'use strict';

  const B = window.BeckonConsole;
  if (!B) return;
  const { h, clear, api, toast, announce, fmtDateTime, all } = B;
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  const SECTION_KEY = 'beckon.console.section';
  let me = null;
  let uid = 0;
  const nextId = (p) => `trg-${p}-${++uid}`;
  // pages.js rewrites the stored section on start (it does not know this one): read it first.
  const restoreSection = sessionStorage.getItem(SECTION_KEY);

  // ---------------------------------------------------------------------------------------------
  // Vocabulary: condition kinds, operators, limits and reasons in words

  const TEXT_OPS = [['contains', 'contains'], ['equals', 'is exactly'], ['starts_with', 'starts with'],
    ['ends_with', 'ends with'], ['glob', 'matches the pattern'], ['regex', 'matches the regex']];
  const CMP_OPS = [['ge', 'at least'], ['gt', 'more than'], ['le', 'at most'], ['lt', 'fewer than'], ['eq', 'exactly'], ['ne', 'not']];
  const CMP_SIGN = { ge: '≥', gt: '>', le: '≤', lt: '<', eq: '=', ne: '≠' };
  const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
  const DEVICES = ['desktop', 'mobile', 'tablet'];
  const UTM = ['source', 'medium', 'campaign', 'term', 'content'];

  // kind -> {label, type, defaults}; `type` picks the inputs of a condition row.
  const KINDS = {
    page_url: { label: 'Page URL', type: 'text', def: () => ({ op: 'contains', value: '' }) },
    page_title: { label: 'Page title', type: 'text', def: () => ({ op: 'contains', value: '' }) },
    referrer: { label: 'Came from (referrer)', type: 'text', def: () => ({ op: 'contains', value: '' }) },
    time_on_page: { label: 'Time on the page', type: 'seconds', key: 'at_least_s', def: () => ({ at_least_s: 20 }) },
    time_on_site: { label: 'Time on the site', type: 'seconds', key: 'at_least_s', def: () => ({ at_least_s: 60 }) },
    page_views_of_page: { label: 'Views of this page', type: 'cmp', def: () => ({ op: 'ge', value: 2 }) },
    page_views_total: { label: 'Page views on the site', type: 'cmp', def: () => ({ op: 'ge', value: 3 }) },
    visit_count: { label: 'Visit number', type: 'cmp', def: () => ({ op: 'ge', value: 2 }) },
    returning: { label: 'Returning visitor', type: 'bool', yes: 'returning visitor', no: 'first visit', def: () => true },
    exit_intent: { label: 'Exit intent', type: 'seconds', key: 'after_s', def: () => ({ after_s: 5 }) },
    scroll_depth: { label: 'Scroll depth', type: 'percent', def: () => ({ at_least_percent: 50 }) },
    country: { label: 'Country', type: 'list', def: () => [] },
    language: { label: 'Browser language', type: 'list', def: () => [] },
    device: { label: 'Device', type: 'device', def: () => ['mobile'] },
    local_time: { label: 'Local time window', type: 'local_time', def: () => ({ time_zone: localZone(), from: '09:00', to: '18:00' }) },
    in_operating_hours: { label: 'Operating hours', type: 'bool', yes: 'inside operating hours', no: 'outside operating hours', def: () => true },
    authenticated: { label: 'Signed in', type: 'bool', yes: 'signed in', no: 'not signed in', def: () => true },
    context: { label: 'Context variable', type: 'context', def: () => ({ name: '', op: 'exists' }) },
    utm: { label: 'UTM parameter', type: 'utm', def: () => ({ param: 'source', op: 'equals', value: '' }) },
    event: { label: 'Custom event', type: 'event', def: () => ({ name: '', at_least: 1 }) },
  };

  // Whether the server resolves countries (GET /v1/admin/trigger-rules says); without a GeoIP
  // database country conditions never hold, and the editor says so where they are used.
  let geoipEnabled = true;

  const KIND_HINTS = {
    country: 'Two-letter codes. The country comes from the server’s GeoIP database (docs/operations.md): without one, every visitor’s country is unknown and this condition never holds.',
    local_time: 'An IANA time zone such as Europe/Paris; no day ticked means every day; an empty end means midnight.',
    event: 'Counted this visit, from Beckon.track(name) on your page.',
    context: 'From the page’s context provider, the pre-chat answers, or a signed-in visitor’s token.',
    exit_intent: 'The pointer leaves through the top, the tab is hidden, or a fast scroll up on touch screens.',
  };

  const FREQUENCIES = [['once_per_page_view', 'Once per page view'], ['once_per_visit', 'Once per visit'],
    ['once_per_visitor', 'Once per visitor'], ['once_per_days', 'Once every N days']];

  const REASONS = {
    chatting: () => 'the visitor is chatting',
    chatted_this_visit: () => 'the visitor already chatted during this visit',
    invite_showing: () => 'an invite is already showing',
    frequency: () => 'already invited within the rule’s frequency',
    visit_cap: () => 'the visitor reached the invites-per-visit cap',
    daily_cap: () => 'the visitor reached the invites-per-day cap',
    cooldown: (r) => `the visitor dismissed an invite; quiet until ${fmtDateTime(r.until)}`,
    missing_context: (r) => `the message needs the context variable “${r.name}”, which the visitor lacks`,
    queue_closed: () => 'the target queue is outside its operating hours',
    no_free_agent: () => 'no agent of the target queue is available with a free slot',
    wait_too_long: (r) => `the predicted wait (${r.predicted_s} s) is over the rule’s maximum (${r.max_s} s)`,
    pacing: () => 'the target queue’s invites-per-minute limit is reached',
  };
  const REASON_SHORT = {
    chatting: 'chatting', chatted_this_visit: 'chatted this visit', invite_showing: 'invite showing', frequency: 'frequency', visit_cap: 'visit cap',
    daily_cap: 'daily cap', cooldown: 'cooldown', missing_context: 'missing context', queue_closed: 'queue closed',
    no_free_agent: 'no free agent', wait_too_long: 'wait too long', pacing: 'pacing',
  };
  const reasonText = (r) => (r && REASONS[r.code] ? REASONS[r.code](r) : (r && r.code) || 'a limit');

  function localZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch (_) { return 'UTC'; }
  }

  const opWord = (op) => (TEXT_OPS.find((o) => o[0] === op) || [op, op])[1];
  const quote = (s) => `“${s}”`;

  // One line of words for a condition tree ("Page URL contains /pricing · 20 s on the page").
  function summarize(c) {
    if (!c || typeof c !== 'object') return '?';
    const key = Object.keys(c)[0];
    const v = c[key];
    switch (key) {
      case 'all': return v.length ? v.map(summarizeInner).join(' · ') : 'Always (no conditions)';
      case 'any': return v.length ? `any of: ${v.map(summarizeInner).join(' or ')}` : 'never (empty “any of”)';
      case 'not': return `not ${summarizeInner(v)}`;
      case 'page_url': case 'page_title': case 'referrer':
        return `${KINDS[key].label.replace(/ \(referrer\)$/, ' page')} ${opWord(v.op)} ${quote(v.value)}${v.ignore_case ? ' (any case)' : ''}`;
      case 'time_on_page': return `${v.at_least_s} s on the page`;
      case 'time_on_site': return `${v.at_least_s} s on the site`;
      case 'page_views_of_page': return `views of this page ${CMP_SIGN[v.op] || v.op} ${v.value}`;
      case 'page_views_total': return `page views ${CMP_SIGN[v.op] || v.op} ${v.value}`;
      case 'visit_count': return `visit ${CMP_SIGN[v.op] || v.op} ${v.value}`;
      case 'exit_intent': return `exit intent after ${v.after_s} s`;
      case 'scroll_depth': return `scrolled ${v.at_least_percent}%`;
      case 'country': return `country ${v.join(', ')}`;
      case 'language': return `language ${v.join(', ')}`;
      case 'device': return `on ${v.join(' or ')}`;
      case 'local_time': return `${v.from || '00:00'}–${v.to || '24:00'}${v.weekdays && v.weekdays.length ? ` ${v.weekdays.join(', ')}` : ''} (${v.time_zone})`;
      case 'returning': case 'in_operating_hours': case 'authenticated': return v ? KINDS[key].yes : KINDS[key].no;
      case 'context': return v.op === 'exists' ? `context ${quote(v.name)} is set`
        : `context ${quote(v.name)} ${CMP_SIGN[v.op] || opWord(v.op)} ${typeof v.value === 'string' ? quote(v.value) : v.value}`;
      case 'utm': return `utm_${v.param} ${opWord(v.op)} ${quote(v.value)}`;
      case 'event': return `event ${quote(v.name)}${v.at_least > 1 ? ` ×${v.at_least}` : ''}`;
      default: return key;
    }
  }
  function summarizeInner(c) {
    const k = c && typeof c === 'object' ? Object.keys(c)[0] : '';
    const s = summarize(c);
    return (k === 'all' || k === 'any') && c[k].length > 1 ? `(${s})` : s;
  }
  const capital = (s) => s.charAt(0).toUpperCase() + s.slice(1);

  function frequencyText(f) {
    if (f && typeof f === 'object' && f.once_per_days) return `once every ${f.once_per_days} days`;
    const found = FREQUENCIES.find((x) => x[0] === (f || 'once_per_visit'));
    return found ? found[1].toLowerCase() : String(f);
  }

  function limitsText(rule, queueName) {
    const l = rule.limits || {};
    const inv = rule.invite || {};
    return [
      frequencyText(l.frequency),
      l.require_free_agent === false ? 'even with no free agent' : 'needs a free agent',
      l.max_wait_s != null ? `max wait ${l.max_wait_s} s` : null,
      inv.delay_ms ? `after a ${inv.delay_ms / 1000} s delay` : null,
      `expires after ${(inv.expiry_ms || 60000) / 1000} s`,
      inv.queue_id ? `to ${queueName(inv.queue_id)}` : null,
      rule.date_window ? `only ${fmtDateTime(Date.parse(rule.date_window.from))} – ${fmtDateTime(Date.parse(rule.date_window.to))}` : null,
    ].filter(Boolean).join(' · ');
  }

  const byEvaluationOrder = (a, b) => (b.priority || 0) - (a.priority || 0) || a.id - b.id;
  const clone = (v) => JSON.parse(JSON.stringify(v));

  // Field errors: an element with `data-path` holds the input(s) and a direct `.field-error`.
  const fieldBox = (path, labelText, input, hint) => B.labelledField({ 'data-path': path }, labelText, input, hint);

  function clearFieldErrors(root) {
    for (const e of root.querySelectorAll('.field-error')) { e.hidden = true; e.textContent = ''; }
    for (const e of root.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
  }

  // Puts `text` next to the element whose data-path is `path` or its nearest ancestor path
  // (`conditions.all[0].page_url.value` → `conditions.all[0]`). Returns false when none is shown.
  function showAtPath(root, path, text) {
    let p = path;
    while (p) {
      const box = [...root.querySelectorAll('[data-path]')].find((e) => e.dataset.path === p && e.offsetParent !== null);
      if (box) {
        const err = box.querySelector(':scope > .field-error');
        if (err) {
          err.textContent = text;
          err.hidden = false;
          // In a condition row, the value the admin typed (not the kind picker) is the suspect.
          const input = box.querySelector('.trg-cond-inputs input[type="text"], .trg-cond-inputs input[type="number"]')
            || box.querySelector('input:not([type="checkbox"]), select, textarea') || box.querySelector('input');
          if (input) { input.setAttribute('aria-invalid', 'true'); input.focus({ preventScroll: true }); }
          box.scrollIntoView({ block: 'center' });
          return true;
        }
      }
      const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
      p = cut > 0 ? p.slice(0, cut) : '';
    }
    return false;
  }

  function busy(button, text) {
    const before = button.textContent;
    button.disabled = true;
    button.textContent = text;
    return () => { button.disabled = false; button.textContent = before; };
  }

  function numberOrNull(input) {
    const s = input.value.trim();
    if (s === '') return null;
    const n = Number(s);
    return Number.isFinite(n) ? n : s; // the server names a non-number precisely
  }

  // ---------------------------------------------------------------------------------------------
  // Navigation: a "Triggers" section (admins), with the rules and the invite analytics as tabs

  const navBtn = h('button', { type: 'button', class: 'mainnav-item', 'data-section': 'triggers', hidden: true }, 'Triggers');
  const nav = document.querySelector('.mainnav');
  if (nav) nav.append(navBtn);
  navBtn.addEventListener('click', () => showTriggers());

  function showTriggers() {
    if (!me || me.role !== 'admin') return;
    document.body.dataset.section = 'triggers';
    sessionStorage.setItem(SECTION_KEY, 'triggers');
    for (const b of document.querySelectorAll('.mainnav-item')) {
      if (b === navBtn) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
    }
    for (const el of all('#app [data-for]')) el.hidden = el.dataset.for !== 'triggers';
    section.open();
  }

  // The "Why?" panel belongs to the live visitors: leaving that section closes it.
  new MutationObserver(() => { if (document.body.dataset.section !== 'visitors') why.close(); })
    .observe(document.body, { attributes: true, attributeFilter: ['data-section'] });

  B.hooks.start.push((agent) => {
    me = agent;
    navBtn.hidden = agent.role !== 'admin';
    if (restoreSection === 'triggers' && agent.role === 'admin') showTriggers();
    cards.scan();
  });
  B.hooks.stop.push(() => {
    me = null;
    navBtn.hidden = true;
    section.reset();
    why.close();
  });
  B.hooks.frame.push((f) => {
    if (f.type === 'welcome' && f.agent) me = Object.assign({}, me, f.agent);
    else if (f.type === 'visitor' && f.visitor) why.onVisitor(f.visitor);
    else if (f.type === 'visitor_left') why.onLeft(f.visitor_id);
  });

  const section = {
    built: false,
    tab: 'rules',

    reset() {
      const view = $('view-triggers');
      if (view) clear(view);
      this.built = false;
      rules.reset();
      analytics.reset();
    },

    open() {
      this.build();
      this.show(this.tab);
    },

    build() {
      if (this.built) return;
      this.built = true;
      const view = $('view-triggers');
      const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Proactive triggers' });
      this.tabs = {};
      this.panels = {};
      const body = h('div', { class: 'tab-panels' });
      for (const [key, label] of [['rules', 'Rules'], ['analytics', 'Invite analytics']]) {
        const tab = h('button', { type: 'button', role: 'tab', class: 'tab', id: `trg-tab-${key}`, 'aria-controls': `trg-panel-${key}`, 'aria-selected': 'false', tabindex: '-1' }, label);
        const panel = h('section', { id: `trg-panel-${key}`, class: 'tab-panel', role: 'tabpanel', 'aria-labelledby': `trg-tab-${key}`, tabindex: '-1', hidden: true });
        tab.addEventListener('click', () => this.show(key));
        tab.addEventListener('keydown', (ev) => {
          if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
          const other = key === 'rules' ? 'analytics' : 'rules';
          this.show(other);
          this.tabs[other].focus();
        });
        this.tabs[key] = tab;
        this.panels[key] = panel;
        tablist.append(tab);
        body.append(panel);
      }
      view.append(h('div', { class: 'view-inner view-inner--wide trg' },
        h('header', { class: 'view-head' },
          h('h1', { id: 'triggers-heading' }, 'Proactive triggers'),
          h('p', { class: 'view-sub' }, 'Rules that invite visitors to chat, and how their invites do.')),
        tablist, body));
    },

    show(key) {
      this.tab = key;
      for (const [k, tab] of Object.entries(this.tabs)) {
        const on = k === key;
        tab.setAttribute('aria-selected', on ? 'true' : 'false');
        tab.tabIndex = on ? 0 : -1;
        this.panels[k].hidden = !on;
      }
      if (key === 'rules') rules.open(this.panels.rules);
      else analytics.open(this.panels.analytics);
    },
  };

  // Names of queues and agents, for limits and analytics sources.
  const names = {
    queues: new Map(),
    agents: new Map(),
    async loadQueues() {
      try {
        const res = await api('GET', '/v1/admin/queues');
        this.queues = new Map((res.queues || []).map((q) => [q.id, q.name]));
      } catch (_) { /* names fall back to ids */ }
      return this.queues;
    },
    async loadAgents() {
      try {
        const res = await api('GET', '/v1/agent/directory');
        this.agents = new Map((res.agents || []).map((a) => [a.id, a.name]));
      } catch (_) { /* names fall back to ids */ }
    },
    queue(id) { return this.queues.get(id) || `queue ${id}`; },
  };

  // ---------------------------------------------------------------------------------------------
  // Rules: the list, and the editor

  const rules = {
    list: [], // as the server last returned them
    panel: null,
    editor: null, // the open editor, if any

    reset() {
      this.list = [];
      if (this.editor) this.editor.destroy();
      this.editor = null;
      this.panel = null;
    },

    async open(panel) {
      this.panel = panel;
      if (this.editor) return; // keep an editor the admin left open
      if (!panel.firstChild) panel.append(h('p', { class: 'view-sub', role: 'status' }, 'Loading rules…'));
      await this.load();
      if (!this.editor) this.renderList();
    },

    async load() {
      try {
        const [res] = await Promise.all([api('GET', '/v1/admin/trigger-rules'), names.loadQueues()]);
        this.list = res.rules || [];
        geoipEnabled = res.geoip_enabled !== false;
      } catch (e) {
        toast(`Could not load the trigger rules: ${e.message}`, 'error');
      }
    },

    // Re-reads the list, lets `change` edit it, and PUTs it whole. Returns the saved list, or
    // throws the server's error with `index` set to the rule it names (when it names one).
    async save(change) {
      const fresh = await api('GET', '/v1/admin/trigger-rules');
      const next = change(fresh.rules || []);
      try {
        const res = await api('PUT', '/v1/admin/trigger-rules', { rules: next });
        this.list = res.rules || next;
        return this.list;
      } catch (e) {
        const m = /^rules\[(\d+)\](?:\.(\S+?))?: ([\s\S]*)$/.exec(e.message || '');
        if (m) { e.rule = next[Number(m[1])]; e.path = m[2] || ''; e.text = m[3]; }
        throw e;
      }
    },

    renderList() {
      const panel = this.panel;
      if (!panel) return;
      clear(panel);
      const add = h('button', { type: 'button', class: 'btn btn--primary' }, 'New rule');
      add.addEventListener('click', () => this.edit(null));
      const exp = h('button', { type: 'button', class: 'btn btn--secondary' }, 'Export JSON');
      exp.addEventListener('click', () => this.exportJson());
      const file = h('input', { type: 'file', accept: 'application/json,.json', class: 'sr-only', tabindex: '-1', 'aria-hidden': 'true' });
      const imp = h('button', { type: 'button', class: 'btn btn--secondary' }, 'Import JSON');
      imp.addEventListener('click', () => file.click());
      file.addEventListener('change', () => { if (file.files[0]) this.importJson(file.files[0], imp); file.value = ''; });
      this.listError = h('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
      panel.append(
        h('div', { class: 'admin-title-row' }, h('h2', { class: 'admin-title' }, 'Trigger rules'),
          h('div', { class: 'trg-list-tools' }, exp, imp, file, add)),
        this.listError,
        h('p', { class: 'admin-lead' }, 'Evaluated for every visitor on your sites, highest priority first; the first rule that matches and passes its limits invites the visitor. Changes apply at once, without touching your site.'));
      const sorted = [...this.list].sort(byEvaluationOrder);
      if (!sorted.length) {
        panel.append(h('p', { class: 'empty-state' }, 'No trigger rules yet. Create one to invite visitors to chat without writing code.'));
        return;
      }
      const ol = h('ol', { class: 'trg-rules', 'aria-label': 'Trigger rules in evaluation order' });
      sorted.forEach((r, i) => ol.append(this.item(r, i, sorted)));
      panel.append(ol);
    },

    // Moves a rule one place up or down the evaluation order. Order is priority (then id), so the
    // list is renumbered 10, 20, 30… from the bottom: every rule keeps its place but this one.
    async move(r, delta, sorted) {
      const order = sorted.map((x) => x.id);
      const at = order.indexOf(r.id);
      const to = at + delta;
      if (to < 0 || to >= order.length) return;
      [order[at], order[to]] = [order[to], order[at]];
      const prio = new Map(order.map((id, i) => [id, (order.length - i) * 10]));
      try {
        await this.save((list) => {
          // Rules another admin added meanwhile keep their own priority.
          return list.map((x) => (prio.has(x.id) ? Object.assign({}, x, { priority: prio.get(x.id) }) : x));
        });
      } catch (e) {
        toast(`Could not reorder: ${e.message}`, 'error');
        return;
      }
      announce(`${r.name} moved ${delta < 0 ? 'up' : 'down'}.`);
      this.renderList();
      const again = this.panel.querySelector(`.trg-rule[data-rule-id="${r.id}"] .trg-move-${delta < 0 ? 'up' : 'down'}`);
      if (again && !again.disabled) again.focus();
      else { const other = this.panel.querySelector(`.trg-rule[data-rule-id="${r.id}"] .trg-move-${delta < 0 ? 'down' : 'up'}`); if (other) other.focus(); }
    },

    exportJson() {
      const text = `${JSON.stringify([...this.list].sort(byEvaluationOrder), null, 2)}\n`;
      const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
      const a = h('a', { href: url, download: 'beckon-trigger-rules.json', hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    },

    // Replaces every rule with the file's (the `beckon` CLI's export, or this page's).
    async importJson(fileObj, button) {
      this.listError.hidden = true;
      let list;
      try {
        list = JSON.parse(await fileObj.text());
        if (list && !Array.isArray(list) && Array.isArray(list.rules)) list = list.rules;
        if (!Array.isArray(list)) throw new Error('the file must hold a list of rules: [{…}, {…}]');
      } catch (e) {
        this.showListError(`Could not read ${fileObj.name}: ${e.message}`);
        return;
      }
      const done = busy(button, 'Importing…');
      try {
        await this.save(() => list);
      } catch (e) {
        done();
        this.showListError(`Nothing was imported. ${e.message}`);
        return;
      }
      done();
      toast(`${list.length} rule${list.length === 1 ? '' : 's'} imported.`);
      this.renderList();
    },

    showListError(text) {
      this.listError.textContent = text;
      this.listError.hidden = false;
      this.listError.focus();
    },

    item(r, index, sorted) {
      const titleId = nextId('rule');
      const up = h('button', { type: 'button', class: 'btn btn--ghost btn--small trg-move-up', 'aria-label': `Move up: ${r.name}`, title: 'Move up (evaluated earlier)', disabled: index === 0 }, '↑');
      const down = h('button', { type: 'button', class: 'btn btn--ghost btn--small trg-move-down', 'aria-label': `Move down: ${r.name}`, title: 'Move down (evaluated later)', disabled: index === sorted.length - 1 }, '↓');
      up.addEventListener('click', () => this.move(r, -1, sorted));
      down.addEventListener('click', () => this.move(r, 1, sorted));
      const toggle = h('input', { type: 'checkbox', class: 'trg-switch', role: 'switch', 'aria-label': `Enabled: ${r.name}` });
      toggle.checked = r.enabled !== false;
      const edit = h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'aria-describedby': titleId }, 'Edit');
      const dup = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'aria-describedby': titleId }, 'Duplicate');
      const del = h('button', { type: 'button', class: 'btn btn--ghost btn--small btn--danger-text', 'aria-describedby': titleId }, 'Delete');
      const confirmBox = h('div', { class: 'trg-confirm', hidden: true });
      const inv = r.invite || {};
      const li = h('li', { class: `trg-rule${r.enabled === false ? ' trg-rule--off' : ''}`, 'data-rule-id': r.id, 'aria-labelledby': titleId },
        h('div', { class: 'trg-rule-head' },
          h('label', { class: 'trg-switch-wrap', title: 'Enabled' }, toggle, h('span', { class: 'trg-switch-text' }, r.enabled === false ? 'Off' : 'On')),
          h('h3', { id: titleId, class: 'trg-rule-name' }, r.name),
          h('span', { class: 'tag tag--small tag--plain', title: 'Priority: higher goes first' }, `priority ${r.priority || 0}`),
          h('span', { class: 'admin-item-spacer' }),
          h('span', { class: 'trg-rule-tools' }, up, down, edit, dup, del)),
        h('dl', { class: 'trg-rule-facts' },
          h('div', null, h('dt', null, 'When'), h('dd', { class: 'trg-summary' }, capital(summarize(r.conditions)))),
          h('div', null, h('dt', null, 'Invite'), h('dd', null, h('q', { class: 'trg-message' }, inv.message || ''), inv.prechat ? ' · with the pre-chat survey' : '')),
          h('div', null, h('dt', null, 'Limits'), h('dd', null, limitsText(r, (q) => names.queue(q))))),
        confirmBox);
      toggle.addEventListener('change', async () => {
        const want = toggle.checked;
        toggle.disabled = true;
        try {
          await this.save((list) => list.map((x) => (x.id === r.id ? Object.assign({}, x, { enabled: want }) : x)));
          toast(`${r.name}: ${want ? 'on' : 'off'}.`);
          this.renderList();
          const again = this.panel.querySelector(`.trg-rule[data-rule-id="${r.id}"] .trg-switch`);
          if (again) again.focus();
        } catch (e) {
          toggle.checked = !want;
          toggle.disabled = false;
          toast(`Could not save: ${e.message}`, 'error');
        }
      });
      edit.addEventListener('click', () => this.edit(r));
      dup.addEventListener('click', () => {
        const copy = clone(r);
        copy.id = this.nextId();
        copy.name = `Copy of ${r.name}`.slice(0, 200);
        copy.enabled = false;
        this.edit(copy, true);
      });
      del.addEventListener('click', () => {
        clear(confirmBox);
        const yes = h('button', { type: 'button', class: 'btn btn--danger-outline btn--small' }, 'Delete the rule');
        const no = h('button', { type: 'button', class: 'btn btn--secondary btn--small' }, 'Keep it');
        confirmBox.append(h('p', null, `Delete “${r.name}”? Visitors will no longer be invited by it; its analytics stay.`), h('div', { class: 'form-actions' }, yes, no));
        confirmBox.hidden = false;
        no.addEventListener('click', () => { confirmBox.hidden = true; del.focus(); });
        yes.addEventListener('click', async () => {
          const done = busy(yes, 'Deleting…');
          try {
            await this.save((list) => list.filter((x) => x.id !== r.id));
            toast(`Rule “${r.name}” deleted.`);
            announce('Rule deleted.');
            this.renderList();
          } catch (e) {
            done();
            toast(`Could not delete: ${e.message}`, 'error');
          }
        });
        yes.focus();
      });
      return li;
    },

    nextId() {
      return this.list.reduce((m, r) => Math.max(m, r.id), 0) + 1;
    },

    edit(rule, isCopy) {
      const creating = !rule || !!isCopy;
      const draft = rule ? clone(rule) : {
        id: this.nextId(), name: '', enabled: true, priority: 0,
        conditions: { all: [{ page_url: { op: 'contains', value: '' } }, { time_on_page: { at_least_s: 20 } }] },
        invite: { message: 'Hi! Can I help you with anything?', prechat: false },
        limits: { frequency: 'once_per_visit', require_free_agent: true },
      };
      clear(this.panel);
      this.editor = new Editor(draft, creating, this.panel, () => { this.editor = null; this.renderList(); });
    },
  };

  // ---------------------------------------------------------------------------------------------
  // The editor: a form over the draft (the rule's JSON), the JSON itself, and the live preview

  class Editor {
    constructor(draft, creating, panel, onClose) {
      this.draft = draft;
      this.creating = creating;
      this.panel = panel;
      this.onClose = onClose;
      this.previewSeq = 0;
      this.previewTimer = null;
      this.previewEvery = setInterval(() => this.preview(), 5000); // visitors come and go
      this.build();
      this.preview();
    }

    destroy() {
      clearTimeout(this.previewTimer);
      clearInterval(this.previewEvery);
      this.previewSeq++;
    }

    close() {
      this.destroy();
      this.onClose();
    }

    build() {
      const titleId = nextId('editor');
      const back = h('button', { type: 'button', class: 'btn btn--ghost btn--small' }, '‹ All rules');
      back.addEventListener('click', () => this.close());
      this.formBox = h('div', { class: 'trg-form-fields' });
      this.topError = h('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
      this.json = h('textarea', { class: 'trg-json', rows: 14, spellcheck: 'false', autocomplete: 'off' });
      this.jsonNote = h('p', { class: 'field-hint trg-json-note', role: 'status' });
      this.jsonBox = fieldBox('json', null, this.json);
      this.jsonBox.insertBefore(this.jsonNote, this.jsonBox.querySelector('.field-error'));
      this.advanced = h('details', { class: 'trg-advanced' },
        h('summary', null, 'Advanced (JSON)'),
        h('p', { class: 'field-hint' }, 'The whole rule as the server stores it (docs/triggers.md). Edit it for anything the form cannot express, such as groups inside groups; the form follows.'),
        this.jsonBox);
      this.json.addEventListener('input', () => this.fromJson());
      this.save = h('button', { type: 'submit', class: 'btn btn--primary' }, this.creating ? 'Create rule' : 'Save rule');
      const cancel = h('button', { type: 'button', class: 'btn btn--secondary' }, 'Cancel');
      cancel.addEventListener('click', () => this.close());
      this.previewBox = h('section', { class: 'trg-preview', 'aria-labelledby': `${titleId}-preview` },
        h('h3', { id: `${titleId}-preview`, class: 'trg-preview-title' }, 'Live preview'),
        h('p', { class: 'trg-preview-count', role: 'status', 'aria-live': 'polite' }, 'Checking the visitors on the site now…'),
        h('ul', { class: 'trg-preview-list' }));
      this.form = h('form', { class: 'trg-editor admin-form', novalidate: true, 'aria-labelledby': titleId },
        h('div', { class: 'trg-editor-head' }, back,
          h('h2', { id: titleId, class: 'admin-title' }, this.creating ? 'New trigger rule' : `Edit “${this.draft.name}”`)),
        this.topError,
        h('div', { class: 'trg-editor-body' },
          h('div', { class: 'trg-editor-main' }, this.formBox, this.advanced,
            h('div', { class: 'form-actions trg-editor-actions' }, this.save, cancel)),
          this.previewBox));
      this.form.addEventListener('submit', (ev) => { ev.preventDefault(); this.submit(); });
      // Editing a field clears the error shown for it; the others stay until the next save.
      const clearOwn = (ev) => {
        const box = ev.target.closest && ev.target.closest('[data-path]');
        if (!box) return;
        const err = box.querySelector(':scope > .field-error');
        if (err) { err.hidden = true; err.textContent = ''; }
        for (const el of box.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
      };
      this.form.addEventListener('input', clearOwn);
      this.form.addEventListener('change', clearOwn);
      this.panel.append(this.form);
      this.renderForm();
      this.syncJson();
      const first = this.form.querySelector('input[type="text"]');
      if (first) first.focus();
    }

    changed() {
      this.syncJson();
      this.schedulePreview();
    }

    syncJson() {
      if (document.activeElement === this.json) return;
      this.json.value = JSON.stringify(this.draft, null, 2);
      this.jsonNote.textContent = '';
    }

    fromJson() {
      let v;
      try {
        v = JSON.parse(this.json.value);
      } catch (e) {
        this.jsonNote.textContent = `Not valid JSON yet: ${e.message}`;
        return;
      }
      if (!v || typeof v !== 'object' || Array.isArray(v)) {
        this.jsonNote.textContent = 'A rule is a JSON object: {"id": …, "name": …, "conditions": …, "invite": …}.';
        return;
      }
      this.jsonNote.textContent = '';
      this.draft = v;
      this.renderForm();
      this.schedulePreview();
    }

    // --- the form ------------------------------------------------------------------------------

    renderForm() {
      const d = this.draft;
      d.invite = d.invite && typeof d.invite === 'object' ? d.invite : {};
      d.limits = d.limits && typeof d.limits === 'object' ? d.limits : {};
      const box = this.formBox;
      clear(box);
      const on = (el, ev, fn) => { el.addEventListener(ev, () => { fn(); this.changed(); }); return el; };

      const name = h('input', { type: 'text', maxlength: '200', autocomplete: 'off' });
      name.value = d.name || '';
      on(name, 'input', () => { d.name = name.value; });
      const enabled = h('input', { type: 'checkbox' });
      enabled.checked = d.enabled !== false;
      on(enabled, 'change', () => { d.enabled = enabled.checked; });
      const priority = h('input', { type: 'number', step: '1', inputmode: 'numeric' });
      priority.value = String(d.priority || 0);
      on(priority, 'input', () => { d.priority = numberOrNull(priority) == null ? 0 : numberOrNull(priority); });

      box.append(h('div', { class: 'trg-grid trg-grid--head' },
        fieldBox('name', 'Name', name, 'For you and your team; visitors never see it.'),
        fieldBox('priority', 'Priority', priority, 'Higher goes first.'),
        h('div', { class: 'field', 'data-path': 'enabled' }, h('span', { class: 'field-label' }, 'Status'),
          h('label', { class: 'check trg-check-tall' }, enabled, ' Enabled'), h('p', { class: 'field-error', hidden: true }))));

      box.append(this.conditionsFieldset());

      // Invite
      const inv = d.invite;
      const message = h('textarea', { rows: 3, maxlength: '4000' });
      message.value = inv.message || '';
      on(message, 'input', () => { inv.message = message.value; });
      // The message in the widget's other language (French): for visitors whose widget speaks it.
      const messageFr = h('textarea', { rows: 2, maxlength: '4000' });
      messageFr.value = (inv.translations && inv.translations.fr) || '';
      on(messageFr, 'input', () => {
        const tr = Object.assign({}, inv.translations);
        if (messageFr.value.trim()) tr.fr = messageFr.value; else delete tr.fr;
        if (Object.keys(tr).length) inv.translations = tr; else delete inv.translations;
      });
      const prechat = h('input', { type: 'checkbox' });
      prechat.checked = !!inv.prechat;
      on(prechat, 'change', () => { inv.prechat = prechat.checked; });
      const queue = h('select', null, h('option', { value: '' }, 'The widget’s queue (routing rules apply)'),
        [...names.queues].map(([id, n]) => h('option', { value: String(id) }, n)));
      if (inv.queue_id != null && !names.queues.has(inv.queue_id)) queue.append(h('option', { value: String(inv.queue_id) }, `queue ${inv.queue_id}`));
      queue.value = inv.queue_id != null ? String(inv.queue_id) : '';
      on(queue, 'change', () => { if (queue.value) inv.queue_id = Number(queue.value); else delete inv.queue_id; });
      const expiry = h('input', { type: 'number', min: '1', max: '3600', step: '1', placeholder: '60' });
      expiry.value = inv.expiry_ms != null ? String(inv.expiry_ms / 1000) : '';
      on(expiry, 'input', () => { const n = numberOrNull(expiry); if (n == null) delete inv.expiry_ms; else inv.expiry_ms = typeof n === 'number' ? Math.round(n * 1000) : n; });
      const delay = h('input', { type: 'number', min: '0', step: '1', placeholder: '0' });
      delay.value = inv.delay_ms ? String(inv.delay_ms / 1000) : '';
      on(delay, 'input', () => { const n = numberOrNull(delay); if (n == null) delete inv.delay_ms; else inv.delay_ms = typeof n === 'number' ? Math.round(n * 1000) : n; });
      box.append(h('fieldset', { class: 'trg-fieldset' }, h('legend', null, 'Invite'),
        fieldBox('invite.message', 'Message', message, 'Plain text. {context:Name} is replaced by the visitor’s context value (no invite when it is missing).'),
        fieldBox('invite.translations.fr', 'Message in French (optional)', messageFr, 'Shown to visitors whose widget speaks French; everyone else reads the message above.'),
        h('div', { class: 'trg-grid' },
          fieldBox('invite.queue_id', 'Target queue', queue),
          fieldBox('invite.expiry_ms', 'Expires after (s)', expiry, 'Default 60 s.'),
          fieldBox('invite.delay_ms', 'Delay before showing (s)', delay),
          h('div', { class: 'field', 'data-path': 'invite.prechat' }, h('span', { class: 'field-label' }, 'Pre-chat survey'),
            h('label', { class: 'check trg-check-tall' }, prechat, ' Ask the survey before the chat'), h('p', { class: 'field-error', hidden: true })))));

      // Limits
      const lim = d.limits;
      const freqVal = lim.frequency && typeof lim.frequency === 'object' ? 'once_per_days' : (lim.frequency || 'once_per_visit');
      const freq = h('select', null, FREQUENCIES.map(([v, t]) => h('option', { value: v }, t)));
      freq.value = freqVal;
      const days = h('input', { type: 'number', min: '1', step: '1', 'aria-label': 'Days between invites' });
      days.value = lim.frequency && typeof lim.frequency === 'object' ? String(lim.frequency.once_per_days) : '7';
      const syncFreq = () => {
        days.hidden = freq.value !== 'once_per_days';
        lim.frequency = freq.value === 'once_per_days' ? { once_per_days: numberOrNull(days) } : freq.value;
      };
      days.hidden = freq.value !== 'once_per_days';
      on(freq, 'change', syncFreq);
      on(days, 'input', syncFreq);
      const freeAgent = h('input', { type: 'checkbox' });
      freeAgent.checked = lim.require_free_agent !== false;
      on(freeAgent, 'change', () => { lim.require_free_agent = freeAgent.checked; });
      const maxWait = h('input', { type: 'number', min: '0', step: '1', placeholder: 'No limit' });
      maxWait.value = lim.max_wait_s != null ? String(lim.max_wait_s) : '';
      on(maxWait, 'input', () => { const n = numberOrNull(maxWait); if (n == null) delete lim.max_wait_s; else lim.max_wait_s = n; });
      const freqBox = fieldBox('limits.frequency', 'How often per visitor', freq);
      freqBox.insertBefore(days, freqBox.querySelector('.field-error'));
      box.append(h('fieldset', { class: 'trg-fieldset' }, h('legend', null, 'Limits'),
        h('div', { class: 'trg-grid' },
          freqBox,
          fieldBox('limits.max_wait_s', 'Max predicted wait (s)', maxWait),
          h('div', { class: 'field trg-span', 'data-path': 'limits.require_free_agent' },
            h('label', { class: 'check' }, freeAgent, ' Only when an agent of the target queue is available with a free slot'),
            h('p', { class: 'field-error', hidden: true }))),
        h('p', { class: 'field-hint' }, 'Across all rules a visitor sees one invite at a time, none while chatting, and a pause after dismissing one.')));

      // Date window
      const from = h('input', { type: 'datetime-local' });
      const to = h('input', { type: 'datetime-local' });
      if (d.date_window) { from.value = toLocalInput(d.date_window.from); to.value = toLocalInput(d.date_window.to); }
      const syncWindow = () => {
        if (!from.value && !to.value) { delete d.date_window; return; }
        d.date_window = {};
        if (from.value) d.date_window.from = new Date(from.value).toISOString().replace(/\.000Z$/, 'Z');
        if (to.value) d.date_window.to = new Date(to.value).toISOString().replace(/\.000Z$/, 'Z');
      };
      on(from, 'change', syncWindow);
      on(to, 'change', syncWindow);
      box.append(h('fieldset', { class: 'trg-fieldset', 'data-path': 'date_window' }, h('legend', null, 'Dates (optional)'),
        h('div', { class: 'trg-grid' }, fieldBox('date_window.from', 'From', from), fieldBox('date_window.to', 'Until', to)),
        h('p', { class: 'field-hint' }, 'Leave empty for a rule that is always live; in your local time.'),
        h('p', { class: 'field-error', hidden: true })));
    }

    // The conditions: a top-level "all / any / none of" over rows, each one condition (or its
    // negation). Anything else (groups in groups) is left to the JSON.
    conditionsFieldset() {
      const d = this.draft;
      const fs = h('fieldset', { class: 'trg-fieldset trg-conditions', 'data-path': 'conditions' }, h('legend', null, 'Conditions'));
      const shape = formShape(d.conditions);
      if (!shape) {
        fs.append(h('p', { class: 'admin-note' }, 'These conditions nest groups inside groups, which the form cannot show: edit them under Advanced (JSON) below.'),
          h('p', { class: 'trg-summary' }, capital(summarize(d.conditions))), h('p', { class: 'field-error', hidden: true }));
        this.advanced.open = true;
        return fs;
      }
      const mode = h('select', { 'aria-label': 'Combine the conditions' },
        h('option', { value: 'all' }, 'all of these hold'), h('option', { value: 'any' }, 'any of these holds'), h('option', { value: 'none' }, 'none of these holds'));
      mode.value = shape.mode;
      const rowsBox = h('ol', { class: 'trg-cond-rows' });
      const write = () => { d.conditions = fromShape(shape); this.changed(); };
      const draw = () => {
        clear(rowsBox);
        shape.rows.forEach((row, i) => rowsBox.append(this.conditionRow(shape, row, i, write, draw)));
        if (!shape.rows.length) rowsBox.append(h('li', { class: 'trg-cond-empty' }, shape.mode === 'any' ? 'No conditions: an empty “any of” never holds.' : 'No conditions: the rule holds for every visitor.'));
      };
      mode.addEventListener('change', () => { shape.mode = mode.value; write(); draw(); });
      const kind = h('select', { 'aria-label': 'Condition to add' }, Object.entries(KINDS).map(([k, v]) => h('option', { value: k }, v.label)));
      const add = h('button', { type: 'button', class: 'btn btn--secondary btn--small' }, 'Add condition');
      add.addEventListener('click', () => {
        shape.rows.push({ kind: kind.value, negate: false, spec: KINDS[kind.value].def() });
        write();
        draw();
        const last = rowsBox.lastElementChild && rowsBox.lastElementChild.querySelector('.trg-cond-inputs input, .trg-cond-inputs select');
        if (last) last.focus();
      });
      fs.append(
        h('div', { class: 'trg-cond-mode' }, h('span', null, 'Invite when'), mode),
        rowsBox,
        h('div', { class: 'trg-cond-add' }, kind, add),
        h('p', { class: 'field-error', hidden: true }));
      draw();
      return fs;
    }

    conditionRow(shape, row, i, write, draw) {
      const n = i + 1;
      const path = `conditions.${shape.mode === 'none' ? 'not.any' : shape.mode}[${i}]`;
      const kinds = h('select', { 'aria-label': `Condition ${n}` }, Object.entries(KINDS).map(([k, v]) => h('option', { value: k }, v.label)));
      kinds.value = row.kind;
      kinds.addEventListener('change', () => { row.kind = kinds.value; row.spec = KINDS[row.kind].def(); write(); draw(); });
      const negate = h('input', { type: 'checkbox' });
      negate.checked = row.negate;
      negate.addEventListener('change', () => { row.negate = negate.checked; write(); });
      const del = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'aria-label': `Remove condition ${n}` }, '✕');
      del.addEventListener('click', () => { shape.rows.splice(i, 1); write(); draw(); });
      const inputs = h('div', { class: 'trg-cond-inputs' }, conditionInputs(row, n, write));
      return h('li', { class: 'trg-cond-row', 'data-path': path, 'data-kind': row.kind },
        h('div', { class: 'trg-cond-line' }, kinds, inputs,
          h('span', { class: 'trg-cond-end' }, h('label', { class: 'check trg-not', title: 'Invert this condition' }, negate, ' not'), del)),
        KIND_HINTS[row.kind] ? h('p', { class: 'field-hint' }, KIND_HINTS[row.kind]) : null,
        row.kind === 'country' && !geoipEnabled
          ? h('p', { class: 'field-warning', role: 'note', 'data-role': 'no-geoip' }, 'This server has no GeoIP database configured: every visitor’s country is unknown, so this condition never holds. Set geoip_database (docs/operations.md).')
          : null,
        h('p', { class: 'field-error', role: 'alert', hidden: true }));
    }

    // --- preview -------------------------------------------------------------------------------

    schedulePreview() {
      clearTimeout(this.previewTimer);
      this.previewTimer = setTimeout(() => this.preview(), 400);
    }

    async preview() {
      if (this.form.offsetParent === null) return; // another section or tab is showing: no traffic
      const seq = ++this.previewSeq;
      const count = this.previewBox.querySelector('.trg-preview-count');
      const list = this.previewBox.querySelector('.trg-preview-list');
      let res;
      let visitors;
      try {
        [res, visitors] = await Promise.all([
          api('POST', '/v1/admin/trigger-rules/preview', { rule: this.draft }),
          api('GET', '/v1/agent/visitors').catch(() => ({ visitors: [] })),
        ]);
      } catch (e) {
        if (seq !== this.previewSeq) return;
        count.textContent = e.code === 'invalid_rule' ? `No preview until the rule is valid: ${e.message}` : `No preview: ${e.message}`;
        this.previewBox.dataset.state = 'error';
        clear(list);
        return;
      }
      if (seq !== this.previewSeq) return;
      this.previewBox.dataset.state = 'ok';
      const byId = new Map((visitors.visitors || []).map((v) => [v.visitor_id, v]));
      const m = res.live_visitors;
      count.textContent = `Matches ${res.matching} of ${m} visitor${m === 1 ? '' : 's'} on the site now, would invite ${res.would_fire}.`;
      count.dataset.matching = String(res.matching);
      count.dataset.wouldFire = String(res.would_fire);
      clear(list);
      const rows = [...res.visitors].sort((a, b) => Number(b.trace.matches) - Number(a.trace.matches));
      for (const { visitor_id: id, trace } of rows.slice(0, 50)) {
        const v = byId.get(id);
        const failing = trace.matches ? [] : failingLeaves(trace.conditions);
        list.append(h('li', { class: 'trg-preview-item', 'data-visitor-id': id, 'data-verdict': trace.verdict.kind },
          h('span', { class: 'trg-preview-who' }, v && v.authenticated_as ? v.authenticated_as : `Visitor #${id}`),
          verdictPill(trace.verdict, null),
          h('span', { class: 'trg-preview-page' }, v && v.page ? v.page.url : ''),
          failing.length ? h('span', { class: 'trg-preview-why' }, `✗ ${failing.slice(0, 2).join('; ')}`) : null));
      }
      if (rows.length > 50) list.append(h('li', { class: 'field-hint' }, `…and ${rows.length - 50} more.`));
    }

    // --- saving --------------------------------------------------------------------------------

    async submit() {
      clearFieldErrors(this.form);
      this.topError.hidden = true;
      const d = this.draft;
      if (document.activeElement === this.json && this.jsonNote.textContent) {
        this.showError('json', this.jsonNote.textContent);
        return;
      }
      if (!String(d.name || '').trim()) { this.showError('name', 'Give the rule a name.'); return; }
      if (!String((d.invite && d.invite.message) || '').trim()) { this.showError('invite.message', 'Write the message the visitor will see.'); return; }
      d.name = String(d.name).trim();
      const done = busy(this.save, 'Saving…');
      const wasCreating = this.creating;
      try {
        await rules.save((list) => {
          const at = list.findIndex((r) => r.id === d.id);
          if (at >= 0 && !wasCreating) { list[at] = d; return list; }
          if (at >= 0) d.id = list.reduce((mx, r) => Math.max(mx, r.id), 0) + 1; // someone took the id meanwhile
          return list.concat([d]);
        });
      } catch (e) {
        done();
        if (e.rule && e.rule.id === d.id) this.showError(e.path, e.text);
        else if (e.rule) this.showError('', `Another rule (“${e.rule.name}”) is not valid: ${e.message}`);
        else this.showError('', e.message);
        return;
      }
      toast(`Rule “${d.name}” ${wasCreating ? 'created' : 'saved'}.`);
      announce('Rule saved.');
      this.close();
    }

    showError(path, text) {
      if (path && showAtPath(this.form, path, text)) return;
      if (path && /^(conditions|date_window)/.test(path) && this.advanced.open) {
        if (showAtPath(this.form, 'json', `${path}: ${text}`)) return;
      }
      this.topError.textContent = path ? `${path}: ${text}` : text;
      this.topError.hidden = false;
      this.topError.focus();
    }
  }

  function toLocalInput(iso) {
    const t = Date.parse(iso);
    if (!Number.isFinite(t)) return '';
    const d = new Date(t - new Date(t).getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 16);
  }

  const isLeaf = (c) => !!c && typeof c === 'object' && !Array.isArray(c) && Object.keys(c).length === 1 && Object.prototype.hasOwnProperty.call(KINDS, Object.keys(c)[0]);

  // {mode, rows} for the form, or null when the tree is deeper than the form shows.
  function formShape(c) {
    let mode;
    let list;
    if (!c || typeof c !== 'object') return { mode: 'all', rows: [] };
    if (Array.isArray(c.all) && Object.keys(c).length === 1) { mode = 'all'; list = c.all; }
    else if (Array.isArray(c.any) && Object.keys(c).length === 1) { mode = 'any'; list = c.any; }
    else if (c.not && Array.isArray(c.not.any) && Object.keys(c.not).length === 1) { mode = 'none'; list = c.not.any; }
    else if (isLeaf(c) || (c.not && isLeaf(c.not))) { mode = 'all'; list = [c]; }
    else return null;
    const rows = [];
    for (const item of list) {
      if (isLeaf(item)) { const k = Object.keys(item)[0]; rows.push({ kind: k, negate: false, spec: item[k] }); }
      else if (item && isLeaf(item.not) && Object.keys(item).length === 1) { const k = Object.keys(item.not)[0]; rows.push({ kind: k, negate: true, spec: item.not[k] }); }
      else return null;
    }
    return { mode, rows };
  }

  function fromShape(shape) {
    const list = shape.rows.map((r) => (r.negate ? { not: { [r.kind]: r.spec } } : { [r.kind]: r.spec }));
    if (shape.mode === 'none') return { not: { any: list } };
    return { [shape.mode]: list };
  }

  // The inputs of one condition row; each writes into row.spec and calls `write`.
  function conditionInputs(row, n, write) {
    const k = KINDS[row.kind];
    const s = row.spec;
    const lab = (text) => ({ 'aria-label': `Condition ${n}: ${text}` });
    const select = (opts, value, label) => { const el = h('select', lab(label), opts.map(([v, t]) => h('option', { value: v }, t))); el.value = value; return el; };
    const text = (value, label, extra) => { const el = h('input', Object.assign({ type: 'text', autocomplete: 'off', spellcheck: 'false' }, lab(label), extra || {})); el.value = value == null ? '' : String(value); return el; };
    const num = (value, label, extra) => { const el = h('input', Object.assign({ type: 'number', step: '1', inputmode: 'numeric' }, lab(label), extra || {})); el.value = value == null ? '' : String(value); return el; };
    const unit = (t) => h('span', { class: 'trg-unit' }, t);
    const on = (el, ev, fn) => { el.addEventListener(ev, () => { fn(); write(); }); return el; };

    switch (k.type) {
      case 'text': {
        const op = select(TEXT_OPS, s.op, 'operator');
        const value = text(s.value, 'value', { class: 'trg-grow', placeholder: row.kind === 'page_url' ? '/pricing' : '' });
        const ic = h('input', { type: 'checkbox' });
        ic.checked = !!s.ignore_case;
        on(op, 'change', () => { s.op = op.value; });
        on(value, 'input', () => { s.value = value.value; });
        on(ic, 'change', () => { if (ic.checked) s.ignore_case = true; else delete s.ignore_case; });
        return [op, value, h('label', { class: 'check' }, ic, ' any case')];
      }
      case 'seconds': {
        const v = num(s[k.key], 'seconds', { min: '0' });
        on(v, 'input', () => { s[k.key] = numberOrNull(v); });
        return [unit(row.kind === 'exit_intent' ? 'after' : 'at least'), v, unit(row.kind === 'exit_intent' ? 's on the page' : 's')];
      }
      case 'percent': {
        const v = num(s.at_least_percent, 'percent', { min: '0', max: '100' });
        on(v, 'input', () => { s.at_least_percent = numberOrNull(v); });
        return [unit('at least'), v, unit('%')];
      }
      case 'cmp': {
        const op = select(CMP_OPS, s.op, 'comparison');
        const v = num(s.value, 'number', { min: '0' });
        on(op, 'change', () => { s.op = op.value; });
        on(v, 'input', () => { s.value = numberOrNull(v); });
        return [op, v];
      }
      case 'bool': {
        const v = select([['true', k.yes], ['false', k.no]], String(s !== false), 'value');
        on(v, 'change', () => { row.spec = v.value === 'true'; });
        return [v];
      }
      case 'list': {
        const isCountry = row.kind === 'country';
        const v = text((s || []).join(', '), isCountry ? 'country codes' : 'language codes', { class: 'trg-grow', placeholder: isCountry ? 'FR, BE, CH' : 'fr, de-CH' });
        on(v, 'input', () => { row.spec = v.value.split(/[\s,]+/).filter(Boolean).map((x) => (isCountry ? x.toUpperCase() : x)); });
        return [unit('one of'), v];
      }
      case 'device': {
        return DEVICES.map((dev) => {
          const cb = h('input', { type: 'checkbox', value: dev });
          cb.checked = (s || []).includes(dev);
          on(cb, 'change', () => { row.spec = DEVICES.filter((x) => (x === dev ? cb.checked : (row.spec || []).includes(x))); });
          return h('label', { class: 'check' }, cb, ` ${dev}`);
        });
      }
      case 'local_time': {
        const tz = text(s.time_zone, 'time zone', { placeholder: 'Europe/Paris' });
        const from = h('input', Object.assign({ type: 'time' }, lab('from')));
        from.value = s.from || '00:00';
        const to = h('input', Object.assign({ type: 'time' }, lab('until')));
        to.value = s.to && s.to !== '24:00' ? s.to : '';
        on(tz, 'input', () => { s.time_zone = tz.value.trim(); });
        on(from, 'change', () => { s.from = from.value || '00:00'; });
        on(to, 'change', () => { s.to = to.value || '24:00'; });
        const days = WEEKDAYS.map((d) => {
          const cb = h('input', { type: 'checkbox', value: d });
          cb.checked = (s.weekdays || []).includes(d);
          on(cb, 'change', () => {
            const set = WEEKDAYS.filter((x) => (x === d ? cb.checked : (s.weekdays || []).includes(x)));
            if (set.length) s.weekdays = set; else delete s.weekdays;
          });
          return h('label', { class: 'check trg-day' }, cb, ` ${d}`);
        });
        return [from, unit('–'), to, unit('in'), tz, h('span', { class: 'trg-days', title: 'No day ticked: every day' }, days)];
      }
      case 'context': {
        const name = text(s.name, 'variable name', { placeholder: 'Case Id' });
        const ops = [['exists', 'is set']].concat(TEXT_OPS, CMP_OPS.map(([v]) => [v, `${CMP_SIGN[v]} (number)`]));
        const op = select(ops, s.op, 'test');
        const value = text(s.value, 'value', { class: 'trg-grow' });
        const sync = () => { value.hidden = op.value === 'exists'; };
        sync();
        on(name, 'input', () => { s.name = name.value; });
        on(op, 'change', () => {
          s.op = op.value;
          sync();
          if (op.value === 'exists') delete s.value;
          else s.value = CMP_SIGN[op.value] ? numberOrNull(value) : value.value;
        });
        on(value, 'input', () => { s.value = CMP_SIGN[s.op] ? numberOrNull(value) : value.value; });
        return [name, op, value];
      }
      case 'utm': {
        const param = select(UTM.map((p) => [p, `utm_${p}`]), s.param, 'parameter');
        const op = select(TEXT_OPS, s.op, 'operator');
        const value = text(s.value, 'value', { class: 'trg-grow', placeholder: 'newsletter' });
        on(param, 'change', () => { s.param = param.value; });
        on(op, 'change', () => { s.op = op.value; });
        on(value, 'input', () => { s.value = value.value; });
        return [param, op, value];
      }
      case 'event': {
        const name = text(s.name, 'event name', { class: 'trg-grow', placeholder: 'added-to-cart' });
        const times = num(s.at_least == null ? 1 : s.at_least, 'at least how many times', { min: '1' });
        on(name, 'input', () => { s.name = name.value; });
        on(times, 'input', () => { s.at_least = numberOrNull(times); });
        return [name, unit('at least'), times, unit('×')];
      }
      default:
        return [];
    }
  }

  // The leaves that do not hold, in words (for a preview line).
  function failingLeaves(t) {
    if (t.holds) return [];
    if (!t.children || !t.children.length) return [`${t.description}${t.observed != null ? ` (seen: ${t.observed})` : ''}`];
    return t.children.flatMap(failingLeaves);
  }

  function verdictInfo(v, nameOf) {
    switch (v.kind) {
      case 'would_fire': return ['Would invite', 'fire'];
      case 'no_match': return ['No match', 'off'];
      case 'disabled': return ['Disabled', 'off'];
      case 'outside_date_window': return ['Outside its dates', 'off'];
      case 'preempted': return [`Preempted by ${nameOf ? nameOf(v.by) : `rule ${v.by}`}`, 'held'];
      case 'suppressed': return [`Held back: ${reasonText(v.reason)}`, 'held'];
      default: return [v.kind, 'off'];
    }
  }

  function verdictPill(v, nameOf) {
    const [text, tone] = verdictInfo(v, nameOf);
    return h('span', { class: `trg-verdict trg-verdict--${tone}`, 'data-verdict': v.kind, 'data-reason': v.reason ? v.reason.code : null }, text);
  }

  // ---------------------------------------------------------------------------------------------
  // "Why?": a button on each live-visitor card, opening a panel with every rule's verdict

  const cards = {
    observer: null,
    scan() {
      const view = $('view-visitors');
      if (!view) return;
      if (!this.observer) {
        this.observer = new MutationObserver(() => this.scan());
        this.observer.observe(view, { childList: true, subtree: true });
      }
      for (const card of all('.visitor-card[data-visitor-id]', view)) {
        const actions = card.querySelector('.visitor-actions');
        if (!actions || actions.querySelector('.trg-why-btn')) continue;
        const id = Number(card.dataset.visitorId);
        const heading = card.querySelector('.visitor-name');
        const btn = h('button', { type: 'button', class: 'btn btn--secondary btn--small trg-why-btn', 'aria-haspopup': 'dialog', 'aria-describedby': heading ? heading.id : null, title: 'Which trigger rules hold for this visitor, and why' }, 'Why?');
        btn.addEventListener('click', () => why.open(id, btn));
        actions.append(btn);
      }
    },
  };

  const why = {
    el: null,
    visitorId: null,
    visitor: null,
    opener: null,
    timer: null,
    pending: null,
    gone: false,
    seq: 0,
    ruleNames: null,
    rest: null,

    build() {
      if (this.el) return;
      const titleId = 'trg-why-title';
      this.title = h('h2', { id: titleId, class: 'trg-why-title' });
      this.sub = h('p', { class: 'trg-why-sub' });
      this.status = h('p', { class: 'trg-why-status', role: 'status' });
      this.body = h('ol', { class: 'trg-why-rules', 'aria-label': 'Trigger rules in evaluation order' });
      const close = h('button', { type: 'button', class: 'btn btn--ghost btn--icon trg-why-close', 'aria-label': 'Close' }, '✕');
      close.addEventListener('click', () => this.close());
      this.el = h('aside', { class: 'trg-why', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': titleId, tabindex: '-1', hidden: true },
        h('header', { class: 'trg-why-head' }, h('div', { class: 'trg-why-heading' }, this.title, this.sub), close),
        h('div', { class: 'trg-why-scroll' }, this.status, this.body));
      this.el.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') { ev.stopPropagation(); this.close(); } });
      ($('app') || document.body).append(this.el);
    },

    async open(id, opener) {
      this.build();
      this.visitorId = id;
      this.opener = opener || null;
      this.gone = false;
      this.visitor = null;
      this.ruleNames = null;
      this.rest = null;
      clear(this.body);
      this.title.textContent = `Why — Visitor #${id}`;
      this.sub.textContent = '';
      this.status.textContent = 'Evaluating the rules for this visitor…';
      this.el.hidden = false;
      this.el.dataset.visitorId = String(id);
      document.body.classList.add('trg-why-open');
      this.el.focus();
      clearInterval(this.timer);
      this.timer = setInterval(() => this.refresh(), 3000);
      api('GET', '/v1/agent/visitors').then((res) => {
        const v = (res.visitors || []).find((x) => x.visitor_id === id);
        if (v && this.visitorId === id) { this.visitor = v; this.renderHead(); }
      }).catch(() => {});
      this.refresh();
    },

    close() {
      clearInterval(this.timer);
      clearTimeout(this.pending);
      this.timer = null;
      this.seq++;
      if (!this.el || this.el.hidden) return;
      this.el.hidden = true;
      this.visitorId = null;
      document.body.classList.remove('trg-why-open');
      if (this.opener && document.contains(this.opener)) this.opener.focus();
    },

    onVisitor(v) {
      if (!this.el || this.el.hidden || v.visitor_id !== this.visitorId) return;
      this.visitor = v;
      this.renderHead();
      clearTimeout(this.pending);
      this.pending = setTimeout(() => this.refresh(), 300); // a burst of updates: one refresh
    },

    onLeft(id) {
      if (!this.el || this.el.hidden || id !== this.visitorId) return;
      this.markGone();
    },

    markGone() {
      this.gone = true;
      clearInterval(this.timer);
      this.timer = null;
      this.status.textContent = 'This visitor has left the site.';
      this.el.dataset.state = 'gone';
    },

    renderHead() {
      const v = this.visitor;
      if (!v) return;
      this.title.textContent = `Why — ${v.authenticated_as || `Visitor #${v.visitor_id}`}`;
      const bits = [v.page ? v.page.url : null, v.visit_number ? `visit ${v.visit_number}` : null];
      const inv = v.last_invite;
      if (v.conversation_id) bits.push('chatting now');
      else if (inv) bits.push(`last invite ${inv.outcome}: ${sourceLabel(inv.source, this.ruleNames)}`);
      this.sub.textContent = bits.filter(Boolean).join(' · ');
      this.el.dataset.lastInvite = inv ? inv.outcome : '';
    },

    async refresh() {
      if (!this.el || this.el.hidden || this.gone) return;
      const id = this.visitorId;
      const seq = ++this.seq;
      let res;
      try {
        res = await api('GET', `/v1/agent/visitors/${id}/why`);
      } catch (e) {
        if (seq !== this.seq) return;
        if (e.status === 404) this.markGone();
        else this.status.textContent = `Could not evaluate: ${e.message}`;
        return;
      }
      if (seq !== this.seq || id !== this.visitorId) return;
      this.render(res.rules || []);
    },

    // Live rules in evaluation order, then the disabled and out-of-date ones folded away; the
    // admin's open/closed choices survive the refreshes.
    render(list) {
      const open = new Set([...this.el.querySelectorAll('details[open][data-rule-id]')].map((d) => d.dataset.ruleId));
      const known = this.body.children.length > 0;
      const restOpen = known && this.rest && this.rest.open;
      this.ruleNames = new Map(list.map((r) => [r.rule_id, r.name]));
      this.renderHead();
      const nameOf = (rid) => { const r = list.find((x) => x.rule_id === rid); return r ? `“${r.name}”` : `rule ${rid}`; };
      clear(this.body);
      const firing = list.find((r) => r.verdict.kind === 'would_fire');
      const held = list.filter((r) => r.verdict.kind === 'suppressed');
      this.status.textContent = !list.length ? 'There are no trigger rules.'
        : firing ? `“${firing.name}” would invite this visitor now.`
          : held.length ? `No rule would invite this visitor now: ${held.map((r) => `“${r.name}” matches but is held back`).join('; ')}.`
            : 'No rule would invite this visitor now: none matches.';
      this.el.dataset.state = 'ok';
      const item = (r) => {
        const live = r.enabled && r.in_date_window;
        const details = h('details', { class: 'trg-why-tree', 'data-rule-id': String(r.rule_id) },
          h('summary', null, 'Conditions'),
          h('ul', { class: 'trg-tree' }, traceNode(r.conditions)));
        details.open = known ? open.has(String(r.rule_id)) : live;
        return h('li', { class: 'trg-why-rule', 'data-rule-id': r.rule_id, 'data-verdict': r.verdict.kind },
          h('div', { class: 'trg-why-rule-head' },
            h('h3', { class: 'trg-why-rule-name' }, r.name),
            h('span', { class: 'trg-why-prio' }, `priority ${r.priority}`)),
          verdictPill(r.verdict, nameOf),
          details);
      };
      const off = list.filter((r) => !r.enabled || !r.in_date_window);
      for (const r of list) if (r.enabled && r.in_date_window) this.body.append(item(r));
      if (off.length) {
        this.rest = h('details', { class: 'trg-why-rest' },
          h('summary', null, `Disabled or outside their dates (${off.length})`),
          h('ol', { class: 'trg-why-rules' }, off.map(item)));
        this.rest.open = !!restOpen;
        this.body.append(h('li', { class: 'trg-why-rest-item' }, this.rest));
      }
    },
  };

  function changeText(t) {
    const s = Math.max(0, Math.ceil((t.changes_at - Date.now()) / 1000));
    const when = s < 90 ? `in ${s} s` : s < 5400 ? `in ${Math.round(s / 60)} min` : `at ${fmtDateTime(t.changes_at)}`;
    return t.holds ? `stops holding ${when}` : `holds ${when}`;
  }

  function traceNode(t) {
    return h('li', { class: `trg-node ${t.holds ? 'trg-node--yes' : 'trg-node--no'}` },
      h('span', { class: 'trg-node-line' },
        h('span', { class: 'trg-mark', 'aria-hidden': 'true' }, t.holds ? '✓' : '✗'),
        h('span', { class: 'sr-only' }, t.holds ? 'Holds: ' : 'Does not hold: '),
        h('span', { class: 'trg-node-desc' }, t.description),
        t.observed != null ? h('span', { class: 'trg-node-seen' }, `seen: ${t.observed}`) : null,
        t.changes_at ? h('span', { class: 'trg-node-when' }, changeText(t)) : null),
      t.children && t.children.length ? h('ul', { class: 'trg-tree' }, t.children.map(traceNode)) : null);
  }

  // ---------------------------------------------------------------------------------------------
  // Invite analytics

  const DAY = 86400000;
  const utcDay = (ms) => new Date(ms).toISOString().slice(0, 10);

  function sourceLabel(source, ruleNames) {
    if (source === 'sdk') return 'Page (SDK)';
    const m = /^(rule|agent):(\d+)$/.exec(source || '');
    if (!m) return source || '?';
    const id = Number(m[2]);
    if (m[1] === 'rule') {
      const n = ruleNames && ruleNames.get(id);
      return n ? n : ruleNames ? `Rule #${id} (deleted)` : `rule #${id}`;
    }
    const a = names.agents.get(id);
    return a ? `${a} (agent)` : `Agent #${id}`;
  }

  const pct = (x) => (x == null ? '—' : `${Math.round(x * 100)}%`);
  const rate = (part, whole) => (whole > 0 ? part / whole : null);

  const analytics = {
    built: false,
    panel: null,

    reset() { this.built = false; this.panel = null; },

    open(panel) {
      this.panel = panel;
      if (!this.built) this.build();
      this.load();
    },

    build() {
      this.built = true;
      const panel = this.panel;
      clear(panel);
      const today = utcDay(Date.now());
      this.from = h('input', { type: 'date', max: today });
      this.to = h('input', { type: 'date', max: today });
      this.from.value = utcDay(Date.now() - 29 * DAY);
      this.to.value = today;
      const apply = h('button', { type: 'submit', class: 'btn btn--primary' }, 'Show');
      this.csv = h('a', { class: 'btn btn--secondary', download: 'beckon-invites.csv' }, 'Download CSV');
      this.form = h('form', { class: 'trg-range', novalidate: true, 'aria-label': 'Date range' },
        fieldBox('from', 'From (UTC)', this.from), fieldBox('to', 'To (UTC)', this.to),
        h('div', { class: 'form-actions' }, apply, this.csv));
      this.form.addEventListener('submit', (ev) => { ev.preventDefault(); this.load(); });
      this.summary = h('p', { class: 'view-sub', role: 'status' });
      this.chart = h('figure', { class: 'trg-chart' });
      this.table = h('div', { class: 'trg-table-wrap' });
      panel.append(
        h('h2', { class: 'admin-title' }, 'Invite analytics'),
        h('p', { class: 'admin-lead' }, 'Every invite by source — your trigger rules, the page’s own SDK calls, and agents’ invites — from offer to conversation.'),
        this.form, this.summary, this.chart, this.table);
    },

    range() {
      const from = Date.parse(`${this.from.value}T00:00:00Z`);
      const to = Date.parse(`${this.to.value}T00:00:00Z`) + DAY;
      return { from, to };
    },

    async load() {
      clearFieldErrors(this.form);
      const { from, to } = this.range();
      if (!Number.isFinite(from)) { showAtPath(this.form, 'from', 'Pick a start date.'); return; }
      if (!Number.isFinite(to)) { showAtPath(this.form, 'to', 'Pick an end date.'); return; }
      if (from >= to) { showAtPath(this.form, 'to', 'The end date must be on or after the start date.'); return; }
      if (to - from > 400 * DAY) { showAtPath(this.form, 'from', 'At most 400 days at a time.'); return; }
      const q = `from=${from}&to=${to}`;
      this.csv.href = `/v1/admin/analytics/invites?${q}&format=csv`;
      let res;
      let ruleList;
      try {
        [res, ruleList] = await Promise.all([
          api('GET', `/v1/admin/analytics/invites?${q}`),
          api('GET', '/v1/admin/trigger-rules').catch(() => ({ rules: rules.list })),
          names.loadAgents(),
        ]);
      } catch (e) {
        this.summary.textContent = `Could not load the analytics: ${e.message}`;
        return;
      }
      const ruleNames = new Map((ruleList.rules || []).map((r) => [r.id, r.name]));
      this.render(res.rows || [], ruleNames, from, to);
    },

    render(rows, ruleNames, from, to) {
      const bySource = new Map();
      const byDay = new Map();
      const zero = () => ({ eligible: 0, offered: 0, shown: 0, accepted: 0, declined: 0, expired: 0, suppressed: {}, conversations: 0, answered: 0 });
      for (const r of rows) {
        const s = bySource.get(r.source) || zero();
        for (const k of ['eligible', 'offered', 'shown', 'accepted', 'declined', 'expired', 'conversations', 'answered']) s[k] += r[k] || 0;
        for (const [reason, n] of Object.entries(r.suppressed || {})) s.suppressed[reason] = (s.suppressed[reason] || 0) + n;
        bySource.set(r.source, s);
        const d = byDay.get(r.day) || { shown: 0, accepted: 0 };
        d.shown += r.shown || 0;
        d.accepted += r.accepted || 0;
        byDay.set(r.day, d);
      }
      const total = zero();
      for (const s of bySource.values()) for (const k of Object.keys(total)) if (k !== 'suppressed') total[k] += s[k];
      this.summary.textContent = rows.length
        ? `${total.shown} invite${total.shown === 1 ? '' : 's'} shown, ${total.accepted} accepted (${pct(rate(total.accepted, total.shown))}), ${total.conversations} conversation${total.conversations === 1 ? '' : 's'}.`
        : 'No invites in this period.';
      this.renderChart(byDay, from, to);
      clear(this.table);
      if (!bySource.size) return;
      const order = [...bySource.entries()].sort((a, b) => b[1].shown - a[1].shown || b[1].offered - a[1].offered || a[0].localeCompare(b[0]));
      const cols = ['Source', 'Eligible', 'Offered', 'Shown', 'Accepted', 'Declined', 'Expired', 'Suppressed', 'Conversations', 'Acceptance', 'Conversion'];
      const tbody = h('tbody');
      for (const [source, s] of order) {
        const sup = Object.entries(s.suppressed).sort((a, b) => b[1] - a[1]);
        const supTotal = sup.reduce((n, [, x]) => n + x, 0);
        tbody.append(h('tr', { 'data-source': source },
          h('th', { scope: 'row' }, sourceLabel(source, ruleNames)),
          h('td', { 'data-col': 'eligible', title: 'Due: sent, or held back by a limit' }, String(s.eligible)),
          h('td', { 'data-col': 'offered' }, String(s.offered)),
          h('td', { 'data-col': 'shown' }, String(s.shown)),
          h('td', { 'data-col': 'accepted' }, String(s.accepted)),
          h('td', { 'data-col': 'declined' }, String(s.declined)),
          h('td', { 'data-col': 'expired' }, String(s.expired)),
          h('td', { 'data-col': 'suppressed' }, String(supTotal),
            sup.length ? h('span', { class: 'trg-reasons' }, sup.map(([k, x]) => `${REASON_SHORT[k] || k} ${x}`).join(', ')) : null),
          h('td', { 'data-col': 'conversations' }, String(s.conversations)),
          h('td', { 'data-col': 'acceptance' }, pct(rate(s.accepted, s.shown))),
          h('td', { 'data-col': 'conversion' }, pct(rate(s.conversations, s.shown)))));
      }
      this.table.append(h('table', { class: 'trg-table' },
        h('caption', { class: 'sr-only' }, 'Invites by source'),
        h('thead', null, h('tr', null, cols.map((c, i) => h('th', { scope: 'col', class: i ? 'num' : null }, c)))),
        tbody));
    },

    // Shown vs accepted per UTC day, as bars in an SVG built with DOM calls.
    renderChart(byDay, from, to) {
      const fig = this.chart;
      clear(fig);
      const days = [];
      for (let t = from; t < to && days.length < 400; t += DAY) days.push(utcDay(t));
      const data = days.map((d) => ({ day: d, ...(byDay.get(d) || { shown: 0, accepted: 0 }) }));
      const max = Math.max(1, ...data.map((d) => Math.max(d.shown, d.accepted)));
      const top = max <= 4 ? max : Math.ceil(max / 4) * 4;
      // Drawn at the figure's own width, so text stays at its size on a phone and on a wide screen.
      const W = Math.max(300, Math.round(fig.clientWidth - 26) || 760); const H = 200; const L = 34; const R = 8; const T = 12; const Bm = 28;
      const pw = W - L - R; const ph = H - T - Bm;
      const gw = pw / data.length;
      const bw = Math.max(1.5, Math.min(14, gw * 0.38));
      const el = (tag, attrs, text) => {
        const e = document.createElementNS(SVG, tag);
        for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
        if (text != null) e.textContent = text;
        return e;
      };
      const totalShown = data.reduce((n, d) => n + d.shown, 0);
      const totalAcc = data.reduce((n, d) => n + d.accepted, 0);
      const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'trg-chart-svg', role: 'img', 'aria-label': `Invites shown and accepted per day, ${days[0]} to ${days[days.length - 1]}: ${totalShown} shown, ${totalAcc} accepted.` });
      const ticks = top <= 4 ? Array.from({ length: top + 1 }, (_, i) => i) : [0, top / 4, top / 2, (3 * top) / 4, top];
      for (const v of ticks) {
        const y = T + ph - (v / top) * ph;
        svg.append(el('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'trg-grid-line' }));
        svg.append(el('text', { x: L - 6, y: y + 4, class: 'trg-axis', 'text-anchor': 'end' }, String(v)));
      }
      const every = Math.max(1, Math.ceil(data.length / Math.max(3, Math.floor(pw / 70))));
      data.forEach((d, i) => {
        const x = L + i * gw + gw / 2;
        const g = el('g', { 'data-day': d.day });
        g.append(el('title', null, `${d.day}: ${d.shown} shown, ${d.accepted} accepted`));
        const hs = (d.shown / top) * ph;
        const ha = (d.accepted / top) * ph;
        g.append(el('rect', { x: x - bw, y: T + ph - hs, width: bw, height: Math.max(hs, 0), class: 'trg-bar-shown' }));
        g.append(el('rect', { x, y: T + ph - ha, width: bw, height: Math.max(ha, 0), class: 'trg-bar-accepted' }));
        svg.append(g);
        if (i % every === 0) svg.append(el('text', { x, y: H - 8, class: 'trg-axis', 'text-anchor': 'middle' }, d.day.slice(5)));
      });
      fig.append(svg, h('figcaption', { class: 'trg-legend' },
        h('span', { class: 'trg-key trg-key--shown' }, 'Shown'), h('span', { class: 'trg-key trg-key--accepted' }, 'Accepted'),
        h('span', { class: 'trg-legend-note' }, 'per day (UTC)')));
    },
  };
})();
