// What one onnxruntime run of training steps is fed: batches as tensors (ids as int64, class ids or
// float targets), dropout masks and normal noise drawn from the run's generator, and runs of K
// same-size batches stacked for the looped step graph.
import type { Tensor } from '../core/tensor.js';
import type { Batch } from './data/batches.js';
import type { Dataset } from './data/dataset.js';
import type { NetworkShape } from './graphs.js';
import { targetKind } from './nn/losses.js';
import type { Rng } from './rng.js';

export const f32 = (data: Float32Array, shape: readonly number[]): Tensor => ({ dtype: 'FP32', shape: [...shape], data });


/** Groups consecutive batches of the same size, up to `k`, for one looped run. */
export function* chunks(source: Iterable<Batch>, k: number): Generator<Batch[]> {
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
export function stack(ts: readonly Tensor[]): Tensor {
  const first = ts[0]!;
  const n = first.data.length;
  const data = first.dtype === 'INT64' ? new BigInt64Array(n * ts.length) : new Float32Array(n * ts.length);
  ts.forEach((t, i) => (data as Float32Array).set(t.data as Float32Array, i * n));
  return { dtype: first.dtype, shape: [ts.length, ...first.shape], data };
}

export function inputTensor(n: NetworkShape, x: Float32Array, size: number): Tensor {
  const shape = [size, ...n.inputShape];
  if (n.inputType === 'INT64') return { dtype: 'INT64', shape, data: BigInt64Array.from(x, (v) => BigInt(Math.round(v))) };
  return { dtype: 'FP32', shape, data: x };
}

export function targetTensor(n: NetworkShape, y: Int32Array | Float32Array, size: number, d: Dataset): Tensor {
  // class ids: one per example, or one per position ([size, T]) for a language model
  if (targetKind(n.loss) === 'classes') return { dtype: 'INT64', shape: [size, ...n.targetShape], data: BigInt64Array.from(y as Int32Array, (v) => BigInt(v)) };
  const width = n.targetShape.reduce((a, b) => a * b, 1);
  if (!d.classes) return { dtype: 'FP32', shape: [size, ...n.targetShape], data: y as Float32Array };
  const out = new Float32Array(size * width);
  if (n.loss === 'binaryCrossEntropy') for (let i = 0; i < size; i++) out[i] = y[i]!;
  else for (let i = 0; i < size; i++) out[i * width + y[i]!] = 1; // mse on classes: one-hot targets
  return { dtype: 'FP32', shape: [size, ...n.targetShape], data: out };
}

export function dropoutMask(rng: Rng, shape: readonly number[], p: number, batch: number): Tensor {
  const n = batch * shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const keep = 1 / (1 - p);
  for (let i = 0; i < n; i++) data[i] = rng.next() >= p ? keep : 0;
  return { dtype: 'FP32', shape: [batch, ...shape], data };
}

/** Standard normal noise for `batch` examples of `shape` (a VAE's ε). */
export function normalNoise(rng: Rng, shape: readonly number[], batch: number): Tensor {
  const data = new Float32Array(batch * shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { dtype: 'FP32', shape: [batch, ...shape], data };
}

/** targets per example: 1 for a class id, T for a language model's next tokens */
export function outputsPerExample(n: NetworkShape): number {
  return n.targetShape.reduce((a, b) => a * b, 1);
}
