// The agent side of a test: signs in with the demo agent's credentials (POST /v1/agent/login)
// and opens the agent WebSocket (/v1/agent/ws) from a page on the server's own origin, so the
// browser carries the session cookie exactly as the console would. Frames are handed to Node
// as they arrive; tests wait on them with waitFor(), never with sleeps.
'use strict';

const WAIT_MS = 15_000;

class Agent {
  constructor(context, page) {
    this.context = context;
    this.page = page;
    this.frames = [];
    this.waiters = [];
    this.msgId = 0;
  }

  /** Signs in, connects, and sets presence to available (so offers come). */
  static async connect(browser, server) {
    if (!server.login) throw new Error('the server printed no demo agent login');
    const context = await browser.newContext();
    const page = await context.newPage();
    const agent = new Agent(context, page);
    await page.exposeFunction('agentFrame', (f) => agent.onFrame(f));
    // Behind the cluster test's nginx, the node that took the socket (its X-Beckon-Node header).
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
      agent.socketNode = e.response.headers['X-Beckon-Node'] || e.response.headers['x-beckon-node'] || null;
    });
    await page.goto(`${server.url}/healthz`);
    const login = await page.evaluate(async (creds) => {
      const r = await fetch('/v1/agent/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(creds),
      });
      return { status: r.status, body: await r.text() };
    }, server.login);
    if (login.status !== 200) throw new Error(`agent login failed: ${login.status} ${login.body}`);
    await page.evaluate(() => new Promise((resolve, reject) => {
      const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/v1/agent/ws');
      window.agentSocket = ws;
      ws.onmessage = (e) => window.agentFrame(JSON.parse(e.data));
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error('the agent WebSocket failed to open'));
    }));
    await agent.waitFor((f) => f.type === 'welcome');
    await agent.send({ type: 'presence', status: 'available' });
    await agent.waitFor((f) => f.type === 'presence' && f.status === 'available');
    return agent;
  }

  onFrame(frame) {
    this.frames.push(frame);
    for (const w of this.waiters.slice()) {
      if (w.pred(frame)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(frame);
      }
    }
  }

  send(frame) {
    return this.page.evaluate((f) => window.agentSocket.send(JSON.stringify(f)), frame);
  }

  /** Index to pass as `since` to wait only for frames received from now on. */
  mark() {
    return this.frames.length;
  }

  /** The first frame (received at or after index `since`) that matches. */
  waitFor(pred, { since = 0, timeout = WAIT_MS, what = 'a matching frame' } = {}) {
    const found = this.frames.slice(since).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        const recent = this.frames.slice(-8).map((f) => JSON.stringify(f).slice(0, 300)).join('\n  ');
        reject(new Error(`agent: no ${what} within ${timeout} ms; last frames:\n  ${recent}`));
      }, timeout);
      this.waiters.push(w);
    });
  }

  /** Waits for the next offer, accepts it, and resolves to the now active conversation. */
  async acceptOffer({ since = 0 } = {}) {
    const offer = await this.waitFor((f) => f.type === 'offer', { since, what: 'offer' });
    const id = offer.conversation.id;
    const mark = this.mark();
    await this.send({ type: 'accept', conversation_id: id });
    const chat = await this.waitFor(
      (f) => f.type === 'chat' && f.conversation.id === id && f.conversation.state === 'active',
      { since: mark, what: `active chat ${id}` },
    );
    return { offer: offer.conversation, conversation: chat.conversation };
  }

  /** Sends a chat message and resolves when the server acknowledged it. */
  async say(conversationId, text) {
    const clientMsgId = `agent-${Date.now()}-${++this.msgId}`;
    const mark = this.mark();
    await this.send({ type: 'send', conversation_id: conversationId, client_msg_id: clientMsgId, text });
    return this.waitFor((f) => f.type === 'ack' && f.client_msg_id === clientMsgId, { since: mark, what: 'ack' });
  }

  /**
   * Calls the HTTP API as this agent (its session cookie; the demo agent is an admin), e.g.
   * `api('PUT', '/v1/admin/queues/1/hours', {hours})`. Resolves to {status, body} (JSON parsed
   * when it is JSON), whatever the status.
   */
  api(method, path, body) {
    return this.page.evaluate(async ({ method, path, body }) => {
      const r = await fetch(path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      let parsed = text;
      try { parsed = JSON.parse(text); } catch (_) { /* not JSON */ }
      return { status: r.status, body: parsed };
    }, { method, path, body });
  }

  /** Like api(), but throws unless the status is 2xx; resolves to the body. */
  async call(method, path, body) {
    const r = await this.api(method, path, body);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Messages of a conversation the agent received, by text (visitor messages by default). */
  messages(conversationId, kind = 'visitor') {
    return this.frames
      .filter((f) => f.type === 'message' && f.message.conversation_id === conversationId && f.message.sender.kind === kind)
      .map((f) => f.message);
  }

  async close() {
    await this.context.close();
  }
}

module.exports = { Agent };
