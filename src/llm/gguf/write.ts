// Writing a GGUF file: metadata and F32/F16 tensors, laid out exactly as llama.cpp's loader checks
// them (tensor offsets are the running sum of sizes, each rounded up to the alignment, and nothing else).
import { alignUp, DEFAULT_ALIGNMENT, GGML_TYPE_BYTES, GGML_TYPES, GGUF_MAGIC, GGUF_VERSION, SCALAR_BYTES, VALUE_TYPES, type GgmlTypeName, type GgufValue, type ScalarTypeName } from './format.js';

export interface GgufTensorIn {
  readonly name: string;
  /** PyTorch order, slowest-varying first ([out, in] for a weight); written reversed, as ggml wants */
  readonly shape: readonly number[];
  readonly type: GgmlTypeName;
  readonly data: Float32Array;
}

const utf8 = new TextEncoder();

/** A growable little-endian byte buffer. */
class Out {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  scalar(type: ScalarTypeName, v: number | bigint | boolean | string): void {
    if (type === 'string') {
      const b = utf8.encode(v as string);
      this.scalar('uint64', BigInt(b.length));
      this.bytes(b);
      return;
    }
    const n = SCALAR_BYTES[type]!;
    this.room(n);
    const o = this.length;
    const d = this.view;
    switch (type) {
      case 'uint8': d.setUint8(o, v as number); break;
      case 'int8': d.setInt8(o, v as number); break;
      case 'bool': d.setUint8(o, v ? 1 : 0); break;
      case 'uint16': d.setUint16(o, v as number, true); break;
      case 'int16': d.setInt16(o, v as number, true); break;
      case 'uint32': d.setUint32(o, v as number, true); break;
      case 'int32': d.setInt32(o, v as number, true); break;
      case 'float32': d.setFloat32(o, v as number, true); break;
      case 'float64': d.setFloat64(o, v as number, true); break;
      case 'uint64': d.setBigUint64(o, BigInt(v as number | bigint), true); break;
      case 'int64': d.setBigInt64(o, BigInt(v as number | bigint), true); break;
    }
    this.length += n;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  pad(to: number): void {
    const n = alignUp(this.length, to) - this.length;
    this.room(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Float32 → IEEE half bits, rounding to nearest even (Node 20 has no Float16Array). */
export function toHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // a carry into the exponent is right: it rounds up a power of two
  return sign | half;
}

function writeValue(out: Out, v: GgufValue): void {
  out.scalar('uint32', VALUE_TYPES.indexOf(v.type));
  if (v.type === 'array') {
    out.scalar('uint32', VALUE_TYPES.indexOf(v.itemType));
    out.scalar('uint64', BigInt(v.value.length));
    for (const item of v.value) out.scalar(v.itemType, item);
  } else {
    out.scalar(v.type, v.value);
  }
}

/** The whole file, in memory. `metadata` keeps its order; `general.alignment` is added when absent. */
export function writeGguf(metadata: readonly (readonly [string, GgufValue])[], tensors: readonly GgufTensorIn[]): Uint8Array {
  const alignEntry = metadata.find(([k]) => k === 'general.alignment');
  const alignment = alignEntry ? Number(alignEntry[1].value) : DEFAULT_ALIGNMENT;
  const kv = alignEntry ? metadata : [...metadata, ['general.alignment', { type: 'uint32', value: alignment }] as const];
  const out = new Out();
  out.scalar('uint32', GGUF_MAGIC);
  out.scalar('uint32', GGUF_VERSION);
  out.scalar('uint64', BigInt(tensors.length));
  out.scalar('uint64', BigInt(kv.length));
  for (const [key, value] of kv) {
    out.scalar('string', key);
    writeValue(out, value);
  }
  let offset = 0;
  const sizes = tensors.map((t) => {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`tensor ${t.name}: shape [${t.shape}] holds ${count} values but ${t.data.length} were given`);
    return count * GGML_TYPE_BYTES[t.type];
  });
  tensors.forEach((t, i) => {
    out.scalar('string', t.name);
    out.scalar('uint32', t.shape.length);
    for (const d of [...t.shape].reverse()) out.scalar('uint64', BigInt(d));
    out.scalar('uint32', GGML_TYPES[t.type]);
    out.scalar('uint64', BigInt(offset));
    offset = alignUp(offset + sizes[i]!, alignment);
  });
  out.pad(alignment);
  tensors.forEach((t) => {
    const bytes = t.type === 'F32'
      ? new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)
      : new Uint8Array(Uint16Array.from(t.data, toHalf).buffer);
    out.bytes(bytes);
    out.pad(alignment);
  });
  return out.result();
}
