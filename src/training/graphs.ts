// The three graphs a training run needs, recorded from one network definition:
//   train step — forward, loss, backward and optimizer update: parameters and optimizer state in,
//                their next values out (onnxruntime-node has no IO binding to keep them inside);
//   evaluation — forward and loss on held-out data, parameters fed;
//   inference  — forward only, parameters baked in as initializers: the model that gets registered.
// Every graph takes a run-time batch dimension, so one session serves full and partial batches.
import { gradients } from './autodiff/backward.js';
import { emitModel } from './autodiff/emit.js';
import { Tape, type Value, type VType } from './autodiff/tape.js';
import { correctCount, lossValue, servingOutputs, targetKind, type LossName } from './nn/losses.js';
import type { ForwardContext, Module, Parameter } from './nn/module.js';
import type { Optimizer } from './nn/optimizers.js';

export interface NetworkShape {
  readonly net: Module;
  readonly loss: LossName;
  /** one example's shape, without the batch */
  readonly inputShape: readonly number[];
  readonly inputType: VType;
  /** one target's shape for float targets (e.g. [1] or [10]); [] for class ids */
  readonly targetShape: readonly number[];
}

export interface MaskInput {
  readonly name: string;
  /** per-example shape (the batch is prepended at run time) */
  readonly shape: readonly number[];
  readonly p: number;
}

export interface TrainGraph {
  readonly onnx: Uint8Array;
  /** parameter names that are updated, in order */
  readonly trainable: readonly string[];
  readonly masks: readonly MaskInput[];
  readonly hasCorrect: boolean;
}

export const nextName = (name: string): string => `${name}.next`;
export const slotName = (param: string, slot: string): string => `${param}.${slot}`;

class Recorder implements ForwardContext {
  readonly tape = new Tape();
  readonly params = new Map<Parameter, Value>();
  readonly masks: MaskInput[] = [];

  constructor(readonly names: ReadonlyMap<Parameter, string>, readonly training: boolean) {}

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

function record(n: NetworkShape, training: boolean) {
  const names = new Map(n.net.namedParameters().map(([name, p]) => [p, name] as const));
  const r = new Recorder(names, training);
  const x = r.tape.input('input', [-1, ...n.inputShape], n.inputType);
  const out = n.net.forward(x, r);
  const target = targetKind(n.loss) === 'classes'
    ? r.tape.input('target', [-1], 'INT64')
    : r.tape.input('target', [-1, ...n.targetShape], 'FP32');
  return { r, out, target };
}

export function buildTrainGraph(n: NetworkShape, optimizer: Optimizer, frozen: ReadonlySet<string>): TrainGraph {
  const { r, out, target } = record(n, true);
  const loss = lossValue(n.loss, out, target);
  const correct = correctCount(n.loss, out, target);
  const trainable = n.net.namedParameters().filter(([name]) => !frozen.has(name));
  // make sure every trainable parameter is an input, even one the forward pass never reached
  const pv = trainable.map(([, p]) => r.param(p));
  const grads = gradients(loss, pv);
  const scalars = Object.fromEntries(optimizer.scalars.map((s) => [s, r.tape.input(`opt_${s}`, [])]));
  const outputs: Record<string, Value> = { loss };
  if (correct) outputs['correct'] = correct;
  trainable.forEach(([name, p], i) => {
    const state = optimizer.slots.map((slot) => r.tape.input(slotName(name, slot), p.shape));
    const u = optimizer.update(pv[i]!, grads[i]!, state, scalars);
    outputs[nextName(name)] = u.p;
    u.state.forEach((s, k) => (outputs[nextName(slotName(name, optimizer.slots[k]!))] = s));
  });
  return { onnx: emitModel(r.tape, { outputs, graphName: 'train_step' }), trainable: trainable.map(([name]) => name), masks: r.masks, hasCorrect: correct !== undefined };
}

export function buildEvalGraph(n: NetworkShape): Uint8Array {
  const { r, out, target } = record(n, false);
  const outputs: Record<string, Value> = { loss: lossValue(n.loss, out, target) };
  const correct = correctCount(n.loss, out, target);
  if (correct) outputs['correct'] = correct;
  return emitModel(r.tape, { outputs, graphName: 'evaluate' });
}

/** The model to serve: forward only, trained weights baked in, no training nodes. */
export function buildInferenceModel(n: NetworkShape, params: ReadonlyMap<string, Float32Array>, metadata: Record<string, string>): Uint8Array {
  const { r, out } = record(n, false);
  const bake = new Map<Value, Float32Array>();
  for (const [p, v] of r.params) bake.set(v, params.get(r.names.get(p)!)!);
  return emitModel(r.tape, { outputs: servingOutputs(n.loss, out), bake, metadata, graphName: 'inference' });
}
