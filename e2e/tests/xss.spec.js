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

test('web addresses in messages become safe links; other schemes and markup stay text', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat('Hi', false));
  await w.accept.click();
  const { conversation } = await agent.acceptOffer();
  const text = 'Sizes: https://example.com/size?x=1&y=2, or www.contoso.com. Not javascript:alert(1), '
    + 'nor https://x.test/"><img src=x onerror="window.__xss=3">';
  await agent.say(conversation.id, text);
  const p = w.log.locator('.msg.agent .text').last();
  await expect(p).toHaveText(text); // every character is still there, as text
  const links = p.locator('a');
  await expect(links).toHaveCount(3);
  expect(await links.evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.textContent, a.target, a.rel]))).toEqual([
    ['https://example.com/size?x=1&y=2', 'https://example.com/size?x=1&y=2', '_blank', 'noopener noreferrer nofollow ugc'],
    ['https://www.contoso.com', 'www.contoso.com', '_blank', 'noopener noreferrer nofollow ugc'],
    ['https://x.test/', 'https://x.test/', '_blank', 'noopener noreferrer nofollow ugc'],
  ]);
  expect(await page.locator('beckon-widget img').count()).toBe(0);
  expect(await page.evaluate(() => window.__xss)).toBeUndefined();
});
