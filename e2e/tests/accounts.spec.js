// Agent accounts in the console, as people use them: an agent changes their password (and their
// other sign-in ends), an admin disables an agent (whose open console signs out at once and who
// cannot sign in again until enabled). Real Chromium, real server.
'use strict';
const { test, expect } = require('@playwright/test');
const { startServer } = require('../lib/server');

test.describe.configure({ mode: 'serial' });
expect.configure({ timeout: 10000 });

let server;
test.beforeAll(async () => { server = await startServer(); });
test.afterAll(async () => { if (server) await server.stop(); });

async function signIn(page, email, password) {
  await page.goto(`${server.url}/console`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#conn')).toHaveAttribute('data-state', 'online');
}

test('an admin disables an agent: the agent is signed out at once and cannot sign back in', async ({ browser }) => {
  const adminCtx = await browser.newContext();
  const admin = await adminCtx.newPage();
  await signIn(admin, server.login.email, server.login.password);
  const created = await admin.evaluate(async () => {
    const res = await fetch('/v1/admin/agents', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'robin@demo.beckon', name: 'Robin', password: 'robin password', role: 'agent', capacity: 2, queue_ids: [] }),
    });
    return res.status;
  });
  expect(created).toBe(201);

  const robinCtx = await browser.newContext();
  const robin = await robinCtx.newPage();
  await signIn(robin, 'robin@demo.beckon', 'robin password');

  await admin.getByRole('button', { name: 'Administration' }).click();
  await admin.getByRole('tab', { name: 'Agents' }).click();
  const item = admin.locator('.admin-item', { hasText: 'Robin' });
  await item.getByRole('button', { name: 'Edit Robin' }).click();
  await item.getByLabel(/Account disabled/).check();
  await item.getByRole('button', { name: 'Save' }).click();
  await expect(admin.locator('.admin-item', { hasText: 'Robin' }).locator('.tag--warn')).toHaveText('disabled');

  // Robin's console closes without waiting for anything Robin does.
  await expect(robin.locator('#signin')).toBeVisible();
  await expect(robin.locator('#signin-error')).toHaveText('You have been signed out. Please sign in again.');
  await robin.getByLabel('Email').fill('robin@demo.beckon');
  await robin.getByLabel('Password', { exact: true }).fill('robin password');
  await robin.getByRole('button', { name: 'Sign in' }).click();
  await expect(robin.locator('#signin-error')).toHaveText('this account is disabled; ask an administrator');

  const again = admin.locator('.admin-item', { hasText: 'Robin' });
  await again.getByRole('button', { name: 'Edit Robin' }).click();
  await again.getByLabel(/Account disabled/).uncheck();
  await again.getByRole('button', { name: 'Save' }).click();
  await expect(admin.locator('.admin-item', { hasText: 'Robin' }).locator('.tag--warn')).toHaveCount(0);
  await robin.getByRole('button', { name: 'Sign in' }).click();
  await expect(robin.locator('#conn')).toHaveAttribute('data-state', 'online');
  await adminCtx.close();
  await robinCtx.close();
});

test('an agent changes their password: errors by the field, and their other sign-in ends', async ({ browser }) => {
  const laptopCtx = await browser.newContext();
  const laptop = await laptopCtx.newPage();
  await signIn(laptop, 'robin@demo.beckon', 'robin password');
  const phoneCtx = await browser.newContext();
  const phone = await phoneCtx.newPage();
  await signIn(phone, 'robin@demo.beckon', 'robin password');

  await laptop.getByRole('button', { name: 'Password', exact: true }).click();
  const dialog = laptop.getByRole('dialog', { name: 'Change your password' });
  await dialog.getByLabel('Current password').fill('not it');
  await dialog.getByLabel('New password (10–200 characters)').fill('a longer password');
  await dialog.getByLabel('New password again').fill('a longer password');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await expect(dialog.locator('#pw-current-error')).toHaveText('This is not your current password.');
  await expect(dialog.getByLabel('Current password')).toBeFocused();
  await dialog.getByLabel('Current password').fill('robin password');
  await dialog.getByLabel('New password again').fill('something else');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await expect(dialog.locator('#pw-again-error')).toHaveText('The two new passwords differ.');
  await dialog.getByLabel('New password again').fill('a longer password');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(laptop.locator('.toast')).toContainText('Password changed');
  await expect(laptop.getByRole('button', { name: 'Password', exact: true })).toBeFocused();

  await expect(phone.locator('#signin-error')).toHaveText('You have been signed out. Please sign in again.');
  await expect(laptop.locator('#conn')).toHaveAttribute('data-state', 'online');
  await signIn(phone, 'robin@demo.beckon', 'a longer password');
  await laptopCtx.close();
  await phoneCtx.close();
});
