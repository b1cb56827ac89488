// KServe V2 inference responses: JSON data, or binary tensor data appended after the JSON header
// (binary_tensor_data extension) for outputs the client asked to get as binary.
import type { NamedTensors, Tensor } from '../../core/tensor.js';
import { toBytes } from '../../core/tensor.js';
import type { RequestedOutput } from './decode.js';

export interface EncodedResponse {
  readonly body: string | Buffer;
  /** set when binary data follows the JSON; becomes Inference-Header-Content-Length */
  readonly headerLength?: number;
}

const utf8Decoder = new TextDecoder();

function jsonData(t: Tensor): unknown[] {
  const d = t.data;
  if (Array.isArray(d)) return d.map((b) => utf8Decoder.decode(b));
  if (t.dtype === 'BOOL') return Array.from(d as Uint8Array, (x) => x !== 0);
  // INT64/UINT64 become JSON numbers (exact up to 2^53, as the V2 spec warns); ask for binary to keep all bits.
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Array.from(d, Number);
  return Array.from(d as Float32Array);
}

export function encodeInferResponse(
  modelName: string,
  modelVersion: number,
  id: string | undefined,
  outputs: NamedTensors,
  requested: readonly RequestedOutput[] | undefined,
  binaryAll: boolean,
): EncodedResponse {
  const wanted = requested ?? Object.keys(outputs).map((name) => ({ name, binary: binaryAll }));
  const parts: Buffer[] = [];
  const entries = wanted.map(({ name, binary }) => {
    const t = outputs[name]!;
    // FP16 has no JSON form in the V2 protocol, so it always travels as binary.
    if (binary || t.dtype === 'FP16') {
      const bytes = toBytes(t);
      parts.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { name, datatype: t.dtype, shape: t.shape, parameters: { binary_data_size: bytes.byteLength } };
    }
    return { name, datatype: t.dtype, shape: t.shape, data: jsonData(t) };
  });
  const header = JSON.stringify(id === undefined
    ? { model_name: modelName, model_version: String(modelVersion), outputs: entries }
    : { model_name: modelName, model_version: String(modelVersion), id, outputs: entries });
  if (parts.length === 0) return { body: header };
  const head = Buffer.from(header, 'utf8');
  return { body: Buffer.concat([head, ...parts]), headerLength: head.length };
}
