// Browser tests of the widget against the real Beckon server, in Debian's Chromium
// (no browser download: playwright-core drives /usr/bin/chromium, or $CHROMIUM).
'use strict';
const { defineConfig } = require('@playwright/test');

module.exports = defineConfig({
  testDir: './tests',
  globalSetup: require.resolve('./lib/global-setup.js'),
  timeout: 60_000,
  expect: { timeout: 10_000 },
  retries: 0, // a flaky test is a bug to fix, not to hide
  workers: Number(process.env.E2E_WORKERS || 1),
  reporter: process.env.CI ? [['list']] : [['list'], ['html', { open: 'never' }]],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
    trace: 'retain-on-failure',
  },
});
