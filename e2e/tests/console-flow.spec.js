// Issue 4's "Done when", in real Chromium: a visitor page with the real widget and agent consoles
// side by side. A proactive invite is accepted → a context-variable routing rule (set up through
// the admin API) sends the chat to the Support queue → it is offered to Sam, the only Support
// agent → chat both ways with typing → Sam's console reloads mid-chat → Sam transfers to Alex
// with a note only agents see → Alex ends it; Alex finds it in History. Then an agent-initiated
// invite from the live visitors list reaches a visitor's widget, and an out-of-hours queue shows
// as closed in the administration and in getAgentAvailability() on the visitor's page.
// Every wait is on visible state; the visitor page's clock is faked only to skip its 10 s timer.
'use strict';
const fs = require('node:fs');
const { test, expect, runClockUntil, resumeClock, widget, waitForLcw } = require('../lib/fixtures');

const SHOTS = '/tmp/console-shots';
const SAM = { name: 'Sam Support', email: 'sam@demo.beckon', password: 'sam-secret-pw' };
test.setTimeout(180_000);

async function signIn(page, url, email, password) {
  await page.goto(`${url}/console`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#conn')).toHaveAttribute('data-state', 'online');
  await page.getByLabel('Status').selectOption('available');
  await expect(page.locator('.presence')).toHaveAttribute('data-status', 'available');
}

const shot = (page, name) => page.screenshot({ path: `${SHOTS}/${name}.png`, animations: 'disabled' });

test('invite → routed by rule → offered to the right agent → chat → reload → transfer → end; live invite; out of hours', async ({ beckon, site, browser, page, request }) => {
  fs.mkdirSync(SHOTS, { recursive: true });
  const errors = [];

  // --- setup through the admin API (as the demo admin) ---
  const login = await request.post(`${beckon.url}/v1/agent/login`, { data: beckon.login });
  expect(login.status()).toBe(200);
  const support = (await (await request.post(`${beckon.url}/v1/admin/queues`, { data: { name: 'Support' } })).json()).queue;
  const sam = await request.post(`${beckon.url}/v1/admin/agents`, {
    data: { ...SAM, role: 'agent', capacity: 2, queue_ids: [support.id] },
  });
  expect(sam.status()).toBe(201);
  const rules = await request.put(`${beckon.url}/v1/admin/routing-rules`, {
    data: { rules: [{ name: 'Open cases', queue_id: support.id, conditions: [{ field: { kind: 'context', name: 'Case Id' }, op: 'exists', value: '' }] }] },
  });
  expect(rules.status()).toBe(200);

  // --- two consoles: Sam (agent, Support) and Alex (admin, General) ---
  const samCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const samPage = await samCtx.newPage();
  samPage.on('pageerror', (e) => errors.push(`sam: ${e}`));
  await signIn(samPage, beckon.url, SAM.email, SAM.password);
  await expect(samPage.getByRole('button', { name: 'Administration' })).toBeHidden();
  const alexCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const alexPage = await alexCtx.newPage();
  alexPage.on('pageerror', (e) => errors.push(`alex: ${e}`));
  await signIn(alexPage, beckon.url, beckon.login.email, beckon.login.password);
  await expect(alexPage.getByRole('button', { name: 'Administration' })).toBeVisible();

  // --- the visitor: scenario 3's page (context "Case Id", invite after 10 s) ---
  const w = widget(page);
  await page.clock.install();
  await page.goto(site('scenario3.html'));
  await runClockUntil(page, 10_100);
  await expect(w.invite).toBeVisible();
  await w.accept.click();
  await expect(w.window).toBeVisible();
  await resumeClock(page);

  // Routed to Support: offered to Sam, never to Alex.
  const offer = samPage.locator('.offer-card');
  await expect(offer).toBeVisible();
  await expect(offer.locator('.tag--proactive')).toBeVisible();
  const cid = Number(await offer.getAttribute('data-conversation-id'));
  await expect(alexPage.locator('.offer-card')).toHaveCount(0);
  await offer.getByRole('button', { name: 'Accept' }).click();
  const samPane = samPage.locator(`.pane[data-conversation-id="${cid}"]`);
  await expect(samPane).toBeVisible();
  await expect(w.log).toContainText('Sam Support');

  // The visitor panel: context, the invite behind the chat, the page, the visit.
  const panel = samPane.locator('.visitor-panel');
  await expect(panel.locator('[data-section="context"] dt', { hasText: 'Case Id' })).toBeVisible();
  await expect(panel.locator('[data-section="context"] dt', { hasText: 'Proactive Chat' })).toBeVisible();
  await expect(panel).toContainText('Invited by');
  await expect(panel).toContainText('startProactiveChat');
  const visit = panel.locator('[data-section="visit"]');
  await expect(visit).toContainText('Support: your cases');
  await expect(visit).toContainText('1st visit');
  await expect(visit).toContainText('Time on site');
  await expect(visit).toContainText('Pages seen this visit (1)');
  await expect(panel.locator('[data-section="earlier"]')).toContainText('first conversation');

  // --- chat both ways, with typing indicators each way ---
  await w.input.pressSequentially('Hello');
  await expect(samPane.locator('.typing')).toContainText('is typing');
  await w.input.press('Enter');
  await expect(samPane.locator('.msg--visitor .bubble')).toHaveText(['Visitor: Hello']);
  const samInput = samPane.getByLabel(/Message to/);
  await samInput.pressSequentially('Hi! Let me look');
  await expect(page.locator('beckon-widget .typing')).toContainText('is typing');
  await samInput.press('Enter');
  await expect(w.log).toContainText('Hi! Let me look');
  await shot(samPage, 'desktop-chat-panel');

  // --- Sam's console reloads mid-chat; the visitor writes meanwhile ---
  await samPage.reload();
  await w.input.fill('Still there?');
  await w.input.press('Enter');
  await expect(samPage.locator('#conn')).toHaveAttribute('data-state', 'online');
  await expect(samPane.locator('.msg--visitor .bubble')).toHaveText(['Visitor: Hello', 'Visitor: Still there?']);
  await expect(samPane.locator('.msg--agent .bubble')).toHaveText(['You: Hi! Let me look']);

  // --- transfer to Alex with a note ---
  await samPane.getByRole('button', { name: 'Transfer' }).click();
  const dialog = samPage.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Transfer' }).click();
  await expect(dialog.getByRole('alert')).toHaveText('Choose where the chat should go.');
  // Colleagues' presence is live while the dialog is open.
  const alexOption = dialog.locator('option', { hasText: 'Alex (demo agent)' });
  await alexPage.getByLabel('Status').selectOption('away');
  await expect(alexOption).toHaveText('Alex (demo agent) — away');
  await alexPage.getByLabel('Status').selectOption('available');
  await expect(alexOption).toHaveText('Alex (demo agent) — available');
  await dialog.getByLabel('Transfer to').selectOption({ label: 'Alex (demo agent) — available' });
  await dialog.getByLabel(/Note for your colleague/).fill('VIP customer, case <C-42>');
  await shot(samPage, 'desktop-transfer-dialog');
  await dialog.getByRole('button', { name: 'Transfer' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(samPane.locator('.chat-banner')).toHaveText('You transferred this chat to Alex (demo agent).');
  await expect(samPane.getByLabel(/Message to/)).toBeHidden();
  await expect(samPage.locator(`.conv-item[data-conversation-id="${cid}"]`)).toContainText('Transferred');
  await expect(samPage.locator('.toast--error')).toHaveCount(0);
  await shot(samPage, 'desktop-transferred-away');

  const alexOffer = alexPage.locator(`.offer-card[data-conversation-id="${cid}"]`);
  await expect(alexOffer).toBeVisible();
  await alexOffer.getByRole('button', { name: 'Accept' }).click();
  const alexPane = alexPage.locator(`.pane[data-conversation-id="${cid}"]`);
  await expect(alexPane.locator('.msg--note')).toContainText('Transfer note from Sam Support');
  await expect(alexPane.locator('.msg--note .note-text')).toHaveText('VIP customer, case <C-42>');
  await expect(alexPane.locator('.msg--visitor .bubble')).toHaveText(['Visitor: Hello', 'Visitor: Still there?']);
  await alexPane.getByLabel(/Message to/).fill('Alex here, I have your case.');
  await alexPane.getByLabel(/Message to/).press('Enter');
  await expect(w.log).toContainText('Alex here, I have your case.');
  await expect(w.log).not.toContainText('VIP customer');
  await shot(alexPage, 'desktop-after-transfer');

  // --- Alex ends the chat ---
  await alexPane.getByRole('button', { name: 'End chat' }).click();
  await expect(alexPane.locator('.chat-banner')).toHaveText('You ended the chat.');
  await expect(page.locator('beckon-widget')).toContainText(/ended/i);

  // --- History: found by text, read-only transcript with the note ---
  await alexPage.getByRole('button', { name: 'History' }).click();
  await alexPage.getByLabel('Text').fill('case');
  await alexPage.getByRole('button', { name: 'Search' }).click();
  const item = alexPage.locator(`.history-item[data-conversation-id="${cid}"]`);
  await expect(item).toBeVisible();
  await item.click();
  const transcript = alexPage.getByRole('region', { name: `Conversation #${cid}` });
  await expect(transcript).toContainText('Still there?');
  await expect(transcript.locator('.tline--note')).toContainText('VIP customer, case <C-42>');
  await shot(alexPage, 'desktop-history');

  // --- live visitors: Alex invites a visitor on another page ---
  const shopCtx = await browser.newContext();
  const shop = await shopCtx.newPage();
  await shop.goto(site('shop.html'));
  await alexPage.getByRole('button', { name: /Live visitors/ }).click();
  const card = alexPage.locator('.visitor-card', { hasText: 'Contoso shop' });
  await expect(card).toBeVisible();
  await expect(card.locator('.pill')).toHaveText('Browsing');
  await expect(alexPage.locator('.visitor-card', { hasText: 'Support: your cases' })).toBeVisible();
  await card.getByRole('button', { name: 'Invite' }).click();
  await card.getByLabel('Invitation message').fill('Hello from Alex — need help choosing?');
  await shot(alexPage, 'desktop-visitors');
  await card.getByRole('button', { name: 'Send invite' }).click();
  const sw = widget(shop);
  await expect(sw.invite).toBeVisible();
  await expect(sw.inviteText).toHaveText('Hello from Alex — need help choosing?');
  await expect(card.locator('.pill')).toHaveText(/Invited/);
  await sw.accept.click();
  await expect(sw.window).toBeVisible();
  // Alex's own invite: the chat is Alex's at once, no offer card to accept.
  await alexPage.getByRole('button', { name: /^Chats/ }).click();
  await expect(alexPage.locator('.conv-item:not(.conv-item--ended)', { has: alexPage.locator('.tag--proactive') })).toBeVisible();
  await expect(alexPage.locator('.offer-card')).toHaveCount(0);
  await expect(sw.log).toContainText('Alex (demo agent) joined the chat.');
  await alexPage.getByRole('button', { name: /Live visitors/ }).click();
  await expect(card.locator('.pill')).toHaveText('Chatting');
  await expect(card.getByRole('button', { name: 'In a chat' })).toBeDisabled();
  await shopCtx.close();
  await expect(card).toHaveCount(0);

  // --- out of hours: General closed now, set in the administration ---
  await alexPage.getByRole('button', { name: 'Administration' }).click();
  const general = alexPage.locator('.admin-item', { has: alexPage.locator('.admin-item-title', { hasText: /^General$/ }) });
  await expect(general.locator('[data-role="hours-status"]')).toHaveText('Always open');
  await general.getByRole('button', { name: 'Edit hours' }).click();
  const hoursForm = general.locator('form');
  await hoursForm.getByLabel('Always open').uncheck();
  await hoursForm.getByLabel('Time zone').fill('UTC');
  const today = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][new Date().getUTCDay()];
  const names = { mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday' };
  for (const [d, name] of Object.entries(names)) {
    const box = hoursForm.getByLabel(`${name} open`, { exact: true });
    if (d === today) await box.uncheck(); else await box.check();
  }
  await hoursForm.getByRole('button', { name: 'Save hours' }).click();
  await expect(general.locator('[data-role="hours-status"]')).toHaveText(/^Closed now · opens/);
  await shot(alexPage, 'desktop-admin-queues');
  const closedCtx = await browser.newContext();
  await closedCtx.addInitScript(() => {
    window.__lcw = [];
    window.addEventListener('lcw:ready', () => window.__lcw.push({ name: 'ready', detail: {}, at: Date.now() }));
  });
  const closed = await closedCtx.newPage();
  await closed.goto(site('shop.html'));
  await waitForLcw(closed, 'ready');
  const availability = await closed.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.getAgentAvailability());
  expect(availability).toMatchObject({ isQueueAvailable: false, isAgentAvailable: false });
  await closedCtx.close();

  expect(errors).toEqual([]);
  await samCtx.close();
  await alexCtx.close();
});
