// Pure functions in the middle of dynamic batching: which requests may share a batch, how their inputs
// concatenate along the batch dimension, and how the outputs split back. No clock, no I/O.
import { FerryError } from '../core/errors.js';
import { allocate, type NamedTensors, type Tensor, type TensorData } from '../core/tensor.js';

/**
 * Requests batch together only when every input has the same name, dtype and non-batch dimensions
 * (Triton's rule, unless ragged batching is declared). The key is a string so it can index a Map.
 */
export function batchKey(inputs: NamedTensors): string {
  let key = '';
  for (const name of Object.keys(inputs).sort()) {
    const t = inputs[name]!;
    key += `${name}:${t.dtype}:${t.shape.slice(1).join('x')};`;
  }
  return key;
}

/** Rows a request contributes to a batch: the first dimension of its inputs, which must agree. */
export function batchRows(inputs: NamedTensors): number {
  let rows = -1;
  for (const [name, t] of Object.entries(inputs)) {
    if (t.shape.length === 0) throw new FerryError('INVALID_ARGUMENT', `input "${name}" is a scalar, but this model batches along the first dimension; send shape [1, ...]`);
    if (rows === -1) rows = t.shape[0]!;
    else if (t.shape[0] !== rows) {
      throw new FerryError('INVALID_ARGUMENT', `inputs disagree on the batch dimension: "${name}" has ${t.shape[0]} rows, another input has ${rows}`);
    }
  }
  return Math.max(rows, 0);
}

/** Concatenates the inputs of several requests (all with one batchKey) along dimension 0. */
export function mergeInputs(requests: readonly NamedTensors[]): NamedTensors {
  if (requests.length === 1) return requests[0]!;
  const first = requests[0]!;
  const merged: NamedTensors = {};
  for (const name of Object.keys(first)) {
    const parts = requests.map((r) => r[name]!);
    const rows = parts.reduce((n, t) => n + t.shape[0]!, 0);
    merged[name] = { dtype: first[name]!.dtype, shape: [rows, ...first[name]!.shape.slice(1)], data: concat(parts) };
  }
  return merged;
}

function concat(parts: readonly Tensor[]): TensorData {
  const d0 = parts[0]!.data;
  if (Array.isArray(d0)) return parts.flatMap((t) => t.data as Uint8Array[]);
  let total = 0;
  for (const t of parts) total += t.data.length;
  const out = allocate(parts[0]!.dtype, total) as Exclude<TensorData, Uint8Array[]>;
  let off = 0;
  for (const t of parts) {
    (out as Float32Array).set(t.data as Float32Array, off);
    off += t.data.length;
  }
  return out;
}

/**
 * Splits a batch's outputs back into per-request outputs by row counts. Outputs whose first dimension
 * is not the batch size (a model that reduces over the batch) cannot be split and fail the batch.
 */
export function splitOutputs(outputs: NamedTensors, rows: readonly number[]): NamedTensors[] {
  if (rows.length === 1) return [outputs];
  const total = rows.reduce((a, b) => a + b, 0);
  const result: NamedTensors[] = rows.map(() => ({}));
  for (const [name, t] of Object.entries(outputs)) {
    if (t.shape[0] !== total) {
      throw new FerryError('INTERNAL', `output "${name}" has first dimension ${t.shape[0]} for a batch of ${total} rows, so it cannot be split per request; set maxBatchSize 0 for this model`);
    }
    const perRow = total === 0 ? 0 : t.data.length / total;
    let row = 0;
    rows.forEach((n, i) => {
      const start = row * perRow, end = (row + n) * perRow;
      // subarray shares memory with the batch result: no copy on the hot path.
      const data = Array.isArray(t.data) ? t.data.slice(start, end) : t.data.subarray(start, end);
      result[i]![name] = { dtype: t.dtype, shape: [n, ...t.shape.slice(1)], data };
      row += n;
    });
  }
  return result;
}
