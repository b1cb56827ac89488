// The GGUF file format (llama.cpp's model files), version 3: what a value and a tensor are on disk.
// Reading and writing share these tables so the two cannot drift apart.
//
//   magic "GGUF" · u32 version · u64 tensor count · u64 key/value count
//   key/values: string key · u32 value type · value
//   tensor infos: string name · u32 n_dims · u64 dims (fastest-varying first) · u32 ggml type · u64 offset
//   padding to `general.alignment`, then the tensor data, each tensor at an aligned offset
export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const DEFAULT_ALIGNMENT = 32;

/** GGUF value types, by their id on disk. */
export const VALUE_TYPES = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64'] as const;
export type ValueTypeName = (typeof VALUE_TYPES)[number];
export type ScalarTypeName = Exclude<ValueTypeName, 'array'>;

/** A typed metadata value. llama.cpp checks types exactly ("key … has wrong type"), so the type is explicit. */
export type GgufValue =
  | { readonly type: 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64'; readonly value: number }
  | { readonly type: 'uint64' | 'int64'; readonly value: bigint }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'array'; readonly itemType: Exclude<ScalarTypeName, 'uint64' | 'int64'>; readonly value: readonly (number | string | boolean)[] };

export const gv = {
  u32: (value: number): GgufValue => ({ type: 'uint32', value }),
  i32: (value: number): GgufValue => ({ type: 'int32', value }),
  f32: (value: number): GgufValue => ({ type: 'float32', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  strings: (value: readonly string[]): GgufValue => ({ type: 'array', itemType: 'string', value }),
  f32s: (value: readonly number[]): GgufValue => ({ type: 'array', itemType: 'float32', value }),
  i32s: (value: readonly number[]): GgufValue => ({ type: 'array', itemType: 'int32', value }),
};

/** Byte size of the fixed-size scalar types. */
export const SCALAR_BYTES: Partial<Record<ValueTypeName, number>> = {
  uint8: 1, int8: 1, bool: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, uint64: 8, int64: 8, float64: 8,
};

/** ggml tensor types Ferry writes and reads (the quantized ones are read as opaque blocks elsewhere). */
export const GGML_TYPES = { F32: 0, F16: 1 } as const;
export type GgmlTypeName = keyof typeof GGML_TYPES;
export const GGML_TYPE_BYTES: Record<GgmlTypeName, number> = { F32: 4, F16: 2 };

export const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
