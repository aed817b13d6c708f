// The widget's load behaviour (issue 3): no layout shift on the host page, a host element that
// takes no room, and lcw:ready after the page's own scripts ran. How fast ready comes is a
// benchmark, not a test assertion (a busy CI machine would make it flaky): it is reported here as
// an annotation and measured by lib/measure-perf.js (figures in e2e/PERF.md, docs/benchmarks.md).
'use strict';
const { test, expect, widget, waitForLcw } = require('../lib/fixtures');

test('lcw:ready fires after the page\'s scripts, and the page never shifts', async ({ site, page }) => {
  await page.goto(site('perf.html'));
  await waitForLcw(page, 'ready');
  await expect(widget(page).launcher).toBeVisible();
  // One more frame, so any shift caused by mounting the launcher has been reported.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

  const m = await page.evaluate(() => {
    const res = performance.getEntriesByType('resource').find((e) => /\/widget\.js(\?|$)/.test(e.name));
    const host = document.querySelector('beckon-widget').getBoundingClientRect();
    return { loaded: res.responseEnd, ready: window.perf.ready, afterScript: window.perf.afterScript, shifts: window.perf.shifts, host: [host.width, host.height] };
  });
  test.info().annotations.push({ type: 'lcw:ready after widget.js arrived (ms)', description: (m.ready - m.loaded).toFixed(1) });
  expect(m.ready).toBeGreaterThan(m.afterScript); // ready comes after the page's own scripts ran
  expect(m.shifts).toEqual([]);
  expect(m.host).toEqual([0, 0]); // the widget's host element takes no room in the page
});
