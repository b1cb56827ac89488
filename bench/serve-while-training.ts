// `npm run bench -- serve-train`: does serving latency stay flat while a training job runs?
//
// One real Ferry server (`ferry serve` from source, in its own process, so the bench driver never
// shares its event loop) serves the built-in `mnist-mlp` over V2 JSON with one real MNIST digit, under
// `wrk -t1 -c16` for BENCH_SECONDS (default 10) per point. Four backgrounds, one after the other:
//
//   none             the server alone
//   busy loop        a separate `node -e 'for(;;){}'` process spins one core: CPU time taken away,
//                    no Ferry code, almost no memory traffic
//   train, process   `ferry train mnist-cnn --threads 1` in a separate process: the same computation
//                    as the job, which cannot touch the server's event loop — pure contention
//   training job     POST /api/training-jobs with the mnist-cnn recipe (epochs raised so it outlasts
//                    the run) in the server's training worker thread; cancelled with DELETE afterwards
//
// If the job costs serving what the separate process costs, the slowdown is CPU (and cache, memory
// bandwidth) sharing, not the event loop being blocked. Each background first gets a quiet window
// (no wrk), which gives the server's event-loop delay with nothing else to do (prom-client's
// ferry_nodejs_eventloop_lag_* from /metrics, reset on every scrape) and the trainer's samples/s alone.
// Each server goes through the backgrounds BENCH_REPEATS times (default 3, interleaved); each figure
// in the table is its best round (errors are summed), every round's figures are in the JSON. One server per runtimeIsolation in BENCH_ISOLATIONS (default
// `auto,worker`).
// Prints a table, then one JSON line (also saved to bench/out/serve-train.json).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadMnist } from '../src/training/data/mnist.js';
import { RECIPES } from '../src/training/recipes.js';
import { freePort, stop } from './processes.js';
import { wrkAsync, type Wrk } from './wrk.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(root, 'bench/out');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const QUIET_SECONDS = Number(process.env.BENCH_QUIET_SECONDS ?? 5);
const CONNECTIONS = 16;
/** rounds through every background per server; each figure in the table is its best round (highest
 *  req/s and samples/s, lowest latency and loop delay), since noise from the rest of a shared machine
 *  only ever makes a figure worse, while what a training job itself costs shows in every round */
const REPEATS = Math.max(1, Number(process.env.BENCH_REPEATS ?? 3));
const ISOLATIONS = (process.env.BENCH_ISOLATIONS ?? 'auto,worker').split(',') as ('auto' | 'worker' | 'inline')[];
// Epochs take well under a second here: enough that the job outlasts every window; it is cancelled.
const EPOCHS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Background = 'none' | 'busy loop' | 'train, process' | 'training job';
const BACKGROUNDS: Background[] = ['none', 'busy loop', 'train, process', 'training job'];

/** ferry_nodejs_eventloop_lag_* over one window, in ms (monitorEventLoopDelay, 10 ms resolution) */
interface Lag { p50: number; p99: number; max: number }
interface Row extends Wrk {
  isolation: string;
  background: Background;
  /** every round's figures; the other fields are the best over rounds */
  runs: { rps: number[]; p50: number[]; p99: number[] };
  /** event-loop delay with no requests, then under wrk */
  lagQuiet: Lag;
  lagLoad: Lag;
  /** the trainer's samples/s alone (quiet window) and while wrk runs, evaluation included; null
   *  without one */
  trainAlone: number | null;
  trainUnderLoad: number | null;
}



/** A `ferry serve` from source (tsx), so the measurement is of the code in src/, not a stale dist/. */
async function startFerry(isolation: string, dataDir: string): Promise<{ proc: ChildProcess; base: string }> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, FERRY_BUILTIN_MODELS: 'true', FERRY_RUNTIME_ISOLATION: isolation, FERRY_TRAINING_THREADS: '1' };
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'serve', '--port', String(port), '--data', dataDir, '--log-level', 'warn'], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const base = `http://127.0.0.1:${port}`;
  const until = Date.now() + 120_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`ferry serve exited with ${proc.exitCode}: ${err.trim().slice(-500)}`);
    if (Date.now() > until) throw new Error(`ferry serve did not become ready: ${err.trim().slice(-500)}`);
    try {
      if ((await fetch(`${base}/v2/health/ready`)).status === 200) break;
    } catch { /* not up yet */ }
    await sleep(100);
  }
  return { proc, base };
}

async function eventLoopLag(base: string): Promise<Lag> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const get = (q: string) => Number(text.match(new RegExp(`^ferry_nodejs_eventloop_lag_${q}_seconds(?:\\{[^}]*\\})? (\\S+)$`, 'm'))?.[1] ?? NaN) * 1000;
  return { p50: get('p50'), p99: get('p99'), max: get('max') };
}

/** The fields of a job's `progress` event this bench reads. */
interface Progress { epoch: number; stepsPerEpoch: number; step: number }

/** A trainer's training samples done so far, timestamped as its reports arrive. */
class Progression {
  readonly points: { t: number; samples: number }[] = [];

  add(samples: number): void {
    this.points.push({ t: performance.now(), samples });
  }

  /** Samples/s between two moments, from the last report before each (evaluation time included). */
  rate(from: number, to: number): number {
    const at = (t: number) => this.points.filter((e) => e.t <= t).at(-1);
    const a = at(from), b = at(to);
    return a && b && b.t > a.t ? ((b.samples - a.samples) * 1000) / (b.t - a.t) : NaN;
  }
}

/** Follows GET /api/training-jobs/{id}/events, timestamping each progress event as it arrives. */
class JobWatch {
  readonly progress = new Progression();
  state = 'queued';
  private readonly listeners: (() => void)[] = [];
  private readonly request: http.ClientRequest;
  /** settles when the stream ends (the server ends it after the job's `done` event) or fails */
  readonly finished: Promise<void>;

  constructor(base: string, id: string, batchSize: number) {
    let buf = '';
    this.request = http.get(`${base}/api/training-jobs/${id}/events`, { headers: { accept: 'text/event-stream' } });
    this.finished = new Promise<void>((resolve, reject) => {
      this.request.on('error', (e) => (this.request.destroyed ? resolve() : reject(e)));
      this.request.on('close', () => resolve());
      this.request.on('response', (res) => {
        if (res.statusCode !== 200) reject(new Error(`GET /api/training-jobs/${id}/events: ${res.statusCode}`));
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const data = buf.slice(0, i).split('\n').find((l) => l.startsWith('data: '));
            buf = buf.slice(i + 2);
            if (!data) continue; // keep-alive comment
            const e = JSON.parse(data.slice(6)) as { type: string; state?: string; progress?: Progress };
            if (e.type === 'progress' && e.progress) this.progress.add(((e.progress.epoch - 1) * e.progress.stepsPerEpoch + e.progress.step) * batchSize);
            if ((e.type === 'state' || e.type === 'done') && e.state) this.state = e.state;
            for (const l of this.listeners.splice(0)) l();
          }
        });
        res.on('end', () => resolve());
      });
    });
  }

  /** Resolves once `ok()` holds after some event, or rejects after timeoutMs. */
  async until(ok: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`training job: timed out waiting until ${what} (state ${this.state})`);
      await Promise.race([new Promise<void>((r) => this.listeners.push(r)), sleep(500), this.finished]);
    }
  }

  close(): void {
    this.request.destroy();
  }
}

interface Started { stop: () => Promise<void>; progress?: Progression; check?: () => void }

async function startBackground(kind: Background, base: string): Promise<Started> {
  if (kind === 'none') return { stop: async () => {} };
  if (kind === 'busy loop') {
    const proc = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    await sleep(500);
    return { stop: () => stop(proc, 'SIGKILL') };
  }
  const recipe = RECIPES['mnist-cnn']!;
  if (kind === 'train, process') {
    // Not a TTY, so `ferry train` prints one line per epoch: "epoch 3/1000  loss ...".
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FERRY_')));
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'train', 'mnist-cnn', '--epochs', String(EPOCHS), '--threads', '1', '--no-register'], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    const progress = new Progression();
    const trainSize = recipe.dataset.type === 'mnist' ? recipe.dataset.train ?? 8000 : NaN;
    let err = '', line = '';
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => {
      err = (err + d).slice(-4000);
      const lines = (line + d).split('\n');
      line = lines.pop()!;
      for (const l of lines) {
        const m = l.match(/^epoch (\d+)\//);
        if (m) progress.add(Number(m[1]) * trainSize);
      }
    });
    const until = Date.now() + 120_000;
    while (progress.points.length < 2) {
      if (proc.exitCode !== null || Date.now() > until) {
        await stop(proc, 'SIGKILL');
        throw new Error(`ferry train did not start training: ${err.trim().slice(-500)}`);
      }
      await sleep(100);
    }
    const check = () => {
      if (proc.exitCode !== null) throw new Error(`ferry train ended before the measurement did (exit ${proc.exitCode}): ${err.trim().slice(-300)}`);
    };
    return { progress, check, stop: () => stop(proc, 'SIGKILL') };
  }
  const spec = { ...recipe, name: 'bench-serve-train-cnn', epochs: EPOCHS };
  const res = await fetch(`${base}/api/training-jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
  if (res.status !== 201) throw new Error(`POST /api/training-jobs: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  const job = new JobWatch(base, id, spec.batchSize);
  // past reading the digits and building the graphs: steps are running
  await job.until(() => job.state === 'running' && job.progress.points.length >= 3, 'it reports training steps');
  return {
    progress: job.progress,
    check: () => {
      if (job.state !== 'running') throw new Error(`the training job was ${job.state} before the measurement ended; raise EPOCHS`);
    },
    stop: async () => {
      const del = await fetch(`${base}/api/training-jobs/${id}`, { method: 'DELETE' });
      if (del.status !== 200 && del.status !== 202) throw new Error(`DELETE /api/training-jobs/${id}: ${del.status} ${await del.text()}`);
      await job.until(() => job.state === 'cancelled', 'it is cancelled', 60_000);
      job.close();
      await job.finished;
    },
  };
}

async function measureServer(isolation: string, script: string, body: string): Promise<Row[]> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ferry-bench-train-'));
  const ferry = await startFerry(isolation, dataDir);
  const url = `${ferry.base}/v2/models/mnist-mlp/infer`;
  const rows: Row[] = [];
  try {
    await wrkAsync(url, CONNECTIONS, 3, script, body); // warm-up: JIT, model load, auto isolation settling
    for (let round = 0; round < REPEATS; round++) for (const background of BACKGROUNDS) {
      const bg = await startBackground(background, ferry.base);
      try {
        await sleep(1000);
        await eventLoopLag(ferry.base); // resets the histogram
        const q0 = performance.now();
        await sleep(QUIET_SECONDS * 1000);
        const q1 = performance.now();
        const lagQuiet = await eventLoopLag(ferry.base);
        const w0 = performance.now();
        const r = await wrkAsync(url, CONNECTIONS, SECONDS, script, body);
        const w1 = performance.now();
        const lagLoad = await eventLoopLag(ferry.base);
        bg.check?.();
        const rate = (a: number, b: number) => (bg.progress ? bg.progress.rate(a, b) : null);
        const row: Row = { isolation, background, runs: { rps: [r.rps], p50: [r.p50], p99: [r.p99] }, ...r, lagQuiet, lagLoad, trainAlone: rate(q0, q1), trainUnderLoad: rate(w0, w1) };
        rows.push(row);
        console.error(`  ${isolation} / ${background}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms${row.trainUnderLoad !== null ? `, training ${row.trainAlone!.toFixed(0)} → ${row.trainUnderLoad.toFixed(0)} samples/s` : ''}`);
      } finally {
        await bg.stop();
      }
      await sleep(2000); // let the core settle before the next background
    }
  } finally {
    await stop(ferry.proc);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

export async function benchServeWhileTraining(): Promise<void> {
  mkdirSync(out, { recursive: true });
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is missing: apt-get install -y wrk');
  // One real digit, sent as a client would: V2 JSON, FP32 [1, 784] in [0, 1].
  const digit = Array.from((await loadMnist({ train: 1, test: 1 })).test.x.subarray(0, 784));
  const body = path.join(out, 'mnist-digit.json');
  writeFileSync(body, JSON.stringify({ inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: digit }] }));
  const script = path.join(out, 'v2_post_json.lua');
  writeFileSync(script, [
    '-- wrk script: POST the V2 JSON body in the file named by $BODY',
    'wrk.method = "POST"',
    'wrk.headers["Content-Type"] = "application/json"',
    'local f = assert(io.open(os.getenv("BODY"))); wrk.body = f:read("*a"); f:close()',
    '',
  ].join('\n'));

  const load = os.loadavg()[0]!;
  const all: Row[] = [];
  for (const isolation of ISOLATIONS) {
    console.error(`serve-train: runtimeIsolation ${isolation}`);
    all.push(...(await measureServer(isolation, script, body)));
  }
  const rows: Row[] = [];
  const lag = (a: Lag, b: Lag): Lag => ({ p50: Math.min(a.p50, b.p50), p99: Math.min(a.p99, b.p99), max: Math.min(a.max, b.max) });
  const most = (a: number | null, b: number | null) => (a === null || b === null ? null : Math.max(a, b));
  for (const r of all) {
    const i = rows.findIndex((x) => x.isolation === r.isolation && x.background === r.background);
    const a = rows[i];
    if (!a) {
      rows.push(r);
      continue;
    }
    rows[i] = {
      ...a, rps: Math.max(a.rps, r.rps), p50: Math.min(a.p50, r.p50), p99: Math.min(a.p99, r.p99), errors: a.errors + r.errors,
      lagQuiet: lag(a.lagQuiet, r.lagQuiet), lagLoad: lag(a.lagLoad, r.lagLoad),
      trainAlone: most(a.trainAlone, r.trainAlone), trainUnderLoad: most(a.trainUnderLoad, r.trainUnderLoad),
      runs: { rps: [...a.runs.rps, r.rps], p50: [...a.runs.p50, r.p50], p99: [...a.runs.p99, r.p99] },
    };
  }
  report(rows, load);
}

function report(rows: Row[], loadBefore: number): void {
  const pad = (s: string, n: number) => s.padEnd(n);
  const f = (v: number | null, d = 2) => (v === null || Number.isNaN(v) ? '' : v.toFixed(d));
  const idle = (r: Row) => rows.find((x) => x.isolation === r.isolation && x.background === 'none')!;
  const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
  console.log(`\nServing while training: mnist-mlp, V2 JSON (one MNIST digit), wrk -t1 -c${CONNECTIONS}, ${SECONDS} s per point, best of ${REPEATS}; training mnist-cnn, trainingThreads 1; ${os.cpus().length} vCPUs, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, 1-min load average ${loadBefore.toFixed(2)} before the run`);
  console.log(`${pad('isolation', 10)} ${pad('background', 15)} ${pad('req/s', 7)} ${pad('p50 ms', 7)} ${pad('p99 ms', 7)} ${pad('×req/s', 7)} ${pad('×p50', 6)} ${pad('×p99', 6)} ${pad('err', 4)} ${pad('loop delay p99/max ms: quiet', 29)} ${pad('under load', 12)} train samples/s: alone → under load`);
  for (const r of rows) {
    const i = idle(r);
    console.log(`${pad(r.isolation, 10)} ${pad(r.background, 15)} ${pad(r.rps.toFixed(0), 7)} ${pad(f(r.p50), 7)} ${pad(f(r.p99), 7)} ${pad(f(r.rps / i.rps), 7)} ${pad(f(r.p50 / i.p50), 6)} ${pad(f(r.p99 / i.p99), 6)} ${pad(String(r.errors), 4)} ${pad(`${f(r.lagQuiet.p99, 1)} / ${f(r.lagQuiet.max, 1)}`, 29)} ${pad(`${f(r.lagLoad.p99, 1)} / ${f(r.lagLoad.max, 1)}`, 12)} ${r.trainAlone === null ? '' : `${f(r.trainAlone, 0)} → ${f(r.trainUnderLoad, 0)}`}`);
  }
  const summary: Record<string, unknown> = {};
  const ratios = (a: Row | undefined, b: Row | undefined) => a && b && { rps: ratio(a.rps, b.rps), p50: ratio(a.p50, b.p50), p99: ratio(a.p99, b.p99) };
  for (const isolation of ISOLATIONS) {
    const at = (b: Background) => rows.find((r) => r.isolation === isolation && r.background === b);
    const none = at('none'), busy = at('busy loop'), proc = at('train, process'), job = at('training job');
    summary[isolation] = {
      job_vs_idle: ratios(job, none),
      process_vs_idle: ratios(proc, none),
      busy_loop_vs_idle: ratios(busy, none),
      job_vs_process: ratios(job, proc),
      job_samples_per_sec: job && { alone: Math.round(job.trainAlone!), under_load: Math.round(job.trainUnderLoad!) },
      process_samples_per_sec: proc && { alone: Math.round(proc.trainAlone!), under_load: Math.round(proc.trainUnderLoad!) },
    };
  }
  console.log('\nratios (req/s, p50, p99): training job / idle, train process / idle, busy loop / idle, training job / train process');
  for (const [k, v] of Object.entries(summary)) console.log(`  ${k}: ${JSON.stringify(v)}`);
  const round = (l: Lag) => ({ p50: Number(l.p50.toFixed(2)), p99: Number(l.p99.toFixed(2)), max: Number(l.max.toFixed(2)) });
  const result = {
    bench: 'serve-train',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadAverageBefore: Number(loadBefore.toFixed(2)) },
    wrk: { threads: 1, connections: CONNECTIONS, seconds: SECONDS, repeats: REPEATS },
    rows: rows.map((r) => ({
      ...r, rps: Math.round(r.rps), runs: { rps: r.runs.rps.map(Math.round), p50: r.runs.p50.map((v) => Number(v.toFixed(3))), p99: r.runs.p99.map((v) => Number(v.toFixed(3))) }, p50: Number(r.p50.toFixed(3)), p99: Number(r.p99.toFixed(3)), lagQuiet: round(r.lagQuiet), lagLoad: round(r.lagLoad),
      trainAlone: r.trainAlone === null ? null : Math.round(r.trainAlone), trainUnderLoad: r.trainUnderLoad === null ? null : Math.round(r.trainUnderLoad),
    })),
    summary,
  };
  writeFileSync(path.join(out, 'serve-train.json'), JSON.stringify(result, null, 1));
  console.log(JSON.stringify(result));
}
