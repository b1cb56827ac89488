// Ferry's one in-memory tensor type. Every wire format decodes into it and every runtime consumes it,
// so a protocol adapter and a runtime never need to know about each other.

/** KServe V2 datatype names; Ferry uses them everywhere so no table translates them twice. */
export type DType =
  | 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64'
  | 'INT8' | 'INT16' | 'INT32' | 'INT64'
  | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

/** Element storage per dtype. BOOL is one byte per element (as on the binary wire); FP16 keeps raw bits;
 *  BYTES keeps raw bytes per element so non-UTF-8 payloads survive a round trip. */
export type TensorData =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | BigInt64Array | BigUint64Array | Float32Array | Float64Array | Uint8Array[];

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export type NamedTensors = Record<string, Tensor>;

type NumericCtor =
  | Uint8ArrayConstructor | Int8ArrayConstructor | Uint16ArrayConstructor | Int16ArrayConstructor
  | Uint32ArrayConstructor | Int32ArrayConstructor | BigInt64ArrayConstructor | BigUint64ArrayConstructor
  | Float32ArrayConstructor | Float64ArrayConstructor;

interface DTypeInfo {
  /** bytes per element on the binary wire; 0 for BYTES (length-prefixed, variable) */
  readonly size: number;
  readonly ctor: NumericCtor | null;
  /** element kind for JSON decoding */
  readonly kind: 'bool' | 'int' | 'bigint' | 'float' | 'bytes' | 'binary-only';
  readonly min?: number;
  readonly max?: number;
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  BOOL: { size: 1, ctor: Uint8Array, kind: 'bool' },
  UINT8: { size: 1, ctor: Uint8Array, kind: 'int', min: 0, max: 0xff },
  UINT16: { size: 2, ctor: Uint16Array, kind: 'int', min: 0, max: 0xffff },
  UINT32: { size: 4, ctor: Uint32Array, kind: 'int', min: 0, max: 0xffffffff },
  UINT64: { size: 8, ctor: BigUint64Array, kind: 'bigint', min: 0, max: Number.MAX_SAFE_INTEGER },
  INT8: { size: 1, ctor: Int8Array, kind: 'int', min: -0x80, max: 0x7f },
  INT16: { size: 2, ctor: Int16Array, kind: 'int', min: -0x8000, max: 0x7fff },
  INT32: { size: 4, ctor: Int32Array, kind: 'int', min: -0x80000000, max: 0x7fffffff },
  INT64: { size: 8, ctor: BigInt64Array, kind: 'bigint', min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
  // The V2 protocol allows FP16 only as binary data: JSON numbers cannot say which half-float was meant.
  FP16: { size: 2, ctor: Uint16Array, kind: 'binary-only' },
  FP32: { size: 4, ctor: Float32Array, kind: 'float' },
  FP64: { size: 8, ctor: Float64Array, kind: 'float' },
  BYTES: { size: 0, ctor: null, kind: 'bytes' },
};

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, s);
}

/** Number of elements a shape holds (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function tensorLength(t: Tensor): number {
  return t.data.length;
}

/** Allocates zeroed storage for `n` elements of `dtype`. */
export function allocate(dtype: DType, n: number): TensorData {
  const info = DTYPES[dtype];
  if (info.ctor === null) return new Array<Uint8Array>(n).fill(new Uint8Array(0));
  return new info.ctor(n);
}

/** Reinterprets little-endian bytes as tensor storage, copying so the result is aligned and owns its memory. */
export function fromBytes(dtype: DType, bytes: Uint8Array): TensorData {
  const info = DTYPES[dtype];
  if (info.ctor === null) return decodeBytesElements(bytes);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new info.ctor(copy.buffer, 0, bytes.byteLength / info.size);
}

/** The binary-wire bytes of a tensor (little-endian; x86 and arm64 are little-endian, so a view suffices). */
export function toBytes(t: Tensor): Uint8Array {
  const d = t.data;
  if (Array.isArray(d)) return encodeBytesElements(d);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** BYTES elements on the wire: each is a 4-byte little-endian length followed by its bytes. */
export function encodeBytesElements(items: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const it of items) total += 4 + it.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let off = 0;
  for (const it of items) {
    view.setUint32(off, it.byteLength, true);
    out.set(it, off + 4);
    off += 4 + it.byteLength;
  }
  return out;
}

/** Inverse of encodeBytesElements; throws RangeError when a length prefix runs past the end. */
export function decodeBytesElements(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 0;
  while (off < bytes.byteLength) {
    if (off + 4 > bytes.byteLength) throw new RangeError(`a BYTES element length prefix is cut off at byte ${off}`);
    const len = view.getUint32(off, true);
    off += 4;
    if (off + len > bytes.byteLength) {
      throw new RangeError(`a BYTES element says it has ${len} bytes but only ${bytes.byteLength - off} remain`);
    }
    out.push(bytes.slice(off, off + len));
    off += len;
  }
  return out;
}
