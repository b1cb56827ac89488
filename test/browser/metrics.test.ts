// The metrics page in Chromium against a real Ferry: an empty state before traffic, then requests per
// second, latency and batch sizes filling in while node drives V2 inference, without the layout
// moving; a phone-width window; and a key without the metrics scope told so. The page polls every
// 200 ms here (`?poll=200`), and the test waits for what the page shows, never for time.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { mlpModel } from '../fixtures/models.js';
import { assertNoErrors, assertNoHorizontalScroll, launchBrowser, openDashboard, PHONE, screenshot } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** Keeps `concurrency` V2 infer requests in flight until stopped; counts the answers. */
function drive(url: string, key: string, concurrency = 4) {
  let running = true;
  const answered = { ok: 0, failed: 0 };
  const body = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [0.1, 0.2, 0.3, 0.4] }] });
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      const r = await fetch(`${url}/v2/models/mlp/infer`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
      await r.arrayBuffer();
      if (r.ok) answered.ok++;
      else answered.failed++;
    }
  });
  return { answered, stop: async () => { running = false; await Promise.all(loops); } };
}

const stat = (page: Page, label: string) => page.locator(`[data-stat="${label}"] .value`).textContent();

describe('metrics page', () => {
  let s: TestServer;
  let browser: Browser;
  let admin: string;
  before(async () => {
    s = await startServer({}, { auth: true });
    admin = s.ferry.firstAdminKey!;
    const pushed = await fetch(`${s.url}/api/models/mlp/versions`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' }, body: Buffer.from(mlpModel({ inputs: 4, hidden: 8, outputs: 3, seed: 1 })) });
    assert.equal(pushed.status, 201);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  it('shows an empty state, then requests per second, latency and batch sizes as traffic arrives', async () => {
    const d = await openDashboard(browser, s.url, { key: admin, hash: '?poll=200#/metrics' });
    const { page } = d;
    await page.getByText('No model has served a request yet').waitFor();
    await screenshot(page, 'metrics-empty');

    const load = drive(s.url, admin);
    try {
      // the busiest model is picked, and the stat cards show live numbers
      await page.getByLabel('Model shown').waitFor();
      assert.equal(await page.getByLabel('Model shown').inputValue(), 'mlp');
      await page.waitForFunction(() => Number(document.querySelector('[data-stat="Requests/s"] .value')?.textContent) > 0);
      await page.waitForFunction(() => /ms$/.test(document.querySelector('[data-stat="p99 latency"] .value')?.textContent ?? ''));
      const rate = page.getByRole('img', { name: 'Requests per second, mlp' });
      const latency = page.getByRole('img', { name: 'Latency p50 and p99, mlp' });
      await page.waitForFunction(() => Number(document.querySelector('[aria-label="Latency p50 and p99, mlp"]')?.getAttribute('data-points')) >= 3);
      // new points land in place: the charts and the histogram do not move while they update
      const boxes = async () => Promise.all([rate, latency, page.getByRole('heading', { name: 'All models' })].map(async (l) => JSON.stringify(await l.boundingBox())));
      const [before, points] = [await boxes(), Number(await latency.getAttribute('data-points'))];
      await page.waitForFunction((n) => Number(document.querySelector('[aria-label="Latency p50 and p99, mlp"]')?.getAttribute('data-points')) >= n + 2, points);
      assert.deepEqual(await boxes(), before, 'nothing moved between polls');

      // the batch-size histogram has its ten buckets and counts the batches run in the window
      const bars = page.locator('figure[aria-label="Batch sizes, mlp"] .bar-row');
      await bars.first().waitFor();
      assert.equal(await bars.count(), 10);
      const counted = (await bars.evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-value'))))).reduce((a, b) => a + b, 0);
      assert.ok(counted > 0, 'batches counted');
      assert.match((await stat(page, 'Queue depth'))!, /^\d+$/);
      await page.getByRole('table', { name: 'Models with traffic' }).getByRole('link', { name: 'mlp' }).waitFor();
      await screenshot(page, 'metrics-live');
    } finally {
      await load.stop();
    }
    assert.ok(load.answered.ok > 0 && load.answered.failed === 0, `answers: ${JSON.stringify(load.answered)}`);
    // the whole-run histogram counts every batch, at least as many as the window
    await page.getByLabel('Batch sizes over').selectOption('start');
    await page.waitForFunction(() => [...document.querySelectorAll('figure[aria-label="Batch sizes, mlp"] .bar-row')].reduce((a, r) => a + Number(r.getAttribute('data-value')), 0) > 0);
    assertNoErrors(d);
    await d.close();
  });

  it('fits a phone-width window', async () => {
    const d = await openDashboard(browser, s.url, { key: admin, viewport: PHONE, hash: '?poll=200#/metrics/mlp' });
    await d.page.waitForFunction(() => Number(document.querySelector('[aria-label="Requests per second, mlp"]')?.getAttribute('data-points')) >= 2);
    await assertNoHorizontalScroll(d.page);
    await screenshot(d.page, 'metrics-phone');
    assertNoErrors(d);
    await d.close();
  });

  it('tells a key without the metrics scope what it needs instead of polling', async () => {
    const made = await fetch(`${s.url}/api/keys`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'admin', scopes: ['infer'] }) });
    const { key } = (await made.json()) as { key: string };
    const d = await openDashboard(browser, s.url, { key, hash: '#/metrics' });
    await d.page.getByRole('alert').filter({ hasText: 'does not have the metrics scope' }).waitFor();
    const scraped = await d.page.evaluate(() => performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/metrics')).length);
    assert.equal(scraped, 0, 'no scrape was tried');
    assertNoErrors(d);
    await d.close();
  });
});
