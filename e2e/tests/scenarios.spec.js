// Seed scenarios 2 to 8, each page running the seed's sample code verbatim (scenario 5 with its
// stray ")" removed) against the real server. Timers run on Playwright's fake clock.
'use strict';
const { test, expect, runClockUntil, resumeClock, widget, waitForLcw, lcwEvents, fillDemoPrechat } = require('../lib/fixtures');

const JUST_CHECKING = 'Hi! Just checking in to see if I can help answer any questions you may have.';

test('scenario 2 as published: its delay variable is out of scope, so the sample throws and never invites', async ({ site, page }) => {
  const w = widget(page);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.clock.install();
  for (const visit of [1, 2, 3]) {
    await page.goto(site('scenario2.html'));
    await runClockUntil(page, 6_000);
    await expect(w.invite, `visit ${visit}`).toHaveCount(0);
    await resumeClock(page);
  }
  expect(pageErrors).toHaveLength(3);
  expect(pageErrors[0]).toContain('timeToWaitBeforeOfferingProactiveChatInMilliseconds is not defined');
  // The page's own error does not break the widget.
  expect(await lcwEvents(page, 'error')).toEqual([]);
  expect(await page.evaluate(() => typeof Microsoft.Omnichannel.LiveChatWidget.SDK.startChat)).toBe('function');
});

test('scenario 2 (page defines the delay): the third visit gets an invite 5 s in, with the sample context', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.clock.install();
  for (const visit of [1, 2]) {
    await page.goto(site('scenario2-delay-global.html'));
    await runClockUntil(page, 6_000);
    await expect(w.invite, `visit ${visit}`).toHaveCount(0);
    await resumeClock(page);
  }
  await page.goto(site('scenario2-delay-global.html'));
  await runClockUntil(page, 4_900);
  await expect(w.invite).toHaveCount(0);
  await runClockUntil(page, 5_100);
  await expect(w.inviteText).toHaveText('Hi! Do you have a question on Surface device? I am here to help.');
  // The sample resets its visit counter once it has offered the chat.
  expect(await page.evaluate(() => document.cookie)).not.toContain('timesPageVisited');
  await w.accept.click();
  const { offer } = await agent.acceptOffer();
  expect(offer.proactive).toBe(true);
  expect(offer.context).toEqual({
    'Proactive Chat': { value: 'True', isDisplayable: true },
    'No. of visits': { value: '2', isDisplayable: true },
    Forums: { value: 'Surface Devices', isDisplayable: true },
  });
});

test('scenario 3: after 10 s the invite names the case, and the case id reaches the agent', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.clock.install();
  await page.goto(site('scenario3.html'));
  await runClockUntil(page, 9_900);
  await expect(w.invite).toHaveCount(0);
  await runClockUntil(page, 10_100);
  const caseId = '< your case id relevant to the user.>';
  await expect(w.inviteText).toHaveText(`Hi! How are you doing today? The status of the case: ${caseId} is in progress. Would you like to get more details?`);
  await w.accept.click();
  const { offer } = await agent.acceptOffer();
  expect(offer.context).toEqual({
    'Proactive Chat': { value: 'True', isDisplayable: true },
    'Case Id': { value: caseId, isDisplayable: true },
  });
});

test('scenario 4: leaving the page after 15 s offers a chat, once per visit', async ({ site, page }) => {
  const w = widget(page);
  await page.clock.install();
  await page.goto(site('scenario4.html'));
  // The pointer enters <body> (over the heading), then leaves it (below the content).
  const leaveBody = async () => {
    await page.getByRole('heading').hover();
    await page.mouse.move(40, 500);
  };
  await runClockUntil(page, 14_000);
  await leaveBody(); // before 15 s: nothing
  await expect(w.invite).toHaveCount(0);
  await runClockUntil(page, 15_100);
  await leaveBody();
  await expect(w.inviteText).toHaveText(JUST_CHECKING);
  await w.decline.click();
  await expect(w.invite).toHaveCount(0);
  await leaveBody(); // offered once per visit only
  await expect(w.invite).toHaveCount(0);
});

test('scenario 5 as published: document.referrer is absolute, so its scheme-less page never matches', async ({ site, page }) => {
  const w = widget(page);
  await page.clock.install();
  await page.goto(site('scenario5.html'), { referer: 'http://www.contoso.com/FAQ' });
  expect(await page.evaluate(() => document.referrer)).toBe('http://www.contoso.com/FAQ');
  await runClockUntil(page, 20_000);
  await expect(w.invite).toHaveCount(0);
  expect(await lcwEvents(page, 'error')).toEqual([]);
});

test('scenario 5 (referrer written as the browser reports it): invite after 15 s with the last page', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.clock.install();
  await page.goto(site('scenario5-absolute.html'), { referer: 'http://www.contoso.com/FAQ' });
  await runClockUntil(page, 14_900);
  await expect(w.invite).toHaveCount(0);
  await runClockUntil(page, 15_100);
  await expect(w.inviteText).toHaveText(JUST_CHECKING);
  await w.accept.click();
  const { offer } = await agent.acceptOffer();
  expect(offer.context).toEqual({
    'Proactive Chat': { value: 'True', isDisplayable: true },
    'Page URL': { value: site('scenario5-absolute.html'), isDisplayable: true },
    'Last Page URL': { value: 'http://www.contoso.com/FAQ', isDisplayable: true },
  });
});

test('scenario 6: a visitor located in Ruritania is invited, with the country in the context', async ({ site, page, context, agent }) => {
  const w = widget(page);
  await context.grantPermissions(['geolocation'], { origin: new URL(site('')).origin });
  await context.setGeolocation({ latitude: 45.1, longitude: 16.2 });
  // The sample asks Bing's geolocation API (a third party, unreachable here) for the country.
  await context.route('https://dev.virtualearth.net/**', (route) => route.fulfill({
    status: 200,
    headers: { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'content-type' },
    contentType: 'application/json',
    body: route.request().method() === 'OPTIONS' ? '' : JSON.stringify({ resourceSets: [{ resources: [{ address: { countryRegion: 'Ruritania' } }] }] }),
  }));
  const alerts = [];
  page.on('dialog', (d) => { alerts.push(d.message()); d.accept(); });
  await page.goto(site('scenario6.html'));
  await expect(w.inviteText).toHaveText(JUST_CHECKING);
  expect(alerts).toEqual(['Ruritania']);
  await w.accept.click();
  const { offer } = await agent.acceptOffer();
  expect(offer.context).toEqual({
    'Proactive Chat': { value: 'True', isDisplayable: true },
    Country: { value: 'Ruritania', isDisplayable: true },
    'Page URL': { value: site('scenario6.html'), isDisplayable: true },
  });
});

test('scenario 7: inside the sale period the invite shows on load (the sample uses window load)', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('scenario7.html'));
  await expect(w.inviteText).toHaveText(JUST_CHECKING);
  await w.accept.click();
  const { offer } = await agent.acceptOffer();
  expect(offer.context).toEqual({
    'Proactive Chat': { value: 'True', isDisplayable: true },
    'Page URL': { value: site('scenario7.html'), isDisplayable: true },
  });
});

test('scenario 7: outside the sale period no invite is shown', async ({ site, page }) => {
  await page.clock.install({ time: new Date('2101-01-01T00:00:00Z') });
  await page.goto(site('scenario7.html'));
  await waitForLcw(page, 'ready');
  await page.waitForLoadState('load');
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.getAgentAvailability()); // a server round trip
  await expect(widget(page).invite).toHaveCount(0);
});

test('scenario 8: a string invite with the pre-chat survey; answers reach the agent', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('scenario8.html'));
  await expect(w.inviteText).toHaveText('Hi! How are you doing today? Do you wish to start a chat?');
  await w.accept.click();
  // Required questions are checked in the page, with messages a screen reader announces.
  await page.getByRole('button', { name: 'Start chat' }).click();
  await expect(page.getByRole('alert')).toContainText('Your name');
  await expect(page.getByLabel('Your name')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByLabel('Your name')).toBeFocused();
  await fillDemoPrechat(page, 'Klarissa');
  const { offer } = await agent.acceptOffer();
  expect(offer.proactive).toBe(true);
  expect(offer.context).toMatchObject({
    'Your name': { value: 'Klarissa', isDisplayable: true },
    'What is your question about?': { value: 'Products', isDisplayable: true },
    'I agree that this chat is recorded': { value: true, isDisplayable: true },
  });
  await waitForLcw(page, 'startChat');
});

test('a second invite while one is showing is suppressed, and none while chatting', async ({ site, page, agent }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await page.evaluate(() => {
    const SDK = Microsoft.Omnichannel.LiveChatWidget.SDK;
    SDK.startProactiveChat({ message: 'First invite' }, false);
    SDK.startProactiveChat({ message: 'Second invite' }, false);
  });
  await expect(w.inviteText).toHaveText('First invite');
  await expect(w.invite).toHaveCount(1);
  await w.accept.click();
  await agent.acceptOffer();
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat('Third invite', false));
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.getAgentAvailability()); // a round trip
  await expect(w.invite).toHaveCount(0);
});
