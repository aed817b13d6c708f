// lcw:ready: fires once per page, after the page's own scripts, whatever the order in which
// they added their listeners; the SDK itself exists as soon as widget.js has run.
'use strict';
const { test, expect, waitForLcw, lcwEvents } = require('../lib/fixtures');

test('lcw:ready reaches listeners added before, after and around widget.js, once each', async ({ site, page }) => {
  await page.goto(site('ready.html'));
  await waitForLcw(page, 'ready');
  // A round trip to the server after ready (getAgentAvailability) gives a late second ready
  // the chance to show up before we count.
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.getAgentAvailability());
  expect(await page.evaluate(() => window.readyCalls)).toEqual({ before: 1, after: 1, domContentLoaded: 1, endOfBody: 1 });
  expect(await page.evaluate(() => window.sdkWhenLoaded)).toBe('function');
  expect(await lcwEvents(page, 'ready')).toHaveLength(1);
  expect(await lcwEvents(page, 'error')).toEqual([]);
});

test('the SDK has every documented method, and Beckon has its own names', async ({ site, page }) => {
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  const methods = await page.evaluate(() => Object.keys(Microsoft.Omnichannel.LiveChatWidget.SDK).sort());
  expect(methods).toEqual([
    'closeChat', 'getAgentAvailability', 'getAuthTokenProvider', 'getContextProvider', 'removeAuthTokenProvider',
    'removeContextProvider', 'setAuthTokenProvider', 'setContextProvider', 'startChat', 'startProactiveChat',
  ]);
  const sdk = await page.evaluate(() => {
    const SDK = Microsoft.Omnichannel.LiveChatWidget.SDK;
    const out = {};
    try { SDK.setContextProvider('not a function'); } catch (e) { out.notAFunction = e.constructor.name; }
    const fn = () => ({});
    SDK.setContextProvider(fn);
    out.getReturnsIt = SDK.getContextProvider() === fn;
    SDK.removeContextProvider();
    out.afterRemove = SDK.getContextProvider();
    out.beckon = ['setContext', 'startChat', 'invite', 'closeChat', 'on', 'track'].every((m) => typeof Beckon[m] === 'function');
    return out;
  });
  expect(sdk).toEqual({ notAFunction: 'TypeError', getReturnsIt: true, afterRemove: null, beckon: true });
});

test('getAgentAvailability answers from the server and fires lcw:getAgentAvailability', async ({ site, page, agent }) => {
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  const availability = await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.getAgentAvailability());
  expect(availability).toMatchObject({ isAgentAvailable: true, isQueueAvailable: true, positionInQueue: null });
  expect(typeof availability.queueId).toBe('number');
  await waitForLcw(page, 'getAgentAvailability');
});

test('an unreachable chat server leaves the page working and reports lcw:error 7 once', async ({ site, page }) => {
  await page.clock.install();
  await page.goto(site('unreachable.html'));
  await expect.poll(() => page.evaluate(() => window.errors.length)).toBe(1);
  // Several reconnection attempts later (backoff runs on the fake clock), still one error.
  await page.clock.runFor(120_000);
  const errors = await page.evaluate(() => window.errors);
  expect(errors).toHaveLength(1);
  expect(errors[0].errorCode).toBe(7);
  await page.getByRole('button', { name: 'Page button' }).click();
  await expect(page.locator('#page-button')).toHaveText('clicked');
});
