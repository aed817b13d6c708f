// Browser tests for the console's proactive-trigger screens (web/console/triggers.js) in real
// Chromium against the real `beckon demo` server: an admin builds a rule in the form and sees the
// live preview count a visitor on the site, a rule with an invalid regex is refused with the
// server's message next to the condition (nothing saved), the saved rule is held back while no
// agent is available ("Why?" says so) and invites the visitor once the agent is, and the invite
// analytics show the rule's row. The visitor is a WebSocket client in Node (lib/visitor.js); the
// server runs on real time, so every wait is on a frame or on visible state, never a sleep.
// Screenshots (1280×800 and 390×844) go to /tmp/console-shots/.
'use strict';

const fs = require('node:fs');
const { test, expect } = require('@playwright/test');
const { startServer } = require('../lib/server');
const { Visitor } = require('../lib/visitor');

const SHOTS = '/tmp/console-shots';
const RULE = 'E2E: pricing for 2 s';
const PAGE_URL = 'https://shop.example/e2e-pricing?plan=team';

test.use({ viewport: { width: 1280, height: 800 } });
test.describe.configure({ mode: 'serial' });
test.setTimeout(90000);
expect.configure({ timeout: 10000 });

let server;
let visitor;
let ruleId;
let pageErrors = [];

test.beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  server = await startServer();
  // A visitor on the pricing page, visible and focused (only visible time counts as time on page).
  visitor = await Visitor.connect(server.url, { page: { url: PAGE_URL, title: 'Pricing', referrer: '' } });
  visitor.send({ type: 'activity', visible: true });
});
test.afterAll(async () => {
  if (visitor) visitor.close();
  if (server) await server.stop();
});
test.beforeEach(async ({ page }) => {
  pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
});
test.afterEach(() => { expect(pageErrors).toEqual([]); });

// Signs the demo admin in. The agent's presence is stored: until the second test sets it, the
// agent is not available (the console does not go available by itself).
async function signIn(page, { unavailable = false } = {}) {
  await page.goto(`${server.url}/console`);
  await page.getByLabel('Email').fill('agent@demo.beckon');
  await page.getByLabel('Password').fill('beckon-demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#conn')).toHaveAttribute('data-state', 'online');
  if (unavailable) await expect(page.locator('.presence')).not.toHaveAttribute('data-status', 'available');
}

async function openTriggers(page) {
  await page.getByRole('button', { name: 'Triggers', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Proactive triggers' })).toBeVisible();
}

function shot(page, name) {
  return page.screenshot({ path: `${SHOTS}/${name}.png`, animations: 'disabled' });
}

async function savedRuleNames(page) {
  const res = await page.request.get(`${server.url}/v1/admin/trigger-rules`);
  expect(res.ok()).toBe(true);
  return (await res.json()).rules.map((r) => r.name);
}

test('admin builds a rule in the form with a live preview; an invalid regex is refused at its field', async ({ page }) => {
  await signIn(page, { unavailable: true });
  await openTriggers(page);
  // The demo's rules, in evaluation order (priority 20, 10, 5 first), with a summary in words.
  const items = page.locator('.trg-rule');
  await expect(items.first()).toContainText('Added to cart');
  await expect(page.locator('.trg-rule[data-rule-id="1"] .trg-summary')).toHaveText('Page URL contains “/demo/pricing.html” · 8 s on the page');
  await expect(page.locator('.trg-rule[data-rule-id="11"] .trg-switch')).toBeChecked();
  await shot(page, 'triggers-list-desktop');

  await page.getByRole('button', { name: 'New rule' }).click();
  await expect(page.getByRole('heading', { name: 'New trigger rule' })).toBeVisible();
  await page.getByLabel('Name', { exact: true }).fill(RULE);
  await page.getByLabel('Condition 1: value').fill('e2e-pricing');
  await page.getByLabel('Condition 2: seconds').fill('2');
  // `beckon demo` resolves countries (its built-in GeoIP database): a country condition carries
  // no "never holds" warning (the API's geoip_enabled, tested in Rust, drives it).
  await page.getByRole('button', { name: 'Add condition' }).first().click();
  await page.getByLabel('Condition 3', { exact: true }).selectOption('country');
  await expect(page.getByLabel('Condition 3', { exact: true })).toHaveValue('country');
  await expect(page.locator('[data-role="no-geoip"]')).toHaveCount(0);
  await page.getByRole('button', { name: 'Remove condition 3' }).click();
  await page.getByLabel('Message', { exact: true }).fill('Comparing plans? Ask us anything.');
  // The preview counts the visitor on the pricing page; no agent is free, so nobody is invited.
  const count = page.locator('.trg-preview-count');
  await expect(count).toHaveText('Matches 1 of 1 visitor on the site now, would invite 0.');
  await expect(page.locator(`.trg-preview-item[data-visitor-id="${visitor.welcome.visitor_id}"] .trg-verdict`))
    .toHaveAttribute('data-reason', 'no_free_agent');
  // A draft that matches nobody says so too.
  await page.getByLabel('Condition 1: value').fill('no-such-page');
  await expect(count).toHaveText('Matches 0 of 1 visitor on the site now, would invite 0.');
  await page.getByLabel('Condition 1: value').fill('e2e-pricing');
  await expect(count).toHaveText('Matches 1 of 1 visitor on the site now, would invite 0.');
  await shot(page, 'triggers-editor-desktop');

  // An invalid regex: the server's message shows at that condition, and nothing is saved.
  await page.getByLabel('Condition to add').selectOption('page_title');
  await page.getByRole('button', { name: 'Add condition' }).click();
  await page.getByLabel('Condition 3: operator').selectOption('regex');
  await page.getByLabel('Condition 3: value').fill('(');
  await page.getByRole('button', { name: 'Create rule' }).click();
  const row3 = page.locator('.trg-cond-row[data-path="conditions.all[2]"]');
  await expect(row3.locator('.field-error')).toBeVisible();
  await expect(row3.locator('.field-error')).toContainText('invalid regex "(": ');
  await expect(page.getByLabel('Condition 3: value')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('.trg-editor > .form-error')).toBeHidden();
  await shot(page, 'triggers-editor-error-desktop');
  expect(await savedRuleNames(page)).not.toContain(RULE);

  // Without it the rule saves, and the list shows it.
  await page.getByRole('button', { name: 'Remove condition 3' }).click();
  await page.getByRole('button', { name: 'Create rule' }).click();
  const item = page.locator('.trg-rule', { hasText: RULE });
  await expect(item).toBeVisible();
  await expect(item.locator('.trg-summary')).toHaveText('Page URL contains “e2e-pricing” · 2 s on the page');
  await expect(item).toContainText('once per visit · needs a free agent');
  ruleId = Number(await item.getAttribute('data-rule-id'));
  expect(await savedRuleNames(page)).toContain(RULE);
});

test('"Why?" shows the rule held back with no free agent, then the invite once the agent is available', async ({ page }) => {
  expect(ruleId).toBeGreaterThan(0);
  await signIn(page, { unavailable: true });
  await page.getByRole('button', { name: /^Live visitors/ }).click();
  const card = page.locator(`.visitor-card[data-visitor-id="${visitor.welcome.visitor_id}"]`);
  await card.getByRole('button', { name: 'Why?' }).click();
  const panel = page.getByRole('dialog', { name: /^Why/ });
  await expect(panel).toBeVisible();
  const rule = panel.locator(`.trg-why-rule[data-rule-id="${ruleId}"]`);
  await expect(rule).toHaveAttribute('data-verdict', 'suppressed');
  await expect(rule.locator('.trg-verdict')).toHaveText('Held back: no agent of the target queue is available with a free slot');
  // The condition tree: both conditions hold, with what was seen.
  await expect(rule.locator('.trg-node--yes > .trg-node-line', { hasText: 'page URL contains' })).toContainText(`seen: "${PAGE_URL}"`);
  await expect(rule.locator('.trg-node--yes > .trg-node-line', { hasText: 'time on page ≥ 2 s' })).toBeVisible();
  // Rules the visitor does not meet (the demo's, for other pages) say which condition fails.
  await expect(panel.locator('.trg-why-rule[data-rule-id="1"]')).toHaveAttribute('data-verdict', 'no_match');
  await expect(panel.locator('.trg-why-rule[data-rule-id="1"] .trg-node--no').first()).toBeVisible();
  await expect(panel.locator('.trg-why-rule[data-rule-id="11"]')).toHaveAttribute('data-verdict', 'no_match');
  await expect(panel.locator('.trg-why-status')).toHaveText(`No rule would invite this visitor now: “${RULE}” matches but is held back.`);
  await shot(page, 'triggers-why-desktop');
  expect(visitor.frames.some((f) => f.type === 'invite')).toBe(false);

  // The agent goes available: the rule is looked at again and the visitor is invited.
  await page.getByLabel('Status').selectOption('available');
  await expect(page.locator('.presence')).toHaveAttribute('data-status', 'available');
  const invite = await visitor.next((f) => f.type === 'invite', 30000);
  expect(invite).toMatchObject({ source: `rule:${ruleId}`, message: 'Comparing plans? Ask us anything.' });
  visitor.send({ type: 'invite', rid: 'shown', invite_id: invite.invite_id, source: invite.source, outcome: 'shown', message: invite.message });
  expect(await visitor.next((f) => f.rid === 'shown')).toMatchObject({ type: 'ok' });
  // The panel follows the visitor live: the invite is shown, and the rule now waits for it.
  await expect(panel).toHaveAttribute('data-last-invite', 'shown');
  await expect(panel.locator('.trg-why-sub')).toContainText(`last invite shown: ${RULE}`);
  await expect(rule.locator('.trg-verdict')).toHaveAttribute('data-reason', /^(invite_showing|frequency)$/);
  await panel.getByRole('heading', { name: /^Why/ }).click();
  await page.keyboard.press('Escape');
  await expect(panel).toBeHidden();
  await expect(card.getByRole('button', { name: 'Why?' })).toBeFocused();
  // It belongs to the live visitors: another section closes it.
  await card.getByRole('button', { name: 'Why?' }).click();
  await expect(panel).toBeVisible();
  await page.getByRole('button', { name: /^Chats/ }).click();
  await expect(panel).toBeHidden();
});

test('the invite analytics show the rule with its funnel, a chart and a CSV link', async ({ page }) => {
  expect(ruleId).toBeGreaterThan(0);
  await signIn(page);
  await openTriggers(page);
  await page.getByRole('tab', { name: 'Invite analytics' }).click();
  const row = page.locator(`.trg-table tr[data-source="rule:${ruleId}"]`);
  await expect(row.locator('th')).toHaveText(RULE);
  await expect(row.locator('[data-col="shown"]')).toHaveText('1');
  await expect(row.locator('[data-col="offered"]')).toHaveText('1');
  await expect(row.locator('[data-col="eligible"]')).toHaveText('2');
  await expect(row.locator('[data-col="accepted"]')).toHaveText('0');
  await expect(row.locator('[data-col="suppressed"]')).toContainText('no free agent');
  await expect(row.locator('[data-col="acceptance"]')).toHaveText('0%');
  // The chart has one group per day of the range, today's with one invite shown.
  const today = new Date().toISOString().slice(0, 10);
  await expect(page.locator(`.trg-chart-svg g[data-day="${today}"] title`)).toHaveText(`${today}: 1 shown, 0 accepted`);
  await expect(page.locator('.trg-chart-svg g')).toHaveCount(30);
  const href = await page.getByRole('link', { name: 'Download CSV' }).getAttribute('href');
  const csv = await page.request.get(`${server.url}${href}`);
  expect(csv.headers()['content-type']).toContain('text/csv');
  expect(await csv.text()).toContain(`,rule:${ruleId},2,1,1,0,`); // eligible 2 = offered 1 + held back 1
  await shot(page, 'triggers-analytics-desktop');
});

test('rules can be reordered, duplicated (as a disabled copy) and deleted', async ({ page }) => {
  await signIn(page);
  await openTriggers(page);
  const ids = () => page.locator('.trg-rule').evaluateAll((els) => els.map((e) => Number(e.dataset.ruleId)));
  await expect(page.locator(`.trg-rule[data-rule-id="${ruleId}"]`)).toBeVisible(); // the list has loaded
  const before = await ids();
  expect(before[before.length - 1]).toBe(ruleId); // priority 0 and the highest id: evaluated last
  await page.getByRole('button', { name: `Move up: ${RULE}` }).click();
  await expect.poll(ids).toEqual([...before.slice(0, -2), ruleId, before[before.length - 2]]);
  await expect(page.getByRole('button', { name: `Move up: ${RULE}` })).toBeFocused();
  const saved = (await (await page.request.get(`${server.url}/v1/admin/trigger-rules`)).json()).rules;
  const order = [...saved].sort((a, b) => b.priority - a.priority || a.id - b.id).map((r) => r.id);
  expect(order).toEqual(await ids());

  await page.locator(`.trg-rule[data-rule-id="${ruleId}"]`).getByRole('button', { name: 'Duplicate' }).click();
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue(`Copy of ${RULE}`);
  await expect(page.getByLabel('Enabled')).not.toBeChecked();
  // What the form cannot show (a group inside a group) is edited as JSON; the form says so.
  await page.getByText('Advanced (JSON)').click();
  const json = page.locator('.trg-json');
  const draft = JSON.parse(await json.inputValue());
  expect(draft.conditions).toEqual({ all: [{ page_url: { op: 'contains', value: 'e2e-pricing' } }, { time_on_page: { at_least_s: 2 } }] });
  draft.conditions = { any: [draft.conditions, { all: [{ country: ['FR'] }, { returning: true }] }] };
  await json.fill(JSON.stringify(draft, null, 2));
  await expect(page.getByText('These conditions nest groups inside groups')).toBeVisible();
  await expect(page.locator('.trg-preview-count')).toHaveText(/^Matches 1 of 1 visitor/);
  await page.getByRole('button', { name: 'Create rule' }).click();
  const copy = page.locator('.trg-rule', { hasText: `Copy of ${RULE}` });
  await expect(copy).toHaveClass(/trg-rule--off/);
  await expect(copy.locator('.trg-summary')).toHaveText('Any of: (Page URL contains “e2e-pricing” · 2 s on the page) or (country FR · returning visitor)');
  await copy.getByRole('button', { name: 'Delete' }).click();
  await copy.getByRole('button', { name: 'Delete the rule' }).click();
  await expect(copy).toHaveCount(0);
  expect(await savedRuleNames(page)).not.toContain(`Copy of ${RULE}`);
  expect(await savedRuleNames(page)).toContain(RULE);
});

test('rules export to JSON and import back; a file with a bad rule changes nothing', async ({ page }) => {
  await signIn(page);
  await openTriggers(page);
  await expect(page.locator(`.trg-rule[data-rule-id="${ruleId}"]`)).toBeVisible();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSON' }).click()]);
  expect(download.suggestedFilename()).toBe('beckon-trigger-rules.json');
  const exported = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
  const before = await savedRuleNames(page);
  expect(exported.map((r) => r.name).sort()).toEqual([...before].sort());
  const file = page.locator('.trg-list-tools input[type="file"]');
  const upload = (rules) => file.setInputFiles({ name: 'rules.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(rules)) });

  // A broken rule in the file: the server's message names it, and nothing is imported.
  await upload(exported.map((r) => (r.id === ruleId ? { ...r, name: 'Broken', conditions: { page_url: { op: 'regex', value: '(' } } } : r)));
  await expect(page.locator('#trg-panel-rules > .form-error')).toHaveText(/^Nothing was imported\. rules\[\d+\]\.conditions\.page_url: invalid regex "\(": /);
  expect(await savedRuleNames(page)).toEqual(before);

  // The export, edited, imports back whole.
  await upload(exported.map((r) => (r.id === ruleId ? { ...r, name: `${RULE} (imported)` } : r)));
  await expect(page.locator(`.trg-rule[data-rule-id="${ruleId}"] .trg-rule-name`)).toHaveText(`${RULE} (imported)`);
  await expect(page.locator('#trg-panel-rules > .form-error')).toBeHidden();
  expect((await savedRuleNames(page)).length).toBe(before.length);
});

test('the screens on a phone (390×844)', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page);
  await openTriggers(page);
  await expect(page.locator('.trg-rule', { hasText: RULE })).toBeVisible();
  await shot(page, 'triggers-list-mobile');
  await page.locator('.trg-rule', { hasText: RULE }).getByRole('button', { name: 'Edit' }).click();
  await expect(page.locator('.trg-preview-count')).toHaveText(/^Matches 1 of 1 visitor/);
  await shot(page, 'triggers-editor-mobile');
  // Nothing overflows the phone's width.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('tab', { name: 'Invite analytics' }).click();
  await expect(page.locator(`.trg-table tr[data-source="rule:${ruleId}"]`)).toBeVisible();
  await shot(page, 'triggers-analytics-mobile');
  await page.getByRole('button', { name: /^Live visitors/ }).click();
  await page.locator(`.visitor-card[data-visitor-id="${visitor.welcome.visitor_id}"]`).getByRole('button', { name: 'Why?' }).click();
  await expect(page.locator(`.trg-why-rule[data-rule-id="${ruleId}"]`)).toBeVisible();
  await shot(page, 'triggers-why-mobile');
});
