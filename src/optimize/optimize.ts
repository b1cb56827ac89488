// Optimization as a service: resolve MODEL[:VERSION], run the transformations and the report in a
// worker thread (pipeline.ts), register the result as a new version whose lineage names its parent
// and the transformation, and move an alias to it only when it is within the accuracy tolerance.
//
//   const service = new OptimizeService(registry, { baseDir: 'ferry-data/datasets', threads: 1, trainingThreads: 2 });
//   const { version, report } = await service.optimize('mnist-mlp', '1', { int8: 'dynamic', deploy: 'canary' });
//   report.size.ratio          // 3.9: the variant is 3.9 times smaller
//   report.withinTolerance     // true: alias "canary" now points at `version.version`
//
// Runs are taken one at a time: each times two models against each other, and a second run on the
// same cores would skew both runs' figures.
//
// Registering a version changes what unversioned requests get when the model has no "prod" alias
// (they go to the highest version). A variant is never deployed by default, so before registering
// one the service pins "prod" to the version that was serving them, and says so in its answer.
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { FerryError } from '../core/errors.js';
import { startWorker } from '../core/worker.js';
import type { VersionRecord } from '../registry/records.js';
import { DEFAULT_ALIAS, type Registry } from '../registry/registry.js';
import type { DatasetSpec } from '../training/data/dataset.js';
import type { TrainingRecord } from '../training/record.js';
import { parseSpec } from '../training/spec.js';
import type { OptimizeWorkerMessage } from './optimize-worker.js';
import { fineTuneNeedsRecord, noCalibrationSet, type PipelineInput, type PipelineResult } from './pipeline.js';
import type { LatencyOptions, OptimizationReport } from './report.js';
import { parseOptimizeRequest, type OptimizeRequest } from './request.js';

export interface OptimizeServiceOptions {
  /** where relative dataset and calibration paths resolve: the server's <data>/datasets, the CLI's cwd */
  readonly baseDir: string;
  /** true for requests from the network: every path they or a model's record name must stay inside
   *  baseDir, so a request cannot make the server read whatever file it names */
  readonly confinePaths?: boolean;
  /** onnxruntime threads per model when timing: what the server serves with */
  readonly threads: number;
  /** onnxruntime threads for fine-tuning and calibration */
  readonly trainingThreads: number;
  readonly latency?: Omit<LatencyOptions, 'now'>;
  /** points an alias at a new version; default registry.setAlias (the server loads the version first) */
  readonly deploy?: (version: VersionRecord, alias: string) => Promise<void>;
}

export interface RunOptions {
  /** aborting stops the run between phases or training steps; nothing is registered */
  readonly signal?: AbortSignal;
  readonly onPhase?: (phase: string) => void;
}

export interface OptimizeOutcome {
  readonly version: VersionRecord;
  readonly report: OptimizationReport;
  /** the alias moved to the new version, if any */
  readonly deployed: { readonly alias: string; readonly version: number } | null;
  /** why a requested deploy did not happen */
  readonly notDeployed?: string;
  /** set when "prod" was pinned to the version unversioned requests were getting (see above) */
  readonly pinned?: { readonly alias: string; readonly version: number };
}

const DATASET_PATH_FIELDS = ['path', 'images', 'labels', 'testImages', 'testLabels', 'dir'] as const;

export class OptimizeService {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly workers = new Set<Worker>();
  private closed = false;

  constructor(private readonly registry: Registry, private readonly opts: OptimizeServiceOptions) {}

  async optimize(model: string, versionRef: string | undefined, raw: unknown, run: RunOptions = {}): Promise<OptimizeOutcome> {
    const request = parseOptimizeRequest(raw);
    const parent = await this.registry.resolve(model, versionRef);
    if (parent.format !== 'onnx') throw new FerryError('INVALID_ARGUMENT', `${parent.model}:${parent.version} is a ${parent.format} model; optimize works on ONNX models (a GGUF file comes quantized by llama.cpp's tools)`);
    const training = trainingRecord(parent.metadata['training']);
    this.precheck(request, parent, training);
    const turn = this.queue.then(() => this.runOne(parent, request, training, run));
    this.queue = turn.catch(() => {});
    return turn;
  }

  /** Stops a run in progress (nothing is registered) and waits for its worker to end. */
  async close(): Promise<void> {
    this.closed = true;
    const exits = [...this.workers].map((w) => new Promise<void>((resolve) => {
      w.once('exit', () => resolve());
      w.postMessage({ type: 'cancel' });
    }));
    await Promise.all(exits);
  }

  /** What can be refused before any work: a fine-tune or calibration without the data it needs,
   *  and paths outside the datasets folder. */
  private precheck(r: OptimizeRequest, parent: VersionRecord, training: TrainingRecord | undefined): void {
    const who = { model: parent.model, version: parent.version };
    if (r.prune?.fineTune && !training) throw new FerryError('INVALID_ARGUMENT', fineTuneNeedsRecord(who));
    if (r.int8 === 'static' && !r.calibration && !training) throw new FerryError('INVALID_ARGUMENT', noCalibrationSet(who));
    if (!this.opts.confinePaths) return;
    if (r.calibration?.file) this.confine(r.calibration.file, 'calibration.file');
    if (r.calibration?.dataset) this.confineDataset(r.calibration.dataset, 'calibration.dataset');
    if (r.evaluation) this.confineDataset(r.evaluation.dataset, 'evaluation.dataset');
    const usesRecorded = !r.evaluation || r.prune?.fineTune || (r.int8 === 'static' && !r.calibration);
    if (training && usesRecorded) this.confineDataset(training.spec.dataset, `the dataset ${who.model}:${who.version} was trained on:`);
  }

  private confineDataset(spec: DatasetSpec, where: string): void {
    for (const field of DATASET_PATH_FIELDS) {
      const p = (spec as Record<string, unknown>)[field];
      if (typeof p === 'string') this.confine(p, `${where} ${field}`);
    }
  }

  private confine(p: string, where: string): void {
    const inside = path.relative(this.opts.baseDir, path.resolve(this.opts.baseDir, p));
    if (path.isAbsolute(p) || inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) {
      throw new FerryError('INVALID_ARGUMENT', `optimize: ${where} "${p.slice(0, 200)}" must be a path relative to the server's datasets folder (<data>/datasets), without ".."; send "evaluation": {"dataset": {...}} naming a dataset there`);
    }
  }

  private async runOne(parent: VersionRecord, request: OptimizeRequest, training: TrainingRecord | undefined, run: RunOptions): Promise<OptimizeOutcome> {
    if (run.signal?.aborted || this.closed) throw new FerryError('CANCELLED', 'the optimization was cancelled before it started; nothing was registered');
    const onnx = new Uint8Array(await readFile(await this.registry.artifacts.localPath(parent.artifactKey)));
    const input: PipelineInput = {
      onnx, parent: { model: parent.model, version: parent.version },
      ...(training ? { training } : {}), request, baseDir: this.opts.baseDir,
      threads: this.opts.threads, trainingThreads: this.opts.trainingThreads, ...(this.opts.latency ? { latency: this.opts.latency } : {}),
    };
    const { onnx: variant, report } = await this.inWorker(input, run);
    if (run.signal?.aborted || this.closed) throw new FerryError('CANCELLED', 'the optimization was cancelled; nothing was registered');

    const pinned = await this.pinDefault(parent.model);
    const version = await this.registry.push(parent.model, (async function* () { yield variant; })(), {
      config: parent.config,
      metadata: {
        source: 'optimize',
        ...(typeof parent.metadata['description'] === 'string' ? { description: `${parent.metadata['description']} [${report.transformation}]` } : {}),
        lineage: { parent: report.parent, transformation: report.transformation },
        optimization: report,
      },
    });
    let deployed: OptimizeOutcome['deployed'] = null;
    let notDeployed: string | undefined;
    if (request.deploy) {
      if (report.withinTolerance === true) {
        await (this.opts.deploy ?? ((v, alias) => this.registry.setAlias(v.model, alias, v.version)))(version, request.deploy);
        deployed = { alias: request.deploy, version: version.version };
      } else {
        notDeployed = report.withinTolerance === false
          ? `it lost ${round2(-(report.accuracy as { deltaPoints: number }).deltaPoints)} accuracy points, more than the tolerance of ${report.tolerancePoints}; alias "${request.deploy}" was not moved (raise "tolerance" to accept it)`
          : `its accuracy was not measured (${(report.accuracy as { reason: string }).reason}); alias "${request.deploy}" was not moved`;
      }
    }
    return { version, report, deployed, ...(notDeployed ? { notDeployed } : {}), ...(pinned ? { pinned } : {}) };
  }

  /** Pins "prod" to the version unversioned requests get now, if the model has no "prod" yet. */
  private async pinDefault(model: string): Promise<OptimizeOutcome['pinned']> {
    const m = await this.registry.model(model);
    if (m.aliases[DEFAULT_ALIAS] !== undefined) return undefined;
    await this.registry.setAlias(model, DEFAULT_ALIAS, m.latestVersion);
    return { alias: DEFAULT_ALIAS, version: m.latestVersion };
  }

  private inWorker(input: PipelineInput, run: RunOptions): Promise<PipelineResult> {
    const worker = startWorker(import.meta.url, 'optimize-worker', input as unknown as Record<string, unknown>);
    this.workers.add(worker);
    const cancel = () => worker.postMessage({ type: 'cancel' });
    run.signal?.addEventListener('abort', cancel, { once: true });
    let outcome: OptimizeWorkerMessage | undefined;
    worker.on('message', (m: OptimizeWorkerMessage) => {
      if (m.type === 'phase') run.onPhase?.(m.phase);
      else outcome = m;
    });
    // a worker that dies of an uncaught error (out of memory, a failed import) reports it here
    worker.on('error', (err) => {
      outcome ??= { type: 'error', code: 'INTERNAL', message: `the optimization worker failed: ${err.message}` };
    });
    return new Promise<PipelineResult>((resolve, reject) => {
      worker.once('exit', (code) => {
        this.workers.delete(worker);
        run.signal?.removeEventListener('abort', cancel);
        if (outcome?.type === 'done') resolve({ onnx: outcome.onnx, report: outcome.report });
        else if (outcome?.type === 'error') reject(new FerryError(outcome.code as FerryError['code'], outcome.message));
        else reject(new FerryError('INTERNAL', `the optimization worker stopped unexpectedly (exit code ${code})`));
      });
    });
  }
}

/** The parent's training record when it is one Ferry can use (a spec that still parses). */
function trainingRecord(raw: unknown): TrainingRecord | undefined {
  const spec = (raw as { spec?: unknown } | undefined)?.spec;
  if (spec === undefined) return undefined;
  try {
    parseSpec(spec);
  } catch {
    return undefined; // a hand-edited or foreign record: treated as no record
  }
  return raw as TrainingRecord;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
