// `ferry optimize MODEL[:VERSION] --int8 | --fp16 | --prune 0.5 [--fine-tune 1]`: runs here, on the
// data folder `ferry serve` uses (like `ferry train`), or with --server on a running server, and
// prints the report as a table: size, latency at batch 1 and 64, accuracy against the original.
// Only light modules load up front: the command is registered on every `ferry` run, and the server's
// modules (onnxruntime, SQLite) load when a local run needs them.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { FerryError } from '../core/errors.js';
import type { OptimizeOutcome } from '../optimize/optimize.js';
import type { OptimizationReport } from '../optimize/report.js';
import { parseOptimizeRequest, type OptimizeRequest } from '../optimize/request.js';
import { splitModelRef } from '../registry/names.js';
import type { FerryClient } from './client.js';

export interface OptimizeFlags {
  int8?: string | boolean;
  fp16?: boolean;
  prune?: string;
  structured?: boolean;
  fineTune?: string;
  fineTuneLr?: string;
  calibration?: string;
  calibrationDataset?: string;
  calibrationExamples?: string;
  evalDataset?: string;
  tolerance?: string;
  deploy?: string;
  threads?: string;
  data?: string;
  config?: string;
  server?: boolean;
  json?: boolean;
}

const num = (flag: string, v: string | undefined, check: (n: number) => boolean, want: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !check(n)) throw new FerryError('INVALID_ARGUMENT', `${flag} must be ${want}, got "${v}"`);
  return n;
};

function jsonFile(flag: string, file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new FerryError('INVALID_ARGUMENT', `${flag} ${file}: ${e.code === 'ENOENT' ? 'no such file' : `not valid JSON (${e.message})`}; pass a dataset spec such as {"type": "mnist"}`);
  }
}

/** The request the flags describe, checked the way the server checks a body. */
export function requestFromFlags(f: OptimizeFlags): OptimizeRequest {
  const fineTune = num('--fine-tune', f.fineTune, Number.isInteger, 'a number of epochs, e.g. 1');
  const lr = num('--fine-tune-lr', f.fineTuneLr, (n) => n > 0, 'a positive learning rate');
  if ((fineTune !== undefined || f.structured) && f.prune === undefined) throw new FerryError('INVALID_ARGUMENT', '--fine-tune and --structured go with --prune AMOUNT, e.g. --prune 0.5 --fine-tune 1');
  const raw = {
    ...(f.int8 !== undefined ? { int8: f.int8 === true ? 'dynamic' : f.int8 } : {}),
    ...(f.fp16 ? { fp16: true } : {}),
    ...(f.prune !== undefined ? {
      prune: {
        amount: num('--prune', f.prune, Number.isFinite, 'a fraction such as 0.5'), ...(f.structured ? { structured: true } : {}),
        ...(fineTune !== undefined ? { fineTune: { epochs: fineTune, ...(lr !== undefined ? { lr } : {}) } } : {}),
      },
    } : {}),
    ...(f.calibration !== undefined || f.calibrationDataset !== undefined ? {
      calibration: {
        ...(f.calibration !== undefined ? { file: path.resolve(f.calibration) } : {}),
        ...(f.calibrationDataset !== undefined ? { dataset: jsonFile('--calibration-dataset', f.calibrationDataset) } : {}),
        ...(f.calibrationExamples !== undefined ? { examples: num('--calibration-examples', f.calibrationExamples, Number.isInteger, 'a whole number') } : {}),
      },
    } : {}),
    ...(f.evalDataset !== undefined ? { evaluation: { dataset: jsonFile('--eval-dataset', f.evalDataset) } } : {}),
    ...(f.tolerance !== undefined ? { tolerance: num('--tolerance', f.tolerance, Number.isFinite, 'accuracy points, e.g. 0.5') } : {}),
    ...(f.deploy !== undefined ? { deploy: f.deploy } : {}),
  };
  return parseOptimizeRequest(raw);
}

export function optimizeCommands(program: Command, client: () => FerryClient): void {
  program.command('optimize').description('int8, fp16 or pruning of a registered version: registers the result as a new version and prints size, latency and accuracy against the original')
    .argument('<model[:version]>')
    .option('--int8 [mode]', 'int8 quantization: dynamic (default) or static (calibrated on the training data or --calibration)')
    .option('--fp16', 'store the weights as fp16')
    .option('--prune <amount>', 'magnitude pruning: zero this fraction of each weight tensor, e.g. 0.5')
    .option('--structured', 'with --prune: zero whole output channels instead of single weights')
    .option('--fine-tune <epochs>', 'with --prune: fine-tune on the training data, pruned weights held at zero')
    .option('--fine-tune-lr <lr>', 'the fine-tune\'s learning rate (default: the training run\'s)')
    .option('--calibration <file.json>', 'static int8: input tensors {"input": {"shape": [N, ...], "data": [...]}}')
    .option('--calibration-dataset <spec.json>', 'static int8: a dataset spec whose training split calibrates')
    .option('--calibration-examples <n>', 'static int8: examples to calibrate on (default 256)')
    .option('--eval-dataset <spec.json>', 'a labelled dataset spec whose test split scores accuracy (default: the training dataset)')
    .option('--tolerance <points>', 'accuracy points the variant may lose (default 0.5)')
    .option('--deploy <alias>', 'point this alias at the result when it is within tolerance')
    .option('--threads <n>', 'onnxruntime threads for fine-tuning and calibration (default: every core)')
    .option('--data <dir>', 'data folder (env FERRY_DATA)')
    .option('--config <file>', 'JSON config file (env FERRY_CONFIG)')
    .option('--server', 'run it on the server at --url instead of here')
    .option('--json', 'print the outcome as one JSON line instead of the table')
    .action((ref: string, flags: OptimizeFlags) => optimizeCommand(ref, flags, client));
}

export async function optimizeCommand(ref: string, flags: OptimizeFlags, client: () => FerryClient): Promise<void> {
  const request = requestFromFlags(flags);
  const [model, version] = splitModelRef(ref);
  const out = flags.server ? await onServer(model, version, request, client()) : await locally(model, version, request, flags);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  process.stdout.write(reportTable(out.report, `${model}:${out.version.version}`));
  if (out.pinned) process.stdout.write(`pinned ${model}:${out.pinned.alias} to version ${out.pinned.version}, which unversioned requests got before; the variant is not served by default\n`);
  if (out.deployed) process.stdout.write(`deployed: ${model}:${out.deployed.alias} → version ${out.deployed.version}\n`);
  if (out.notDeployed) process.stdout.write(`not deployed: ${out.notDeployed}\n`);
}

async function locally(model: string, version: string | undefined, request: OptimizeRequest, flags: OptimizeFlags): Promise<OptimizeOutcome> {
  const { loadConfig } = await import('../core/config.js');
  const { openRegistry } = await import('../ferry.js');
  const { OptimizeService } = await import('../optimize/optimize.js');
  const config = loadConfig({ file: flags.config, env: process.env, flags: { data: flags.data } });
  const registry = openRegistry(config);
  const threads = num('--threads', flags.threads, (n) => Number.isInteger(n) && n >= 1, 'a whole number ≥ 1');
  const service = new OptimizeService(registry, {
    baseDir: process.cwd(), threads: config.intraOpThreads, trainingThreads: threads ?? availableParallelism(),
  });
  try {
    return await service.optimize(model, version, request, { onPhase: (p) => process.stderr.write(`${p}…\n`) });
  } finally {
    await service.close();
    await registry.meta.close();
  }
}

async function onServer(model: string, version: string | undefined, request: OptimizeRequest, client: FerryClient): Promise<OptimizeOutcome> {
  const m = encodeURIComponent(model);
  // the route names a version; without one, the one unversioned requests get
  let v = version;
  if (v === undefined) {
    const { aliases, latestVersion } = (await client.get(`/api/models/${m}`)) as { aliases: Record<string, number>; latestVersion: number };
    v = String(aliases['prod'] ?? latestVersion);
  }
  process.stderr.write(`optimizing ${model}:${v} on the server…\n`);
  return (await client.postJson(`/api/models/${m}/versions/${encodeURIComponent(v)}/optimize`, request)) as OptimizeOutcome;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const ms = (x: number) => `${x < 1 ? x.toFixed(3) : x.toFixed(2)} ms`;

/** The report as a table a person reads at a glance. */
export function reportTable(r: OptimizationReport, variant: string): string {
  const rows: string[][] = [
    ['', 'original', 'variant', 'change'],
    ['size', kb(r.size.originalBytes), kb(r.size.variantBytes), `${r.size.ratio.toFixed(2)}× smaller`],
    ['  weights', kb(r.size.weights.originalBytes), kb(r.size.weights.variantBytes), `${r.size.weights.ratio.toFixed(2)}× smaller`],
    ...r.latency.batches.map((b) => [`latency, batch ${b.batch}`, ms(b.originalMs), ms(b.variantMs), `${b.speedup.toFixed(2)}× faster`]),
  ];
  const a = r.accuracy;
  if (a.measured) rows.push(['accuracy', a.original.toFixed(4), a.variant.toFixed(4), `${a.deltaPoints >= 0 ? '+' : ''}${a.deltaPoints.toFixed(2)} points`]);
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('   ').trimEnd());
  const verdict = r.withinTolerance === null ? `accuracy not measured: ${a.measured ? '' : a.reason}`
    : `${r.withinTolerance ? 'within' : 'OUTSIDE'} the tolerance of ${r.tolerancePoints} accuracy points${a.measured ? ` (${a.dataset})` : ''}`;
  return [
    `${r.parent.model}:${r.parent.version} → ${variant}  ${r.transformation}  (${r.seconds} s, ${r.latency.threads} onnxruntime thread${r.latency.threads === 1 ? '' : 's'} per model)`,
    ...lines, verdict, '',
  ].join('\n');
}
