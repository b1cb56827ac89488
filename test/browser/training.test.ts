// The Training page in Chromium against a real Ferry: start jobs from a recipe with the quick
// fields, see the server's error for a bad spec, watch a job's curves fill in from its event
// stream, cancel a running job, deploy a finished one, and hide all of that from a read-only key.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertNoErrors, assertNoHorizontalScroll, launchBrowser, openDashboard, PHONE, screenshot, type DashboardPage } from '../helpers/browser.js';
import { call } from '../security/support.js';

const LOSS_CHART = '[aria-label="Loss per epoch"]';
const RUNNING_CHART = '[aria-label="Running train loss within epochs"]';

/** Fills the form from the mnist-mlp recipe with a name, epochs and dataset sizes, starts the job
 *  and returns its id from the page it lands on. */
async function startJob(page: Page, fields: { name: string; epochs: number; train: number; test: number }): Promise<string> {
  await page.goto(page.url().replace(/#.*$/, '#/training'));
  await page.getByLabel('Start from').selectOption('mnist-mlp');
  await page.getByLabel('Model name').fill(fields.name);
  await page.getByLabel('Epochs').fill(String(fields.epochs));
  await page.getByLabel('Train examples').fill(String(fields.train));
  await page.getByLabel('Test examples').fill(String(fields.test));
  await page.getByRole('button', { name: 'Start training' }).click();
  await page.waitForURL(/#\/training\/[0-9a-f-]{36}$/);
  await page.getByRole('heading', { level: 1, name: fields.name }).waitFor();
  return decodeURIComponent(page.url().split('/').at(-1)!);
}

const stateIs = (page: Page, state: string) => page.locator(`.training-status [data-state="${state}"]`).waitFor();

describe('training page', () => {
  let s: TestServer;
  let browser: Browser;
  let admin: string;
  const open: DashboardPage[] = [];
  const dashboard = async (opts: Parameters<typeof openDashboard>[2] = {}) => {
    const d = await openDashboard(browser, s.url, { key: admin, hash: '#/training', ...opts });
    open.push(d);
    return d;
  };
  let quickId = '';

  before(async () => {
    s = await startServer({}, { auth: true });
    admin = s.ferry.firstAdminKey!;
    browser = await launchBrowser();
  });
  after(async () => {
    for (const d of open) await d.close();
    await browser?.close();
    await s?.close();
  });

  it('starts from a recipe and shows the server\'s error naming a bad field', async () => {
    const d = await dashboard();
    const { page } = d;
    const recipe = page.getByLabel('Start from');
    await page.getByText(/MNIST digit classifier, MLP 784-128-10/).waitFor();
    assert.equal(await recipe.inputValue(), 'mnist-mlp');
    assert.ok((await recipe.locator('option').allTextContents()).includes('mnist-cnn'));
    const spec = page.getByLabel('Spec (JSON)');
    const recipeSpec = JSON.parse(await spec.inputValue()) as { name: string; epochs: number; dataset: { train: number } };
    assert.deepEqual([recipeSpec.name, recipeSpec.epochs, recipeSpec.dataset.train], ['mnist-mlp', 3, 8000]);
    // the quick fields write into the spec
    await page.getByLabel('Epochs').fill('2');
    assert.equal((JSON.parse(await spec.inputValue()) as { epochs: number }).epochs, 2);

    await spec.fill(JSON.stringify({ ...recipeSpec, optimizer: { type: 'adam', lr: 0 } }));
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.getByRole('alert').filter({ hasText: 'training spec: optimizer.lr must be a positive number, got 0 (HTTP 400)' }).waitFor();
    await screenshot(page, 'training-bad-spec');
    await spec.fill('{"name": "x",');
    await page.getByText(/The spec is not valid JSON/).waitFor();
    assert.match(page.url(), /#\/training$/, 'no job was started');
    assertNoErrors(d);
  });

  it('cancels a running job, and the job queued behind it draws its curves live', async () => {
    const a = await dashboard();
    const longId = await startJob(a.page, { name: 'digits-long', epochs: 200, train: 8000, test: 500 });
    await stateIs(a.page, 'running');
    await a.page.waitForFunction((sel) => Number(document.querySelector(sel)?.getAttribute('data-points')) > 1, RUNNING_CHART);

    const b = await dashboard();
    quickId = await startJob(b.page, { name: 'digits-quick', epochs: 4, train: 1000, test: 200 });
    await stateIs(b.page, 'queued');
    // every value the loss chart's point count takes, from here to the end of the job
    await b.page.evaluate((sel) => {
      const chart = document.querySelector(sel)!;
      const seen = [chart.getAttribute('data-points')];
      new MutationObserver(() => seen.push(chart.getAttribute('data-points'))).observe(chart, { attributeFilter: ['data-points'] });
      (window as unknown as { seen: unknown }).seen = seen;
    }, LOSS_CHART);

    await a.page.getByRole('button', { name: 'Cancel job' }).click();
    await a.page.getByRole('dialog').getByRole('button', { name: 'Stop the job' }).click();
    await stateIs(a.page, 'cancelled');
    await a.page.getByText('This job was cancelled').waitFor();
    await screenshot(a.page, 'training-cancelled');
    const long = await call(s.url, 'GET', `/api/training-jobs/${longId}`, { key: admin });
    assert.equal(long.body.state, 'cancelled');

    await stateIs(b.page, 'succeeded');
    const seen = (await b.page.evaluate(() => (window as unknown as { seen: string[] }).seen)).map(Number);
    assert.equal(seen[0], 0, 'the queued job had no points');
    assert.equal(seen.at(-1), 4, 'one point per epoch');
    assert.ok(seen.every((n, i) => i === 0 || n > seen[i - 1]!), `the curve only grows: ${seen.join(' → ')}`);
    const accuracy = await b.page.locator('[data-stat="test-accuracy"]').textContent();
    assert.match(accuracy!, /^\d+\.\d %$/);
    assert.ok(parseFloat(accuracy!) > 60, `final test accuracy ${accuracy}`);
    assert.equal(await b.page.getByRole('table', { name: 'Metrics of each finished epoch' }).locator('tbody tr').count(), 4);
    assert.equal(await b.page.getByRole('link', { name: 'digits-quick' }).getAttribute('href'), '#/models/digits-quick');
    await screenshot(b.page, 'training-job');
    assertNoErrors(a);
    assertNoErrors(b);
  });

  it('deploys the result with the keyboard: the alias moves to the new version', async () => {
    const d = await dashboard({ hash: `#/training/${quickId}` });
    const { page } = d;
    const alias = page.getByLabel('Alias');
    assert.equal(await alias.inputValue(), 'prod');
    await alias.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Deploy digits-quick version 1?' });
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Move prod');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'digits-quick:prod now serves version 1' }).waitFor();
    const model = await call(s.url, 'GET', '/api/models/digits-quick', { key: admin });
    assert.equal(model.body.aliases.prod, 1);
    assertNoErrors(d);
  });

  it('hides starting, cancelling and deploying from a key that may only read', async () => {
    const made = await call(s.url, 'POST', '/api/keys', { key: admin, body: { tenant: 'admin', scopes: ['read'] } });
    assert.equal(made.status, 201, made.text);
    const d = await dashboard({ key: made.body.key as string });
    const { page } = d;
    await page.getByRole('link', { name: 'digits-quick' }).waitFor();
    await page.getByText('This key cannot start training jobs').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Start training' }).count(), 0);
    await page.getByRole('link', { name: 'digits-quick' }).click();
    await stateIs(page, 'succeeded');
    await page.getByText('Registered as').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Deploy' }).count(), 0);
    assertNoErrors(d);
  });

  it('fits a phone-width window', async () => {
    const d = await dashboard({ viewport: PHONE });
    const { page } = d;
    await page.getByRole('link', { name: 'digits-long' }).waitFor();
    await assertNoHorizontalScroll(page);
    await screenshot(page, 'training-phone');
    await page.goto(`${s.url}/#/training/${quickId}`);
    await stateIs(page, 'succeeded');
    await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-points') === '4', LOSS_CHART);
    await assertNoHorizontalScroll(page);
    await screenshot(page, 'training-job-phone');
    assertNoErrors(d);
  });
});
