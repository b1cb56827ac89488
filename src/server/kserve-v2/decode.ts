// KServe V2 inference requests, JSON and binary-tensor (binary_tensor_data extension), decoded into
// Ferry tensors. Pure: bytes in, tensors or a FerryError naming the field out. Never trusts a length,
// a shape or a type it has not checked.
import { FerryError } from '../../core/errors.js';
import { DTYPES, elementCount, fromBytes, isDType, type DType, type Tensor, type TensorData } from '../../core/tensor.js';
import { MAX_PRIORITY } from '../../scheduler/batcher.js';
import { NumericData, parseV2Json } from './fast-json.js';

export interface RequestedOutput {
  readonly name: string;
  readonly binary: boolean;
}

export interface InferRequest {
  readonly id?: string;
  readonly inputs: Record<string, Tensor>;
  /** undefined: every output, encoded as `binaryAll` says */
  readonly outputs?: readonly RequestedOutput[];
  readonly binaryAll: boolean;
  readonly priority?: number;
  /** from the V2 `timeout` parameter, which is in microseconds */
  readonly timeoutMs?: number;
  /** every request parameter, for models that read their own (a text model's `truncation`) */
  readonly parameters: Readonly<Record<string, unknown>>;
}

const MAX_RANK = 16;
const MAX_ELEMENTS = 2 ** 31 - 1;
// Node's timers fire after 1 ms for any delay above 2^31 - 1 ms (about 24.8 days), so a longer
// timeout would turn into an instant 504. Anything that long means "no practical limit": clamp it.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
const utf8 = new TextEncoder();

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A short preview of a request value for an error message. Never throws: JSON.parse accepts arrays
 *  nested 100,000 deep, and JSON.stringify overflows the stack on them. */
function show(v: unknown, max = 50): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch {
    text = undefined;
  }
  text ??= Array.isArray(v) ? 'a deeply nested array' : typeof v;
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/**
 * Reads the Inference-Header-Content-Length header: absent means a plain JSON body. Only decimal
 * digits are accepted, so "", "0x10" or "1e3" get a message about the header instead of a JSON error.
 */
export function parseHeaderLength(raw: string | string[] | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const text = Array.isArray(raw) ? raw.join(',') : raw;
  if (!/^\s*[0-9]{1,15}\s*$/.test(text)) {
    throw bad(`Inference-Header-Content-Length must be the byte length of the JSON part as a decimal integer; got ${JSON.stringify(text.slice(0, 50))}`);
  }
  return Number(text);
}

/**
 * Decodes a request body. `headerLength` is the Inference-Header-Content-Length header when present:
 * the JSON part is that many bytes and binary tensor data follows.
 */
export function decodeInferRequest(body: Buffer, headerLength?: number): InferRequest {
  let jsonPart = body, binary: Buffer | undefined;
  if (headerLength !== undefined) {
    if (!Number.isInteger(headerLength) || headerLength < 0 || headerLength > body.length) {
      throw bad(`Inference-Header-Content-Length is ${headerLength} but the body has ${body.length} bytes; it must be the byte length of the JSON part`);
    }
    jsonPart = body.subarray(0, headerLength);
    binary = body.subarray(headerLength);
  }
  let parsed: unknown;
  try {
    parsed = parseV2Json(jsonPart);
  } catch (err) {
    throw bad(`the request body is not valid JSON (${(err as Error).message}); send a V2 inference request {"inputs": [...]}`);
  }
  return decodeParsed(parsed, binary);
}

function decodeParsed(req: unknown, binary: Buffer | undefined): InferRequest {
  if (!isObject(req)) throw bad('the request body must be a JSON object with an "inputs" array');
  const { id, parameters, inputs, outputs } = req;
  if (id !== undefined && typeof id !== 'string') throw bad('"id" must be a string');
  const params = parameters === undefined ? {} : parameters;
  if (!isObject(params)) throw bad('"parameters" must be an object');
  if (!Array.isArray(inputs) || inputs.length === 0) throw bad('"inputs" must be a non-empty array of tensors {name, shape, datatype, data}');

  const cursor = { offset: 0 };
  const tensors: Record<string, Tensor> = Object.create(null);
  inputs.forEach((input, i) => {
    const t = decodeInput(input, i, binary, cursor);
    if (tensors[t.name]) throw bad(`input "${t.name}" appears twice in "inputs"`);
    tensors[t.name] = t.tensor;
  });
  if (binary && cursor.offset !== binary.length) {
    throw bad(`the binary section has ${binary.length} bytes but the inputs' binary_data_size values add up to ${cursor.offset}; they must match exactly`);
  }

  let requested: RequestedOutput[] | undefined;
  const binaryAll = params.binary_data_output === true;
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw bad('"outputs" must be an array of {name, parameters?}');
    requested = outputs.map((o, i) => {
      if (!isObject(o) || typeof o.name !== 'string' || o.name === '') throw bad(`outputs[${i}] must be an object with a non-empty "name"`);
      const p = o.parameters === undefined ? {} : o.parameters;
      if (!isObject(p)) throw bad(`outputs[${i}].parameters must be an object`);
      return { name: o.name, binary: p.binary_data === undefined ? binaryAll : p.binary_data === true };
    });
  }
  return { id, inputs: tensors, outputs: requested, binaryAll, ...scheduleParams(params), parameters: params };
}

function scheduleParams(p: Record<string, unknown>): { priority?: number; timeoutMs?: number } {
  const out: { priority?: number; timeoutMs?: number } = {};
  if (p.priority !== undefined) {
    if (!Number.isInteger(p.priority) || (p.priority as number) < 0 || (p.priority as number) > MAX_PRIORITY) {
      throw bad(`parameters.priority must be an integer from 0 to ${MAX_PRIORITY} (1 = highest, 0 = the default level); got ${show(p.priority)}`);
    }
    out.priority = p.priority as number;
  }
  if (p.timeout !== undefined) {
    if (!Number.isInteger(p.timeout) || (p.timeout as number) <= 0) throw bad(`parameters.timeout must be a positive integer number of microseconds; got ${show(p.timeout)}`);
    out.timeoutMs = Math.min(MAX_TIMEOUT_MS, Math.max(1, Math.ceil((p.timeout as number) / 1000)));
  }
  return out;
}

function decodeInput(input: unknown, i: number, binary: Buffer | undefined, cursor: { offset: number }): { name: string; tensor: Tensor } {
  if (!isObject(input)) throw bad(`inputs[${i}] must be an object {name, shape, datatype, data}`);
  const { name, shape, datatype, data, parameters } = input;
  if (typeof name !== 'string' || name === '') throw bad(`inputs[${i}].name must be a non-empty string`);
  const where = `input "${name.slice(0, 100)}"`;
  if (!isDType(datatype)) throw bad(`${where}: datatype ${show(datatype)} is not a V2 datatype; use one of ${Object.keys(DTYPES).join(', ')}`);
  const dims = checkShape(shape, where);
  const count = elementCount(dims);
  const p = parameters === undefined ? {} : parameters;
  if (!isObject(p)) throw bad(`${where}: parameters must be an object`);

  if (p.binary_data_size !== undefined) {
    const size = p.binary_data_size;
    if (!binary) throw bad(`${where} has binary_data_size but the request has no Inference-Header-Content-Length header and binary section`);
    if (!Number.isInteger(size) || (size as number) < 0) throw bad(`${where}: binary_data_size must be a non-negative integer; got ${show(size)}`);
    if (data !== undefined) throw bad(`${where} has both "data" and binary_data_size; send one`);
    const n = size as number;
    if (cursor.offset + n > binary.length) {
      throw bad(`${where}: binary_data_size ${n} runs past the end of the binary section (${binary.length - cursor.offset} bytes left)`);
    }
    const bytes = binary.subarray(cursor.offset, cursor.offset + n);
    cursor.offset += n;
    return { name, tensor: { dtype: datatype, shape: dims, data: fromBinary(datatype, dims, count, bytes, where) } };
  }
  if (data === undefined) throw bad(`${where} has no "data" (or binary_data_size with binary data)`);
  return { name, tensor: { dtype: datatype, shape: dims, data: fromJson(datatype, count, data, where) } };
}

function checkShape(shape: unknown, where: string): number[] {
  if (!Array.isArray(shape)) throw bad(`${where}: shape must be an array of non-negative integers`);
  if (shape.length > MAX_RANK) throw bad(`${where}: shape has ${shape.length} dimensions; at most ${MAX_RANK} are allowed`);
  let count = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw bad(`${where}: shape must hold non-negative integers; got ${show(shape, 200)}`);
    count *= d;
    // Each dimension is bounded on its own too: after a 0, [0, 1e300] has no elements, yet the
    // runtime still has to accept 1e300 as a dimension (onnxruntime throws on it).
    if (count > MAX_ELEMENTS || d > MAX_ELEMENTS) throw bad(`${where}: shape ${show(shape, 200)} has more than ${MAX_ELEMENTS} elements or a dimension larger than that`);
  }
  return shape as number[];
}

function fromBinary(dtype: DType, dims: number[], count: number, bytes: Buffer, where: string): TensorData {
  const size = DTYPES[dtype].size;
  if (size === 0) {
    let elems: Uint8Array[];
    try {
      elems = fromBytes(dtype, bytes) as Uint8Array[];
    } catch (err) {
      throw bad(`${where}: ${(err as Error).message}`);
    }
    if (elems.length !== count) throw bad(`${where}: shape ${JSON.stringify(dims)} needs ${count} BYTES elements but the binary data holds ${elems.length}`);
    return elems;
  }
  if (bytes.length !== count * size) {
    throw bad(`${where}: shape ${JSON.stringify(dims)} of ${dtype} needs ${count * size} bytes but binary_data_size is ${bytes.length}`);
  }
  if (dtype === 'BOOL') {
    const j = bytes.findIndex((b) => b > 1);
    if (j >= 0) throw bad(`${where}: BOOL element ${j} is byte ${bytes[j]}; BOOL bytes must be 0 (false) or 1 (true)`);
  }
  return fromBytes(dtype, bytes);
}

/** Flattens row-major nested arrays; V2 allows both flat and nested `data`. */
function flatten(data: unknown[], where: string): unknown[] {
  if (!data.some(Array.isArray)) return data;
  const out: unknown[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > MAX_RANK) throw bad(`${where}: data is nested deeper than ${MAX_RANK} levels`);
    if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else out.push(v);
  };
  walk(data, 0);
  return out;
}

/** The fast path for FP32/FP64 data that parseV2Json already read into doubles: same checks, no boxing. */
function fromNumericFloat(dtype: DType, count: number, values: Float64Array, where: string): TensorData {
  if (values.length !== count) throw bad(`${where}: shape needs ${count} elements but data has ${values.length}`);
  if (dtype === 'FP64') return values;
  const out = new Float32Array(values);
  for (let j = 0; j < count; j++) {
    if (!Number.isFinite(out[j]!)) throw bad(`${where}: data[${j}] must be a number within FP32 range (±3.4e38); got ${values[j]}`);
  }
  return out;
}

function fromJson(dtype: DType, count: number, data: unknown, where: string): TensorData {
  const info = DTYPES[dtype];
  if (info.kind === 'binary-only') throw bad(`${where}: ${dtype} can only be sent as binary data (binary_data_size), not in JSON`);
  if (data instanceof NumericData) {
    if (info.kind === 'float') return fromNumericFloat(dtype, count, data.values, where);
    data = Array.from(data.values);
  }
  if (!Array.isArray(data)) throw bad(`${where}: data must be an array`);
  const flat = flatten(data, where);
  if (flat.length !== count) throw bad(`${where}: shape needs ${count} elements but data has ${flat.length}`);
  const elemErr = (j: number, want: string) => bad(`${where}: data[${j}] must be ${want}; got ${show(flat[j])}`);
  switch (info.kind) {
    case 'float': {
      const out = new info.ctor!(count) as Float32Array | Float64Array;
      const fp32 = dtype === 'FP32';
      for (let j = 0; j < count; j++) {
        const v = flat[j];
        // JSON has no Infinity; a number beyond FP32's range would silently become one.
        if (typeof v !== 'number' || (fp32 && !Number.isFinite(Math.fround(v)))) throw elemErr(j, `a number${fp32 ? ' within FP32 range (±3.4e38)' : ''}`);
        out[j] = v;
      }
      return out;
    }
    case 'int': {
      const out = new info.ctor!(count) as Int32Array;
      for (let j = 0; j < count; j++) {
        const v = flat[j];
        if (!Number.isInteger(v) || (v as number) < info.min! || (v as number) > info.max!) throw elemErr(j, `an integer from ${info.min} to ${info.max} for ${dtype}`);
        out[j] = v as number;
      }
      return out;
    }
    case 'bigint': {
      const out = dtype === 'INT64' ? new BigInt64Array(count) : new BigUint64Array(count);
      for (let j = 0; j < count; j++) {
        const v = flat[j];
        // JSON numbers beyond 2^53 have already lost precision; send such values as binary data.
        if (!Number.isSafeInteger(v) || (v as number) < info.min!) throw elemErr(j, `an integer from ${info.min} to ${info.max} for ${dtype} (binary data carries the full range)`);
        out[j] = BigInt(v as number);
      }
      return out;
    }
    case 'bool': {
      const out = new Uint8Array(count);
      for (let j = 0; j < count; j++) {
        const v = flat[j];
        if (v === true || v === 1) out[j] = 1;
        else if (v !== false && v !== 0) throw elemErr(j, 'true or false');
      }
      return out;
    }
    case 'bytes':
      return flat.map((v, j) => {
        if (typeof v !== 'string') throw elemErr(j, 'a string');
        return utf8.encode(v);
      });
  }
  throw bad(`${where}: unsupported datatype ${dtype}`);
}
