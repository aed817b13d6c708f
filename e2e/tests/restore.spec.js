// One conversation per visitor, across reloads and tabs: a reload restores it (lcw:chatRetrieved)
// with every message exactly once; a second tab follows the same conversation.
'use strict';
const { test, expect, widget, waitForLcw, lcwEvents, visitorSays } = require('../lib/fixtures');

async function startAcceptedChat(page, agent, site) {
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat('Can I help?', false));
  await widget(page).accept.click();
  return (await agent.acceptOffer()).conversation;
}

test('a reload restores the conversation without duplicating any message', async ({ site, page, agent }) => {
  const w = widget(page);
  const conversation = await startAcceptedChat(page, agent, site);
  await agent.say(conversation.id, 'First from the agent');
  await visitorSays(page, 'First from the visitor');
  await agent.waitFor((f) => f.type === 'message' && f.message.text === 'First from the visitor');
  await agent.say(conversation.id, 'Second from the agent');
  await expect(w.log.getByText('Second from the agent')).toBeVisible();
  const before = await w.log.locator('.msg').allTextContents();

  await page.reload();
  await waitForLcw(page, 'chatRetrieved');
  await expect(w.window).toBeVisible();
  await expect(w.log.getByText('Second from the agent')).toBeVisible();
  expect(await w.log.locator('.msg').allTextContents()).toEqual(before);
  // History is not news: no onMessageReceived for it after the reload.
  expect(await lcwEvents(page, 'onMessageReceived')).toEqual([]);

  // The restored chat goes on, still without duplicates.
  await agent.say(conversation.id, 'After the reload');
  await expect(w.log.getByText('After the reload')).toHaveCount(1);
  await visitorSays(page, 'Still here');
  await agent.waitFor((f) => f.type === 'message' && f.message.text === 'Still here');
  await expect(w.log.getByText('Still here')).toHaveCount(1);
  expect(await w.log.locator('.msg').count()).toBe(before.length + 2);
});

test('a second tab shows the same conversation and both tabs get new messages', async ({ site, page, context, agent }) => {
  const conversation = await startAcceptedChat(page, agent, site);
  await agent.say(conversation.id, 'Hello in every tab');
  const second = await context.newPage();
  await second.goto(site('scenario7.html')); // any page of the site
  await waitForLcw(second, 'chatRetrieved');
  await expect(widget(second).log.getByText('Hello in every tab')).toHaveCount(1);
  // Scenario 7's page offers an invite on load: suppressed, since a chat is open.
  await expect(widget(second).invite).toHaveCount(0);

  await agent.say(conversation.id, 'Seen twice?');
  await expect(widget(page).log.getByText('Seen twice?')).toHaveCount(1);
  await expect(widget(second).log.getByText('Seen twice?')).toHaveCount(1);

  await visitorSays(second, 'Typed in the second tab');
  await expect(widget(page).log.getByText('Typed in the second tab')).toHaveCount(1);
  await agent.waitFor((f) => f.type === 'message' && f.message.text === 'Typed in the second tab');
});

test('messages typed while the server is down are delivered once after it comes back', async ({ site, page, agent, beckon, browser }) => {
  const w = widget(page);
  const conversation = await startAcceptedChat(page, agent, site);
  await agent.say(conversation.id, 'Before the restart');
  await expect(w.log.getByText('Before the restart')).toBeVisible();

  await agent.close();
  await beckon.stop({ keepData: true });
  await visitorSays(page, 'Sent while the server is down');
  await expect(w.log.locator('[data-status=pending]').getByText('Sent while the server is down')).toBeVisible();

  // Same database, same port: the widget reconnects by itself and resends (same client_msg_id).
  const { startServer } = require('../lib/server');
  const again = await startServer({ dir: beckon.dir, bind: `127.0.0.1:${beckon.port}`, logFile: test.info().outputPath('beckon-2.log') });
  try {
    await expect(w.log.locator('[data-status=sent]').getByText('Sent while the server is down')).toBeVisible({ timeout: 40_000 });
    const { Agent } = require('../lib/agent');
    const agent2 = await Agent.connect(browser, again);
    const mark = agent2.mark();
    await agent2.send({ type: 'sync', conversation_id: conversation.id, after_seq: 0 });
    await agent2.waitFor((f) => f.type === 'ok', { since: mark });
    const texts = agent2.frames.slice(mark).filter((f) => f.type === 'message').map((f) => f.message.text);
    expect(texts.filter((t) => t === 'Sent while the server is down')).toHaveLength(1);
    await expect(w.log.getByText('Sent while the server is down')).toHaveCount(1);
    await agent2.close();
  } finally {
    await again.stop();
  }
});
