// The three graphs a training run needs, recorded from one network definition:
//   train step — forward, loss, backward and optimizer update: parameters and optimizer state in,
//                their next values out (onnxruntime-node has no IO binding to keep them inside);
//   evaluation — forward and loss on held-out data, parameters fed;
//   inference  — forward only, parameters baked in as initializers: the model that gets registered.
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
  readonly hasCorrect: boolean;
  /** the network's output shape, e.g. [-1, 10] */
  readonly outputShape: readonly number[];
}

/** The train step's inputs and outputs for the flat buffers. */
export const FLAT_PARAMS = 'params';
export const flatState = (slot: string): string => `opt.${slot}`;
export { nextOf as nextName, stackedName, STEPS_INPUT } from './autodiff/loop.js';

class Recorder implements ForwardContext {
  readonly tape = new Tape();
  readonly params = new Map<Parameter, Value>();
  readonly masks: MaskInput[] = [];

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
}

function record(n: NetworkShape, training: boolean, variable = false, inputName = 'input') {
  const names = new Map(n.net.namedParameters().map(([name, p]) => [p, name] as const));
  const r = new Recorder(names, training);
  return { r, ...forward(n, r, variable, inputName) };
}

/** `variable`: the sequence dimension is known only at run time (an exported text model). */
function forward(n: NetworkShape, r: Recorder, variable = false, inputName = 'input') {
  const x = r.tape.input(inputName, [-1, ...n.inputShape.map((d) => (variable ? -1 : d))], n.inputType);
  const { out, hidden } = withHidden(n.net, x, r);
  const target = r.tape.input('target', [-1, ...n.targetShape], targetKind(n.loss) === 'classes' ? 'INT64' : 'FP32');
  return { out, target, hidden };
}

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

export function buildTrainGraph(n: NetworkShape, optimizer: Optimizer, frozen: ReadonlySet<string>): TrainGraph {
  const names = new Map(n.net.namedParameters().map(([name, p]) => [p, name] as const));
  const r = new Recorder(names, true);
  const trainable = n.net.namedParameters().filter(([name]) => !frozen.has(name));
  const flat = r.flatten(trainable.map(([, p]) => p));
  const { out, target } = forward(n, r);
  const loss = lossValue(n.loss, out, target);
  const correct = correctCount(n.loss, out, target);
  const [grad] = gradients(loss, [flat]);
  const scalars = Object.fromEntries(optimizer.scalars.map((s) => [s, r.tape.input(`opt_${s}`, [])]));
  const state = optimizer.slots.map((slot) => r.tape.input(flatState(slot), flat.shape));
  const u = optimizer.update(flat, grad!, state, scalars);
  const outputs: Record<string, Value> = { loss };
  if (correct) outputs['correct'] = correct;
  outputs[nextName(FLAT_PARAMS)] = u.p;
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
    perStep: ['input', 'target', ...r.masks.map((m) => m.name), ...optimizer.scalars.map((k) => `opt_${k}`)],
    scans: correct ? ['loss', 'correct'] : ['loss'],
  }));
  return {
    onnx, layout, total: offset,
    frozen: [...frozen], masks: r.masks, hasCorrect: correct !== undefined, outputShape: out.shape,
  };
}

/** The network's output shape, from a forward recording alone (checking a spec without data). */
export function outputShape(n: NetworkShape): readonly number[] {
  return record(n, false).out.shape;
}

export function buildEvalGraph(n: NetworkShape): Uint8Array {
  const { r, out, target } = record(n, false);
  const outputs: Record<string, Value> = { loss: lossValue(n.loss, out, target) };
  const correct = correctCount(n.loss, out, target);
  if (correct) outputs['correct'] = correct;
  // class predictions for per-class metrics (F1 of a two-class model)
  if (n.loss === 'crossEntropy' && !isLanguageModel(n)) outputs['predicted'] = F.argmax(out, -1);
  return emitModel(r.tape, { outputs, graphName: 'evaluate' });
}

/** The model to serve: forward only, trained weights baked in, no training nodes. A language model
 *  takes `input_ids` [batch, sequence] and gives `logits` [batch, sequence, vocab], as a Hugging
 *  Face causal LM export does. */
export function buildInferenceModel(n: NetworkShape, params: ReadonlyMap<string, Float32Array>, metadata: Record<string, string>): Uint8Array {
  const lm = isLanguageModel(n);
  const { r, out, hidden } = record(n, false, n.net.variableLength, lm ? 'input_ids' : 'input');
  const bake = new Map<Value, Float32Array>();
  for (const [p, v] of r.params) bake.set(v, params.get(r.names.get(p)!)!);
  const outputs = { ...servingOutputs(n.loss, out), ...(hidden ? { embeddings: hidden } : {}) };
  return emitModel(r.tape, { outputs, bake, metadata, graphName: 'inference', ...(lm ? { sequenceDim: 'sequence' } : {}) });
}
