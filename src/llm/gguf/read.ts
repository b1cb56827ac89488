// Reading a GGUF file's header — metadata and tensor infos — with every length and count checked
// against the file, so that a truncated or hostile file is refused with a message instead of
// reaching llama.cpp, which can crash the whole process on a malformed one. Only the header is
// read; tensor data is checked by its offsets and sizes.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { alignUp, DEFAULT_ALIGNMENT, GGUF_MAGIC, SCALAR_BYTES, VALUE_TYPES, type GgufValue, type ScalarTypeName } from './format.js';

export interface GgufTensorInfo {
  readonly name: string;
  /** ggml order: fastest-varying first */
  readonly dims: readonly number[];
  /** ggml type id (0 F32, 1 F16, others quantized) */
  readonly type: number;
  /** from the start of the tensor data */
  readonly offset: number;
}

export interface GgufHeader {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** where tensor data starts in the file */
  readonly dataOffset: number;
  readonly fileSize: number;
}

export class GgufError extends Error {
  override readonly name = 'GgufError';
}

/** Counts beyond these are not a model but an attack on memory. */
const MAX_KV = 1 << 16;
const MAX_TENSORS = 1 << 16;
const MAX_ARRAY = 1 << 24;
const MAX_STRING = 1 << 24;
const MAX_HEADER = 256 << 20;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Sequential reads over a file, a window at a time; never past MAX_HEADER. */
class Cursor {
  pos = 0;
  private buf = new Uint8Array(0);
  private start = 0;

  constructor(private readonly fd: number, readonly size: number) {}

  private need(n: number): Uint8Array {
    if (this.pos + n > this.size) throw new GgufError(`the file ends at byte ${this.size} but the header needs ${this.pos + n}: it is truncated or not a GGUF file`);
    if (this.pos + n > MAX_HEADER) throw new GgufError(`the header runs past ${MAX_HEADER >> 20} MiB; refusing to read it`);
    if (this.pos < this.start || this.pos + n > this.start + this.buf.length) {
      const len = Math.min(Math.max(n, 1 << 20), this.size - this.pos);
      this.buf = new Uint8Array(len);
      readSync(this.fd, this.buf, 0, len, this.pos);
      this.start = this.pos;
    }
    const at = this.pos - this.start;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }

  scalar(type: ScalarTypeName, what: string): number | bigint | boolean | string {
    if (type === 'string') {
      const len = this.count('uint64', MAX_STRING, `${what}'s length`);
      try {
        return utf8.decode(this.need(len));
      } catch (e) {
        if (e instanceof GgufError) throw e;
        throw new GgufError(`${what} is not valid UTF-8`);
      }
    }
    const b = this.need(SCALAR_BYTES[type]!);
    const d = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (type) {
      case 'uint8': return d.getUint8(0);
      case 'int8': return d.getInt8(0);
      case 'bool': return d.getUint8(0) !== 0;
      case 'uint16': return d.getUint16(0, true);
      case 'int16': return d.getInt16(0, true);
      case 'uint32': return d.getUint32(0, true);
      case 'int32': return d.getInt32(0, true);
      case 'float32': return d.getFloat32(0, true);
      case 'float64': return d.getFloat64(0, true);
      case 'uint64': return d.getBigUint64(0, true);
      case 'int64': return d.getBigInt64(0, true);
    }
  }

  count(type: 'uint32' | 'uint64', max: number, what: string): number {
    const v = BigInt(this.scalar(type, what) as number | bigint);
    if (v > BigInt(max)) throw new GgufError(`${what} is ${v}, more than the ${max} Ferry accepts`);
    return Number(v);
  }

  valueType(what: string): (typeof VALUE_TYPES)[number] {
    const id = this.scalar('uint32', what) as number;
    const t = VALUE_TYPES[id];
    if (t === undefined) throw new GgufError(`${what} has value type ${id}, which GGUF does not define (0–12)`);
    return t;
  }
}

function readValue(c: Cursor, key: string): GgufValue {
  const type = c.valueType(`the type of "${key}"`);
  if (type !== 'array') return { type, value: c.scalar(type, `"${key}"`) } as GgufValue;
  const itemType = c.valueType(`the item type of "${key}"`);
  if (itemType === 'array' || itemType === 'uint64' || itemType === 'int64') throw new GgufError(`"${key}" is an array of ${itemType}, which Ferry does not read`);
  const n = c.count('uint64', MAX_ARRAY, `the length of "${key}"`);
  const value: (number | string | boolean)[] = new Array(n);
  for (let i = 0; i < n; i++) value[i] = c.scalar(itemType, `"${key}"[${i}]`) as number | string | boolean;
  return { type: 'array', itemType, value };
}

/** Bytes of a tensor of a ggml type, for the types whose block layout Ferry knows. */
export function tensorBytes(type: number, elements: number): number | undefined {
  // [block size, bytes per block] from ggml.c's type traits, for the common types
  const blocks: Record<number, [number, number]> = { 0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210], 30: [1, 2] };
  const b = blocks[type];
  if (!b) return undefined;
  if (elements % b[0] !== 0) return NaN;
  return (elements / b[0]) * b[1];
}

/** Reads and checks the header of the GGUF file at `path`. Throws GgufError saying what is wrong. */
export function readGgufHeader(path: string): GgufHeader {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const c = new Cursor(fd, size);
    if (size < 24 || c.scalar('uint32', 'the magic') !== GGUF_MAGIC) throw new GgufError('not a GGUF file: it does not start with "GGUF"');
    const version = c.scalar('uint32', 'the version') as number;
    if (version !== 2 && version !== 3) throw new GgufError(`GGUF version ${version} is not supported; Ferry reads versions 2 and 3`);
    const nTensors = c.count('uint64', MAX_TENSORS, 'the tensor count');
    const nKv = c.count('uint64', MAX_KV, 'the metadata count');
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < nKv; i++) {
      const key = c.scalar('string', `metadata key ${i}`) as string;
      if (metadata.has(key)) throw new GgufError(`metadata key "${key}" appears twice`);
      metadata.set(key, readValue(c, key));
    }
    const align = metadata.get('general.alignment');
    const alignment = align === undefined ? DEFAULT_ALIGNMENT : Number(align.value);
    if (align !== undefined && (align.type !== 'uint32' || alignment <= 0 || alignment % 32 !== 0)) {
      throw new GgufError(`general.alignment must be a uint32 multiple of 32; got ${String(align.value)}`);
    }
    const tensors: GgufTensorInfo[] = [];
    const names = new Set<string>();
    for (let i = 0; i < nTensors; i++) {
      const name = c.scalar('string', `tensor ${i}'s name`) as string;
      if (names.has(name)) throw new GgufError(`tensor "${name}" appears twice`);
      names.add(name);
      const nDims = c.scalar('uint32', `tensor "${name}"'s rank`) as number;
      if (nDims < 1 || nDims > 4) throw new GgufError(`tensor "${name}" has ${nDims} dimensions; ggml allows 1 to 4`);
      const dims = Array.from({ length: nDims }, (_, d) => c.count('uint64', 2 ** 40, `tensor "${name}"'s dimension ${d}`));
      const type = c.scalar('uint32', `tensor "${name}"'s type`) as number;
      const offset = c.count('uint64', Number.MAX_SAFE_INTEGER, `tensor "${name}"'s offset`);
      tensors.push({ name, dims, type, offset });
    }
    const dataOffset = alignUp(c.pos, alignment);
    for (const t of tensors) {
      const elements = t.dims.reduce((a, b) => a * b, 1);
      const bytes = tensorBytes(t.type, elements);
      if (bytes === undefined) continue; // a type Ferry does not size: llama.cpp checks it
      if (Number.isNaN(bytes)) throw new GgufError(`tensor "${t.name}" has ${elements} elements, not a whole number of its type's blocks`);
      if (t.offset % alignment !== 0) throw new GgufError(`tensor "${t.name}" starts at offset ${t.offset}, not a multiple of the alignment ${alignment}`);
      if (dataOffset + t.offset + bytes > size) throw new GgufError(`tensor "${t.name}" ends at byte ${dataOffset + t.offset + bytes} but the file has ${size}: it is truncated`);
    }
    return { version, metadata, tensors, alignment, dataOffset, fileSize: size };
  } finally {
    closeSync(fd);
  }
}
