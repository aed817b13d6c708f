// Out of hours (issue 3, operating hours of issue 4): when the widget's queue is closed, the
// welcome frame says so (`queue: {open, opens_at}`) and the widget follows the widget setting
// `out_of_hours`: `message` (the default) shows the offline message and when the chat opens
// again; `hide` shows no launcher. Either way no chat starts, pages asking for one get lcw:error
// (Beckon's code 100, see widget.js), and invites are suppressed and recorded as such.
'use strict';
const { test, expect, widget, waitForLcw, lcwEvents } = require('../lib/fixtures');

// The visitor's locale and time zone, to check the opening time is shown in them.
test.use({ locale: 'fr-FR', timezoneId: 'Asia/Tokyo' });

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Closes every queue of the demo organisation until tomorrow 09:00 UTC; resolves to that time. */
async function closeUntilTomorrow(agent) {
  const now = new Date();
  const tomorrow = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1, 9, 0));
  const hours = { time_zone: 'UTC', weekly: [{ day: DAYS[tomorrow.getUTCDay()], open: '09:00', close: '17:00' }] };
  const { queues } = await agent.call('GET', '/v1/admin/queues');
  for (const q of queues) await agent.call('PUT', `/v1/admin/queues/${q.id}/hours`, { hours });
  return tomorrow.getTime();
}

/** Loads the page and waits until the widget knows the queue is closed (a server round trip). */
async function openClosedShop(page, site, opensAt, pageName = 'shop.html') {
  const chatJs = [];
  page.on('request', (r) => { if (r.url().endsWith('/widget/chat.js')) chatJs.push(r.url()); });
  await page.goto(site(pageName));
  await waitForLcw(page, 'ready');
  const availability = await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.getAgentAvailability());
  expect(availability).toMatchObject({
    isQueueAvailable: false, isAgentAvailable: false, StartTimeOfNextOperatingHour: opensAt,
  });
  return chatJs;
}

test('closed queue, offline message: the launcher shows when the chat opens again; no chat starts', async ({ site, page, agent }) => {
  const opensAt = await closeUntilTomorrow(agent);
  // A French page: the widget speaks French, and dates are in the visitor's locale (fr-FR).
  const chatJs = await openClosedShop(page, site, opensAt, 'boutique.html');
  const w = widget(page);

  // The launcher opens a panel with the widget's offline message (the admin's text, as written)
  // and the opening time, in the visitor's locale (French) and time zone (Tokyo: 09:00 UTC is
  // 18:00 there).
  await w.launcher.click();
  const panel = page.locator('beckon-widget').getByRole('dialog');
  await expect(panel).toBeVisible();
  await expect(panel).toContainText("We're away right now.");
  const weekday = new Intl.DateTimeFormat('fr-FR', { weekday: 'long', timeZone: 'Asia/Tokyo' }).format(opensAt);
  await expect(panel.locator('p.opens')).toContainText(weekday);
  await expect(panel.locator('p.opens')).toContainText('18:00');
  await expect(w.launcher).toHaveAttribute('aria-expanded', 'true');
  // Escape closes it, and the launcher opens it again.
  await page.keyboard.press('Escape');
  await expect(panel).toBeHidden();
  await w.launcher.click();
  await expect(panel).toBeVisible();
  await w.launcher.click();
  await expect(panel).toBeHidden();

  // startChat: lcw:error 100, the panel, and no conversation.
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startChat());
  const error = await waitForLcw(page, 'error');
  expect(error.detail).toMatchObject({ errorCode: 100, reason: 'queue_closed', opensAt });
  expect(error.detail.errorDescription).toMatch(/outside its operating hours/);
  await expect(panel).toBeVisible();
  await expect(w.window).toHaveCount(0);

  // A proactive invite: lcw:error too, nothing shown, recorded as suppressed (queue_closed).
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat({ message: 'Need help?' }, false));
  await waitForLcw(page, 'error', 2);
  await expect(w.invite).toHaveCount(0);
  await expect.poll(async () => {
    const { rows } = await agent.call('GET', '/v1/admin/analytics/invites');
    return rows.filter((r) => r.source === 'sdk').map((r) => [r.shown, r.suppressed]);
  }).toEqual([[0, { queue_closed: 1 }]]);

  expect(agent.frames.filter((f) => f.type === 'offer')).toEqual([]);
  expect((await lcwEvents(page, 'startChat')).length).toBe(0);
  expect(chatJs, 'a closed site never loads the chat window').toEqual([]);
});

test('closed queue, out_of_hours = hide: no launcher, and startChat opens nothing', async ({ site, page, agent }) => {
  const list = await agent.api('GET', '/v1/admin/widgets');
  // The widget settings API (PATCH /v1/admin/widgets/{id}) arrives with the admin pages.
  test.skip(list.status === 404, 'this server has no widget settings API yet');
  const opensAt = await closeUntilTomorrow(agent);
  const { widgets } = list.body;
  const demo = widgets.find((x) => x.widget_id === 'beckon-demo');
  await agent.call('PATCH', `/v1/admin/widgets/${demo.id}`, { out_of_hours: 'hide' });

  await openClosedShop(page, site, opensAt);
  const w = widget(page);
  await expect(w.launcher).toBeHidden();

  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startChat());
  const error = await waitForLcw(page, 'error');
  expect(error.detail).toMatchObject({ errorCode: 100, reason: 'queue_closed', opensAt });
  await expect(page.locator('beckon-widget').getByRole('dialog')).toHaveCount(0);
  await expect(w.launcher).toBeHidden();
  expect(agent.frames.filter((f) => f.type === 'offer')).toEqual([]);
});

test('open queue: getAgentAvailability reports the hours the server knows', async ({ site, page, agent }) => {
  // Open now, every day all day: no next opening time to report.
  const weekly = DAYS.map((day) => ({ day, open: '00:00', close: '24:00' }));
  const { queues } = await agent.call('GET', '/v1/admin/queues');
  for (const q of queues) await agent.call('PUT', `/v1/admin/queues/${q.id}/hours`, { hours: { time_zone: 'UTC', weekly } });
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  const availability = await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.getAgentAvailability());
  expect(availability).toMatchObject({ isQueueAvailable: true, isAgentAvailable: true });
  expect(Object.keys(availability).sort()).toEqual([
    'EndTimeOfNextOperatingHour', 'StartTimeOfNextOperatingHour', 'averageWaitTime', 'isAgentAvailable',
    'isQueueAvailable', 'positionInQueue', 'queueId',
  ]);
  await expect(widget(page).launcher).toBeVisible();
});
