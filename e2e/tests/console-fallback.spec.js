// A queue's fallback, walked as an admin and a visitor would: the admin sends General's chats to
// the Night desk while nobody of General is at work; a visitor then starts a chat and it is
// offered to the Night desk's agent instead of waiting with nobody to answer. Every wait is on
// visible state or a frame.
'use strict';
const { test, expect, widget, waitForLcw, fillDemoPrechat } = require('../lib/fixtures');

async function signIn(page, url, email, password) {
  await page.goto(`${url}/console`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#conn')).toHaveAttribute('data-state', 'online');
}

test('a chat for an unstaffed queue goes to its fallback queue, set in the administration', async ({ beckon, site, browser, page, request }) => {
  const login = await request.post(`${beckon.url}/v1/agent/login`, { data: beckon.login });
  expect(login.status()).toBe(200);
  const night = (await (await request.post(`${beckon.url}/v1/admin/queues`, { data: { name: 'Night desk' } })).json()).queue;
  const nia = { name: 'Nia Night', email: 'nia@demo.beckon', password: 'nia-secret-pw' };
  expect((await request.post(`${beckon.url}/v1/admin/agents`, { data: { ...nia, role: 'agent', capacity: 2, queue_ids: [night.id] } })).status()).toBe(201);

  // The admin (of General) sets the fallback, and goes Away: nobody of General is at work.
  const adminCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const admin = await adminCtx.newPage();
  await signIn(admin, beckon.url, beckon.login.email, beckon.login.password);
  await admin.getByRole('button', { name: 'Administration' }).click();
  await admin.getByRole('tab', { name: 'Queues & hours' }).click();
  const general = admin.locator('#admin-panel-queues .admin-item', { has: admin.locator('.admin-item-title', { hasText: /^General$/ }) });
  await general.getByLabel('When closed or nobody is available, send new chats to').selectOption({ label: 'Night desk' });
  await expect(admin.locator('.toast', { hasText: 'its chats go to “Night desk”' })).toBeVisible();
  await admin.getByLabel('Status').selectOption('away');
  await expect(admin.locator('.presence')).toHaveAttribute('data-status', 'away');
  // Saved: a reload shows it.
  await admin.reload();
  await admin.getByRole('button', { name: 'Administration' }).click();
  await admin.getByRole('tab', { name: 'Queues & hours' }).click();
  await expect(admin.locator('#admin-panel-queues .admin-item', { has: admin.locator('.admin-item-title', { hasText: /^General$/ }) }).getByLabel('When closed or nobody is available, send new chats to'))
    .toHaveValue(String(night.id));

  // Nia of the Night desk is available.
  const niaCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const niaPage = await niaCtx.newPage();
  await signIn(niaPage, beckon.url, nia.email, nia.password);
  await niaPage.getByLabel('Status').selectOption('available');
  await expect(niaPage.locator('.presence')).toHaveAttribute('data-status', 'available');

  // The visitor starts a chat from the widget (General's): Nia is offered it.
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await w.launcher.click();
  await fillDemoPrechat(page, 'Amy');
  const card = niaPage.locator('.offer-card');
  await expect(card).toHaveCount(1);
  await expect(card.locator('.offer-title')).toHaveText('Amy');
  await card.getByRole('button', { name: 'Accept' }).click();
  await expect(w.log.getByText('Nia Night joined the chat.')).toBeVisible();
  await adminCtx.close();
  await niaCtx.close();
});
