// Seed scenario 1 (time on page), sample code verbatim: no invite before 20 s, the exact invite
// text after; accepting starts a proactive conversation that carries exactly the sample's
// context variables, as the agent sees it.
'use strict';
const { test, expect, runClockUntil, widget, waitForLcw, lcwEvents } = require('../lib/fixtures');

const TEXT = 'Hi! Just checking in to see if I can help answer any questions you may have.';

test('scenario 1: invite after 20 s on the page; accept gives the agent a proactive chat with the context', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.clock.install();
  await page.goto(site('scenario1.html'));

  await runClockUntil(page, 19_500);
  await expect(w.invite).toHaveCount(0);

  await runClockUntil(page, 20_100);
  await expect(w.invite).toBeVisible();
  await expect(w.inviteText).toHaveText(TEXT);

  const since = agent.mark();
  await w.accept.click();
  await expect(w.window).toBeVisible();
  const { offer } = await agent.acceptOffer({ since });

  expect(offer.proactive).toBe(true);
  expect(offer.context).toEqual({
    'Proactive Chat': { value: 'True', isDisplayable: true },
    'Time On Page': { value: 20000, isDisplayable: true },
    'Page URL': { value: site('scenario1.html'), isDisplayable: true },
  });
  await waitForLcw(page, 'startChat');
  expect(await lcwEvents(page, 'error')).toEqual([]);
});

test('scenario 1: the invite is keyboard usable and declining it closes it', async ({ site, page }) => {
  const w = widget(page);
  await page.clock.install();
  await page.goto(site('scenario1.html'));
  await runClockUntil(page, 20_100);
  await expect(w.invite).toBeVisible();
  // Tab from the page reaches the invite's buttons (the widget is last in the document).
  await w.decline.focus();
  await page.keyboard.press('Enter');
  await expect(w.invite).toHaveCount(0);
  await expect(w.window).toBeHidden();
});

test('scenario 1: an unanswered invite expires after 60 s', async ({ site, page }) => {
  const w = widget(page);
  await page.clock.install();
  await page.goto(site('scenario1.html'));
  await runClockUntil(page, 20_100);
  await expect(w.invite).toBeVisible();
  await runClockUntil(page, 20_100 + 59_000);
  await expect(w.invite).toBeVisible();
  await runClockUntil(page, 20_100 + 61_000);
  await expect(w.invite).toHaveCount(0);
});
