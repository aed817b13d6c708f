// A visitor and an agent on three Beckon nodes behind nginx, set up as docs/cluster.md says
// (PostgreSQL, NATS, the documented nginx configuration, no sticky sessions), in real Chromium.
// The node holding the visitor's socket is killed outright (SIGKILL) mid-chat: the widget
// reconnects through nginx to another node by itself, and the conversation goes on with every
// message shown once, in order, on both sides — including what the agent wrote while the
// visitor had no socket.
'use strict';
const base = require('../lib/fixtures');
const { expect, widget, waitForLcw, visitorSays } = base;
const { Agent } = require('../lib/agent');
const { startCluster } = require('../lib/cluster');

const test = base.test.extend({
  // The "server" of every fixture (the site's pages, the agent) is nginx in front of the nodes.
  // eslint-disable-next-line no-empty-pattern
  beckon: async ({}, use, testInfo) => {
    const cluster = await startCluster({ logDir: testInfo.outputDir });
    await use(cluster);
    await cluster.stop();
  },
});

/** The nodes (as nginx names them) each WebSocket of `page` was given, in order. */
async function recordSocketNodes(page) {
  const nodes = [];
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
    nodes.push(e.response.headers['X-Beckon-Node'] || e.response.headers['x-beckon-node']);
  });
  return nodes;
}

test('a visitor whose node is killed mid-chat carries on through nginx on another node', async ({ site, page, beckon, browser }) => {
  const w = widget(page);
  const visitorNodes = await recordSocketNodes(page);
  let agent = await Agent.connect(browser, beckon);
  try {
    await page.goto(site('shop.html'));
    await waitForLcw(page, 'ready');
    await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat('Can I help?', false));
    await w.accept.click();
    const { conversation } = await agent.acceptOffer();
    await agent.say(conversation.id, 'Hello from the agent');
    await expect(w.log.getByText('Hello from the agent')).toBeVisible();
    await visitorSays(page, 'Hello from the visitor');
    await agent.waitFor((f) => f.type === 'message' && f.message.text === 'Hello from the visitor');

    expect(visitorNodes.length).toBeGreaterThan(0);
    const visitorNode = visitorNodes[visitorNodes.length - 1];
    expect(visitorNode).toMatch(/^127\.0\.0\.1:\d+$/);
    // The agent on another node (nginx's round robin gives each new connection the next node),
    // so that it is the visitor's node alone that dies.
    for (let tries = 0; agent.socketNode === visitorNode; tries++) {
      expect(tries).toBeLessThan(6);
      const again = await Agent.connect(browser, beckon);
      await agent.close();
      agent = again;
    }
    expect(agent.socketNode).toMatch(/^127\.0\.0\.1:\d+$/);

    await beckon.nodeAt(visitorNode).kill();
    // While the widget has no socket the agent goes on writing; each message is stored.
    await agent.say(conversation.id, 'Written while you were away');
    // The widget reconnects by itself, through nginx, to a node that is alive.
    await expect(w.log.getByText('Written while you were away')).toHaveCount(1, { timeout: 20_000 });
    const now = visitorNodes[visitorNodes.length - 1];
    expect(now).not.toBe(visitorNode);

    await visitorSays(page, 'Still here after the crash');
    await agent.waitFor((f) => f.type === 'message' && f.message.text === 'Still here after the crash');
    await agent.say(conversation.id, 'Good, carrying on');
    await expect(w.log.getByText('Good, carrying on')).toHaveCount(1);
    await expect(w.log.locator('[data-status=pending]')).toHaveCount(0);

    // Everything once, in the order it was written, on both sides.
    const order = ['Hello from the agent', 'Hello from the visitor', 'Written while you were away',
      'Still here after the crash', 'Good, carrying on'];
    const shown = await w.log.locator('.msg').allTextContents();
    const at = order.map((text) => shown.findIndex((s) => s.includes(text)));
    expect(at.every((i) => i >= 0), `every message shown: ${JSON.stringify(shown)}`).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    for (const text of order) expect(shown.filter((s) => s.includes(text))).toHaveLength(1);
    const fromVisitor = agent.messages(conversation.id).map((m) => m.text);
    expect(fromVisitor.filter((t) => t === 'Still here after the crash')).toHaveLength(1);
  } finally {
    await agent.close();
  }
});
