// Shared by the nn tests: record a module's forward pass (or any tape function) and run it through
// onnxruntime, plus the plain-JS helpers the references are written with.
import assert from 'node:assert/strict';
import type { NamedTensors, Tensor } from '../../../src/core/tensor.js';
import { openGraphSession } from '../../../src/runtimes/onnx/session.js';
import { emitModel } from '../../../src/training/autodiff/emit.js';
import { Tape, type Value } from '../../../src/training/autodiff/tape.js';
import type { Dataset } from '../../../src/training/data/dataset.js';
import type { ForwardContext, Module, Parameter } from '../../../src/training/nn/module.js';
import { Rng } from '../../../src/training/rng.js';

export interface Fed {
  readonly shape: readonly number[];
  readonly data: Float32Array | BigInt64Array;
}

export const tensor = (t: Fed): Tensor =>
  ({ dtype: t.data instanceof BigInt64Array ? 'INT64' : 'FP32', shape: [...t.shape], data: t.data });

/** Records `f` on a fresh tape with one input per entry of `inputs`, emits it and runs it once.
 *  `recordShape` lets an input be recorded with a run-time (-1) batch dimension. */
export async function runTape(
  inputs: Readonly<Record<string, Fed & { recordShape?: readonly number[] }>>,
  f: (xs: Record<string, Value>, tape: Tape) => Record<string, Value>,
): Promise<Record<string, { shape: number[]; data: Float32Array }>> {
  const tape = new Tape();
  const xs: Record<string, Value> = {};
  for (const [name, t] of Object.entries(inputs)) {
    xs[name] = tape.input(name, t.recordShape ?? t.shape, t.data instanceof BigInt64Array ? 'INT64' : 'FP32');
  }
  const outputs = f(xs, tape);
  const session = await openGraphSession(emitModel(tape, { outputs }));
  try {
    const feeds: NamedTensors = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = tensor(t);
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { shape: v.shape as number[], data: v.data as Float32Array }]));
  } finally {
    await session.release();
  }
}

export interface ForwardOptions {
  readonly training?: boolean;
  /** the masks handed to Dropout layers, in the order they ask for them */
  readonly masks?: readonly Float32Array[];
  /** record the input's first dimension as the run-time batch (-1); default true */
  readonly dynamicBatch?: boolean;
}

/** A module's forward pass through onnxruntime, its parameters fed from their current values. */
export async function forward(m: Module, x: Fed, opts: ForwardOptions = {}): Promise<{ shape: number[]; data: Float32Array; maskRequests: { shape: readonly number[]; p: number }[] }> {
  const tape = new Tape();
  const dtype = x.data instanceof BigInt64Array ? 'INT64' : 'FP32';
  const recorded = opts.dynamicBatch === false ? x.shape : [-1, ...x.shape.slice(1)];
  const input = tape.input('x', recorded, dtype);
  const params = new Map<Parameter, Value>();
  const names = new Map(m.namedParameters().map(([n, p]) => [p, n] as const));
  const maskRequests: { shape: readonly number[]; p: number }[] = [];
  const ctx: ForwardContext = {
    training: opts.training ?? false,
    param(p) {
      if (!params.has(p)) params.set(p, tape.input(names.get(p) ?? `p${params.size}`, p.shape));
      return params.get(p)!;
    },
    dropoutMask(shape, p) {
      maskRequests.push({ shape, p });
      return tape.input(`mask${maskRequests.length - 1}`, shape);
    },
    normalNoise() {
      throw new Error('forward() feeds no noise; record a noisy module with its own context');
    },
  };
  const y = m.forward(input, ctx);
  const session = await openGraphSession(emitModel(tape, { outputs: { y } }));
  try {
    const feeds: NamedTensors = { x: tensor(x) };
    for (const [p, v] of params) feeds[v.name] = tensor({ shape: p.shape, data: p.data });
    maskRequests.forEach((_, i) => {
      const data = opts.masks?.[i];
      assert.ok(data, `the test supplies mask ${i}`);
      feeds[`mask${i}`] = tensor({ shape: maskRequests[i]!.shape.map((d) => (d < 0 ? x.shape[0]! : d)), data });
    });
    const out = (await session.run(feeds))['y']!;
    return { shape: out.shape as number[], data: out.data as Float32Array, maskRequests };
  } finally {
    await session.release();
  }
}

export function randn(rng: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * rng.normal());
}

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Element-wise |a − b| ≤ atol + rtol·|b|, naming the first element that is off. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, atol = 1e-5, rtol = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.ok(Math.abs(a - e) <= atol + rtol * Math.abs(e), `${what}[${i}]: got ${a}, expected ${e}`);
  }
}

/** erf to ~1e-7 (Abramowitz & Stegun 7.1.26), for the GELU reference. */
export function erf(x: number): number {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
  return s * (1 - poly * Math.exp(-a * a));
}

/** A dataset held in memory, as the trainer takes it. */
export function memoryDataset(d: {
  name?: string;
  featureShape: readonly number[];
  classes?: readonly string[];
  targetSize?: number;
  train: { x: Float32Array; y: Int32Array | Float32Array };
  test: { x: Float32Array; y: Int32Array | Float32Array };
}): Dataset {
  const f = size(d.featureShape);
  const ex = (s: { x: Float32Array; y: Int32Array | Float32Array }) => ({ n: s.x.length / f, x: s.x, y: s.y });
  const train = ex(d.train);
  const test = ex(d.test);
  return {
    name: d.name ?? 'synthetic',
    featureShape: d.featureShape,
    ...(d.classes ? { classes: d.classes } : {}),
    ...(d.targetSize ? { targetSize: d.targetSize } : {}),
    train,
    test,
    record: { type: 'jsonl', source: 'memory', trainSize: train.n, testSize: test.n, split: 'given' },
  };
}

/** Two Gaussian blobs split by the line u + v = 0, pushed apart by ±0.5: linearly separable. */
export function twoBlobs(seed: number, n: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.normal();
    const v = rng.normal();
    const label = u + v > 0 ? 1 : 0;
    const shift = label ? 0.5 : -0.5;
    x[i * 2] = u + shift;
    x[i * 2 + 1] = v + shift;
    y[i] = label;
  }
  return { x, y };
}
