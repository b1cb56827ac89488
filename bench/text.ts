// `npm run bench -- text`: serving a text classifier, Ferry against the Node peer.
//
// The bench trains the `spam-transformer` recipe (2-block encoder, 64 wide, 128 tokens; the training
// time is reported), exports it in the Hugging Face layout (writeHfClassifier) and serves the same
// trained model two ways, each as its own process, one at a time:
//
//   Ferry   `node bin/ferry.js serve` (built first), the model's ONNX file pushed through
//           POST /api/models/spam/versions (it carries its tokenizer and labels), POST /v1/classifications
//           {"model": "spam", "input": [text]}. Three server configs: the defaults (batching
//           maxQueueDelayMs 0, 1 instance, 1 onnxruntime thread), maxQueueDelayMs 2, and 2 instances
//           (two batches in flight at once, one per core of a 2-core machine)
//   peer    bench/peers/transformers_server.mjs: fastify around @huggingface/transformers'
//           pipeline('text-classification', DIR) on the exported folder, POST /classify {"input": text},
//           with transformers.js' default onnxruntime session options
//
// Load: `wrk -t1 -cC -d10s` for C in BENCH_CONCURRENCY (default 1,16,64), each request one of 20 real
// e-mails from the recipe's test split (10 ham, 10 spam, cut to 500 characters), in turn. Every server
// goes through BENCH_REPEATS rounds (default 3, interleaved, a fresh process each round); each figure
// in the table is its best round (the peer's throughput moves by up to 2× between process starts),
// every round's figures are in the JSON. Before timing, both servers classify the 20 texts once and
// their top labels must agree. Also measured: tokenizer throughput (Ferry's TextTokenizer and
// transformers.js' tokenizer on the same texts), and where a Ferry batch's time goes (its stats).
// Prints a table, then one JSON line (also saved to bench/out/text.json).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeHfClassifier } from '../src/text/hf-export.js';
import { loadSpamAssassin } from '../src/text/spam-assassin.js';
import { TextTokenizer } from '../src/text/tokenizer.js';
import { RECIPES } from '../src/training/recipes.js';
import { runTraining } from '../src/training/run.js';
import { adminKeyFrom, freePort, stop } from './processes.js';

/** the admin key each started process prints, if it is a fresh Ferry */
const adminKeys = new WeakMap<ChildProcess, Promise<string>>();

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(root, 'bench/out');
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16,64').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const REPEATS = Math.max(1, Number(process.env.BENCH_REPEATS ?? 3));
const PEER = 'transformers.js pipeline + fastify';
const FERRY_DEFAULT = 'Ferry, defaults';
/** Ferry's server configs, as FERRY_* environment variables */
const FERRY_CONFIGS: { name: string; env: Record<string, string> }[] = [
  { name: FERRY_DEFAULT, env: {} },
  { name: 'Ferry, maxQueueDelayMs 2', env: { FERRY_BATCHING_MAX_QUEUE_DELAY_MS: '2' } },
  { name: 'Ferry, 2 instances', env: { FERRY_BATCHING_INSTANCES: '2' } },
];
const TEXTS_PER_CLASS = 10;
const MAX_CHARS = 500;
const TOKENIZER_SECONDS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Wrk { rps: number; p50: number; p99: number; errors: number }
/** Ferry's own statistics over one measured point (differences of GET /v2/models/spam/stats) */
interface FerryPoint {
  /** rows per executed batch */
  avgBatch: number;
  /** mean time a request waited for its batch, ms */
  queueMs: number;
  /** mean time of one batch in the model (tokenizing, onnxruntime, scoring), ms */
  batchMs: number;
  /** summed batch time over wall time: batches in flight on average (at most 1 with one instance) */
  modelBusy: number;
}
interface Row extends Wrk {
  server: string;
  c: number;
  ferry?: FerryPoint;
  /** every round's figures; the other fields are the best over rounds */
  runs: { rps: number[]; p50: number[]; p99: number[] };
}
interface Answer { label: string; scores: Record<string, number> }

/** wrk's summary, parsed as bench/serve.ts does. */
function wrk(url: string, c: number, script: string, bodies: string, seconds: number): Wrk {
  const r = spawnSync('wrk', ['-t1', `-c${c}`, `-d${seconds}s`, '--latency', '--timeout', '10s', '-s', script, url], { env: { ...process.env, BODIES: bodies }, encoding: 'utf8' });
  const raw = r.stdout + r.stderr;
  const ms = (label: string) => {
    const m = raw.match(new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)`, 'm'));
    return m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : NaN;
  };
  const non2xx = Number(raw.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const sockErr = raw.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const rps = Number(raw.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  if (Number.isNaN(rps)) throw new Error(`wrk printed no result: ${raw.trim().slice(-300)}`);
  return { rps, p50: ms('50%'), p99: ms('99%'), errors };
}


/** Starts a server process and waits until `ready` answers 200; its stderr's tail goes into errors. */
async function start(args: string[], env: NodeJS.ProcessEnv, ready: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  // a fresh Ferry prints its admin key once, just after it starts listening
  const key = adminKeyFrom(proc);
  key.catch(() => {}); // the peer prints none
  adminKeys.set(proc, key);
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const until = Date.now() + 120_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${proc.exitCode}: ${err.trim().slice(-500)}`);
    if (Date.now() > until) {
      await stop(proc);
      throw new Error(`${args.join(' ')} did not become ready: ${err.trim().slice(-500)}`);
    }
    try {
      if ((await fetch(ready)).status === 200) return proc;
    } catch { /* not up yet */ }
    await sleep(100);
  }
}

async function post(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

interface StatsJson { model_stats: { inference_count: number; execution_count: number; inference_stats: { queue: { count: number; ns: number } }; batch_stats: { compute_infer: { count: number; ns: number } }[] }[] }

async function ferryStats(base: string, key: string): Promise<{ rows: number; executions: number; queueNs: number; queueCount: number; inferNs: number }> {
  const s = ((await (await fetch(`${base}/v2/models/spam/stats`, { headers: { authorization: `Bearer ${key}` } })).json()) as StatsJson).model_stats[0]!;
  return {
    rows: s.inference_count, executions: s.execution_count,
    queueNs: s.inference_stats.queue.ns, queueCount: s.inference_stats.queue.count,
    inferNs: s.batch_stats.reduce((a, b) => a + b.compute_infer.ns, 0),
  };
}

/** A warm-up, then every concurrency: a 1 s settle at it, then the measured run. */
async function measure(server: string, url: string, script: string, bodies: string, stats?: { base: string; key: string }): Promise<Row[]> {
  wrk(url, 16, script, bodies, 3); // warm-up: JIT, onnxruntime arenas, Ferry's isolation settling
  const rows: Row[] = [];
  for (const c of CONCURRENCY) {
    wrk(url, c, script, bodies, 1);
    const before = stats ? await ferryStats(stats.base, stats.key) : undefined;
    const t0 = performance.now();
    const r = wrk(url, c, script, bodies, SECONDS);
    const wallMs = performance.now() - t0;
    let ferry: FerryPoint | undefined;
    if (stats && before) {
      const after = await ferryStats(stats.base, stats.key);
      const executions = after.executions - before.executions;
      ferry = {
        avgBatch: (after.rows - before.rows) / executions,
        queueMs: (after.queueNs - before.queueNs) / 1e6 / (after.queueCount - before.queueCount),
        batchMs: (after.inferNs - before.inferNs) / 1e6 / executions,
        modelBusy: (after.inferNs - before.inferNs) / 1e6 / wallMs,
      };
    }
    rows.push({ server, c, ...r, ...(ferry ? { ferry } : {}), runs: { rps: [r.rps], p50: [r.p50], p99: [r.p99] } });
    console.error(`  ${server}, c=${c}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms${ferry ? `, avg batch ${ferry.avgBatch.toFixed(1)}, model time / wall ${ferry.modelBusy.toFixed(2)}` : ''}`);
  }
  return rows;
}

/** Texts per second through `encode` for TOKENIZER_SECONDS, cycling over the texts. */
function textsPerSecond(encode: (text: string) => number, texts: readonly string[]): { textsPerSec: number; tokensPerSec: number } {
  for (let i = 0; i < 200; i++) encode(texts[i % texts.length]!); // warm-up
  let n = 0, tokens = 0;
  const t0 = performance.now();
  const end = t0 + TOKENIZER_SECONDS * 1000;
  while (performance.now() < end) {
    for (const t of texts) tokens += encode(t);
    n += texts.length;
  }
  const s = (performance.now() - t0) / 1000;
  return { textsPerSec: n / s, tokensPerSec: tokens / s };
}

export async function benchText(): Promise<void> {
  mkdirSync(out, { recursive: true });
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is missing: apt-get install -y wrk');
  // `ferry serve` runs from dist/: build it from the current src/ first.
  const build = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { cwd: root, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`the build (tsc -p tsconfig.json, as npm run build) failed:\n${(build.stdout + build.stderr).trim().slice(-2000)}`);
  const load = os.loadavg()[0]!;

  // 1. Train the recipe's model, as `ferry train spam-transformer` would.
  console.error('text: training spam-transformer');
  const t0 = performance.now();
  const result = await runTraining({ spec: RECIPES['spam-transformer']! });
  const trainWall = (performance.now() - t0) / 1000;
  const epochs = result.record.epochs;
  const last = epochs.at(-1)!;
  const training = {
    epochs: epochs.length,
    loopSeconds: Number(epochs.reduce((a, e) => a + e.seconds, 0).toFixed(2)),
    trainSeconds: Number(result.record.wallSeconds.toFixed(2)),
    wallSeconds: Number(trainWall.toFixed(2)),
    samplesPerSec: Math.round(epochs.reduce((a, e) => a + e.samplesPerSec, 0) / epochs.length),
    testAccuracy: Number(last.testAccuracy!.toFixed(4)),
    testF1: Number(last.testF1!.toFixed(4)),
    threads: result.record.threads,
  };
  console.error(`  ${training.epochs} epochs, loop ${training.loopSeconds} s, whole run ${training.wallSeconds} s, test accuracy ${training.testAccuracy}, F1 ${training.testF1}`);

  const work = mkdtempSync(path.join(tmpdir(), 'ferry-bench-text-'));
  const hfDir = path.join(work, 'hf');
  try {
    writeHfClassifier(hfDir, { onnx: result.onnx, classes: result.record.classes!, tokenizer: result.tokenizer!, record: result.record });

    // 2. The texts: the first ham and spam mails of the recipe's test split that are not blank.
    const split = await loadSpamAssassin({ maxChars: MAX_CHARS });
    const texts: string[] = [];
    for (const label of [0, 1]) {
      let k = 0;
      split.test.texts.forEach((t, i) => {
        if (split.test.labels[i] === label && t.trim() !== '' && k < TEXTS_PER_CLASS) {
          texts.push(t);
          k++;
        }
      });
    }
    const tokenizer = TextTokenizer.fromFiles(result.tokenizer!.tokenizerJson, result.tokenizer!.tokenizerConfig);
    const maxLength = tokenizer.maxLength ?? 128;
    const fullLengths = texts.map((t) => tokenizer.encode(t, { maxLength: 1 << 20 }).ids.length);
    const truncated = fullLengths.filter((n) => n > maxLength).length;

    // 3. Tokenizer throughput, on the same texts, as serving tokenizes them.
    const { AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    const theirTokenizer = await AutoTokenizer.from_pretrained(hfDir);
    const tokenizers = {
      ferry: textsPerSecond((t) => tokenizer.encode(t, { maxLength, truncation: true }).ids.length, texts),
      transformersJs: textsPerSecond((t) => (theirTokenizer(t, { truncation: true }).input_ids as { dims: number[] }).dims.at(-1)!, texts),
    };
    console.error(`  tokenizer: Ferry ${tokenizers.ferry.textsPerSec.toFixed(0)} texts/s, transformers.js ${tokenizers.transformersJs.textsPerSec.toFixed(0)} texts/s`);

    // wrk cycles through one JSON body per line
    const ferryBodies = path.join(out, 'text-ferry-bodies.txt');
    const peerBodies = path.join(out, 'text-peer-bodies.txt');
    writeFileSync(ferryBodies, texts.map((t) => JSON.stringify({ model: 'spam', input: [t] })).join('\n') + '\n');
    writeFileSync(peerBodies, texts.map((t) => JSON.stringify({ input: t })).join('\n') + '\n');
    const script = path.join(out, 'text_post_bodies.lua');
    writeFileSync(script, [
      '-- wrk script: POST the JSON bodies in the file named by $BODIES (one a line), in turn',
      'wrk.method = "POST"',
      'wrk.headers["Content-Type"] = "application/json"',
      'local bodies = {}',
      'for line in io.lines(os.getenv("BODIES")) do if #line > 0 then bodies[#bodies + 1] = line end end',
      'local i = 0',
      'request = function()',
      '  i = i % #bodies + 1',
      '  return wrk.format(nil, nil, nil, bodies[i])',
      'end',
      '',
    ].join('\n'));

    // 4. The servers, one at a time, a fresh process each round. In the first round each classifies
    // the 20 texts once before it is timed.
    const all: Row[] = [];
    const theirs: Answer[] = [];
    const ours: (Answer & { tokens: number })[] = [];
    const env0 = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FERRY_')));
    for (let round = 0; round < REPEATS; round++) {
      console.error(`  round ${round + 1}/${REPEATS}`);
      const peerPort = await freePort();
      const peerUrl = `http://127.0.0.1:${peerPort}/classify`;
      const peer = await start([path.join(root, 'bench/peers/transformers_server.mjs'), hfDir, String(peerPort)], env0, `http://127.0.0.1:${peerPort}/health`);
      try {
        if (round === 0) {
          for (const t of texts) {
            const list = (await post(peerUrl, { input: t })) as { label: string; score: number }[];
            theirs.push({ label: list[0]!.label, scores: Object.fromEntries(list.map((x) => [x.label, x.score])) });
          }
        }
        all.push(...(await measure(PEER, peerUrl, script, peerBodies)));
      } finally {
        await stop(peer);
      }
      await sleep(3000); // let the core settle before the next server
      for (const config of FERRY_CONFIGS) {
        const port = await freePort();
        const base = `http://127.0.0.1:${port}`;
        const data = mkdtempSync(path.join(work, 'ferry-'));
        const env = { ...env0, FERRY_BUILTIN_MODELS: 'false', ...config.env };
        const ferry = await start([path.join(root, 'bin/ferry.js'), 'serve', '--open', '--port', String(port), '--data', data, '--log-level', 'warn'], env, `${base}/v2/health/ready`);
        try {
          const key = await adminKeys.get(ferry)!;
          const pushed = await fetch(`${base}/api/models/spam/versions`, { method: 'POST', body: new Uint8Array(result.onnx), headers: { authorization: `Bearer ${key}` } });
          if (pushed.status !== 201) throw new Error(`push failed: ${pushed.status} ${await pushed.text()}`);
          if (ours.length === 0) {
            for (const t of texts) {
              const r = (await post(`${base}/v1/classifications`, { model: 'spam', input: [t] })) as { data: Answer[]; usage: { prompt_tokens: number } };
              ours.push({ ...r.data[0]!, tokens: r.usage.prompt_tokens });
            }
            const differ = texts.filter((_, i) => ours[i]!.label !== theirs[i]!.label).length;
            console.error(differ === 0 ? `  correctness: the same top label on all ${texts.length} texts` : `  WARNING: top labels differ on ${differ} of ${texts.length} texts`);
          }
          all.push(...(await measure(config.name, `${base}/v1/classifications`, script, ferryBodies, { base, key })));
        } finally {
          await stop(ferry);
        }
        await sleep(3000);
      }
    }
    // each figure its best round; the Ferry statistics are those of the round with the most req/s
    const rows: Row[] = [];
    for (const r of all) {
      const i = rows.findIndex((x) => x.server === r.server && x.c === r.c);
      const a = rows[i];
      if (!a) {
        rows.push(r);
        continue;
      }
      rows[i] = {
        ...a, rps: Math.max(a.rps, r.rps), p50: Math.min(a.p50, r.p50), p99: Math.min(a.p99, r.p99), errors: a.errors + r.errors,
        ...(r.ferry ? { ferry: r.rps > a.rps ? r.ferry : a.ferry } : {}),
        runs: { rps: [...a.runs.rps, r.rps], p50: [...a.runs.p50, r.p50], p99: [...a.runs.p99, r.p99] },
      };
    }

    // 6. Correctness: the same top label for every text.
    const disagree = texts.map((_, i) => i).filter((i) => ours[i]!.label !== theirs[i]!.label);
    const diff = (i: number) => Math.max(...Object.keys(theirs[i]!.scores).map((l) => Math.abs(theirs[i]!.scores[l]! - ours[i]!.scores[l]!)));
    const fits = texts.map((_, i) => i).filter((i) => fullLengths[i]! <= maxLength);
    const cut = texts.map((_, i) => i).filter((i) => fullLengths[i]! > maxLength);
    const correctness = {
      texts: texts.length,
      sameTopLabel: texts.length - disagree.length,
      disagreeing: disagree.map((i) => ({ text: texts[i]!.slice(0, 60), ferry: ours[i]!.scores, peer: theirs[i]!.scores })),
      truncated,
      maxScoreDiffUntruncated: fits.length ? Number(Math.max(...fits.map(diff)).toExponential(2)) : null,
      maxScoreDiffTruncated: cut.length ? Number(Math.max(...cut.map(diff)).toExponential(2)) : null,
      meanTokens: Number((ours.reduce((a, o) => a + o.tokens, 0) / ours.length).toFixed(1)),
    };
    report(rows, { training, tokenizers, correctness, load });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

interface Extra {
  training: Record<string, number>;
  tokenizers: Record<string, { textsPerSec: number; tokensPerSec: number }>;
  correctness: { texts: number; sameTopLabel: number; truncated: number; maxScoreDiffUntruncated: number | null; maxScoreDiffTruncated: number | null; meanTokens: number; disagreeing: unknown[] };
  load: number;
}

function report(rows: Row[], x: Extra): void {
  const pad = (s: string, n: number) => s.padEnd(n);
  const peerAt = (c: number) => rows.find((r) => r.server === PEER && r.c === c);
  const date = new Date().toISOString().slice(0, 10);
  console.log(`\nText classification: spam-transformer (2 blocks, 64 wide, ≤ 128 tokens), ${x.correctness.texts} e-mails ≤ ${MAX_CHARS} chars (mean ${x.correctness.meanTokens} tokens), one text per request, wrk -t1, ${SECONDS} s per point, best of ${REPEATS}; ${os.cpus().length} vCPUs (${os.cpus()[0]?.model}), Node ${process.version}, ${date}, 1-min load average ${x.load.toFixed(2)} before the run`);
  console.log(`${pad('server', 36)} ${pad('c', 4)} ${pad('req/s', 8)} ${pad('p50 ms', 8)} ${pad('p99 ms', 8)} ${pad('×peer req/s', 12)} ${pad('×peer p99', 10)} ${pad('err', 4)} ${pad('avg batch', 10)} ${pad('batch ms', 9)} ${pad('queue ms', 9)} model time / wall`);
  for (const r of rows) {
    const p = peerAt(r.c);
    const vs = r.server !== PEER && p;
    const f = r.ferry;
    console.log(`${pad(r.server, 36)} ${pad(String(r.c), 4)} ${pad(r.rps.toFixed(0), 8)} ${pad(r.p50.toFixed(2), 8)} ${pad(r.p99.toFixed(2), 8)} ${pad(vs ? (r.rps / p.rps).toFixed(2) : '', 12)} ${pad(vs ? (r.p99 / p.p99).toFixed(2) : '', 10)} ${pad(String(r.errors), 4)} ${pad(f ? f.avgBatch.toFixed(1) : '', 10)} ${pad(f ? f.batchMs.toFixed(2) : '', 9)} ${pad(f ? f.queueMs.toFixed(2) : '', 9)} ${f ? f.modelBusy.toFixed(2) : ''}`);
  }
  const t = x.training;
  console.log(`\ntraining: ${t.epochs} epochs, ${t.loopSeconds} s in the training loop (${t.trainSeconds} s with evaluation, ${t.wallSeconds} s with reading the mails and training the tokenizer), ${t.samplesPerSec} samples/s, ${t.threads} thread; test accuracy ${t.testAccuracy}, F1 ${t.testF1}`);
  console.log(`tokenizer (one text at a time, truncated to 128 tokens): Ferry's TextTokenizer ${x.tokenizers.ferry!.textsPerSec.toFixed(0)} texts/s (${x.tokenizers.ferry!.tokensPerSec.toFixed(0)} tokens/s); transformers.js' tokenizer ${x.tokenizers.transformersJs!.textsPerSec.toFixed(0)} texts/s`);
  const c = x.correctness;
  console.log(`correctness: the same top label on ${c.sameTopLabel}/${c.texts} texts; max |Δscore| ${c.maxScoreDiffUntruncated} on the ${c.texts - c.truncated} texts within 128 tokens, ${c.maxScoreDiffTruncated} on the ${c.truncated} longer ones (transformers.js cuts their finished ids, so the model sees no final [SEP])`);
  const slug = (server: string) => server.replace(/^Ferry, /, 'ferry_').replace(/[^A-Za-z0-9]+/g, '_').toLowerCase();
  const ratios: Record<string, number> = {};
  for (const r of rows) {
    const p = peerAt(r.c);
    if (r.server === PEER || !p) continue;
    ratios[`${slug(r.server)}_vs_peer_rps_c${r.c}`] = Number((r.rps / p.rps).toFixed(2));
    ratios[`${slug(r.server)}_vs_peer_p99_c${r.c}`] = Number((r.p99 / p.p99).toFixed(2));
  }
  const p16 = peerAt(16);
  const targetOf = (r: Row | undefined) => (r && p16 ? { server: r.server, rps: Number((r.rps / p16.rps).toFixed(2)), p99: Number((r.p99 / p16.p99).toFixed(2)), met: r.rps >= 2 * p16.rps && r.p99 <= p16.p99 } : null);
  const target = {
    defaults: targetOf(rows.find((r) => r.server === FERRY_DEFAULT && r.c === 16)),
    best: targetOf(rows.filter((r) => r.server !== PEER && r.c === 16).sort((a, b) => b.rps - a.rps)[0]),
  };
  console.log('\ntarget at c=16: ≥ 2× the peer\'s req/s with p99 no worse');
  for (const [k, v] of Object.entries(target)) console.log(`  ${k}: ${v ? `${v.server}: ${v.rps}× req/s, ${v.p99}× p99 (${v.met ? 'met' : 'not met'})` : 'not measured'}`);
  const result = {
    bench: 'text',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadAverageBefore: Number(x.load.toFixed(2)) },
    wrk: { threads: 1, seconds: SECONDS, repeats: REPEATS, texts: c.texts, maxChars: MAX_CHARS },
    rows: rows.map((r) => ({
      ...r, rps: Math.round(r.rps), p50: Number(r.p50.toFixed(3)), p99: Number(r.p99.toFixed(3)),
      runs: { rps: r.runs.rps.map(Math.round), p50: r.runs.p50.map((v) => Number(v.toFixed(3))), p99: r.runs.p99.map((v) => Number(v.toFixed(3))) },
      ...(r.ferry ? { ferry: { avgBatch: Number(r.ferry.avgBatch.toFixed(2)), batchMs: Number(r.ferry.batchMs.toFixed(3)), queueMs: Number(r.ferry.queueMs.toFixed(3)), modelBusy: Number(r.ferry.modelBusy.toFixed(3)) } } : {}),
    })),
    ratios,
    target,
    training: x.training,
    tokenizer: Object.fromEntries(Object.entries(x.tokenizers).map(([k, v]) => [k, { textsPerSec: Math.round(v.textsPerSec), tokensPerSec: Math.round(v.tokensPerSec) }])),
    correctness: c,
  };
  writeFileSync(path.join(out, 'text.json'), JSON.stringify(result, null, 1));
  console.log(JSON.stringify(result));
}
