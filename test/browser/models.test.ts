// The Models page in Chromium against a real Ferry: list, details with lineage and metrics, upload with
// a progress bar, moving an alias behind a confirmation, load/unload, delete, the server's own error
// messages, what a read-only key sees, and a phone-width window.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertNoErrors, assertNoHorizontalScroll, launchBrowser, openDashboard, PHONE, screenshot, type DashboardPage } from '../helpers/browser.js';
import { mlpModel } from '../fixtures/models.js';

interface VersionView { version: number; loaded: boolean; metadata: Record<string, unknown> }
interface ModelView { name: string; aliases: Record<string, number>; versions: VersionView[] }

/** Last-epoch numbers as a trained model's record carries them (src/training/record.ts). */
const trained = (testAccuracy: number, testLoss: number) => ({
  source: 'training',
  training: { seed: 1, wallSeconds: 2.5, dataset: { source: 'iris.csv', trainSize: 120, testSize: 30 }, epochs: [{ epoch: 1, trainLoss: 0.9, testLoss, testAccuracy, learningRate: 0.01, seconds: 1, samplesPerSec: 100 }] },
});

describe('models page', () => {
  let s: TestServer;
  let browser: Browser;
  let admin: string;
  let d: DashboardPage;
  let page: Page;

  const get = async (name: string): Promise<ModelView> => {
    const res = await fetch(`${s.url}/api/models/${name}`, { headers: { authorization: `Bearer ${admin}` } });
    assert.equal(res.status, 200);
    return (await res.json()) as ModelView;
  };
  /** Registers a small MLP as the registry would after training, with the given metadata. */
  const register = (name: string, seed: number, metadata: Record<string, unknown>) =>
    s.ferry.registry.push(name, (async function* () {
      yield mlpModel({ inputs: 4, hidden: 8, outputs: 3, seed });
    })(), { metadata });
  const row = (version: number) => page.locator(`.versions-table tr[data-version="${version}"]`);
  const aliasVersion = (alias: string) => page.locator(`.alias-table tr[data-alias="${alias}"] [data-testid="alias-version"]`);
  const dialog = () => page.getByRole('dialog');

  before(async () => {
    s = await startServer({}, { auth: true });
    admin = s.ferry.firstAdminKey!;
    browser = await launchBrowser();
  });
  after(async () => {
    await d?.close();
    await browser?.close();
    await s?.close();
  });

  it('says what to do when there are no models yet', async () => {
    d = await openDashboard(browser, s.url, { key: admin, hash: '#/models' });
    page = d.page;
    await page.getByText('No models yet').waitFor();
    await page.getByText(/Upload an \.onnx or \.gguf file below/).waitFor();
    await screenshot(page, 'models-empty');
  });

  it('uploads a file with a progress bar, and shows the server’s message for a bad one', async () => {
    const form = page.getByRole('form', { name: 'Upload a model' });
    await form.getByLabel('Model name').fill('uploaded');
    await form.getByLabel('Model file').setInputFiles({ name: 'mlp.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(mlpModel({ inputs: 256, hidden: 256, outputs: 10 })) });
    await form.getByRole('button', { name: 'Upload' }).click();
    await form.getByRole('status').getByText(/Uploaded uploaded version 1 \(\d+ KiB\)/).waitFor();
    assert.equal(await form.getByLabel('Upload progress').evaluate((p: HTMLProgressElement) => p.value), 1);
    // the list reloads with the new model in it
    await page.locator('.models-table tr[data-model="uploaded"]').waitFor();
    await screenshot(page, 'models-uploaded');

    await form.getByLabel('Model file').setInputFiles({ name: 'broken.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from('not a model at all') });
    await form.getByRole('button', { name: 'Upload' }).click();
    await form.getByRole('alert').getByText(/the upload is not a valid ONNX model.*\(HTTP 400\)/).waitFor();
    assert.equal((await get('uploaded')).versions.length, 1, 'the broken file did not become a version');
  });

  it('lists models and shows a version’s lineage, metrics and signature', async () => {
    await register('mlp', 1, trained(0.8, 0.6));
    await register('mlp', 2, { ...trained(0.9, 0.4), lineage: { parent: { model: 'mlp', version: 1 }, transformation: 'fine-tune' } });
    await page.reload();
    const mlp = page.locator('.models-table tr[data-model="mlp"]');
    await mlp.waitFor();
    assert.equal(await mlp.locator('td').first().textContent(), 'v2');
    assert.equal(await mlp.getByRole('link', { name: 'Try it with mlp' }).getAttribute('href'), '#/playground/mlp');
    await screenshot(page, 'models-list');

    await mlp.getByRole('link', { name: 'mlp', exact: true }).click();
    await page.getByRole('heading', { name: 'mlp', level: 1 }).waitFor();
    // the served version (the latest: no prod alias yet) is shown in full
    const details = page.locator('.version-details');
    await details.getByRole('heading', { name: 'Version 2' }).waitFor();
    await details.getByRole('row', { name: 'test accuracy 0.900' }).waitFor();
    await details.getByText('iris.csv (120 train / 30 test)').waitFor();
    await details.getByRole('table', { name: 'Inputs' }).getByRole('row', { name: 'input FP32 [?, 4]' }).waitFor();
    await row(2).getByText('test accuracy 0.900').waitFor();
    // lineage links to the parent version
    await row(2).getByRole('link', { name: 'v1', exact: true }).click();
    await page.waitForURL(/#\/models\/mlp\/1$/);
    await details.getByRole('heading', { name: 'Version 1' }).waitFor();
    await details.getByText('uploaded, not derived from another version').waitFor();
  });

  it('moves an alias after a confirmation that names both versions, and the page follows', async () => {
    const form = page.getByRole('form', { name: 'Move an alias' });
    await page.getByText('This model has no aliases yet.').waitFor();
    await form.getByLabel('Alias').fill('prod');
    await form.getByLabel('Version').selectOption('1');
    await form.getByRole('button', { name: 'Move alias…' }).click();
    await dialog().getByRole('heading', { name: 'Create alias prod → v1?' }).waitFor();
    await dialog().getByRole('button', { name: 'Create prod' }).click();
    assert.equal(await aliasVersion('prod').textContent(), 'v1');

    // deploy v2, all by keyboard: Enter submits the form, the dialog's confirm button has the focus
    await form.getByLabel('Version').selectOption('2');
    await form.getByLabel('Alias').press('Enter');
    await dialog().getByRole('heading', { name: 'Move prod from v1 to v2?' }).waitFor();
    await screenshot(page, 'models-confirm-alias');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Move prod to v2');
    await page.keyboard.press('Enter');
    await aliasVersion('prod').getByText('v2').waitFor();
    await page.locator('.summary').getByText('Serves v2').waitFor();
    await row(2).getByText('prod').waitFor();
    assert.equal((await get('mlp')).aliases.prod, 2, 'the server agrees');

    // Escape cancels: nothing changes
    await page.getByRole('button', { name: 'Move alias prod', exact: true }).click();
    // the row's Move… fills the form and puts the focus on the version to pick
    await page.waitForFunction(() => (document.activeElement as HTMLSelectElement | null)?.name === 'version' && (document.activeElement as HTMLSelectElement).value === '2');
    await form.getByLabel('Version').selectOption('1');
    await form.getByRole('button', { name: 'Move alias…' }).click();
    await dialog().getByRole('heading', { name: 'Move prod from v2 to v1?' }).waitFor();
    await dialog().getByRole('button', { name: 'Roll back prod to v1' }).waitFor();
    await page.keyboard.press('Escape');
    await dialog().waitFor({ state: 'hidden' });
    assert.equal((await get('mlp')).aliases.prod, 2);

    // the server's refusal is shown in its own words
    await form.getByLabel('Alias').fill('latest');
    await form.getByRole('button', { name: 'Move alias…' }).click();
    await dialog().getByRole('button', { name: 'Create latest' }).click();
    await page.getByRole('alert').getByText('alias "latest" is reserved: it always means the highest version (HTTP 400)').waitFor();
    await screenshot(page, 'models-alias-error');
  });

  it('shows what is in memory, and unloads and loads', async () => {
    // moving prod loaded v2 before the switch
    await row(2).getByText('loaded', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Unload', exact: true }).click();
    await row(2).getByText('not loaded').waitFor();
    await page.getByTestId('in-memory').getByText('none in memory').waitFor();
    assert.deepEqual((await get('mlp')).versions.map((v) => v.loaded), [false, false]);
    await page.getByRole('button', { name: 'Load version 1' }).click();
    await row(1).getByText('loaded', { exact: true }).waitFor();
    assert.equal((await get('mlp')).versions.find((v) => v.version === 1)?.loaded, true);
  });

  it('deletes a version, and a model, only after a confirmation', async () => {
    await page.getByRole('button', { name: 'Delete version 1' }).click();
    await dialog().getByRole('heading', { name: 'Delete version 1 of mlp?' }).waitFor();
    await screenshot(page, 'models-confirm-delete');
    await dialog().getByRole('button', { name: 'Delete v1' }).click();
    await row(1).waitFor({ state: 'detached' });
    assert.deepEqual((await get('mlp')).versions.map((v) => v.version), [2]);
    await screenshot(page, 'models-detail');

    // and a whole model, from the list
    await page.getByRole('link', { name: 'Models', exact: true }).first().click();
    await page.locator('.models-table').getByRole('link', { name: 'uploaded', exact: true }).click();
    await page.getByRole('button', { name: 'Delete model' }).click();
    await dialog().getByText('All 1 version and their aliases are removed for good').waitFor();
    await dialog().getByRole('button', { name: 'Delete uploaded' }).click();
    await page.waitForURL(/#\/models$/);
    await page.locator('.models-table tr[data-model="mlp"]').waitFor();
    assert.equal(await page.locator('.models-table tr[data-model="uploaded"]').count(), 0);
    assert.equal((await fetch(`${s.url}/api/models/uploaded`, { headers: { authorization: `Bearer ${admin}` } })).status, 404);
    assertNoErrors(d);
    await d.close();
  });

  it('hides the management buttons from a read-only key, and fits a phone', async () => {
    const res = await fetch(`${s.url}/api/keys`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'admin', scopes: ['read'] }) });
    const reader = ((await res.json()) as { key: string }).key;
    d = await openDashboard(browser, s.url, { key: reader, hash: '#/models/mlp', viewport: PHONE });
    page = d.page;
    await page.locator('.version-details').getByRole('heading', { name: 'Version 2' }).waitFor();
    await page.getByRole('link', { name: 'Try it →' }).waitFor();
    for (const name of ['Unload', 'Delete model', 'Move alias…', 'Move…', 'Remove', 'Load', 'Delete', 'Upload']) assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, `no ${name} button`);
    await assertNoHorizontalScroll(page);
    await screenshot(page, 'models-phone-detail');
    await page.getByRole('link', { name: 'Models', exact: true }).first().click();
    await page.locator('.models-table tr[data-model="mlp"]').waitFor();
    assert.equal(await page.getByRole('form', { name: 'Upload a model' }).count(), 0);
    await assertNoHorizontalScroll(page);
    await screenshot(page, 'models-phone-list');
    assertNoErrors(d);
  });
});
