// The agent-initiated proactive invite: an agent sees a live visitor and sends the agent
// WebSocket `invite` frame; the widget shows the agent's message (as text), and accepting it
// starts a proactive chat tagged with that invite. The server records shown / accepted (or
// declined) under the invite's id and the agent's source, for the analytics.
'use strict';
const { test, expect, widget, waitForLcw, lcwEvents } = require('../lib/fixtures');

/** Waits until the agent sees the visitor on `page` (the live visitors list), returns its id. */
async function liveVisitorOn(agent, pageName) {
  const frame = await agent.waitFor(
    (f) => f.type === 'visitor' && f.visitor.page && f.visitor.page.url.includes(pageName),
    { what: `live visitor on ${pageName}` },
  );
  return frame.visitor.visitor_id;
}

/** The agent invites the visitor; resolves to the invite's id. */
async function invite(agent, visitorId, message) {
  const mark = agent.mark();
  await agent.send({ type: 'invite', visitor_id: visitorId, message });
  const sent = await agent.waitFor((f) => f.type === 'invite_sent' || f.type === 'error', { since: mark, what: 'invite_sent' });
  expect(sent.type).toBe('invite_sent');
  return sent.invite_id;
}

/** The analytics rows of the agent's invites (source `agent:<id>`). */
async function agentInviteRows(agent) {
  const { rows } = await agent.call('GET', '/v1/admin/analytics/invites');
  return rows.filter((r) => r.source.startsWith('agent:'));
}

test('an agent invites a live visitor; accepting starts a proactive chat tagged with the invite', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  const visitorId = await liveVisitorOn(agent, 'shop.html');

  const message = 'Hi, I am <b>Alex</b> — can I help you find the right size?';
  const inviteId = await invite(agent, visitorId, message);
  await expect(w.invite).toBeVisible();
  await expect(w.inviteText).toHaveText(message); // as text: the markup shows, nothing is bold
  await expect(w.invite.locator('b')).toHaveCount(0);
  // The live list says it was shown.
  await agent.waitFor((f) => f.type === 'visitor' && f.visitor.visitor_id === visitorId &&
    f.visitor.last_invite && f.visitor.last_invite.invite_id === inviteId && f.visitor.last_invite.outcome === 'shown',
  { what: 'invite shown in the live list' });

  const since = agent.mark();
  await w.accept.click();
  await expect(w.invite).toBeHidden();
  // The agent's own invite: the chat is theirs at once (no offer to accept), and the visitor
  // reads that they joined rather than "Waiting for an agent…".
  const { conversation } = await agent.waitFor((f) => f.type === 'chat' && f.conversation.state === 'active',
    { since, what: 'the chat from the agent\'s own invite' });
  expect(conversation.proactive).toBe(true);
  expect(agent.frames.slice(since).some((f) => f.type === 'offer')).toBe(false);
  await expect(w.log.getByText(/joined the chat\./)).toBeVisible();
  await expect(w.window.getByText('Waiting for an agent…')).toHaveCount(0);
  const start = await waitForLcw(page, 'startChat');
  expect(start.detail).toMatchObject({ conversationId: conversation.id, proactive: true });

  // The conversation is tagged with the invite, and names the agent who sent it.
  const panel = await agent.call('GET', `/v1/agent/conversations/${conversation.id}/visitor`);
  expect(panel.invite).toMatchObject({ invite_id: inviteId, message, source: expect.stringMatching(/^agent:\d+$/) });
  expect(panel.invite.agent_name).toBeTruthy();

  // The funnel: one agent invite, shown, accepted, turned into a conversation.
  await expect.poll(async () => (await agentInviteRows(agent)).map((r) => [r.shown, r.accepted, r.declined, r.conversations]))
    .toEqual([[1, 1, 0, 1]]);

  // While the visitor chats, the agent cannot invite them again.
  const mark = agent.mark();
  await agent.send({ type: 'invite', visitor_id: visitorId, message: 'Anything else?' });
  const refused = await agent.waitFor((f) => f.type === 'error' || f.type === 'invite_sent', { since: mark, what: 'reply to a second invite' });
  expect(refused).toMatchObject({ type: 'error', code: 'visitor_chatting' });
});

test('a declined agent invite starts nothing and is recorded as declined', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  const visitorId = await liveVisitorOn(agent, 'shop.html');

  await invite(agent, visitorId, 'Hello from the team!');
  await expect(w.inviteText).toHaveText('Hello from the team!');
  await w.decline.click();
  await expect(w.invite).toBeHidden();

  await expect.poll(async () => (await agentInviteRows(agent)).map((r) => [r.shown, r.accepted, r.declined, r.conversations]))
    .toEqual([[1, 0, 1, 0]]);
  expect(agent.frames.filter((f) => f.type === 'offer')).toEqual([]);
  expect(await lcwEvents(page, 'startChat')).toEqual([]);
});
