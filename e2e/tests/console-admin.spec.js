// The console's administration pages in real Chromium: every form checks what it can, shows the
// server's refusal next to the field it names, and saves what is valid (queues and hours, routing
// rules, agents, widgets). An agent (not admin) sees no administration and the API answers 403.
// Text typed into forms comes back as text, never markup. Screenshots of every main screen at
// desktop (1280×800) and small (390×844) widths go to /tmp/console-shots/.
'use strict';
const fs = require('node:fs');
const { test, expect } = require('@playwright/test');
const { startServer } = require('../lib/server');
const { Visitor } = require('../lib/visitor');

const SHOTS = '/tmp/console-shots';
const XSS = '<img src=x onerror=alert(1)>';

test.describe.configure({ mode: 'serial' });
test.setTimeout(120000);
expect.configure({ timeout: 10000 });

let server;
test.beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
});
test.afterAll(async () => { if (server) await server.stop(); });

async function signIn(page, email = server.login.email, password = server.login.password) {
  await page.goto(`${server.url}/console`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#conn')).toHaveAttribute('data-state', 'online');
}

const shot = (page, name) => page.screenshot({ path: `${SHOTS}/${name}.png`, animations: 'disabled' });

// No element sticks out of the page sideways (the small-width check).
async function expectNoHorizontalOverflow(page) {
  const over = await page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    return [...document.querySelectorAll('body *')]
      .filter((el) => el.offsetParent !== null && el.getBoundingClientRect().right > w + 1)
      .filter((el) => !el.closest('.mainnav, .tabs')) // scrollable tab strips
      .map((el) => `${el.tagName.toLowerCase()}.${el.className}`)
      .slice(0, 5);
  });
  expect(over).toEqual([]);
}

test('admin forms validate, explain errors by the field, and save', async ({ page }) => {
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setViewportSize({ width: 1280, height: 800 });
  await signIn(page);
  await page.getByRole('button', { name: 'Administration' }).click();
  const admin = page.locator('#view-admin');

  // --- queues: empty name, a taken name, then a new queue ---
  await expect(admin.getByRole('tab', { name: 'Queues & hours' })).toHaveAttribute('aria-selected', 'true');
  const newQueue = admin.getByLabel('New queue name');
  await admin.getByRole('button', { name: 'Add queue' }).click();
  await expect(admin.locator('[data-field="name"] .field-error')).toHaveText('Give the queue a name.');
  await expect(newQueue).toHaveAttribute('aria-invalid', 'true');
  await newQueue.fill('General');
  await admin.getByRole('button', { name: 'Add queue' }).click();
  await expect(admin.locator('[data-field="name"] .field-error')).toHaveText('A queue with this name exists.');
  await newQueue.fill(`Billing ${XSS}`);
  await admin.getByRole('button', { name: 'Add queue' }).click();
  await expect(admin.locator('.admin-item-title', { hasText: 'Billing' })).toHaveText(`Billing ${XSS}`);

  // Hours: closing before opening is explained on that day's row; an unknown time zone by the field.
  const billing = admin.locator('.admin-item', { has: page.locator('.admin-item-title', { hasText: /^Billing / }) });
  await billing.getByRole('button', { name: 'Edit hours' }).click();
  await billing.getByLabel('Always open').uncheck();
  await billing.getByLabel('Time zone').fill('Mars/Olympus');
  await billing.getByRole('button', { name: 'Save hours' }).click();
  await expect(billing.locator('[data-field="time_zone"] .field-error')).toContainText('Unknown time zone');
  await billing.getByLabel('Time zone').fill('Europe/Paris');
  await billing.getByLabel('Monday closes at').fill('08:00');
  await billing.getByRole('button', { name: 'Save hours' }).click();
  await expect(billing.locator('tr[data-field="day-mon"] .field-error')).toHaveText('Closing time must be after opening time.');
  await billing.getByLabel('Monday closes at').fill('18:00');
  await shot(page, 'desktop-admin-hours');
  await billing.getByRole('button', { name: 'Save hours' }).click();
  await expect(billing.locator('.admin-item-sub')).toContainText('Europe/Paris: Mon 09:00–18:00');

  // --- agents: client checks, the server's 409 next to the email, then create and edit ---
  await admin.getByRole('tab', { name: 'Agents' }).click();
  await admin.getByRole('button', { name: '+ Add agent' }).click();
  const form = admin.getByRole('form', { name: 'New agent' });
  await form.getByLabel('Name').fill('Robin');
  await form.getByLabel('Email').fill('not an email');
  await form.getByRole('button', { name: 'Create agent' }).click();
  await expect(form.locator('[data-field="email"] .field-error')).toHaveText('Enter an email address such as sam@example.com.');
  await form.getByLabel('Email').fill('agent@demo.beckon');
  await form.getByLabel('Initial password').fill('short');
  await form.getByRole('button', { name: 'Create agent' }).click();
  await expect(form.locator('[data-field="password"] .field-error')).toHaveText('At least 10 characters.');
  await form.getByLabel('Initial password').fill('robin-secret-1');
  await form.getByLabel('Capacity (chats at once)').fill('99');
  await form.getByRole('button', { name: 'Create agent' }).click();
  await expect(form.locator('[data-field="capacity"] .field-error')).toHaveText('A whole number from 0 to 50.');
  await form.getByLabel('Capacity (chats at once)').fill('4');
  await form.getByRole('button', { name: 'Create agent' }).click();
  await expect(form.locator('[data-field="email"] .field-error')).toHaveText('an agent with this email exists');
  await form.getByLabel('Email').fill('robin@demo.beckon');
  await form.getByLabel(/Billing/).check();
  await shot(page, 'desktop-admin-agents');
  await form.getByRole('button', { name: 'Create agent' }).click();
  const robin = admin.locator('.admin-item', { hasText: 'Robin' });
  await expect(robin).toContainText('robin@demo.beckon');
  await expect(robin).toContainText('capacity 4');
  await expect(robin).toContainText('Billing');
  await robin.getByRole('button', { name: 'Edit Robin' }).click();
  await robin.getByLabel('Role').selectOption('admin');
  await robin.getByLabel('Capacity (chats at once)').fill('6');
  await robin.getByRole('button', { name: 'Save' }).click();
  await expect(admin.locator('.admin-item', { hasText: 'Robin' })).toContainText('capacity 6');
  await expect(admin.locator('.admin-item', { hasText: 'Robin' }).locator('.tag')).toHaveText('admin');
  // Demoting the last… (there are two admins now, so demoting Robin back works)
  await admin.locator('.admin-item', { hasText: 'Robin' }).getByRole('button', { name: 'Edit Robin' }).click();
  await admin.locator('.admin-item', { hasText: 'Robin' }).getByLabel('Role').selectOption('agent');
  await admin.locator('.admin-item', { hasText: 'Robin' }).getByRole('button', { name: 'Save' }).click();
  await expect(admin.locator('.admin-item', { hasText: 'Robin' }).locator('.tag')).toHaveText('agent');
  // …but the only admin cannot demote themselves: the server's 409 is shown by the role.
  const alex = admin.locator('.admin-item', { hasText: 'Alex' });
  await alex.getByRole('button', { name: /^Edit Alex/ }).click();
  await alex.getByLabel('Role').selectOption('agent');
  await alex.getByRole('button', { name: 'Save' }).click();
  await expect(alex.locator('[data-field="role"] .field-error')).toContainText('only admin');

  // --- routing rules: editor, a number comparison without a number, save, reload ---
  await admin.getByRole('tab', { name: 'Routing rules' }).click();
  await expect(admin.getByText('No rules: every chat goes to its widget’s queue.')).toBeVisible();
  await admin.getByRole('button', { name: '+ Add rule' }).click();
  await admin.getByRole('button', { name: 'Save rules' }).click();
  await expect(admin.locator('[data-field="rule-0-name"] .field-error')).toHaveText('Give the rule a name.');
  await admin.getByLabel('Rule 1 name').fill('Big carts');
  await admin.getByLabel('Rule 1 queue').selectOption({ label: `Billing ${XSS}` });
  await admin.getByLabel('Rule 1 condition 1 variable name').fill('Cart Total');
  await admin.getByLabel('Rule 1 condition 1 comparison').selectOption('gt');
  await admin.getByLabel('Rule 1 condition 1 value').fill('lots');
  await admin.getByRole('button', { name: 'Save rules' }).click();
  await expect(admin.locator('[data-field="rule-0-cond-0-value"] .field-error')).toHaveText('Number comparisons need a number.');
  await admin.getByLabel('Rule 1 condition 1 value').fill('100');
  await admin.getByRole('button', { name: '+ Add condition' }).click();
  await admin.getByLabel('Rule 1 condition 2 field').selectOption('country');
  await admin.getByLabel('Rule 1 condition 2 comparison').selectOption('equals');
  await admin.getByLabel('Rule 1 condition 2 value').fill('FR');
  await admin.getByRole('button', { name: '+ Add rule' }).click();
  await admin.getByLabel('Rule 2 name').fill('Signed-in visitors');
  await admin.getByLabel('Rule 2 condition 1 field').selectOption('authenticated');
  await admin.getByRole('button', { name: 'Move rule 2 up' }).click();
  await expect(admin.getByLabel('Rule 1 name')).toHaveValue('Signed-in visitors');
  await shot(page, 'desktop-admin-routing');
  await admin.getByRole('button', { name: 'Save rules' }).click();
  await expect(page.locator('.toast', { hasText: 'Routing rules saved.' })).toBeVisible();
  const saved = await page.evaluate(async () => (await (await fetch('/v1/admin/routing-rules')).json()).rules);
  expect(saved.map((r) => r.name)).toEqual(['Signed-in visitors', 'Big carts']);
  expect(saved[0].conditions).toEqual([{ field: { kind: 'authenticated' }, op: 'equals', value: 'true' }]);
  expect(saved[1].conditions).toEqual([
    { field: { kind: 'context', name: 'Cart Total' }, op: 'gt', value: '100' },
    { field: { kind: 'country' }, op: 'equals', value: 'FR' },
  ]);
  await admin.getByRole('tab', { name: 'Agents' }).click();
  await admin.getByRole('tab', { name: 'Routing rules' }).click();
  await expect(admin.getByLabel('Rule 2 name')).toHaveValue('Big carts');

  // --- widget: a bad colour (client), an origin with a path (server, by the field), save ---
  await admin.getByRole('tab', { name: 'Widgets' }).click();
  const widget = admin.locator('.widget-form').first();
  await widget.getByLabel('Colour (hex)').fill('blue');
  await widget.getByRole('button', { name: 'Save widget' }).click();
  await expect(widget.locator('[data-field="color"] .field-error')).toHaveText('A hex colour such as #2151c4.');
  await widget.getByLabel('Colour (hex)').fill('#aa3300');
  await widget.getByLabel('Allowed origins').fill('*\nhttps://shop.example/cart');
  await widget.getByRole('button', { name: 'Save widget' }).click();
  await expect(widget.locator('[data-field="allowed_origins"] .field-error')).toContainText('allowed_origins[1]');
  await widget.getByLabel('Allowed origins').fill('*\nhttps://shop.example');
  await widget.getByLabel('Chat window title').fill(`Talk to us ${XSS}`);
  await widget.getByLabel('Invites expire after (seconds)').fill('45');
  await widget.getByLabel('Hide the widget').check();
  await widget.getByRole('button', { name: '+ Add question' }).click();
  await widget.getByLabel('Question 5', { exact: true }).fill('Order number');
  await widget.getByLabel('Question 2 kind').selectOption('option_set');
  await widget.getByLabel('Question 2 choices, one per line').fill('');
  await widget.getByRole('button', { name: 'Save widget' }).click();
  await expect(widget.locator('[data-field="prechat[1].choices"] .field-error')).toHaveText('List the choices, one per line.');
  await widget.getByLabel('Question 2 choices, one per line').fill('Orders\nReturns');
  await shot(page, 'desktop-admin-widgets');
  await widget.getByRole('button', { name: 'Save widget' }).click();
  await expect(page.locator('.toast', { hasText: 'Demo site saved.' })).toBeVisible();
  const v = await Visitor.connect(server.url);
  expect(v.welcome.widget).toMatchObject({ title: `Talk to us ${XSS}`, color: '#aa3300', invite_expiry_ms: 45000, out_of_hours: 'hide' });
  expect(v.welcome.widget.prechat.map((q) => q.label)).toContain('Order number');
  expect(v.welcome.widget.prechat[1].choices).toEqual(['Orders', 'Returns']);
  v.close();

  await expect(page.locator('img')).toHaveCount(0);
  expect(dialogs).toEqual([]);
  expect(errors).toEqual([]);
});

test('an agent sees no administration, and the admin API answers 403', async ({ page }) => {
  await signIn(page, 'robin@demo.beckon', 'robin-secret-1');
  await expect(page.getByRole('button', { name: 'History' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Administration' })).toBeHidden();
  const status = await page.evaluate(async () => (await fetch('/v1/admin/agents')).status);
  expect(status).toBe(403);
});

test("the admin's agents list follows every agent's presence live", async ({ browser }) => {
  const adminCtx = await browser.newContext();
  const robinCtx = await browser.newContext();
  try {
    const page = await adminCtx.newPage();
    await signIn(page);
    await page.getByRole('button', { name: 'Administration' }).click();
    const admin = page.locator('#view-admin');
    await admin.getByRole('tab', { name: 'Agents' }).click();
    const robin = admin.locator('.admin-item', { hasText: 'Robin' });
    await expect(robin.locator('.admin-item-sub')).toContainText('· offline ·');

    const robinPage = await robinCtx.newPage();
    await signIn(robinPage, 'robin@demo.beckon', 'robin-secret-1');
    await robinPage.getByLabel('Status').selectOption('available');
    await expect(robin.locator('.admin-item-sub')).toContainText('· available ·');
    await expect(robin.locator('.presence-dot')).toHaveClass(/presence-dot--available/);
    await robinPage.getByLabel('Status').selectOption('away');
    await expect(robin.locator('.admin-item-sub')).toContainText('· away ·');
    await expect(robin.locator('.presence-dot')).toHaveAttribute('title', 'away');

    // The admin's own change shows in the list too.
    const me = admin.locator('.admin-item', { hasText: server.login.email });
    await page.getByLabel('Status').selectOption('busy');
    await expect(me.locator('.admin-item-sub')).toContainText('· busy ·');
  } finally {
    await adminCtx.close();
    await robinCtx.close();
  }
});

test('every main screen at desktop and small widths: no overflow, keyboard reachable', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await signIn(page);
  await page.getByLabel('Status').selectOption('available');
  // A visitor browsing, and one chatting, so the screens have content.
  const browsing = await Visitor.connect(server.url, { page: { url: 'https://shop.example/products/espresso-machine-deluxe-with-a-very-long-name', title: 'Espresso machine — Contoso', referrer: '' } });
  const chatting = await Visitor.connect(server.url, { page: { url: 'https://shop.example/support', title: 'Support', referrer: '' } });
  chatting.send({ type: 'start_chat', proactive: false, prechat: { 'Your name': 'Ada Lovelace', 'What is your question about?': 'Orders' } });
  const cid = (await chatting.next((f) => f.type === 'chat')).conversation.id;
  await page.locator(`.offer-card[data-conversation-id="${cid}"]`).getByRole('button', { name: 'Accept' }).click();
  const pane = page.locator(`.pane[data-conversation-id="${cid}"]`);
  await expect(pane.locator('[data-section="visit"]')).toContainText('Support');
  chatting.send({ type: 'send', client_msg_id: 'a1', text: 'Where is my order?' });
  await expect(pane.locator('.msg--visitor')).toHaveCount(1);

  // Keyboard: the section tabs are buttons in the tab order; arrow keys move between admin tabs.
  await page.getByRole('button', { name: /Live visitors/ }).focus();
  await page.keyboard.press('Enter');
  await expect(page.locator('body')).toHaveAttribute('data-section', 'visitors');
  await page.getByRole('button', { name: 'Administration' }).click();
  await page.getByRole('tab', { name: 'Queues & hours' }).focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('tab', { name: 'Routing rules' })).toBeFocused();
  await expect(page.getByRole('tab', { name: 'Routing rules' })).toHaveAttribute('aria-selected', 'true');

  const screens = [
    ['chats', async () => {
      await page.getByRole('button', { name: /^Chats/ }).click();
      // Small screens show the open conversation instead of the list.
      if (!(await pane.locator('.log').isVisible())) await page.locator(`.conv-item[data-conversation-id="${cid}"]`).click();
      await expect(pane.locator('.log')).toBeVisible();
    }],
    ['visitors', async () => { await page.getByRole('button', { name: /Live visitors/ }).click(); await expect(page.locator('.visitor-card', { hasText: 'Espresso' })).toBeVisible(); }],
    ['history', async () => {
      await page.getByRole('button', { name: 'History' }).click();
      const back = page.getByRole('button', { name: '‹ Results' });
      if (await back.isVisible()) await back.click(); // small screens: the transcript hides the list
      await page.getByRole('button', { name: 'Search' }).click(); await expect(page.locator('.history-item').first()).toBeVisible(); }],
    ['history-dates', async () => {
      // An end date before the start date is explained next to "To"; nothing is searched.
      await page.locator('#view-history').getByLabel('From').fill('2026-03-10');
      await page.locator('#view-history').getByLabel('To', { exact: true }).fill('2026-03-01');
      await page.getByRole('button', { name: 'Search' }).click();
      await expect(page.locator('.search-form [data-field="to"] .field-error')).toHaveText('The end date must be on or after the start date.');
      await page.getByRole('button', { name: 'Clear' }).click();
      await expect(page.locator(`.history-item[data-conversation-id="${cid}"]`)).toBeVisible();
    }],
    ['history-transcript', async () => { await page.locator(`.history-item[data-conversation-id="${cid}"]`).click(); await expect(page.locator('.transcript')).toContainText('Where is my order?'); }],
    ['admin-queues', async () => { await page.getByRole('button', { name: 'Administration' }).click(); await page.getByRole('tab', { name: 'Queues & hours' }).click(); await expect(page.locator('#admin-panel-queues .admin-item').first()).toBeVisible(); }],
    ['admin-routing', async () => { await page.getByRole('tab', { name: 'Routing rules' }).click(); await expect(page.locator('#admin-panel-routing .rules-form')).toBeVisible(); }],
    ['admin-agents', async () => { await page.getByRole('tab', { name: 'Agents' }).click(); await expect(page.locator('#admin-panel-agents .admin-item').first()).toBeVisible(); }],
    ['admin-widgets', async () => { await page.getByRole('tab', { name: 'Widgets' }).click(); await expect(page.locator('.widget-form')).toBeVisible(); }],
  ];
  for (const [width, height, prefix] of [[1280, 800, 'desktop'], [390, 844, 'small']]) {
    await page.setViewportSize({ width, height });
    for (const [name, open] of screens) {
      await open();
      await shot(page, `${prefix}-screen-${name}`);
      if (prefix === 'small') await expectNoHorizontalOverflow(page);
    }
  }
  // Small width: the visitor panel of the chat, and the transfer dialog.
  await page.getByRole('button', { name: /^Chats/ }).click();
  await pane.getByRole('button', { name: 'Visitor info' }).click();
  await expect(pane.locator('.visitor-panel [data-section="visit"]')).toBeVisible();
  await shot(page, 'small-screen-visitor-panel');
  await expectNoHorizontalOverflow(page);
  await pane.getByRole('button', { name: 'Back to chat' }).click();
  await pane.getByRole('button', { name: 'Transfer' }).click();
  await expect(page.getByRole('dialog')).toBeVisible();
  await shot(page, 'small-screen-transfer');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expect(pane.getByRole('button', { name: 'Transfer' })).toBeFocused();

  // The same visitor chats again: the panel lists the earlier conversation, which opens its
  // transcript in History.
  await page.setViewportSize({ width: 1280, height: 800 });
  chatting.send({ type: 'close_chat' });
  await expect(pane.locator('.chat-banner')).toHaveText('The visitor ended the chat.');
  chatting.send({ type: 'start_chat', proactive: false });
  const again = (await chatting.next((f) => f.type === 'chat' && f.conversation.id !== cid)).conversation.id;
  await page.locator(`.offer-card[data-conversation-id="${again}"]`).getByRole('button', { name: 'Accept' }).click();
  const pane2 = page.locator(`.pane[data-conversation-id="${again}"]`);
  const earlier = pane2.locator('.visitor-panel [data-section="earlier"]');
  await expect(earlier.locator('.earlier-item')).toHaveCount(1);
  await expect(earlier.locator('.earlier-item')).toContainText(`#${cid}`);
  await earlier.locator('.earlier-item').click();
  await expect(page.locator('body')).toHaveAttribute('data-section', 'history');
  await expect(page.getByRole('region', { name: `Conversation #${cid}` })).toContainText('Where is my order?');
  browsing.close();
  chatting.close();
});
