// The Keys & usage page in Chromium against a real Ferry with keys on: a new key's secret is shown
// once (it works, and it is gone after the dialog closes and after a reload), revoking asks first and
// the key is refused from then on, usage counts the key's requests, and the audit log has the
// creation. Also at phone width.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { mlpModel } from '../fixtures/models.js';
import { assertNoErrors, assertNoHorizontalScroll, launchBrowser, openDashboard, PHONE, screenshot, type DashboardPage } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

const INFER = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [0.1, 0.2, 0.3, 0.4] }] });

describe('keys & usage page', () => {
  let s: TestServer;
  let browser: Browser;
  let admin: string;
  let d: DashboardPage;
  // the key made in the first test, as the page showed it
  let secret = '';
  let keyId = '';
  const infer = (key: string) => fetch(`${s.url}/v2/models/mlp/infer`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: INFER });

  before(async () => {
    s = await startServer({}, { auth: true });
    admin = s.ferry.firstAdminKey!;
    const pushed = await fetch(`${s.url}/api/models/mlp/versions`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' }, body: Buffer.from(mlpModel({ inputs: 4, hidden: 8, outputs: 3, seed: 1 })) });
    assert.equal(pushed.status, 201);
    browser = await launchBrowser();
    d = await openDashboard(browser, s.url, { key: admin, hash: '#/keys' });
  });
  after(async () => {
    await d?.close();
    await browser?.close();
    await s?.close();
  });

  it('creates a key and shows its secret once', async () => {
    const { page } = d;
    await page.getByRole('table', { name: 'API keys' }).waitFor();
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create an API key' });
    await dialog.getByLabel('Name').fill('ci runner');
    await dialog.getByLabel('read').check();
    await dialog.getByText('Limits').click();
    await dialog.getByLabel('Requests/min').fill('600');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    const shown = page.locator('[data-secret]');
    await shown.waitFor();
    secret = (await shown.textContent())!;
    assert.match(secret, /^fy_[0-9a-f]{12}_/);
    keyId = secret.split('_')[1]!;
    await page.getByRole('dialog', { name: `Key ${keyId} created` }).getByText('the only time it is shown').waitFor();
    await screenshot(page, 'keys-created');

    // the secret works against the API, with the scopes and limit asked for
    const answer = await infer(secret);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('x-ratelimit-limit-requests'), '600');
    for (let i = 0; i < 4; i++) assert.equal((await infer(secret)).status, 200);

    // Copy, then Done: the secret is gone from the page and was never stored
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByRole('status').filter({ hasText: /Copied|selected/ }).waitFor();
    await page.getByRole('button', { name: 'Done, I have stored it' }).click();
    const row = page.locator(`tr[data-key-id="${keyId}"]`);
    await row.getByText('ci runner').waitFor();
    assert.match((await row.textContent())!, /infer, read.*600 rpm.*active/);
    const leaks = async () => page.evaluate((k) => ({
      html: document.documentElement.outerHTML.includes(k),
      storage: [...Object.values(sessionStorage), ...Object.values(localStorage)].some((v) => v.includes(k)),
    }), secret);
    assert.deepEqual(await leaks(), { html: false, storage: false });
    await page.reload();
    await row.waitFor();
    assert.deepEqual(await leaks(), { html: false, storage: false });
    const listed = await (await fetch(`${s.url}/api/keys`, { headers: { authorization: `Bearer ${admin}` } })).text();
    assert.ok(listed.includes(keyId) && !listed.includes(secret), 'the API lists the key, not its secret');
    assertNoErrors(d);
  });

  it('shows usage per tenant and model for the key\'s requests', async () => {
    const { page } = d;
    await page.getByRole('link', { name: 'Usage', exact: true }).click();
    const table = page.getByRole('table', { name: 'Usage' });
    const mlp = table.getByRole('row').filter({ hasText: 'mlp:1' });
    await mlp.waitFor();
    // five requests with the new key (the admin key pushed the model: that is not inference)
    assert.deepEqual((await mlp.getByRole('cell').allTextContents()).slice(0, 3), ['mlp:1', '5', '0']);
    await page.locator('figure[aria-label="Requests by tenant"] .bar-row[data-label="admin"][data-value="5"]').waitFor();
    await page.locator('figure[aria-label="Requests by model"] .bar-row[data-label="mlp:1"]').waitFor();
    await page.getByLabel('Group by').selectOption('key');
    await table.getByRole('row').filter({ hasText: keyId }).waitFor();
    await screenshot(page, 'keys-usage');
    assertNoErrors(d);
  });

  it('lists the key\'s creation in the audit log, newest first, and filters by action', async () => {
    const { page } = d;
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    const log = page.getByRole('table', { name: 'Audit log' });
    const created = log.getByRole('row').filter({ hasText: keyId });
    await created.waitFor();
    assert.match((await created.textContent())!, /key\.create.*ok 201.*admin/);
    // newest first: our key's creation is above the first admin key's and the model push
    const actions = (await log.locator('tbody tr td:nth-child(2)').allTextContents());
    assert.deepEqual(actions, ['key.create', 'model.push', 'key.create']);
    await page.getByLabel('Action').selectOption('model.push');
    await log.getByRole('row').filter({ hasText: 'key.create' }).first().waitFor({ state: 'detached' });
    assert.equal(await log.locator('tbody tr').count(), 1);
    await screenshot(page, 'keys-audit');
    assertNoErrors(d);
  });

  it('revokes a key after confirming, and the API refuses it from then on', async () => {
    const { page } = d;
    await page.getByRole('link', { name: 'Keys', exact: true }).click();
    await page.getByRole('button', { name: `Revoke ${keyId}` }).click();
    const confirm = page.getByRole('dialog', { name: `Revoke key ${keyId}?` });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await infer(secret)).status, 200, 'Cancel keeps the key');
    await page.getByRole('button', { name: `Revoke ${keyId}` }).click();
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await page.locator(`tr[data-key-id="${keyId}"]`).getByText('revoked').waitFor();
    assert.equal((await infer(secret)).status, 401);
    assertNoErrors(d);
  });

  it('fits a phone-width window on every tab', async () => {
    const phone = await openDashboard(browser, s.url, { key: admin, viewport: PHONE, hash: '#/keys' });
    for (const [tab, ready] of [['', 'API keys'], ['/usage', 'Usage'], ['/audit', 'Audit log']] as const) {
      await phone.page.evaluate((h) => { location.hash = h; }, `#/keys${tab}`);
      await phone.page.getByRole('table', { name: ready }).waitFor();
      await assertNoHorizontalScroll(phone.page);
      await screenshot(phone.page, `keys-phone${tab.replace('/', '-')}`);
    }
    await phone.page.getByRole('link', { name: 'Keys', exact: true }).click();
    await phone.page.getByRole('button', { name: 'Create key' }).click();
    await phone.page.getByRole('dialog', { name: 'Create an API key' }).waitFor();
    await assertNoHorizontalScroll(phone.page);
    await screenshot(phone.page, 'keys-phone-create');
    assertNoErrors(phone);
    await phone.close();
  });
});
