// Repeating one example along the batch axis: the rows of a Riemann sum or of occluded copies all
// share the example's other inputs (token ids, masks, recurrent state).
import type { Tensor } from '../core/tensor.js';

/** Repeats a tensor whose batch axis is 1 `rows` times along that axis. */
export function tile(t: Tensor, rows: number): Tensor {
  const shape = [rows, ...t.shape.slice(1)];
  if (Array.isArray(t.data)) return { ...t, shape, data: Array.from({ length: rows }, () => t.data as Uint8Array[]).flat() };
  const data = t.data as Float32Array;
  const out = new (data.constructor as Float32ArrayConstructor)(data.length * rows);
  for (let r = 0; r < rows; r++) out.set(data, r * data.length);
  return { ...t, shape, data: out };
}
