// No-code proactive triggers (issue 5) in the browser: rules saved through the admin API
// (PUT /v1/admin/trigger-rules) invite visitors on a page whose only Beckon code is the script
// tag. The widget reports page signals (visible time, exit intent, route changes, track(),
// context) and shows the server's invites; the server decides. The server's clock is real time
// here, so time rules are short (2 s) and tests wait for the invite to appear, never sleep.
'use strict';
const { test, expect, widget, waitForLcw, lcwEvents } = require('../lib/fixtures');

const PAGE = 'plain.html';

/** Replaces the organisation's trigger rules (the demo agent is an admin). */
function saveRules(agent, rules) {
  return agent.call('PUT', '/v1/admin/trigger-rules', { rules });
}

/** A rule in the rules crate's JSON form: id, name, conditions, invite message. */
function rule(id, conditions, message, extra = {}) {
  return { id, name: `Test rule ${id}`, conditions, invite: { message }, ...extra };
}

const ON_PAGE = { page_url: { op: 'contains', value: `/${PAGE}` } };

/** Waits until the widget holds a welcomed connection (so page signals go out at once). */
async function connected(page) {
  await waitForLcw(page, 'ready');
  await expect.poll(() => page.evaluate(() => window.__beckonWidget.state.connected)).toBe(true);
}

/** The live visitor's id, once the agent sees them on a page whose URL contains `part`. */
async function liveVisitor(agent, part) {
  const f = await agent.waitFor((f) => f.type === 'visitor' && f.visitor.page && f.visitor.page.url.includes(part),
    { what: `live visitor on ${part}` });
  return f.visitor.visitor_id;
}

/** Records every frame the widget sends (window.__sent), from before any page script runs. */
function recordSent(target) {
  return target.addInitScript(() => {
    window.__sent = [];
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) { window.__sent.push(JSON.parse(data)); return send.call(this, data); };
  });
}

/** The frames of type `type` the widget has sent so far. */
function sent(page, type) {
  return page.evaluate((t) => window.__sent.filter((f) => f.type === t), type);
}

/** One rule's line of the agent's "why" view of a visitor. */
async function why(agent, visitorId, ruleId) {
  const body = await agent.call('GET', `/v1/agent/visitors/${visitorId}/why`);
  return body.rules.find((r) => r.rule_id === ruleId || r.id === ruleId);
}

test('a time rule invites after 2 s on a page with no chat code; accepting gives the agent a proactive chat', async ({ site, page, agent }) => {
  const w = widget(page);
  const message = 'Hi! You have been looking at this product for a while. Any questions?';
  await saveRules(agent, [rule(1, { all: [ON_PAGE, { time_on_page: { at_least_s: 2 } }] }, message)]);
  await page.goto(site(PAGE));
  await waitForLcw(page, 'ready');
  const readyAt = Date.now();
  await expect(w.invite).toHaveCount(0);
  await expect(w.inviteText).toHaveText(message);
  expect(Date.now() - readyAt).toBeGreaterThanOrEqual(1_500);

  await w.accept.click();
  await expect(w.invite).toBeHidden();
  const { offer, conversation } = await agent.acceptOffer();
  expect(offer.proactive).toBe(true);
  const start = await waitForLcw(page, 'startChat');
  expect(start.detail).toMatchObject({ conversationId: conversation.id, proactive: true });
  const panel = await agent.call('GET', `/v1/agent/conversations/${conversation.id}/visitor`);
  expect(panel.invite).toMatchObject({ source: 'rule:1', message });
  await expect.poll(async () => {
    const { rows } = await agent.call('GET', '/v1/admin/analytics/invites');
    return rows.filter((r) => r.source === 'rule:1').map((r) => [r.shown, r.accepted, r.conversations]);
  }).toEqual([[1, 1, 1]]);
});

test('a hidden tab does not count as time on the page', async ({ site, page, agent }) => {
  const w = widget(page);
  const message = 'Two seconds of real attention.';
  await saveRules(agent, [
    rule(1, { all: [ON_PAGE, { time_on_page: { at_least_s: 2 } }] }, message),
    // Never fires (disabled); its condition in the "why" view shows the server's clock passing.
    rule(2, { time_on_site: { at_least_s: 3 } }, 'witness', { enabled: false }),
  ]);
  // The tab is in the background from the start (Chromium has no real background tab when
  // headless, so document.visibilityState is stubbed before any script runs).
  await page.addInitScript(() => {
    window.__visibility = 'hidden';
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => window.__visibility });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => window.__visibility === 'hidden' });
  });
  await page.goto(site(PAGE));
  await connected(page);
  const visitorId = await liveVisitor(agent, PAGE);

  // Over 3 s pass on the server while the tab is hidden: the page clock stays at 0 and is not even
  // scheduled to reach 2 s.
  await expect.poll(async () => (await why(agent, visitorId, 2)).conditions.holds, { timeout: 15_000 }).toBe(true);
  const hidden = (await why(agent, visitorId, 1)).conditions.children[1];
  expect(hidden).toMatchObject({ holds: false, observed: '0 s' });
  expect(hidden.changes_at == null).toBe(true);
  await expect(w.invite).toHaveCount(0);

  // Back in front: 2 s later the invite comes.
  await page.evaluate(() => {
    window.__visibility = 'visible';
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await expect(w.inviteText).toHaveText(message);
});

test('exit intent: the pointer leaving through the top of the page fires the rule', async ({ site, page, agent }) => {
  const w = widget(page);
  const message = 'Before you go: can we help?';
  await saveRules(agent, [rule(1, { all: [ON_PAGE, { exit_intent: { after_s: 0 } }] }, message)]);
  await recordSent(page);
  await page.goto(site(PAGE));
  await connected(page);
  // Moving about inside the page is no exit intent.
  await page.mouse.move(300, 300);
  await page.mouse.move(300, 5);
  await page.mouse.move(5, 300);
  expect(await sent(page, 'exit_intent')).toEqual([]);
  await expect(w.invite).toHaveCount(0);
  // Through the top, towards the tabs and the address bar.
  await page.mouse.move(300, -5);
  await expect(w.inviteText).toHaveText(message);
});

test('following a link hides the page, but that is no exit intent; hiding the tab is', async ({ site, page, agent }) => {
  const w = widget(page);
  const message = 'Switching tabs? We are here if you need us.';
  await saveRules(agent, [rule(1, { exit_intent: { after_s: 0 } }, message, { limits: { frequency: 'once_per_page_view' } })]);
  await page.goto(site(PAGE));
  await connected(page);
  // Leaving the page (the browser hides it as it unloads) offers nothing.
  await page.goto(site('shop.html'));
  await connected(page);
  await liveVisitor(agent, 'shop.html');
  // The tab goes to the background: exit intent, and the invite waits there.
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await expect(w.inviteText).toHaveText(message);
  const { rows } = await agent.call('GET', '/v1/admin/analytics/invites');
  expect(rows.filter((r) => r.source === 'rule:1').map((r) => [r.offered, r.shown])).toEqual([[1, 1]]);
});

test('a single-page-app route change (history.pushState) to a matching URL fires the rule', async ({ site, page, agent }) => {
  const w = widget(page);
  const message = 'Comparing plans? Ask us anything.';
  await saveRules(agent, [rule(1, { page_url: { op: 'ends_with', value: '/app/pricing' } }, message)]);
  await page.goto(site(PAGE));
  await connected(page);
  const visitorId = await liveVisitor(agent, PAGE);
  await expect(w.invite).toHaveCount(0);

  // The app's router changes the URL and the title; no page load.
  await page.evaluate(() => {
    history.pushState({}, '', '/app/pricing');
    document.title = 'Pricing';
  });
  await expect(w.inviteText).toHaveText(message);
  // The server saw it as a page view, with the title set in the same task and the previous route as
  // the referrer.
  const live = await agent.waitFor((f) => f.type === 'visitor' && f.visitor.visitor_id === visitorId &&
    f.visitor.page && f.visitor.page.url.endsWith('/app/pricing'), { what: 'the route change in the live list' });
  expect(live.visitor.page).toMatchObject({ title: 'Pricing', referrer: site(PAGE) });
});

test('Beckon.track() reports a page event that an event rule fires on', async ({ site, page, agent }) => {
  const w = widget(page);
  const message = 'Good choice! Questions about delivery?';
  await saveRules(agent, [rule(1, { event: { name: 'added-to-cart' } }, message)]);
  await page.goto(site(PAGE));
  await connected(page);
  await page.evaluate(() => Beckon.track('viewed-reviews', { stars: 5 }));
  await expect(w.invite).toHaveCount(0);
  // Bad arguments are refused on the spot.
  const refused = await page.evaluate(() => [() => Beckon.track(''), () => Beckon.track('x'.repeat(101)), () => Beckon.track(42)]
    .map((f) => { try { f(); return 'sent'; } catch (e) { return e.name; } }));
  expect(refused).toEqual(['TypeError', 'TypeError', 'TypeError']);
  await page.evaluate(() => Beckon.track('added-to-cart', { sku: 'SURFACE-PRO', quantity: 1 }));
  await expect(w.inviteText).toHaveText(message);
});

test('the context provider\'s values reach the rules: {context:Case Id} in the invite text', async ({ site, page, agent }) => {
  const w = widget(page);
  await saveRules(agent, [rule(1,
    { all: [ON_PAGE, { context: { name: 'Case Id', op: 'exists' } }] },
    'Hi! The status of the case {context:Case Id} is in progress. Would you like more details?')]);
  await page.goto(site(PAGE));
  await connected(page);
  const visitorId = await liveVisitor(agent, PAGE);

  // An invalid context is refused as for a chat (lcw:error 1) and nothing reaches the server.
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.setContextProvider(() => ({ 'Case Id': { value: { nested: 1 } } })));
  const error = await waitForLcw(page, 'error');
  expect(error.detail).toMatchObject({ errorCode: 1 });
  expect(error.detail.errorDescription).toContain('Case Id');
  expect((await why(agent, visitorId, 1)).conditions.children[1].observed).toBe('not set');
  await expect(w.invite).toHaveCount(0);

  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.setContextProvider(() => ({
    'Case Id': { value: 'CAS-01234-X7Q2', isDisplayable: true },
  })));
  await expect(w.inviteText).toHaveText('Hi! The status of the case CAS-01234-X7Q2 is in progress. Would you like more details?');
  expect(await lcwEvents(page, 'error')).toHaveLength(1);
});

test('while disconnected only the latest page state is kept, and it reaches the server after reconnecting', async ({ site, page, agent, beckon }) => {
  const w = widget(page);
  const message = 'Scrolled all the way and added to the cart: need a hand?';
  await saveRules(agent, [rule(1, { all: [ON_PAGE, { event: { name: 'added-to-cart' } }, { scroll_depth: { at_least_percent: 90 } }] },
    message, { limits: { require_free_agent: false } })]);
  await recordSent(page);
  await page.goto(site(PAGE));
  await connected(page);
  await agent.close();
  await beckon.stop({ keepData: true });
  await expect.poll(() => page.evaluate(() => window.__beckonWidget.state.connected)).toBe(false);

  // While the server is away: scrolling in steps, 30 events, the pointer leaving, the tab hidden and shown.
  for (const y of [500, 1000, 1500, 2000, 100_000]) {
    const at = await page.evaluate((to) => {
      window.scrollTo(0, to);
      return Math.min(to, document.documentElement.scrollHeight - window.innerHeight);
    }, y);
    await expect.poll(() => page.evaluate(() => Math.round(window.scrollY))).toBe(Math.round(at));
  }
  await page.evaluate(() => { for (let i = 0; i < 30; i++) Beckon.track('added-to-cart', { i }); });
  await page.mouse.move(300, 300);
  await page.mouse.move(300, -5);
  const sentWhileDown = await page.evaluate(() => window.__sent.length);

  const { startServer } = require('../lib/server');
  const again = await startServer({ dir: beckon.dir, bind: `127.0.0.1:${beckon.port}`, logFile: test.info().outputPath('beckon-2.log') });
  try {
    // The rules were stored: once the widget is back, what it reports makes the rule fire.
    await expect(w.inviteText).toHaveText(message, { timeout: 40_000 });
    const sent = (await page.evaluate(() => window.__sent)).slice(sentWhileDown);
    // The widget came back to the same page: a reconnect, not another view of it.
    expect(sent.filter((f) => f.type === 'hello').map((f) => f.reconnect)).toContain(true);
    const signals = sent.filter((f) => !['hello', 'ping', 'invite'].includes(f.type));
    expect(signals.filter((f) => f.type === 'scroll')).toEqual([{ type: 'scroll', percent: 100 }]);
    expect(signals.filter((f) => f.type === 'track').map((f) => f.data.i)).toEqual([...Array(20).keys()].map((i) => i + 10));
    // No stale exit intent; after a reconnect the page says whether it is visible.
    expect(signals.filter((f) => !['scroll', 'track'].includes(f.type))).toEqual([{ type: 'activity', visible: true }]);
  } finally {
    await again.stop();
  }
});

test('on a touch device a fast scroll up is exit intent', async ({ site, browser, agent }) => {
  const message = 'Leaving already? Tap to chat.';
  await saveRules(agent, [rule(1, { all: [ON_PAGE, { exit_intent: { after_s: 0 } }] }, message)]);
  const context = await browser.newContext({ isMobile: true, hasTouch: true, viewport: { width: 390, height: 700 } });
  try {
    await recordSent(context);
    const page = await context.newPage();
    await page.goto(site(PAGE));
    expect(await page.evaluate(() => matchMedia('(pointer: coarse)').matches)).toBe(true);
    await expect.poll(() => page.evaluate(() => !!(window.__beckonWidget && window.__beckonWidget.state.connected))).toBe(true);
    const w = widget(page);
    // Reading down the page, slowly: no exit intent.
    await page.evaluate(() => window.scrollTo(0, 2000));
    await page.evaluate(() => new Promise((done) => {
      let y = 2000;
      const step = () => { y -= 40; window.scrollTo(0, y); if (y > 1700) setTimeout(step, 100); else done(); };
      step();
    }));
    expect(await sent(page, 'exit_intent')).toEqual([]);
    await expect(w.invite).toHaveCount(0);
    // A flick up: 600 px in four frames.
    await page.evaluate(() => new Promise((done) => {
      let n = 0;
      const frame = () => { window.scrollBy(0, -150); if (++n < 4) requestAnimationFrame(frame); else requestAnimationFrame(done); };
      requestAnimationFrame(frame);
    }));
    await expect(w.inviteText).toHaveText(message);
    expect(await sent(page, 'exit_intent')).toHaveLength(1);
  } finally {
    await context.close();
  }
});
