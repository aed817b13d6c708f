// All text is text: markup in agent messages, invite messages and context never becomes HTML.
'use strict';
const { test, expect, widget, waitForLcw } = require('../lib/fixtures');

const MARKUP = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>';

test('an agent message with markup is shown as text', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat('Hi', false));
  await w.accept.click();
  const { conversation } = await agent.acceptOffer();
  await agent.say(conversation.id, MARKUP);
  await expect(w.log.getByText(MARKUP, { exact: true })).toBeVisible();
  expect(await page.locator('beckon-widget img, beckon-widget b, beckon-widget .log script').count()).toBe(0);
  expect(await page.evaluate(() => window.__xss)).toBeUndefined();
});

test('an invite message with markup is shown as text', async ({ site, page }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await page.evaluate((m) => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat({ message: m }, false), MARKUP);
  await expect(w.inviteText).toHaveText(MARKUP);
  expect(await page.locator('beckon-widget img').count()).toBe(0);
  expect(await page.evaluate(() => window.__xss)).toBeUndefined();
});
