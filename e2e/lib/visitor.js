// A visitor played from Node over the real visitor WebSocket, for tests whose subject is the agent
// console: it keeps every frame it received, so a test can wait for one that may already have come.
// Uses Node's global WebSocket when there is one (Node ≥ 22), else the `ws` implementation that
// @playwright/test already ships (playwright-core's `lib/utilsBundle`), so no extra dependency.
'use strict';

function WebSocketImpl() {
  if (typeof globalThis.WebSocket === 'function') return globalThis.WebSocket;
  return require('playwright-core/lib/utilsBundle').ws;
}

// One visitor socket. Keeps every frame it received, so a test can wait for a frame that may
// already have arrived.
class Visitor {
  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiters = [];
    this.closed = false;
    ws.addEventListener('message', (ev) => {
      const frame = JSON.parse(String(ev.data));
      this.frames.push(frame);
      for (const w of [...this.waiters]) {
        if (w.pred(frame)) { this.waiters.splice(this.waiters.indexOf(w), 1); clearTimeout(w.timer); w.resolve(frame); }
      }
    });
    ws.addEventListener('close', () => { this.closed = true; });
  }

  static async connect(baseUrl, hello) {
    const WS = WebSocketImpl();
    const ws = new WS(`${baseUrl.replace(/^http/, 'ws')}/v1/visitor/ws`);
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve);
      ws.addEventListener('error', () => reject(new Error('visitor socket failed to open')));
    });
    const v = new Visitor(ws);
    v.send({ type: 'hello', widget_id: 'beckon-demo', ...hello });
    v.welcome = await v.next((f) => f.type === 'welcome' || f.type === 'error');
    if (v.welcome.type !== 'welcome') throw new Error(`hello refused: ${JSON.stringify(v.welcome)}`);
    return v;
  }

  send(frame) { this.ws.send(JSON.stringify(frame)); }

  // The first frame (already received or still to come) matching `pred` and not yet consumed
  // by an earlier `next` call with the same predicate semantics.
  next(pred, timeoutMs = 15000) {
    const found = this.frames.find((f) => !f.__taken && pred(f));
    if (found) { found.__taken = true; return Promise.resolve(found); }
    return new Promise((resolve, reject) => {
      const w = {
        pred: (f) => { if (!f.__taken && pred(f)) { f.__taken = true; return true; } return false; },
        resolve,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          reject(new Error(`visitor: no matching frame in ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-8))}`));
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  messages() {
    const bySeq = new Map();
    for (const f of this.frames) if (f.type === 'message') bySeq.set(f.message.seq, f.message);
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  close() { try { this.ws.close(); } catch (_) { /* closed */ } }
}

module.exports = { Visitor };
