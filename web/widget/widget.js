/*
 * Beckon widget loader - served as /widget.js, loaded by every page of a site that embeds Beckon.
 *
 * Why this file exists: it is the only script a website owner pastes. It must be small and
 * harmless, because it runs on every page view whether or not the visitor ever chats. It:
 *   - reads its settings from its own <script> tag (Microsoft's `data-app-id` form or Beckon's
 *     `data-widget-id` form);
 *   - defines `Microsoft.Omnichannel.LiveChatWidget.SDK` and `Beckon` synchronously, so pages
 *     written for Microsoft's widget run unchanged, and fires `lcw:ready` once the page's own
 *     scripts have run;
 *   - keeps ONE WebSocket to the server for the whole page view (page views, invites, chat), with
 *     reconnection, resume by message sequence number and resending of unacknowledged messages;
 *   - reports the page signals the server's no-code trigger rules use: visible-and-focused time,
 *     scroll depth, exit intent, single-page-app route changes, `Beckon.track()` events, context;
 *   - owns the conversation state (messages deduplicated by `seq`) and the `lcw:*` events;
 *   - draws the launcher button, the proactive invite and the out-of-hours panel in a shadow
 *     root that takes no layout space, so the host page's CSS and ours never meet.
 * The chat window and pre-chat survey live in chat.js, loaded only when a chat is opened or
 * restored. Protocol: docs/protocol.md ("Visitor WebSocket"). All server, agent and visitor text
 * is rendered with textContent, never as HTML.
 */
(function (window, document) {
  'use strict';

  var PRIVATE = '__beckonWidget'; // the private global chat.js registers itself on
  if (window[PRIVATE]) return; // the tag was pasted twice: the first copy stays in charge

  // lcw:error code for "no chat now: the queue is outside its operating hours". SDK.md's codes
  // (Microsoft's 1-4, 7, 8) have none for it (Microsoft's widget just shows its own offline UI),
  // and reusing one would mislead pages that switch on them, so this is a Beckon code, outside
  // Microsoft's range; the detail also carries reason 'queue_closed' and opensAt (Unix ms|null).
  var QUEUE_CLOSED = 100;
  var ENDED = { ended: 1, abandoned: 1 };

  // ---- settings from the script tag --------------------------------------------------------
  var script = /** @type {HTMLScriptElement | null} */ (document.currentScript ||
    document.getElementById('Microsoft_Omnichannel_LCWidget') ||
    document.querySelector('script[data-widget-id],script[data-app-id]'));
  var data = (script && script.dataset) || {};
  var widgetKey = data.appId || data.widgetId || '';
  var orgUrl = data.orgUrl || (script && script.src ? new URL(script.src, location.href).origin : location.origin);
  orgUrl = orgUrl.replace(/\/+$/, '');
  var options = {
    hideButton: data.hideChatButton === 'true',
    color: data.colorOverride || '',
    font: data.fontFamilyOverride || '',
    language: data.language || ''
  };
  var storePrefix = 'beckon:' + widgetKey + ':';

  function load(name) {
    try { return window.localStorage.getItem(storePrefix + name); } catch (e) { return null; }
  }
  function save(name, value) {
    try {
      if (value == null) window.localStorage.removeItem(storePrefix + name);
      else window.localStorage.setItem(storePrefix + name, value);
    } catch (e) { /* storage disabled: the widget still works for this page view */ }
  }
  function newId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }

  // ---- languages ------------------------------------------------------------------------------
  // The widget's own words in the visitor's language: the script tag's data-language, else the
  // widget's setting (an admin's choice), else the page's <html lang>, else the browser's
  // languages; English when none of them is one the widget speaks. Texts the admin wrote come
  // in the same language when the admin translated them (settings.translations). Messages for
  // the page's developer (lcw:error descriptions, console warnings) stay in English.
  var LANGUAGES = ['en', 'fr'];
  var WORDS = {
    en: {
      open: 'Open chat', minimise: 'Minimise chat', close: 'Close', unread1: '{0} unread message',
      unreadN: '{0} unread messages', closeInvite: 'Close invitation', chatNow: 'Chat now', noThanks: 'No thanks',
      invitation: 'Chat invitation: {0}', away: 'We are away right now.', opensAgain: 'We open again on {0}.',
      leave: 'Leave a message', title: 'Chat with us', defaultInvite: "Hi! Have any questions? I'm here to help",
      signIn: 'We could not confirm that you are signed in. Please sign in again, then retry.',
      cannotStart: 'Sorry, the chat could not start. Please try again later.'
    },
    fr: {
      open: 'Ouvrir la discussion', minimise: 'R\u00e9duire la discussion', close: 'Fermer', unread1: '{0} message non lu',
      unreadN: '{0} messages non lus', closeInvite: 'Fermer l\u2019invitation', chatNow: 'Discuter', noThanks: 'Non merci',
      invitation: 'Invitation \u00e0 discuter : {0}', away: 'Nous sommes absents pour le moment.',
      opensAgain: 'Nous serons de retour le {0}.', leave: 'Laisser un message', title: 'Discutons',
      defaultInvite: 'Bonjour ! Une question ? Je suis l\u00e0 pour vous aider',
      signIn: 'Nous n\u2019avons pas pu confirmer que vous \u00eates connect\u00e9. Reconnectez-vous, puis r\u00e9essayez.',
      cannotStart: 'D\u00e9sol\u00e9, la discussion n\u2019a pas pu d\u00e9marrer. R\u00e9essayez plus tard.'
    }
  };
  function supported(tag) {
    var primary = String(tag || '').toLowerCase().split(/[-_]/)[0];
    return LANGUAGES.indexOf(primary) >= 0 ? primary : '';
  }
  function pickLanguage() {
    var setting = state.widget.language;
    var tries = [options.language, setting === 'auto' ? '' : setting, document.documentElement.lang]
      .concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < tries.length; i++) if (supported(tries[i])) return supported(tries[i]);
    return 'en';
  }
  // The locale for dates and times: the visitor's own (the browser's) when the widget speaks its
  // language (fr-CA stays fr-CA), else the widget's language, so that a sentence never mixes
  // two languages.
  function pickLocale(lang) {
    var browser = navigator.language || '';
    return supported(browser) === lang ? browser : lang;
  }
  function t(key) {
    var words = WORDS[lang] || WORDS.en;
    var text = words[key] != null ? words[key] : WORDS.en[key];
    for (var i = 1; i < arguments.length; i++) text = text.split('{' + (i - 1) + '}').join(String(arguments[i]));
    return text;
  }
  // An admin's text (title, greeting, offline_message) in the widget's language, when translated.
  function adminText(field) {
    var tr = state.widget.translations && state.widget.translations[lang];
    return (tr && tr[field]) || state.widget[field] || '';
  }
  var lang = 'en', locale = 'en';
  function applyLanguage() {
    lang = pickLanguage();
    locale = pickLocale(lang);
  }

  // ---- lcw:* events --------------------------------------------------------------------------
  // Events are held back until lcw:ready has fired, so a page always sees ready first.
  var readyFired = false;
  var heldEvents = [];
  function lcw(name, detail) {
    if (!readyFired && name !== 'ready') { heldEvents.push([name, detail]); return; }
    window.dispatchEvent(new CustomEvent('lcw:' + name, { detail: detail || {} }));
  }
  var errorReported = {};
  function lcwError(code, description, once) {
    if (once) { if (errorReported[code]) return; errorReported[code] = true; }
    lcw('error', { errorCode: code, errorDescription: description });
  }

  // ---- state shared with chat.js -----------------------------------------------------------
  var state = {
    widget: { color: '#2151c4', font_family: null, title: '', greeting: '', invite_expiry_ms: 60000, prechat: [] },
    connected: false,     // a welcome has been received on the current socket
    failed: false,        // the server could not be reached (yet)
    conversation: null,   // the visitor's open (or just ended) conversation
    messages: [],         // stored messages sorted by seq, then pending ones (no seq yet)
    lastSeq: 0,           // highest seq received (seqs may skip: agent-only notes never come)
    agentTyping: false,
    queueInfo: '',        // latest queue position / wait estimate text
    starting: null,       // a chat being started: {context, proactive, inviteId, prechat, sent}
    invite: null,         // the invite on screen: {id, message, showPrechat, timer}
    queue: { open: true, opens_at: null }, // welcome.queue: within operating hours?
    offline: false,       // the out-of-hours panel is open
    leaving: null,        // the leave-a-message form is up: {prechat, sent, error}
    rating: null,         // a rating on its way: {sending, error}
    mailing: null,        // the transcript by email: {sending, error, sentTo}
    mail: false,          // welcome.mail: answers to a left message are emailed
    ui: 'closed',         // chat window: closed | open | min
    unread: 0
  };
  applyLanguage();
  var seqs = {};               // seq -> true, for the current conversation
  var byClientId = {};         // client_msg_id -> message entry (the visitor's own)
  var historyUpTo = 0;         // messages up to this seq are history: no onMessageReceived
  var subscribers = [];
  function changed(what) {
    for (var i = 0; i < subscribers.length; i++) subscribers[i](what);
    renderLauncher();
  }
  function chatActive() {
    return !!(state.starting || (state.conversation && !ENDED[state.conversation.state]));
  }
  // Outside operating hours a new chat cannot start (one already open carries on).
  function closedNow() { return state.queue.open === false && !chatActive(); }
  function hideOffHours() { return state.widget.out_of_hours === 'hide'; }
  // A chat was asked for while closed: tell the page, and (unless the widget hides itself out of
  // hours) show the visitor the offline message and when the chat opens again.
  function refuseClosed(show) {
    var at = state.queue.opens_at || null;
    lcw('error', { errorCode: QUEUE_CLOSED, reason: 'queue_closed', opensAt: at,
      errorDescription: 'No chat can start now: the chat is outside its operating hours' +
        (at ? ' (it opens again at ' + new Date(at).toISOString() + ').' : '.') });
    if (show && !hideOffHours()) whenMounted(function () { showOffline(true); });
  }

  // ---- the socket ----------------------------------------------------------------------------
  var wsUrl = orgUrl.replace(/^http/i, 'ws') + '/v1/visitor/ws';
  var ws = null;
  var attempts = 0;
  var everWelcomed = false;
  var stopped = false;         // a fatal error (unknown widget, origin refused): no reconnect
  var reconnectTimer = null;
  var lastRx = 0;
  var rid = 0;
  var outbox = [];             // frames that must reach the server, kept until replied to
  var syncing = false;
  var helloSeq = 0;            // the last_seq our latest hello carried
  var afterConnect = [];       // work that waits for the first welcome (or first failure)

  function rawSend(frame) {
    if (ws && ws.readyState === 1) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }
  function reliable(frame) {
    frame.rid = 'r' + (++rid);
    outbox.push(frame);
    if (state.connected) rawSend(frame);
    return frame.rid;
  }
  function takeOutbox(replyRid) {
    for (var i = 0; i < outbox.length; i++) {
      if (outbox[i].rid === replyRid) return outbox.splice(i, 1)[0];
    }
    return null;
  }
  var referrer = document.referrer; // the previous route's URL after a single-page-app route change
  function pageInfo() {
    return { url: location.href.slice(0, 2048), title: document.title.slice(0, 512), referrer: referrer.slice(0, 2048) };
  }
  function hello(withToken) {
    helloSeq = state.lastSeq;
    var frame = { type: 'hello', widget_id: widgetKey, last_seq: helloSeq, page: pageInfo() };
    // Back on the page the server already has: not another view of it (time on it goes on).
    rejoined = everWelcomed && reported === location.href;
    // The node it reconnects to may not have seen this page: its time on it goes on from here.
    if (rejoined) { frame.reconnect = true; frame.page.visible_ms = visibleOnPage(); }
    var token = withToken && load('token');
    if (token) frame.visitor_token = token;
    rawSend(frame);
  }

  function connect() {
    reconnectTimer = null;
    if (stopped || ws) return;
    var sock;
    try { sock = new WebSocket(wsUrl); } catch (e) { return connectionLost(null); }
    ws = sock;
    sock.onopen = function () { lastRx = Date.now(); hello(true); };
    sock.onmessage = function (ev) {
      if (ws !== sock) return;
      lastRx = Date.now();
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame && typeof frame.type === 'string') handle(frame);
    };
    sock.onclose = function (ev) { if (ws === sock) connectionLost(ev); };
  }

  function connectionLost(ev) {
    ws = null;
    var wasConnected = state.connected;
    state.connected = false;
    syncing = false;
    if (ev && ev.code === 1008) stop('This page is not allowed to use the chat widget (origin refused).');
    if (!everWelcomed && !state.failed) {
      state.failed = true;
      lcwError(7, 'Widget failed to load: cannot connect to the chat server at ' + orgUrl, true);
      runAfterConnect();
    }
    if (availabilityWaiting.length) onAvailability({});
    if (wasConnected) changed('connection');
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (stopped || reconnectTimer) return;
    // Exponential backoff with jitter, capped at 30 s, so a server restart isn't stampeded.
    var base = Math.min(30000, 500 * Math.pow(2, attempts++));
    reconnectTimer = setTimeout(connect, base / 2 + Math.random() * base / 2);
  }
  function reconnectNow() {
    if (stopped || ws) return;
    clearTimeout(reconnectTimer);
    connect();
  }
  function stop(description) {
    stopped = true;
    lcwError(7, description, true);
    if (ws) { var s = ws; ws = null; s.close(); }
    state.connected = false;
    state.failed = true;
    runAfterConnect();
  }
  function runAfterConnect() {
    var fns = afterConnect;
    afterConnect = [];
    for (var i = 0; i < fns.length; i++) fns[i]();
  }
  function whenConnected(fn) {
    // Runs fn once the first connection attempt has an outcome and the UI is mounted.
    whenMounted(function () {
      if (everWelcomed || state.failed) fn(); else afterConnect.push(fn);
    });
  }

  // Liveness: the server closes a silent connection after 60 s; we ping every 25 s and drop a
  // connection that has been silent for 70 s (e.g. after a laptop sleep) to reconnect sooner.
  setInterval(function () {
    if (!ws || ws.readyState !== 1) return;
    if (Date.now() - lastRx > 70000) { ws.close(); connectionLost(null); return; }
    if (state.connected) rawSend({ type: 'ping' });
  }, 25000);
  window.addEventListener('online', reconnectNow);

  // ---- page signals, for the server's no-code trigger rules ---------------------------------
  // The server decides when to invite (docs/protocol.md): it needs visible-and-focused time,
  // scroll depth, exit intent, single-page-app route changes, the page's own events (track) and
  // context. Only state is kept while disconnected, never a growing queue: after welcome
  // pageState() tells the server what differs from where it stands (a new page view starts
  // visible and 0% scrolled; after a reconnect it has what it had, or nothing after a restart),
  // and the last few track events; an exit intent is only worth something now.
  var shown = true;            // visible-and-focused, as last told to the server
  var reported = null;         // the URL the server holds as this tab's page
  var rejoined = false;        // the latest hello was a reconnect on that page
  var scrollMax = 0, scrollSent = 0, scrollTimer = null, upFrom = null, lastY = 0;
  var exitAt = 0;
  var tracked = [];            // track frames waiting for a connection (the latest 20)
  var pageContext = null, contextRun = 0;
  var pageUrl = location.href;
  var coarse = !!(window.matchMedia && window.matchMedia('(pointer: coarse)').matches); // touch first
  // Visible-and-focused time on this page, counted here too (connected or not). A page view
  // starts visible, as on the server; activity() corrects both.
  var visibleMs = 0, visibleFrom = Date.now();
  function visibleOnPage() { return Math.round(visibleMs + (visibleFrom === null ? 0 : Date.now() - visibleFrom)); }
  function countVisible(v) {
    if (v && visibleFrom === null) visibleFrom = Date.now();
    if (!v && visibleFrom !== null) { visibleMs += Date.now() - visibleFrom; visibleFrom = null; }
  }
  function signal(frame) { if (state.connected) rawSend(frame); }
  function activity() {
    var v = document.visibilityState === 'visible' && document.hasFocus();
    countVisible(v);
    if (v !== shown) { shown = v; signal({ type: 'activity', visible: v }); }
  }
  function exitIntent() {
    if (!state.connected || Date.now() - exitAt < 5000) return;
    exitAt = Date.now();
    rawSend({ type: 'exit_intent' });
  }
  function pageState() {
    shown = rejoined ? null : true; // after a reconnect, always say which
    rejoined = false;
    reported = location.href;
    activity();
    scrollSent = scrollMax;
    if (scrollMax) signal({ type: 'scroll', percent: scrollMax });
    tracked.splice(0).forEach(signal);
  }
  ['focus', 'blur'].forEach(function (n) { window.addEventListener(n, activity); });
  // A page being left (a link followed, the tab closed) is hidden too, but no invite could show:
  // pagehide comes first, and then the hidden tab is no exit intent.
  var unloading = false;
  window.addEventListener('pagehide', function () { unloading = true; });
  window.addEventListener('pageshow', function () { unloading = false; });
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'hidden' && !unloading) exitIntent();
    activity();
  });
  // The pointer leaves the document through the top (towards the tabs and the address bar).
  document.addEventListener('mouseout', function (e) { if (!e.relatedTarget && e.clientY <= 0) exitIntent(); });
  window.addEventListener('scroll', function () {
    var y = window.scrollY, now = Date.now();
    // Touch devices have no pointer to leave: a fast scroll up (half a screen within 300 ms)
    // reads as reaching for the address bar.
    if (coarse) {
      if (y >= lastY) upFrom = null;
      else if (!upFrom || now - upFrom.t > 300) upFrom = { y: lastY, t: now };
      else if (upFrom.y - y > window.innerHeight / 2) { upFrom = null; exitIntent(); }
    }
    lastY = y;
    if (!scrollTimer) scrollTimer = setTimeout(scrolled, 200);
  }, { passive: true });
  function scrolled() {
    scrollTimer = null;
    var d = document.documentElement, room = d.scrollHeight - window.innerHeight;
    var p = room <= 0 || window.scrollY >= room - 2 ? 100 : Math.floor(window.scrollY / room * 100);
    if (p > scrollMax) scrollMax = p;
    // Only news worth a frame: ten more points, or the bottom.
    if (scrollMax - scrollSent >= 10 || (scrollMax === 100 && scrollSent < 100)) {
      scrollSent = scrollMax;
      signal({ type: 'scroll', percent: scrollMax });
    }
  }
  // Single-page apps: a route change (history API, back/forward, #fragment) is a page view.
  function routeChanged() {
    if (location.href === pageUrl) return;
    referrer = pageUrl;
    pageUrl = location.href;
    scrollMax = scrollSent = 0;
    visibleMs = 0; visibleFrom = Date.now();
    if (!state.connected) return; // the next hello carries the new page
    var p = pageInfo();
    rawSend({ type: 'page_view', url: p.url, title: p.title, referrer: p.referrer });
    pageState();
    refreshContext();
  }
  ['pushState', 'replaceState'].forEach(function (m) {
    var original = history[m];
    history[m] = function () {
      var r = original.apply(this, arguments);
      // After the app's own code of this task, which usually sets the new title.
      setTimeout(routeChanged, 0);
      return r;
    };
  });
  window.addEventListener('hashchange', routeChanged);
  window.addEventListener('popstate', routeChanged);

  // ---- frames from the server ---------------------------------------------------------------
  function handle(f) {
    switch (f.type) {
      case 'welcome': return onWelcome(f);
      case 'chat': return onChat(f.conversation, f.rid);
      case 'message': return onMessage(f.message);
      case 'ack': return onAck(f);
      case 'typing':
        if (f.from === 'agent') { state.agentTyping = !!f.typing; changed('typing'); }
        return;
      case 'ok':
        if (f.rid === 'sync') { syncing = false; return; }
        var done = takeOutbox(f.rid);
        if (done && done.type === 'rate') onRated(done);
        if (done && done.type === 'email_transcript') { state.mailing = { sending: false, error: '', sentTo: done.email }; changed('mailing'); }
        return;
      case 'error': return onError(f);
      case 'invite': return showInvite(f.invite_id, (f.translations && f.translations[lang]) || f.message, !!f.prechat, f.expiry_ms);
      case 'availability': return onAvailability(f);
    }
  }

  var reopenTimer = null;
  function onWelcome(f) {
    if (f.visitor_token) save('token', f.visitor_token);
    authMode = f.auth || null;
    state.mail = !!f.mail;
    state.queue = f.queue || { open: true, opens_at: null };
    clearTimeout(reopenTimer);
    var wait = state.queue.open === false && state.queue.opens_at ? state.queue.opens_at - Date.now() : -1;
    // At opening time, offer the chat again (setTimeout can't wait longer than ~24.8 days).
    if (wait > 0 && wait < 2147483647) reopenTimer = setTimeout(function () { state.queue = { open: true, opens_at: null }; showOffline(false); renderLauncher(); }, wait);
    if (state.queue.open !== false) showOffline(false);
    var w = f.widget || {};
    for (var k in w) if (w[k] != null) state.widget[k] = w[k];
    applyLanguage();
    applyTheme();
    var first = !everWelcomed;
    everWelcomed = true;
    state.connected = true;
    state.failed = false;
    attempts = 0;

    var c = f.conversation && !ENDED[f.conversation.state] ? f.conversation : null;
    var mine = state.conversation;
    var isNew = !!c && (!mine || mine.id !== c.id);
    if (isNew) {
      setConversation(c);
      // On the page's first welcome, what the server already holds is history (no events for
      // it); after a reconnect, whatever we missed is news.
      historyUpTo = first ? c.last_seq || 0 : 0;
      if (state.starting && !state.starting.sent) state.starting = null;
      lcw('chatRetrieved', { conversationId: c.id });
      whenMounted(function () { showWindow(load('ui') === 'min' ? 'min' : 'open', false); });
    } else if (c) {
      state.conversation = c;
    } else if (mine && !ENDED[mine.state]) {
      // It ended while we were away.
      conversationEnded({ id: mine.id, state: 'ended' });
    }
    // Resend what never got its reply, then the visitor's unacknowledged messages.
    for (var i = 0; i < outbox.length; i++) rawSend(outbox[i]);
    sendPending();
    pageState();
    if (pageContext) rawSend({ type: 'set_context', context: pageContext, rid: 'ctx' });
    // The server replays what followed hello's last_seq; that seq belonged to another
    // conversation if this one is new to us, so fetch it whole.
    if (isNew && helloSeq > 0) sync();
    changed('connection');
    runAfterConnect();
  }

  function setConversation(c) {
    state.conversation = c;
    state.messages = [];
    byClientId = {};
    seqs = {};
    state.lastSeq = 0;
    state.agentTyping = false;
    state.queueInfo = '';
    historyUpTo = 0;
    ensureChatUi();
  }

  function onChat(c, replyRid) {
    if (!c) return;
    var startFrame = replyRid ? takeOutbox(replyRid) : null;
    // The reply to our start_chat, or the push announcing the conversation it created (it may
    // overtake the reply).
    if (startFrame && startFrame.type === 'leave_message') return onMessageLeft(c);
    var ours = (startFrame && startFrame.type === 'start_chat') || !!(state.starting && state.starting.sent);
    if (ours) state.starting = null;
    if (ours && cancelCreated) { cancelCreated = false; reliable({ type: 'close_chat' }); return; }
    var mine = state.conversation;
    if (ENDED[c.state]) {
      if (mine && mine.id === c.id && !ENDED[mine.state]) conversationEnded(c);
      return;
    }
    if (!mine || mine.id !== c.id) {
      setConversation(c);
      if (ours) {
        lcw('startChat', { conversationId: c.id, proactive: !!c.proactive });
        if (c.state === 'queued') lcw('chatQueued', { conversationId: c.id });
        showWindow(state.ui === 'min' ? 'min' : 'open', false);
      } else {
        lcw('chatRetrieved', { conversationId: c.id });
        whenMounted(function () { showWindow(load('ui') === 'min' ? 'min' : 'open', false); });
      }
      if ((c.last_seq || 0) > state.lastSeq) sync(); // messages stored before we knew of it
    } else {
      state.conversation = c;
    }
    sendPending();
    changed('conversation');
  }

  // The server took a left message: its conversation (new, or the waiting chat) is shown, with
  // where the answer will come.
  function onMessageLeft(c) {
    state.leaving = null;
    refusedAnswers = null;
    var mine = state.conversation;
    if (!mine || mine.id !== c.id) {
      setConversation(c);
      if ((c.last_seq || 0) > state.lastSeq) sync();
    } else {
      state.conversation = c;
    }
    showWindow('open', false);
    changed('conversation');
  }

  function conversationEnded(c) {
    var mine = state.conversation;
    state.conversation = Object.assign({}, mine, c);
    state.agentTyping = false;
    state.messages.forEach(function (m) { if (m.status === 'pending') m.status = 'failed'; });
    lcw('threadUpdate', { conversationId: c.id, state: c.state });
    changed('conversation');
  }

  function sync() {
    if (syncing || !state.connected || !state.conversation) return;
    syncing = true;
    rawSend({ type: 'sync', after_seq: state.lastSeq, rid: 'sync' });
  }

  function insertStored(entry) {
    seqs[entry.seq] = true;
    var list = state.messages, i = list.length;
    // Keep stored messages sorted by seq, pending ones after them.
    while (i > 0 && (list[i - 1].seq == null || list[i - 1].seq > entry.seq)) i--;
    list.splice(i, 0, entry);
  }

  function onMessage(m) {
    var c = state.conversation;
    if (!m || !c || m.conversation_id !== c.id || typeof m.seq !== 'number') return;
    // Only message frames move lastSeq (an ack may overtake an earlier message still in flight).
    if (m.seq > state.lastSeq) state.lastSeq = m.seq;
    if (seqs[m.seq]) return; // already shown: never twice
    var own = m.client_msg_id && byClientId[m.client_msg_id];
    if (own) {
      if (m.attachment) { own.attachment = m.attachment; own.text = String(m.text); }
      state.messages.splice(state.messages.indexOf(own), 1);
      markSent(own, m.seq, m.created_at);
      insertStored(own);
      changed('message');
      return;
    }
    var entry = { seq: m.seq, kind: m.sender && m.sender.kind, name: m.sender && m.sender.name, text: String(m.text || ''), tags: m.tags || [], created_at: m.created_at, attachment: m.attachment };
    insertStored(entry);
    if (entry.kind === 'agent') state.agentTyping = false;
    if (entry.tags.indexOf('queueposition') >= 0 || entry.tags.indexOf('averagewaittime') >= 0) state.queueInfo = entry.text;
    if (entry.tags.indexOf('agentaccepted') >= 0) {
      state.queueInfo = '';
      if (entry.name && !c.agent) c.agent = { id: m.sender.agent_id, name: entry.name };
    }
    if (entry.kind !== 'visitor' && m.seq > historyUpTo) {
      if (state.ui !== 'open') state.unread++;
      lcw('onMessageReceived', {
        text: entry.text,
        messageType: entry.kind === 'agent' ? 'user' : 'system',
        sender: m.sender,
        seq: m.seq,
        conversationId: m.conversation_id,
        channelData: { tags: entry.tags.slice() }
      });
    }
    changed('message');
  }

  function markSent(entry, seq, createdAt) {
    var first = entry.status !== 'sent';
    entry.seq = seq;
    entry.status = 'sent';
    if (createdAt) entry.created_at = createdAt;
    if (first) lcw('onMessageSent', { text: entry.text, seq: seq, clientMessageId: entry.client_msg_id });
  }

  function onAck(f) {
    var entry = byClientId[f.client_msg_id];
    if (!entry || entry.status === 'sent') return;
    state.messages.splice(state.messages.indexOf(entry), 1);
    markSent(entry, f.seq);
    if (!seqs[f.seq]) insertStored(entry);
    changed('message');
  }

  function onError(f) {
    if (f.rid === 'sync') { syncing = false; return; }
    if (f.rid === 'ctx') return lcwError(1, f.message || 'The custom context was rejected by the server.');
    if (f.rid === 'availability') return onAvailability({});
    var frame = f.rid ? takeOutbox(f.rid) : null;
    if (frame && frame.type === 'start_chat' && frame.prechat) refusedAnswers = frame.prechat;
    if (frame && frame.type === 'email_transcript' && f.code !== 'rate_limited' && f.code !== 'internal') {
      state.mailing = { sending: false, error: f.message || f.code, sentTo: '' };
      changed('mailing');
      return;
    }
    if (frame && frame.type === 'rate' && f.code !== 'rate_limited' && f.code !== 'internal') {
      state.rating = { sending: false, error: f.message || f.code };
      changed('rating');
      return;
    }
    if (frame && frame.type === 'leave_message' && f.code !== 'rate_limited' && f.code !== 'internal') {
      // Nothing was left: the form stays, with the server's reason.
      if (state.leaving) { state.leaving.sent = false; state.leaving.error = f.message || f.code; }
      changed('leave');
      return;
    }
    var entry = f.rid && f.rid.indexOf('m:') === 0 ? byClientId[f.rid.slice(2)] : null;
    switch (f.code) {
      case 'invalid_context':
        if (!frame || frame.type === 'start_chat') refuseStart(1, f.message || 'The custom context was rejected by the server.');
        return;
      case 'auth_required':
      case 'auth_not_configured':
      case 'auth_keys_unavailable':
        if (!frame || frame.type === 'start_chat') {
          refuseStart(f.code === 'auth_required' ? (authTokenProvider ? 3 : 8) : 4, f.message || f.code, SIGN_IN());
        }
        return;
      case 'queue_closed':
        // The queue this chat was routed to is closed (welcome tells only of the widget's own).
        if (!frame || frame.type === 'start_chat') {
          state.starting = null;
          hideWindow();
          refuseClosed(true);
          changed('start');
        }
        return;
      case 'unknown_widget':
        return stop('Widget failed to load: unknown widget id "' + widgetKey + '".');
      case 'origin_not_allowed':
        return stop('Widget failed to load: ' + (f.message || 'this origin is not allowed.'));
      case 'token_widget_mismatch':
        save('token', null);
        return hello(false);
      case 'rate_limited':
      case 'internal':
        // No effect on the server: try again a little later.
        if (frame) { outbox.push(frame); setTimeout(function () { if (state.connected) rawSend(frame); }, 2000); }
        if (entry) setTimeout(sendPending, 2000);
        return;
    }
    if (/^token_/.test(f.code) && f.code !== 'token_widget_mismatch' && frame && frame.type === 'start_chat') {
      if (f.code === 'token_expired' && !frame.retried) {
        // Ask the page once more for a fresh token, then try again.
        return getAuthToken().then(function (token) {
          if (!token) { refuseStart(0, '', SIGN_IN()); return; }
          frame.auth_token = token;
          frame.retried = true;
          outbox.push(frame);
          if (state.connected) rawSend(frame);
        });
      }
      return refuseStart(4, 'The visitor\'s auth token was refused: ' + (f.message || f.code), SIGN_IN());
    }
    if (entry) { entry.status = 'failed'; entry.error = f.message || f.code; changed('message'); return; }
    if (frame && frame.type === 'start_chat') refuseStart(0, '');
    if (window.console) console.warn('Beckon: ' + f.code + ': ' + (f.message || ''));
  }

  // The server refused a start_chat (the window may be open, e.g. after the pre-chat survey):
  // no chat, never an anonymous one in its place; the page gets lcw:error `code` (0: already
  // reported), the visitor reads why in the window.
  function SIGN_IN() { return t('signIn'); }
  function refuseStart(code, description, says) {
    state.starting = null;
    state.startError = says || t('cannotStart');
    if (code) lcwError(code, description);
    changed('start');
  }

  // ---- chat actions ---------------------------------------------------------------------------
  var contextProvider = null;
  var authTokenProvider = null;
  var authMode = null; // welcome.auth: 'required', 'optional' or null (no signed-in visitors)
  var cancelCreated = false;

  // Checks a custom context against SDK.md's limits and returns it in the long form, or throws
  // an Error whose message names the variable at fault.
  function normalizeContext(ctx) {
    if (ctx == null) return {};
    if (typeof ctx !== 'object' || Array.isArray(ctx)) throw new Error('The custom context must be an object of variables.');
    var names = Object.keys(ctx), out = {};
    if (names.length > 100) throw new Error('The custom context has ' + names.length + ' variables; at most 100 are allowed.');
    names.forEach(function (name) {
      if (!name.trim()) throw new Error('A custom context variable name must not be empty.');
      if (Array.from(name).length > 100) throw new Error('The context variable name "' + name.slice(0, 20) + '\u2026" is longer than 100 characters.');
      var raw = ctx[name], value = raw, shown = false;
      if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
        value = raw.value;
        shown = raw.isDisplayable === true || raw.isDisplayable === 'true';
      }
      var t = typeof value;
      if (!(t === 'string' || t === 'boolean' || (t === 'number' && isFinite(value)))) {
        throw new Error('The value of context variable "' + name + '" must be a string, number or boolean.');
      }
      if (Array.from(String(value)).length > 4000) throw new Error('The value of context variable "' + name + '" is longer than 4000 characters.');
      out[name] = { value: value, isDisplayable: shown };
    });
    return out;
  }

  // Captures the context for a chat starting now: customContext if given (it wins), else the
  // provider's. Resolves to the validated context, or null after reporting lcw:error 1.
  function captureContext(custom) {
    var raw;
    try {
      raw = custom != null ? custom : contextProvider ? contextProvider() : null;
    } catch (e) {
      lcwError(1, 'The context provider failed: ' + (e && e.message || e));
      return Promise.resolve(null);
    }
    var snapshot;
    if (!raw || typeof raw.then !== 'function') {
      try { snapshot = normalizeContext(raw); } catch (e) { lcwError(1, e.message); return Promise.resolve(null); }
    }
    return Promise.resolve(snapshot || raw).then(function (ctx) {
      return snapshot || normalizeContext(ctx);
    }).catch(function (e) {
      lcwError(1, 'The context provider failed: ' + (e && e.message || e));
      return null;
    });
  }

  // The provider's values also feed the trigger rules' context conditions (and {context:Name}
  // in a rule's message): read when a provider is set and on each route change, and sent as
  // set_context when valid (invalid: lcw:error 1 and nothing sent, as for a chat).
  function refreshContext() {
    var run = ++contextRun;
    if (!contextProvider) { pageContext = null; return; }
    captureContext(null).then(function (ctx) {
      if (run !== contextRun || !ctx || !Object.keys(ctx).length) return;
      pageContext = ctx;
      signal({ type: 'set_context', context: ctx, rid: 'ctx' });
    });
  }
  function setProvider(fn) {
    contextProvider = fn;
    // Not at once: the page may still be defining what its provider reads.
    setTimeout(refreshContext, 0);
  }

  // Starts a chat (or shows the open one). opts: {customContext, proactive, inviteId, showPrechat}
  function beginChat(opts) {
    // Whether a chat is already open, the pre-chat survey, the queue's hours and whether sign-in
    // is required all come with the server's welcome: a click before it waits for it (or for
    // the first connection attempt to fail).
    if (!everWelcomed && !state.failed) { whenConnected(function () { beginChat(opts); }); return; }
    if (chatActive()) { showWindow('open', true); return; }
    if (closedNow()) return refuseClosed(true);
    state.startError = '';
    var starting = { proactive: !!opts.proactive, inviteId: opts.inviteId, context: null, sent: false };
    state.starting = starting;
    captureContext(opts.customContext).then(function (context) {
      if (state.starting !== starting) return null;
      if (!context) return false;
      starting.context = context;
      return getAuthToken();
    }).then(function (token) {
      if (state.starting !== starting || token === null) return;
      if (token === false) { state.starting = null; changed('start'); return; }
      if (token) starting.authToken = token;
      var questions = state.widget.prechat || [];
      if (questions.length && opts.showPrechat !== false) starting.prechat = questions;
      else submitStart(null);
      showWindow('open', true);
    });
  }

  // The page's JWT for a chat starting now (SDK.md: fn(callback), callback(jwt) within 10 s).
  // Resolves to the token, '' when the page has no provider, or false after an lcw:error.
  function getAuthToken() {
    if (!authTokenProvider) {
      if (authMode !== 'required') return Promise.resolve('');
      lcwError(8, 'This chat requires a signed-in visitor, but the page set no auth token provider (setAuthTokenProvider).');
      return Promise.resolve(false);
    }
    return new Promise(function (resolve) {
      var done = false;
      var timer = setTimeout(function () { finish(null); }, 10000);
      function finish(token) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (typeof token === 'string' && token) return resolve(token);
        lcwError(3, 'The auth token provider gave no token (within 10 s).');
        resolve(false);
      }
      function failed(e) {
        if (done) return;
        done = true;
        clearTimeout(timer);
        lcwError(2, 'The auth token provider failed: ' + (e && e.message || e));
        resolve(false);
      }
      try {
        var r = authTokenProvider(finish);
        if (r && typeof r.then === 'function') r.then(function (t) { if (t) finish(t); }, failed);
      } catch (e) { failed(e); }
    });
  }

  function submitStart(answers) {
    var s = state.starting;
    if (!s || s.sent) return;
    s.sent = true;
    var frame = { type: 'start_chat', proactive: s.proactive, context: s.context, language: lang };
    if (s.inviteId) frame.invite_id = s.inviteId;
    if (answers) frame.prechat = answers;
    if (s.authToken) frame.auth_token = s.authToken;
    reliable(frame);
    changed('start');
  }

  // ---- rating the chat (CSAT) ----------------------------------------------------------------
  // After an agent answered and the chat ended: 1–5 and an optional comment. state.rating is
  // {sending, error} while it is on its way.
  function rate(score, comment) {
    var c = state.conversation;
    if (!c || !ENDED[c.state] || (state.rating && state.rating.sending)) return;
    state.rating = { sending: true, error: '' };
    reliable({ type: 'rate', conversation_id: c.id, score: score, comment: comment || null });
    changed('rating');
  }
  // The transcript by email: state.mailing is {sending, error, sentTo}.
  function emailTranscript(email) {
    var c = state.conversation;
    if (!c || (state.mailing && state.mailing.sending)) return;
    state.mailing = { sending: true, error: '', sentTo: '' };
    var tz = '';
    try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { tz = ''; }
    reliable({ type: 'email_transcript', conversation_id: c.id, email: email, tz: tz || null });
    changed('mailing');
  }

  function onRated(frame) {
    var c = state.conversation;
    state.rating = null;
    if (c && c.id === frame.conversation_id) { c.rating = frame.score; c.rating_comment = frame.comment; }
    changed('rating');
  }

  // ---- leaving a message (nobody can chat now, or the visitor would rather not wait) ----------
  var refusedAnswers = null; // survey answers of a start the server refused: the form keeps them
  function offerLeaveMessage() {
    if (state.conversation && !ENDED[state.conversation.state] && state.conversation.agent) return;
    state.leaving = { prechat: refusedAnswers, sent: false, error: '' };
    showOffline(false);
    showWindow('open', true);
    changed('leave');
  }
  function leaveMessage(fields) {
    var l = state.leaving;
    if (!l || l.sent) return;
    l.sent = true;
    l.error = '';
    var frame = { type: 'leave_message', email: String(fields.email || ''), text: String(fields.text || ''),
      name: fields.name ? String(fields.name) : null, client_msg_id: newId(), language: lang };
    if (l.prechat) frame.prechat = l.prechat;
    if (pageContext) frame.context = pageContext;
    reliable(frame);
    changed('leave');
  }
  function cancelLeave() {
    state.leaving = null;
    if (!state.conversation) hideWindow();
    changed('leave');
  }

  function sendMessage(text) {
    text = String(text == null ? '' : text);
    if (!text.trim() || !state.conversation || ENDED[state.conversation.state]) return null;
    var entry = { client_msg_id: newId(), text: text, kind: 'visitor', status: 'pending', tags: [] };
    byClientId[entry.client_msg_id] = entry;
    state.messages.push(entry);
    sendTyping(false);
    sendPending();
    changed('message');
    return entry;
  }

  function sendPending() {
    var c = state.conversation;
    if (!state.connected || !c || ENDED[c.state]) return;
    state.messages.forEach(function (m) {
      // Same client_msg_id on every try: the server stores it once (ack.duplicate otherwise).
      if (m.status === 'pending' && !m.file) rawSend({ type: 'send', client_msg_id: m.client_msg_id, text: m.text, rid: 'm:' + m.client_msg_id });
    });
  }

  // A file goes over HTTP (the visitor token as a bearer); the message it becomes comes back on
  // the socket like any other, and the answer to the upload is that same message.
  function sendFile(file) {
    var c = state.conversation;
    if (!file || !c || ENDED[c.state]) return null;
    var entry = { client_msg_id: newId(), text: file.name, kind: 'visitor', status: 'pending', tags: [], file: file,
      attachment: { name: file.name, size: file.size } };
    byClientId[entry.client_msg_id] = entry;
    state.messages.push(entry);
    upload(entry);
    changed('message');
    return entry;
  }
  function upload(entry) {
    var q = '?name=' + encodeURIComponent(entry.file.name) + '&client_msg_id=' + entry.client_msg_id;
    fetch(orgUrl + '/v1/visitor/attachments' + q, { method: 'POST', body: entry.file, headers: { Authorization: 'Bearer ' + load('token') } })
      .then(function (r) {
        return r.json().then(function (b) { if (!r.ok) throw b.error; onMessage(b.message); });
      })
      .catch(function (e) {
        if (entry.status !== 'pending') return;
        entry.status = 'failed';
        entry.error = (e && e.code) || '';
        lcwError(9, 'The file was not sent: ' + ((e && e.message) || 'the chat service could not be reached'));
        changed('message');
      });
  }

  function retry(entry) {
    if (entry && entry.status === 'failed' && state.conversation && !ENDED[state.conversation.state]) {
      entry.status = 'pending';
      if (entry.file) upload(entry);
      sendPending();
      changed('message');
    }
  }

  var typingSent = false, typingTimer = null;
  function sendTyping(on) {
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { sendTyping(false); }, 3000);
    if (on === typingSent || !state.connected || !chatActive() || !state.conversation) return;
    typingSent = on;
    rawSend({ type: 'typing', typing: on });
  }

  // `score`: a rating (1–5) the visitor gave while ending an answered chat (the × panel); sent
  // after close_chat, which it must follow.
  function closeChat(score) {
    var c = state.conversation, s = state.starting;
    var had = chatActive() || state.ui !== 'closed';
    if (s && s.sent) {
      // start_chat is on its way: close the conversation as soon as it exists.
      var queued = outbox.filter(function (f) { return f.type === 'start_chat'; })[0];
      if (queued && !state.connected) outbox.splice(outbox.indexOf(queued), 1);
      else cancelCreated = true;
    }
    if (c && !ENDED[c.state]) {
      reliable({ type: 'close_chat' });
      if (typeof score === 'number' && c.accepted_at) reliable({ type: 'rate', conversation_id: c.id, score: score, comment: null });
    }
    state.starting = null;
    state.startError = '';
    state.leaving = null;
    state.mailing = null;
    state.conversation = null;
    state.messages = [];
    state.lastSeq = 0;
    state.queueInfo = '';
    state.agentTyping = false;
    seqs = {};
    byClientId = {};
    hideWindow();
    if (had) lcw('closeChat', { conversationId: c && c.id });
    lcw('onClose', {});
  }

  // ---- proactive invites -----------------------------------------------------------------------
  function reportInvite(id, outcome, message, reason) {
    var frame = { type: 'invite', invite_id: id, source: 'sdk', outcome: outcome, message: message.slice(0, 4000) };
    if (reason) frame.reason = reason;
    reliable(frame);
  }

  function startProactiveChat(config, showPrechat) {
    var message = typeof config === 'string' ? config : config && typeof config.message === 'string' ? config.message : '';
    if (!message.trim()) message = t('defaultInvite');
    var id = newId();
    whenConnected(function () {
      if (stopped) return;
      if (closedNow()) refuseClosed(false);
      showInvite(id, message, !!showPrechat);
    });
  }

  // Shows an invite from the page (SDK) or from the server (an agent or a trigger rule), unless
  // a chat or another invite is on screen; every outcome is reported under the invite's id.
  function showInvite(id, message, showPrechat, expiryMs) {
    message = String(message || t('defaultInvite'));
    if (chatActive()) return reportInvite(id, 'suppressed', message, 'chat_active');
    // Never drawn over the chat window (an ended chat, the pre-chat survey): it would hide it.
    if (state.ui === 'open') return reportInvite(id, 'suppressed', message, 'chat_open');
    if (closedNow()) return reportInvite(id, 'suppressed', message, 'queue_closed');
    if (state.invite) return reportInvite(id, 'suppressed', message, 'invite_active');
    var invite = { id: id, message: message, showPrechat: showPrechat };
    invite.timer = setTimeout(function () { endInvite(invite, 'expired'); },
      Number(expiryMs) || Number(state.widget.invite_expiry_ms) || 60000);
    state.invite = invite;
    whenMounted(renderInvite);
    reportInvite(id, 'shown', message);
  }

  function endInvite(invite, outcome) {
    if (state.invite !== invite) return;
    clearTimeout(invite.timer);
    // A keyboard user in the invite keeps a place to be: the launcher, not the page's body.
    var hadFocus = !!(inviteEl && root && inviteEl.contains(root.activeElement));
    state.invite = null;
    renderInvite();
    if (hadFocus && outcome !== 'accepted' && launcher && !launcher.hidden) launcher.focus();
    reportInvite(invite.id, outcome, invite.message);
    if (outcome === 'accepted') {
      beginChat({ proactive: true, inviteId: invite.id, showPrechat: invite.showPrechat });
    }
  }

  // ---- the page-side UI: host element, launcher, invite -------------------------------------
  var host = null, root = null, launcher = null, badge = null, inviteEl = null, live = null;
  var mounted = false, mountedFns = [];

  var CSS =
    // !important: the page's own !important rules (e.g. `* {letter-spacing: 3px !important}`)
    // match the host element too, and only an inner !important outranks them.
    ':host{all:initial!important}' +
    '*{box-sizing:border-box;font-family:var(--bk-font)}' +
    'button{font:inherit;cursor:pointer}' +
    'button:focus-visible{outline:3px solid var(--bk-accent);outline-offset:2px}' +
    '.launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;' +
      'background:var(--bk-accent);color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25);pointer-events:auto}' +
    '.launcher svg{width:26px;height:26px;vertical-align:middle}' +
    '.badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;border-radius:11px;' +
      'background:#c62828;color:#fff;font-size:12px;line-height:22px;font-weight:700}' +
    '.invite{position:fixed;right:20px;bottom:88px;width:320px;max-width:calc(100vw - 40px);padding:16px 16px 12px;' +
      'background:#fff;color:#1a1a1a;border-radius:12px;box-shadow:0 6px 24px rgba(0,0,0,.25);font-size:15px;' +
      'line-height:1.4;animation:bk-in .2s ease-out}' +
    '.invite p{margin:0 24px 12px 0;white-space:pre-wrap;overflow-wrap:anywhere}' +
    '.row{display:flex;gap:8px;justify-content:flex-end}' +
    '.btn{border-radius:8px;padding:8px 14px;border:1px solid var(--bk-accent);background:#fff;color:var(--bk-accent)}' +
    '.btn.primary{background:var(--bk-accent);color:#fff}' +
    '.x{position:absolute;top:6px;right:6px;width:32px;height:32px;border:0;background:none;font-size:22px;color:#555;border-radius:6px}' +
    '.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}' +
    '[hidden]{display:none!important}' +
    '@keyframes bk-in{from{opacity:0;transform:translateY(8px)}}' +
    '@media (prefers-reduced-motion:reduce){*{animation:none!important;transition:none!important}}';

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }

  function mount() {
    // A custom element name so that generic host-page selectors (div, section...) never match it.
    host = el('beckon-widget', { 'data-beckon': '' });
    // Fixed and zero-sized: the widget never takes layout space or shifts the page.
    host.style.cssText = 'position:fixed;right:0;bottom:0;width:0;height:0;overflow:visible;z-index:2147483000;display:block';
    root = host.attachShadow({ mode: 'open' });
    root.appendChild(el('style', {}, CSS));
    live = el('div', { 'class': 'sr', role: 'status', 'aria-live': 'polite' });
    root.appendChild(live);

    launcher = el('button', { 'class': 'launcher', type: 'button', 'aria-label': t('open') });
    launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true" fill="currentColor"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
    badge = el('span', { 'class': 'badge', hidden: '' });
    launcher.appendChild(badge);
    launcher.addEventListener('click', function () {
      if (state.ui === 'open') showWindow('min', true);
      else if (state.ui === 'min') showWindow('open', true);
      else if (state.offline) showOffline(false);
      else beginChat({});
    });
    root.appendChild(launcher);
    (document.body || document.documentElement).appendChild(host);
    applyTheme();
    renderLauncher();
    mounted = true;
    mountedFns.forEach(function (fn) { fn(); });
    mountedFns = [];
  }
  function whenMounted(fn) { if (mounted) fn(); else mountedFns.push(fn); }

  function applyTheme() {
    if (!host) return;
    host.style.setProperty('--bk-accent', options.color || state.widget.color || '#2151c4');
    host.style.setProperty('--bk-font', options.font || state.widget.font_family ||
      'system-ui,-apple-system,"Segoe UI",Roboto,sans-serif');
  }

  function renderLauncher() {
    if (!launcher) return;
    launcher.hidden = state.ui === 'closed' && (options.hideButton || (closedNow() && hideOffHours()));
    if (launcher.hidden && state.offline) showOffline(false);
    var n = state.ui === 'open' ? 0 : state.unread;
    badge.hidden = !n;
    badge.textContent = n > 99 ? '99+' : String(n);
    var open = state.ui === 'open' || state.offline;
    launcher.setAttribute('aria-expanded', String(open));
    launcher.setAttribute('aria-label', (open ? (state.offline ? t('close') : t('minimise')) : t('open')) +
      (n ? ', ' + t(n > 1 ? 'unreadN' : 'unread1', n) : ''));
  }

  function renderInvite() {
    var invite = state.invite;
    if (inviteEl) { inviteEl.remove(); inviteEl = null; }
    if (!invite || !root) return;
    inviteEl = el('div', { 'class': 'invite', role: 'alertdialog', 'aria-labelledby': 'bk-invite-text', 'aria-modal': 'false' });
    var text = el('p', { id: 'bk-invite-text' }, invite.message);
    var close = el('button', { 'class': 'x', type: 'button', 'aria-label': t('closeInvite') }, '\u00d7');
    var accept = el('button', { 'class': 'btn primary', type: 'button', 'data-action': 'accept' }, t('chatNow'));
    var decline = el('button', { 'class': 'btn', type: 'button', 'data-action': 'decline' }, t('noThanks'));
    var row = el('div', { 'class': 'row' });
    row.appendChild(decline);
    row.appendChild(accept);
    inviteEl.appendChild(close);
    inviteEl.appendChild(text);
    inviteEl.appendChild(row);
    accept.addEventListener('click', function () { endInvite(invite, 'accepted'); });
    decline.addEventListener('click', function () { endInvite(invite, 'declined'); });
    close.addEventListener('click', function () { endInvite(invite, 'declined'); });
    inviteEl.addEventListener('keydown', function (e) { if (e.key === 'Escape') endInvite(invite, 'declined'); });
    root.appendChild(inviteEl);
    // Announce it without stealing focus from what the visitor is doing; Tab reaches the buttons.
    live.textContent = '';
    setTimeout(function () { live.textContent = t('invitation', invite.message); }, 50);
  }

  // The out-of-hours panel: the widget's offline message and when the chat opens again, in the
  // visitor's locale and time zone. Small enough to live here: a closed site never loads chat.js.
  var offlineEl = null;
  function showOffline(on) {
    if (!root || on === !!offlineEl) return;
    state.offline = on;
    if (!on) { offlineEl.remove(); offlineEl = null; renderLauncher(); return; }
    offlineEl = el('div', { 'class': 'invite', role: 'dialog', 'aria-label': adminText('title') || t('title') });
    var close = el('button', { 'class': 'x', type: 'button', 'aria-label': t('close') }, '\u00d7');
    close.addEventListener('click', function () { showOffline(false); launcher.focus(); });
    offlineEl.addEventListener('keydown', function (e) { if (e.key === 'Escape') { showOffline(false); launcher.focus(); } });
    offlineEl.appendChild(close);
    offlineEl.appendChild(el('p', {}, adminText('offline_message') || t('away')));
    var at = state.queue.opens_at;
    if (at) {
      var when = new Date(at).toLocaleString(locale, { weekday: 'long', month: 'long', day: 'numeric', hour: 'numeric', minute: '2-digit' });
      offlineEl.appendChild(el('p', { 'class': 'opens' }, t('opensAgain', when)));
    }
    var leave = el('button', { 'class': 'btn primary', type: 'button' }, t('leave'));
    leave.addEventListener('click', offerLeaveMessage);
    offlineEl.appendChild(el('div', { 'class': 'row' }));
    offlineEl.lastChild.appendChild(leave);
    root.appendChild(offlineEl);
    renderLauncher();
    close.focus();
  }

  // ---- the chat window (chat.js) ---------------------------------------------------------------
  var chatUi = null, chatLoading = false, chatWaiting = [];
  function ensureChatUi(fn) {
    if (chatUi) { if (fn) fn(chatUi); return; }
    if (fn) chatWaiting.push(fn);
    if (chatLoading) return;
    chatLoading = true;
    var s = document.createElement('script');
    s.src = orgUrl + '/widget/chat.js';
    s.async = true;
    if (script && script.nonce) s.nonce = script.nonce;
    s.onerror = function () {
      chatLoading = false;
      chatWaiting = [];
      lcwError(7, 'Widget failed to load: could not load ' + s.src);
    };
    (document.head || document.documentElement).appendChild(s);
  }

  function showWindow(mode, user) {
    var before = state.ui;
    state.ui = mode;
    save('ui', mode);
    if (mode === 'open') state.unread = 0;
    whenMounted(function () {
      ensureChatUi(function (ui) { ui.show(mode, user); });
      renderLauncher();
    });
    if (before === 'open' && mode === 'min') lcw('onMinimize', {});
    if (before === 'min' && mode === 'open') lcw('onMaximize', {});
    if (before === 'closed' && mode === 'open' && user) lcw('onMaximize', {});
  }
  function hideWindow() {
    state.ui = 'closed';
    save('ui', null);
    state.unread = 0;
    if (chatUi) chatUi.show('closed');
    renderLauncher();
  }

  // What chat.js gets: the state and the actions. Not a public API.
  var core = {
    version: 1,
    state: state,
    options: options,
    // The widget's language (en, fr), the visitor's locale for dates, and an admin's text in it.
    get lang() { return lang; },
    get locale() { return locale; },
    adminText: adminText,
    get root() { return root; },
    subscribe: function (fn) { subscribers.push(fn); },
    register: function (factory) {
      if (chatUi) return;
      chatUi = factory(core);
      chatLoading = false;
      var fns = chatWaiting;
      chatWaiting = [];
      fns.forEach(function (fn) { fn(chatUi); });
    },
    submitStart: submitStart,
    send: sendMessage,
    sendFile: sendFile,
    retry: retry,
    // For fetching files of the visitor's chats (chat.js).
    orgUrl: orgUrl,
    token: function () { return load('token'); },
    typing: function () { sendTyping(true); },
    closeChat: closeChat,
    endRated: function (score) { closeChat(score); },
    minimize: function () { showWindow('min', true); },
    newChat: function () { closeChat(); beginChat({}); },
    offerLeaveMessage: offerLeaveMessage,
    rate: rate,
    emailTranscript: emailTranscript,
    leaveMessage: leaveMessage,
    cancelLeave: cancelLeave
  };
  window[PRIVATE] = core;

  // ---- public APIs ------------------------------------------------------------------------------
  // Asks the server (get_availability) about the queue this visitor's chat goes to. Resolves
  // with nulls if the server can't be reached. Times are Unix ms, as the server sends them.
  var availabilityWaiting = [];
  function getAgentAvailability() {
    return new Promise(function (resolve) {
      whenConnected(function () {
        if (!state.connected) return resolve(availabilityDetail({}));
        availabilityWaiting.push(resolve);
        rawSend({ type: 'get_availability', rid: 'availability' });
      });
    });
  }
  function availabilityDetail(f) {
    var seen = function (v) { return v === undefined ? null : v; };
    return {
      queueId: seen(f.queue_id),
      isQueueAvailable: seen(f.is_queue_available),
      isAgentAvailable: seen(f.is_agent_available),
      positionInQueue: seen(f.position_in_queue),
      averageWaitTime: seen(f.average_wait_time_s),
      StartTimeOfNextOperatingHour: seen(f.start_time_of_next_operating_hour),
      EndTimeOfNextOperatingHour: seen(f.end_time_of_next_operating_hour)
    };
  }
  function onAvailability(f) {
    var detail = availabilityDetail(f), fns = availabilityWaiting;
    availabilityWaiting = [];
    lcw('getAgentAvailability', detail);
    fns.forEach(function (fn) { fn(detail); });
  }
  function requireFunction(fn, what) {
    if (typeof fn !== 'function') throw new TypeError(what + ' must be a function');
  }

  var SDK = {
    // The provider is called when a chat starts (SDK.md), and also when it is set and on each
    // route change, so that trigger rules can use its values (set_context).
    setContextProvider: function (fn) { requireFunction(fn, 'The context provider'); setProvider(fn); },
    getContextProvider: function () { return contextProvider; },
    removeContextProvider: function () { setProvider(null); },
    setAuthTokenProvider: function (fn) { requireFunction(fn, 'The auth token provider'); authTokenProvider = fn; },
    getAuthTokenProvider: function () { return authTokenProvider; },
    removeAuthTokenProvider: function () { authTokenProvider = null; },
    // inNewWindow is accepted and ignored: the chat opens in the page.
    startChat: function (opts) { beginChat({ customContext: opts && opts.customContext }); },
    startProactiveChat: startProactiveChat,
    closeChat: closeChat,
    getAgentAvailability: getAgentAvailability
  };
  /** @type {any} */
  var ms = window.Microsoft = window.Microsoft || {};
  /** @type {any} */
  var oc = ms.Omnichannel = ms.Omnichannel || {};
  /** @type {any} */
  var lw = oc.LiveChatWidget = oc.LiveChatWidget || {};
  lw.SDK = SDK;

  // Beckon's own global, the SDK's equivalent in shorter names:
  //   setContext(objectOrFunction|null), setAuthTokenProvider(fn), startChat({context}),
  //   invite(message, {prechat}), closeChat(), open(), minimize(), availability() (a Promise),
  //   on(event, fn) (returns an unsubscribe function), and
  //   track(name, data): tells the server the page's own event `name` (1-100 characters) happened,
  //     e.g. Beckon.track('added-to-cart'); trigger rules with an `event` condition use it. `data`
  //     (optional, JSON, at most 4,000 characters) travels along. Throws TypeError when invalid.
  window.Beckon = {
    version: '1',
    setContext: function (ctx) {
      if (typeof ctx === 'function' || ctx == null) setProvider(ctx || null);
      else { var copy = JSON.parse(JSON.stringify(ctx)); setProvider(function () { return copy; }); }
    },
    track: function (name, data) {
      var n = typeof name === 'string' ? Array.from(name).length : 0, json = '';
      try { json = JSON.stringify(data) || (data === undefined ? '' : null); } catch (e) { json = null; }
      if (n < 1 || n > 100 || json == null || json.length > 4000) {
        throw new TypeError('Beckon.track(name, data): name must be 1-100 characters, data JSON of at most 4,000');
      }
      var frame = { type: 'track', name: name, data: data };
      if (state.connected) rawSend(frame);
      else if (tracked.push(frame) > 20) tracked.shift();
    },
    setAuthTokenProvider: SDK.setAuthTokenProvider,
    startChat: function (opts) { beginChat({ customContext: opts && opts.context }); },
    invite: function (message, opts) { startProactiveChat({ message: message }, !!(opts && opts.prechat)); },
    closeChat: closeChat,
    open: function () { if (chatActive()) showWindow('open', true); else beginChat({}); },
    minimize: function () { if (state.ui === 'open') showWindow('min', true); },
    availability: getAgentAvailability,
    // Beckon.on('message', fn) is like addEventListener('lcw:onMessageReceived'); returns an unsubscribe.
    on: function (event, fn) {
      requireFunction(fn, 'The listener');
      var alias = { message: 'onMessageReceived', sent: 'onMessageSent', close: 'onClose', minimize: 'onMinimize', maximize: 'onMaximize', ended: 'threadUpdate' };
      var name = 'lcw:' + (alias[event] || String(event).replace(/^lcw:/, ''));
      var listener = function (e) { fn(e.detail, e); };
      window.addEventListener(name, listener);
      if (name === 'lcw:ready' && readyFired) setTimeout(function () { fn({}); }, 0);
      return function () { window.removeEventListener(name, listener); };
    }
  };

  // ---- start -------------------------------------------------------------------------------------
  // lcw:ready fires after DOMContentLoaded and one more task, i.e. after every inline, deferred
  // and DOMContentLoaded-time script of the page has had the chance to add its listener.
  function boot() {
    mount();
    setTimeout(function () {
      readyFired = true;
      lcw('ready', {});
      var held = heldEvents;
      heldEvents = [];
      held.forEach(function (ev) { lcw(ev[0], ev[1]); });
    }, 0);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else setTimeout(boot, 0);

  if (!widgetKey) {
    stop('Widget failed to load: the script tag has no data-app-id (or data-widget-id).');
  } else {
    connect();
  }
})(window, document);
