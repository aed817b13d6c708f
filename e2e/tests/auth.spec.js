// Authenticated visitors (issue 6): the page gives the widget a JWT through
// setAuthTokenProvider; the demo widget trusts a key this test generates (stored with the
// `beckon widget-auth` CLI before the server starts). The chat reaches the agent as the token's
// `sub`, with its `lwicontexts` variables (which win over the page's); an expired token is
// refreshed through the provider; a failing provider gives lcw:error and starts no chat, never
// an anonymous one in its place.
'use strict';
const crypto = require('node:crypto');
const { test, expect, widget, waitForLcw, lcwEvents, fillDemoPrechat, visitorSays } = require('../lib/fixtures');

const ISSUER = 'https://shop.example';
const KID = 'e2e-1';
const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = publicKey.export({ type: 'spki', format: 'pem' });

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** An RS256 JWT signed with the test's key; `claims` override the defaults. */
function jwt(claims = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'RS256', kid: KID, typ: 'JWT' }));
  const body = b64url(JSON.stringify({ iss: ISSUER, sub: 'customer-4711', iat: now, exp: now + 300, ...claims }));
  const signature = crypto.sign('sha256', Buffer.from(`${header}.${body}`), privateKey);
  return `${header}.${body}.${b64url(signature)}`;
}

const LWICONTEXTS = JSON.stringify({ Plan: { value: 'Gold', isDisplayable: true }, 'Customer Id': 'C-4711' });

/** The site's token endpoint: hands out `tokens` in turn (the last one again when they run out). */
async function tokenEndpoint(page, tokens) {
  const issued = [];
  await page.exposeFunction('issueToken', () => {
    const t = tokens[Math.min(issued.length, tokens.length - 1)];
    issued.push(t);
    return t;
  });
  return issued;
}

test.describe('optional sign-in', () => {
  test.use({ beckonOptions: { widgetAuth: { required: false, issuers: [ISSUER], leeway_secs: 5, keys: [{ kid: KID, pem: PEM }] } } });

  test('a signed-in visitor reaches the agent as authenticated, with the lwicontexts variables', async ({ site, page, agent }) => {
    const issued = await tokenEndpoint(page, [jwt({ lwicontexts: LWICONTEXTS })]);
    const w = widget(page);
    await page.goto(site('signed-in.html'));
    await waitForLcw(page, 'ready');

    await w.launcher.click();
    await fillDemoPrechat(page, 'Amy');
    const { offer, conversation } = await agent.acceptOffer();
    expect(issued).toHaveLength(1);
    expect(offer.authenticated_as).toBe('customer-4711');
    // lwicontexts wins over the page's variable of the same name; the page's others stay.
    expect(offer.context.Plan).toEqual({ value: 'Gold', isDisplayable: true });
    expect(offer.context['Customer Id']).toEqual({ value: 'C-4711', isDisplayable: false });
    expect(offer.context.Page).toEqual({ value: 'account', isDisplayable: true });
    await waitForLcw(page, 'startChat');

    // The live visitors list shows who it is too.
    await expect.poll(async () => {
      const { visitors } = await agent.call('GET', '/v1/agent/visitors');
      return visitors.map((v) => v.authenticated_as);
    }).toContain('customer-4711');

    await visitorSays(page, 'Where is my order?');
    await agent.waitFor((f) => f.type === 'message' && f.message.text === 'Where is my order?', { what: 'visitor message' });
    expect((await lcwEvents(page, 'error'))).toEqual([]);
  });

  test('an expired token is refreshed through the provider and the chat goes ahead', async ({ site, page, agent }) => {
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    const issued = await tokenEndpoint(page, [
      jwt({ iat: hourAgo - 300, exp: hourAgo, lwicontexts: LWICONTEXTS }),
      jwt({ lwicontexts: LWICONTEXTS }),
    ]);
    const w = widget(page);
    await page.goto(site('signed-in.html'));
    await waitForLcw(page, 'ready');

    await w.launcher.click();
    await fillDemoPrechat(page, 'Amy');
    const { offer, conversation } = await agent.acceptOffer();
    expect(await page.evaluate(() => window.providerCalls)).toBe(2);
    expect(issued).toHaveLength(2);
    expect(offer.authenticated_as).toBe('customer-4711');
    expect(offer.context.Plan).toEqual({ value: 'Gold', isDisplayable: true });

    await agent.say(conversation.id, 'Hello Amy');
    await expect(w.log.getByText('Hello Amy')).toBeVisible();
    await visitorSays(page, 'Thanks');
    await agent.waitFor((f) => f.type === 'message' && f.message.text === 'Thanks', { what: 'visitor message' });
    expect((await lcwEvents(page, 'error'))).toEqual([]);
  });

  test('a token signed by another key gives lcw:error 4 and no chat, not an anonymous one', async ({ site, page, agent }) => {
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const [h, b] = jwt().split('.');
    const forged = `${h}.${b}.${b64url(crypto.sign('sha256', Buffer.from(`${h}.${b}`), other))}`;
    await tokenEndpoint(page, [forged]);
    const w = widget(page);
    await page.goto(site('signed-in.html'));
    await waitForLcw(page, 'ready');

    await w.launcher.click();
    await fillDemoPrechat(page, 'Amy');
    const error = await waitForLcw(page, 'error');
    expect(error.detail.errorCode).toBe(4);
    expect(error.detail.errorDescription).toMatch(/signature/);
    // The visitor, who filled in the survey, reads why no chat started.
    await expect(w.window.getByRole('alert').filter({ hasText: 'could not confirm that you are signed in' })).toBeVisible();
    await expect(w.input).toBeDisabled();
    await expectNoChat(page, agent);
    await w.window.getByRole('button', { name: 'Close chat' }).click();
    await expect(w.window).toBeHidden();
  });

  test('a provider that throws gives lcw:error 2 and starts no chat', async ({ site, page, agent }) => {
    await page.goto(site('signed-in.html?provider=throws'));
    await waitForLcw(page, 'ready');
    await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startChat());
    const error = await waitForLcw(page, 'error');
    expect(error.detail.errorCode).toBe(2);
    expect(error.detail.errorDescription).toMatch(/the sign-in service is down/);
    await expectNoChat(page, agent);
    await expect(widget(page).window).toBeHidden();
  });

  test('a provider that never calls back gives lcw:error 3 after 10 s and starts no chat', async ({ site, page, agent }) => {
    await page.clock.install();
    await page.goto(site('signed-in.html?provider=silent'));
    await waitForLcw(page, 'ready');
    await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startChat());
    await expect.poll(() => page.evaluate(() => window.providerCalls)).toBe(1);
    await page.clock.runFor(9_000);
    expect(await lcwEvents(page, 'error')).toEqual([]);
    await page.clock.runFor(1_500);
    const error = await waitForLcw(page, 'error');
    expect(error.detail.errorCode).toBe(3);
    await expectNoChat(page, agent);
  });
});

test.describe('sign-in required', () => {
  test.use({ beckonOptions: { widgetAuth: { required: true, issuers: [ISSUER], keys: [{ kid: KID, pem: PEM }] } } });

  test('a page without an auth token provider gets lcw:error 8 and no chat', async ({ site, page, agent }) => {
    await page.goto(site('shop.html'));
    await waitForLcw(page, 'ready');
    // The widget learns from the server that sign-in is required (welcome.auth).
    await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.getAgentAvailability());
    await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startChat());
    const error = await waitForLcw(page, 'error');
    expect(error.detail.errorCode).toBe(8);
    await expectNoChat(page, agent);
    await expect(widget(page).window).toBeHidden();
  });
});

/** No chat started: no lcw:startChat, no chat window, and the server offered the agent nothing. */
async function expectNoChat(page, agent) {
  // A round trip on the visitor's socket: any start_chat sent before it has been answered.
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.getAgentAvailability());
  const { visitors } = await agent.call('GET', '/v1/agent/visitors');
  expect(visitors.map((v) => v.conversation_id)).toEqual([null]);
  expect(agent.frames.filter((f) => f.type === 'offer')).toEqual([]);
  expect(await lcwEvents(page, 'startChat')).toEqual([]);
}
