// `npm run bench -- dashboard-load`: what the dashboard costs a browser. Builds Ferry (tsc + Vite),
// reports the first page's gzipped JS and CSS (what index.html loads before anything renders; target
// ≤ 300 KB of JS, issue 7) and all of the build, then starts `ferry serve --open` on a fresh folder
// (built-in models registered, as `npm start` does) and loads the dashboard in Debian's Chromium with
// a cold cache, several times: time until the login form takes input, and, logged in, until the models
// list has rendered its rows. Prints a table, then one JSON line (also bench/out/dashboard-load.json).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { adminKeyFrom, freePort, stop } from './processes.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const web = path.join(root, 'dist/web');
const RUNS = 7;
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

const gz = (file: string): number => gzipSync(readFileSync(file), { level: 9 }).length;
const round = (x: number): number => Math.round(x * 10) / 10;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function bundle() {
  const html = readFileSync(path.join(web, 'index.html'), 'utf8');
  const refs = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
  const first = { js: 0, css: 0 };
  for (const r of refs) first[r.endsWith('.css') ? 'css' : 'js'] += gz(path.join(web, r));
  const all = { js: 0, css: 0 };
  for (const f of readdirSync(path.join(web, 'assets'))) {
    if (f.endsWith('.js')) all.js += gz(path.join(web, 'assets', f));
    if (f.endsWith('.css')) all.css += gz(path.join(web, 'assets', f));
  }
  return { firstPageJsGzipKB: first.js / 1024, firstPageCssGzipKB: first.css / 1024, allJsGzipKB: all.js / 1024, allCssGzipKB: all.css / 1024 };
}

export async function benchDashboardLoad(): Promise<void> {
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('npm run build failed');
  const size = bundle();

  const data = mkdtempSync(path.join(tmpdir(), 'ferry-bench-dash-'));
  const port = await freePort();
  const proc = spawn(process.execPath, [path.join(root, 'bin/ferry.js'), 'serve', '--open', '--port', String(port), '--data', data, '--log-level', 'warn'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const url = `http://127.0.0.1:${port}`;
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: FLAGS });
  try {
    const key = await adminKeyFrom(proc);
    for (let i = 0; ; i++) {
      if ((await fetch(`${url}/readyz`).catch(() => undefined))?.ok) break;
      if (i > 600) throw new Error('ferry did not become ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    const login: number[] = [];
    const models: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // a fresh context each time: empty cache, empty sessionStorage
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      const t0 = Date.now();
      await page.goto(url);
      await page.getByLabel('API key').waitFor();
      login.push(Date.now() - t0);
      await ctx.close();

      const ctx2 = await browser.newContext();
      await ctx2.addInitScript((k) => sessionStorage.setItem('ferry.apiKey', k), key);
      const page2 = await ctx2.newPage();
      const t1 = Date.now();
      await page2.goto(`${url}/#/models`);
      // the built-in models' names in the list: the first page a logged-in user sees, with its data
      await page2.getByText('mnist-cnn').first().waitFor();
      models.push(Date.now() - t1);
      await ctx2.close();
    }
    const result = {
      bench: 'dashboard-load', date: new Date().toISOString(), runs: RUNS,
      firstPageJsGzipKB: round(size.firstPageJsGzipKB), firstPageCssGzipKB: round(size.firstPageCssGzipKB),
      allJsGzipKB: round(size.allJsGzipKB), allCssGzipKB: round(size.allCssGzipKB),
      loginInteractiveMs: median(login), modelsListMs: median(models),
      target: { firstPageJsGzipKB: 300 },
    };
    console.log('\nDashboard load (Chromium headless, cold cache, loopback; medians of %d)', RUNS);
    console.log('| measure | value |\n|---|---|');
    console.log(`| first page JS (gzip) | ${result.firstPageJsGzipKB} KB (target ≤ 300) |`);
    console.log(`| first page CSS (gzip) | ${result.firstPageCssGzipKB} KB |`);
    console.log(`| all JS / CSS (gzip) | ${result.allJsGzipKB} / ${result.allCssGzipKB} KB |`);
    console.log(`| login form takes input | ${result.loginInteractiveMs} ms |`);
    console.log(`| logged in: models list rendered | ${result.modelsListMs} ms |`);
    console.log(JSON.stringify(result));
    mkdirSync(path.join(root, 'bench/out'), { recursive: true });
    writeFileSync(path.join(root, 'bench/out/dashboard-load.json'), JSON.stringify(result, null, 2));
  } finally {
    await browser.close();
    await stop(proc);
    rmSync(data, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchDashboardLoad();
