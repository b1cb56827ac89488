// Between protobufjs messages and the plain typed objects of onnx-proto.ts. protobufjs hands out
// int64 values as Long objects; Ferry's objects use number (dims, versions) or bigint (the fields in
// BIGINT_FIELDS), so no Long type leaks past this file.
import protobuf from 'protobufjs';
import { BIGINT_FIELDS } from './onnx-proto.js';

type Plain = Record<string, unknown>;
interface LongLike { low: number; high: number }

const INT64_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const UNSIGNED = new Set(['uint64', 'fixed64']);

/** A protobufjs int64 (Long, or number when long.js is absent) as an exact bigint. */
export function int64ToBigInt(v: unknown, unsigned = false): bigint {
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string') return BigInt(v);
  if (typeof v === 'bigint') return v;
  const long = v as LongLike;
  const bits = (BigInt(long.high >>> 0) << 32n) | BigInt(long.low >>> 0);
  return unsigned ? bits : BigInt.asIntN(64, bits);
}

/** An int64 as a number; exact up to 2**53, which covers every dim and version seen in practice. */
export function int64ToNumber(v: unknown): number {
  return typeof v === 'number' ? v : Number(int64ToBigInt(v));
}

/** Decoded message -> plain object: repeated fields always arrays, singular ones only if present. */
export function fromMessage(type: protobuf.Type, msg: Plain): Plain {
  const out: Plain = {};
  for (const field of type.fieldsArray) {
    const value = msg[field.name];
    if (field.repeated) {
      out[field.name] = Array.isArray(value) ? value.map((v) => fromValue(type, field, v)) : [];
    } else if (Object.prototype.hasOwnProperty.call(msg, field.name) && value != null) {
      out[field.name] = fromValue(type, field, value);
    }
  }
  return out;
}

function fromValue(type: protobuf.Type, field: protobuf.Field, value: unknown): unknown {
  const nested = field.resolve().resolvedType;
  if (nested instanceof protobuf.Type) return fromMessage(nested, value as Plain);
  if (INT64_TYPES.has(field.type)) {
    const big = int64ToBigInt(value, UNSIGNED.has(field.type));
    return BIGINT_FIELDS.has(`${type.name}.${field.name}`) ? big : Number(big);
  }
  return value;
}

/** Plain object -> something protobufjs `fromObject` accepts: bigints become decimal strings,
 *  which long.js parses exactly (it has no bigint input of its own). */
export function toWire(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(toWire);
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return value;
  const out: Plain = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toWire(v);
  return out;
}
