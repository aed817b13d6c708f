// The widget lives in a shadow root: the host page's CSS cannot restyle it (not even with
// !important on every element), the widget's styles do not leak onto the host page, and the
// per-page overrides (data-color-override, data-font-family-override) are what it wears.
'use strict';
const { test, expect, widget, waitForLcw } = require('../lib/fixtures');

test('host CSS does not reach the widget, the widget does not restyle the host, overrides apply', async ({ site, page }) => {
  const w = widget(page);
  await page.goto(site('hostile-css.html'));
  await waitForLcw(page, 'ready');
  await expect(w.launcher).toBeVisible();

  // The launcher wears the page's colour override, not the host's green buttons.
  const launcher = await w.launcher.evaluate((el) => {
    const s = getComputedStyle(el);
    return { background: s.backgroundColor, fontSize: s.fontSize, radius: s.borderTopLeftRadius };
  });
  expect(launcher.background).toBe('rgb(10, 125, 59)');
  expect(launcher.fontSize).not.toBe('40px');
  expect(launcher.radius).not.toBe('0px');

  // An invite: shown despite the host hiding every [role=alertdialog], in the override font,
  // with the widget's own text colour rather than the host's red.
  await page.evaluate(() => Microsoft.Omnichannel.LiveChatWidget.SDK.startProactiveChat('Hello from the widget', false));
  await expect(w.inviteText).toBeVisible();
  await expect(w.inviteText).toHaveText('Hello from the widget');
  const text = await w.inviteText.evaluate((el) => {
    const s = getComputedStyle(el);
    return { color: s.color, font: s.fontFamily, spacing: s.letterSpacing };
  });
  expect(text.color).not.toBe('rgb(255, 0, 0)');
  expect(text.font).toContain('Georgia');
  expect(text.spacing).not.toBe('3px');

  // The host page is exactly as its own CSS says: nothing of the widget's leaked out.
  const host = await page.evaluate(() => {
    const b = getComputedStyle(document.getElementById('host-button'));
    const p = getComputedStyle(document.getElementById('host-text'));
    return { button: b.backgroundColor, buttonSize: b.fontSize, text: p.color, textSize: p.fontSize };
  });
  expect(host).toEqual({ button: 'rgb(0, 255, 0)', buttonSize: '40px', text: 'rgb(255, 0, 0)', textSize: '30px' });
});
