// Finite-difference checking of the gradient table, run through onnxruntime: the analytic gradient
// graph and the perturbed forward runs are both real ONNX models, so a rule that emits a wrong op,
// a wrong attribute or a wrong shape fails here just as it would in training.
import assert from 'node:assert/strict';
import type { NamedTensors, Tensor } from '../../../src/core/tensor.js';
import { openGraphSession } from '../../../src/runtimes/onnx/session.js';
import { gradients } from '../../../src/training/autodiff/backward.js';
import { emitModel } from '../../../src/training/autodiff/emit.js';
import * as F from '../../../src/training/autodiff/fn.js';
import { Tape, type Value } from '../../../src/training/autodiff/tape.js';
import { Rng } from '../../../src/training/rng.js';

export interface CheckInput {
  readonly name: string;
  /** shape recorded on the tape: -1 marks a run-time (batch) dimension */
  readonly shape: readonly number[];
  /** shape fed at run time; defaults to `shape` */
  readonly runShape?: readonly number[];
  readonly data: Float32Array | BigInt64Array;
  /** whether to check its gradient (float inputs only); default true for FP32 */
  readonly check?: boolean;
}

export function randn(rng: Rng, n: number, scale = 1, offset = 0): Float32Array {
  return Float32Array.from({ length: n }, () => offset + scale * rng.normal());
}

/** Checks d(sum(f(inputs) · R))/d(input) for every checked input against central differences.
 *  Returns the largest error seen, relative to max(1, |gradient|). */
export async function gradCheck(
  inputs: readonly CheckInput[],
  f: (xs: Value[]) => Value,
  opts: { eps?: number; tol?: number; samples?: number; seed?: number } = {},
): Promise<number> {
  const rng = new Rng(opts.seed ?? 1);
  const eps = opts.eps ?? 1e-2;
  const tol = opts.tol ?? 2e-2;
  const tape = new Tape();
  const xs = inputs.map((i) => tape.input(i.name, i.shape, i.data instanceof BigInt64Array ? 'INT64' : 'FP32'));
  const out = f(xs);
  const runOut = await runShapeOf(inputs, f, out);
  // A random projection makes every output element matter with a different weight.
  const weights = tape.input('__weights', out.shape);
  const loss = F.sumAll(F.mul(out, weights));
  const checked = xs.filter((x, i) => x.dtype === 'FP32' && inputs[i]!.check !== false);
  const grads = gradients(loss, checked);
  const outputs: Record<string, Value> = { loss };
  grads.forEach((g, i) => (outputs[`grad_${checked[i]!.name}`] = g));
  const session = await openGraphSession(emitModel(tape, { outputs }));
  const feeds: NamedTensors = {};
  for (const i of inputs) feeds[i.name] = tensor(i.data, i.runShape ?? i.shape);
  const w = randn(rng, runOut.reduce((a, b) => a * b, 1));
  feeds['__weights'] = tensor(w, runOut);
  const result = await session.run(feeds);
  let worst = 0;
  try {
    for (const x of checked) {
      const input = inputs.find((i) => i.name === x.name)!;
      const analytic = result[`grad_${x.name}`]!.data as Float32Array;
      const data = input.data as Float32Array;
      assert.equal(analytic.length, data.length, `gradient of ${x.name} has the input's size`);
      const picks = data.length <= (opts.samples ?? 24) ? [...data.keys()] : Array.from({ length: opts.samples ?? 24 }, () => rng.int(data.length));
      for (const k of picks) {
        const orig = data[k]!;
        data[k] = orig + eps;
        const up = await lossOf(session, feeds, input, data);
        data[k] = orig - eps;
        const down = await lossOf(session, feeds, input, data);
        data[k] = orig;
        const numeric = (up - down) / (2 * eps);
        const err = Math.abs(numeric - analytic[k]!) / Math.max(1, Math.abs(analytic[k]!));
        worst = Math.max(worst, err);
        assert.ok(err <= tol, `d/d${x.name}[${k}]: analytic ${analytic[k]}, finite difference ${numeric}`);
      }
    }
  } finally {
    await session.release();
  }
  return worst;
}

async function lossOf(session: Awaited<ReturnType<typeof openGraphSession>>, feeds: NamedTensors, input: CheckInput, data: Float32Array): Promise<number> {
  const r = await session.run({ ...feeds, [input.name]: tensor(data, input.runShape ?? input.shape) }, ['loss']);
  return (r['loss']!.data as Float32Array)[0]!;
}

function tensor(data: Float32Array | BigInt64Array, shape: readonly number[]): Tensor {
  return { dtype: data instanceof BigInt64Array ? 'INT64' : 'FP32', shape: [...shape], data };
}

/** The output's shape at run time: the recorded one with the batch filled in by a forward-only run. */
async function runShapeOf(inputs: readonly CheckInput[], f: (xs: Value[]) => Value, out: Value): Promise<number[]> {
  if (!out.shape.includes(-1)) return [...out.shape];
  const tape = new Tape();
  const xs = inputs.map((i) => tape.input(i.name, i.shape, i.data instanceof BigInt64Array ? 'INT64' : 'FP32'));
  const s = await openGraphSession(emitModel(tape, { outputs: { y: f(xs) } }));
  const feeds: NamedTensors = {};
  for (const i of inputs) feeds[i.name] = tensor(i.data, i.runShape ?? i.shape);
  const r = await s.run(feeds);
  await s.release();
  return r['y']!.shape as number[];
}
