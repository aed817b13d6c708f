// Operating hours with more than one opening per day (a lunch break): the console's hours editor
// shows every range the server holds, adds and removes ranges, and saving keeps them all.
'use strict';
const { test, expect } = require('@playwright/test');
const { startServer } = require('../lib/server');

let server;
test.beforeAll(async () => { server = await startServer(); });
test.afterAll(async () => { if (server) await server.stop(); });

test('a day with two openings survives the hours editor, and ranges can be added and removed', async ({ page }) => {
  await page.goto(`${server.url}/console`);
  await page.getByLabel('Email').fill(server.login.email);
  await page.getByLabel('Password').fill(server.login.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#conn')).toHaveAttribute('data-state', 'online');
  const hours = {
    time_zone: 'Europe/Paris',
    weekly: [
      { day: 'mon', open: '09:00', close: '12:00' },
      { day: 'mon', open: '13:30', close: '18:00' },
      { day: 'tue', open: '09:00', close: '17:00' },
    ],
  };
  const put = await page.evaluate(async (body) => {
    const r = await fetch('/v1/admin/queues/1/hours', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hours: body }) });
    return r.status;
  }, hours);
  expect(put).toBe(200);

  await page.getByRole('button', { name: 'Administration' }).click();
  const general = page.locator('#view-admin .admin-item', { has: page.locator('.admin-item-title', { hasText: /^General$/ }) });
  await expect(general.locator('.admin-item-sub')).toHaveText('Europe/Paris: Mon 09:00–12:00, 13:30–18:00 · Tue 09:00–17:00');
  await general.getByRole('button', { name: 'Edit hours' }).click();
  await expect(general.getByLabel('Monday opens at')).toHaveCount(2);
  await expect(general.getByLabel('Monday closes at').nth(1)).toHaveValue('18:00');

  // Tuesday gets an evening range; Monday's afternoon is removed.
  await general.getByRole('button', { name: 'Add Tuesday hours' }).click();
  await general.getByLabel('Tuesday opens at').nth(1).fill('19:00');
  await general.getByLabel('Tuesday closes at').nth(1).fill('21:00');
  await page.screenshot({ path: '/tmp/console-shots/desktop-hours-ranges.png' });
  await general.getByRole('button', { name: 'Remove these Monday hours' }).click();
  await expect(general.getByLabel('Monday opens at')).toHaveCount(1);
  await general.getByRole('button', { name: 'Save hours' }).click();
  await expect(general.locator('.admin-item-sub')).toHaveText('Europe/Paris: Mon 09:00–12:00 · Tue 09:00–17:00, 19:00–21:00');

  const saved = await page.evaluate(async () => (await (await fetch('/v1/admin/queues')).json()).queues.find((q) => q.id === 1).hours);
  expect(saved.weekly).toEqual([
    { day: 'mon', open: '09:00', close: '12:00' },
    { day: 'tue', open: '09:00', close: '17:00' },
    { day: 'tue', open: '19:00', close: '21:00' },
  ]);
});
