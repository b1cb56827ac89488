// Examples as the model takes them: which input they feed, in what dtype and per-example shape, cut
// into batches for accuracy, latency and calibration. Datasets hold features as flat float32 rows;
// a model may want them reshaped ([784] → [1, 28, 28]) or as int64 token ids.
import { readFile } from 'node:fs/promises';
import { FerryError } from '../core/errors.js';
import { seededRandom } from '../core/random.js';
import type { NamedTensors, Tensor } from '../core/tensor.js';
import { inspectOnnx } from '../graph/onnx.js';
import type { Signature, TensorSpec } from '../runtimes/runtime.js';
import type { Examples } from '../training/data/dataset.js';

export interface ModelInput {
  readonly name: string;
  readonly dtype: 'FP32' | 'INT64';
  /** one example's shape, without the batch */
  readonly exampleShape: readonly number[];
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The ONNX graph's own inputs and outputs. A version's registered signature can be another: a text
 *  classifier is served from strings ("text", BYTES) but its graph takes token ids. */
export function graphSignature(bytes: Uint8Array): Signature {
  const s = inspectOnnx(bytes);
  const spec = (v: (typeof s.inputs)[number]): TensorSpec => {
    if (v.dtype === null) throw new FerryError('INVALID_ARGUMENT', `the model's value "${v.name}" is not a tensor type Ferry can feed or read (element type ${v.elemType}, ${v.kind})`);
    return { name: v.name, dtype: v.dtype, shape: (v.shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
  };
  return { inputs: s.inputs.map(spec), outputs: s.outputs.map(spec) };
}

/** How dataset rows of `featureSize` values feed the model, or why they cannot (a string). The
 *  shape comes from the model when it fixes every dimension but the batch, else from the training
 *  record (a text model's [128] token ids for an input [-1, -1]). */
export function modelInput(sig: Signature, featureSize: number, recorded?: readonly number[]): ModelInput | string {
  if (sig.inputs.length !== 1) return `the model takes ${sig.inputs.length} inputs (${sig.inputs.map((i) => i.name).join(', ')}); examples from a dataset feed single-input models`;
  const input = sig.inputs[0]!;
  if (input.dtype !== 'FP32' && input.dtype !== 'INT64') return `the model's input "${input.name}" is ${input.dtype}; dataset examples feed FP32 features or INT64 token ids`;
  const fixed = input.shape.slice(1);
  let exampleShape: readonly number[] | undefined;
  if (fixed.every((d) => d > 0) && size(fixed) === featureSize) exampleShape = fixed;
  else if (recorded && size(recorded) === featureSize && recorded.length === fixed.length) exampleShape = recorded;
  else if (fixed.length === 1 && fixed[0] === -1) exampleShape = [featureSize];
  if (!exampleShape) return `the model's input "${input.name}" has shape [${input.shape.join(', ')}], which examples of ${featureSize} values do not fit`;
  return { name: input.name, dtype: input.dtype, exampleShape };
}

/** Examples [start, start + count) as one input tensor; indices past the end wrap around, so a
 *  small set still fills a batch of 64. */
export function batchOf(input: ModelInput, ex: Examples, start: number, count: number): Tensor {
  const width = size(input.exampleShape);
  const rows = new Float32Array(count * width);
  for (let i = 0; i < count; i++) {
    const r = (start + i) % ex.n;
    rows.set(ex.x.subarray(r * width, (r + 1) * width), i * width);
  }
  const shape = [count, ...input.exampleShape];
  if (input.dtype === 'INT64') return { dtype: 'INT64', shape, data: BigInt64Array.from(rows, (v) => BigInt(Math.round(v))) };
  return { dtype: 'FP32', shape, data: rows };
}

/** Inputs for timing a model nobody gave examples for: uniform [0, 1) floats and zero ids, open
 *  dimensions other than the batch set to 1 (what the signature allows at its smallest). */
export function syntheticFeeds(inputs: readonly TensorSpec[], batch: number, seed = 1): NamedTensors {
  const random = seededRandom(seed);
  const feeds: NamedTensors = {};
  for (const spec of inputs) {
    const shape = spec.shape.map((d, i) => (i === 0 && d === -1 ? batch : d === -1 ? 1 : d));
    const n = size(shape);
    if (spec.dtype === 'FP32') feeds[spec.name] = { dtype: 'FP32', shape, data: Float32Array.from({ length: n }, random) };
    else if (spec.dtype === 'INT64') feeds[spec.name] = { dtype: 'INT64', shape, data: new BigInt64Array(n) };
    else if (spec.dtype === 'INT32') feeds[spec.name] = { dtype: 'INT32', shape, data: new Int32Array(n) };
    else throw new FerryError('INVALID_ARGUMENT', `cannot make timing inputs for "${spec.name}" (${spec.dtype}); the report times FP32, INT32 and INT64 inputs`);
  }
  return feeds;
}

/** The first `count` examples in batches of `batch`: a calibration set. */
export function calibrationBatches(input: ModelInput, ex: Examples, count: number, batch = 32): NamedTensors[] {
  const total = Math.min(count, ex.n);
  const out: NamedTensors[] = [];
  for (let start = 0; start < total; start += batch) out.push({ [input.name]: batchOf(input, ex, start, Math.min(batch, total - start)) });
  return out;
}

/** A calibration file: {"<input>": {"shape": [N, ...], "data": [N × … numbers]}} for every input of
 *  the model, cut into batches of `batch` examples. */
export async function readCalibrationFile(file: string, sig: Signature, count: number, batch = 32): Promise<NamedTensors[]> {
  const where = `calibration file ${file}`;
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new FerryError('INVALID_ARGUMENT', e.code === 'ENOENT' ? `${where} does not exist` : `${where} is not readable JSON: ${e.message}`);
  }
  const shapeHint = sig.inputs.map((i) => `"${i.name}": {"shape": [N, ${i.shape.slice(1).join(', ')}], "data": [...]}`).join(', ');
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FerryError('INVALID_ARGUMENT', `${where} must be a JSON object of input tensors: {${shapeHint}}`);
  const tensors = new Map<string, { shape: number[]; data: number[] }>();
  let n = -1;
  for (const spec of sig.inputs) {
    const t = (raw as Record<string, unknown>)[spec.name] as { shape?: unknown; data?: unknown } | undefined;
    const shape = t?.shape;
    const data = t?.data;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d > 0) || !Array.isArray(data) || !data.every((v) => typeof v === 'number')) {
      throw new FerryError('INVALID_ARGUMENT', `${where} needs input "${spec.name}" as {"shape": [N, ...], "data": [numbers]}; the model's inputs: {${shapeHint}}`);
    }
    if (size(shape) !== data.length) throw new FerryError('INVALID_ARGUMENT', `${where}: "${spec.name}" has shape [${shape.join(', ')}] (${size(shape)} values) but ${data.length} values`);
    const bad = spec.shape.findIndex((d, i) => d !== -1 && d !== shape[i] && i > 0);
    if (shape.length !== spec.shape.length || bad >= 0) throw new FerryError('INVALID_ARGUMENT', `${where}: "${spec.name}" has shape [${shape.join(', ')}]; the model takes [${spec.shape.map((d) => (d === -1 ? 'N' : d)).join(', ')}]`);
    if (n >= 0 && shape[0] !== n) throw new FerryError('INVALID_ARGUMENT', `${where}: every input needs the same number of examples; "${spec.name}" has ${shape[0]}, another ${n}`);
    n = shape[0] as number;
    tensors.set(spec.name, { shape, data });
  }
  const total = Math.min(n, count);
  const out: NamedTensors[] = [];
  for (let start = 0; start < total; start += batch) {
    const k = Math.min(batch, total - start);
    const feeds: NamedTensors = {};
    for (const spec of sig.inputs) {
      const t = tensors.get(spec.name)!;
      const width = size(t.shape.slice(1));
      const slice = t.data.slice(start * width, (start + k) * width);
      const shape = [k, ...t.shape.slice(1)];
      feeds[spec.name] = spec.dtype === 'INT64' ? { dtype: 'INT64', shape, data: BigInt64Array.from(slice, (v) => BigInt(Math.round(v))) }
        : spec.dtype === 'INT32' ? { dtype: 'INT32', shape, data: Int32Array.from(slice) }
        : { dtype: 'FP32', shape, data: Float32Array.from(slice) };
    }
    out.push(feeds);
  }
  return out;
}
