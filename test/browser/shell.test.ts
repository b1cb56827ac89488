// The dashboard's frame in Chromium: served by Ferry at /, asks for a key, keeps it for the tab only,
// and works at laptop and phone widths.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertNoErrors, assertNoHorizontalScroll, launchBrowser, logIn, openDashboard, PHONE, screenshot } from '../helpers/browser.js';

describe('dashboard shell', () => {
  let s: TestServer;
  let browser: Browser;
  let admin: string;
  before(async () => {
    s = await startServer({}, { auth: true });
    admin = s.ferry.firstAdminKey!;
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  it('serves the built dashboard with gzip, a content security policy and cacheable assets', async () => {
    const page = await fetch(`${s.url}/`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /text\/html/);
    assert.match(page.headers.get('content-security-policy')!, /default-src 'self'/);
    const html = await page.text();
    const script = html.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    assert.ok(script, 'index.html loads a hashed script');
    const js = await fetch(`${s.url}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(js.status, 200);
    assert.match(js.headers.get('cache-control')!, /immutable/);
    assert.equal((await fetch(`${s.url}/assets/nope.js`)).status, 404);
    // a client that refuses gzip (q=0) gets the plain bytes
    const plain = await fetch(`${s.url}${script}`, { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
    assert.equal(plain.headers.get('content-encoding'), null);
  });

  it('asks for a key, refuses a wrong one with a message, and shows who is logged in', async () => {
    const d = await openDashboard(browser, s.url);
    const { page } = d;
    await page.getByLabel('API key').waitFor();
    await screenshot(page, 'login');
    await page.getByLabel('API key').fill('fy_000000000000_' + 'C'.repeat(43));
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('That key was not accepted').waitFor();
    await logIn(page, admin);
    await page.getByText(/admin · /).waitFor();
    // the key survives a reload of this tab…
    await page.reload();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    // …but is only in this tab's sessionStorage, never localStorage or a cookie
    const stored = await page.evaluate(() => ({ session: sessionStorage.length, local: localStorage.length, cookie: document.cookie }));
    assert.deepEqual(stored, { session: 1, local: 0, cookie: '' });
    const other = await openDashboard(browser, s.url);
    await other.page.getByLabel('API key').waitFor();
    await other.close();
    // logging out forgets it
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('API key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assertNoErrors(d);
    await d.close();
  });

  it('forgets a key the server stops accepting mid-session', async () => {
    const made = await fetch(`${s.url}/api/keys`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 't1', scopes: ['read'] }) });
    const { id, key } = (await made.json()) as { id: string; key: string };
    const d = await openDashboard(browser, s.url, { key });
    const { page } = d;
    await page.getByText(/t1 · /).waitFor();
    assert.equal((await fetch(`${s.url}/api/keys/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } })).status, 200);
    await page.getByRole('link', { name: 'Training' }).click();
    await page.getByText('The server no longer accepts this key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assertNoErrors(d);
    await d.close();
  });

  it('is keyboard-navigable and fits a phone-width window', async () => {
    const d = await openDashboard(browser, s.url, { key: admin, viewport: PHONE });
    const { page } = d;
    await assertNoHorizontalScroll(page);
    await screenshot(page, 'shell-phone');
    // the first Tab reaches the skip link; Enter moves focus to the content
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    // the navigation links are reachable with the keyboard and move between pages
    await page.getByRole('link', { name: 'Metrics' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/metrics/);
    await page.locator('nav a[aria-current="page"]', { hasText: 'Metrics' }).waitFor();
    assertNoErrors(d);
    await d.close();
  });
});
