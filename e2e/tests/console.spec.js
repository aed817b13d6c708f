// Browser tests for the agent console (/console) in real Chromium against the real `beckon demo`
// server: the agent signs in, goes available, gets an offer (sound + tab title), accepts it, sees
// the visitor's displayable context as literal text, chats both ways with typing indicators,
// reloads mid-chat without losing or duplicating a message, ends the chat, and sees a chat the
// visitor ended. The visitor side is a WebSocket client in Node (see lib/visitor.js).
// Every wait is on visible state or a frame — no fixed sleeps. Screenshots go to /tmp/console-shots/.
'use strict';

const fs = require('node:fs');
const { test, expect } = require('@playwright/test');
const { startServer } = require('../lib/server');
const { Visitor } = require('../lib/visitor');

const SHOTS = '/tmp/console-shots';
const XSS = '<img src=x onerror=alert(1)>';

test.use({ viewport: { width: 1280, height: 800 } });
test.describe.configure({ mode: 'serial' });
test.setTimeout(120000);
expect.configure({ timeout: 10000 });

let server;
test.beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
});
test.afterAll(async () => { if (server) await server.stop(); });

// Counts the oscillators the console starts: the WebAudio chime is the only thing that does.
async function countChimes(context) {
  await context.addInitScript(() => {
    window.__oscillators = 0;
    const AC = window.AudioContext || window.webkitAudioContext;
    if (AC) {
      const create = AC.prototype.createOscillator;
      AC.prototype.createOscillator = function () { window.__oscillators += 1; return create.apply(this, arguments); };
    }
  });
}

async function signIn(page) {
  await page.getByLabel('Email').fill('agent@demo.beckon');
  await page.getByLabel('Password').fill('beckon-demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#conn')).toHaveAttribute('data-state', 'online');
}

async function setAvailable(page) {
  await page.getByLabel('Status').selectOption('available');
  await expect(page.locator('.presence')).toHaveAttribute('data-status', 'available');
}

function shot(page, name) {
  return page.screenshot({ path: `${SHOTS}/${name}.png`, animations: 'disabled' });
}

function pane(page, conversationId) {
  return page.locator(`.pane[data-conversation-id="${conversationId}"]`);
}

// The seqs of the messages the console shows in a conversation, in DOM order.
async function shownSeqs(p) {
  return p.locator('.log .msg[data-seq]').evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
}

test('agent signs in, takes an offer, chats, reloads mid-chat and ends', async ({ page, context }) => {
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await countChimes(context);

  // --- sign in (a wrong password first: the server's message is shown) ---
  await page.goto(`${server.url}/console`);
  await expect(page.getByRole('heading', { name: 'Sign in to the agent console' })).toBeVisible();
  await shot(page, 'desktop-signin');
  await page.getByLabel('Email').fill('agent@demo.beckon');
  await page.getByLabel('Password').fill('wrong-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#signin-error')).toBeVisible();
  await expect(page.locator('#signin-error')).not.toBeEmpty();
  await signIn(page);
  await expect(page.locator('#me-name')).not.toBeEmpty();

  // --- presence, also reflected from another console tab ---
  await setAvailable(page);
  const other = await context.newPage();
  await other.goto(`${server.url}/console`);
  await expect(other.locator('#conn')).toHaveAttribute('data-state', 'online');
  await expect(other.getByLabel('Status')).toHaveValue('available');
  await other.getByLabel('Status').selectOption('busy');
  await expect(page.locator('.presence')).toHaveAttribute('data-status', 'busy');
  await expect(page.getByLabel('Status')).toHaveValue('busy');
  await other.close();
  await setAvailable(page);

  // --- a visitor starts a chat: offer with sound and tab title ---
  const visitor = await Visitor.connect(server.url, { page: { url: 'https://shop.example/support', title: 'Support', referrer: '' } });
  const chimesBefore = await page.evaluate(() => window.__oscillators);
  visitor.send({
    type: 'start_chat',
    proactive: true,
    context: { 'Case Id': { value: XSS, isDisplayable: true }, Hidden: 'no' },
  });
  const started = await visitor.next((f) => f.type === 'chat');
  const cid = started.conversation.id;
  const offer = page.locator(`.offer-card[data-conversation-id="${cid}"]`);
  await expect(offer).toBeVisible();
  await expect(offer.getByText('Proactive')).toBeVisible();
  await expect(offer.locator('dd')).toHaveText([XSS]);
  await expect(page).toHaveTitle('(1) New chat — Beckon');
  await expect.poll(() => page.evaluate(() => window.__oscillators)).toBeGreaterThan(chimesBefore);
  await shot(page, 'desktop-offer');

  // --- accept: the conversation opens with the visitor panel ---
  await offer.getByRole('button', { name: 'Accept' }).click();
  const p = pane(page, cid);
  await expect(p).toBeVisible();
  await expect(offer).toHaveCount(0);
  await expect(page).toHaveTitle('Agent console — Beckon');
  await expect(p.locator('.msg--system').first()).toContainText('joined the chat');
  const panel = p.locator('.visitor-panel');
  await expect(panel).toBeVisible();
  const ctx = panel.locator('[data-section="context"]');
  await expect(ctx.locator('dt')).toHaveText(['Case Id']);
  await expect(ctx.locator('dd')).toHaveText([XSS]);
  await expect(ctx).not.toContainText('Hidden');
  await expect(page.locator('img')).toHaveCount(0);
  await expect(panel).toContainText('Yes — accepted an invitation');
  const visit = panel.locator('[data-section="visit"]');
  await expect(visit).toContainText('https://shop.example/support');
  await expect(visit).toContainText('Pages seen this visit (1)');
  await expect(visit).toContainText('1st visit');
  const joined = await visitor.next((f) => f.type === 'chat' && f.conversation.state === 'active');
  expect(joined.conversation.agent).not.toBeNull();

  // --- visitor → agent, with the visitor's typing indicator ---
  visitor.send({ type: 'typing', typing: true });
  await expect(p.locator('.typing')).toContainText('is typing');
  await expect(page.locator(`.conv-item[data-conversation-id="${cid}"]`)).toContainText('typing…');
  visitor.send({ type: 'send', client_msg_id: 'v-1', text: 'Hi, I need help with <b>my case</b>' });
  await visitor.next((f) => f.type === 'ack' && f.client_msg_id === 'v-1');
  await expect(p.locator('.msg--visitor .bubble')).toHaveText(['Visitor: Hi, I need help with <b>my case</b>']);
  await expect(p.locator('.typing')).toBeEmpty();

  // --- agent → visitor: typing out, Enter sends, Shift+Enter is a new line, pending until ack ---
  const input = p.getByLabel(/Message to/);
  await input.click();
  await input.pressSequentially('Sure');
  const typingOn = await visitor.next((f) => f.type === 'typing' && f.from === 'agent' && f.typing === true);
  expect(typingOn.conversation_id).toBe(cid);
  await input.press('Shift+Enter');
  await input.pressSequentially('what is the case about?');
  await input.press('Enter');
  await expect(input).toHaveValue('');
  const agentMsg = await visitor.next((f) => f.type === 'message' && f.message.sender.kind === 'agent');
  expect(agentMsg.message.text).toBe('Sure\nwhat is the case about?');
  await visitor.next((f) => f.type === 'typing' && f.from === 'agent' && f.typing === false);
  await expect(p.locator('.msg--agent:not(.msg--pending) .bubble')).toHaveText(['You: Sure\nwhat is the case about?']);
  await expect(p.locator('.msg--pending')).toHaveCount(0);

  visitor.send({ type: 'send', client_msg_id: 'v-2', text: 'It is about an order that never arrived.' });
  await expect(p.locator('.msg--visitor')).toHaveCount(2);
  await shot(page, 'desktop-chat');

  // --- small width: the conversation, the visitor info, the list ---
  await page.setViewportSize({ width: 400, height: 800 });
  await expect(p.locator('.log')).toBeVisible();
  await shot(page, 'narrow-chat');
  await p.getByRole('button', { name: 'Visitor info' }).click();
  await expect(panel).toBeVisible();
  await shot(page, 'narrow-info');
  await p.getByRole('button', { name: 'Back to chat' }).click();
  await expect(p.locator('.log')).toBeVisible();
  await p.getByRole('button', { name: 'Back to the list of chats' }).click();
  await expect(page.locator('#conv-list')).toBeVisible();
  await shot(page, 'narrow-list');
  await page.locator(`.conv-item[data-conversation-id="${cid}"]`).click();
  await expect(p.locator('.log')).toBeVisible();
  await page.setViewportSize({ width: 1280, height: 800 });

  // --- reload mid-chat; the visitor writes while the console is away ---
  await page.reload();
  visitor.send({ type: 'send', client_msg_id: 'v-3', text: 'Are you still there?' });
  await visitor.next((f) => f.type === 'ack' && f.client_msg_id === 'v-3');
  await expect(page.locator('#conn')).toHaveAttribute('data-state', 'online');
  const p2 = pane(page, cid);
  await expect(p2).toBeVisible(); // reopened: it was the selected conversation
  const lastSeq = Math.max(...visitor.messages().map((m) => m.seq));
  await expect.poll(() => shownSeqs(p2)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
  await expect(p2.locator('.msg--visitor .bubble')).toHaveText([
    'Visitor: Hi, I need help with <b>my case</b>',
    'Visitor: It is about an order that never arrived.',
    'Visitor: Are you still there?',
  ]);
  await expect(p2.locator('.msg--agent .bubble')).toHaveText(['You: Sure\nwhat is the case about?']);
  await expect(p2.locator('.visitor-panel [data-section="context"] dd')).toHaveText([XSS]);

  // The chat still works after the reload.
  await p2.getByLabel(/Message to/).fill('Yes — checking your order now.');
  await p2.getByRole('button', { name: 'Send' }).click();
  await visitor.next((f) => f.type === 'message' && f.message.text === 'Yes — checking your order now.');
  await expect(p2.locator('.msg--agent:not(.msg--pending)')).toHaveCount(2);
  expect(new Set(await shownSeqs(p2)).size).toBe((await shownSeqs(p2)).length);

  // --- the agent ends the chat ---
  await p2.getByRole('button', { name: 'End chat' }).click();
  await visitor.next((f) => f.type === 'chat' && f.conversation.state === 'ended');
  const ended = await visitor.next((f) => f.type === 'message' && (f.message.tags || []).includes('agentended'));
  expect(ended.message.sender.kind).toBe('system');
  await expect(p2.locator('.chat-banner')).toHaveText('You ended the chat.');
  await expect(p2.getByLabel(/Message to/)).toBeDisabled();
  await expect(p2.getByRole('button', { name: 'End chat' })).toBeHidden();
  visitor.close();

  // --- a second visitor, who ends the chat themselves (offered while on a small screen) ---
  await page.setViewportSize({ width: 400, height: 800 });
  const visitor2 = await Visitor.connect(server.url);
  visitor2.send({ type: 'start_chat', proactive: false, prechat: { 'Your name': 'Ada' } });
  const c2 = (await visitor2.next((f) => f.type === 'chat')).conversation.id;
  const jump = page.getByRole('button', { name: '1 incoming chat' });
  await expect(jump).toBeVisible();
  await shot(page, 'narrow-offer-pill');
  await jump.click();
  const offer2 = page.locator(`.offer-card[data-conversation-id="${c2}"]`);
  await expect(offer2).toBeVisible();
  await expect(offer2).toContainText('Ada');
  await shot(page, 'narrow-offer');
  await offer2.getByRole('button', { name: 'Accept' }).click();
  const p3 = pane(page, c2);
  await expect(p3).toBeVisible();
  await page.setViewportSize({ width: 1280, height: 800 });
  await expect(p3.locator('.chat-title')).toHaveText('Ada');
  await expect(page.locator('.conv-item')).toHaveCount(2);
  await visitor2.next((f) => f.type === 'chat' && f.conversation.state === 'active');
  visitor2.send({ type: 'close_chat' });
  await expect(p3.locator('.chat-banner')).toHaveText('The visitor ended the chat.');
  await expect(p3.getByLabel(/Message to/)).toBeDisabled();
  await shot(page, 'desktop-visitor-ended');
  await p3.getByRole('button', { name: 'Close' }).click();
  await expect(p3).toHaveCount(0);
  visitor2.close();

  // --- sign out ---
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to the agent console' })).toBeVisible();
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Sign in to the agent console' })).toBeVisible();

  expect(dialogs).toEqual([]);
  expect(pageErrors).toEqual([]);
});

test('an unacknowledged message is resent with the same client_msg_id after a reconnect', async ({ page }) => {
  // Sit between the console and the server: the first time the agent sends 'Lost on the way',
  // swallow the frame and drop the connection, as a network failure would.
  let dropped = null;
  await page.routeWebSocket(/\/v1\/agent\/ws$/, (ws) => {
    const upstream = ws.connectToServer();
    ws.onMessage((data) => {
      const frame = JSON.parse(String(data));
      if (!dropped && frame.type === 'send' && frame.text === 'Lost on the way') {
        dropped = frame;
        ws.close({ code: 1006, reason: 'network lost' });
        upstream.close();
        return;
      }
      upstream.send(data);
    });
  });
  await page.goto(`${server.url}/console`);
  await signIn(page);
  await setAvailable(page);
  const visitor = await Visitor.connect(server.url);
  visitor.send({ type: 'start_chat', proactive: false });
  const cid = (await visitor.next((f) => f.type === 'chat')).conversation.id;
  await page.locator(`.offer-card[data-conversation-id="${cid}"]`).getByRole('button', { name: 'Accept' }).click();
  const p = pane(page, cid);
  await expect(p).toBeVisible();
  await visitor.next((f) => f.type === 'chat' && f.conversation.state === 'active');

  await p.getByLabel(/Message to/).fill('Lost on the way');
  await p.getByLabel(/Message to/).press('Enter');
  const m = await visitor.next((f) => f.type === 'message' && f.message.text === 'Lost on the way', 30000);
  expect(dropped).not.toBeNull();
  expect(m.message.client_msg_id).toBe(dropped.client_msg_id);
  await expect(page.locator('#conn')).toHaveAttribute('data-state', 'online');
  await expect(p.locator('.msg--pending')).toHaveCount(0);
  await expect(p.locator('.msg--agent .bubble')).toHaveText(['You: Lost on the way']);
  expect(visitor.messages().filter((x) => x.text === 'Lost on the way')).toHaveLength(1);
  visitor.close();
});

test('the tab title flashes for a new offer while the console is not focused; Decline hands it back', async ({ page, context }) => {
  // Headless pages always report focus; let the test decide what document.hasFocus() answers.
  await context.addInitScript(() => {
    window.__focused = true;
    Document.prototype.hasFocus = function () { return window.__focused; };
  });
  await page.goto(`${server.url}/console`);
  await signIn(page);
  await setAvailable(page);
  await page.evaluate(() => { window.__focused = false; window.dispatchEvent(new Event('blur')); });

  const visitor = await Visitor.connect(server.url);
  visitor.send({ type: 'start_chat', proactive: false });
  const cid = (await visitor.next((f) => f.type === 'chat')).conversation.id;
  const offer = page.locator(`.offer-card[data-conversation-id="${cid}"]`);
  await expect(offer).toBeVisible();
  await expect(page).toHaveTitle('(1) New chat — Beckon');
  await expect(page).toHaveTitle('Agent console — Beckon'); // the other half of the flash
  await expect(page).toHaveTitle('(1) New chat — Beckon');

  // Focus stops the flashing; the title keeps showing the waiting offer.
  await page.evaluate(() => { window.__focused = true; window.dispatchEvent(new Event('focus')); });
  await expect(page).toHaveTitle('(1) New chat — Beckon');

  await offer.getByRole('button', { name: 'Decline' }).click();
  await expect(offer).toHaveCount(0);
  await expect(page).toHaveTitle('Agent console — Beckon');
  visitor.send({ type: 'close_chat' });
  await visitor.next((f) => f.type === 'ok');
  visitor.close();
});
