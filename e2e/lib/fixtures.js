// Test fixtures: a fresh real server per test, the test site, the agent, and helpers to read
// what the widget did (lcw:* events, its visible state). Pages are files under e2e/pages/,
// served by the test itself on the loopback interface with {{BECKON_URL}} replaced by the
// server's URL, so the widget runs on another origin, as on a customer's site, while talking to
// the real server. (Not page.route on a made-up host: Chromium's Local Network Access rules stop
// such a "public" page from opening a WebSocket to 127.0.0.1.)
'use strict';
const base = require('@playwright/test');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { startServer, deadPort } = require('./server');
const { Agent } = require('./agent');

const { expect } = base;
const PAGES = path.join(__dirname, '..', 'pages');
const WIDGET_DIR = path.join(__dirname, '..', '..', 'web', 'widget');
const LCW_EVENTS = [
  'ready', 'error', 'startChat', 'closeChat', 'chatQueued', 'chatRetrieved', 'onClose', 'onMinimize',
  'onMaximize', 'onMessageReceived', 'onMessageSent', 'threadUpdate', 'getAgentAvailability',
];

// Records every lcw:* event with the page's (possibly fake) time. Runs before any page script.
function recordLcwEvents(names) {
  window.__lcw = [];
  names.forEach((name) => window.addEventListener('lcw:' + name, (e) => {
    window.__lcw.push({ name, detail: JSON.parse(JSON.stringify(e.detail || {})), at: Date.now() });
  }));
}

const test = base.test.extend({
  // Extra startServer() options for a spec file, e.g. test.use({ beckonOptions: { widgetAuth } }).
  beckonOptions: [{}, { option: true }],

  // The real server, started for this test only (fresh database, free port).
  beckon: async ({ beckonOptions }, use, testInfo) => {
    const server = await startServer({ ...beckonOptions, logFile: testInfo.outputPath('beckon.log') });
    await use(server);
    await server.stop();
  },

  // The test site: a real HTTP server on the loopback interface serving e2e/pages/, reached as
  // http://localhost:PORT (another origin than the Beckon server's http://127.0.0.1:PORT, as a
  // customer's site would be). `site('scenario1.html')` is a page's URL.
  site: async ({ beckon }, use) => {
    const server = await startSite(beckon);
    await use((name) => `${server.origin}/${name}`);
    await new Promise((resolve) => server.close(resolve));
  },

  context: async ({ context }, use) => {
    if (process.env.E2E_WIDGET_FROM_DISK) {
      // Development aid: serve web/widget/*.js from disk instead of the copy compiled into the
      // server, to try widget changes without rebuilding it. Everything else is the real server.
      const serve = (file) => (route) => route.fulfill({ contentType: 'text/javascript; charset=utf-8', body: fs.readFileSync(path.join(WIDGET_DIR, file)) });
      await context.route(/\/widget\.js$/, serve('widget.js'));
      await context.route(/\/widget\/chat\.js$/, serve('chat.js'));
    }
    await context.addInitScript(recordLcwEvents, LCW_EVENTS);
    await use(context);
  },

  // The demo agent, signed in, connected and available.
  agent: async ({ browser, beckon }, use) => {
    const agent = await Agent.connect(browser, beckon);
    await use(agent);
    await agent.close();
  },
});

/** Serves e2e/pages/ with {{BECKON_URL}} (and {{DEAD_URL}}: a port nothing listens on) filled in. */
async function startSite(beckon) {
  let dead = null;
  const server = http.createServer(async (req, res) => {
    const name = path.basename(new URL(req.url, 'http://x').pathname) || 'shop.html';
    const file = path.join(PAGES, name);
    if (!name.endsWith('.html') || !fs.existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('no such test page');
    }
    let html = fs.readFileSync(file, 'utf8').replaceAll('{{BECKON_URL}}', beckon.url);
    if (html.includes('{{DEAD_URL}}')) {
      dead = dead || `http://127.0.0.1:${await deadPort()}`;
      html = html.replaceAll('{{DEAD_URL}}', dead);
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.origin = `http://localhost:${server.address().port}`;
  return server;
}

/** The lcw:* events the page has seen so far, optionally only those named `name`. */
function lcwEvents(page, name) {
  return page.evaluate((n) => window.__lcw.filter((e) => !n || e.name === n), name || null);
}

/** Waits (polling from Node, so it works under a paused fake clock) for `count` events `name`. */
async function waitForLcw(page, name, count = 1) {
  await expect.poll(async () => (await lcwEvents(page, name)).length, { message: `lcw:${name} x${count}` })
    .toBeGreaterThanOrEqual(count);
  return (await lcwEvents(page, name))[count - 1];
}

const pausedPages = new WeakSet();

/** Lets the fake clock run in real time again (e.g. before navigating to another page). */
async function resumeClock(page) {
  await page.clock.resume();
  pausedPages.delete(page);
}

/**
 * For pages that start a timer in their lcw:ready handler: pauses the fake clock, then runs it
 * to `ms` after lcw:ready (the clock must have been installed before the page loaded).
 */
async function runClockUntil(page, msAfterReady) {
  const ready = await waitForLcw(page, 'ready');
  if (!pausedPages.has(page)) {
    // The clock still runs while we ask for its time: pause a little ahead of it.
    await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 250);
    pausedPages.add(page);
  }
  const current = await page.evaluate(() => Date.now());
  const target = ready.at + msAfterReady;
  if (target > current) await page.clock.runFor(target - current);
}

/** The invite toast and the chat window, found inside the widget's shadow root. */
function widget(page) {
  return {
    invite: page.getByRole('alertdialog'),
    inviteText: page.getByRole('alertdialog').locator('p'),
    accept: page.getByRole('alertdialog').getByRole('button', { name: 'Chat now' }),
    decline: page.getByRole('alertdialog').getByRole('button', { name: 'No thanks' }),
    window: page.locator('beckon-widget section[role=dialog]'),
    log: page.getByRole('log'),
    input: page.getByLabel('Type your message'),
    launcher: page.locator('beckon-widget .launcher'),
  };
}

/** Fills the demo widget's pre-chat survey and submits it. */
async function fillDemoPrechat(page, name = 'Amy') {
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('What is your question about?').selectOption('Products');
  await page.getByLabel('I agree that this chat is recorded').check();
  await page.getByRole('button', { name: 'Start chat' }).click();
}

/** Sends a message from the visitor's chat window (Enter key). */
async function visitorSays(page, text) {
  const w = widget(page);
  await expect(w.input).toBeEnabled();
  await w.input.fill(text);
  await w.input.press('Enter');
}

/** Signs in to the agent console and waits until it is online. */
async function signInConsole(page, url, email, password) {
  await page.goto(`${url}/console`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#conn')).toHaveAttribute('data-state', 'online');
}

module.exports = { test, expect, lcwEvents, waitForLcw, runClockUntil, resumeClock, widget, fillDemoPrechat, visitorSays, signInConsole };
