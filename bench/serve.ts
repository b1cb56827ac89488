// `npm run bench -- serve`: Ferry against raw onnxruntime-node and the peer servers in ../shared/peers,
// on the same MNIST-sized MLP (784→128→10), in one run, under one load generator (wrk).
// Servers run one at a time so they never compete for the CPU; each gets a warm-up first.
// Prints a table, then one JSON line with throughput, p50/p99 latency and the ratios the issue targets.
// Ferry runs in --open mode, so the same server answers requests without a key (no authentication,
// limits or usage ledger) and with one (a key with generous limits and a budget): the difference is
// what keys and accounting cost, measured alternately at c=64.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import net from 'node:net';
import { mlpModel } from '../test/fixtures/models.js';
import { adminKeyFrom } from './processes.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const peers = path.resolve(root, '../shared/peers');
const out = path.join(root, 'bench/out');
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16,64,256').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

interface Row { server: string; c: number; rps: number; p50: number; p99: number; errors: number }

function wrk(url: string, c: number, script: string, env: Record<string, string>, seconds = SECONDS, header?: string): Row & { raw: string } {
  const r = spawnSync('wrk', ['-t1', `-c${c}`, `-d${seconds}s`, '--latency', '--timeout', '10s', ...(header ? ['-H', header] : []), '-s', script, url], { env: { ...process.env, ...env }, encoding: 'utf8' });
  const raw = r.stdout + r.stderr;
  const ms = (label: string) => {
    const m = raw.match(new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)`, 'm'));
    if (!m) return NaN;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  const non2xx = Number(raw.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const sockErr = raw.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { server: '', c, rps: Number(raw.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN), p50: ms('50%'), p99: ms('99%'), errors, raw };
}

/** Waits until a TCP port accepts connections (the bare peer crashes on anything but a V2 POST). */
async function waitForPort(port: number, proc: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`port ${port}: server exited with ${proc.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} did not open`);
}

async function waitFor(url: string, proc: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`${url}: server exited with ${proc.exitCode}`);
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 10_000).unref();
  });
}

/** A stopped server's processes (uvicorn's workers above all) take a moment to go: let them, so the
 *  next server's first measurements do not share the core with a teardown. */
const settleDown = () => new Promise((r) => setTimeout(r, 3000));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function rawOrt(modelFile: string, x: Float32Array): Promise<Row[]> {
  const ort = createRequire(`${root}/`)('onnxruntime-node') as typeof import('onnxruntime-node');
  const session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const rows: Row[] = [];
  for (const batch of [1, 64]) {
    const data = new Float32Array(784 * batch);
    for (let i = 0; i < batch; i++) data.set(x, i * 784);
    const feeds = { input: new ort.Tensor('float32', data, [batch, 784]) };
    for (let i = 0; i < 200; i++) await session.run(feeds);
    const times: number[] = [];
    const end = performance.now() + SECONDS * 1000;
    while (performance.now() < end) {
      const t = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const total = times.reduce((a, b) => a + b, 0);
    rows.push({ server: `raw ORT in-process, batch ${batch} (rows/s)`, c: 1, rps: (times.length * batch * 1000) / total, p50: percentile(times, 50), p99: percentile(times, 99), errors: 0 });
  }
  await session.release();
  return rows;
}

interface Target { name: string; start: () => ChildProcess; port: number; url: string; script: string; env: Record<string, string> }

export async function benchServe(): Promise<void> {
  mkdirSync(out, { recursive: true });
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is missing: apt-get install -y wrk');
  const modelFile = path.join(out, 'mlp.onnx');
  writeFileSync(modelFile, mlpModel({ inputs: 784, hidden: 128, outputs: 10, seed: 7 }));

  // One MNIST-like request: 784 pixels in [0, 1] with 4 decimals, as a client would send them.
  const x = Float32Array.from({ length: 784 }, (_, i) => Math.round(((Math.sin(i * 12.9898) * 43758.5453) % 1 + 1) % 1 * 1e4) / 1e4);
  const jsonBody = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: Array.from(x) }] });
  writeFileSync(path.join(out, 'body.json'), jsonBody);
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', parameters: { binary_data_size: 784 * 4 } }], outputs: [{ name: 'logits', parameters: { binary_data: true } }] }));
  writeFileSync(path.join(out, 'body.bin'), Buffer.concat([header, Buffer.from(x.buffer)]));
  const binScript = path.join(root, 'bench/v2_post_binary.lua');
  const jsonScript = path.join(peers, 'v2_post.lua');

  const rows: Row[] = await rawOrt(modelFile, x);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ferry-bench-'));
  const node = process.execPath;
  const haveTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch, fastapi, uvicorn'], { stdio: 'ignore' }).status === 0;

  const targets: Target[] = [
    { name: 'bare node:http + ORT, no batching', start: () => spawn(node, [path.join(peers, 'bare_node_server.mjs'), modelFile, '9101', '1'], { cwd: root, stdio: 'ignore' }), port: 9101, url: 'http://127.0.0.1:9101/v2/models/m/infer', script: jsonScript, env: { BODY: path.join(out, 'body.json') } },
    { name: 'bare node:http + ORT, batching 64', start: () => spawn(node, [path.join(peers, 'bare_node_server.mjs'), modelFile, '9102', '64'], { cwd: root, stdio: 'ignore' }), port: 9102, url: 'http://127.0.0.1:9102/v2/models/m/infer', script: jsonScript, env: { BODY: path.join(out, 'body.json') } },
    ...(haveTorch ? [{ name: 'FastAPI + PyTorch (2 workers)', start: () => spawn('/usr/bin/python3', ['-m', 'uvicorn', 'fastapi_torch_server:app', '--port', '9103', '--workers', '2', '--log-level', 'warning'], { cwd: peers, stdio: 'ignore' }), port: 9103, url: 'http://127.0.0.1:9103/v2/models/m/infer', script: jsonScript, env: { BODY: path.join(out, 'body.json') } }] : []),
  ];
  const ferryStart = () => spawn(node, [path.join(root, 'bin/ferry.js'), 'serve', '--port', '9104', '--data', dataDir, '--open'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FERRY_BUILTIN_MODELS: 'false' } });

  for (const t of targets) {
    const proc = t.start();
    await waitForPort(t.port, proc);
    rows.push(...measure(t.name, t.url, t.script, t.env));
    await stop(proc);
    await settleDown();
  }

  const ferry = ferryStart();
  const rootKey = adminKeyFrom(ferry);
  await waitFor('http://127.0.0.1:9104/v2/health/ready', ferry);
  const admin = { authorization: `Bearer ${await rootKey}` };
  const pushed = await fetch('http://127.0.0.1:9104/api/models/mlp/versions', { method: 'POST', headers: admin, body: new Uint8Array(mlpModel({ inputs: 784, hidden: 128, outputs: 10, seed: 7 })) });
  if (pushed.status !== 201) throw new Error(`push failed: ${pushed.status} ${await pushed.text()}`);
  const made = await fetch('http://127.0.0.1:9104/api/keys', {
    method: 'POST', headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify({ tenant: 'admin', scopes: ['infer'], limits: { rpm: 100_000_000, tpm: 1_000_000_000, concurrency: 10_000, budget: { period: 'month', computeSeconds: 1_000_000_000 } } }),
  });
  if (made.status !== 201) throw new Error(`key failed: ${made.status} ${await made.text()}`);
  const keyHeader = `Authorization: Bearer ${((await made.json()) as { key: string }).key}`;
  // the same without limits or a budget: no x-ratelimit-* headers, no admission bookkeeping, so the
  // difference between the two keyed rows is what limits cost, and the rest is the key and the ledger
  const plain = await fetch('http://127.0.0.1:9104/api/keys', { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'admin', scopes: ['infer'] }) });
  if (plain.status !== 201) throw new Error(`key failed: ${plain.status} ${await plain.text()}`);
  const plainHeader = `Authorization: Bearer ${((await plain.json()) as { key: string }).key}`;
  const inferUrl = 'http://127.0.0.1:9104/v2/models/mlp/infer';
  const jsonEnv = { BODY: path.join(out, 'body.json') };
  rows.push(...measure('Ferry, JSON tensors', inferUrl, jsonScript, jsonEnv));
  rows.push(...measure('Ferry, binary tensors', inferUrl, binScript, { BODY: path.join(out, 'body.bin'), HLEN: String(header.length) }));
  // keys and accounting: open and keyed requests alternate, three times each, on the warm server
  wrk(inferUrl, 64, jsonScript, jsonEnv, 2, keyHeader);
  const auth: Row[] = [];
  for (let i = 0; i < 3; i++) {
    auth.push({ ...wrk(inferUrl, 64, jsonScript, jsonEnv), server: 'Ferry, JSON, no key (--open)' });
    auth.push({ ...wrk(inferUrl, 64, jsonScript, jsonEnv, SECONDS, keyHeader), server: 'Ferry, JSON, key + limits + ledger' });
    auth.push({ ...wrk(inferUrl, 64, jsonScript, jsonEnv, SECONDS, plainHeader), server: 'Ferry, JSON, key + ledger, no limits' });
  }
  const stats = await (await fetch('http://127.0.0.1:9104/v2/models/mlp/stats', { headers: admin })).json() as { model_stats: { inference_count: number; execution_count: number }[] };
  await stop(ferry);
  rmSync(dataDir, { recursive: true, force: true });

  report(rows, stats.model_stats[0]!, auth);
}

function measure(name: string, url: string, script: string, env: Record<string, string>): Row[] {
  wrk(url, 64, script, env, 2); // warm-up: JIT, ORT arenas
  return CONCURRENCY.map((c) => {
    wrk(url, c, script, env, 1); // settle at this concurrency (connections, queue depth) before measuring
    return { ...wrk(url, c, script, env), server: name };
  });
}

function report(rows: Row[], ferryStats: { inference_count: number; execution_count: number }, auth: Row[]): void {
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`\nServing benchmark: MLP 784→128→10, wrk -t1, ${SECONDS}s per point, ${new Date().toISOString().slice(0, 10)}`);
  console.log(`${pad('server', 44)} ${pad('c', 4)} ${pad('req/s', 9)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} errors`);
  for (const r of rows) console.log(`${pad(r.server, 44)} ${pad(String(r.c), 4)} ${pad(r.rps.toFixed(0), 9)} ${pad(r.p50.toFixed(2), 8)} ${pad(r.p99.toFixed(2), 8)} ${r.errors}`);
  const at = (server: string, c: number) => rows.find((r) => r.server.startsWith(server) && r.c === c);
  const bare = at('bare node:http + ORT, batching', 64), json = at('Ferry, JSON', 64), bin = at('Ferry, binary', 64), fast = at('FastAPI', 64);
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const open = auth.filter((r) => r.server.includes('no key')), keyed = auth.filter((r) => r.server.includes('limits + ledger'));
  const plainKeyed = auth.filter((r) => r.server.includes('no limits'));
  console.log('\nkeys and accounting at c=64 (same server, alternating; target ≤ 5% throughput loss)');
  for (const r of auth) console.log(`${pad(r.server, 44)} ${pad(String(r.c), 4)} ${pad(r.rps.toFixed(0), 9)} ${pad(r.p50.toFixed(2), 8)} ${pad(r.p99.toFixed(2), 8)} ${r.errors}`);
  const authLoss = 1 - median(keyed.map((r) => r.rps)) / median(open.map((r) => r.rps));
  const plainLoss = 1 - median(plainKeyed.map((r) => r.rps)) / median(open.map((r) => r.rps));
  const ratio = (a?: Row, b?: Row) => (a && b ? Number((a.rps / b.rps).toFixed(2)) : null);
  const ratios = {
    ferry_json_vs_bare_batching_rps_c64: ratio(json, bare),
    ferry_json_vs_bare_batching_p99_c64: json && bare ? Number((json.p99 / bare.p99).toFixed(2)) : null,
    ferry_binary_vs_bare_batching_rps_c64: ratio(bin, bare),
    ferry_json_vs_fastapi_torch_rps_c64: ratio(json, fast),
    ferry_binary_vs_fastapi_torch_rps_c64: ratio(bin, fast),
    ferry_avg_batch_size: Number((ferryStats.inference_count / ferryStats.execution_count).toFixed(1)),
    ferry_key_and_accounting_rps_loss_c64: Number(authLoss.toFixed(3)),
    ferry_key_without_limits_rps_loss_c64: Number(plainLoss.toFixed(3)),
  };
  console.log('\nratios at c=64 (targets: JSON ≥ 1.0× bare batching rps with p99 ≤ 1.5×; binary ≥ 1.5×; ≥ 4× FastAPI)');
  for (const [k, v] of Object.entries(ratios)) console.log(`  ${k}: ${v}`);
  const result = { bench: 'serve', date: new Date().toISOString(), rows: [...rows, ...auth].map(({ raw: _raw, ...r }: Row & { raw?: string }) => ({ ...r, rps: Math.round(r.rps), p50: Number(r.p50.toFixed(3)), p99: Number(r.p99.toFixed(3)) })), ratios };
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'serve.json'), JSON.stringify(result, null, 1));
  console.log(JSON.stringify(result));
}

if (!existsSync(peers)) console.warn(`peers folder ${peers} not found`);
