// The demo site's no-code pages (web/demo/no-code.html, pricing.html) with the trigger rules that
// `beckon demo` seeds (crates/beckon-server/src/demo/trigger_rules.json): the pages carry no chat
// code besides the script tag (and one Beckon.track call on a button), and the seeded rules
// invite. The server's clock is real time: tests wait for the server's facts, never sleep.
'use strict';
const { test, expect, widget, waitForLcw } = require('../lib/fixtures');

/** The scripts of the page: only the widget's tag. */
async function scriptsOf(page) {
  return page.evaluate(() => [...document.scripts].map((s) => (s.src ? new URL(s.src).pathname : 'inline')));
}

/** The visitor's time on the current page as the server counts it (the pricing rule's condition). */
async function secondsOnPage(agent, visitorId) {
  const { rules } = await agent.call('GET', `/v1/agent/visitors/${visitorId}/why`);
  const pricing = rules.find((r) => r.name === 'Pricing: 8 s on the page');
  const time = pricing.conditions.children.find((c) => c.description.startsWith('time on page'));
  return parseInt(time.observed, 10);
}

test('no-code demo page: "Add to cart" calls Beckon.track, and the seeded event rule invites', async ({ beckon, page }) => {
  const w = widget(page);
  await page.goto(`${beckon.url}/demo/no-code.html`);
  await waitForLcw(page, 'ready');
  expect(await scriptsOf(page)).toEqual(['/widget.js']);
  await expect(page.getByText('This page has no chat code besides the script tag')).toBeVisible();
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await expect(w.inviteText).toHaveText('Nice choice! Questions about delivery or returns?');
});

test('no-code demo page: leaving through the top after 5 s on the page invites', async ({ beckon, page, agent }) => {
  const w = widget(page);
  await page.goto(`${beckon.url}/demo/no-code.html`);
  await waitForLcw(page, 'ready');
  // After 5 s of visible time on the page (as the server counts it), leaving invites.
  const f = await agent.waitFor((f) => f.type === 'visitor' && f.visitor.page && f.visitor.page.url.endsWith('/demo/no-code.html'));
  await expect.poll(() => secondsOnPage(agent, f.visitor.visitor_id), { timeout: 15_000 }).toBeGreaterThanOrEqual(5);
  await page.mouse.move(400, 300);
  await page.mouse.move(400, -5);
  await expect(w.inviteText).toHaveText('Before you go: any questions we can answer?');
});

test('pricing demo page: invited after 8 s on the page, from the home page\'s link', async ({ beckon, page }) => {
  const w = widget(page);
  await page.goto(`${beckon.url}/demo/`);
  await page.getByRole('link', { name: /Pricing page/ }).click();
  await expect(page).toHaveURL(/\/demo\/pricing\.html$/);
  await waitForLcw(page, 'ready');
  expect(await scriptsOf(page)).toEqual(['/widget.js']);
  await expect(w.invite).toHaveCount(0);
  await expect(w.inviteText).toHaveText('Comparing plans? I can help you pick the right one.', { timeout: 20_000 });
});
