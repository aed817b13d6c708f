// The offer card tells an agent what they need to accept (issue 13): who invited the visitor and
// with what words, the page they are on, their first message, and the pre-chat answers in the
// survey's order with its questions — before accepting, in real Chromium.
'use strict';
const { test, expect, widget, waitForLcw, fillDemoPrechat, visitorSays, signInConsole } = require('../lib/fixtures');

test('the offer card shows the invite, the page, the first message and the answers in order', async ({ beckon, site, browser, page }) => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const con = await ctx.newPage();
  await signInConsole(con, beckon.url, beckon.login.email, beckon.login.password);
  await expect(con.locator('.presence')).toHaveAttribute('data-status', 'offline');

  // The page invites (the SDK's proactive chat with the survey); nobody is available yet, so
  // the visitor writes first.
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat({ message: 'Need help with your order?' }, true));
  await w.invite.getByRole('button', { name: 'Chat now' }).click();
  await fillDemoPrechat(page, 'Amy');
  await visitorSays(page, 'My parcel has not arrived.');
  await expect(w.log.getByText('My parcel has not arrived.')).toBeVisible();

  // The agent becomes available: the offer comes, and its card says it all.
  await con.getByLabel('Status').selectOption('available');
  const card = con.locator('.offer-card');
  await expect(card).toHaveCount(1);
  await expect(card.locator('.offer-invite')).toHaveText('Invited by the page: “Need help with your order?”');
  await expect(card.locator('.offer-page')).toHaveText('On Contoso shop');
  await expect(card.locator('.offer-first')).toHaveText('My parcel has not arrived.');
  await expect(card.locator('.offer-answers dt')).toHaveText(['Your name', 'What is your question about?', 'I agree that this chat is recorded']);
  await expect(card.locator('.offer-answers dd')).toHaveText(['Amy', 'Products', 'Yes']);
  await card.getByRole('button', { name: 'Accept' }).click();
  await expect(w.log.getByText(/joined the chat\./)).toBeVisible();
  await ctx.close();
});
