// An offer as an agent meets it in real Chromium: a visible countdown ("Accept within 30 s") on
// the card, and — once the agent allowed desktop notifications from the console's button — the
// browser's notification while the console is in the background, for a new offer and for a
// visitor's message. The page's Notification is wrapped only to record what the console showed.
'use strict';
const { test, expect, widget, waitForLcw, fillDemoPrechat, visitorSays, signInConsole } = require('../lib/fixtures');

async function recordNotifications(context) {
  await context.addInitScript(() => {
    window.__notes = [];
    const N = window.Notification;
    if (!N) return;
    class Recorded extends N {
      constructor(title, opts) {
        super(title, opts);
        window.__notes.push({ title, body: opts && opts.body, tag: opts && opts.tag });
      }
    }
    Object.defineProperty(Recorded, 'permission', { get: () => N.permission });
    Recorded.requestPermission = (...a) => N.requestPermission(...a);
    window.Notification = Recorded;
  });
}

test('the notifications button asks the browser once', async ({ beckon, browser }) => {
  const ctx = await browser.newContext();
  const con = await ctx.newPage();
  await signInConsole(con, beckon.url, beckon.login.email, beckon.login.password);
  const button = con.getByRole('button', { name: 'Desktop notifications' });
  await expect(button).toBeVisible();
  await button.click();
  // Headless Chromium answers the request itself; whatever it says, the console does not ask again.
  await expect(button).toBeHidden();
  await expect(con.locator('.toast', { hasText: /Desktop notifications are (on|off)/ })).toBeVisible();
  await ctx.close();
});

test('an offer counts down, and in the background the agent gets desktop notifications', async ({ beckon, site, browser, page }) => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await ctx.grantPermissions(['notifications'], { origin: beckon.url });
  await recordNotifications(ctx);
  const con = await ctx.newPage();
  await signInConsole(con, beckon.url, beckon.login.email, beckon.login.password);
  await expect(con.getByRole('button', { name: 'Desktop notifications' })).toBeHidden();
  await con.getByLabel('Status').selectOption('available');
  await expect(con.locator('.presence')).toHaveAttribute('data-status', 'available');

  // The console goes to the background (another tab in front). Playwright makes every page
  // look focused; without that emulation, focus follows the tab in front as in a real browser.
  const cdp = await ctx.newCDPSession(con);
  await cdp.send('Emulation.setFocusEmulationEnabled', { enabled: false });
  const other = await ctx.newPage();
  await other.bringToFront();
  await expect.poll(() => con.evaluate(() => document.hasFocus())).toBe(false);

  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await w.launcher.click();
  await fillDemoPrechat(page, 'Amy');

  const card = con.locator('.offer-card');
  await expect(card).toHaveCount(1);
  await expect(card.locator('.offer-countdown')).toHaveText(/^Accept within (30|29|28|27) s$/);
  await expect.poll(() => con.evaluate(() => window.__notes.map((n) => n.title))).toEqual(['New chat: Amy']);
  const [offerNote] = await con.evaluate(() => window.__notes);
  expect(offerNote.body).toBe('What is your question about?: Products');
  expect(offerNote.tag).toMatch(/^beckon-offer-\d+$/);

  // Back in front: the agent accepts; no notification while the console has focus.
  await con.bringToFront();
  await card.getByRole('button', { name: 'Accept' }).click();
  await expect(w.log.getByText(/joined the chat\./)).toBeVisible();
  await visitorSays(page, 'Hello while you look');
  await expect(con.locator('.bubble', { hasText: 'Hello while you look' })).toBeVisible();
  expect(await con.evaluate(() => window.__notes.length)).toBe(1);
  // In the background again: the visitor's next message is a notification.
  await other.bringToFront();
  await expect.poll(() => con.evaluate(() => document.hasFocus())).toBe(false);
  await visitorSays(page, 'Do you ship to Lyon?');
  await expect.poll(() => con.evaluate(() => window.__notes.map((n) => [n.title, n.body]))).toEqual([
    ['New chat: Amy', offerNote.body], ['Amy', 'Do you ship to Lyon?'],
  ]);
  await ctx.close();
});
