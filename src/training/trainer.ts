// The training loop: builds the step, evaluation and inference graphs for a spec, runs the step graph
// once per batch with onnxruntime, evaluates after every epoch, hands a checkpoint to the caller,
// and ends with the inference model and its training record. It runs wherever it is called — the
// CLI calls it directly, the job service from a worker thread.
import { FerryError } from '../core/errors.js';
import type { NamedTensors, Tensor } from '../core/tensor.js';
import { openGraphSession, type Session } from '../runtimes/onnx/session.js';
import { FERRY_VERSION } from '../version.js';
import { fmtShape } from './autodiff/tape.js';
import type { Checkpoint } from './checkpoint.js';
import { batches, type Batch } from './data/batches.js';
import type { Dataset, Examples } from './data/dataset.js';
import { buildEvalGraph, buildInferenceModel, buildTrainGraph, outputShape, FLAT_PARAMS, flatState, nextName, stackedName, STEPS_INPUT, type NetworkShape, type TrainGraph } from './graphs.js';
import { buildNetwork } from './nn/build.js';
import type { Sequential } from './nn/layers.js';
import type { Module } from './nn/module.js';
import { targetKind } from './nn/losses.js';
import { makeOptimizer, type Optimizer } from './nn/optimizers.js';
import { learningRate } from './nn/schedules.js';
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
}

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);
const EVAL_BATCH = 500;

/** Everything about a spec that can be checked before a step runs. */
export interface PreparedRun {
  readonly shape: NetworkShape;
  readonly optimizer: Optimizer;
  readonly frozen: Set<string>;
  readonly train: TrainGraph;
  readonly classes?: readonly string[];
}

export function prepare(spec: TrainSpec, dataset: Dataset, network?: Module): PreparedRun {
  const featureSize = dataset.featureShape.reduce((a, b) => a * b, 1);
  const inputShape = spec.input ?? dataset.featureShape;
  const inputSize = inputShape.reduce((a, b) => a * b, 1);
  if (inputSize !== featureSize) {
    throw bad(`input ${fmtShape(inputShape)} holds ${inputSize} values but ${dataset.name} examples have ${featureSize} (shape ${fmtShape(dataset.featureShape)}); set "input" to a shape of ${featureSize} values`);
  }
  if (dataset.train.n === 0 || dataset.test.n === 0) throw bad(`dataset ${dataset.name} has ${dataset.train.n} training and ${dataset.test.n} test examples; both must be non-empty`);
  const net = network ?? networkOf(spec);
  const kind = targetKind(spec.loss);
  if (kind === 'classes' && !dataset.classes) {
    throw bad(`${spec.loss} needs class labels, but ${dataset.name} has float targets; use "loss": "mse" for regression`);
  }
  let targetShape: number[] = [];
  if (kind === 'floats') {
    if (dataset.classes) targetShape = spec.loss === 'binaryCrossEntropy' ? [1] : [dataset.classes.length];
    else targetShape = [dataset.targetSize ?? 1];
    if (spec.loss === 'binaryCrossEntropy' && dataset.classes && dataset.classes.length !== 2) {
      throw bad(`binaryCrossEntropy needs two classes; ${dataset.name} has ${dataset.classes.length}: use crossEntropy`);
    }
  }
  const shape: NetworkShape = { net, loss: spec.loss, inputShape, inputType: net.inputType, targetShape };
  const optimizer = makeOptimizer(spec.optimizer);
  checkSize(net);
  const frozen = frozenNames(spec, net);
  const train = buildTrainGraph(shape, optimizer, frozen);
  if (kind === 'classes') checkLabels(dataset, train.outputShape.at(-1)!);
  if (net.idTableSize !== undefined) checkTokenIds(dataset, net.idTableSize);
  return { shape, optimizer, frozen, train, classes: dataset.classes };
}

function networkOf(spec: TrainSpec): Sequential {
  try {
    return buildNetwork(spec.model);
  } catch (err) {
    if (err instanceof FerryError) err.message = `model: ${err.message}`;
    throw err;
  }
}

/** Checks the layers of a spec without any data — their size, the freeze prefixes and, when the
 *  input shape is known, every layer's shapes: what an API can refuse before a job is queued. */
export function checkNetwork(spec: TrainSpec, inputShape?: readonly number[]): void {
  const net = networkOf(spec);
  checkSize(net);
  frozenNames(spec, net);
  if (!inputShape) return;
  try {
    outputShape({ net, loss: spec.loss, inputShape, inputType: net.inputType, targetShape: [] });
  } catch (err) {
    if (err instanceof FerryError) err.message = `model: ${err.message}`;
    throw err;
  }
}

/** Parameters, optimizer state and gradients are all held in memory several times over. */
export const MAX_PARAMETERS = 50_000_000;

function checkSize(net: Module): void {
  const params = net.namedParameters();
  const total = params.reduce((n, [, p]) => n + p.size, 0);
  if (total > MAX_PARAMETERS) {
    const [name, biggest] = params.reduce((a, b) => (b[1].size > a[1].size ? b : a));
    throw bad(`model: the network has ${total.toLocaleString('en-US')} parameters, more than a training job takes (${MAX_PARAMETERS.toLocaleString('en-US')}); the largest is ${name} with ${biggest.size.toLocaleString('en-US')}`);
  }
}

function frozenNames(spec: TrainSpec, net: Module): Set<string> {
  const names = net.namedParameters().map(([n]) => n);
  for (const prefix of spec.freeze ?? []) {
    if (!names.some((n) => n.startsWith(prefix))) throw bad(`freeze: "${prefix}" matches no parameter; parameters are ${names.join(', ')}`);
  }
  return new Set(names.filter((n) => (spec.freeze ?? []).some((p) => n.startsWith(p))));
}

/** A checkpoint must hold exactly this network's parameters and this optimizer's state. */
function checkResume(c: Checkpoint, params: ReadonlyMap<string, Float32Array>, state: ReadonlyMap<string, Float32Array>): void {
  const want = new Map([...params, ...state].map(([n, t]) => [n, t.length]));
  const problems: string[] = [];
  for (const [name, size] of want) {
    const got = c.tensors.get(name);
    if (!got) problems.push(`${name} is missing`);
    else if (got.length !== size) problems.push(`${name} has ${got.length} values, the network ${size}`);
  }
  for (const name of c.tensors.keys()) if (!want.has(name)) problems.push(`${name} is not in this network`);
  if (problems.length > 0) {
    throw bad(`the checkpoint does not belong to this network and optimizer: ${problems.slice(0, 5).join('; ')}`);
  }
}

/** Embedding ids must be whole numbers inside the table; onnxruntime's Gather would fail mid-step. */
function checkTokenIds(d: Dataset, size: number): void {
  for (const [part, ex] of [['training', d.train], ['test', d.test]] as const) {
    const width = ex.x.length / Math.max(1, ex.n);
    for (let i = 0; i < ex.x.length; i++) {
      const id = ex.x[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= size) {
        throw bad(`token id ${id} of ${part} example ${Math.floor(i / width)} is outside the Embedding table of ${size} rows; ids must be integers from 0 to ${size - 1}`);
      }
    }
  }
}

function checkLabels(d: Dataset, outputs: number): void {
  for (const [part, ex] of [['training', d.train], ['test', d.test]] as const) {
    const y = ex.y as Int32Array;
    for (let i = 0; i < ex.n; i++) {
      if (y[i]! < 0 || y[i]! >= outputs) {
        throw bad(`label ${y[i]} (${d.classes?.[y[i]!] ?? '?'}) of ${part} example ${i} is out of range for a network with ${outputs} outputs; make the last layer output ${d.classes?.length ?? y[i]! + 1} classes`);
      }
    }
  }
}

export async function train(input: TrainInput): Promise<TrainResult> {
  const { spec, dataset, hooks = {} } = input;
  const run = prepare(spec, dataset, input.network);
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
  const evalSession = await openGraphSession(buildEvalGraph(shape), { intraOpThreads: threads });
  try {
    for (let epoch = startEpoch; epoch < spec.epochs; epoch++) {
      const t0 = performance.now();
      let lossSum = 0;
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
          [stackedName('target')]: stack(chunk.map((b) => targetTensor(shape, b.y, b.size, dataset))),
        };
        // masks are drawn step by step, in the order a one-step-per-run loop would draw them
        const masks = chunk.map(() => graph.masks.map((m) => dropoutMask(rng, m.shape, m.p, size)));
        graph.masks.forEach((m, j) => (feeds[stackedName(m.name)] = stack(masks.map((ms) => ms[j]!))));
        const scalars = lrs.map((lr, i) => optimizer.scalarValues(step + i, lr));
        for (const name of optimizer.scalars) feeds[stackedName(`opt_${name}`)] = f32(Float32Array.from(scalars, (v) => v[name]!), [k]);
        feeds[FLAT_PARAMS] = f32(flat, [graph.total]);
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
        lr = lrs[k - 1]!;
        seen += k * size;
        const before = s;
        s += k;
        step += k;
        if (hooks.onProgress && (Math.floor(s / every) > Math.floor(before / every) || s === stepsPerEpoch)) {
          hooks.onProgress({
            epoch: epoch + 1, epochs: spec.epochs, step: s, stepsPerEpoch, loss: lossSum / seen,
            ...(graph.hasCorrect ? { accuracy: correct / (seen * outputsPerExample(shape)) } : {}),
            samplesPerSec: seen / ((performance.now() - t0) / 1000),
          });
        }
      }
      const trainSecs = (performance.now() - t0) / 1000;
      viewFlat();
      const test = await evaluate(evalSession, shape, dataset, named, params, featureSize);
      seconds += (performance.now() - t0) / 1000;
      const m: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: lossSum / seen,
        ...(graph.hasCorrect ? { trainAccuracy: correct / (seen * outputsPerExample(shape)) } : {}),
        testLoss: test.loss,
        ...(test.accuracy !== undefined ? { testAccuracy: test.accuracy } : {}),
        ...(test.f1 !== undefined ? { testF1: test.f1 } : {}),
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
  });
  return { onnx, record, metrics: history.at(-1)!, ...(dataset.tokenizer ? { tokenizer: dataset.tokenizer } : {}) };
}

function outputsPerExample(n: NetworkShape): number {
  return n.targetShape.reduce((a, b) => a * b, 1);
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

const f32 = (data: Float32Array, shape: readonly number[]): Tensor => ({ dtype: 'FP32', shape: [...shape], data });

function diverged(loss: number, epoch: number, step: number, lr: number): FerryError {
  return bad(`the loss became ${loss} at epoch ${epoch}, step ${step} (learning rate ${lr}); lower optimizer.lr (try ${lr / 10}) or check the data for extreme values`);
}

/** Groups consecutive batches of the same size, up to `k`, for one looped run. */
function* chunks(source: Iterable<Batch>, k: number): Generator<Batch[]> {
  let chunk: Batch[] = [];
  for (const b of source) {
    if (chunk.length > 0 && (chunk.length === k || chunk[0]!.size !== b.size)) {
      yield chunk;
      chunk = [];
    }
    chunk.push(b);
  }
  if (chunk.length > 0) yield chunk;
}

/** Tensors of one shape and type, stacked along a new first axis. */
function stack(ts: readonly Tensor[]): Tensor {
  const first = ts[0]!;
  const n = first.data.length;
  const data = first.dtype === 'INT64' ? new BigInt64Array(n * ts.length) : new Float32Array(n * ts.length);
  ts.forEach((t, i) => (data as Float32Array).set(t.data as Float32Array, i * n));
  return { dtype: first.dtype, shape: [ts.length, ...first.shape], data };
}

function inputTensor(n: NetworkShape, x: Float32Array, size: number): Tensor {
  const shape = [size, ...n.inputShape];
  if (n.inputType === 'INT64') return { dtype: 'INT64', shape, data: BigInt64Array.from(x, (v) => BigInt(Math.round(v))) };
  return { dtype: 'FP32', shape, data: x };
}

function targetTensor(n: NetworkShape, y: Int32Array | Float32Array, size: number, d: Dataset): Tensor {
  if (n.targetShape.length === 0) return { dtype: 'INT64', shape: [size], data: BigInt64Array.from(y as Int32Array, (v) => BigInt(v)) };
  const width = n.targetShape.reduce((a, b) => a * b, 1);
  if (!d.classes) return { dtype: 'FP32', shape: [size, ...n.targetShape], data: y as Float32Array };
  const out = new Float32Array(size * width);
  if (n.loss === 'binaryCrossEntropy') for (let i = 0; i < size; i++) out[i] = y[i]!;
  else for (let i = 0; i < size; i++) out[i * width + y[i]!] = 1; // mse on classes: one-hot targets
  return { dtype: 'FP32', shape: [size, ...n.targetShape], data: out };
}

function dropoutMask(rng: Rng, shape: readonly number[], p: number, batch: number): Tensor {
  const n = batch * shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const keep = 1 / (1 - p);
  for (let i = 0; i < n; i++) data[i] = rng.next() >= p ? keep : 0;
  return { dtype: 'FP32', shape: [batch, ...shape], data };
}

async function evaluate(session: Session, n: NetworkShape, d: Dataset, named: readonly [string, { shape: readonly number[] }][],
  params: ReadonlyMap<string, Float32Array>, featureSize: number): Promise<{ loss: number; accuracy?: number; f1?: number }> {
  let loss = 0;
  let correct = 0;
  let hasCorrect = false;
  const test: Examples = d.test;
  // confusion counts for the second class ("positive", e.g. spam) of a two-class model
  let [tp, fp, fn] = [0, 0, 0];
  for (const b of batches(test, featureSize, EVAL_BATCH, null)) {
    const feeds: NamedTensors = { input: inputTensor(n, b.x, b.size), target: targetTensor(n, b.y, b.size, d) };
    for (const [name, p] of named) feeds[name] = f32(params.get(name)!, p.shape);
    const out = await session.run(feeds);
    loss += (out['loss']!.data as Float32Array)[0]! * b.size;
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
  };
}
