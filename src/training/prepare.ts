// Everything about a training run that can be checked before a step runs: the spec against the data
// (shapes, labels, token ids), the network's size, the freeze prefixes, and a checkpoint to resume
// from. Each problem is reported in the user's terms, before any time is spent training.
import { FerryError } from '../core/errors.js';
import { CharVocab } from '../text/char-vocab.js';
import { fmtShape } from './autodiff/tape.js';
import type { Checkpoint } from './checkpoint.js';
import type { Dataset } from './data/dataset.js';
import { buildTrainGraph, outputShape, type NetworkShape, type TrainGraph } from './graphs.js';
import { buildModel } from './nn/build.js';
import { targetKind } from './nn/losses.js';
import type { Module } from './nn/module.js';
import { makeOptimizer, type Optimizer } from './nn/optimizers.js';
import type { TrainSpec } from './spec.js';

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);

/** Everything about a spec that can be checked before a step runs. */
export interface PreparedRun {
  readonly shape: NetworkShape;
  readonly optimizer: Optimizer;
  readonly frozen: Set<string>;
  readonly train: TrainGraph;
  readonly classes?: readonly string[];
}

/** `masked`: the step takes a keep-mask over the parameters (TrainInput.keep) */
export function prepare(spec: TrainSpec, dataset: Dataset, network?: Module, masked = false): PreparedRun {
  const featureSize = dataset.featureShape.reduce((a, b) => a * b, 1);
  const inputShape = spec.input ?? dataset.featureShape;
  const inputSize = inputShape.reduce((a, b) => a * b, 1);
  if (inputSize !== featureSize) {
    throw bad(`input ${fmtShape(inputShape)} holds ${inputSize} values but ${dataset.name} examples have ${featureSize} (shape ${fmtShape(dataset.featureShape)}); set "input" to a shape of ${featureSize} values`);
  }
  if (dataset.train.n === 0 || dataset.test.n === 0) throw bad(`dataset ${dataset.name} has ${dataset.train.n} training and ${dataset.test.n} test examples; both must be non-empty`);
  const net = network ?? networkOf(spec);
  const kind = targetKind(spec.loss);
  checkObjective(spec, net);
  if (kind === 'classes' && !dataset.classes && !dataset.labelShape) {
    throw bad(`${spec.loss} needs class labels, but ${dataset.name} has float targets; use "loss": "mse" for regression`);
  }
  if (dataset.labelShape && kind === 'floats') {
    throw bad(`${dataset.name} holds a token id to predict at every position; train it with "loss": "crossEntropy"`);
  }
  // class ids: one per example ([]), or one per position of a sequence ([T]) for a language model
  let targetShape: number[] = dataset.labelShape && kind === 'classes' ? [...dataset.labelShape] : [];
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
  const train = buildTrainGraph(shape, optimizer, frozen, masked);
  if (dataset.charVocab) checkVocab(dataset, net, train.outputShape.at(-1)!);
  if (kind === 'classes') checkLabels(dataset, train.outputShape.at(-1)!);
  if (net.idTableSize !== undefined) checkTokenIds(dataset, net.idTableSize);
  // a self-scoring network (a VAE) learns the inputs, not the labels: its model carries no classes
  return { shape, optimizer, frozen, train, ...(kind === 'none' ? {} : { classes: dataset.classes }) };
}

function networkOf(spec: TrainSpec): Module {
  try {
    return buildModel(spec.model);
  } catch (err) {
    if (err instanceof FerryError) err.message = `model: ${err.message}`;
    throw err;
  }
}

/** Checks the layers of a spec without any data — their size, the freeze prefixes and, when the
 *  input shape is known, every layer's shapes: what an API can refuse before a job is queued. */
export function checkNetwork(spec: TrainSpec, inputShape?: readonly number[]): void {
  const net = networkOf(spec);
  checkObjective(spec, net);
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

/** "elbo" is the network's own objective: only a network that has one trains with it, and a network
 *  that has one (a VAE) trains with nothing else. */
function checkObjective(spec: TrainSpec, net: Module): void {
  if (spec.loss === 'elbo' && !net.objective) {
    throw bad(`loss: "elbo" is the objective of a network that scores itself, such as a VAE layer; ${net.describe()} does not: use crossEntropy, mse or binaryCrossEntropy`);
  }
  if (spec.loss !== 'elbo' && net.objective) {
    throw bad(`loss: ${net.describe()} trains on its own objective; set "loss": "elbo"`);
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
export function checkResume(c: Checkpoint, params: ReadonlyMap<string, Float32Array>, state: ReadonlyMap<string, Float32Array>): void {
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
    const perExample = Math.max(1, y.length / Math.max(1, ex.n));
    for (let i = 0; i < y.length; i++) {
      if (y[i]! < 0 || y[i]! >= outputs) {
        throw bad(`label ${y[i]} (${d.classes?.[y[i]!] ?? '?'}) of ${part} example ${Math.floor(i / perExample)} is out of range for a network with ${outputs} outputs; make the last layer output ${d.classes?.length ?? y[i]! + 1} classes`);
      }
    }
  }
}

/** A language model's embedding table and output must be exactly its vocabulary's size: a GGUF file
 *  declares one token list for both, and llama.cpp refuses a model whose tensors disagree with it. */
function checkVocab(d: Dataset, net: Module, outputs: number): void {
  const vocab = CharVocab.fromJSON(d.charVocab);
  const what = `${d.name} has a vocabulary of ${vocab.size} tokens (3 special, 256 bytes, ${vocab.chars.length} characters)`;
  if (net.idTableSize !== vocab.size) throw bad(`${what} but the model's token table has ${net.idTableSize ?? 'no'} rows; set the model's vocab to ${vocab.size}`);
  if (outputs !== vocab.size) throw bad(`${what} but the model outputs ${outputs} logits per position; set its vocab to ${vocab.size}`);
}
