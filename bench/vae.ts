// `npm run bench -- vae`: does `ferry train mnist-vae` draw digits that Ferry's own classifier
// recognises? The bench builds Ferry, runs `ferry train mnist-vae --data DIR --json` (timed, as a user
// would), starts `ferry serve --open` on that folder (the built-in mnist-cnn is registered on start),
// asks POST /v1/images/generations for 100 digits (7 requests of up to 16, seeds 1-7), decodes the
// PNGs as a client would, and classifies them with mnist-cnn through V2 infer. It reports the fraction
// mnist-cnn names with confidence ≥ 0.9 and which digits those are, beside the same fraction for 1000
// real digits mnist-cnn never trained on (its own held-out split: the ceiling for this classifier).
// BENCH_VAE_DATA=DIR skips training and uses the mnist-vae already registered in DIR.
// Prints a table, then one JSON line (also saved to bench/out/vae.json); the 100 digits are saved as
// a 10×10 sheet in bench/out/vae-digits.png.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { loadMnist } from '../src/training/data/mnist.js';
import { RECIPES } from '../src/training/recipes.js';
import { freePort, stop } from './processes.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(root, 'bench/out');
const COUNT = 100;
const PER_REQUEST = 16;
const CONFIDENT = 0.9;

interface Scored { confident: number; digits: number[] }

async function postJson(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${url}: ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

/** mnist-cnn's verdict on n 28×28 images in [0, 1]: how many it names with confidence ≥ 0.9, and
 *  how many of those are each digit. */
async function classify(url: string, images: Float32Array, n: number): Promise<Scored> {
  const p: number[] = [];
  // requests of 50 rows: the server's default maxBatchSize is 64
  for (let start = 0; start < n; start += 50) {
    const rows = Math.min(50, n - start);
    const r = (await postJson(`${url}/v2/models/mnist-cnn/infer`, {
      inputs: [{ name: 'input', shape: [rows, 1, 28, 28], datatype: 'FP32', data: Array.from(images.subarray(start * 784, (start + rows) * 784)) }],
      outputs: [{ name: 'probabilities' }],
    })) as { outputs: { name: string; data: number[] }[] };
    p.push(...r.outputs.find((o) => o.name === 'probabilities')!.data);
  }
  const digits = new Array<number>(10).fill(0);
  let confident = 0;
  for (let i = 0; i < n; i++) {
    const row = p.slice(i * 10, i * 10 + 10);
    const best = Math.max(...row);
    if (best >= CONFIDENT) {
      confident++;
      digits[row.indexOf(best)]!++;
    }
  }
  return { confident: confident / n, digits };
}

async function waitUp(url: string, proc: ReturnType<typeof spawn>): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`ferry serve exited with ${proc.exitCode}`);
    try {
      if ((await fetch(`${url}/v2/health/ready`)).status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready`);
}

export async function benchVae(): Promise<void> {
  mkdirSync(out, { recursive: true });
  // `ferry` runs from dist/: build it from the current src/ first.
  const build = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { cwd: root, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`the build (tsc -p tsconfig.json, as npm run build) failed:\n${(build.stdout + build.stderr).trim().slice(-2000)}`);
  const given = process.env.BENCH_VAE_DATA;
  const data = given ?? mkdtempSync(path.join(tmpdir(), 'ferry-bench-vae-'));
  const ferry = path.join(root, 'bin/ferry.js');
  let training: { seconds: number; trainSeconds: number; metrics: Record<string, unknown> } | null = null;
  try {
    if (!given) {
      console.error(`ferry train mnist-vae --data ${data}`);
      const t0 = performance.now();
      const t = spawnSync(process.execPath, [ferry, 'train', 'mnist-vae', '--data', data, '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (t.status !== 0) throw new Error(`ferry train mnist-vae failed with ${t.status}`);
      const line = JSON.parse(t.stdout.trim().split('\n').at(-1)!) as { metrics: Record<string, unknown>; trainSeconds: number };
      training = { seconds: (performance.now() - t0) / 1000, trainSeconds: line.trainSeconds, metrics: line.metrics };
    }

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const server = spawn(process.execPath, [ferry, 'serve', '--open', '--port', String(port), '--data', data, '--log-level', 'warn'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    let drawn: Float32Array;
    let generated: Scored;
    let real: Scored;
    let version = '';
    let drawSeconds = 0;
    try {
      await waitUp(url, server);
      drawn = new Float32Array(COUNT * 784);
      const t0 = performance.now();
      for (let start = 0, seed = 1; start < COUNT; start += PER_REQUEST, seed++) {
        const n = Math.min(PER_REQUEST, COUNT - start);
        const r = (await postJson(`${url}/v1/images/generations`, { model: 'mnist-vae', prompt: 'a handwritten digit', n, seed })) as { data: { b64_json: string }[]; model: string };
        version = r.model;
        for (const [i, d] of r.data.entries()) {
          const px = await sharp(Buffer.from(d.b64_json, 'base64')).toColourspace('b-w').raw().toBuffer();
          for (let k = 0; k < 784; k++) drawn[(start + i) * 784 + k] = px[k]! / 255;
        }
      }
      drawSeconds = (performance.now() - t0) / 1000;
      generated = await classify(url, drawn, COUNT);
      // mnist-cnn's recipe split (8000 / 2000, splitSeed 0): its held-out digits
      const cnn = RECIPES['mnist-cnn']!.dataset as { train: number; test: number };
      const heldOut = (await loadMnist({ train: cnn.train, test: cnn.test })).test;
      real = await classify(url, heldOut.x.subarray(0, 1000 * 784), 1000);
    } finally {
      await stop(server);
    }

    const sheet = Buffer.alloc(280 * 280);
    for (let i = 0; i < COUNT; i++) {
      for (let k = 0; k < 784; k++) sheet[(Math.floor(i / 10) * 28 + Math.floor(k / 28)) * 280 + (i % 10) * 28 + (k % 28)] = Math.round(drawn[i * 784 + k]! * 255);
    }
    await sharp(sheet, { raw: { width: 280, height: 280, channels: 1 } }).resize(560, 560, { kernel: 'nearest' }).toColourspace('b-w').png().toFile(path.join(out, 'vae-digits.png'));

    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    console.log(`\nmnist-vae (${version}) drawn by POST /v1/images/generations, classified by mnist-cnn (V2 infer)`);
    if (training) {
      const m = training.metrics as { testLoss: number; testTerms?: Record<string, number> };
      console.log(`training   ferry train mnist-vae: ${training.seconds.toFixed(1)} s (loop ${training.trainSeconds.toFixed(1)} s), test loss ${m.testLoss.toFixed(2)} (reconstruction ${m.testTerms?.['reconstruction']?.toFixed(2)}, kl ${m.testTerms?.['kl']?.toFixed(2)})`);
    }
    console.log(`drawing    ${COUNT} digits in ${drawSeconds.toFixed(2)} s`);
    console.log(`generated  ${pct(generated.confident)} named with confidence ≥ ${CONFIDENT}; per digit 0-9: ${generated.digits.join(' ')}`);
    console.log(`real       ${pct(real.confident)} of 1000 held-out MNIST digits (the classifier's ceiling); per digit: ${real.digits.join(' ')}`);
    console.log(`sheet      ${path.relative(root, path.join(out, 'vae-digits.png'))}\n`);
    const result = {
      bench: 'vae', model: version, count: COUNT, threshold: CONFIDENT,
      generatedConfident: generated.confident, generatedDigits: generated.digits,
      realConfident: real.confident, realDigits: real.digits,
      drawSeconds: Number(drawSeconds.toFixed(3)),
      training: training && { seconds: Number(training.seconds.toFixed(1)), trainSeconds: training.trainSeconds, metrics: training.metrics },
    };
    writeFileSync(path.join(out, 'vae.json'), JSON.stringify(result, null, 1));
    console.log(JSON.stringify(result));
  } finally {
    if (!given) rmSync(data, { recursive: true, force: true });
  }
}
