// Real Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for the dashboard's
// end-to-end tests. Every page's console errors and uncaught exceptions fail the test that opened it,
// and screenshots go to test-output/screenshots/ for a person to look at.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const SHOTS = path.resolve(import.meta.dirname, '../../test-output/screenshots');

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

export interface DashboardPage {
  readonly page: Page;
  readonly context: BrowserContext;
  /** the console errors and page errors seen so far (a test asserts there are none at its end) */
  readonly errors: string[];
  close(): Promise<void>;
}

export const PHONE = { width: 390, height: 844 };
export const LAPTOP = { width: 1366, height: 800 };

/** Opens the dashboard in a fresh browser context (its own sessionStorage), logging in with `key`
 *  when given. */
export async function openDashboard(browser: Browser, url: string, opts: { key?: string; viewport?: { width: number; height: number }; hash?: string } = {}): Promise<DashboardPage> {
  const context = await browser.newContext({ viewport: opts.viewport ?? LAPTOP });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  // 4xx answers the UI handles show up as console errors of the resource load; only script errors count
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  await page.goto(`${url}/${opts.hash ?? ''}`);
  if (opts.key) await logIn(page, opts.key);
  return { page, context, errors, close: () => context.close() };
}

export async function logIn(page: Page, key: string): Promise<void> {
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export function assertNoErrors(d: DashboardPage): void {
  assert.deepEqual(d.errors, [], 'the page logged no errors');
}

/** The page is not wider than its window (nothing forces sideways scrolling on a phone). */
export async function assertNoHorizontalScroll(page: Page): Promise<void> {
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(scroll <= client + 1, `the page is ${scroll}px wide in a ${client}px window`);
}
