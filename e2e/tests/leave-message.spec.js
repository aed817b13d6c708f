// No dead ends (issue 13): when nobody can chat, the visitor leaves a message — and what they
// already told the pre-chat survey is not lost. An agent takes it from the console's waiting
// list and answers; the answer reaches the visitor by email through a real SMTP server (and
// live, if they are still on the page). A visitor tired of waiting leaves their email instead.
'use strict';
const base = require('../lib/fixtures');
const { expect, widget, waitForLcw, fillDemoPrechat, visitorSays, signInConsole: signIn } = base;
const { startSmtpSink } = require('../lib/smtp');

const test = base.test.extend({
  smtp: async ({}, use) => {
    const sink = await startSmtpSink();
    await use(sink);
    await sink.close();
  },
  beckonOptions: async ({ smtp }, use) => {
    await use({ env: { BECKON_MAIL__SMTP_URL: smtp.url, BECKON_MAIL__FROM: 'Shop Support <help@shop.test>' } });
  },
});

/** Closes every queue of the demo organisation (open only on a day a week away). */
async function closeQueues(agent) {
  const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][(new Date().getUTCDay() + 3) % 7];
  const hours = { time_zone: 'UTC', weekly: [{ day, open: '09:00', close: '10:00' }] };
  const { queues } = await agent.call('GET', '/v1/admin/queues');
  for (const q of queues) await agent.call('PUT', `/v1/admin/queues/${q.id}/hours`, { hours });
}

test('closed while the visitor filled the survey: the answers carry into a message, answered by email', async ({ beckon, site, browser, page, agent, smtp }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const con = await ctx.newPage();
  con.on('pageerror', (e) => errors.push(String(e)));
  await signIn(con, beckon.url, beckon.login.email, beckon.login.password);

  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  // The shop closes while the visitor is on the page: the widget still thinks it open.
  await closeQueues(agent);
  await w.launcher.click();
  await fillDemoPrechat(page, 'Amy');

  // Refused: the offline panel says so, and offers to leave a message.
  const panel = page.locator('beckon-widget').getByRole('dialog');
  await expect(panel).toContainText("We're away right now.");
  await panel.getByRole('button', { name: 'Leave a message' }).click();
  const form = page.locator('beckon-widget').getByRole('form', { name: 'Leave a message' });
  await expect(form).toBeVisible();
  await expect(form).toContainText('we\u2019ll answer by email');
  // The name the survey had is there; the email is checked before anything is sent.
  await expect(form.getByLabel('Name')).toHaveValue('Amy');
  await expect(form.getByLabel('Name')).toBeFocused();
  await form.getByLabel('Email *').fill('amy@example');
  await form.getByLabel('Message *').fill('Do you have the lamp in blue?');
  await form.getByRole('button', { name: 'Send message' }).click();
  await expect(form).toContainText('This does not look like an email address.');
  await form.getByLabel('Email *').fill('amy@example.com');
  await form.getByRole('button', { name: 'Send message' }).click();

  // Sent: the visitor reads their message and where the answer will come.
  await expect(form).toBeHidden();
  await expect(w.log.getByText('Do you have the lamp in blue?')).toBeVisible();
  await expect(w.window.getByRole('status').filter({ hasText: 'by email at amy@example.com' })).toBeVisible();
  await expect(w.window.locator('.status')).toHaveText('Message sent');

  // The agent sees it waiting, marked as a message, with the survey's answers; takes it.
  const item = con.locator('.waiting-item');
  await expect(item).toHaveCount(1);
  await expect(item.locator('.offer-title')).toHaveText('Amy');
  await expect(item.locator('.tag--message')).toHaveText('Message');
  await expect(item).toContainText('Left a message · answer by email to amy@example.com');
  await expect(item).toContainText('What is your question about?: Products');
  await item.getByRole('button', { name: 'Take' }).click();
  await expect(con.locator('.chat-banner:visible')).toHaveText('Left as a message: your replies are emailed to amy@example.com.');
  const composer = con.getByLabel('Message to Amy');
  await composer.fill('Yes, the lamp comes in blue. It ships tomorrow.');
  await composer.press('Enter');

  // The visitor, still here, reads it live; and it arrives by email.
  await expect(w.log.getByText('Yes, the lamp comes in blue. It ships tomorrow.')).toBeVisible();
  await expect.poll(() => smtp.mails.length, { timeout: 20_000 }).toBe(1);
  const mail = smtp.mails[0];
  expect(mail.to).toEqual(['amy@example.com']);
  expect(mail.from).toBe('help@shop.test');
  expect(mail.raw).toMatch(/^Subject: Re: your message\r?$/m);
  expect(mail.raw).toContain('Yes, the lamp comes in blue. It ships tomorrow.');
  expect(mail.raw).toContain('> Do you have the lamp in blue?');
  expect(errors).toEqual([]);
  await ctx.close();
});

test('a waiting visitor leaves their email instead of waiting; the message stays after a reload', async ({ site, page }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await w.launcher.click();
  await fillDemoPrechat(page, 'Bo');
  await expect(w.window.locator('.status')).toHaveText(/in line|Waiting/);
  const rather = w.window.getByRole('button', { name: /Rather not wait\? Leave your email/ });
  await expect(rather).toBeVisible();
  await rather.click();
  const form = page.locator('beckon-widget').getByRole('form', { name: 'Leave a message' });
  await expect(form).toContainText('Your messages so far are kept.');
  await expect(form.getByLabel('Name')).toHaveValue('');
  // "Keep waiting" goes back to the chat; the link brings the form again.
  await form.getByRole('button', { name: 'Keep waiting' }).click();
  await expect(form).toBeHidden();
  await rather.click();
  await form.getByLabel('Email *').fill('bo@example.org');
  await form.getByRole('button', { name: 'Send my email' }).click();
  await expect(w.window.getByRole('status').filter({ hasText: 'by email at bo@example.org' })).toBeVisible();
  await expect(rather).toBeHidden();

  // The × only closes the window (the message stays for the agents); after a reload the
  // conversation is still there, and so is the note.
  await w.window.getByRole('button', { name: 'Close chat' }).click();
  await expect(w.window).toBeHidden();
  await page.reload();
  await waitForLcw(page, 'ready');
  await w.launcher.click();
  await expect(w.window.getByRole('status').filter({ hasText: 'by email at bo@example.org' })).toBeVisible();
});

test('the admin sets how long visitors wait before they are offered to leave a message', async ({ beckon, browser, agent }) => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const admin = await ctx.newPage();
  await signIn(admin, beckon.url, beckon.login.email, beckon.login.password);
  const general = () => admin.locator('#admin-panel-queues .admin-item', { has: admin.locator('.admin-item-title', { hasText: /^General$/ }) });
  const openQueues = async () => {
    await admin.getByRole('button', { name: 'Administration' }).click();
    await admin.getByRole('tab', { name: 'Queues & hours' }).click();
  };
  await openQueues();
  const select = () => general().getByLabel('Offer waiting visitors to leave a message');
  await expect(select()).toHaveValue('');
  await select().selectOption({ label: 'after 2 minutes without an agent' });
  await expect(admin.locator('.toast', { hasText: 'are offered to leave a message after 2 minutes without an agent' })).toBeVisible();
  // Saved: the API and a reload show it.
  const { queues } = await agent.call('GET', '/v1/admin/queues');
  expect(queues.find((q) => q.name === 'General').leave_message_after_secs).toBe(120);
  await admin.reload();
  await openQueues();
  await expect(select()).toHaveValue('120');
  await select().selectOption({ label: 'never (they keep waiting)' });
  await expect(admin.locator('.toast', { hasText: 'are not offered to leave a message' })).toBeVisible();
  await ctx.close();
});

test('at the end of a chat the visitor gets the transcript by email', async ({ site, page, agent, smtp }) => {
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await w.launcher.click();
  await fillDemoPrechat(page, 'Cy');
  const { conversation } = await agent.acceptOffer();
  await visitorSays(page, 'Where is my parcel?');
  await agent.say(conversation.id, 'Here is your tracking number: 42.');
  await expect(w.log.getByText('Here is your tracking number: 42.')).toBeVisible();
  await agent.send({ type: 'end', conversation_id: conversation.id });
  await expect(w.window.getByText('This chat has ended.')).toBeVisible();

  await w.window.getByRole('button', { name: 'Email me the transcript' }).click();
  const address = w.window.getByRole('textbox', { name: 'Email' });
  await address.fill('cy@example');
  await w.window.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(w.window.getByText('This does not look like an email address.')).toBeVisible();
  await address.fill('cy@example.com');
  await w.window.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(w.window.getByText('Sent to cy@example.com.')).toBeVisible();
  await expect.poll(() => smtp.mails.length, { timeout: 20_000 }).toBe(1);
  expect(smtp.mails[0].to).toEqual(['cy@example.com']);
  expect(smtp.mails[0].raw).toContain('Here is your tracking number: 42.');
  expect(smtp.mails[0].raw).toMatch(/\] You: Where is my parcel\?/);
});
