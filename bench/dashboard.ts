// `npm run bench -- dashboard`: does watching the metrics page cost serving throughput? (issue 7: "the
// metrics polling must not cost measurable serving throughput")
//
// One `ferry serve --open` from source (its own process) serves an MNIST-sized MLP (784→128→10) over
// V2 JSON under `wrk -t1 -c64`. Windows without and with a dashboard-like poller — GET /metrics every
// 2 s with a key, the whole body read, as web/src/pages/metrics/use-scrapes.ts does — come in pairs,
// BENCH_REPEATS pairs (default 4) of BENCH_SECONDS windows (default 3) after a 5 s warm-up, the order
// inside a pair alternating. The ratio is the median of the pairs' req/s ratios (with / without), so
// a drift over the run (JIT, a neighbour on a shared machine) cancels within each pair.
// One scrape every 2 s is far below what wrk's window-to-window noise can resolve, so the bench also
// measures what a scrape costs directly: the server process's CPU time (/proc/<pid>/stat) over 50
// back-to-back scrapes on the idle server, and from it the share of one core a 2 s poller takes.
// Prints a table, then one JSON line (also bench/out/dashboard.json).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { mlpModel } from '../test/fixtures/models.js';
import { adminKeyFrom, freePort, stop } from './processes.js';
import { wrkAsync, type Wrk } from './wrk.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(root, 'bench/out');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const REPEATS = Math.max(1, Number(process.env.BENCH_REPEATS ?? 4));
const POLL_MS = 2000;
const CONNECTIONS = 64;

interface Row extends Wrk { poller: boolean; round: number; scrapes: number }


/** What the metrics page does every 2 s: one GET /metrics with its key, the whole body read. */
function poller(url: string, key: string) {
  const times: number[] = [];
  let bytes = 0;
  const scrape = async () => {
    const t = performance.now();
    const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
    times.push(performance.now() - t);
    bytes = text.length;
  };
  void scrape();
  const timer = setInterval(() => void scrape(), POLL_MS);
  return { times, bytes: () => bytes, stop: () => clearInterval(timer) };
}

/** user + system CPU time of a process so far, in ms (Linux /proc; clock ticks are 100 per second) */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // after "pid (comm) ", utime and stime are fields 12 and 13 (0-based)
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The server's CPU time per scrape: `n` back-to-back scrapes, idle server otherwise. */
async function scrapeCpuMs(url: string, key: string, pid: number, n = 50): Promise<number> {
  const scrape = async () => (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
  for (let i = 0; i < 5; i++) await scrape();
  const before = cpuMs(pid);
  for (let i = 0; i < n; i++) await scrape();
  return (cpuMs(pid) - before) / n;
}

async function startFerry(port: number, dataDir: string): Promise<{ proc: ChildProcess; admin: string }> {
  // from source (tsx), so the measurement is of the code in src/, not a stale dist/
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'serve', '--port', String(port), '--data', dataDir, '--open', '--log-level', 'warn'],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FERRY_BUILTIN_MODELS: 'false' } });
  const admin = await adminKeyFrom(proc);
  const until = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/v2/health/ready`).then((r) => r.ok, () => false);
    if (ok) return { proc, admin };
    if (proc.exitCode !== null || Date.now() > until) throw new Error('ferry serve did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function benchDashboard(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const x = Array.from({ length: 784 }, (_, i) => Math.round(((Math.sin(i * 12.9898) * 43758.5453) % 1 + 1) % 1 * 1e4) / 1e4);
  const body = path.join(out, 'dashboard-body.json');
  writeFileSync(body, JSON.stringify({ inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: x }] }));
  const script = path.resolve(root, '../shared/peers/v2_post.lua');

  const dataDir = mkdtempSync(path.join(tmpdir(), 'ferry-bench-dashboard-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { proc, admin } = await startFerry(port, dataDir);
  const rows: Row[] = [];
  let scrapeBytes = 0;
  let perScrapeCpu = NaN;
  const scrapeMs: number[] = [];
  try {
    const auth = { authorization: `Bearer ${admin}` };
    const pushed = await fetch(`${url}/api/models/mlp/versions`, { method: 'POST', headers: auth, body: Buffer.from(mlpModel({ inputs: 784, hidden: 128, outputs: 10, seed: 7 })) });
    if (pushed.status !== 201) throw new Error(`push failed: ${pushed.status} ${await pushed.text()}`);
    // the dashboard's own kind of key: it reads metrics, nothing else
    const made = await fetch(`${url}/api/keys`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'admin', scopes: ['read', 'metrics'], name: 'bench dashboard' }) });
    if (made.status !== 201) throw new Error(`key failed: ${made.status} ${await made.text()}`);
    const key = ((await made.json()) as { key: string }).key;
    const infer = `${url}/v2/models/mlp/infer`;

    await wrkAsync(infer, CONNECTIONS, 5, script, body); // warm-up: JIT, ORT arenas, a filled batch queue
    perScrapeCpu = await scrapeCpuMs(url, key, proc.pid!);
    for (let round = 1; round <= REPEATS; round++) {
      // alternate which goes first, so a drift over the run does not favour one side
      for (const withPoller of round % 2 === 1 ? [false, true] : [true, false]) {
        const p = withPoller ? poller(url, key) : undefined;
        const r = await wrkAsync(infer, CONNECTIONS, SECONDS, script, body);
        p?.stop();
        if (p) {
          scrapeMs.push(...p.times);
          scrapeBytes = p.bytes();
        }
        rows.push({ ...r, poller: withPoller, round, scrapes: p?.times.length ?? 0 });
      }
    }
  } finally {
    await stop(proc);
    rmSync(dataDir, { recursive: true, force: true });
  }
  report(rows, scrapeMs, scrapeBytes, perScrapeCpu);
}

function report(rows: Row[], scrapeMs: number[], scrapeBytes: number, perScrapeCpu: number): void {
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b), mid = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  };
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`\nDashboard polling vs serving: MLP 784→128→10, V2 JSON, wrk -t1 -c${CONNECTIONS}, ${SECONDS}s per window, GET /metrics every ${POLL_MS / 1000}s, ${new Date().toISOString().slice(0, 10)}`);
  console.log(`${pad('poller', 8)} ${pad('round', 6)} ${pad('req/s', 9)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('scrapes', 8)} errors`);
  for (const r of rows) console.log(`${pad(r.poller ? 'on' : 'off', 8)} ${pad(String(r.round), 6)} ${pad(r.rps.toFixed(0), 9)} ${pad(r.p50.toFixed(2), 8)} ${pad(r.p99.toFixed(2), 8)} ${pad(String(r.scrapes), 8)} ${r.errors}`);
  const on = rows.filter((r) => r.poller), off = rows.filter((r) => !r.poller);
  const sorted = [...scrapeMs].sort((a, b) => a - b);
  const pairs = on.map((r) => ({ on: r, off: off.find((o) => o.round === r.round)! }));
  const rpsRatios = pairs.map((p) => p.on.rps / p.off.rps);
  const ratios = {
    rps_with_poller_over_without: Number(median(rpsRatios).toFixed(3)),
    rps_ratio_per_pair: rpsRatios.map((r) => Number(r.toFixed(3))),
    p99_with_poller_over_without: Number(median(pairs.map((p) => p.on.p99 / p.off.p99)).toFixed(3)),
    // what wrk cannot resolve, measured directly: the server's CPU per scrape and the share of one core
    server_cpu_ms_per_scrape: Number(perScrapeCpu.toFixed(2)),
    poller_share_of_one_core: Number((perScrapeCpu / POLL_MS).toFixed(5)),
    scrape_ms_p50_under_load: sorted.length ? Number(sorted[Math.floor(sorted.length / 2)]!.toFixed(2)) : null,
    scrape_ms_max_under_load: sorted.length ? Number(sorted[sorted.length - 1]!.toFixed(2)) : null,
    scrape_bytes: scrapeBytes,
  };
  console.log('\nratios (target: req/s with the poller within noise of without; a scrape every 2 s costing well under 1% of a core)');
  for (const [k, v] of Object.entries(ratios)) console.log(`  ${k}: ${v}`);
  const result = { bench: 'dashboard', date: new Date().toISOString(), rows: rows.map((r) => ({ ...r, rps: Math.round(r.rps), p50: Number(r.p50.toFixed(3)), p99: Number(r.p99.toFixed(3)) })), ratios };
  writeFileSync(path.join(out, 'dashboard.json'), JSON.stringify(result, null, 1));
  console.log(JSON.stringify(result));
}
