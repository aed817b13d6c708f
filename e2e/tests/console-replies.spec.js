// Canned replies in real Chromium: an admin saves a shared reply and a personal one on the
// Replies page; in a chat, "/" and a few letters suggest them, arrows choose, Enter inserts the
// text into the composer (editable), and Enter again sends it to the visitor. An agent who is not
// an admin uses the shared reply but cannot change it.
'use strict';
const fs = require('node:fs');
const { test, expect, widget, waitForLcw, fillDemoPrechat, signInConsole } = require('../lib/fixtures');

test('replies are saved on the Replies page and inserted with / in a chat', async ({ beckon, site, browser, page, request }) => {
  const errors = [];
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const con = await ctx.newPage();
  con.on('pageerror', (e) => errors.push(String(e)));
  await signInConsole(con, beckon.url, beckon.login.email, beckon.login.password);

  // The admin saves a shared reply and a personal one; a bad shortcut is named at its field.
  await con.getByRole('button', { name: 'Replies' }).click();
  await expect(con.getByRole('heading', { name: 'Canned replies' })).toBeVisible();
  await expect(con.locator('#replies-empty')).toBeVisible();
  const form = con.locator('#reply-form');
  await form.getByLabel('Shortcut').fill('ship fast');
  await form.getByLabel('Reply').fill('We ship to all of France within 2 days.');
  await form.getByRole('button', { name: 'Save reply' }).click();
  await expect(form.locator('.field-error:visible')).toHaveText('Use 1–32 letters, digits, - or _ (no spaces).');
  await form.getByLabel('Shortcut').fill('/ship');
  await form.getByLabel('Shared with the whole team').check();
  await form.getByRole('button', { name: 'Save reply' }).click();
  await expect(con.locator('.toast', { hasText: 'Saved /ship.' })).toBeVisible();
  await form.getByLabel('Shortcut').fill('shoes');
  await form.getByLabel('Reply').fill('Our shoes run small.');
  await form.getByRole('button', { name: 'Save reply' }).click();
  const items = con.locator('#replies-list .admin-item');
  await expect(items).toHaveCount(2);
  await expect(items.nth(0)).toContainText('/ship');
  await expect(items.nth(0)).toContainText('Shared');
  await expect(items.nth(1)).toContainText('/shoes');
  await expect(items.nth(1)).toContainText('Personal');
  fs.mkdirSync('/tmp/console-shots', { recursive: true });
  await con.screenshot({ path: '/tmp/console-shots/canned-page.png', animations: 'disabled' });
  // Edited in the same form.
  await items.nth(1).getByRole('button', { name: 'Edit /shoes' }).click();
  await expect(form.getByRole('heading', { name: 'Edit /shoes' })).toBeVisible();
  await form.getByLabel('Reply').fill('Our shoes run small: take one size up.');
  await form.getByRole('button', { name: 'Save changes' }).click();
  await expect(form.getByRole('heading', { name: 'New reply' })).toBeVisible();
  await expect(items).toHaveCount(2);

  // A visitor's chat, taken from the waiting list.
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await w.launcher.click();
  await fillDemoPrechat(page, 'Amy');
  await con.getByRole('button', { name: /^Chats/ }).click();
  await con.locator('.waiting-item').getByRole('button', { name: 'Take' }).click();
  const composer = con.getByLabel('Message to Amy');
  await expect(composer).toBeVisible();

  // "/sh" suggests both (shortcuts that start with it); ArrowDown picks the second; Enter inserts.
  await composer.fill('/sh');
  const list = con.getByRole('listbox', { name: 'Canned replies' });
  await expect(list.getByRole('option')).toHaveText([/\/shipShared/, /\/shoes/]);
  await expect(composer).toHaveAttribute('aria-expanded', 'true');
  fs.mkdirSync('/tmp/console-shots', { recursive: true });
  await con.screenshot({ path: '/tmp/console-shots/canned-suggestions.png', animations: 'disabled' });
  await composer.press('ArrowDown');
  await expect(list.getByRole('option', { selected: true })).toContainText('/shoes');
  await composer.press('Enter');
  await expect(list).toBeHidden();
  await expect(composer).toHaveValue('Our shoes run small: take one size up.');
  // Escape closes the list without inserting; the text can be edited before it is sent.
  await composer.fill('/ship');
  await expect(list.getByRole('option')).toHaveCount(1);
  await composer.press('Escape');
  await expect(list).toBeHidden();
  await expect(composer).toHaveValue('/ship');
  await composer.fill('/shi');
  await composer.press('Tab');
  await expect(composer).toHaveValue('We ship to all of France within 2 days.');
  await composer.press('End');
  await composer.type(' Anything else?');
  // The emoji picker puts one at the caret (the end here); Escape closes it, back to the text.
  await con.getByRole('button', { name: 'Emoji' }).click();
  const grid = con.getByRole('group', { name: 'Emoji' });
  await expect(grid).toBeVisible();
  await grid.getByRole('button', { name: 'slightly smiling face' }).click();
  await con.keyboard.press('Escape');
  await expect(grid).toBeHidden();
  await expect(composer).toBeFocused();
  await expect(composer).toHaveValue('We ship to all of France within 2 days. Anything else?🙂');
  await composer.press('Enter');
  await expect(w.log.getByText('We ship to all of France within 2 days. Anything else?🙂')).toBeVisible();

  // An agent who is not an admin sees the shared reply (not the admin's own) and cannot edit it.
  expect((await request.post(`${beckon.url}/v1/agent/login`, { data: beckon.login })).status()).toBe(200);
  const sam = { name: 'Sam', email: 'sam@demo.beckon', password: 'sam-secret-pw' };
  expect((await request.post(`${beckon.url}/v1/admin/agents`, { data: { ...sam, role: 'agent', capacity: 2, queue_ids: [] } })).status()).toBe(201);
  const samCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const samPage = await samCtx.newPage();
  samPage.on('pageerror', (e) => errors.push(String(e)));
  await signInConsole(samPage, beckon.url, sam.email, sam.password);
  await samPage.getByRole('button', { name: 'Replies' }).click();
  const samItems = samPage.locator('#replies-list .admin-item');
  await expect(samItems).toHaveCount(1);
  await expect(samItems).toContainText('/ship');
  await expect(samItems.getByRole('button', { name: 'Edit /ship' })).toHaveCount(0);
  await expect(samPage.getByLabel('Shared with the whole team')).toBeHidden();
  expect(errors).toEqual([]);
  await ctx.close();
  await samCtx.close();
});
