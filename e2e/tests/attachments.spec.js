// Files in a chat, in real Chromium: the visitor (on the shop, another origin than Beckon's)
// attaches a photo with the paperclip; the agent sees its preview in the console and answers with
// a PDF; the visitor sees the PDF in the chat and downloads it; a program named like a picture is
// refused with the reason in the chat and an lcw:error for the page.
'use strict';
const fs = require('node:fs');
const { test, expect, widget, waitForLcw, lcwEvents, fillDemoPrechat, signInConsole } = require('../lib/fixtures');

// A 2×2 red PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg==',
  'base64');
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n');
const EXE = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(62, 0x90)]);

test('visitor and agent send each other files; images are previewed, others downloaded', async ({ beckon, site, browser, page }) => {
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const con = await ctx.newPage();
  con.on('pageerror', (e) => errors.push(String(e)));
  await signInConsole(con, beckon.url, beckon.login.email, beckon.login.password);

  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await w.launcher.click();
  await fillDemoPrechat(page, 'Amy');
  await con.getByRole('button', { name: /^Chats/ }).click();
  await con.locator('.waiting-item').getByRole('button', { name: 'Take' }).click();
  await expect(con.getByLabel('Message to Amy')).toBeVisible();

  // The visitor attaches a photo: it shows in their chat, and in the console as a preview.
  const attach = page.getByRole('button', { name: 'Attach a file' });
  await expect(attach).toBeEnabled();
  await page.locator('beckon-widget input[type=file]').setInputFiles({ name: 'broken-lamp.png', mimeType: 'image/png', buffer: PNG });
  const own = w.log.getByRole('img', { name: 'broken-lamp.png' });
  await expect(own).toBeVisible();
  await expect.poll(() => own.evaluate((img) => img.naturalWidth)).toBe(2);
  const preview = con.locator('.msg--visitor').getByRole('img', { name: 'broken-lamp.png' });
  await expect(preview).toBeVisible();
  await expect.poll(() => preview.evaluate((img) => img.naturalWidth)).toBe(2);
  await expect(con.locator('.msg--visitor .file-name')).toHaveText(`broken-lamp.png (${PNG.length} bytes)`);

  // The agent answers with a PDF through the console's paperclip.
  await expect(con.getByRole('button', { name: 'Attach a file' })).toBeVisible();
  await con.locator('.file-picker').setInputFiles({ name: 'return-label', mimeType: 'application/pdf', buffer: PDF });
  await expect(con.locator('.msg--agent .file-name')).toHaveText(`return-label.pdf (${PDF.length} bytes)`);
  const link = w.log.getByRole('link', { name: /return-label\.pdf/ });
  await expect(link).toBeVisible();
  await expect(link).toContainText(`(${PDF.length} B)`);
  fs.mkdirSync('/tmp/console-shots', { recursive: true });
  await page.screenshot({ path: '/tmp/console-shots/widget-files.png', animations: 'disabled' });
  await con.screenshot({ path: '/tmp/console-shots/console-files.png', animations: 'disabled' });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  expect(download.suggestedFilename()).toBe('return-label.pdf');
  expect(fs.readFileSync(await download.path()).equals(PDF)).toBe(true);

  // A file dropped on the chat window is sent too.
  const dropped = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['sku,qty\nLAMP-2,1\n'], 'order.csv', { type: 'text/csv' }));
    return dt;
  });
  await w.window.dispatchEvent('drop', { dataTransfer: dropped });
  await expect(con.locator('.msg--visitor .file-name', { hasText: 'order.csv' })).toBeVisible();

  // A program named like a picture: refused, with the reason where the file would have been.
  await page.locator('beckon-widget input[type=file]').setInputFiles({ name: 'cute-cat.png', mimeType: 'image/png', buffer: EXE });
  await expect(w.log.locator('.msg.failed')).toContainText('This kind of file cannot be sent');
  await expect(w.log.locator('.msg.failed').getByRole('button', { name: 'Retry' })).toHaveCount(0);
  const err = await waitForLcw(page, 'error');
  expect(err.detail.errorCode).toBe(9);
  expect(err.detail.errorDescription).toContain('cannot be sent');
  // The agent never saw it.
  await expect(con.locator('.msg--visitor .file-name')).toHaveCount(2);
  expect((await lcwEvents(page, 'error')).length).toBe(1);
  expect(errors).toEqual([]);
  await ctx.close();
});
