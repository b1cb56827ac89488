// The three graphs a training run needs, recorded from one network definition:
//   train step — forward, loss, backward and optimizer update: parameters and optimizer state in,
//                their next values out (onnxruntime-node has no IO binding to keep them inside);
//   evaluation — forward and loss on held-out data, parameters fed;
//   inference  — forward only, parameters baked in as initializers: the model that gets registered
//                (or, for a network that serves another graph, that graph: a VAE's decoder).
// A loss compares the network's output with a fed `target`; a network that scores itself (a VAE,
// `"loss": "elbo"`) computes its own from the input, and its terms are returned beside the loss.
// Every graph takes a run-time batch dimension, so one session serves full and partial batches.
import { gradients } from './autodiff/backward.js';
import { emitModel, emitOnnx } from './autodiff/emit.js';
import { loopModel, nextOf as nextName } from './autodiff/loop.js';
import { encodeModel } from '../graph/onnx.js';
import * as F from './autodiff/fn.js';
import { Tape, type Value, type VType } from './autodiff/tape.js';
import { correctCount, lossValue, servingOutputs, targetKind, type LossName } from './nn/losses.js';
import { Linear, Sequential } from './nn/layers.js';
import type { ForwardContext, Module, Parameter } from './nn/module.js';
import type { Optimizer } from './nn/optimizers.js';

export interface NetworkShape {
  readonly net: Module;
  readonly loss: LossName;
  /** one example's shape, without the batch */
  readonly inputShape: readonly number[];
  readonly inputType: VType;
  /** one target's shape: for float targets e.g. [1] or [10]; for class ids [] (one per example) or
   *  [T] (one per position: a language model's next token) */
  readonly targetShape: readonly number[];
}

export interface MaskInput {
  readonly name: string;
  /** per-example shape (the batch is prepended at run time) */
  readonly shape: readonly number[];
  readonly p: number;
}

/** Standard normal noise a network asked for (ForwardContext.normalNoise), fed per step. */
export interface NoiseInput {
  readonly name: string;
  /** per-example shape (the batch is prepended at run time) */
  readonly shape: readonly number[];
}

/** Where each trainable parameter sits in the flat parameter buffer. */
export interface Slot {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
}

export interface TrainGraph {
  /** K steps per run: an ONNX Loop over the step (see autodiff/loop.ts) */
  readonly onnx: Uint8Array;
  /** the trainable parameters, in the order of the flat buffer */
  readonly layout: readonly Slot[];
  /** floats in the flat buffer */
  readonly total: number;
  /** parameters fed one by one and left as they are */
  readonly frozen: readonly string[];
  readonly masks: readonly MaskInput[];
  readonly noises: readonly NoiseInput[];
  readonly hasCorrect: boolean;
  /** false for a network that scores itself: no `target` is fed */
  readonly hasTarget: boolean;
  /** the names of the loss terms a self-scoring network reports; each step returns `term.NAME` */
  readonly terms: readonly string[];
  /** the network's output shape, e.g. [-1, 10]; [] for a network that scores itself */
  readonly outputShape: readonly number[];
}

/** The evaluation graph and what it is fed besides the batch and the parameters. */
export interface EvalGraph {
  readonly onnx: Uint8Array;
  readonly noises: readonly NoiseInput[];
  readonly hasTarget: boolean;
  readonly terms: readonly string[];
}

/** The train step's inputs and outputs for the flat buffers. */
export const FLAT_PARAMS = 'params';
/** 1 where a trainable value may change, 0 where it stays exactly 0 (a pruned weight); fed only
 *  when the graph was built `masked` */
export const KEEP_PARAMS = 'params.keep';
export const flatState = (slot: string): string => `opt.${slot}`;
export const termName = (term: string): string => `term.${term}`;
export { nextOf as nextName, stackedName, STEPS_INPUT } from './autodiff/loop.js';

class Recorder implements ForwardContext {
  readonly tape = new Tape();
  readonly params = new Map<Parameter, Value>();
  readonly masks: MaskInput[] = [];
  readonly noises: NoiseInput[] = [];

  constructor(readonly names: ReadonlyMap<Parameter, string>, readonly training: boolean) {}

  /** Makes the trainable parameters pieces of one flat input: the optimizer then updates one big
   *  vector with a dozen ops instead of a dozen ops per parameter, and a step passes three arrays
   *  in and out instead of three per parameter. */
  flatten(trainable: readonly Parameter[]): Value {
    const total = trainable.reduce((n, p) => n + p.size, 0);
    const flat = this.tape.input(FLAT_PARAMS, [total]);
    const pieces = trainable.length === 1 ? [flat] : F.split(flat, trainable.map((p) => p.size), 0);
    trainable.forEach((p, i) => this.params.set(p, F.reshape(pieces[i]!, p.shape)));
    return flat;
  }

  param(p: Parameter): Value {
    let v = this.params.get(p);
    if (!v) {
      v = this.tape.input(this.names.get(p)!, p.shape);
      this.params.set(p, v);
    }
    return v;
  }

  dropoutMask(shape: readonly number[], p: number): Value {
    const name = `dropout_mask_${this.masks.length}`;
    this.masks.push({ name, shape: shape.slice(1), p });
    return this.tape.input(name, shape);
  }

  normalNoise(shape: readonly number[]): Value {
    if (shape[0] !== -1) throw new Error(`normal noise is drawn per example: its shape must start with the batch (-1), got [${shape.join(', ')}]`);
    const name = `normal_noise_${this.noises.length}`;
    this.noises.push({ name, shape: shape.slice(1) });
    return this.tape.input(name, shape);
  }
}

const recorder = (n: NetworkShape, training: boolean): Recorder =>
  new Recorder(new Map(n.net.namedParameters().map(([name, p]) => [p, name] as const)), training);

function record(n: NetworkShape, training: boolean, variable = false, inputName = 'input') {
  const r = recorder(n, training);
  return { r, ...forward(n, r, variable, inputName) };
}

/** `variable`: the sequence dimension is known only at run time (an exported text model). */
function forward(n: NetworkShape, r: Recorder, variable = false, inputName = 'input') {
  const x = r.tape.input(inputName, [-1, ...n.inputShape.map((d) => (variable ? -1 : d))], n.inputType);
  return withHidden(n.net, x, r);
}

/** The loss of one batch, and what is reported beside it. */
interface Scored {
  readonly loss: Value;
  readonly correct?: Value;
  readonly terms: Readonly<Record<string, Value>>;
  /** the network's output, when a loss compared it with a target */
  readonly out?: Value;
}

/** Records the forward pass and the loss: the spec's loss on the output and a `target` input, or,
 *  for "elbo", the network's own objective on the input alone. */
function score(n: NetworkShape, r: Recorder): Scored {
  if (n.loss === 'elbo') {
    const x = r.tape.input('input', [-1, ...n.inputShape], n.inputType);
    if (!n.net.objective) throw new Error(`loss "elbo" needs a network with its own objective; ${n.net.describe()} has none`);
    const o = n.net.objective(x, r);
    if (o.loss.rank !== 0) throw new Error(`${n.net.describe()}'s objective must be a scalar, got shape [${o.loss.shape.join(', ')}]`);
    return { loss: o.loss, terms: o.terms };
  }
  const { out } = forward(n, r);
  const target = r.tape.input('target', [-1, ...n.targetShape], targetKind(n.loss) === 'classes' ? 'INT64' : 'FP32');
  return { loss: lossValue(n.loss, out, target), correct: correctCount(n.loss, out, target), terms: {}, out };
}

const termOutputs = (terms: Readonly<Record<string, Value>>): Record<string, Value> =>
  Object.fromEntries(Object.entries(terms).map(([k, v]) => [termName(k), v]));

/** A network trained to predict a class at every position of a sequence: a language model. */
export const isLanguageModel = (n: NetworkShape): boolean => targetKind(n.loss) === 'classes' && n.targetShape.length > 0;

/** For a text network ending in a Linear head, the head's input too: one vector per text, which an
 *  exported model also serves as its `embeddings` (/v1/embeddings). */
function withHidden(net: Module, x: Value, r: Recorder): { out: Value; hidden?: Value } {
  const last = net instanceof Sequential ? net.layers.at(-1) : undefined;
  if (!(net instanceof Sequential) || !net.variableLength || !(last instanceof Linear) || net.layers.length < 2) return { out: net.forward(x, r) };
  const hidden = new Sequential(net.layers.slice(0, -1)).forward(x, r);
  return { out: last.forward(hidden, r), hidden };
}

export function buildTrainGraph(n: NetworkShape, optimizer: Optimizer, frozen: ReadonlySet<string>, masked = false): TrainGraph {
  const r = recorder(n, true);
  const trainable = n.net.namedParameters().filter(([name]) => !frozen.has(name));
  const flat = r.flatten(trainable.map(([, p]) => p));
  const { loss, correct, terms, out } = score(n, r);
  const [grad] = gradients(loss, [flat]);
  const scalars = Object.fromEntries(optimizer.scalars.map((s) => [s, r.tape.input(`opt_${s}`, [])]));
  const state = optimizer.slots.map((slot) => r.tape.input(flatState(slot), flat.shape));
  const u = optimizer.update(flat, grad!, state, scalars);
  const outputs: Record<string, Value> = { loss, ...termOutputs(terms) };
  if (correct) outputs['correct'] = correct;
  // Pruning's fine-tune (src/optimize/prune.ts): the mask is applied inside every step, not between
  // runs, so each forward pass of the K looped steps sees exactly the pruned network.
  outputs[nextName(FLAT_PARAMS)] = masked ? F.mul(u.p, r.tape.input(KEEP_PARAMS, flat.shape)) : u.p;
  u.state.forEach((v, k) => (outputs[nextName(flatState(optimizer.slots[k]!))] = v));
  let offset = 0;
  const layout = trainable.map(([name, p]) => {
    const slot = { name, shape: p.shape, offset, size: p.size };
    offset += p.size;
    return slot;
  });
  const step = emitOnnx(r.tape, { outputs, graphName: 'train_step' });
  const onnx = encodeModel(loopModel(step, {
    carried: [FLAT_PARAMS, ...optimizer.slots.map(flatState)],
    perStep: ['input', 'target', ...r.masks.map((m) => m.name), ...r.noises.map((m) => m.name), ...optimizer.scalars.map((k) => `opt_${k}`)],
    scans: ['loss', ...(correct ? ['correct'] : []), ...Object.keys(terms).map(termName)],
  }));
  return {
    onnx, layout, total: offset,
    frozen: [...frozen], masks: r.masks, noises: r.noises, hasCorrect: correct !== undefined, hasTarget: out !== undefined,
    terms: Object.keys(terms), outputShape: out?.shape ?? [],
  };
}

/** The network's output shape, from a forward recording alone (checking a spec without data). */
export function outputShape(n: NetworkShape): readonly number[] {
  return record(n, false).out.shape;
}

export function buildEvalGraph(n: NetworkShape): EvalGraph {
  const r = recorder(n, false);
  const { loss, correct, terms, out } = score(n, r);
  const outputs: Record<string, Value> = { loss, ...termOutputs(terms) };
  if (correct) outputs['correct'] = correct;
  // class predictions for per-class metrics (F1 of a two-class model)
  if (out && n.loss === 'crossEntropy' && !isLanguageModel(n)) outputs['predicted'] = F.argmax(out, -1);
  return { onnx: emitModel(r.tape, { outputs, graphName: 'evaluate' }), noises: r.noises, hasTarget: out !== undefined, terms: Object.keys(terms) };
}

/** The model to serve: forward only, trained weights baked in, no training nodes. A language model
 *  takes `input_ids` [batch, sequence] and gives `logits` [batch, sequence, vocab], as a Hugging
 *  Face causal LM export does. */
export function buildInferenceModel(n: NetworkShape, params: ReadonlyMap<string, Float32Array>, metadata: Record<string, string>): Uint8Array {
  if (n.net.serve) return buildServedModel(n, params, metadata);
  const lm = isLanguageModel(n);
  const { r, out, hidden } = record(n, false, n.net.variableLength, lm ? 'input_ids' : 'input');
  const bake = new Map<Value, Float32Array>();
  for (const [p, v] of r.params) bake.set(v, params.get(r.names.get(p)!)!);
  // a self-scoring network without a served graph of its own serves its forward pass as it is
  const outputs = { ...(n.loss === 'elbo' ? { output: out } : servingOutputs(n.loss, out)), ...(hidden ? { embeddings: hidden } : {}) };
  return emitModel(r.tape, { outputs, bake, metadata, graphName: 'inference', ...(lm ? { sequenceDim: 'sequence' } : {}) });
}

/** A network that serves another graph than its forward pass (a VAE: z → image): the graph its
 *  `serve` records, with the parameters it uses baked in. */
function buildServedModel(n: NetworkShape, params: ReadonlyMap<string, Float32Array>, metadata: Record<string, string>): Uint8Array {
  const r = recorder(n, false);
  const outputs = n.net.serve!((name, shape) => r.tape.input(name, [-1, ...shape]), r);
  if (r.noises.length > 0 || r.masks.length > 0) throw new Error(`${n.net.describe()} asks for random inputs in its served graph; serving feeds none`);
  const bake = new Map<Value, Float32Array>();
  for (const [p, v] of r.params) bake.set(v, params.get(r.names.get(p)!)!);
  return emitModel(r.tape, { outputs, bake, metadata, graphName: 'inference' });
}
