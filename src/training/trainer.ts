// The training loop: builds the step, evaluation and inference graphs for a spec, runs the step graph
// once per batch with onnxruntime, evaluates after every epoch, hands a checkpoint to the caller,
// and ends with the inference model and its training record. It runs wherever it is called — the
// CLI calls it directly, the job service from a worker thread.
import { FerryError } from '../core/errors.js';
import type { NamedTensors } from '../core/tensor.js';
import { openGraphSession, type Session } from '../runtimes/onnx/session.js';
import { FERRY_VERSION } from '../version.js';
import { fmtShape } from './autodiff/tape.js';
import type { Checkpoint } from './checkpoint.js';
import { batches } from './data/batches.js';
import type { Dataset, Examples } from './data/dataset.js';
import { chunks, dropoutMask, f32, inputTensor, normalNoise, outputsPerExample, stack, targetTensor } from './feeds.js';
import { buildEvalGraph, buildInferenceModel, FLAT_PARAMS, flatState, KEEP_PARAMS, nextName, stackedName, STEPS_INPUT, termName, type EvalGraph, type NetworkShape, type TrainGraph } from './graphs.js';
import type { Module } from './nn/module.js';
import { learningRate } from './nn/schedules.js';
import { checkResume, prepare } from './prepare.js';
import type { EpochMetrics, TrainingRecord } from './record.js';
import { Rng } from './rng.js';
import type { TrainSpec } from './spec.js';
import { readFloatInitializers } from './weights.js';

export interface StepProgress {
  /** 1-based */
  readonly epoch: number;
  readonly epochs: number;
  /** steps done in this epoch */
  readonly step: number;
  readonly stepsPerEpoch: number;
  /** running means over this epoch so far */
  readonly loss: number;
  readonly accuracy?: number;
  /** running means of a self-scoring network's loss terms */
  readonly terms?: Readonly<Record<string, number>>;
  readonly samplesPerSec: number;
}

export interface TrainHooks {
  onProgress?(p: StepProgress): void;
  /** after each epoch's evaluation; the caller saves the checkpoint (awaited before going on) */
  onEpoch?(m: EpochMetrics, checkpoint: Checkpoint): void | Promise<void>;
  /** polled between steps; true stops the run with a CANCELLED error */
  isCancelled?(): boolean;
}

export interface TrainInput {
  /** hyperparameters, dataset, loss and optimizer; its `model` layers unless `network` is given */
  readonly spec: TrainSpec;
  /** a network written in TypeScript (any Module), used instead of the spec's layer list */
  readonly network?: Module;
  readonly dataset: Dataset;
  /** fine-tuning: the registered version whose weights the run starts from */
  readonly parent?: { readonly model: string; readonly version: number; readonly onnx: Uint8Array };
  readonly resume?: Checkpoint;
  /** pruning's fine-tune: per parameter name, 1 where a value trains and 0 where it stays exactly 0
   *  at every step; parameters not named train freely */
  readonly keep?: ReadonlyMap<string, Uint8Array>;
  readonly hooks?: TrainHooks;
  readonly intraOpThreads?: number;
  /** progress callbacks every this many steps (at the end of the run that crosses it); default 10 */
  readonly progressEvery?: number;
  /** training steps per onnxruntime run (an ONNX Loop); default 16 */
  readonly stepsPerRun?: number;
}

export interface TrainResult {
  readonly onnx: Uint8Array;
  readonly record: TrainingRecord;
  readonly metrics: EpochMetrics;
  /** a text dataset's tokenizer files, which serving and export need beside the model */
  readonly tokenizer?: Dataset['tokenizer'];
  /** a character language model's vocabulary (CharVocab.fromJSON reads it), also in the model file
   *  as `ferry.vocab` */
  readonly charVocab?: Dataset['charVocab'];
  /** the trained parameters by name, e.g. 'tokens' or '0.weight' (what a converter to another
   *  format, such as GGUF, reads) */
  readonly params: ReadonlyMap<string, Float32Array>;
}

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);
const EVAL_BATCH = 500;
/** a language model's evaluation batch holds at most this many positions: 500 windows of 128 would
 *  make logits, one-hot targets and log-probabilities of ~100 MB each */
const EVAL_POSITIONS = 8192;

export async function train(input: TrainInput): Promise<TrainResult> {
  const { spec, dataset, hooks = {} } = input;
  const run = prepare(spec, dataset, input.network, input.keep !== undefined);
  const { shape, optimizer, train: graph } = run;
  // every parameter by name; the trainable ones are views into `flat`, the buffer the step updates
  const params = new Map<string, Float32Array>();
  const named = shape.net.namedParameters();

  let rng = new Rng(spec.seed);
  shape.net.initialize(rng);
  for (const [name, p] of named) params.set(name, p.data);
  if (input.parent) loadParent(params, named.map(([n, p]) => [n, p.shape]), input.parent);
  let flat: Float32Array = new Float32Array(graph.total);
  const state = new Map<string, Float32Array>(optimizer.slots.map((slot) => [flatState(slot), new Float32Array(graph.total)]));
  let startEpoch = 0;
  let step = 0;
  let seconds = 0;
  const history: EpochMetrics[] = [];
  if (input.resume) {
    const c = input.resume;
    checkResume(c, params, state);
    for (const [name, t] of c.tensors) (state.has(name) ? state : params).set(name, t);
    startEpoch = c.epoch;
    step = c.step;
    seconds = c.seconds;
    rng = new Rng(c.rng);
    history.push(...c.history);
  }
  for (const l of graph.layout) flat.set(params.get(l.name)!, l.offset);
  const keep = input.keep ? keepMask(input.keep, graph.layout, graph.total, flat) : undefined;
  const viewFlat = () => {
    for (const l of graph.layout) params.set(l.name, flat.subarray(l.offset, l.offset + l.size));
  };
  viewFlat();
  const shapes = new Map(named.map(([name, p]) => [name, p.shape]));

  const featureSize = shape.inputShape.reduce((a, b) => a * b, 1);
  const stepsPerEpoch = Math.ceil(dataset.train.n / spec.batchSize);
  const totalSteps = stepsPerEpoch * spec.epochs;
  const every = input.progressEvery ?? 10;
  const stepsPerRun = input.stepsPerRun ?? 16;
  const threads = input.intraOpThreads ?? 1;
  const trainSession = await openGraphSession(graph.onnx, { intraOpThreads: threads });
  const evalGraph = buildEvalGraph(shape);
  const evalSession = await openGraphSession(evalGraph.onnx, { intraOpThreads: threads });
  try {
    for (let epoch = startEpoch; epoch < spec.epochs; epoch++) {
      const t0 = performance.now();
      let lossSum = 0;
      const termSums = new Map(graph.terms.map((t) => [t, 0]));
      let correct = 0;
      let seen = 0;
      let s = 0;
      let lr = spec.optimizer.lr;
      for (const chunk of chunks(batches(dataset.train, featureSize, spec.batchSize, rng), stepsPerRun)) {
        if (hooks.isCancelled?.()) throw new FerryError('CANCELLED', 'training was cancelled');
        const k = chunk.length;
        const size = chunk[0]!.size;
        const lrs = chunk.map((_, i) => learningRate(spec.optimizer.lr, spec.schedule, { step: step + i, epoch, totalSteps }));
        const feeds: NamedTensors = {
          [STEPS_INPUT]: { dtype: 'INT64', shape: [], data: BigInt64Array.of(BigInt(k)) },
          [stackedName('input')]: stack(chunk.map((b) => inputTensor(shape, b.x, b.size))),
        };
        if (graph.hasTarget) feeds[stackedName('target')] = stack(chunk.map((b) => targetTensor(shape, b.y, b.size, dataset)));
        // masks and noise are drawn step by step, in the order a one-step-per-run loop would draw them
        const draws = chunk.map(() => ({
          masks: graph.masks.map((m) => dropoutMask(rng, m.shape, m.p, size)),
          noises: graph.noises.map((m) => normalNoise(rng, m.shape, size)),
        }));
        graph.masks.forEach((m, j) => (feeds[stackedName(m.name)] = stack(draws.map((d) => d.masks[j]!))));
        graph.noises.forEach((m, j) => (feeds[stackedName(m.name)] = stack(draws.map((d) => d.noises[j]!))));
        const scalars = lrs.map((lr, i) => optimizer.scalarValues(step + i, lr));
        for (const name of optimizer.scalars) feeds[stackedName(`opt_${name}`)] = f32(Float32Array.from(scalars, (v) => v[name]!), [k]);
        feeds[FLAT_PARAMS] = f32(flat, [graph.total]);
        if (keep) feeds[KEEP_PARAMS] = f32(keep, [graph.total]);
        for (const name of graph.frozen) feeds[name] = f32(params.get(name)!, shapes.get(name)!);
        for (const [name, t] of state) feeds[name] = f32(t, [graph.total]);
        const out = await trainSession.run(feeds);
        const losses = out['loss']!.data as Float32Array;
        const broken = losses.findIndex((l) => !Number.isFinite(l));
        if (broken >= 0) {
          throw diverged(losses[broken]!, epoch + 1, s + broken + 1, lrs[broken]!);
        }
        flat = out[nextName(FLAT_PARAMS)]!.data as Float32Array;
        for (const name of state.keys()) state.set(name, out[nextName(name)]!.data as Float32Array);
        const corrects = graph.hasCorrect ? (out['correct']!.data as Float32Array) : undefined;
        for (let i = 0; i < k; i++) {
          lossSum += losses[i]! * size;
          if (corrects) correct += corrects[i]!;
        }
        for (const [t, sum] of termSums) termSums.set(t, (out[termName(t)]!.data as Float32Array).reduce((a, v) => a + v * size, sum));
        lr = lrs[k - 1]!;
        seen += k * size;
        const before = s;
        s += k;
        step += k;
        if (hooks.onProgress && (Math.floor(s / every) > Math.floor(before / every) || s === stepsPerEpoch)) {
          hooks.onProgress({
            epoch: epoch + 1, epochs: spec.epochs, step: s, stepsPerEpoch, loss: lossSum / seen,
            ...(graph.hasCorrect ? { accuracy: correct / (seen * outputsPerExample(shape)) } : {}),
            ...(termSums.size > 0 ? { terms: means(termSums, seen) } : {}),
            samplesPerSec: seen / ((performance.now() - t0) / 1000),
          });
        }
      }
      const trainSecs = (performance.now() - t0) / 1000;
      viewFlat();
      const test = await evaluate(evalSession, evalGraph, shape, dataset, named, params, featureSize, spec.seed);
      seconds += (performance.now() - t0) / 1000;
      const m: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: lossSum / seen,
        ...(graph.hasCorrect ? { trainAccuracy: correct / (seen * outputsPerExample(shape)) } : {}),
        testLoss: test.loss,
        ...(test.accuracy !== undefined ? { testAccuracy: test.accuracy } : {}),
        ...(test.f1 !== undefined ? { testF1: test.f1 } : {}),
        ...(termSums.size > 0 ? { trainTerms: means(termSums, seen), testTerms: test.terms } : {}),
        learningRate: lr,
        seconds: trainSecs,
        samplesPerSec: seen / trainSecs,
      };
      history.push(m);
      await hooks.onEpoch?.(m, { epoch: epoch + 1, step, rng: rng.state(), history: [...history], seconds, tensors: new Map([...params, ...state]) });
    }
  } finally {
    await trainSession.release();
    await evalSession.release();
  }

  const record: TrainingRecord = {
    spec, dataset: dataset.record, seed: spec.seed, epochs: history, wallSeconds: seconds, ferryVersion: FERRY_VERSION,
    inputShape: shape.inputShape,
    ...(run.classes ? { classes: run.classes } : {}),
    ...(input.parent ? { parent: { model: input.parent.model, version: input.parent.version } } : {}),
    ...(input.resume ? { resumedFromEpoch: input.resume.epoch } : {}),
    threads,
  };
  const onnx = buildInferenceModel(shape, params, {
    'ferry.training': JSON.stringify(record),
    ...(run.classes ? { 'ferry.classes': JSON.stringify(run.classes) } : {}),
    // the model file carries its tokenizer, so it can be served or exported on its own, and a
    // classifier says so: Ferry then serves it from strings (src/tasks/text-runtime.ts), cutting
    // long texts the way training did
    ...(dataset.tokenizer ? { 'ferry.tokenizer': JSON.stringify(dataset.tokenizer) } : {}),
    ...(dataset.tokenizer && spec.loss === 'crossEntropy' ? {
      'ferry.task': 'text-classification',
      'ferry.text': JSON.stringify({ truncation: true, maxLength: shape.inputShape[0], normalize: true }),
    } : {}),
    // a character language model carries its vocabulary, and its network what a GGUF writer needs
    ...(dataset.charVocab ? { 'ferry.task': 'text-generation', 'ferry.vocab': JSON.stringify(dataset.charVocab) } : {}),
    ...shape.net.exportMetadata(),
  });
  return {
    onnx, record, metrics: history.at(-1)!,
    params: new Map([...params].map(([name, p]) => [name, p.slice()])),
    ...(dataset.tokenizer ? { tokenizer: dataset.tokenizer } : {}),
    ...(dataset.charVocab ? { charVocab: dataset.charVocab } : {}),
  };
}


function loadParent(params: Map<string, Float32Array>, shapes: [string, readonly number[]][], parent: NonNullable<TrainInput['parent']>): void {
  const weights = readFloatInitializers(parent.onnx);
  let matched = 0;
  for (const [name, shape] of shapes) {
    const w = weights.get(name);
    if (!w) continue;
    if (w.dims.length !== shape.length || w.dims.some((d, i) => d !== shape[i])) {
      throw bad(`fine-tuning from ${parent.model}:${parent.version}: parameter ${name} is ${fmtShape(w.dims)} there but ${fmtShape(shape)} in this network; change the layer or leave it out of the parent's shape`);
    }
    params.set(name, w.data.slice());
    matched++;
  }
  if (matched === 0) {
    throw bad(`fine-tuning from ${parent.model}:${parent.version}: none of its weights match this network's parameters (${shapes.map(([n]) => n).join(', ')}); fine-tuning needs the same layer layout`);
  }
}

/** The keep-mask over the flat buffer (1 = trains), zeroing the masked values of `flat` once so that
 *  training starts from the pruned network even when the parent's weights were not pruned. */
function keepMask(keep: ReadonlyMap<string, Uint8Array>, layout: TrainGraph['layout'], total: number, flat: Float32Array): Float32Array {
  const out = new Float32Array(total).fill(1);
  const slots = new Map(layout.map((l) => [l.name, l]));
  for (const [name, mask] of keep) {
    const l = slots.get(name);
    if (!l) throw bad(`keep: "${name}" is not a trainable parameter of this network; its parameters: ${layout.map((s) => s.name).join(', ')}`);
    if (mask.length !== l.size) throw bad(`keep: the mask of ${name} has ${mask.length} values, the parameter ${l.size}`);
    for (let i = 0; i < l.size; i++) {
      if (mask[i] === 0) {
        out[l.offset + i] = 0;
        flat[l.offset + i] = 0;
      }
    }
  }
  return out;
}

const means = (sums: ReadonlyMap<string, number>, n: number): Record<string, number> =>
  Object.fromEntries([...sums].map(([t, sum]) => [t, sum / n]));

function diverged(loss: number, epoch: number, step: number, lr: number): FerryError {
  return bad(`the loss became ${loss} at epoch ${epoch}, step ${step} (learning rate ${lr}); lower optimizer.lr (try ${lr / 10}) or check the data for extreme values`);
}

async function evaluate(session: Session, g: EvalGraph, n: NetworkShape, d: Dataset, named: readonly [string, { shape: readonly number[] }][],
  params: ReadonlyMap<string, Float32Array>, featureSize: number, seed: number): Promise<{ loss: number; accuracy?: number; f1?: number; terms?: Record<string, number> }> {
  let loss = 0;
  const termSums = new Map(g.terms.map((t) => [t, 0]));
  // the same noise at every evaluation (its own generator, not the training one), so epochs are
  // scored alike and evaluating leaves the training draws untouched
  const noiseRng = new Rng((seed ^ 0x6576616c) >>> 0);
  let correct = 0;
  let hasCorrect = false;
  const test: Examples = d.test;
  // confusion counts for the second class ("positive", e.g. spam) of a two-class model
  let [tp, fp, fn] = [0, 0, 0];
  const size = Math.max(1, Math.min(EVAL_BATCH, Math.floor(EVAL_POSITIONS / outputsPerExample(n))));
  for (const b of batches(test, featureSize, size, null)) {
    const feeds: NamedTensors = { input: inputTensor(n, b.x, b.size) };
    if (g.hasTarget) feeds['target'] = targetTensor(n, b.y, b.size, d);
    for (const m of g.noises) feeds[m.name] = normalNoise(noiseRng, m.shape, b.size);
    for (const [name, p] of named) feeds[name] = f32(params.get(name)!, p.shape);
    const out = await session.run(feeds);
    loss += (out['loss']!.data as Float32Array)[0]! * b.size;
    for (const [t, sum] of termSums) termSums.set(t, sum + (out[termName(t)]!.data as Float32Array)[0]! * b.size);
    if (out['correct']) {
      hasCorrect = true;
      correct += (out['correct'].data as Float32Array)[0]!;
    }
    const predicted = out['predicted']?.data as BigInt64Array | undefined;
    if (predicted) {
      for (let i = 0; i < b.size; i++) {
        const p = predicted[i] === 1n;
        const t = b.y[i] === 1;
        if (p && t) tp++;
        else if (p) fp++;
        else if (t) fn++;
      }
    }
  }
  const twoClass = d.classes?.length === 2 && n.loss === 'crossEntropy';
  return {
    loss: loss / test.n,
    ...(hasCorrect ? { accuracy: correct / (test.n * outputsPerExample(n)) } : {}),
    ...(twoClass ? { f1: tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn) } : {}),
    ...(termSums.size > 0 ? { terms: means(termSums, test.n) } : {}),
  };
}
