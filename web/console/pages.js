// Beckon agent console, the screens beside the chats: live visitors (with the agent-initiated
// Invite), conversation history with read-only transcripts, and — for admins — administration
// (queues and operating hours, routing rules, agents, widgets).
//
// Why it is shaped this way:
// - It shares console.js's helpers and agent socket through window.BeckonConsole (hooks for
//   start / stop / every frame), so there is still one socket and one sign-in.
// - The server validates every admin write and names the field it refuses (`capacity: …`,
//   `prechat[2].choices: …`); forms check the obvious first and then show the server's message
//   next to that field. Agents never see the admin screens (and the server answers them 403).
// - Like console.js, nothing here builds markup from strings: every value goes in as text.
(function () {
  'use strict';

  const B = window.BeckonConsole;
  const { h, clear, api, request, toast, announce, fmtDateTime, fmtTime, fmtDuration, countryName, all, one } = B;
  const $ = (id) => document.getElementById(id);
  let me = null;
  let uid = 0;
  const nextId = (p) => `${p}-${++uid}`;

  // ---------------------------------------------------------------------------------------------
  // Navigation between sections

  const SECTIONS = ['chats', 'visitors', 'history', 'replies', 'admin'];

  function showSection(name, opts) {
    if (!SECTIONS.includes(name) || (name === 'admin' && (!me || me.role !== 'admin'))) name = 'chats';
    document.body.dataset.section = name;
    sessionStorage.setItem('beckon.console.section', name);
    for (const b of all('.mainnav-item')) {
      if (b.dataset.section === name) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
    }
    for (const el of all('#app [data-for]')) el.hidden = el.dataset.for !== name;
    // The skip link leads to the main content of the section on screen.
    const skip = /** @type {HTMLAnchorElement | null} */ (document.querySelector('.skip-link'));
    if (skip) {
      skip.href = name === 'chats' ? '#stage' : `#view-${name}`;
      skip.textContent = name === 'chats' ? 'Skip to conversation' : 'Skip to content';
    }
    if (name === 'visitors') live.render();
    if (name === 'history') history.open();
    if (name === 'admin') admin.open();
    if (opts && opts.focus) {
      const target = name === 'chats' ? $('conv-list') : $(`view-${name}`);
      if (target) target.focus();
    }
  }

  for (const b of all('.mainnav-item')) {
    b.addEventListener('click', () => showSection(b.dataset.section, { focus: false }));
  }
  // The "N new" pill (small screens) leads to the incoming chats, from any section.
  $('offers-jump').addEventListener('click', () => showSection('chats'));

  B.hooks.start.push((agent) => {
    me = agent;
    one('.mainnav-item[data-section="admin"]').hidden = agent.role !== 'admin';
    live.load();
    showSection(sessionStorage.getItem('beckon.console.section') || 'chats');
  });
  B.hooks.stop.push(() => {
    me = null;
    live.visitors.clear();
    history.reset();
    admin.reset();
    sessionStorage.removeItem('beckon.console.section');
    showSection('chats');
  });
  B.hooks.frame.push((f) => {
    if (f.type === 'welcome') {
      if (f.agent) me = Object.assign({}, me, f.agent);
      // The role may have changed since sign-in (the server reconnects a demoted admin).
      const adminNav = one('.mainnav-item[data-section="admin"]');
      adminNav.hidden = !me || me.role !== 'admin';
      if (adminNav.hidden && document.body.dataset.section === 'admin') showSection('chats');
      live.load(); // after a reconnect, the list may have changed while we were away
      admin.presenceResync();
    } else if (f.type === 'visitor' && f.visitor) live.upsert(f.visitor);
    else if (f.type === 'visitor_left') live.remove(f.visitor_id);
    else if (f.type === 'agent_presence') admin.agentPresence(f.agent_id, f.status);
    else if (f.type === 'presence' && me) admin.agentPresence(me.id, f.status);
    // After console.js has applied the frame (an offer, an accept or decline reply…).
    setTimeout(updateChatsCount, 0);
  });

  function updateChatsCount() {
    const n = B.state.offers.size;
    const el = $('nav-chats-count');
    el.hidden = n === 0;
    el.textContent = String(n);
    el.setAttribute('aria-label', `${n} incoming`);
  }

  // Field-level errors: a wrapper `[data-field="name"]` holds the input and a `.field-error`.
  const field = (name, labelText, input, hint) => B.labelledField({ 'data-field': name }, labelText, input, hint);

  function clearErrors(form) {
    for (const e of form.querySelectorAll('.field-error')) { e.hidden = true; e.textContent = ''; }
    for (const e of form.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
    const top = form.querySelector('.form-error');
    if (top) { top.hidden = true; top.textContent = ''; }
  }

  // Shows `message` next to the field it starts with ("capacity: …"), or at the top of the form.
  function showError(form, message, fieldName) {
    let name = fieldName;
    let text = message;
    if (!name) {
      const m = /^([a-z_]+(?:\[\d+\]|\.[A-Za-z0-9_-]+)*): (.*)$/s.exec(message);
      if (m) { name = m[1]; text = m[2]; }
    }
    let wrap = name ? form.querySelector(`[data-field="${CSS.escape(name)}"]`) : null;
    if (!wrap && name) {
      // prechat[2].choices → prechat[2]; allowed_origins[1] → allowed_origins
      const base = name.replace(/\.[a-z_]+$/, '');
      wrap = form.querySelector(`[data-field="${CSS.escape(base)}"]`) || form.querySelector(`[data-field="${CSS.escape(name.replace(/\[\d+\].*$/, ''))}"]`);
      if (wrap) text = message;
    }
    if (wrap) {
      // A field inside a closed section (another language's texts): open it first.
      const section = wrap.closest('details');
      if (section) section.open = true;
      const err = wrap.querySelector(':scope > .field-error');
      err.textContent = text;
      err.hidden = false;
      const input = wrap.querySelector('input, select, textarea');
      if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
      return;
    }
    const top = form.querySelector('.form-error');
    top.textContent = message;
    top.hidden = false;
    top.focus();
  }

  // Editing a field clears the error shown for it (the rest stay until the next submit).
  $('app').addEventListener('input', (ev) => {
    const target = /** @type {Element} */ (ev.target);
    const wrap = target.closest && target.closest('[data-field]');
    if (!wrap) return;
    const err = one(wrap.tagName === 'TR' ? '.field-error' : ':scope > .field-error', wrap);
    if (err) { err.hidden = true; err.textContent = ''; }
    for (const el of wrap.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  });

  const formError = () => h('p', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });

  function busy(button, text) {
    const before = button.textContent;
    button.disabled = true;
    button.textContent = text;
    return () => { button.disabled = false; button.textContent = before; };
  }

  // ---------------------------------------------------------------------------------------------
  // Live visitors

  const INVITE_DEFAULT = 'Hi! Can I help you with anything?';

  const live = {
    visitors: new Map(), // visitor id -> visitor
    els: new Map(), // visitor id -> {li, ...}
    openInvite: null, // visitor id whose invite form is open
    loading: false,

    async load() {
      if (this.loading) return;
      this.loading = true;
      try {
        const res = await api('GET', '/v1/agent/visitors');
        this.visitors.clear();
        for (const v of res.visitors || []) this.visitors.set(v.visitor_id, v);
        this.render();
      } catch (e) {
        if (e.status !== 401) toast(`Could not load the live visitors: ${e.message}`, 'error');
      } finally {
        this.loading = false;
      }
    },

    upsert(v) {
      this.visitors.set(v.visitor_id, v);
      this.render();
    },

    remove(id) {
      this.visitors.delete(id);
      this.render();
    },

    build() {
      const view = $('view-visitors');
      if (view.firstChild) return;
      view.append(h('div', { class: 'view-inner' },
        h('header', { class: 'view-head' },
          h('h1', { id: 'visitors-heading' }, 'Live visitors'),
          h('p', { id: 'visitors-summary', class: 'view-sub', role: 'status' })),
        h('ul', { id: 'visitor-list', class: 'visitor-list' }),
        h('p', { id: 'visitors-empty', class: 'empty-state' }, 'Nobody is on your sites right now. Visitors appear here as soon as a page with the widget opens.')));
    },

    render() {
      this.build();
      const list = [...this.visitors.values()].sort((a, b) => (a.page_since || 0) - (b.page_since || 0));
      const n = list.length;
      $('nav-visitors-count').textContent = n ? String(n) : '';
      $('visitors-summary').textContent = n === 1 ? '1 visitor on your sites now' : `${n} visitors on your sites now`;
      $('visitors-empty').hidden = n !== 0;
      const ul = $('visitor-list');
      for (const [id, els] of this.els) {
        if (!this.visitors.has(id)) { els.li.remove(); this.els.delete(id); }
      }
      let prev = null;
      for (const v of list) {
        let els = this.els.get(v.visitor_id);
        if (!els) { els = this.card(v.visitor_id); this.els.set(v.visitor_id, els); }
        this.fill(els, v);
        // Keep DOM order = sort order without rebuilding (an open invite form keeps its text).
        const want = prev ? prev.nextSibling : ul.firstChild;
        if (want !== els.li) ul.insertBefore(els.li, want);
        prev = els.li;
      }
    },

    card(id) {
      const els = {};
      const headingId = `visitor-${id}-name`;
      els.name = h('h2', { id: headingId, class: 'visitor-name' });
      els.status = h('span', { class: 'pill' });
      els.page = h('p', { class: 'visitor-page' });
      els.meta = h('p', { class: 'visitor-meta' });
      els.onPage = h('span', { class: 'ticker', 'data-format': 'duration' });
      els.invite = h('button', { type: 'button', class: 'btn btn--primary btn--small', 'aria-describedby': headingId }, 'Invite');
      els.form = null;
      els.li = h('li', { class: 'visitor-card', 'data-visitor-id': id, 'aria-labelledby': headingId },
        h('div', { class: 'visitor-main' },
          h('div', { class: 'visitor-top' }, els.name, els.status),
          els.page, els.meta),
        h('div', { class: 'visitor-actions' }, els.invite));
      els.invite.addEventListener('click', () => this.toggleInvite(id, els));
      return els;
    },

    statusOf(v) {
      if (v.conversation_id) return ['Chatting', 'chatting'];
      const inv = v.last_invite;
      if (inv) {
        const map = { offered: ['Invited', 'invited'], shown: ['Invited · seen', 'invited'], accepted: ['Accepted invite', 'invited'],
          declined: ['Declined invite', 'declined'], expired: ['Invite expired', 'idle'], suppressed: ['Invite held back', 'idle'] };
        if (map[inv.outcome]) return map[inv.outcome];
      }
      return ['Browsing', 'idle'];
    },

    fill(els, v) {
      // The name the visitor gave in their chat, else who they are signed in as, else the id.
      els.name.textContent = v.name || v.authenticated_as || `Visitor #${v.visitor_id}`;
      const [text, kind] = this.statusOf(v);
      els.status.textContent = text;
      els.status.className = `pill pill--${kind}`;
      clear(els.page);
      if (v.page) {
        els.page.append(h('span', { class: 'page-title' }, v.page.title || v.page.url), h('span', { class: 'page-url' }, v.page.url));
      } else {
        els.page.append(h('span', { class: 'page-title' }, 'Page not known yet'));
      }
      els.onPage.dataset.since = String(v.page_since || Date.now());
      els.onPage.textContent = fmtDuration(Date.now() - (v.page_since || Date.now()));
      clear(els.meta);
      const bits = [
        v.visit_number ? `visit ${v.visit_number}` : null,
        v.country ? countryName(v.country) : 'country unknown',
        [v.browser, v.device].filter(Boolean).join(' · ') || null,
        v.tabs > 1 ? `${v.tabs} tabs` : null,
      ].filter(Boolean);
      const onSite = v.visit_started_at
        ? h('span', { class: 'ticker', 'data-since': v.visit_started_at }, fmtDuration(Date.now() - v.visit_started_at)) : null;
      els.meta.append('On this page ', els.onPage, onSite ? ' · on the site ' : '', onSite, ` · ${bits.join(' · ')}`);
      const pending = v.last_invite && ['offered', 'shown'].includes(v.last_invite.outcome);
      els.invite.disabled = !!v.conversation_id || !B.isConnected();
      els.invite.textContent = v.conversation_id ? 'In a chat' : pending ? 'Invite again' : 'Invite';
      if (v.conversation_id && els.form) this.closeInvite(els);
    },

    toggleInvite(id, els) {
      if (els.form) { this.closeInvite(els); return; }
      const text = h('textarea', { rows: 2, maxlength: '4000' });
      text.value = INVITE_DEFAULT;
      const send = h('button', { type: 'submit', class: 'btn btn--primary' }, 'Send invite');
      const cancel = h('button', { type: 'button', class: 'btn btn--secondary' }, 'Cancel');
      const form = h('form', { class: 'invite-form', novalidate: true },
        field('message', 'Invitation message', text, 'Shown in the visitor’s widget, like any proactive invite.'),
        formError(),
        h('div', { class: 'form-actions' }, send, cancel));
      cancel.addEventListener('click', () => { this.closeInvite(els); els.invite.focus(); });
      form.addEventListener('keydown', (ev) => {
        if (ev.key === 'Escape') { ev.preventDefault(); this.closeInvite(els); els.invite.focus(); }
      });
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearErrors(form);
        const message = text.value.trim();
        if (!message) { showError(form, 'Write the message the visitor will see.', 'message'); return; }
        const done = busy(send, 'Sending…');
        try {
          await request({ type: 'invite', visitor_id: id, message });
          this.closeInvite(els);
          toast('Invite sent.');
          announce('Invite sent.');
          els.invite.focus();
        } catch (e) {
          done();
          const msg = e.code === 'visitor_offline' ? 'This visitor has left the site.'
            : e.code === 'visitor_chatting' ? 'This visitor is already chatting.' : e.message;
          showError(form, msg, 'message');
        }
      });
      els.form = form;
      els.li.append(form);
      els.li.classList.add('visitor-card--inviting');
      els.invite.setAttribute('aria-expanded', 'true');
      text.focus();
      text.select();
    },

    closeInvite(els) {
      if (els.form) els.form.remove();
      els.form = null;
      els.li.classList.remove('visitor-card--inviting');
      els.invite.setAttribute('aria-expanded', 'false');
    },
  };

  // ---------------------------------------------------------------------------------------------
  // History: search past conversations, read a transcript

  const history = {
    built: false,
    results: [],
    query: null,
    directory: null,

    reset() {
      this.results = [];
      this.query = null;
      this.directory = null;
      const view = $('view-history');
      clear(view);
      this.built = false;
    },

    async open() {
      this.build();
      if (!this.query) this.search(false);
    },

    build() {
      if (this.built) return;
      this.built = true;
      const view = $('view-history');
      const q = h('input', { type: 'search', name: 'q', placeholder: 'Words in the messages' });
      const visitor = h('input', { type: 'text', name: 'visitor', placeholder: 'Name, visitor number or signed-in id' });
      const agent = h('select', { name: 'agent_id' }, h('option', { value: '' }, 'Any agent'));
      const from = h('input', { type: 'date', name: 'from' });
      const to = h('input', { type: 'date', name: 'to' });
      const stateSel = h('select', { name: 'state' },
        h('option', { value: '' }, 'Any state'),
        ['active', 'queued', 'transferred', 'ended', 'abandoned'].map((s) => h('option', { value: s }, s[0].toUpperCase() + s.slice(1))));
      const submit = h('button', { type: 'submit', class: 'btn btn--primary' }, 'Search');
      const resetBtn = h('button', { type: 'reset', class: 'btn btn--secondary' }, 'Clear');
      const isAdmin = me && me.role === 'admin';
      const form = h('form', { class: 'search-form', role: 'search', 'aria-label': 'Search conversations', novalidate: true },
        field('q', 'Text', q),
        field('visitor', 'Visitor', visitor),
        isAdmin ? field('agent_id', 'Agent', agent) : null,
        field('from', 'From', from),
        field('to', 'To', to),
        field('state', 'State', stateSel),
        formError(),
        h('div', { class: 'form-actions search-actions' }, submit, resetBtn));
      this.form = form;
      this.inputs = { q, visitor, agent, from, to, state: stateSel };
      form.addEventListener('submit', (ev) => { ev.preventDefault(); this.search(false); });
      form.addEventListener('reset', () => setTimeout(() => this.search(false), 0));
      this.list = h('ul', { class: 'history-list', 'aria-label': 'Conversations found' });
      this.summary = h('p', { class: 'view-sub', role: 'status' });
      this.more = h('button', { type: 'button', class: 'btn btn--secondary', hidden: true }, 'Load more');
      this.more.addEventListener('click', () => this.search(true));
      this.transcript = h('section', { class: 'transcript', 'aria-label': 'Transcript', hidden: true, tabindex: '-1' });
      view.append(h('div', { class: 'view-inner view-inner--wide history' },
        h('header', { class: 'view-head' },
          h('h1', { id: 'history-heading' }, 'History'),
          this.summary),
        form,
        h('div', { class: 'history-body' },
          h('div', { class: 'history-results' }, this.list, this.more),
          this.transcript)));
      if (isAdmin) {
        api('GET', '/v1/agent/directory').then((d) => {
          this.directory = d;
          for (const a of d.agents || []) agent.append(h('option', { value: String(a.id) }, a.name));
        }).catch(() => {});
      }
    },

    params(more) {
      const i = this.inputs;
      const p = new URLSearchParams();
      if (i.q.value.trim()) p.set('q', i.q.value.trim());
      if (i.visitor.value.trim()) p.set('visitor', i.visitor.value.trim().replace(/^#/, ''));
      if (i.agent.value) p.set('agent_id', i.agent.value);
      if (i.state.value) p.set('state', i.state.value);
      const from = i.from.value ? new Date(`${i.from.value}T00:00:00`).getTime() : null;
      const to = i.to.value ? new Date(`${i.to.value}T00:00:00`).getTime() + 86400000 : null;
      if (from !== null && to !== null && from >= to) return { error: ['to', 'The end date must be on or after the start date.'] };
      if (i.q.value.length > 500) return { error: ['q', 'At most 500 characters.'] };
      if (from !== null) p.set('from', String(from));
      if (to !== null) p.set('to', String(to));
      p.set('limit', '30');
      if (more && this.results.length) p.set('before', String(this.results[this.results.length - 1].id));
      return { params: p };
    },

    async search(more) {
      clearErrors(this.form);
      const { params, error } = this.params(more);
      if (error) { showError(this.form, error[1], error[0]); return; }
      this.query = params.toString();
      let res;
      try {
        res = await api('GET', `/v1/agent/conversations?${params}`);
      } catch (e) {
        showError(this.form, e.message);
        return;
      }
      const found = res.conversations || [];
      this.results = more ? this.results.concat(found) : found;
      if (!more) clear(this.list);
      for (const c of found) this.list.append(this.item(c));
      this.more.hidden = found.length < 30;
      const n = this.results.length;
      this.summary.textContent = n ? `${n}${found.length < 30 ? '' : '+'} conversation${n === 1 ? '' : 's'}` : 'No conversations match.';
      if (!n) this.list.append(h('li', { class: 'empty-state' }, 'No conversations match these filters.'));
    },

    item(c) {
      // The pre-chat name when the visitor gave one, else the signed-in identity, else the id.
      const who = B.visitorLabel(c);
      const btn = h('button', { type: 'button', class: 'history-item', 'data-conversation-id': c.id },
        h('span', { class: 'history-line' },
          h('span', { class: 'history-who' }, who),
          c.proactive ? h('span', { class: 'tag tag--small' }, 'Proactive') : null,
          c.rating ? h('span', { class: 'tag tag--small tag--rating', title: `Rated ${c.rating} out of 5` }, `★ ${c.rating}`) : null,
          h('span', { class: 'history-date' }, fmtDateTime(c.created_at))),
        h('span', { class: 'history-line history-line--sub' },
          h('span', { class: `pill pill--${c.state === 'active' ? 'chatting' : 'idle'}` }, c.state),
          h('span', null, c.agent_name ? `with ${c.agent_name}` : 'no agent'),
          h('span', { class: 'history-preview' }, c.last_message || '')));
      btn.addEventListener('click', () => this.show(c.id, c));
      return h('li', null, btn);
    },

    async show(id, summary) {
      for (const b of this.list.querySelectorAll('.history-item')) {
        if (Number(b.dataset.conversationId) === id) b.setAttribute('aria-current', 'true'); else b.removeAttribute('aria-current');
      }
      const t = this.transcript;
      clear(t);
      t.hidden = false;
      $('view-history').dataset.view = 'transcript';
      const back = h('button', { type: 'button', class: 'btn btn--ghost transcript-back' }, '‹ Results');
      back.addEventListener('click', () => {
        t.hidden = true;
        $('view-history').dataset.view = 'list';
        const cur = this.list.querySelector('[aria-current="true"]');
        if (cur) cur.focus();
      });
      const titleId = nextId('transcript-title');
      // The whole transcript as a text file, times in this browser's time zone.
      const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
      const download = h('a', { class: 'btn btn--secondary btn--small transcript-download', href: `/v1/agent/conversations/${id}/transcript?tz=${encodeURIComponent(tz)}`, download: `conversation-${id}.txt` }, 'Download transcript');
      const head = h('header', { class: 'transcript-head' }, back,
        h('h2', { id: titleId, class: 'transcript-title' }, `Conversation #${id}`), download,
        h('p', { class: 'transcript-meta' }, summary
          ? `${B.visitorLabel(summary)} · ${summary.agent_name ? `with ${summary.agent_name}` : 'no agent'} · ${fmtDateTime(summary.created_at)} · ${summary.state}`
          : 'Read-only transcript'),
        summary && summary.rating
          ? h('p', { class: 'transcript-rating' }, `Rated ${summary.rating} out of 5 by the visitor${summary.rating_comment ? `: “${summary.rating_comment}”` : '.'}`)
          : null);
      const log = h('ol', { class: 'transcript-log', 'aria-labelledby': titleId });
      t.append(head, log);
      t.setAttribute('aria-labelledby', titleId);
      try {
        const res = await api('GET', `/v1/agent/conversations/${id}/messages?limit=1000`);
        const msgs = res.messages || [];
        if (!msgs.length) log.append(h('li', { class: 'empty-state' }, 'No messages.'));
        for (const m of msgs) log.append(this.line(m));
      } catch (e) {
        log.append(h('li', { class: 'form-error' }, e.status === 404 ? 'You cannot read this conversation.' : e.message));
      }
      t.focus({ preventScroll: true });
      if (window.matchMedia('(max-width: 900px)').matches) $('view-history').scrollTop = 0;
    },

    line(m) {
      const kind = m.sender && m.sender.kind;
      const internal = Array.isArray(m.tags) && m.tags.includes('internal');
      const who = internal ? `${m.sender.name || 'Agent'} — note for agents`
        : kind === 'visitor' ? 'Visitor' : kind === 'agent' ? (m.sender.name || 'Agent') : 'System';
      return h('li', { class: `tline tline--${internal ? 'note' : kind}`, 'data-seq': m.seq },
        h('p', { class: 'tline-who' }, who, h('span', { class: 'msg-time' }, fmtTime(m.created_at))),
        h('p', { class: 'tline-text' }, m.attachment && B.files ? B.files.body(m) : m.text));
    },
  };

  B.showTranscript = (id) => {
    showSection('history');
    history.show(id, null);
  };

  // ---------------------------------------------------------------------------------------------
  // Administration

  const DAYS = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'], ['sat', 'Saturday'], ['sun', 'Sunday']];

  const admin = {
    built: false,
    tab: 'queues',
    queues: [],
    // The agents list shown, by id, and the presence frames received since the socket's welcome:
    // a frame may arrive while the list is loading, and must still win over the older answer.
    agentsById: new Map(),
    livePresence: new Map(),

    reset() {
      clear($('view-admin'));
      this.built = false;
      this.agentsById.clear();
      this.livePresence.clear();
    },

    agentPresence(id, status) {
      this.livePresence.set(id, status);
      this.showPresence(id, status);
    },

    showPresence(id, status) {
      const a = this.agentsById.get(id);
      if (!a) return;
      a.presence = status;
      const li = this.panels.agents.querySelector(`li[data-agent-id="${CSS.escape(String(id))}"]`);
      if (!li) return;
      const dot = li.querySelector('.presence-dot');
      dot.className = `presence-dot presence-dot--${status}`;
      dot.title = status;
      li.querySelector('.admin-item-sub').textContent = this.agentSub(a);
    },

    // After a reconnect, frames may have been missed: ask the server again, and update the list
    // in place (an edit form the admin has open stays as it is).
    async presenceResync() {
      this.livePresence.clear();
      if (!this.agentsById.size) return;
      try {
        const { agents } = await api('GET', '/v1/admin/agents');
        for (const a of agents || []) if (!this.livePresence.has(a.id)) this.showPresence(a.id, a.presence);
      } catch (e) {
        // The list keeps what it showed; the next frame or a reload brings it up to date.
      }
    },

    open() {
      this.build();
      this.show(this.tab);
    },

    build() {
      if (this.built) return;
      this.built = true;
      const tabs = [['queues', 'Queues & hours'], ['routing', 'Routing rules'], ['agents', 'Agents'], ['widgets', 'Widgets'], ['satisfaction', 'Satisfaction']];
      this.tabEls = {};
      this.panels = {};
      const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Administration' });
      const body = h('div', { class: 'tab-panels' });
      for (const [key, label] of tabs) {
        const tabId = `admin-tab-${key}`;
        const panelId = `admin-panel-${key}`;
        const tab = h('button', { type: 'button', id: tabId, role: 'tab', class: 'tab', 'aria-controls': panelId, 'aria-selected': 'false', tabindex: '-1' }, label);
        tab.addEventListener('click', () => this.show(key));
        tab.addEventListener('keydown', (ev) => {
          const i = tabs.findIndex(([k]) => k === key);
          let j = null;
          if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
          if (ev.key === 'ArrowLeft') j = (i + tabs.length - 1) % tabs.length;
          if (j !== null) { ev.preventDefault(); this.show(tabs[j][0]); this.tabEls[tabs[j][0]].focus(); }
        });
        const panel = h('section', { id: panelId, role: 'tabpanel', class: 'tab-panel', 'aria-labelledby': tabId, hidden: true, tabindex: '0' });
        this.tabEls[key] = tab;
        this.panels[key] = panel;
        tablist.append(tab);
        body.append(panel);
      }
      $('view-admin').append(h('div', { class: 'view-inner view-inner--wide' },
        h('header', { class: 'view-head' }, h('h1', { id: 'admin-heading' }, 'Administration'),
          h('p', { class: 'view-sub' }, 'Queues, routing, agents and widgets of your organisation.')),
        tablist, body));
    },

    show(key) {
      this.tab = key;
      for (const [k, tab] of Object.entries(this.tabEls)) {
        tab.setAttribute('aria-selected', String(k === key));
        tab.tabIndex = k === key ? 0 : -1;
        this.panels[k].hidden = k !== key;
      }
      this.load(key);
    },

    async load(key) {
      const panel = this.panels[key];
      clear(panel);
      panel.append(h('p', { class: 'panel-note' }, 'Loading…'));
      try {
        const qs = await api('GET', '/v1/admin/queues');
        this.queues = qs.queues || [];
        if (key === 'queues') this.renderQueues(panel);
        if (key === 'routing') this.renderRouting(panel, (await api('GET', '/v1/admin/routing-rules')).rules || [], (await api('GET', '/v1/admin/widgets')).widgets || []);
        if (key === 'agents') this.renderAgents(panel, (await api('GET', '/v1/admin/agents')).agents || []);
        if (key === 'widgets') this.renderWidgets(panel, (await api('GET', '/v1/admin/widgets')).widgets || []);
        if (key === 'satisfaction') this.renderSatisfaction(panel, await api('GET', '/v1/admin/analytics/satisfaction?days=30'));
      } catch (e) {
        clear(panel);
        panel.append(h('p', { class: 'form-error', role: 'alert' }, e.status === 403 ? 'Administration needs the admin role.' : e.message));
      }
    },

    queueName(id) {
      const q = this.queues.find((x) => x.id === id);
      return q ? q.name : `#${id}`;
    },

    // --- queues and hours -------------------------------------------------------------------

    renderQueues(panel) {
      clear(panel);
      const list = h('ul', { class: 'admin-list' });
      for (const q of this.queues) list.append(this.queueItem(q));
      const name = h('input', { type: 'text', maxlength: '100', autocomplete: 'off' });
      const add = h('button', { type: 'submit', class: 'btn btn--primary' }, 'Add queue');
      const form = h('form', { class: 'inline-form', novalidate: true, 'aria-label': 'New queue' },
        field('name', 'New queue name', name), h('div', { class: 'form-actions' }, add), formError());
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearErrors(form);
        if (!name.value.trim()) { showError(form, 'Give the queue a name.', 'name'); return; }
        const done = busy(add, 'Adding…');
        try {
          await api('POST', '/v1/admin/queues', { name: name.value.trim() });
          toast(`Queue “${name.value.trim()}” added.`);
          await this.load('queues');
        } catch (e) {
          done();
          showError(form, e.status === 409 ? 'A queue with this name exists.' : e.message, 'name');
        }
      });
      panel.append(h('h2', { class: 'admin-title' }, 'Queues'),
        h('p', { class: 'admin-lead' }, 'Conversations wait in a queue until one of its agents takes them. Outside its operating hours a queue takes no chats, and the widget shows its out-of-hours behaviour.'),
        list, form);
    },

    hoursText(q) {
      if (!q.hours) return 'Always open';
      if (q.open_now) return 'Open now';
      return q.opens_at ? `Closed now · opens ${fmtDateTime(q.opens_at)}` : 'Closed (no opening hours)';
    },

    queueItem(q) {
      const edit = h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'aria-expanded': 'false' }, 'Edit hours');
      const li = h('li', { class: 'admin-item', 'data-queue-id': q.id },
        h('div', { class: 'admin-item-head' },
          h('h3', { class: 'admin-item-title' }, q.name),
          h('span', { class: `pill pill--${!q.hours || q.open_now ? 'chatting' : 'declined'}`, 'data-role': 'hours-status' }, this.hoursText(q)),
          h('span', { class: 'admin-item-spacer' }), edit),
        q.hours ? h('p', { class: 'admin-item-sub' }, this.hoursSummary(q.hours)) : null,
        this.fallbackRow(q),
        this.leaveMessageRow(q));
      edit.addEventListener('click', () => {
        const open = li.querySelector('.hours-form');
        if (open) { open.remove(); edit.setAttribute('aria-expanded', 'false'); return; }
        li.append(this.hoursForm(q, () => { edit.setAttribute('aria-expanded', 'false'); edit.focus(); }));
        edit.setAttribute('aria-expanded', 'true');
      });
      return li;
    },

    // Where the queue's new chats go while it is closed or nobody of it is Available or Busy.
    fallbackRow(q) {
      const id = nextId('fallback');
      const select = h('select', { id, 'data-role': 'fallback' },
        h('option', { value: '' }, 'Nowhere: they wait here (or are refused while closed)'),
        this.queues.filter((o) => o.id !== q.id).map((o) => h('option', { value: String(o.id) }, o.name)));
      select.value = q.fallback_queue_id ? String(q.fallback_queue_id) : '';
      select.addEventListener('change', async () => {
        const to = select.value ? Number(select.value) : null;
        select.disabled = true;
        try {
          await api('PUT', `/v1/admin/queues/${q.id}/fallback`, { fallback_queue_id: to });
          q.fallback_queue_id = to;
          toast(to ? `While “${q.name}” is closed or unstaffed, its chats go to “${select.selectedOptions[0].textContent}”.`
            : `“${q.name}” keeps its chats.`);
        } catch (e) {
          select.value = q.fallback_queue_id ? String(q.fallback_queue_id) : '';
          toast(`Could not save: ${e.message}`, 'error');
        } finally {
          select.disabled = false;
        }
      });
      return h('p', { class: 'admin-fallback' },
        h('label', { for: id }, 'When closed or nobody is available, send new chats to '), select);
    },

    // How long a waiting visitor goes without an agent before being offered to leave a message.
    leaveMessageRow(q) {
      const id = nextId('leave-after');
      const minutes = [1, 2, 3, 5, 10, 15, 30];
      const current = q.leave_message_after_secs || null;
      const select = h('select', { id, 'data-role': 'leave-message-after' },
        h('option', { value: '' }, 'never (they keep waiting)'),
        minutes.map((m) => h('option', { value: String(m * 60) }, `after ${m} minute${m === 1 ? '' : 's'} without an agent`)),
        current && !minutes.includes(current / 60) ? h('option', { value: String(current) }, `after ${current} seconds without an agent`) : null);
      select.value = current ? String(current) : '';
      select.addEventListener('change', async () => {
        const secs = select.value ? Number(select.value) : null;
        select.disabled = true;
        try {
          await api('PUT', `/v1/admin/queues/${q.id}/leave-message-after`, { leave_message_after_secs: secs });
          q.leave_message_after_secs = secs;
          toast(secs ? `Visitors waiting in “${q.name}” are offered to leave a message ${select.selectedOptions[0].textContent}.`
            : `Visitors waiting in “${q.name}” are not offered to leave a message.`);
        } catch (e) {
          select.value = q.leave_message_after_secs ? String(q.leave_message_after_secs) : '';
          toast(`Could not save: ${e.message}`, 'error');
        } finally {
          select.disabled = false;
        }
      });
      return h('p', { class: 'admin-fallback' },
        h('label', { for: id }, 'Offer waiting visitors to leave a message '), select);
    },

    // What visitors said when they rated their chats (the last 30 days).
    renderSatisfaction(panel, r) {
      clear(panel);
      panel.append(h('h2', { class: 'admin-title' }, 'Satisfaction'),
        h('p', { class: 'panel-note' }, 'Visitors rate a chat from 1 to 5 once an agent has ended it. The last 30 days:'));
      if (!r.rated) {
        panel.append(h('p', { class: 'empty-state' }, 'No chat was rated in the last 30 days.'));
        return;
      }
      const pct = (x) => `${Math.round(x * 100)}%`;
      panel.append(h('dl', { class: 'csat-summary' },
        h('div', null, h('dt', null, 'Rated chats'), h('dd', { 'data-role': 'rated' }, String(r.rated))),
        h('div', null, h('dt', null, 'Average'), h('dd', { 'data-role': 'average' }, `${r.average.toFixed(2)} / 5`)),
        h('div', null, h('dt', null, 'Satisfied (4 or 5)'), h('dd', { 'data-role': 'satisfied' }, pct(r.satisfied)))));
      const max = Math.max(...r.by_score, 1);
      panel.append(h('ol', { class: 'csat-bars', 'aria-label': 'Chats by score' },
        r.by_score.map((n, i) => {
          // Set through the CSSOM: the console's CSP forbids style attributes.
          const bar = h('span', { class: 'csat-bar' });
          bar.style.width = `${Math.round((n / max) * 100)}%`;
          return h('li', { 'data-score': i + 1 }, h('span', { class: 'csat-score' }, `${i + 1} ★`), bar, h('span', { class: 'csat-count' }, String(n)));
        })));
      if (r.agents.length) {
        panel.append(h('table', { class: 'csat-agents' },
          h('caption', null, 'By agent'),
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Agent'), h('th', { scope: 'col' }, 'Rated chats'), h('th', { scope: 'col' }, 'Average'))),
          h('tbody', null, r.agents.map((a) => h('tr', null, h('th', { scope: 'row' }, a.name), h('td', null, String(a.rated)), h('td', null, a.average.toFixed(2)))))));
      }
      if (r.comments.length) {
        panel.append(h('h3', { class: 'admin-item-title' }, 'Latest comments'),
          h('ul', { class: 'csat-comments' }, r.comments.map((c) => h('li', null,
            h('span', { class: 'tag tag--small tag--rating' }, `★ ${c.score}`), ' ',
            h('q', null, c.comment),
            h('span', { class: 'csat-meta' }, ` — ${c.agent_name ? `with ${c.agent_name}, ` : ''}${fmtDateTime(c.rated_at)}`)))));
      }
      if (r.truncated) panel.append(h('p', { class: 'panel-note' }, 'More chats were rated than one report reads: these figures are of the newest 20,000.'));
    },

    hoursSummary(hours) {
      const byDay = DAYS.map(([d, name]) => {
        const r = hours.weekly.filter((x) => x.day === d).map((x) => `${x.open}–${x.close}`);
        return r.length ? `${name.slice(0, 3)} ${r.join(', ')}` : null;
      }).filter(Boolean);
      return `${hours.time_zone}: ${byDay.join(' · ') || 'never open'}`;
    },

    hoursForm(q, onClose) {
      const always = h('input', { type: 'checkbox' });
      always.checked = !q.hours;
      const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
      const listId = nextId('tz');
      const tz = h('input', { type: 'text', list: listId, autocomplete: 'off', spellcheck: 'false' });
      tz.value = q.hours ? q.hours.time_zone : (Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
      // One row per opening range: a day may open twice (a lunch break) — "Add hours" adds a
      // range to its day, and every range the server holds is shown, so saving loses none.
      const rows = [];
      const tbody = h('tbody');
      const rangeRow = (d, name, r, day) => {
        const open = h('input', { type: 'time', 'aria-label': `${name} opens at` });
        open.value = r ? r.open : '09:00';
        const close = h('input', { type: 'time', 'aria-label': `${name} closes at` });
        close.value = r ? (r.close === '24:00' ? '23:59' : r.close) : '17:00';
        const err = h('p', { class: 'field-error', hidden: true });
        const row = { d, on: day.on, open, close, err, tr: null };
        let head;
        if (!day.first) {
          head = h('th', { scope: 'row' }, h('label', { class: 'day-toggle' }, day.on, ` ${name}`));
          day.first = row;
        } else {
          const remove = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'aria-label': `Remove these ${name} hours` }, 'Remove');
          remove.addEventListener('click', () => { rows.splice(rows.indexOf(row), 1); row.tr.remove(); });
          head = h('th', { scope: 'row', class: 'day-more' }, remove);
        }
        row.tr = h('tr', { 'data-field': `day-${d}` }, head, h('td', null, open), h('td', null, close), h('td', { class: 'day-error' }, err));
        return row;
      };
      for (const [d, name] of DAYS) {
        const ranges = q.hours ? q.hours.weekly.filter((x) => x.day === d) : [];
        const on = h('input', { type: 'checkbox', 'aria-label': `${name} open` });
        on.checked = q.hours ? ranges.length > 0 : !['sat', 'sun'].includes(d);
        const day = { on, first: null };
        const dayRows = (ranges.length ? ranges : [null]).map((r) => rangeRow(d, name, r, day));
        const add = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'aria-label': `Add ${name} hours` }, 'Add hours');
        const addRow = h('tr', { class: 'day-add' }, h('td', null), h('td', { colspan: '3' }, add));
        const sync = () => {
          for (const r of rows.filter((x) => x.d === d)) { r.open.disabled = !on.checked; r.close.disabled = !on.checked; }
          addRow.hidden = !on.checked;
        };
        add.addEventListener('click', () => {
          const r = rangeRow(d, name, { open: '13:00', close: '17:00' }, day);
          rows.splice(rows.lastIndexOf(rows.filter((x) => x.d === d).pop()) + 1, 0, r);
          addRow.before(r.tr);
          r.open.focus();
        });
        on.addEventListener('change', sync);
        rows.push(...dayRows);
        tbody.append(...dayRows.map((r) => r.tr), addRow);
        sync();
      }
      const table = h('table', { class: 'hours-table' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Day'), h('th', { scope: 'col' }, 'Opens'), h('th', { scope: 'col' }, 'Closes'), h('th', null, h('span', { class: 'sr-only' }, 'Problems')))),
        tbody);
      const weekly = h('div', { class: 'hours-weekly' }, field('time_zone', 'Time zone', tz, 'An IANA name such as Europe/Paris; daylight saving is applied.'), table);
      const syncAlways = () => { weekly.hidden = always.checked; };
      always.addEventListener('change', syncAlways);
      syncAlways();
      const save = h('button', { type: 'submit', class: 'btn btn--primary' }, 'Save hours');
      const cancel = h('button', { type: 'button', class: 'btn btn--secondary' }, 'Cancel');
      const form = h('form', { class: 'hours-form', novalidate: true, 'aria-label': `Operating hours of ${q.name}` },
        h('label', { class: 'check' }, always, ' Always open'),
        weekly,
        zones.length ? h('datalist', { id: listId }, zones.map((z) => h('option', { value: z }))) : null,
        formError(),
        h('div', { class: 'form-actions' }, save, cancel));
      cancel.addEventListener('click', () => { form.remove(); onClose(); });
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearErrors(form);
        let hours = null;
        if (!always.checked) {
          if (!tz.value.trim()) { showError(form, 'Choose a time zone.', 'time_zone'); return; }
          if (zones.length && !zones.includes(tz.value.trim()) && tz.value.trim() !== 'UTC') {
            showError(form, `Unknown time zone “${tz.value.trim()}”; pick one from the list, e.g. Europe/Paris.`, 'time_zone');
            return;
          }
          const weeklyRows = [];
          for (const r of rows) {
            if (!r.on.checked) continue;
            if (!r.open.value || !r.close.value || r.close.value <= r.open.value) {
              r.err.textContent = 'Closing time must be after opening time.';
              r.err.hidden = false;
              r.close.setAttribute('aria-invalid', 'true');
              r.close.focus();
              return;
            }
            weeklyRows.push({ day: r.d, open: r.open.value, close: r.close.value === '23:59' ? '24:00' : r.close.value });
          }
          hours = { time_zone: tz.value.trim(), weekly: weeklyRows };
        }
        const done = busy(save, 'Saving…');
        try {
          await api('PUT', `/v1/admin/queues/${q.id}/hours`, { hours });
          toast(`Hours of ${q.name} saved.`);
          await this.load('queues');
        } catch (e) {
          done();
          showError(form, e.message.replace(/^hours: /, ''), /time zone/.test(e.message) ? 'time_zone' : null);
        }
      });
      return form;
    },

    // --- routing rules -----------------------------------------------------------------------

    renderRouting(panel, rules, widgets) {
      clear(panel);
      const work = rules.map((r) => JSON.parse(JSON.stringify(r)));
      // Suggestions for condition names: the seed's context variables and the pre-chat questions.
      const names = new Set(['Case Id', 'Proactive Chat', 'Time On Page', 'Page URL']);
      for (const w of widgets) for (const q of w.prechat || []) names.add(q.label);
      this.varListId = nextId('vars');
      const varList = h('datalist', { id: this.varListId }, [...names].map((n) => h('option', { value: n })));
      const list = h('ol', { class: 'rule-list' });
      const add = h('button', { type: 'button', class: 'btn btn--secondary' }, '+ Add rule');
      const save = h('button', { type: 'submit', class: 'btn btn--primary' }, 'Save rules');
      const form = h('form', { class: 'rules-form', novalidate: true, 'aria-label': 'Routing rules' }, list,
        h('div', { class: 'form-actions' }, add, save), formError());
      const fallback = widgets.map((w) => `${w.name} → ${w.default_queue_id ? this.queueName(w.default_queue_id) : 'no queue'}`).join('; ');
      const draw = (focusSel) => {
        clear(list);
        work.forEach((rule, i) => list.append(this.ruleItem(work, rule, i, draw)));
        if (!work.length) list.append(h('li', { class: 'empty-state' }, 'No rules: every chat goes to its widget’s queue.'));
        if (focusSel) { const el = list.querySelector(focusSel); if (el) el.focus(); }
      };
      add.addEventListener('click', () => {
        if (!this.queues.length) { toast('Create a queue first.', 'error'); return; }
        work.push({ name: '', queue_id: this.queues[0].id, conditions: [{ field: { kind: 'context', name: '' }, op: 'equals', value: '' }] });
        draw(`[data-rule="${work.length - 1}"] input`);
      });
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearErrors(form);
        // Obvious problems first, shown next to the input.
        for (let i = 0; i < work.length; i++) {
          const r = work[i];
          if (!r.name.trim()) { showError(form, 'Give the rule a name.', `rule-${i}-name`); return; }
          for (let j = 0; j < r.conditions.length; j++) {
            const c = r.conditions[j];
            if (c.field.kind === 'context' && !(c.field.name || '').trim()) { showError(form, 'Which variable or pre-chat question?', `rule-${i}-cond-${j}-name`); return; }
            if (['gt', 'ge', 'lt', 'le'].includes(c.op) && (c.value.trim() === '' || !Number.isFinite(Number(c.value)))) {
              showError(form, 'Number comparisons need a number.', `rule-${i}-cond-${j}-value`); return;
            }
          }
        }
        const done = busy(save, 'Saving…');
        try {
          await api('PUT', '/v1/admin/routing-rules', { rules: work.map((r) => ({ name: r.name.trim(), queue_id: r.queue_id, conditions: r.conditions })) });
          done();
          toast('Routing rules saved.');
          announce('Routing rules saved.');
        } catch (e) {
          done();
          // "rule 2 ("VIP"), condition 1: …" → next to that rule
          const m = /rule (\d+)/.exec(e.message);
          showError(form, e.message, m ? `rule-${Number(m[1]) - 1}` : null);
        }
      });
      draw();
      panel.append(h('h2', { class: 'admin-title' }, 'Routing rules'),
        h('p', { class: 'admin-lead' }, 'Rules are checked in order when a chat starts; the first rule whose conditions all hold picks the queue. Conditions can look at context variables and pre-chat answers, the page URL, the country, whether the visitor is signed in and whether the chat is proactive.'),
        h('p', { class: 'admin-note' }, `When no rule matches, the chat goes to its widget’s queue (${fallback || 'none'}).`),
        form, varList);
    },

    ruleItem(work, rule, i, draw) {
      const name = h('input', { type: 'text', maxlength: '100', 'aria-label': `Rule ${i + 1} name` });
      name.value = rule.name;
      name.addEventListener('input', () => { rule.name = name.value; });
      const queue = h('select', { 'aria-label': `Rule ${i + 1} queue` }, this.queues.map((q) => h('option', { value: String(q.id) }, q.name)));
      queue.value = String(rule.queue_id);
      queue.addEventListener('change', () => { rule.queue_id = Number(queue.value); });
      const up = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'aria-label': `Move rule ${i + 1} up`, disabled: i === 0 }, '↑');
      const down = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'aria-label': `Move rule ${i + 1} down`, disabled: i === work.length - 1 }, '↓');
      const del = h('button', { type: 'button', class: 'btn btn--ghost btn--small btn--danger-text', 'aria-label': `Delete rule ${i + 1}` }, 'Delete');
      up.addEventListener('click', () => { [work[i - 1], work[i]] = [work[i], work[i - 1]]; draw(`[data-rule="${i - 1}"] [aria-label^="Move rule"]`); });
      down.addEventListener('click', () => { [work[i + 1], work[i]] = [work[i], work[i + 1]]; draw(`[data-rule="${i + 1}"] [aria-label^="Move rule"]`); });
      del.addEventListener('click', () => { work.splice(i, 1); draw(); });
      const conds = h('ul', { class: 'cond-list' });
      rule.conditions.forEach((c, j) => conds.append(this.condItem(rule, c, i, j, draw)));
      const addCond = h('button', { type: 'button', class: 'btn btn--link' }, '+ Add condition');
      addCond.addEventListener('click', () => {
        rule.conditions.push({ field: { kind: 'page_url' }, op: 'contains', value: '' });
        draw(`[data-rule="${i}"] .cond-item:last-child select`);
      });
      const err = h('p', { class: 'field-error', hidden: true });
      return h('li', { class: 'rule-item', 'data-rule': i, 'data-field': `rule-${i}` },
        h('div', { class: 'rule-head' },
          h('span', { class: 'rule-num', 'aria-hidden': 'true' }, String(i + 1)),
          h('div', { class: 'field rule-name', 'data-field': `rule-${i}-name` }, name, h('p', { class: 'field-error', hidden: true })),
          h('span', { class: 'rule-arrow' }, '→ queue'), queue,
          h('span', { class: 'rule-tools' }, up, down, del)),
        h('p', { class: 'rule-when' }, rule.conditions.length ? 'When all of these hold:' : 'Always (no conditions).'),
        conds, addCond, err);
    },

    condItem(rule, c, i, j, draw) {
      const kinds = [['context', 'Context variable or pre-chat answer'], ['page_url', 'Page URL'], ['country', 'Country (2-letter code)'], ['authenticated', 'Signed in'], ['proactive', 'Proactive chat']];
      const ops = [['exists', 'is set'], ['equals', 'equals'], ['not_equals', 'is not'], ['contains', 'contains'], ['starts_with', 'starts with'], ['gt', '>'], ['ge', '≥'], ['lt', '<'], ['le', '≤']];
      const label = `Rule ${i + 1} condition ${j + 1}`;
      const kind = h('select', { 'aria-label': `${label} field` }, kinds.map(([k, t]) => h('option', { value: k }, t)));
      kind.value = c.field.kind;
      const varName = h('input', { type: 'text', placeholder: 'e.g. Case Id', list: this.varListId, 'aria-label': `${label} variable name` });
      varName.value = c.field.name || '';
      const op = h('select', { 'aria-label': `${label} comparison` }, ops.map(([k, t]) => h('option', { value: k }, t)));
      op.value = c.op;
      const value = h('input', { type: 'text', 'aria-label': `${label} value` });
      value.value = c.value || '';
      const bool = h('select', { 'aria-label': `${label} yes or no` }, h('option', { value: 'true' }, 'yes'), h('option', { value: 'false' }, 'no'));
      const del = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'aria-label': `Remove ${label.toLowerCase()}` }, '✕');
      const nameWrap = h('div', { class: 'field', 'data-field': `rule-${i}-cond-${j}-name` }, varName, h('p', { class: 'field-error', hidden: true }));
      const valueWrap = h('div', { class: 'field', 'data-field': `rule-${i}-cond-${j}-value` }, value, h('p', { class: 'field-error', hidden: true }));
      const sync = () => {
        const k = kind.value;
        const isBool = k === 'authenticated' || k === 'proactive';
        nameWrap.hidden = k !== 'context';
        op.hidden = isBool;
        valueWrap.hidden = isBool || op.value === 'exists';
        bool.hidden = !isBool;
        c.field = k === 'context' ? { kind: 'context', name: varName.value } : { kind: k };
        if (isBool) { c.op = 'equals'; c.value = bool.value; } else { c.op = op.value; c.value = op.value === 'exists' ? '' : value.value; }
      };
      bool.value = c.value === 'false' ? 'false' : 'true';
      for (const el of [kind, op, bool]) el.addEventListener('change', sync);
      for (const el of [varName, value]) el.addEventListener('input', sync);
      del.addEventListener('click', () => { rule.conditions.splice(j, 1); draw(); });
      sync();
      return h('li', { class: 'cond-item' }, kind, nameWrap, op, valueWrap, bool, del);
    },

    // --- agents ------------------------------------------------------------------------------

    renderAgents(panel, agents) {
      clear(panel);
      this.agentsById.clear();
      const list = h('ul', { class: 'admin-list' });
      for (const a of agents) {
        if (this.livePresence.has(a.id)) a.presence = this.livePresence.get(a.id);
        this.agentsById.set(a.id, a);
        list.append(this.agentItem(a));
      }
      const add = h('button', { type: 'button', class: 'btn btn--primary', 'aria-expanded': 'false' }, '+ Add agent');
      const slot = h('div');
      add.addEventListener('click', () => {
        if (slot.firstChild) { clear(slot); add.setAttribute('aria-expanded', 'false'); return; }
        slot.append(this.agentForm(null, () => { clear(slot); add.setAttribute('aria-expanded', 'false'); add.focus(); }));
        add.setAttribute('aria-expanded', 'true');
        slot.querySelector('input').focus();
      });
      panel.append(h('div', { class: 'admin-title-row' }, h('h2', { class: 'admin-title' }, 'Agents'), add),
        h('p', { class: 'admin-lead' }, 'Who answers chats, how many at once (capacity), and from which queues. Admins also manage this page.'),
        slot, list);
    },

    agentItem(a) {
      const edit = h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'aria-expanded': 'false', 'aria-label': `Edit ${a.name}` }, 'Edit');
      const li = h('li', { class: 'admin-item', 'data-agent-id': a.id },
        h('div', { class: 'admin-item-head' },
          h('span', { class: `presence-dot presence-dot--${a.presence}`, title: a.presence, 'aria-hidden': 'true' }),
          h('h3', { class: 'admin-item-title' }, a.name),
          h('span', { class: `tag tag--small${a.role === 'admin' ? '' : ' tag--plain'}` }, a.role),
          a.disabled ? h('span', { class: 'tag tag--small tag--warn' }, 'disabled') : null,
          h('span', { class: 'admin-item-spacer' }), edit),
        h('p', { class: 'admin-item-sub' }, this.agentSub(a)));
      edit.addEventListener('click', () => {
        const open = li.querySelector('.agent-form');
        if (open) { open.remove(); edit.setAttribute('aria-expanded', 'false'); return; }
        li.append(this.agentForm(a, () => { edit.setAttribute('aria-expanded', 'false'); edit.focus(); }));
        edit.setAttribute('aria-expanded', 'true');
        li.querySelector('.agent-form input').focus();
      });
      return li;
    },

    agentSub(a) {
      return `${a.email} · ${a.presence} · capacity ${a.capacity} · ${a.queue_ids.length ? a.queue_ids.map((q) => this.queueName(q)).join(', ') : 'no queues'}`;
    },

    agentForm(a, onClose) {
      const creating = !a;
      const name = h('input', { type: 'text', maxlength: '100', autocomplete: 'off' });
      name.value = a ? a.name : '';
      const email = h('input', { type: 'email', maxlength: '254', autocomplete: 'off' });
      const password = h('input', { type: 'password', autocomplete: 'new-password', minlength: '10' });
      const role = h('select', null, h('option', { value: 'agent' }, 'Agent'), h('option', { value: 'admin' }, 'Admin'));
      role.value = a ? a.role : 'agent';
      const capacity = h('input', { type: 'number', min: '0', max: '50', step: '1', inputmode: 'numeric' });
      capacity.value = String(a ? a.capacity : 3);
      const reset = h('input', { type: 'password', autocomplete: 'new-password', maxlength: '200' });
      const disabled = h('input', { type: 'checkbox' });
      disabled.checked = !!(a && a.disabled);
      const boxes = this.queues.map((q) => {
        const cb = h('input', { type: 'checkbox', value: String(q.id) });
        cb.checked = a ? a.queue_ids.includes(q.id) : this.queues.length === 1;
        return { q, cb };
      });
      const queuesSet = h('fieldset', { class: 'field checks', 'data-field': 'queue_ids' }, h('legend', null, 'Queues'),
        boxes.map(({ q, cb }) => h('label', { class: 'check' }, cb, ` ${q.name}`)), h('p', { class: 'field-error', hidden: true }));
      const save = h('button', { type: 'submit', class: 'btn btn--primary' }, creating ? 'Create agent' : 'Save');
      const cancel = h('button', { type: 'button', class: 'btn btn--secondary' }, 'Cancel');
      const form = h('form', { class: `agent-form admin-form${creating ? ' admin-form--card' : ''}`, novalidate: true, 'aria-label': creating ? 'New agent' : `Edit ${a.name}` },
        h('div', { class: 'form-grid' },
          field('name', 'Name', name),
          creating ? field('email', 'Email', email) : null,
          creating ? field('password', 'Initial password', password, 'At least 10 characters; share it with the agent privately.') : null,
          field('role', 'Role', role),
          field('capacity', 'Capacity (chats at once)', capacity),
          creating ? null : field('password', 'New password (optional)', reset, 'Signs the agent out everywhere; share it privately.')),
        creating ? null : h('div', { class: 'field', 'data-field': 'disabled' },
          h('label', { class: 'check' }, disabled, ' Account disabled (cannot sign in; open chats go back to the queue)'),
          h('p', { class: 'field-error', hidden: true })),
        queuesSet, formError(), h('div', { class: 'form-actions' }, save, cancel));
      cancel.addEventListener('click', () => { form.remove(); onClose(); });
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearErrors(form);
        const cap = Number(capacity.value);
        if (!name.value.trim()) return showError(form, 'Enter the agent’s name.', 'name');
        if (creating && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.value.trim())) return showError(form, 'Enter an email address such as sam@example.com.', 'email');
        if (creating && password.value.length < 10) return showError(form, 'At least 10 characters.', 'password');
        if (!Number.isInteger(cap) || cap < 0 || cap > 50 || capacity.value === '') return showError(form, 'A whole number from 0 to 50.', 'capacity');
        const body = { name: name.value.trim(), role: role.value, capacity: cap, queue_ids: boxes.filter((b) => b.cb.checked).map((b) => b.q.id) };
        if (creating) { body.email = email.value.trim(); body.password = password.value; }
        if (!creating && reset.value) {
          if ([...reset.value].length < 10) return showError(form, 'At least 10 characters.', 'password');
          body.password = reset.value;
        }
        if (!creating && disabled.checked !== !!a.disabled) body.disabled = disabled.checked;
        const done = busy(save, 'Saving…');
        try {
          if (creating) await api('POST', '/v1/admin/agents', body);
          else await api('PATCH', `/v1/admin/agents/${a.id}`, body);
          toast(creating ? `Agent ${body.name} created.` : `${body.name} saved.`);
          await this.load('agents');
        } catch (e) {
          done();
          showError(form, e.message);
        }
      });
      return form;
    },

    // --- widgets -----------------------------------------------------------------------------

    renderWidgets(panel, widgets) {
      clear(panel);
      panel.append(h('h2', { class: 'admin-title' }, 'Widgets'),
        h('p', { class: 'admin-lead' }, 'How the chat widget looks and behaves on your sites. Pages pick up changes the next time they load.'));
      for (const w of widgets) panel.append(this.widgetForm(w));
    },

    widgetForm(w) {
      const input = (type, value, extra) => { const el = h('input', Object.assign({ type }, extra || {})); el.value = value == null ? '' : String(value); return el; };
      const name = input('text', w.name, { maxlength: '100' });
      const origins = h('textarea', { rows: 3, spellcheck: 'false' });
      origins.value = (w.allowed_origins || []).join('\n');
      const colorPick = input('color', w.color);
      const color = input('text', w.color, { maxlength: '7', spellcheck: 'false', 'aria-label': 'Colour (hex)' });
      colorPick.setAttribute('aria-label', 'Colour picker');
      colorPick.addEventListener('input', () => { color.value = colorPick.value; });
      color.addEventListener('input', () => { if (/^#[0-9a-f]{6}$/i.test(color.value)) colorPick.value = color.value.toLowerCase(); });
      const colorField = h('div', { class: 'field', 'data-field': 'color' }, h('span', { class: 'field-label' }, 'Colour'),
        h('div', { class: 'color-row' }, colorPick, color), h('p', { class: 'field-error', hidden: true }));
      const font = input('text', w.font_family, { maxlength: '200', placeholder: 'System font' });
      const title = input('text', w.title, { maxlength: '100' });
      const greeting = h('textarea', { rows: 2, maxlength: '500' });
      greeting.value = w.greeting || '';
      const expiry = input('number', Math.round((w.invite_expiry_ms || 60000) / 1000), { min: '5', max: '600', step: '1' });
      const queue = h('select', null, h('option', { value: '' }, 'None'), this.queues.map((q) => h('option', { value: String(q.id) }, q.name)));
      queue.value = w.default_queue_id ? String(w.default_queue_id) : '';
      const ooh = w.out_of_hours === 'hide' ? 'hide' : 'message';
      const radioName = nextId('ooh');
      const rMsg = h('input', { type: 'radio', name: radioName, value: 'message' });
      const rHide = h('input', { type: 'radio', name: radioName, value: 'hide' });
      rMsg.checked = ooh === 'message';
      rHide.checked = ooh === 'hide';
      const oohSet = h('fieldset', { class: 'field checks', 'data-field': 'out_of_hours' }, h('legend', null, 'Outside operating hours'),
        h('label', { class: 'check' }, rMsg, ' Show the offline message'),
        h('label', { class: 'check' }, rHide, ' Hide the widget'), h('p', { class: 'field-error', hidden: true }));
      const offline = h('textarea', { rows: 2, maxlength: '1000' });
      offline.value = w.offline_message || '';
      const questions = (w.prechat || []).map((q) => Object.assign({ choices: [] }, q));
      const qList = h('ol', { class: 'prechat-list' });
      const drawQ = () => {
        clear(qList);
        questions.forEach((q, i) => qList.append(this.questionItem(questions, q, i, drawQ)));
        if (!questions.length) qList.append(h('li', { class: 'empty-state' }, 'No pre-chat survey: visitors start chatting at once.'));
      };
      drawQ();
      const addQ = h('button', { type: 'button', class: 'btn btn--link' }, '+ Add question');
      addQ.addEventListener('click', () => {
        if (questions.length >= 10) { toast('At most 10 questions.', 'error'); return; }
        questions.push({ id: '', label: '', kind: 'single_line', required: false, choices: [] });
        drawQ();
        const inputs = qList.querySelectorAll('li:last-child input');
        if (inputs[0]) inputs[0].focus();
      });
      // The widget's language, and the texts above for visitors in each language it speaks.
      const language = h('select', null, h('option', { value: 'auto' }, 'The page’s (else the visitor’s browser’s)'),
        h('option', { value: 'en' }, 'English'), h('option', { value: 'fr' }, 'French'));
      language.value = w.language || 'auto';
      const translated = {};
      const langSets = [['en', 'English'], ['fr', 'French']].map(([code, langName]) => {
        const tr = (w.translations || {})[code] || {};
        const f = {
          title: input('text', tr.title, { maxlength: '100' }),
          greeting: h('textarea', { rows: 2, maxlength: '500' }),
          offline: h('textarea', { rows: 2, maxlength: '1000' }),
          questions: {},
        };
        f.greeting.value = tr.greeting || '';
        f.offline.value = tr.offline_message || '';
        translated[code] = f;
        const qFields = questions.filter((q) => q.id).map((q) => {
          const t = (tr.prechat || {})[q.id] || {};
          const label = input('text', t.label, { maxlength: '200' });
          const choices = q.kind === 'option_set' ? h('textarea', { rows: 3 }) : null;
          if (choices) choices.value = (t.choices || []).join('\n');
          f.questions[q.id] = { label, choices };
          return h('div', { class: 'translated-question' },
            field(`translations.${code}.prechat.${q.id}.label`, `${langName} for “${q.label}”`, label),
            choices ? field(`translations.${code}.prechat.${q.id}.choices`, `${langName} choices for “${q.label}”, one per line, in order`, choices) : null);
        });
        return h('details', { class: 'translations', 'data-language': code },
          h('summary', null, `Texts for visitors in ${langName}`),
          h('p', { class: 'field-hint' }, 'Leave a text empty to show the one above.'),
          h('div', { class: 'form-grid' },
            field(`translations.${code}.title`, `${langName} title`, f.title),
            field(`translations.${code}.greeting`, `${langName} greeting`, f.greeting),
            field(`translations.${code}.offline_message`, `${langName} offline message`, f.offline)),
          qFields.length ? h('div', { class: 'form-grid' }, qFields) : null);
      });
      const translationsOut = () => {
        const out = {};
        for (const [code, f] of Object.entries(translated)) {
          const prechat = {};
          for (const [id, q] of Object.entries(f.questions)) {
            if (!q.label.value.trim()) continue;
            prechat[id] = { label: q.label.value.trim() };
            const choices = q.choices ? q.choices.value.split('\n').map((c) => c.trim()).filter(Boolean) : [];
            if (choices.length) prechat[id].choices = choices;
          }
          out[code] = { title: f.title.value.trim() || null, greeting: f.greeting.value.trim() || null,
            offline_message: f.offline.value.trim() || null, prechat };
        }
        return out;
      };
      const save = h('button', { type: 'submit', class: 'btn btn--primary' }, 'Save widget');
      const titleId = nextId('widget');
      const form = h('form', { class: 'widget-form admin-form', novalidate: true, 'aria-labelledby': titleId, 'data-widget-id': w.id },
        h('h3', { id: titleId, class: 'admin-item-title' }, w.name, h('span', { class: 'widget-key' }, ` · data-app-id “${w.widget_id}”`)),
        h('div', { class: 'form-grid' },
          field('name', 'Name', name),
          field('default_queue_id', 'Queue (when no routing rule matches)', queue),
          field('allowed_origins', 'Allowed origins', origins, 'One per line, e.g. https://shop.example — or * for any site.'),
          colorField,
          field('font_family', 'Font', font, 'A CSS font list, e.g. Georgia, serif. Empty: the visitor’s system font.'),
          field('title', 'Chat window title', title),
          field('greeting', 'Greeting', greeting),
          field('invite_expiry_ms', 'Invites expire after (seconds)', expiry),
          oohSet,
          field('offline_message', 'Offline message', offline),
          field('language', 'Language of the widget’s own words', language, 'Buttons, status lines and the server’s lines in the chat: English or French.')),
        h('fieldset', { class: 'field prechat', 'data-field': 'prechat' }, h('legend', null, 'Pre-chat survey'), qList, addQ, h('p', { class: 'field-error', hidden: true })),
        langSets,
        formError(),
        h('div', { class: 'form-actions' }, save));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearErrors(form);
        const originList = origins.value.split('\n').map((o) => o.trim()).filter(Boolean);
        const secs = Number(expiry.value);
        if (!name.value.trim()) return showError(form, 'Enter a name.', 'name');
        if (!originList.length) return showError(form, 'List at least one origin, or * for any site.', 'allowed_origins');
        if (!/^#[0-9a-fA-F]{6}$/.test(color.value.trim())) return showError(form, 'A hex colour such as #2151c4.', 'color');
        if (!title.value.trim()) return showError(form, 'Enter a title.', 'title');
        if (!Number.isInteger(secs) || secs < 5 || secs > 600) return showError(form, 'A whole number of seconds from 5 to 600.', 'invite_expiry_ms');
        if (!offline.value.trim()) return showError(form, 'Enter the message shown when nobody is available.', 'offline_message');
        for (let i = 0; i < questions.length; i++) {
          const q = questions[i];
          if (!q.label.trim()) return showError(form, 'Enter the question.', `prechat[${i}].label`);
          if (q.kind === 'option_set' && !q.choices.length) return showError(form, 'List the choices, one per line.', `prechat[${i}].choices`);
        }
        const body = {
          name: name.value.trim(), allowed_origins: originList, color: color.value.trim(),
          font_family: font.value.trim() || null, title: title.value.trim(), greeting: greeting.value.trim(),
          invite_expiry_ms: secs * 1000, out_of_hours: rHide.checked ? 'hide' : 'message',
          offline_message: offline.value.trim(), default_queue_id: queue.value ? Number(queue.value) : null,
          prechat: questions.map((q, i) => {
            const out = { id: q.id || slug(q.label, i, questions), label: q.label.trim(), kind: q.kind, required: !!q.required };
            if (q.kind === 'option_set') out.choices = q.choices;
            return out;
          }),
          language: language.value,
          translations: translationsOut(),
        };
        const done = busy(save, 'Saving…');
        try {
          const res = await api('PATCH', `/v1/admin/widgets/${w.id}`, body);
          done();
          questions.splice(0, questions.length, ...res.widget.prechat.map((q) => Object.assign({ choices: [] }, q)));
          drawQ();
          toast(`${res.widget.name} saved.`);
          announce('Widget saved.');
        } catch (e) {
          done();
          const m = /^invite_expiry_ms: /.test(e.message) ? 'Invites expire after 5 to 600 seconds.' : null;
          showError(form, m || e.message, m ? 'invite_expiry_ms' : null);
        }
      });
      return form;
    },

    questionItem(questions, q, i, draw) {
      const n = i + 1;
      const label = h('input', { type: 'text', maxlength: '200', 'aria-label': `Question ${n}` });
      label.value = q.label;
      label.addEventListener('input', () => { q.label = label.value; });
      const kind = h('select', { 'aria-label': `Question ${n} kind` },
        h('option', { value: 'single_line' }, 'One line'), h('option', { value: 'multi_line' }, 'Several lines'),
        h('option', { value: 'option_set' }, 'Choice'), h('option', { value: 'consent' }, 'Consent checkbox'));
      kind.value = q.kind;
      const required = h('input', { type: 'checkbox' });
      required.checked = !!q.required;
      required.addEventListener('change', () => { q.required = required.checked; });
      const choices = h('textarea', { rows: 3, 'aria-label': `Question ${n} choices, one per line` });
      choices.value = (q.choices || []).join('\n');
      choices.addEventListener('input', () => { q.choices = choices.value.split('\n').map((c) => c.trim()).filter(Boolean); });
      const choicesWrap = h('div', { class: 'field', 'data-field': `prechat[${i}].choices` }, choices, h('p', { class: 'field-error', hidden: true }));
      const sync = () => { q.kind = kind.value; choicesWrap.hidden = kind.value !== 'option_set'; };
      kind.addEventListener('change', sync);
      sync();
      const del = h('button', { type: 'button', class: 'btn btn--ghost btn--small', 'aria-label': `Remove question ${n}` }, '✕');
      del.addEventListener('click', () => { questions.splice(i, 1); draw(); });
      return h('li', { class: 'prechat-item', 'data-field': `prechat[${i}]` },
        h('div', { class: 'prechat-row' },
          h('div', { class: 'field prechat-label', 'data-field': `prechat[${i}].label` }, label, h('p', { class: 'field-error', hidden: true })),
          kind, h('label', { class: 'check' }, required, ' Required'), del),
        choicesWrap, h('p', { class: 'field-error', hidden: true }));
    },
  };

  // A question id from its label: "Your name" → your_name (unique within the survey).
  function slug(label, i, questions) {
    let base = label.toLowerCase().normalize('NFD').replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40) || `q${i + 1}`;
    const taken = new Set(questions.filter((q, j) => j !== i && q.id).map((q) => q.id));
    let id = base;
    for (let k = 2; taken.has(id); k++) id = `${base}_${k}`;
    return id;
  }

  B.showSection = showSection;
})();
