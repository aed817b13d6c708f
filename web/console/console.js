// Beckon agent console: sign-in, presence, incoming offers, and the conversations an agent is
// handling, over the agent WebSocket (docs/protocol.md, "Agent WebSocket").
//
// Why it is shaped this way:
// - Plain JS, no framework, no build step: `cargo build` embeds this file as is (STYLE.md §15).
// - The server is the source of truth. On every `welcome` (first connect and each reconnect) the
//   console rebuilds its offers and conversations from the frame and `sync`s each assigned
//   conversation from the highest contiguous `seq` it holds, so a reload or network loss never
//   loses or duplicates a message (messages are keyed by `seq`).
// - Messages the agent sends stay "pending" until their `ack`; unacknowledged ones are kept in
//   localStorage and resent with the same `client_msg_id` after a reconnect or reload (the server
//   stores a `client_msg_id` once, so resending is safe).
// - Everything that came from a visitor or another person (messages, names, context) is inserted
//   with textContent / createElement only. There is no innerHTML in this file, and the server's
//   CSP forbids inline script as a second line of defence.
(function () {
  'use strict';

  // ---------------------------------------------------------------------------------------------
  // Small DOM helpers. `h` never interprets strings as markup: children strings become text nodes.

  const $ = (id) => document.getElementById(id);
  /** A form control by id (input, select or textarea): its value and disabled state. */
  const control = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));
  /** The elements matching `sel` under `root`, as HTML elements (their dataset, hidden…). */
  const all = (sel, root = document) => /** @type {HTMLElement[]} */ (Array.from(root.querySelectorAll(sel)));
  /** The first element matching `sel` under `root`, as an HTML element, or null. */
  const one = (sel, root = document) => /** @type {HTMLElement | null} */ (root.querySelector(sel));
  /** The element with focus, as an HTML element (its dataset), if any. */
  const focusedElement = () => /** @type {HTMLElement | null} */ (document.activeElement);

  // A failed request (HTTP or socket): what to tell the agent, and for the code that decides
  // what to do next, the HTTP status, the server's error code, or that the server was unreachable.
  class RequestError extends Error {
    /** @param {string} message @param {{status?: number, code?: string, network?: boolean}} [info] */
    constructor(message, info = {}) {
      super(message);
      this.status = info.status;
      this.code = info.code;
      this.network = !!info.network;
    }
  }

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === 'class') el.className = value;
        else if (key === 'text') el.textContent = value;
        else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
        else if (key === 'type' || key === 'disabled' || key === 'hidden' || key === 'value' || key === 'rows') el[key] = value;
        else el.setAttribute(key, value === true ? '' : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  // Message text with its web addresses as links: text nodes and <a> elements (never HTML),
  // http(s) only, opened in a new tab without giving it the console (rel=noopener).
  const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"']+/gi;
  function linkify(text) {
    const out = [];
    let last = 0;
    for (const m of String(text).matchAll(URL_RE)) {
      let raw = m[0].replace(/[.,;:!?]+$/, '');
      if (raw.endsWith(')') && !raw.includes('(')) raw = raw.slice(0, -1);
      const href = /^www\./i.test(raw) ? `https://${raw}` : raw;
      let ok = false;
      try { ok = ['http:', 'https:'].includes(new URL(href).protocol); } catch (_) { ok = false; }
      if (!ok || m.index < last) continue;
      out.push(text.slice(last, m.index), h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow ugc' }, raw));
      last = m.index + raw.length;
    }
    out.push(text.slice(last));
    return out;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  const fmtTime = (ms) => (ms ? timeFmt.format(new Date(ms)) : '');
  function fmtDateTime(ms) {
    if (!ms) return '—';
    const d = new Date(ms);
    return d.toDateString() === new Date().toDateString() ? `Today, ${timeFmt.format(d)}` : dateTimeFmt.format(d);
  }

  function fmtWaiting(since) {
    const s = Math.max(0, Math.round((Date.now() - since) / 1000));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
    return `${Math.floor(m / 60)}h ${m % 60}m`;
  }

  // A client_msg_id: 1–64 visible ASCII characters. crypto.getRandomValues works on plain http too.
  function newClientMsgId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return 'con-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP API

  async function api(method, path, body) {
    /** @type {RequestInit & {headers: Record<string, string>}} */
    const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (_) {
      throw new RequestError('Cannot reach the server. Check your connection and try again.', { network: true });
    }
    let data = null;
    if (res.status !== 204) {
      try { data = await res.json(); } catch (_) { data = null; }
    }
    if (!res.ok) {
      const msg = data && data.error && typeof data.error.message === 'string'
        ? data.error.message
        : `The server answered ${res.status}.`;
      throw new RequestError(msg, { status: res.status, code: data && data.error ? data.error.code : undefined });
    }
    return data;
  }

  // ---------------------------------------------------------------------------------------------
  // State

  const OPEN_STATES = ['queued', 'active', 'transferred'];
  const WAITING_STATES = ['queued', 'transferred'];
  const TYPING_IDLE_MS = 3000; // stop "typing" after this long without a keystroke
  const TYPING_REFRESH_MS = 10000; // repeat "typing: true" while the agent keeps typing
  const VISITOR_TYPING_TIMEOUT_MS = 30000; // forget a visitor's "typing" that was never cleared

  const state = {
    mail: false, // welcome.mail: answers to left messages are emailed
    skew: 0, // the server's clock minus this browser's (welcome.server_time), for offer countdowns
    agent: null,
    presence: 'offline',
    offers: new Map(), // conversation id -> conversation (offered to me)
    waiting: new Map(), // conversation id -> conversation (waiting in a queue I serve)
    convs: new Map(), // conversation id -> record (assigned to me, or ended while open here)
    selected: null,
    soundOn: localStorage.getItem('beckon.console.sound') !== 'off',
    infoOpen: window.matchMedia('(min-width: 1100px)').matches,
  };

  function relationOf(c) {
    const me = state.agent && state.agent.id;
    if (c.agent && c.agent.id === me && OPEN_STATES.includes(c.state)) return 'assigned';
    if (c.offered_agent_id === me && WAITING_STATES.includes(c.state)) return 'offered';
    return 'none';
  }

  function displayableContext(c) {
    const out = [];
    const ctx = c && c.context && typeof c.context === 'object' ? c.context : {};
    for (const [name, v] of Object.entries(ctx)) {
      if (!v || typeof v !== 'object' || v.isDisplayable !== true) continue;
      const value = v.value === null || v.value === undefined ? '' : String(v.value);
      out.push([name, value]);
    }
    return out;
  }

  function visitorLabel(c) {
    for (const [name, value] of displayableContext(c)) {
      // The same names as the server's (beckon-domain context.rs NAME_VARIABLES).
      if (/^(name|full name|your name|visitor name|nom|votre nom|nom complet)$/i.test(name.trim()) && value.trim()) return value.trim();
    }
    if (c.authenticated_as) return String(c.authenticated_as);
    return `Visitor ${c.visitor_id}`;
  }

  // ---------------------------------------------------------------------------------------------
  // Outbox: agent messages not yet acknowledged, persisted so a reload can resend them.

  function outboxKey() { return `beckon.console.outbox.${state.agent ? state.agent.id : 'none'}`; }

  function loadOutbox() {
    try {
      const list = JSON.parse(localStorage.getItem(outboxKey()) || '[]');
      return Array.isArray(list) ? list : [];
    } catch (_) { return []; }
  }

  function saveOutbox() {
    const list = [];
    for (const rec of state.convs.values()) {
      for (const p of rec.pending.values()) {
        if (!p.failed) list.push({ conversation_id: rec.id, client_msg_id: p.client_msg_id, text: p.text, created_at: p.created_at });
      }
    }
    try {
      if (list.length) localStorage.setItem(outboxKey(), JSON.stringify(list));
      else localStorage.removeItem(outboxKey());
    } catch (_) { /* storage full or disabled: resending after a reload is best effort */ }
  }

  // ---------------------------------------------------------------------------------------------
  // The agent WebSocket: connect, reconnect with jittered exponential backoff, request/reply by rid.

  const conn = {
    ws: null,
    ready: false, // a welcome arrived on the current socket
    stopped: true,
    attempt: 0,
    retryTimer: null,
    heartbeat: null,
    rid: 0,
    waiters: new Map(),
  };

  function connect() {
    conn.stopped = false;
    clearTimeout(conn.retryTimer);
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/agent/ws`;
    setConnState(conn.attempt ? 'reconnecting' : 'connecting');
    let ws;
    try { ws = new WebSocket(url); } catch (_) { scheduleReconnect(); return; }
    conn.ws = ws;
    let opened = false;
    ws.onopen = () => { opened = true; };
    ws.onmessage = (ev) => {
      if (conn.ws !== ws) return;
      let frame;
      try { frame = JSON.parse(ev.data); } catch (_) { return; }
      if (frame && typeof frame === 'object') onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (conn.ws !== ws) return;
      conn.ws = null;
      conn.ready = false;
      clearInterval(conn.heartbeat);
      failWaiters('disconnected');
      renderAll();
      if (conn.stopped) return;
      // 4001: this sign-in ended (signed out elsewhere, expired, password changed, account
      // disabled). 4002: the account changed (a new role): reconnect at once for a fresh welcome.
      if (ev.code === 4001) {
        signedOut('You have been signed out. Please sign in again.');
        return;
      }
      if (ev.code === 4002) {
        conn.attempt = 0;
        connect();
        return;
      }
      setConnState('reconnecting');
      // An upgrade refused before opening may mean the session expired (HTTP 401).
      if (!opened) checkSessionThenReconnect();
      else scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (conn.stopped) return;
    const base = Math.min(15000, 500 * 2 ** conn.attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    conn.attempt += 1;
    clearTimeout(conn.retryTimer);
    conn.retryTimer = setTimeout(connect, delay);
  }

  async function checkSessionThenReconnect() {
    try {
      await api('GET', '/v1/agent/me');
    } catch (e) {
      if (e.status === 401) {
        signedOut('Your session has ended. Please sign in again.');
        return;
      }
    }
    scheduleReconnect();
  }

  function disconnect() {
    conn.stopped = true;
    clearTimeout(conn.retryTimer);
    clearInterval(conn.heartbeat);
    const ws = conn.ws;
    conn.ws = null;
    conn.ready = false;
    failWaiters('disconnected');
    if (ws) { try { ws.close(1000, 'signed out'); } catch (_) { /* already closed */ } }
  }

  function sendFrame(frame) {
    if (!conn.ws || conn.ws.readyState !== WebSocket.OPEN) return false;
    conn.ws.send(JSON.stringify(frame));
    return true;
  }

  // Sends a frame with a rid; resolves with the reply (ok, ack, chat, pong…), rejects on error.
  function request(frame, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
      if (!conn.ready) {
        reject(new RequestError('Not connected to the server.', { code: 'disconnected' }));
        return;
      }
      const rid = `r${++conn.rid}`;
      const timer = setTimeout(() => {
        conn.waiters.delete(rid);
        reject(new RequestError('The server did not answer in time.', { code: 'timeout' }));
      }, timeoutMs);
      conn.waiters.set(rid, { resolve, reject, timer });
      sendFrame(Object.assign({}, frame, { rid }));
    });
  }

  function failWaiters(code) {
    for (const [rid, w] of conn.waiters) {
      clearTimeout(w.timer);
      w.reject(new RequestError('The connection to the server was lost.', { code }));
      conn.waiters.delete(rid);
    }
  }

  function startHeartbeat(ws) {
    clearInterval(conn.heartbeat);
    // The server pings at the WebSocket level, but a browser cannot see those; an app-level ping
    // notices a dead network path and reconnects instead of waiting for TCP to give up.
    conn.heartbeat = setInterval(() => {
      if (conn.ws !== ws || !conn.ready) return;
      request({ type: 'ping' }, 10000).catch((e) => {
        if (e.code === 'timeout' && conn.ws === ws) ws.close();
      });
    }, 20000);
  }

  // ---------------------------------------------------------------------------------------------
  // Incoming frames

  function onFrame(f) {
    for (const fn of hooks.frame) {
      try { fn(f); } catch (e) { console.error(e); }
    }
    switch (f.type) {
      case 'welcome': onWelcome(f); break;
      case 'offer': if (f.conversation) onConversation(f.conversation, true); break;
      case 'waiting': if (f.conversation) { state.waiting.set(f.conversation.id, f.conversation); renderWaiting(); } break;
      case 'waiting_gone': state.waiting.delete(f.conversation_id); renderWaiting(); break;
      case 'chat': if (f.conversation) onConversation(f.conversation, false); break;
      case 'message': if (f.message) onMessage(f.message); break;
      case 'ack': onAck(f); break;
      case 'typing': onTyping(f); break;
      case 'presence': setPresence(f.status); break;
      case 'agent_presence': colleaguePresence(f.agent_id, f.status); break;
      case 'visitor': if (f.visitor) visitorChanged(f.visitor.visitor_id); break;
      case 'error':
        if (!f.rid || !conn.waiters.has(f.rid)) toast(f.message || 'The server reported an error.', 'error');
        break;
      default: break;
    }
    if (f.rid && conn.waiters.has(f.rid)) {
      const w = conn.waiters.get(f.rid);
      conn.waiters.delete(f.rid);
      clearTimeout(w.timer);
      if (f.type === 'error') {
        w.reject(new RequestError(f.message || 'The server refused the request.', { code: f.code }));
      } else {
        w.resolve(f);
      }
    }
  }

  function onWelcome(w) {
    conn.ready = true;
    conn.attempt = 0;
    startHeartbeat(conn.ws);
    if (w.agent) state.agent = Object.assign({}, state.agent, w.agent);
    state.mail = !!w.mail;
    if (typeof w.server_time === 'number') state.skew = w.server_time - Date.now();
    setConnState('online');
    setPresence(w.presence);

    state.waiting.clear();
    for (const c of Array.isArray(w.waiting) ? w.waiting : []) state.waiting.set(c.id, c);
    const open = Array.isArray(w.conversations) ? w.conversations : [];
    const seenOffers = new Set(state.offers.keys());
    state.offers.clear();
    const assigned = new Set();
    let newOffer = false;
    for (const c of open) {
      const rel = relationOf(c);
      if (rel === 'offered') {
        state.offers.set(c.id, c);
        if (!seenOffers.has(c.id)) newOffer = true;
      } else if (rel === 'assigned') {
        assigned.add(c.id);
        upsertRecord(c);
      }
    }
    // Conversations this tab shows that are no longer open for us ended (or moved) while we were
    // away: fetch what we missed, which includes the closing system message.
    for (const rec of state.convs.values()) {
      if (!assigned.has(rec.id) && OPEN_STATES.includes(rec.conv.state)) {
        rec.conv = Object.assign({}, rec.conv, { state: 'ended' });
        rec.gone = true;
      }
    }
    // Restore messages that were typed but not acknowledged before a reload.
    for (const p of loadOutbox()) {
      const rec = state.convs.get(p.conversation_id);
      if (rec && !rec.pending.has(p.client_msg_id) && assigned.has(rec.id)) {
        rec.pending.set(p.client_msg_id, { client_msg_id: p.client_msg_id, text: p.text, created_at: p.created_at });
      }
    }
    for (const rec of state.convs.values()) syncRecord(rec);
    for (const rec of state.convs.values()) if (assigned.has(rec.id)) flushPending(rec);
    saveOutbox();

    // Reopen the conversation that was selected before the reload.
    if (state.selected === null) {
      const saved = Number(sessionStorage.getItem('beckon.console.selected'));
      if (saved && state.convs.has(saved)) select(saved, { focus: false });
    }
    renderAll();
    if (newOffer) notifyOffer();
  }

  function upsertRecord(c) {
    let rec = state.convs.get(c.id);
    if (!rec) {
      rec = {
        id: c.id,
        conv: c,
        messages: new Map(), // seq -> message
        lastSeq: 0, // highest seq with every seq before it present
        pending: new Map(), // client_msg_id -> {client_msg_id, text, created_at, failed?, error?}
        visitorTyping: false,
        visitorTypingTimer: null,
        typingSent: false,
        typingSentAt: 0,
        typingIdleTimer: null,
        unread: 0,
        gone: false,
        syncing: false,
        resync: false,
        view: null,
      };
      state.convs.set(c.id, rec);
    } else {
      rec.conv = c;
      rec.gone = false;
    }
    return rec;
  }

  function onConversation(c, isOffer) {
    const rel = relationOf(c);
    if (rel === 'offered') {
      const isNew = !state.offers.has(c.id);
      state.offers.set(c.id, c);
      renderOffers();
      if (isNew || isOffer) notifyOffer(c);
      return;
    }
    const hadOffer = state.offers.delete(c.id);
    if (rel === 'assigned') {
      const isNew = !state.convs.has(c.id);
      const rec = upsertRecord(c);
      // Ours again (taken back from the waiting list): "You transferred this chat" no longer holds.
      rec.transferredTo = null;
      if (isNew) syncRecord(rec);
      renderRecord(rec);
    } else {
      const rec = state.convs.get(c.id);
      if (rec) {
        // Ended by us or the visitor, or no longer ours: keep it on screen, read-only.
        rec.conv = c;
        stopOwnTyping(rec, false);
        rec.visitorTyping = false;
        renderRecord(rec);
      } else if (hadOffer && (c.state === 'abandoned' || c.state === 'ended')) {
        toast(`${visitorLabel(c)} left before the chat was accepted.`);
      }
    }
    renderOffers();
    renderWaiting();
    renderConvList();
    updateTitle();
  }

  function onMessage(m) {
    const rec = state.convs.get(m.conversation_id);
    if (!rec || typeof m.seq !== 'number') return;
    if (m.sender && m.sender.kind === 'agent' && m.client_msg_id && rec.pending.has(m.client_msg_id)) {
      rec.pending.delete(m.client_msg_id);
      removePendingView(rec, m.client_msg_id);
      saveOutbox();
    }
    if (rec.messages.has(m.seq)) return; // already have it (resent around a reconnect)
    rec.messages.set(m.seq, m);
    advanceSeq(rec, m.seq);
    const kind = m.sender && m.sender.kind;
    if (kind === 'visitor') {
      setVisitorTyping(rec, false);
      if (state.selected !== rec.id || document.hidden) {
        rec.unread += 1;
        if (document.hidden) chime('message');
      }
      // Only while the console is in the background (desktopNotify checks).
      desktopNotify(visitorLabel(rec.conv), m.text.length > 140 ? `${m.text.slice(0, 140)}…` : m.text,
        `beckon-conv-${rec.id}`, () => select(rec.id));
    }
    insertMessageView(rec, m);
    renderConvList();
    updateTitle();
  }

  // Keeps lastSeq at the highest seq with no gap before it, so a later `sync` refetches any gap.
  function advanceSeq(rec, seq) {
    while (rec.messages.has(rec.lastSeq + 1)) rec.lastSeq += 1;
    if (seq > rec.lastSeq + 1 && !rec.syncing) syncRecord(rec);
  }

  function onAck(a) {
    const rec = state.convs.get(a.conversation_id);
    if (!rec) return;
    const p = rec.pending.get(a.client_msg_id);
    if (!p) return;
    rec.pending.delete(a.client_msg_id);
    removePendingView(rec, a.client_msg_id);
    saveOutbox();
    if (typeof a.seq === 'number' && !rec.messages.has(a.seq)) {
      // The stored copy (same seq) may arrive after the ack; show ours now, dedupe by seq later.
      const m = {
        conversation_id: rec.id,
        seq: a.seq,
        sender: { kind: 'agent', agent_id: state.agent.id, name: state.agent.name },
        text: p.text,
        client_msg_id: a.client_msg_id,
        created_at: p.created_at,
      };
      rec.messages.set(a.seq, m);
      advanceSeq(rec, a.seq);
      insertMessageView(rec, m);
    }
    renderConvList();
  }

  function onTyping(t) {
    if (t.from !== 'visitor') return;
    const rec = state.convs.get(t.conversation_id);
    if (rec) setVisitorTyping(rec, !!t.typing);
  }

  function setVisitorTyping(rec, typing) {
    clearTimeout(rec.visitorTypingTimer);
    rec.visitorTyping = typing && isOpen(rec);
    if (rec.visitorTyping) {
      rec.visitorTypingTimer = setTimeout(() => setVisitorTyping(rec, false), VISITOR_TYPING_TIMEOUT_MS);
    }
    renderTyping(rec);
    renderConvList();
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  async function syncRecord(rec) {
    if (!conn.ready) return;
    if (rec.syncing) { rec.resync = true; return; }
    rec.syncing = true;
    try {
      await request({ type: 'sync', conversation_id: rec.id, after_seq: rec.lastSeq }, 30000);
    } catch (e) {
      // not_your_conversation: it moved to a colleague while we were away; what we hold stays.
      if (e.code !== 'disconnected' && e.code !== 'not_your_conversation') toast(`Could not load the history of ${visitorLabel(rec.conv)}: ${e.message}`, 'error');
    } finally {
      rec.syncing = false;
    }
    if (rec.resync) { rec.resync = false; syncRecord(rec); }
  }

  function flushPending(rec) {
    for (const p of rec.pending.values()) if (!p.failed) transmit(rec, p);
  }

  function transmit(rec, p) {
    if (!conn.ready || p.inFlight) return;
    p.inFlight = true;
    request({ type: 'send', conversation_id: rec.id, client_msg_id: p.client_msg_id, text: p.text })
      .catch((e) => {
        if (!rec.pending.has(p.client_msg_id)) return;
        if (['invalid_message', 'conversation_closed', 'not_your_conversation'].includes(e.code)) {
          p.failed = true;
          p.error = e.message;
          saveOutbox();
          renderPendingView(rec, p);
        } else if (e.code !== 'disconnected') {
          // rate_limited / internal / no answer: try again shortly with the same id; the server
          // stores a client_msg_id once, so a retry of a message that did arrive is harmless.
          setTimeout(() => { if (rec.pending.has(p.client_msg_id)) transmit(rec, p); }, 2000);
        }
        // disconnected: resent with the same id after the next welcome.
      })
      .finally(() => { p.inFlight = false; });
  }

  function sendMessage(rec, text) {
    const p = { client_msg_id: newClientMsgId(), text, created_at: Date.now() };
    rec.pending.set(p.client_msg_id, p);
    saveOutbox();
    renderPendingView(rec, p);
    stopOwnTyping(rec, true);
    transmit(rec, p);
  }

  function ownTyping(rec, hasText) {
    if (!isOpen(rec)) return;
    clearTimeout(rec.typingIdleTimer);
    if (!hasText) { stopOwnTyping(rec, true); return; }
    const now = Date.now();
    if (!rec.typingSent || now - rec.typingSentAt > TYPING_REFRESH_MS) {
      if (conn.ready) sendFrame({ type: 'typing', conversation_id: rec.id, typing: true });
      rec.typingSent = true;
      rec.typingSentAt = now;
    }
    rec.typingIdleTimer = setTimeout(() => stopOwnTyping(rec, true), TYPING_IDLE_MS);
  }

  function stopOwnTyping(rec, tell) {
    clearTimeout(rec.typingIdleTimer);
    if (rec.typingSent && tell && conn.ready && isOpen(rec)) {
      sendFrame({ type: 'typing', conversation_id: rec.id, typing: false });
    }
    rec.typingSent = false;
  }

  async function acceptOffer(id, button) {
    button.disabled = true;
    button.textContent = 'Accepting…';
    try {
      const reply = await request({ type: 'accept', conversation_id: id });
      if (reply.conversation) onConversation(reply.conversation, false);
      if (state.convs.has(id)) select(id, { focus: true });
    } catch (e) {
      if (e.code === 'offer_gone') {
        state.offers.delete(id);
        toast('That chat is no longer offered to you.');
      } else {
        button.textContent = 'Accept';
        button.disabled = false;
        toast(`Could not accept the chat: ${e.message}`, 'error');
      }
      renderOffers();
      updateTitle();
    }
  }

  // Takes a chat from the waiting list: it is ours at once (whatever our status).
  async function takeWaiting(id, button) {
    button.disabled = true;
    button.textContent = 'Taking…';
    try {
      const reply = await request({ type: 'take', conversation_id: id });
      state.waiting.delete(id);
      if (reply.conversation) onConversation(reply.conversation, false);
      if (state.convs.has(id)) select(id, { focus: true });
    } catch (e) {
      if (e.code === 'offer_gone') {
        state.waiting.delete(id);
        toast('Someone else took that chat, or the visitor left.');
      } else {
        button.textContent = 'Take';
        button.disabled = false;
        toast(`Could not take the chat: ${e.message}`, 'error');
      }
    }
    renderWaiting();
  }

  async function declineOffer(id, button) {
    button.disabled = true;
    try {
      await request({ type: 'reject', conversation_id: id });
    } catch (e) {
      if (e.code !== 'offer_gone') {
        button.disabled = false;
        toast(`Could not decline the chat: ${e.message}`, 'error');
        return;
      }
    }
    state.offers.delete(id);
    renderOffers();
    updateTitle();
  }

  async function endConversation(rec, button) {
    button.disabled = true;
    stopOwnTyping(rec, true);
    try {
      await request({ type: 'end', conversation_id: rec.id });
      // The console that ended the chat gets `ok` (other consoles get a `chat` frame): mark it
      // ended here and fetch the closing system message, which may not be pushed to this socket.
      if (OPEN_STATES.includes(rec.conv.state)) {
        rec.conv = Object.assign({}, rec.conv, { state: 'ended', ended_at: rec.conv.ended_at || Date.now() });
      }
      rec.visitorTyping = false;
      renderRecord(rec);
      renderConvList();
      syncRecord(rec);
    } catch (e) {
      button.disabled = false;
      toast(`Could not end the chat: ${e.message}`, 'error');
    }
  }

  async function choosePresence(status) {
    const before = state.presence;
    try {
      const reply = await request({ type: 'presence', status });
      setPresence(reply.status || status);
    } catch (e) {
      setPresence(before);
      toast(`Could not change your status: ${e.message}`, 'error');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Notifications: a short WebAudio chime and a flashing tab title.

  let audioCtx = null;
  function audio() {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    if (!audioCtx) {
      try { audioCtx = new AC(); } catch (_) { return null; }
    }
    if (audioCtx.state === 'suspended') audioCtx.resume().catch(() => {});
    return audioCtx;
  }
  // Browsers only start audio after a user gesture; warm the context on the first one.
  for (const ev of ['pointerdown', 'keydown']) {
    window.addEventListener(ev, () => { if (state.soundOn && !audioCtx) audio(); }, { passive: true });
  }

  function chime(kind) {
    if (!state.soundOn) return;
    const ctx = audio();
    if (!ctx) return;
    const t0 = ctx.currentTime + 0.02;
    const notes = kind === 'message' ? [[660, 0]] : [[784, 0], [1175, 0.16]];
    for (const [freq, at] of notes) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t0 + at);
      gain.gain.exponentialRampToValueAtTime(kind === 'message' ? 0.12 : 0.22, t0 + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 0.4);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + 0.45);
    }
  }

  const BASE_TITLE = 'Agent console — Beckon';
  let flashTimer = null;
  let flashOn = false;

  function attentionTitle() {
    const offers = state.offers.size;
    if (offers) return `(${offers}) New chat — Beckon`;
    let unread = 0;
    for (const rec of state.convs.values()) unread += rec.unread;
    if (unread && (document.hidden || !document.hasFocus())) return `(${unread}) New message — Beckon`;
    return null;
  }

  function updateTitle() {
    const t = attentionTitle();
    if (!t) stopFlash();
    if (flashTimer) return; // the flasher picks up the new text on its next tick
    document.title = t || BASE_TITLE;
  }

  function startFlash() {
    if (flashTimer) return;
    flashOn = true;
    document.title = attentionTitle() || BASE_TITLE;
    flashTimer = setInterval(() => {
      const t = attentionTitle();
      if (!t) { stopFlash(); return; }
      flashOn = !flashOn;
      document.title = flashOn ? t : BASE_TITLE;
    }, 1000);
  }

  function stopFlash() {
    if (!flashTimer) return;
    clearInterval(flashTimer);
    flashTimer = null;
    document.title = attentionTitle() || BASE_TITLE;
  }

  // Desktop notifications (the browser's own): asked for once, from a button — browsers only ask
  // after a click, and remember the answer — and shown only while the console is in the
  // background. A click brings the console to the front, on the chat concerned.
  const canNotify = 'Notification' in window;
  function renderNotify() {
    $('notify-enable').hidden = !canNotify || Notification.permission !== 'default';
  }
  $('notify-enable').addEventListener('click', async () => {
    try { await Notification.requestPermission(); } catch (_) { /* an old browser: no promise */ }
    renderNotify();
    toast(Notification.permission === 'granted' ? 'Desktop notifications are on.'
      : 'Desktop notifications are off. Your browser’s site settings can turn them on.');
  });
  renderNotify();
  function desktopNotify(title, body, tag, onClick) {
    if (!canNotify || Notification.permission !== 'granted' || (!document.hidden && document.hasFocus())) return;
    try {
      const n = new Notification(title, { body, tag });
      n.onclick = () => { window.focus(); n.close(); if (onClick) onClick(); };
    } catch (_) { /* some browsers allow notifications only from a service worker */ }
  }

  function notifyOffer(c) {
    chime('offer');
    if (c) {
      // What the visitor said they want (not the name, already the title, nor tick boxes).
      const said = displayableContext(c).filter(([, v]) => v !== 'true' && v !== 'false' && v !== visitorLabel(c));
      desktopNotify(`New chat: ${visitorLabel(c)}`, said.slice(0, 2).map(([k, v]) => `${k}: ${v}`).join(' · ') || 'A visitor is waiting for you.',
        `beckon-offer-${c.id}`, () => { document.body.dataset.view = 'list'; });
    }
    if (document.hidden || !document.hasFocus()) startFlash();
    else updateTitle();
    if (c) announce(`New chat offer from ${visitorLabel(c)}.`);
    renderOffers();
  }

  function onAttention() {
    stopFlash();
    const rec = state.selected !== null ? state.convs.get(state.selected) : null;
    if (rec && !document.hidden && rec.unread) { rec.unread = 0; renderConvList(); }
    updateTitle();
  }
  window.addEventListener('focus', onAttention);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) onAttention(); });

  // ---------------------------------------------------------------------------------------------
  // Rendering: header, sidebar

  function setConnState(s) {
    const el = $('conn');
    el.dataset.state = s;
    $('conn-text').textContent = s === 'online' ? 'Connected' : s === 'connecting' ? 'Connecting…' : 'Reconnecting…';
    // Presence is chosen over the socket, so it can only change while connected.
    control('presence-select').disabled = s !== 'online';
  }

  function setPresence(status) {
    if (!['available', 'busy', 'away', 'offline'].includes(status)) return;
    state.presence = status;
    const sel = control('presence-select');
    sel.value = status;
    /** @type {HTMLElement} */ (sel.closest('.presence')).dataset.status = status;
    renderOffers();
  }

  function renderAll() {
    renderOffers();
    renderWaiting();
    renderConvList();
    for (const rec of state.convs.values()) renderRecord(rec);
    renderStage();
    updateTitle();
  }

  // Offer cards are kept by id (not rebuilt), so a new offer does not steal focus from an Accept
  // button or replay the entrance animation of the others.
  const offerEls = new Map(); // conversation id -> {li, accept, decline}

  function renderOffers() {
    const list = $('offers-list');
    const offers = Array.from(state.offers.values()).sort((a, b) => a.created_at - b.created_at);
    for (const [id, els] of offerEls) {
      if (!state.offers.has(id)) { els.li.remove(); offerEls.delete(id); }
    }
    for (const c of offers) {
      let els = offerEls.get(c.id);
      if (!els) {
        els = buildOfferCard(c);
        offerEls.set(c.id, els);
        list.append(els.li);
      }
      if (!els.busy) {
        els.accept.disabled = !conn.ready;
        els.decline.disabled = !conn.ready;
      }
    }
    const n = offers.length;
    $('offers-count').hidden = n === 0;
    $('offers-count').textContent = String(n);
    $('offers-empty').hidden = n !== 0;
    $('offers-empty').textContent = '';
    if (!n) {
      $('offers-empty').append(state.presence === 'available'
        ? 'No incoming chats right now.'
        : 'No incoming chats. Set your status to Available to receive them.');
    }
    const jump = $('offers-jump');
    jump.hidden = n === 0;
    jump.textContent = `${n} new`;
    jump.setAttribute('aria-label', n === 1 ? '1 incoming chat' : `${n} incoming chats`);
  }

  // The waiting list: chats waiting in the queues this agent serves and not offered to them
  // (those are incoming offers above), oldest first, each with a Take button.
  function renderWaiting() {
    const list = $('waiting-list');
    const me = state.agent && state.agent.id;
    const active = focusedElement();
    const focusedId = active && active.dataset ? active.dataset.takeId : undefined;
    const items = Array.from(state.waiting.values())
      .filter((c) => c.offered_agent_id !== me && !state.offers.has(c.id))
      .sort((a, b) => a.created_at - b.created_at);
    clear(list);
    for (const c of items) {
      const headingId = `waiting-${c.id}-title`;
      const take = h('button', { type: 'button', class: 'btn btn--secondary btn--small', 'aria-describedby': headingId, 'data-take-id': c.id }, 'Take');
      take.disabled = !conn.ready;
      take.addEventListener('click', () => takeWaiting(c.id, take));
      // One telling answer (not the name, already the title, nor a consent tick box).
      const hint = displayableContext(c).find(([, v]) => v !== 'true' && v !== 'false' && v !== visitorLabel(c));
      list.append(h('li', { class: 'waiting-item', 'data-conversation-id': c.id },
        h('div', { class: 'offer-head' },
          h('h3', { id: headingId, class: 'offer-title' }, visitorLabel(c)),
          c.state === 'transferred' ? h('span', { class: 'tag' }, 'Transferred') : null,
          c.reply_email ? h('span', { class: 'tag tag--message' }, 'Message') : null,
          h('span', { class: 'offer-wait', 'data-since': c.created_at }, `waiting ${fmtWaiting(c.created_at)}`)),
        h('p', { class: 'waiting-sub' },
          c.reply_email ? `Left a message · answer ${state.mail ? 'by email to' : 'for'} ${c.reply_email}`
            : c.offered_agent_id ? 'Offered to a colleague' : 'Not offered to anyone',
          hint ? ` · ${hint[0]}: ${hint[1]}` : ''),
        take));
      if (focusedId === String(c.id)) take.focus();
    }
    $('waiting-count').hidden = items.length === 0;
    $('waiting-count').textContent = String(items.length);
    $('waiting-empty').hidden = items.length !== 0;
  }

  function buildOfferCard(c) {
    const ctx = displayableContext(c);
    const headingId = `offer-${c.id}-title`;
    const els = { busy: false };
    els.accept = h('button', { type: 'button', class: 'btn btn--primary', 'aria-describedby': headingId }, 'Accept');
    els.decline = h('button', { type: 'button', class: 'btn btn--secondary', 'aria-describedby': headingId }, 'Decline');
    els.accept.addEventListener('click', () => { els.busy = true; els.decline.disabled = true; acceptOffer(c.id, els.accept).finally(() => { els.busy = false; }); });
    els.decline.addEventListener('click', () => { els.busy = true; els.accept.disabled = true; declineOffer(c.id, els.decline).finally(() => { els.busy = false; }); });
    els.li = h('li', { class: 'offer-card', 'data-conversation-id': c.id, 'aria-labelledby': headingId },
      h('div', { class: 'offer-head' },
        h('h3', { id: headingId, class: 'offer-title' }, visitorLabel(c)),
        c.proactive ? h('span', { class: 'tag tag--proactive' }, 'Proactive') : null,
        h('span', { class: 'offer-wait', 'data-since': c.created_at }, `waiting ${fmtWaiting(c.created_at)}`)),
      c.offer_expires_at ? countdown(h('p', { class: 'offer-countdown', 'data-until': c.offer_expires_at })) : null,
      els.details = h('div', { class: 'offer-details' },
        ctx.length
          ? h('dl', { class: 'offer-context' }, ctx.slice(0, 3).map(([k, v]) => h('div', { class: 'kv' }, h('dt', null, k), h('dd', { title: v }, v))))
          : h('p', { class: 'offer-nocontext' }, 'No context shared.'),
        ctx.length > 3 ? h('p', { class: 'offer-more' }, `+${ctx.length - 3} more after accepting`) : null),
      h('div', { class: 'offer-actions' }, els.accept, els.decline));
    enrichOfferCard(c, els);
    return els;
  }

  // What decides whether to accept, read before accepting: who invited them and with what
  // words, the page they are on, their first message, and the survey's answers in its order.
  async function enrichOfferCard(c, els) {
    let panel;
    try {
      panel = await api('GET', `/v1/agent/conversations/${c.id}/visitor`);
    } catch (_) {
      return; // the card keeps the context it shows (the offer may be gone already)
    }
    const lines = [];
    const inv = panel.invite;
    if (inv) {
      const by = inv.rule_name ? `rule “${inv.rule_name}”` : inv.agent_name ? inv.agent_name : inv.source === 'sdk' ? 'the page' : 'a rule';
      lines.push(h('p', { class: 'offer-invite' }, `Invited by ${by}: “${inv.message}”`));
    }
    const page = panel.current_page;
    if (page) {
      lines.push(h('p', { class: 'offer-page', title: page.url }, 'On ', h('span', { class: 'offer-page-title' }, page.title || page.url)));
    }
    if (panel.first_message) {
      const text = panel.first_message.length > 200 ? `${panel.first_message.slice(0, 200)}…` : panel.first_message;
      lines.push(h('blockquote', { class: 'offer-first' }, text));
    }
    // The survey's answers first, in its order; then what else the page shared (its displayable
    // context variables), as the card showed before it knew more.
    const answers = panel.prechat || [];
    const asked = new Set(answers.map((a) => a.question));
    const shared = displayableContext(c).filter(([k]) => !asked.has(k)).map(([question, answer]) => ({ question, answer }));
    const rows = answers.concat(shared);
    if (rows.length) {
      lines.push(h('dl', { class: `offer-context${answers.length ? ' offer-answers' : ''}` },
        rows.slice(0, 6).map((a) => h('div', { class: 'kv' }, h('dt', null, a.question), h('dd', { title: a.answer }, a.answer)))));
      if (rows.length > 6) lines.push(h('p', { class: 'offer-more' }, `+${rows.length - 6} more after accepting`));
    }
    if (!lines.length) return;
    clear(els.details);
    els.details.append(...lines);
  }

  // "Accept within 23 s": the offer goes to the next agent when it runs out (server time).
  function countdown(el) {
    const left = Math.ceil((Number(el.dataset.until) - (Date.now() + state.skew)) / 1000);
    const text = left > 0 ? `Accept within ${left} s` : 'Passing to the next agent…';
    if (el.textContent !== text) el.textContent = text;
    el.classList.toggle('offer-countdown--soon', left <= 10);
    return el;
  }
  setInterval(() => { for (const el of document.querySelectorAll('.offer-countdown[data-until]')) countdown(el); }, 1000);

  function lastPreview(rec) {
    let last = null;
    for (const m of rec.messages.values()) if (!last || m.seq > last.seq) last = m;
    if (!last) return '';
    const who = last.sender.kind === 'agent' ? 'You: ' : '';
    return who + last.text;
  }

  function renderConvList() {
    const list = $('conv-list');
    const active = focusedElement();
    const focused = active && active.classList.contains('conv-item') ? active.dataset.conversationId : null;
    clear(list);
    const recs = Array.from(state.convs.values()).sort((a, b) => a.conv.created_at - b.conv.created_at);
    let open = 0;
    for (const rec of recs) {
      if (isOpen(rec)) open += 1;
      const c = rec.conv;
      const status = !isOpen(rec) ? (rec.transferredTo ? 'Transferred' : 'Ended') : rec.visitorTyping ? 'typing…' : '';
      const btn = h('button', {
        type: 'button',
        class: `conv-item${isOpen(rec) ? '' : ' conv-item--ended'}`,
        'data-conversation-id': rec.id,
        'aria-current': state.selected === rec.id ? 'true' : null,
      },
      h('span', { class: 'conv-line' },
        h('span', { class: 'conv-name' }, visitorLabel(c)),
        c.proactive ? h('span', { class: 'tag tag--proactive tag--small' }, 'Proactive') : null,
        rec.unread ? h('span', { class: 'badge', 'aria-label': `${rec.unread} unread` }, String(rec.unread)) : null),
      h('span', { class: 'conv-line conv-line--sub' },
        status ? h('span', { class: `conv-status${isOpen(rec) ? ' conv-status--typing' : ''}` }, status) : null,
        h('span', { class: 'conv-preview' }, lastPreview(rec) || 'No messages yet')));
      btn.addEventListener('click', () => select(rec.id, { focus: true }));
      list.append(h('li', null, btn));
      if (focused === String(rec.id)) btn.focus();
    }
    $('convs-empty').hidden = recs.length !== 0;
    const cap = state.agent && state.agent.capacity;
    $('convs-count').textContent = cap ? `${open}/${cap}` : recs.length ? String(open) : '';
  }

  function isOpen(rec) { return OPEN_STATES.includes(rec.conv.state) && !rec.gone; }

  // ---------------------------------------------------------------------------------------------
  // Rendering: one pane per conversation (kept while it is listed, so drafts and scroll survive)

  function select(id, opts) {
    if (!state.convs.has(id)) return;
    state.selected = id;
    sessionStorage.setItem('beckon.console.selected', String(id));
    const rec = state.convs.get(id);
    rec.unread = 0;
    document.body.dataset.view = 'conv';
    renderRecord(rec);
    renderStage();
    renderConvList();
    updateTitle();
    if (opts && opts.focus) {
      const target = isOpen(rec) ? rec.view.input : rec.view.log;
      target.focus();
    }
    scrollToEnd(rec);
  }

  function closeRecord(rec) {
    if (rec.view) rec.view.root.remove();
    state.convs.delete(rec.id);
    if (state.selected === rec.id) {
      state.selected = null;
      sessionStorage.removeItem('beckon.console.selected');
      document.body.dataset.view = 'list';
    }
    renderConvList();
    renderStage();
    $('conv-list').focus();
  }

  function renderStage() {
    for (const rec of state.convs.values()) {
      if (rec.view) rec.view.root.hidden = rec.id !== state.selected;
    }
    $('stage-empty').hidden = state.selected !== null && state.convs.has(state.selected);
    if (state.selected === null) document.body.dataset.view = 'list';
  }

  function buildView(rec) {
    const id = rec.id;
    const titleId = `conv-${id}-title`;
    const inputId = `conv-${id}-input`;
    const panelId = `conv-${id}-panel`;
    const back = h('button', { type: 'button', class: 'btn btn--ghost btn--back', 'aria-label': 'Back to the list of chats' }, '‹ Chats');
    const title = h('h2', { id: titleId, class: 'chat-title' });
    const meta = h('p', { class: 'chat-meta' });
    const infoToggle = h('button', { type: 'button', class: 'btn btn--secondary btn--info', 'aria-controls': panelId, 'aria-expanded': 'false', 'aria-label': 'Visitor info' },
      h('span', { class: 'label-wide' }, 'Visitor info'), h('span', { class: 'label-narrow' }, 'Info'));
    const endBtn = h('button', { type: 'button', class: 'btn btn--danger-outline btn--end', 'aria-label': 'End chat' }, 'End', h('span', { class: 'label-wide' }, 'chat'));
    const closeBtn = h('button', { type: 'button', class: 'btn btn--secondary btn--close', hidden: true }, 'Close');
    const transferBtn = h('button', { type: 'button', class: 'btn btn--secondary btn--transfer', 'aria-haspopup': 'dialog', 'aria-label': 'Transfer' },
      h('span', { class: 'label-wide' }, 'Transfer'), h('span', { class: 'label-narrow', 'aria-hidden': 'true' }, '⇄'));
    const banner = h('div', { class: 'chat-banner', role: 'status', hidden: true });
    const log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-labelledby': titleId, tabindex: '0' });
    const typing = h('div', { class: 'typing', 'aria-live': 'polite' });
    const hintId = `conv-${id}-hint`;
    const input = h('textarea', { id: inputId, class: 'composer-input', rows: 1, placeholder: 'Type a reply…', maxlength: '10000', 'aria-describedby': hintId });
    const sendBtn = h('button', { type: 'submit', class: 'btn btn--primary' }, 'Send');
    const composerLabel = h('label', { for: inputId, class: 'sr-only' });
    const emoji = window.BeckonConsole.emoji ? window.BeckonConsole.emoji.attach(input) : null;
    const files = window.BeckonConsole.files ? window.BeckonConsole.files.attach(rec, input) : null;
    const form = h('form', { class: 'composer' },
      h('div', { class: 'composer-row' }, composerLabel, input, files, emoji, sendBtn),
      h('p', { id: hintId, class: 'composer-hint' }, 'Enter to send · Shift+Enter for a new line · / for canned replies'));
    const panel = h('aside', { id: panelId, class: 'visitor-panel', 'aria-label': 'Visitor details' });

    const root = h('section', { class: 'pane', 'data-conversation-id': id, 'aria-labelledby': titleId, hidden: true },
      h('div', { class: 'chat' },
        h('header', { class: 'chat-head' },
          back,
          h('div', { class: 'chat-heading' }, title, meta),
          h('div', { class: 'chat-actions' }, infoToggle, transferBtn, endBtn, closeBtn)),
        banner, log, typing, form),
      panel);

    back.addEventListener('click', () => { document.body.dataset.view = 'list'; $('conv-list').focus(); });
    infoToggle.addEventListener('click', () => {
      state.infoOpen = !state.infoOpen;
      for (const r of state.convs.values()) if (r.view) applyInfoState(r);
    });
    endBtn.addEventListener('click', () => endConversation(rec, endBtn));
    transferBtn.addEventListener('click', () => openTransfer(rec, transferBtn));
    closeBtn.addEventListener('click', () => closeRecord(rec));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      submitComposer(rec);
    });
    // Canned replies ("/" in the composer, replies.js): its keys come before Enter-to-send.
    if (window.BeckonConsole.canned) form.prepend(window.BeckonConsole.canned.attach(input));
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        submitComposer(rec);
      }
    });
    input.addEventListener('input', () => ownTyping(rec, input.value.trim() !== ''));
    input.addEventListener('blur', () => stopOwnTyping(rec, true));

    rec.view = { root, title, meta, infoToggle, endBtn, transferBtn, closeBtn, banner, log, typing, input, sendBtn, form, composerLabel, panel, pendingEls: new Map() };
    $('stage').append(root);
    applyInfoState(rec);
    for (const m of Array.from(rec.messages.values()).sort((a, b) => a.seq - b.seq)) insertMessageView(rec, m);
    for (const p of rec.pending.values()) renderPendingView(rec, p);
  }

  // The visitor panel sits beside the chat on wide screens and replaces it on narrow ones, so
  // crossing the breakpoint resets it to that width's default.
  const wideQuery = window.matchMedia('(min-width: 1100px)');
  wideQuery.addEventListener('change', () => {
    state.infoOpen = wideQuery.matches;
    for (const r of state.convs.values()) if (r.view) applyInfoState(r);
  });

  function applyInfoState(rec) {
    rec.view.root.classList.toggle('pane--info', state.infoOpen);
    rec.view.infoToggle.setAttribute('aria-expanded', String(state.infoOpen));
  }

  function submitComposer(rec) {
    const input = rec.view.input;
    const text = input.value;
    if (!text.trim() || !isOpen(rec)) return;
    if (text.length > 10000) { toast('A message can be at most 10,000 characters.', 'error'); return; }
    input.value = '';
    sendMessage(rec, text);
    input.focus();
  }

  function renderRecord(rec) {
    if (!rec.view) buildView(rec);
    const v = rec.view;
    const c = rec.conv;
    const label = visitorLabel(c);
    v.title.textContent = label;
    v.composerLabel.textContent = `Message to ${label}`;
    const open = isOpen(rec);
    const stateText = { queued: 'Waiting', active: 'Active', transferred: 'Transferred', ended: 'Ended', abandoned: 'Abandoned' }[c.state] || c.state;
    v.meta.textContent = '';
    v.meta.append(
      h('span', { class: `state state--${open ? 'open' : 'closed'}` }, stateText),
      c.proactive ? h('span', { class: 'tag tag--proactive tag--small' }, 'Proactive') : '',
      h('span', { class: 'chat-meta-time' }, !open
        ? `at ${fmtTime(c.ended_at || Date.now())}`
        : c.accepted_at ? `since ${fmtTime(c.accepted_at)}` : `started ${fmtTime(c.created_at)}`));
    v.endBtn.hidden = !open;
    v.endBtn.disabled = !conn.ready;
    v.transferBtn.hidden = !open || c.state !== 'active';
    v.transferBtn.disabled = !conn.ready;
    v.closeBtn.hidden = open;
    v.input.disabled = !open;
    v.sendBtn.disabled = !open;
    v.form.hidden = !open;
    if (!open) {
      v.banner.hidden = false;
      v.banner.textContent = endedText(rec);
    } else if (!conn.ready) {
      v.banner.hidden = false;
      v.banner.textContent = 'Reconnecting… Messages you send now are delivered when the connection is back.';
    } else if (c.reply_email) {
      // A left message: the visitor may be long gone.
      v.banner.hidden = false;
      v.banner.textContent = state.mail
        ? `Left as a message: your replies are emailed to ${c.reply_email}.`
        : `Left as a message (${c.reply_email}): no email is configured, so the visitor reads your replies only if they come back to the site.`;
    } else {
      v.banner.hidden = true;
      v.banner.textContent = '';
    }
    v.banner.classList.toggle('chat-banner--warn', open && !conn.ready);
    renderTyping(rec);
    renderPanel(rec);
  }

  function endedText(rec) {
    const r = rec.conv.rating;
    const rated = r ? ` The visitor rated it ${r} out of 5${rec.conv.rating_comment ? `: “${rec.conv.rating_comment}”` : '.'}` : '';
    return endedWhy(rec) + rated;
  }

  function endedWhy(rec) {
    if (rec.transferredTo) return `You transferred this chat to ${rec.transferredTo}.`;
    let tags = [];
    for (const m of rec.messages.values()) {
      if (Array.isArray(m.tags) && m.tags.includes('conversationended')) tags = m.tags;
    }
    if (tags.includes('visitorended')) return 'The visitor ended the chat.';
    if (tags.includes('agentended')) {
      const mine = rec.conv.agent && state.agent && rec.conv.agent.id === state.agent.id;
      return mine ? 'You ended the chat.' : 'The agent ended the chat.';
    }
    if (rec.conv.state === 'abandoned') return 'The visitor left before the chat started.';
    if (OPEN_STATES.includes(rec.conv.state) && rec.conv.agent && state.agent && rec.conv.agent.id !== state.agent.id) {
      return 'This conversation is now handled by someone else.';
    }
    return 'This chat has ended.';
  }

  function renderTyping(rec) {
    if (!rec.view) return;
    const t = rec.view.typing;
    const show = rec.visitorTyping && isOpen(rec);
    t.textContent = show ? `${visitorLabel(rec.conv)} is typing…` : '';
    t.classList.toggle('typing--on', show);
  }

  function nearBottom(log) {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollToEnd(rec) {
    if (rec.view) rec.view.log.scrollTop = rec.view.log.scrollHeight;
  }

  function messageEl(m) {
    const kind = m.sender && ['visitor', 'agent', 'system'].includes(m.sender.kind) ? m.sender.kind : 'system';
    if (Array.isArray(m.tags) && m.tags.includes('internal')) {
      const by = m.sender && m.sender.name ? m.sender.name : 'An agent';
      const label = m.tags.includes('transfernote') ? `Transfer note from ${by}` : `Internal note from ${by}`;
      return h('div', { class: 'msg msg--note', 'data-seq': m.seq },
        h('p', { class: 'note-head' }, h('span', { class: 'note-label' }, label),
          h('span', { class: 'note-scope' }, ' · only agents see this'), h('span', { class: 'msg-time' }, fmtTime(m.created_at))),
        h('p', { class: 'note-text' }, m.text));
    }
    if (kind === 'system') {
      return h('div', { class: 'msg msg--system', 'data-seq': m.seq },
        h('p', { class: 'msg-system-text' }, m.text, h('span', { class: 'msg-time' }, fmtTime(m.created_at))));
    }
    const mine = kind === 'agent' && state.agent && m.sender.agent_id === state.agent.id;
    const who = kind === 'visitor' ? 'Visitor' : mine ? 'You' : (m.sender.name || 'Agent');
    const content = m.attachment && window.BeckonConsole.files ? window.BeckonConsole.files.body(m) : linkify(m.text);
    return h('div', { class: `msg msg--${kind}`, 'data-seq': m.seq },
      h('p', { class: 'bubble' }, h('span', { class: 'sr-only' }, `${who}: `), content),
      h('p', { class: 'msg-meta', 'aria-hidden': 'true' }, `${who} · ${fmtTime(m.created_at)}`));
  }

  function insertMessageView(rec, m) {
    if (!rec.view) return;
    const log = rec.view.log;
    const stick = nearBottom(log);
    const existing = log.querySelector(`.msg[data-seq="${m.seq}"]`);
    const el = messageEl(m);
    if (existing) { existing.replaceWith(el); return; }
    // Keep seq order even when a sync fills a gap after later messages arrived.
    let before = null;
    for (const child of log.children) {
      const s = Number(child.dataset.seq);
      if (child.dataset.pending === 'true' || (s && s > m.seq)) { before = child; break; }
    }
    log.insertBefore(el, before);
    if (stick || (m.sender && m.sender.kind === 'agent')) scrollToEnd(rec);
    if (Array.isArray(m.tags) && m.tags.includes('conversationended')) renderRecord(rec);
  }

  function renderPendingView(rec, p) {
    if (!rec.view) return;
    const v = rec.view;
    let el = v.pendingEls.get(p.client_msg_id);
    const statusText = p.failed ? `Not sent: ${p.error || 'refused'}` : 'Sending…';
    const bubble = h('p', { class: 'bubble' }, h('span', { class: 'sr-only' }, 'You: '), p.text);
    const meta = h('p', { class: 'msg-meta' }, `You · ${statusText}`);
    const children = [bubble, meta];
    if (p.failed) {
      const discard = h('button', { type: 'button', class: 'btn btn--link' }, 'Discard');
      discard.addEventListener('click', () => {
        rec.pending.delete(p.client_msg_id);
        removePendingView(rec, p.client_msg_id);
        saveOutbox();
      });
      meta.append(' ', discard);
    }
    const fresh = h('div', {
      class: `msg msg--agent msg--pending${p.failed ? ' msg--failed' : ''}`,
      'data-pending': 'true',
      'data-client-msg-id': p.client_msg_id,
    }, children);
    if (el) el.replaceWith(fresh);
    else v.log.append(fresh);
    v.pendingEls.set(p.client_msg_id, fresh);
    scrollToEnd(rec);
  }

  function removePendingView(rec, clientMsgId) {
    if (!rec.view) return;
    const el = rec.view.pendingEls.get(clientMsgId);
    if (el) el.remove();
    rec.view.pendingEls.delete(clientMsgId);
  }

  // The visitor panel: the conversation's own facts at once, then the visit (pages, browser,
  // country, earlier chats) from GET …/visitor, refreshed when the live visitors feed says the
  // visitor moved. Every value is inserted as text.
  const DETAILS_REFRESH_MS = 3000;

  function loadDetails(rec) {
    if (rec.detailsLoading) { rec.detailsStale = true; return; }
    rec.detailsLoading = true;
    rec.detailsStale = false;
    api('GET', `/v1/agent/conversations/${rec.id}/visitor`)
      .then((d) => { rec.details = d; rec.detailsError = null; rec.detailsAt = Date.now(); })
      .catch((e) => { rec.detailsError = e.message; })
      .finally(() => {
        rec.detailsLoading = false;
        if (rec.view) renderPanel(rec);
        if (rec.detailsStale) setTimeout(() => loadDetails(rec), DETAILS_REFRESH_MS);
      });
  }

  // A live `visitor` frame (page change, new tab…): refresh the panels showing that visitor.
  function visitorChanged(visitorId) {
    for (const rec of state.convs.values()) {
      if (rec.conv.visitor_id === visitorId && rec.details) loadDetails(rec);
    }
  }

  function fmtDuration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  let regionNames = null;
  function countryName(code) {
    if (!code) return '';
    try {
      regionNames = regionNames || new Intl.DisplayNames(undefined, { type: 'region' });
      const name = regionNames.of(String(code).toUpperCase());
      return name && name !== code ? `${name} (${code})` : String(code);
    } catch (_) { return String(code); }
  }

  function inviteText(invite) {
    if (!invite) return null;
    const src = String(invite.source || '');
    if (src === 'sdk') return 'the page’s script (startProactiveChat)';
    if (src.startsWith('rule:')) return invite.rule_name ? `trigger rule “${invite.rule_name}”` : `trigger rule #${src.slice(5)}`;
    if (src.startsWith('agent:')) return invite.agent_name ? `${invite.agent_name} (agent invite)` : `agent #${src.slice(6)}`;
    return src;
  }

  function pageLine(p) {
    const title = (p.title || '').trim();
    return h('span', { class: 'page' },
      h('span', { class: 'page-title' }, title || p.url),
      title ? h('span', { class: 'page-url', title: p.url }, p.url) : null);
  }

  function renderPanel(rec) {
    const panel = rec.view.panel;
    const c = rec.conv;
    const d = rec.details;
    if (!d && !rec.detailsLoading && !rec.detailsError) loadDetails(rec);
    const scroll = panel.scrollTop;
    clear(panel);
    const ctx = displayableContext(c);
    const stateText = { queued: 'Waiting in queue', active: 'Active', transferred: 'Transferred', ended: 'Ended', abandoned: 'Abandoned' }[c.state] || c.state;
    const row = (k, v) => h('div', { class: 'kv' }, h('dt', null, k), h('dd', null, v));

    const backToChat = h('button', { type: 'button', class: 'btn btn--secondary panel-back' }, '‹ Back to chat');
    backToChat.addEventListener('click', () => {
      state.infoOpen = false;
      for (const r of state.convs.values()) if (r.view) applyInfoState(r);
      rec.view.infoToggle.focus();
    });
    const invitedBy = d && d.invite ? inviteText(d.invite) : null;
    const authAs = c.authenticated_as || (d && d.authenticated_as);
    // At a glance: how the chat started, who the visitor is, whether they came back.
    const visitNo = d && d.visit ? d.visit.number : 0;
    const glance = h('ul', { class: 'glance', 'aria-label': 'At a glance' },
      h('li', { class: `tag${c.proactive ? ' tag--proactive' : ' tag--plain'}` }, c.proactive ? (invitedBy ? `Invited by ${invitedBy}` : 'Proactive') : 'Started by the visitor'),
      authAs ? h('li', { class: 'tag tag--auth' }, `Signed in as ${authAs}`) : null,
      visitNo > 1 ? h('li', { class: 'tag tag--plain' }, `Returning · ${ordinal(visitNo)} visit`) : null);
    panel.append(
      backToChat,
      glance,
      h('section', { class: 'panel-section', 'data-section': 'context' },
        h('h3', { class: 'panel-title' }, 'Context and pre-chat answers'),
        ctx.length
          ? h('dl', { class: 'facts facts--context' }, ctx.map(([k, v]) => row(k, v)))
          : h('p', { class: 'panel-note' }, 'The visitor\u2019s page shared no displayable context.')),
      visitSection(rec),
      h('section', { class: 'panel-section' },
        h('h3', { class: 'panel-title' }, 'Conversation'),
        h('dl', { class: 'facts' },
          row('Visitor', `#${c.visitor_id}`),
          authAs ? row('Signed in as', authAs) : row('Signed in', 'No (anonymous)'),
          row('Conversation', `#${c.id}`),
          row('State', stateText),
          row('Proactive', c.proactive ? 'Yes — accepted an invitation' : 'No — started by the visitor'),
          invitedBy ? row('Invited by', invitedBy) : null,
          d && d.invite && d.invite.message ? h('div', { class: 'kv kv--wide' }, h('dt', null, 'Invitation'), h('dd', null, h('q', { class: 'invite-quote' }, d.invite.message))) : null,
          row('Started', fmtDateTime(c.created_at)),
          row('Accepted', fmtDateTime(c.accepted_at)),
          c.ended_at ? row('Ended', fmtDateTime(c.ended_at)) : null)),
      earlierSection(rec));
    panel.scrollTop = scroll;
  }

  function visitSection(rec) {
    const d = rec.details;
    const section = h('section', { class: 'panel-section', 'data-section': 'visit' }, h('h3', { class: 'panel-title' }, 'Visit'));
    if (!d) {
      section.append(h('p', { class: 'panel-note' }, rec.detailsError ? `Could not load the visit: ${rec.detailsError}` : 'Loading the visit…'));
      return section;
    }
    const row = (k, v) => h('div', { class: 'kv' }, h('dt', null, k), h('dd', null, v));
    const v = d.visit;
    const summary = d.visitor || {};
    const device = v ? [v.browser, v.os, v.device].filter(Boolean).join(' · ') : '';
    const cur = d.current_page;
    section.append(h('dl', { class: 'facts' },
      cur ? row('Current page', pageLine(cur)) : row('Current page', 'Unknown'),
      v ? row('Time on site', h('span', { class: 'ticker', 'data-since': v.started_at, 'data-format': 'duration' }, fmtDuration(Date.now() - v.started_at))) : null,
      row('Visit', v ? `${ordinal(v.number)} visit` + (summary.visits > 1 ? ` (${summary.visits} in all)` : '') : '—'),
      row('Country', v && v.country ? (v.city ? `${v.city}, ${countryName(v.country)}` : countryName(v.country)) : 'Unknown'),
      row('Browser', device || 'Unknown'),
      v && v.language ? row('Language', v.language) : null));
    const pages = Array.isArray(d.pages) ? d.pages.slice().reverse() : [];
    if (pages.length) {
      section.append(
        h('h4', { class: 'panel-subtitle' }, `Pages seen this visit (${pages.length})`),
        h('ol', { class: 'pages', reversed: true },
          pages.map((p) => h('li', null, pageLine(p), h('span', { class: 'page-time' }, fmtTime(p.at))))));
    }
    return section;
  }

  function ordinal(n) {
    const s = ['th', 'st', 'nd', 'rd'];
    const v = n % 100;
    return `${n}${s[(v - 20) % 10] || s[v] || s[0]}`;
  }

  function earlierSection(rec) {
    const d = rec.details;
    const section = h('section', { class: 'panel-section', 'data-section': 'earlier' }, h('h3', { class: 'panel-title' }, 'Earlier conversations'));
    const list = d && Array.isArray(d.earlier_conversations) ? d.earlier_conversations : [];
    if (!d) return section;
    if (!list.length) {
      section.append(h('p', { class: 'panel-note' }, 'None — this is the first conversation.'));
      return section;
    }
    const ul = h('ul', { class: 'earlier' });
    for (const e of list) {
      const btn = h('button', { type: 'button', class: 'earlier-item', 'data-conversation-id': e.id },
        h('span', { class: 'earlier-date' }, fmtDateTime(e.created_at)),
        h('span', { class: 'earlier-meta' }, `#${e.id} · ${e.state}${e.proactive ? ' · proactive' : ''}`));
      btn.addEventListener('click', () => {
        if (window.BeckonConsole.showTranscript) window.BeckonConsole.showTranscript(e.id);
      });
      ul.append(h('li', null, btn));
    }
    section.append(ul);
    return section;
  }

  // ---------------------------------------------------------------------------------------------
  // Transfer: to a queue or an online colleague, with a note only agents see.

  // A colleague's line in an open transfer dialog; kept up to date by `agent_presence` frames.
  function colleagueOption(option, presence) {
    option.disabled = presence === 'offline';
    option.textContent = `${option.dataset.name} — ${presence}`;
    return option;
  }

  function colleaguePresence(agentId, presence) {
    for (const o of document.querySelectorAll(`.dialog option[data-agent-id="${CSS.escape(String(agentId))}"]`)) {
      colleagueOption(o, presence);
    }
  }

  async function openTransfer(rec, opener) {
    let dir;
    try {
      dir = await api('GET', '/v1/agent/directory');
    } catch (e) {
      toast(`Could not load queues and colleagues: ${e.message}`, 'error');
      return;
    }
    const me = state.agent && state.agent.id;
    const selId = `transfer-${rec.id}-target`;
    const noteId = `transfer-${rec.id}-note`;
    const errId = `transfer-${rec.id}-error`;
    const select = h('select', { id: selId, required: true, 'aria-describedby': errId },
      h('option', { value: '' }, 'Choose a queue or a colleague…'),
      h('optgroup', { label: 'Queues' }, (dir.queues || []).map((q) => h('option', { value: `q:${q.id}` }, q.name))),
      h('optgroup', { label: 'Colleagues' }, (dir.agents || []).filter((a) => a.id !== me).map((a) =>
        colleagueOption(h('option', { value: `a:${a.id}`, 'data-agent-id': a.id, 'data-name': a.name }), a.presence))));
    const note = h('textarea', { id: noteId, rows: 3, maxlength: '4000', placeholder: 'What should your colleague know?' });
    const err = h('p', { id: errId, class: 'field-error', role: 'alert', hidden: true });
    const submit = h('button', { type: 'submit', class: 'btn btn--primary' }, 'Transfer');
    const cancel = h('button', { type: 'button', class: 'btn btn--secondary' }, 'Cancel');
    const titleId = `transfer-${rec.id}-title`;
    const form = h('form', { class: 'dialog-form', method: 'dialog', novalidate: true },
      h('h2', { id: titleId, class: 'dialog-title' }, `Transfer ${visitorLabel(rec.conv)}`),
      h('p', { class: 'dialog-lead' }, 'The visitor is told the chat is being transferred. Your note is shown to agents only.'),
      h('div', { class: 'field' }, h('label', { for: selId }, 'Transfer to'), select, err),
      h('div', { class: 'field' }, h('label', { for: noteId }, 'Note for your colleague (optional)'), note),
      h('div', { class: 'dialog-actions' }, cancel, submit));
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);
    document.body.append(dialog);
    const close = () => { dialog.close(); dialog.remove(); if (opener && opener.isConnected) opener.focus(); };
    cancel.addEventListener('click', close);
    dialog.addEventListener('cancel', (ev) => { ev.preventDefault(); close(); });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.hidden = true;
      select.removeAttribute('aria-invalid');
      const target = select.value;
      if (!target) {
        err.textContent = 'Choose where the chat should go.';
        err.hidden = false;
        select.setAttribute('aria-invalid', 'true');
        select.focus();
        return;
      }
      const frame = { type: 'transfer', conversation_id: rec.id };
      const id = Number(target.slice(2));
      if (target.startsWith('q:')) frame.queue_id = id; else frame.agent_id = id;
      if (note.value.trim()) frame.note = note.value;
      submit.disabled = true;
      submit.textContent = 'Transferring…';
      try {
        await request(frame);
        rec.transferredTo = select.selectedOptions[0].textContent.replace(/ — \w+$/, '');
        rec.conv = Object.assign({}, rec.conv, { state: 'transferred' });
        rec.gone = true;
        stopOwnTyping(rec, false);
        close();
        renderRecord(rec);
        renderConvList();
        toast(`Transferred to ${rec.transferredTo}.`);
      } catch (e) {
        err.textContent = e.message;
        err.hidden = false;
        select.setAttribute('aria-invalid', 'true');
        submit.disabled = false;
        submit.textContent = 'Transfer';
      }
    });
    dialog.showModal();
    select.focus();
  }

  // The agent's own password: the current one, the new one twice. Other sign-ins end.
  function openPasswordDialog(opener) {
    const field = (id, label, autocomplete) => {
      const input = h('input', { id, type: 'password', autocomplete, maxlength: '200', 'aria-describedby': `${id}-error` });
      const err = h('p', { id: `${id}-error`, class: 'field-error', role: 'alert', hidden: true });
      return { input, err, el: h('div', { class: 'field' }, h('label', { for: id }, label), input, err) };
    };
    const current = field('pw-current', 'Current password', 'current-password');
    const next = field('pw-new', 'New password (10–200 characters)', 'new-password');
    const again = field('pw-again', 'New password again', 'new-password');
    const submit = h('button', { type: 'submit', class: 'btn btn--primary' }, 'Change password');
    const cancel = h('button', { type: 'button', class: 'btn btn--secondary' }, 'Cancel');
    const form = h('form', { class: 'dialog-form', method: 'dialog', novalidate: true },
      h('h2', { id: 'pw-title', class: 'dialog-title' }, 'Change your password'),
      h('p', { class: 'dialog-lead' }, 'You stay signed in here; everywhere else you are signed out.'),
      current.el, next.el, again.el, h('div', { class: 'dialog-actions' }, cancel, submit));
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'pw-title' }, form);
    document.body.append(dialog);
    const close = () => { dialog.close(); dialog.remove(); if (opener && opener.isConnected) opener.focus(); };
    const fail = (f, text) => {
      for (const x of [current, next, again]) { x.err.hidden = true; x.input.removeAttribute('aria-invalid'); }
      f.err.textContent = text;
      f.err.hidden = false;
      f.input.setAttribute('aria-invalid', 'true');
      f.input.focus();
    };
    cancel.addEventListener('click', close);
    dialog.addEventListener('cancel', (ev) => { ev.preventDefault(); close(); });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!current.input.value) return fail(current, 'Enter your current password.');
      const chars = [...next.input.value].length;
      if (chars < 10 || chars > 200) return fail(next, 'A password must be 10–200 characters.');
      if (next.input.value !== again.input.value) return fail(again, 'The two new passwords differ.');
      submit.disabled = true;
      try {
        await api('POST', '/v1/agent/password', { current_password: current.input.value, new_password: next.input.value });
        close();
        toast('Password changed. Your other sign-ins have ended.');
      } catch (e) {
        submit.disabled = false;
        const m = /^(current_password|new_password): (.*)$/.exec(e.message);
        if (m) fail(m[1] === 'current_password' ? current : next, m[2].charAt(0).toUpperCase() + m[2].slice(1) + '.');
        else fail(current, e.message);
      }
    });
    dialog.showModal();
    current.input.focus();
  }
  $('change-password').addEventListener('click', (ev) => openPasswordDialog(ev.currentTarget));

  // ---------------------------------------------------------------------------------------------
  // Toasts and screen-reader announcements

  function toast(text, kind) {
    const box = $('toasts');
    const el = h('div', { class: `toast${kind === 'error' ? ' toast--error' : ''}` }, text);
    box.append(el);
    setTimeout(() => el.remove(), 6000);
    while (box.children.length > 3) box.firstChild.remove();
  }

  function announce(text) {
    const el = $('announcer');
    el.textContent = '';
    setTimeout(() => { el.textContent = text; }, 50);
  }

  // ---------------------------------------------------------------------------------------------
  // Screens: loading, sign-in, app

  function show(screen) {
    document.body.dataset.screen = screen;
    $('loading').hidden = screen !== 'loading';
    $('signin').hidden = screen !== 'signin';
    $('app').hidden = screen !== 'app';
  }

  function showSignIn(message) {
    show('signin');
    const err = $('signin-error');
    err.hidden = !message;
    err.textContent = message || '';
    const email = control('signin-email');
    (email.value ? $('signin-password') : email).focus();
  }

  function resetState() {
    disconnect();
    for (const rec of state.convs.values()) {
      if (rec.view) rec.view.root.remove();
      clearTimeout(rec.visitorTypingTimer);
      clearTimeout(rec.typingIdleTimer);
    }
    state.convs.clear();
    state.offers.clear();
    for (const els of offerEls.values()) els.li.remove();
    offerEls.clear();
    state.selected = null;
    state.agent = null;
    stopFlash();
    document.title = BASE_TITLE;
    for (const fn of hooks.stop) fn();
  }

  function signedOut(message) {
    resetState();
    showSignIn(message);
  }

  function startApp(agent) {
    state.agent = agent;
    $('me-name').textContent = agent.name || agent.email || '';
    $('me-name').title = agent.email || '';
    show('app');
    renderAll();
    for (const fn of hooks.start) fn(agent);
    conn.attempt = 0;
    connect();
  }

  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const email = control('signin-email').value.trim();
    const password = control('signin-password').value;
    const err = $('signin-error');
    if (!email || !password) {
      err.hidden = false;
      err.textContent = 'Enter your email and password.';
      return;
    }
    const btn = /** @type {HTMLButtonElement} */ ($('signin-submit'));
    btn.disabled = true;
    btn.textContent = 'Signing in…';
    try {
      const res = await api('POST', '/v1/agent/login', { email, password });
      err.hidden = true;
      control('signin-password').value = '';
      startApp(res.agent);
    } catch (e) {
      err.hidden = false;
      err.textContent = e.message;
      control('signin-password').select();
    } finally {
      btn.disabled = false;
      btn.textContent = 'Sign in';
    }
  });

  $('signout').addEventListener('click', async () => {
    const agentKey = outboxKey();
    resetState();
    try { localStorage.removeItem(agentKey); } catch (_) { /* ignore */ }
    sessionStorage.removeItem('beckon.console.selected');
    try { await api('POST', '/v1/agent/logout'); } catch (_) { /* signed out locally anyway */ }
    showSignIn();
  });

  const presenceSelect = control('presence-select');
  presenceSelect.addEventListener('change', () => choosePresence(presenceSelect.value));

  function renderSound() {
    const b = $('sound-toggle');
    b.setAttribute('aria-pressed', String(state.soundOn));
    b.title = state.soundOn ? 'Sound for new chats: on' : 'Sound for new chats: off';
  }
  $('sound-toggle').addEventListener('click', () => {
    state.soundOn = !state.soundOn;
    localStorage.setItem('beckon.console.sound', state.soundOn ? 'on' : 'off');
    renderSound();
    if (state.soundOn) chime('message');
  });
  renderSound();

  $('offers-jump').addEventListener('click', () => {
    document.body.dataset.view = 'list';
    const first = /** @type {HTMLElement | null} */ (document.querySelector('#offers-list .btn--primary'));
    if (first) first.focus();
  });

  // Reconnect at once when the network comes back instead of waiting out the backoff.
  window.addEventListener('online', () => {
    if (!conn.stopped && !conn.ws) { conn.attempt = 0; connect(); }
  });

  // Keep "waiting 1m 20s" on offer cards current.
  setInterval(() => {
    for (const el of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.offer-wait[data-since]'))) {
      el.textContent = `waiting ${fmtWaiting(Number(el.dataset.since))}`;
    }
    for (const el of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('.ticker[data-since]'))) {
      el.textContent = fmtDuration(Date.now() - Number(el.dataset.since));
    }
  }, 5000);

  async function boot() {
    show('loading');
    try {
      const res = await api('GET', '/v1/agent/me');
      startApp(res.agent);
    } catch (e) {
      showSignIn(e.status === 401 ? '' : e.message);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // What the other screens (pages.js: live visitors, history, administration) share with this one.

  // A form field: label, input, optional hint and an error line (announced when it appears), all
  // tied together for screen readers. `attrs` marks the wrapper so errors can find it
  // (`data-field` in the admin forms, `data-path` in the rule editor).
  let fieldIds = 0;
  function labelledField(attrs, labelText, input, hint) {
    const id = input.id || `field-${++fieldIds}`;
    input.id = id;
    const errId = `${id}-error`;
    const hintId = hint ? `${id}-hint` : null;
    input.setAttribute('aria-describedby', [hintId, errId].filter(Boolean).join(' '));
    return h('div', { class: 'field', ...attrs },
      labelText ? h('label', { for: id }, labelText) : null,
      input,
      hint ? h('p', { id: hintId, class: 'field-hint' }, hint) : null,
      h('p', { id: errId, class: 'field-error', role: 'alert', hidden: true }));
  }

  const hooks = { frame: [], start: [], stop: [] };
  window.BeckonConsole = {
    h, clear, api, request, toast, announce, all, one, fmtTime, fmtDateTime, fmtWaiting, fmtDuration,
    displayableContext, state, hooks, labelledField, visitorLabel,
    isConnected: () => conn.ready,
    countryName,
  };

  // Deferred scripts run in order before DOMContentLoaded, so pages.js has registered its hooks.
  document.addEventListener('DOMContentLoaded', boot);
})();
