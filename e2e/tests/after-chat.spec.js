// What the visitor sees around the end of a chat (issue 13's defects, walked as a person would):
// a chat that has just ended is no moment for a rule's invite (the "Why?" view says so), no
// invite is drawn over the chat window, the window's × asks before it ends a chat, the ended
// chat is announced once, and Escape hands keyboard focus back to the control that opened the
// widget instead of dropping it on the page's body. The server runs on real time: every wait is
// on a frame or on visible state, never a sleep.
'use strict';
const { test, expect, widget, waitForLcw, fillDemoPrechat } = require('../lib/fixtures');

/** Records every frame the widget sends (window.__sent), from before any page script runs. */
function recordSent(page) {
  return page.addInitScript(() => {
    window.__sent = [];
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) { window.__sent.push(JSON.parse(data)); return send.call(this, data); };
  });
}

/** The invite outcomes the widget has reported (type `invite` frames). */
function inviteReports(page) {
  return page.evaluate(() => window.__sent.filter((f) => f.type === 'invite'));
}

/** What has keyboard focus, inside the widget's shadow root or on the page. */
function focused(page) {
  return page.evaluate(() => {
    const host = document.querySelector('beckon-widget');
    const inner = host && host.shadowRoot && host.shadowRoot.activeElement;
    const e = inner || document.activeElement;
    return { tag: e.tagName.toLowerCase(), label: e.getAttribute('aria-label') || e.textContent.trim(), inWidget: !!inner };
  });
}

/** The live visitor's id, once the agent sees them on a page whose URL contains `part`. */
async function liveVisitor(agent, part) {
  const f = await agent.waitFor((f) => f.type === 'visitor' && f.visitor.page && f.visitor.page.url.includes(part),
    { what: `live visitor on ${part}` });
  return f.visitor.visitor_id;
}

/** Starts a chat from the launcher (the demo widget's survey) and has the agent accept it. */
async function chatWithAgent(page, agent) {
  const w = widget(page);
  await w.launcher.click();
  await fillDemoPrechat(page, 'Amy');
  const accepted = await agent.acceptOffer();
  await waitForLcw(page, 'startChat');
  await expect(w.input).toBeEnabled();
  return accepted;
}

test('a chat the agent just ended is not followed by a rule invite, and "Why?" says why', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('plain.html'));
  await waitForLcw(page, 'ready');
  const visitorId = await liveVisitor(agent, 'plain.html');
  const { conversation } = await chatWithAgent(page, agent);

  // A rule that holds for this visitor the whole time (any time on this page): while they chat
  // it is held back for chatting ...
  const message = 'Still there? We are happy to help.';
  await agent.call('PUT', '/v1/admin/trigger-rules', { rules: [{
    id: 1, name: 'On the page', conditions: { page_url: { op: 'contains', value: '/plain.html' } },
    invite: { message }, limits: { frequency: 'once_per_page_view', require_free_agent: false },
  }] });
  const verdict = async () => {
    const body = await agent.call('GET', `/v1/agent/visitors/${visitorId}/why`);
    return body.rules.find((r) => r.rule_id === 1).verdict;
  };
  await expect.poll(verdict).toEqual({ kind: 'suppressed', reason: { code: 'chatting' } });

  // ... and when the agent ends the chat it does not invite a moment later: the visitor chatted
  // during this visit.
  await agent.send({ type: 'end', conversation_id: conversation.id });
  await expect(w.window.getByText('This chat has ended.')).toBeVisible();
  await expect.poll(verdict).toEqual({ kind: 'suppressed', reason: { code: 'chatted_this_visit' } });
  // The transcript says who ended it; the footer does not say it again.
  await expect(w.window.getByText(/ended the chat/)).toHaveCount(1);
  await expect(w.invite).toHaveCount(0);
  await expect(w.window.getByRole('button', { name: 'Start a new chat' })).toBeVisible();
});

test('an agent invite never covers the chat window; with the window minimised it shows', async ({ site, page, agent }) => {
  await recordSent(page);
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  const visitorId = await liveVisitor(agent, 'shop.html');
  const { conversation } = await chatWithAgent(page, agent);
  await agent.send({ type: 'end', conversation_id: conversation.id });
  await expect(w.window.getByText('This chat has ended.')).toBeVisible();

  // The ended chat is on screen: the agent's invite is reported suppressed, nothing covers it.
  let mark = agent.mark();
  await agent.send({ type: 'invite', visitor_id: visitorId, message: 'One more thing?' });
  await agent.waitFor((f) => f.type === 'invite_sent', { since: mark, what: 'invite_sent' });
  await expect.poll(async () => (await inviteReports(page)).map((f) => [f.outcome, f.reason]))
    .toContainEqual(['suppressed', 'chat_open']);
  await expect(w.invite).toHaveCount(0);
  await expect(w.window.getByRole('button', { name: 'Start a new chat' })).toBeVisible();

  // Minimised, the window no longer holds the screen: the next invite shows.
  await page.getByRole('button', { name: 'Minimise chat' }).first().click();
  await expect(w.window).toBeHidden();
  mark = agent.mark();
  await agent.send({ type: 'invite', visitor_id: visitorId, message: 'Here if you need us.' });
  await agent.waitFor((f) => f.type === 'invite_sent', { since: mark, what: 'invite_sent' });
  await expect(w.inviteText).toHaveText('Here if you need us.');
});

test('the window\'s × asks before ending a chat; Cancel keeps it, End chat ends it', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  const { conversation } = await chatWithAgent(page, agent);

  await page.getByRole('button', { name: 'Close chat' }).click();
  const confirm = page.getByRole('alertdialog', { name: 'End this chat?' });
  await expect(confirm).toBeVisible();
  await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await expect(confirm).toBeHidden();
  await expect(w.input).toBeFocused();
  await expect(w.window).toBeVisible();

  // Escape also cancels, and leaves the chat open.
  await page.getByRole('button', { name: 'Close chat' }).click();
  await expect(confirm).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(confirm).toBeHidden();
  await expect(w.window).toBeVisible();

  const since = agent.mark();
  await page.getByRole('button', { name: 'Close chat' }).click();
  await confirm.getByRole('button', { name: 'End chat' }).click();
  await agent.waitFor((f) => f.type === 'chat' && f.conversation.id === conversation.id && f.conversation.state === 'ended',
    { since, what: 'ended chat' });
  await waitForLcw(page, 'closeChat');
  await expect(w.window).toBeHidden();
  // Focus went back to the launcher that opened the chat, not to the page's body.
  expect(await focused(page)).toMatchObject({ inWidget: true, tag: 'button', label: 'Open chat' });
});

test('Escape returns focus to what opened the widget: the launcher, or the page\'s own button', async ({ site, page }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');

  // Opened from the launcher by keyboard: Escape minimises and focus is on the launcher again.
  await w.launcher.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByLabel('Your name')).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(w.window).toBeHidden();
  expect(await focused(page)).toMatchObject({ inWidget: true, tag: 'button' });
  expect((await focused(page)).label).toMatch(/chat/i);

  // Opened from a button of the page (through the SDK): Escape gives focus back to that button.
  await page.evaluate(() => {
    const b = document.createElement('button');
    b.id = 'help';
    b.textContent = 'Get help';
    b.addEventListener('click', () => Microsoft.Omnichannel.LiveChatWidget.SDK.startChat());
    document.body.appendChild(b);
  });
  await page.locator('#help').focus();
  await page.keyboard.press('Enter');
  await expect(w.window).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(w.window).toBeHidden();
  await expect(page.locator('#help')).toBeFocused();
});

test('Escape on an invite hands focus to the launcher, not the page body', async ({ site, page }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat('Need help?', false));
  await expect(w.invite).toBeVisible();
  await w.decline.focus();
  await page.keyboard.press('Escape');
  await expect(w.invite).toHaveCount(0);
  expect(await focused(page)).toMatchObject({ inWidget: true, tag: 'button', label: 'Open chat' });
});
