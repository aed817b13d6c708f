// The console's waiting list, in real Chromium: the only available agent declines a visitor's
// chat; instead of vanishing from every agent's view it stays under "Waiting", and the agent —
// now Away — takes it from there; the visitor reads that the agent joined and the two chat.
// Every wait is on visible state. A screenshot goes to /tmp/console-shots/.
'use strict';
const fs = require('node:fs');
const { test, expect, widget, waitForLcw, fillDemoPrechat, visitorSays } = require('../lib/fixtures');

async function signIn(page, url, email, password) {
  await page.goto(`${url}/console`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#conn')).toHaveAttribute('data-state', 'online');
}

test('a declined chat stays on the waiting list and an Away agent takes it', async ({ beckon, site, browser, page }) => {
  const errors = [];
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const con = await ctx.newPage();
  con.on('pageerror', (e) => errors.push(String(e)));
  await signIn(con, beckon.url, beckon.login.email, beckon.login.password);
  await con.getByLabel('Status').selectOption('available');
  await expect(con.locator('.presence')).toHaveAttribute('data-status', 'available');
  await expect(con.locator('#waiting-empty')).toHaveText('No chats waiting in your queues.');

  // The visitor starts a chat; it is offered to the console, whose agent declines it.
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await w.launcher.click();
  await fillDemoPrechat(page, 'Amy');
  const card = con.locator('.offer-card');
  await expect(card).toHaveCount(1);
  await card.getByRole('button', { name: 'Decline' }).click();
  await expect(card).toHaveCount(0);

  // It is not lost: it waits under "Waiting", offered to no one.
  const item = con.locator('.waiting-item');
  await expect(item).toHaveCount(1);
  await expect(item.locator('.offer-title')).toHaveText('Amy');
  await expect(item).toContainText('Not offered to anyone');
  await expect(con.locator('#waiting-count')).toHaveText('1');
  fs.mkdirSync('/tmp/console-shots', { recursive: true });
  await con.screenshot({ path: '/tmp/console-shots/waiting-list.png', animations: 'disabled' });

  // Away, the agent still sees it and takes it: the chat opens in the console.
  await con.getByLabel('Status').selectOption('away');
  await expect(con.locator('.presence')).toHaveAttribute('data-status', 'away');
  await item.getByRole('button', { name: 'Take' }).click();
  await expect(item).toHaveCount(0);
  await expect(con.locator('#waiting-empty')).toBeVisible();
  await expect(con.locator('.conv-item', { hasText: 'Amy' })).toBeVisible();
  await expect(w.log.getByText(/joined the chat\./)).toBeVisible();

  // And they chat.
  const composer = con.getByLabel('Message to Amy');
  await composer.fill('Sorry for the wait, Amy. How can I help?');
  await composer.press('Enter');
  await expect(w.log.getByText('Sorry for the wait, Amy. How can I help?')).toBeVisible();
  await visitorSays(page, 'Thanks! My order is https://shop.example/orders/42.');
  const bubble = con.locator('.bubble', { hasText: 'Thanks!' });
  await expect(bubble).toBeVisible();
  // The address is a link (opened in a new tab, without access to the console), the rest text.
  await expect(bubble.locator('a')).toHaveAttribute('href', 'https://shop.example/orders/42');
  await expect(bubble.locator('a')).toHaveAttribute('rel', 'noopener noreferrer nofollow ugc');
  await expect(bubble).toContainText('Thanks! My order is https://shop.example/orders/42.');
  expect(errors).toEqual([]);
  await ctx.close();
});
