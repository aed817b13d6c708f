// A chat both ways through the real server: the visitor starts it (pre-chat survey of the demo
// widget), the agent accepts, each side's messages and typing reach the other, the agent ends it.
'use strict';
const { test, expect, widget, waitForLcw, lcwEvents, fillDemoPrechat, visitorSays } = require('../lib/fixtures');

test('visitor and agent chat both ways, with typing indicators, until the agent ends it', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');

  // The launcher opens the chat; the demo widget asks its pre-chat questions first.
  await w.launcher.click();
  await fillDemoPrechat(page, 'Amy');
  const { offer, conversation } = await agent.acceptOffer();
  expect(offer.proactive).toBe(false);
  expect(offer.context['Your name']).toEqual({ value: 'Amy', isDisplayable: true });
  expect(offer.context['I agree that this chat is recorded']).toEqual({ value: true, isDisplayable: true });
  await waitForLcw(page, 'startChat');
  await waitForLcw(page, 'chatQueued');

  // Agent -> visitor.
  await agent.say(conversation.id, 'Hello Amy, how can I help?');
  await expect(w.log.getByText('Hello Amy, how can I help?')).toBeVisible();
  const received = (await lcwEvents(page, 'onMessageReceived')).find((e) => e.detail.text === 'Hello Amy, how can I help?');
  expect(received.detail).toMatchObject({ messageType: 'user' });

  // Visitor typing reaches the agent, and so does the message; pending until acknowledged.
  let since = agent.mark();
  await w.input.fill('My Surface Book');
  await agent.waitFor((f) => f.type === 'typing' && f.from === 'visitor' && f.typing === true, { since, what: 'visitor typing' });
  await w.input.fill('');
  await visitorSays(page, 'My Surface Book screen is cracked');
  const got = await agent.waitFor((f) => f.type === 'message' && f.message.text === 'My Surface Book screen is cracked', { since, what: 'visitor message' });
  expect(got.message.sender.kind).toBe('visitor');
  await expect(w.log.locator('[data-status=sent]').getByText('My Surface Book screen is cracked')).toBeVisible();
  await waitForLcw(page, 'onMessageSent');

  // Agent typing shows in the widget.
  await agent.send({ type: 'typing', conversation_id: conversation.id, typing: true });
  await expect(page.getByText(/is typing/)).toBeVisible();
  await agent.send({ type: 'typing', conversation_id: conversation.id, typing: false });
  await expect(page.getByText(/is typing/)).toHaveCount(0);

  // Every message appears exactly once on each side.
  await agent.say(conversation.id, 'Let me check that for you.');
  await expect(w.log.getByText('Let me check that for you.')).toHaveCount(1);
  await expect(w.log.getByText('My Surface Book screen is cracked')).toHaveCount(1);
  expect(agent.messages(conversation.id).map((m) => m.text)).toEqual(['My Surface Book screen is cracked']);

  // The agent ends the chat.
  await agent.send({ type: 'end', conversation_id: conversation.id });
  await expect(w.window.getByText('This chat has ended.')).toBeVisible();
  await expect(w.window.getByText(/ended the chat/)).toHaveCount(1); // said once, by the transcript
  await waitForLcw(page, 'threadUpdate');
  await expect(w.input).toBeHidden();
});

test('a click on the launcher before the server has answered still asks the pre-chat questions', async ({ site, page, agent }) => {
  // The server's welcome (which brings the survey) is held back until the launcher is clicked.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.routeWebSocket(/\/v1\/visitor\/ws/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage(async (m) => { await held; ws.send(m); });
  });
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await w.launcher.click();
  release();
  await fillDemoPrechat(page, 'Amy');
  const { offer } = await agent.acceptOffer();
  expect(offer.context['Your name']).toEqual({ value: 'Amy', isDisplayable: true });
  await waitForLcw(page, 'startChat');
});

test('the visitor closes the chat: the agent sees it ended, the widget fires closeChat and onClose', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat('Need help?', false));
  await w.accept.click();
  const { conversation } = await agent.acceptOffer();
  const since = agent.mark();
  await page.getByRole('button', { name: 'Close chat' }).click();
  await page.getByRole('alertdialog', { name: 'End this chat?' }).getByRole('button', { name: 'End chat' }).click();
  await agent.waitFor((f) => f.type === 'chat' && f.conversation.id === conversation.id && f.conversation.state === 'ended', { since, what: 'ended chat' });
  await waitForLcw(page, 'closeChat');
  await waitForLcw(page, 'onClose');
  await expect(w.window).toBeHidden();
});

test('minimising shows an unread badge for agent messages; maximising clears it', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat('Need help?', false));
  await w.accept.click();
  const { conversation } = await agent.acceptOffer();
  await page.getByRole('button', { name: 'Minimise chat' }).first().click();
  await waitForLcw(page, 'onMinimize');
  await expect(w.window).toBeHidden();
  await agent.say(conversation.id, 'Are you still there?');
  await expect(w.launcher).toHaveAccessibleName(/1 unread message/);
  await w.launcher.click();
  await waitForLcw(page, 'onMaximize');
  await expect(w.log.getByText('Are you still there?')).toBeVisible();
  await expect(w.launcher).not.toHaveAccessibleName(/unread/);
});

test('an invalid custom context gives lcw:error 1 and starts no chat', async ({ site, page, agent }) => {
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  const since = agent.mark();
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startChat({ customContext: { Big: { value: 'x'.repeat(4001), isDisplayable: true } } }));
  const error = await waitForLcw(page, 'error');
  expect(error.detail.errorCode).toBe(1);
  expect(error.detail.errorDescription).toContain('Big');
  await expect(widget(page).window).toBeHidden();
  // Nothing reached the agent: a valid chat started now is the first offer since.
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat('Hello?', false));
  await widget(page).accept.click();
  const { offer } = await agent.acceptOffer({ since });
  expect(offer.context).toEqual({});
  expect(agent.frames.slice(since).filter((f) => f.type === 'offer')).toHaveLength(1);
});
