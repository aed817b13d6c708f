// Languages (issue 13), in real Chromium: on a French page the widget speaks French — its own
// words, the server's lines in the chat, the admin's texts and survey questions as translated in
// the administration (answers still stored under the original labels, so agents read one
// language) — while an English page of the same widget stays English; dates follow the locale.
'use strict';
const { test, expect, widget, waitForLcw, signInConsole } = require('../lib/fixtures');

test.use({ locale: 'fr-FR' });

async function demoWidget(agent) {
  const { widgets } = await agent.call('GET', '/v1/admin/widgets');
  return widgets.find((x) => x.widget_id === 'beckon-demo');
}

test('a French page gets a French widget, with the admin\u2019s French texts', async ({ site, page, agent }) => {
  const demo = await demoWidget(agent);
  const [name, topic] = demo.prechat;
  // The admin translates the texts and the survey (an unknown question is refused, by name).
  const bad = await agent.api('PATCH', `/v1/admin/widgets/${demo.id}`, { translations: { fr: { prechat: { nope: { label: 'Non' } } } } });
  expect(bad.status).toBe(400);
  expect(bad.body.error.message).toBe('translations.fr.prechat: the survey has no question "nope"');
  await agent.call('PATCH', `/v1/admin/widgets/${demo.id}`, {
    translations: {
      fr: {
        title: 'Discutons ensemble',
        greeting: 'Bonjour ! Comment pouvons-nous vous aider ?',
        prechat: {
          [name.id]: { label: 'Votre nom' },
          [topic.id]: { label: 'Votre question porte sur\u2026', choices: topic.choices.map((c) => `FR ${c}`) },
        },
      },
    },
  });

  // Nobody is available at first: the visitor waits, and hears why in French.
  await agent.send({ type: 'presence', status: 'away' });
  await agent.waitFor((f) => f.type === 'presence' && f.status === 'away', { what: 'away' });
  const w = widget(page);
  await page.goto(site('boutique.html'));
  await waitForLcw(page, 'ready');
  await expect(w.launcher).toHaveAttribute('aria-label', 'Ouvrir la discussion');
  await w.launcher.click();
  await expect(w.window.locator('#bk-title')).toHaveText('Discutons ensemble');
  await expect(w.window.locator('.status')).toHaveText('Quelques questions avant de commencer');
  await page.getByLabel('Votre nom').fill('Léa');
  await page.getByLabel('Votre question porte sur\u2026').selectOption({ label: `FR ${topic.choices[0]}` });
  await page.getByLabel(/^I agree that this chat is recorded/).check(); // not translated: the original
  await page.getByRole('button', { name: 'Commencer' }).click();

  // The server's own lines come in French too; the composer speaks French.
  await expect(w.log.getByText(/^Aucun conseiller n\u2019est disponible pour le moment\./)).toBeVisible();
  await expect(page.getByPlaceholder('Votre message\u2026')).toBeVisible();
  await expect(w.window.getByRole('button', { name: 'R\u00e9duire la discussion' })).toBeVisible();
  // The agent reads the answers under the original labels and choices.
  const since = agent.mark();
  await agent.send({ type: 'presence', status: 'available' });
  const { offer } = await agent.acceptOffer({ since });
  expect(offer.context[name.label].value).toBe('Léa');
  expect(offer.context[topic.label].value).toBe(topic.choices[0]);
  await expect(w.log.getByText(/a rejoint la discussion\.$/)).toBeVisible();
  // Ending asks in French; when the agent ends it, the footer says so in French.
  await w.window.getByRole('button', { name: 'Fermer la discussion' }).click();
  await expect(w.window.getByText('Terminer cette discussion ?')).toBeVisible();
  await w.window.getByRole('button', { name: 'Annuler' }).click();
  await agent.send({ type: 'end', conversation_id: offer.id });
  await expect(w.window.getByText('Cette discussion est termin\u00e9e.')).toBeVisible();
  await expect(w.window.getByRole('button', { name: 'Nouvelle discussion' })).toBeVisible();
});

test('the same widget on an English page, or with data-language, speaks English', async ({ site, page, agent }) => {
  const demo = await demoWidget(agent);
  const w = widget(page);
  await page.goto(site('shop.html'));
  await waitForLcw(page, 'ready');
  await expect(w.launcher).toHaveAttribute('aria-label', 'Open chat');
  // An admin who sets the widget's language overrides the page.
  await agent.call('PATCH', `/v1/admin/widgets/${demo.id}`, { language: 'fr' });
  await page.reload();
  await waitForLcw(page, 'ready');
  await expect(w.launcher).toHaveAttribute('aria-label', 'Ouvrir la discussion');
  // A page's data-language wins over both (a French page whose widget is set to English).
  await page.goto(site('boutique-en.html'));
  await waitForLcw(page, 'ready');
  await expect(w.launcher).toHaveAttribute('aria-label', 'Open chat');
  const bad = await agent.api('PATCH', `/v1/admin/widgets/${demo.id}`, { language: 'de' });
  expect(bad.status).toBe(400);
});

test('the admin writes the French texts in the console; French visitors read them', async ({ beckon, site, browser, page }) => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const admin = await ctx.newPage();
  await signInConsole(admin, beckon.url, beckon.login.email, beckon.login.password);
  await admin.getByRole('button', { name: 'Administration' }).click();
  await admin.getByRole('tab', { name: 'Widgets' }).click();
  const form = admin.locator('.widget-form').first();
  await form.locator('details[data-language="fr"] > summary').click();
  await form.getByLabel('French title').fill('Parlons-en');
  const choices = form.getByLabel('French choices for “What is your question about?”, one per line, in order');
  await form.getByLabel('French for “What is your question about?”').fill('Votre question porte sur…');
  await choices.fill('Produits');
  await form.getByRole('button', { name: 'Save widget' }).click();
  // Refused by the server, shown at its field.
  await expect(form.locator('[data-field="translations.fr.prechat.topic.choices"] .field-error')).toHaveText('3 choices, as in the question');
  await choices.fill('');
  await form.getByLabel('French for “Your name”').fill('Votre nom');
  await form.getByRole('button', { name: 'Save widget' }).click();
  await expect(admin.locator('.toast', { hasText: 'saved.' })).toBeVisible();
  await ctx.close();

  const w = widget(page);
  await page.goto(site('boutique.html'));
  await waitForLcw(page, 'ready');
  await w.launcher.click();
  await expect(w.window.locator('#bk-title')).toHaveText('Parlons-en');
  await expect(page.getByLabel('Votre nom')).toBeVisible();
});

test('a trigger rule invites in French on French pages: the admin writes the French message in the rule editor', async ({ beckon, site, browser, page, agent }) => {
  // A rule for the shop's pages (English and French), written in the console's editor.
  const { rules } = await agent.call('GET', '/v1/admin/trigger-rules');
  const rule = {
    id: 90, name: 'Shop pages, at once', conditions: { all: [{ page_url: { op: 'regex', value: '/(boutique|shop)\\.html$' } }] },
    invite: { message: 'Hello! Can we help you choose?' }, limits: { require_free_agent: false, frequency: 'once_per_page_view' },
  };
  await agent.call('PUT', '/v1/admin/trigger-rules', { rules: [...rules.map((r) => ({ ...r, enabled: false })), rule] });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const admin = await ctx.newPage();
  await signInConsole(admin, beckon.url, beckon.login.email, beckon.login.password);
  await admin.getByRole('button', { name: 'Triggers', exact: true }).click();
  await admin.locator('.trg-rule', { hasText: rule.name }).getByRole('button', { name: 'Edit' }).click();
  const french = admin.getByLabel('Message in French (optional)');
  await french.fill('Bonjour {context:Prénom');
  await admin.getByRole('button', { name: 'Save rule' }).click();
  await expect(admin.locator('[data-path="invite.translations.fr"] .field-error')).toContainText("a '{' is never closed");
  await french.fill('Bonjour ! Pouvons-nous vous aider à choisir ?');
  await admin.getByRole('button', { name: 'Save rule' }).click();
  await expect(admin.locator('.trg-rule', { hasText: rule.name })).toBeVisible();
  const saved = (await agent.call('GET', '/v1/admin/trigger-rules')).rules.find((r) => r.id === 90);
  expect(saved.invite.translations).toEqual({ fr: 'Bonjour ! Pouvons-nous vous aider à choisir ?' });
  await ctx.close();

  const w = widget(page);
  await page.goto(site('boutique.html'));
  await expect(w.inviteText).toHaveText('Bonjour ! Pouvons-nous vous aider à choisir ?');
  await page.goto(site('shop.html'));
  await expect(w.inviteText).toHaveText('Hello! Can we help you choose?');
});
