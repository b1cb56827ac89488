// One optimization run without the registry: the transformations in order (prune, its fine-tune,
// then int8 or fp16), then the report that compares the result with the original. It runs wherever
// it is called; the service runs it in a worker thread (optimize-worker.ts), because loading a
// dataset, calibrating and fine-tuning are seconds of JavaScript the server's event loop must not
// wait on.
import path from 'node:path';
import { FerryError } from '../core/errors.js';
import type { NamedTensors } from '../core/tensor.js';
import type { Signature } from '../runtimes/runtime.js';
import type { Dataset, DatasetSpec } from '../training/data/dataset.js';
import { loadDataset } from '../training/data/load.js';
import type { TrainingRecord } from '../training/record.js';
import type { TrainSpec } from '../training/spec.js';
import { train } from '../training/trainer.js';
import { compactTokenizerOf } from './compact-tokenizer.js';
import { batchOf, calibrationBatches, graphSignature, modelInput, readCalibrationFile, syntheticFeeds, type ModelInput } from './examples.js';
import { toFp16Weights } from './fp16.js';
import { pruneModel, sparsityOf } from './prune.js';
import { quantizeDynamic } from './quantize-dynamic.js';
import { quantizeStatic } from './quantize-static.js';
import {
  accuracyOf, classOutput, measureLatency, openModels, round, sizeFigures, withinTolerance,
  type AccuracyFigures, type LatencyOptions, type OptimizationReport, type StepReport,
} from './report.js';
import { DEFAULT_CALIBRATION_EXAMPLES, DEFAULT_TOLERANCE_POINTS, transformationName, type OptimizeRequest } from './request.js';

export interface PipelineInput {
  readonly onnx: Uint8Array;
  readonly parent: { readonly model: string; readonly version: number };
  /** the parent's training record (its metadata), when Ferry trained it */
  readonly training?: TrainingRecord;
  readonly request: OptimizeRequest;
  /** where relative dataset and calibration paths resolve */
  readonly baseDir: string;
  /** onnxruntime threads per model when timing: the server's intraOpThreads */
  readonly threads: number;
  /** onnxruntime threads for a fine-tune and for calibration */
  readonly trainingThreads: number;
  readonly latency?: Omit<LatencyOptions, 'now'>;
}

export interface PipelineHooks {
  /** polled between phases and training steps; true stops the run with CANCELLED */
  isCancelled?(): boolean;
  onPhase?(phase: string): void;
  /** milliseconds, for latency and the run's duration */
  now?(): number;
}

export interface PipelineResult {
  readonly onnx: Uint8Array;
  readonly report: OptimizationReport;
}

/** A labelled held-out set the model can be scored on, or why there is none. */
type Evaluation = { dataset: Dataset; input: ModelInput; output: string; label: string } | { reason: string };

export async function runPipeline(input: PipelineInput, hooks: PipelineHooks = {}): Promise<PipelineResult> {
  const now = hooks.now ?? (() => performance.now());
  const started = now();
  const { request: req, parent, training } = input;
  const signature = graphSignature(input.onnx);
  const step = (phase: string) => {
    if (hooks.isCancelled?.()) throw new FerryError('CANCELLED', 'the optimization was cancelled; nothing was registered');
    hooks.onPhase?.(phase);
  };
  const datasets = new Map<string, Promise<Dataset>>();
  const load = (spec: DatasetSpec): Promise<Dataset> => {
    const key = JSON.stringify(spec);
    let d = datasets.get(key);
    if (!d) datasets.set(key, (d = loadDataset(spec, { baseDir: input.baseDir })));
    return d;
  };

  step('loading the evaluation set');
  const evaluation = await evaluationSet(input, signature, load);
  let current = input.onnx;
  const steps: StepReport[] = [];

  if (req.prune) {
    step('pruning');
    const { amount, structured = false, fineTune } = req.prune;
    const pruned = pruneModel(current, { amount, structured });
    current = pruned.model;
    const zeroed = pruned.pruned.reduce((n, t) => n + t.zeroed, 0);
    const total = pruned.pruned.reduce((n, t) => n + t.total, 0);
    const report: Record<string, unknown> = {
      transformation: `prune-${amount}-${structured ? 'structured' : 'unstructured'}`,
      sparsity: round(zeroed / total, 4), tensors: pruned.pruned, skipped: pruned.skipped,
    };
    if (fineTune) {
      if (!training) throw new FerryError('INVALID_ARGUMENT', fineTuneNeedsRecord(parent));
      if ('dataset' in evaluation) report['accuracyBeforeFineTune'] = round(await accuracyOfModel(current, evaluation, input.threads), 4);
      step('fine-tuning');
      const spec: TrainSpec = {
        ...training.spec, name: parent.model, epochs: fineTune.epochs, from: `${parent.model}:${parent.version}`,
        optimizer: { ...training.spec.optimizer, lr: fineTune.lr ?? training.spec.optimizer.lr },
        // every parameter trains (within its mask): a frozen one cannot carry a mask
        freeze: undefined,
      };
      const t0 = now();
      const tuned = await train({
        spec, dataset: await load(training.spec.dataset), keep: pruned.masks,
        parent: { ...parent, onnx: current }, intraOpThreads: input.trainingThreads,
        hooks: { isCancelled: () => hooks.isCancelled?.() ?? false },
      });
      current = tuned.onnx;
      const after = sparsityOf(current, pruned.masks.keys());
      steps.push(report as StepReport, {
        transformation: 'fine-tune', epochs: fineTune.epochs, lr: spec.optimizer.lr, seconds: round((now() - t0) / 1000, 2),
        // the trainer holds pruned weights at zero inside every step, so this equals the sparsity above
        sparsityAfter: round(after.zeros / after.total, 4),
      });
    } else {
      steps.push(report as StepReport);
    }
  }
  if (req.int8 === 'dynamic') {
    step('quantizing (int8, dynamic)');
    const q = quantizeDynamic(current);
    current = q.model;
    steps.push({ transformation: 'int8-dynamic', quantized: q.quantized, skipped: q.skipped });
  } else if (req.int8 === 'static') {
    step('calibrating and quantizing (int8, static)');
    const { batches, source } = await calibrationSet(input, signature, load);
    const q = await quantizeStatic(current, batches, { intraOpThreads: input.trainingThreads });
    current = q.model;
    steps.push({ transformation: 'int8-static', calibration: { source, examples: batches.reduce((n, b) => n + (Object.values(b)[0]?.shape[0] ?? 0), 0) }, quantized: q.quantized, skipped: q.skipped, ...(q.notes.length > 0 ? { notes: q.notes } : {}) });
  }
  if (req.fp16) {
    step('converting weights to fp16');
    const h = toFp16Weights(current);
    if (h.converted.length === 0) throw new FerryError('INVALID_ARGUMENT', 'nothing to store as fp16: the model has no float32 weights (initializers of 16 values or more) within fp16\'s range; it is as small as fp16 would make it');
    current = h.model;
    steps.push({ transformation: 'fp16', converted: h.converted });
  }

  // after the transformations: each of them decodes and re-encodes the metadata as it found it
  const compact = compactTokenizerOf(current);
  if (compact.bytes) {
    current = compact.model;
    steps.push({ transformation: 'compact-tokenizer', tokenizerBytes: compact.bytes });
  }

  step('measuring');
  const { sessions: [orig, variant], close } = await openModels([input.onnx, current], input.threads);
  let accuracy: AccuracyFigures;
  let latency;
  try {
    if ('dataset' in evaluation) {
      const test = evaluation.dataset.test;
      const a = await accuracyOf(orig!, evaluation.input, evaluation.output, test);
      const b = await accuracyOf(variant!, evaluation.input, evaluation.output, test);
      accuracy = { measured: true, dataset: evaluation.label, examples: test.n, original: round(a, 4), variant: round(b, 4), deltaPoints: round((b - a) * 100, 2) };
    } else {
      accuracy = { measured: false, reason: evaluation.reason };
    }
    step('timing');
    const feeds = (batch: number): NamedTensors => ('dataset' in evaluation
      ? { [evaluation.input.name]: batchOf(evaluation.input, evaluation.dataset.test, 0, batch) }
      : syntheticFeeds(signature.inputs, batch));
    latency = await measureLatency(orig!, variant!, feeds, { ...input.latency, now });
  } finally {
    await close();
  }
  const tolerancePoints = req.tolerance ?? DEFAULT_TOLERANCE_POINTS;
  const report: OptimizationReport = {
    parent: { model: parent.model, version: parent.version }, transformation: transformationName(req), steps,
    size: sizeFigures(input.onnx, current), latency: { threads: input.threads, batches: latency }, accuracy,
    tolerancePoints, withinTolerance: withinTolerance(accuracy, tolerancePoints), seconds: round((now() - started) / 1000, 2),
  };
  return { onnx: current, report };
}

export const fineTuneNeedsRecord = (p: { model: string; version: number }): string =>
  `prune.fineTune needs the model's training spec, and ${p.model}:${p.version} carries none (Ferry did not train it); leave out fineTune, or train the model with \`ferry train\` first`;

/** The dataset accuracy is measured on: the request's, else the one the model was trained on. */
async function evaluationSet(input: PipelineInput, signature: Signature, load: (s: DatasetSpec) => Promise<Dataset>): Promise<Evaluation> {
  const spec = input.request.evaluation?.dataset ?? input.training?.spec.dataset;
  const who = `${input.parent.model}:${input.parent.version}`;
  if (!spec) return { reason: `${who} records no training dataset (Ferry did not train it); send "evaluation": {"dataset": {...}} (a labelled dataset spec) to measure accuracy` };
  let dataset: Dataset;
  try {
    dataset = await load(spec);
  } catch (err) {
    if (!(err instanceof FerryError)) throw err;
    return { reason: `the evaluation dataset could not be loaded: ${err.message}` };
  }
  if (!dataset.classes || dataset.labelShape) return { reason: `${dataset.name} is not a classification dataset (one class per example); accuracy is measured for classifiers` };
  const featureSize = dataset.featureShape.reduce((a, b) => a * b, 1);
  const mi = modelInput(signature, featureSize, input.training?.inputShape);
  if (typeof mi === 'string') return { reason: mi };
  const output = classOutput(signature, dataset.classes.length);
  if (!output) return { reason: `none of the model's outputs (${signature.outputs.map((o) => o.name).join(', ')}) holds ${dataset.classes.length} class scores` };
  return { dataset, input: mi, output, label: `${dataset.name} (test split, ${dataset.test.n} examples)` };
}

async function accuracyOfModel(bytes: Uint8Array, e: Extract<Evaluation, { dataset: Dataset }>, threads: number): Promise<number> {
  const { sessions: [s], close } = await openModels([bytes], threads);
  try {
    return await accuracyOf(s!, e.input, e.output, e.dataset.test);
  } finally {
    await close();
  }
}

/** Static int8's calibration batches: a file of input tensors, a dataset's training split, or the
 *  model's own training data (never its test split, which the report scores on). */
async function calibrationSet(input: PipelineInput, signature: Signature, load: (s: DatasetSpec) => Promise<Dataset>): Promise<{ batches: NamedTensors[]; source: string }> {
  const c = input.request.calibration;
  const count = c?.examples ?? DEFAULT_CALIBRATION_EXAMPLES;
  if (c?.file) {
    const file = path.resolve(input.baseDir, c.file);
    return { batches: await readCalibrationFile(file, signature, count), source: `file ${c.file}` };
  }
  const spec = c?.dataset ?? input.training?.spec.dataset;
  if (!spec) throw new FerryError('INVALID_ARGUMENT', noCalibrationSet(input.parent));
  const dataset = await load(spec);
  const mi = modelInput(signature, dataset.featureShape.reduce((a, b) => a * b, 1), input.training?.inputShape);
  if (typeof mi === 'string') throw new FerryError('INVALID_ARGUMENT', `the calibration dataset ${dataset.name} does not fit the model: ${mi}`);
  return { batches: calibrationBatches(mi, dataset.train, count), source: `${dataset.name} (training split, ${c?.dataset ? 'as sent' : 'the model\'s training dataset'})` };
}

export const noCalibrationSet = (p: { model: string; version: number }): string =>
  `static int8 quantization needs a calibration set, and ${p.model}:${p.version} records no training dataset to draw one from (Ferry did not train it); send "calibration": {"dataset": {...}} or {"file": "inputs.json"} (input tensors), or use "int8": "dynamic", which needs none`;
