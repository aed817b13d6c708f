// Satisfaction (CSAT) in real Chromium: the agent ends a chat; the visitor rates it (4 stars and a
// comment) in the widget; the agent's ended chat says so; History shows the rating beside the
// visitor's pre-chat name; the admin reads it under Administration → Satisfaction.
'use strict';
const fs = require('node:fs');
const { test, expect, widget, waitForLcw, fillDemoPrechat, visitorSays, signInConsole } = require('../lib/fixtures');

test('a visitor rates the chat an agent ended; agents and admins read it', async ({ beckon, site, browser, page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const con = await ctx.newPage();
  con.on('pageerror', (e) => errors.push(String(e)));
  await signInConsole(con, beckon.url, beckon.login.email, beckon.login.password);

  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await w.launcher.click();
  await fillDemoPrechat(page, 'Amy');
  await con.locator('.waiting-item').getByRole('button', { name: 'Take' }).click();
  await visitorSays(page, 'Thanks for the help!');
  await expect(con.locator('.bubble', { hasText: 'Thanks for the help!' })).toBeVisible();
  const pane = con.locator('.pane:not([hidden])');
  await pane.getByRole('button', { name: 'End chat' }).click();

  // The visitor is asked; a star, then a comment, then Send.
  const rate = w.window.getByRole('group', { name: 'How was this chat?' });
  await expect(rate).toBeVisible();
  await expect(rate.getByRole('button', { name: 'Send rating' })).toBeHidden();
  await rate.getByRole('button', { name: '4 out of 5' }).click();
  await expect(rate.getByRole('button', { name: '4 out of 5' })).toHaveAttribute('aria-pressed', 'true');
  await rate.getByRole('textbox', { name: 'Anything to add? (optional)' }).fill('Quick answer, thanks');
  await rate.getByRole('button', { name: 'Send rating' }).click();
  await expect(w.window.getByText('Thanks for your feedback!')).toBeVisible();
  await expect(rate).toBeHidden();
  // The visitor keeps a copy of the chat: a text file made in the page.
  const [visitorCopy] = await Promise.all([page.waitForEvent('download'), w.window.getByRole('button', { name: 'Download the transcript' }).click()]);
  expect(visitorCopy.suggestedFilename()).toMatch(/^chat-\d+\.txt$/);
  const visitorText = fs.readFileSync(await visitorCopy.path(), 'utf8');
  expect(visitorText).toMatch(/\] You: Thanks for the help!\n/);
  expect(visitorText).toMatch(/\] — Alex \(demo agent\) ended the chat\./);

  // The agent's ended chat says how it was rated.
  await expect(pane.locator('.chat-banner')).toHaveText('You ended the chat. The visitor rated it 4 out of 5: “Quick answer, thanks”');

  // History: found by the visitor's name (any case); the name and the rating.
  await con.getByRole('button', { name: 'History' }).click();
  await con.locator('#view-history').getByLabel('Visitor', { exact: true }).fill('amy');
  await con.getByRole('button', { name: 'Search' }).click();
  await expect(con.locator('.history-item')).toHaveCount(1);
  const item = con.locator('.history-item').first();
  await expect(item.locator('.history-who')).toHaveText('Amy');
  await expect(item.locator('.tag--rating')).toHaveText('★ 4');
  await item.click();
  await expect(con.locator('.transcript-rating')).toHaveText('Rated 4 out of 5 by the visitor: “Quick answer, thanks”');
  // The agent downloads the whole transcript, with the pre-chat answers and the rating.
  const [agentCopy] = await Promise.all([con.waitForEvent('download'), con.getByRole('link', { name: 'Download transcript' }).click()]);
  expect(agentCopy.suggestedFilename()).toMatch(/^conversation-\d+\.txt$/);
  const agentText = fs.readFileSync(await agentCopy.path(), 'utf8');
  expect(agentText).toContain('Visitor: Amy (visitor ');
  expect(agentText).toContain('  Your name: Amy\n  What is your question about?: Products\n');
  expect(agentText).toContain('Rating: 4 out of 5 — “Quick answer, thanks”');
  expect(agentText).toMatch(/\] Amy: Thanks for the help!\n/);

  // Administration → Satisfaction.
  await con.getByRole('button', { name: 'Administration' }).click();
  await con.getByRole('tab', { name: 'Satisfaction' }).click();
  const panel = con.locator('#admin-panel-satisfaction');
  await expect(panel.locator('[data-role="rated"]')).toHaveText('1');
  await expect(panel.locator('[data-role="average"]')).toHaveText('4.00 / 5');
  await expect(panel.locator('[data-role="satisfied"]')).toHaveText('100%');
  await expect(panel.locator('.csat-bars li[data-score="4"] .csat-count')).toHaveText('1');
  await expect(panel.locator('.csat-agents tbody tr')).toHaveText([/Alex.*1.*4\.00/]);
  await expect(panel.locator('.csat-comments q')).toHaveText(['Quick answer, thanks']);
  expect(errors).toEqual([]);
  await ctx.close();
});

test('a visitor who ends the chat can rate it on the way out', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await w.launcher.click();
  await fillDemoPrechat(page, 'Bo');
  const { conversation } = await agent.acceptOffer();
  await expect(w.log.getByText(/joined the chat\./)).toBeVisible();
  await w.window.getByRole('button', { name: 'Close chat' }).click();
  const confirm = page.getByRole('alertdialog', { name: 'End this chat?' });
  const stars = confirm.getByRole('group', { name: 'How was this chat?' });
  await expect(stars).toBeVisible();
  await stars.getByRole('button', { name: '5 out of 5' }).click();
  await expect(stars.getByRole('button', { name: '5 out of 5' })).toHaveAttribute('aria-pressed', 'true');
  await confirm.getByRole('button', { name: 'End chat' }).click();
  await expect(w.window).toBeHidden();
  // The agent hears of the ending, then of the rating.
  await agent.waitFor((f) => f.type === 'chat' && f.conversation.id === conversation.id && f.conversation.rating === 5, { what: 'the rating' });
});
