// Reading the protobuf wire format field by field, for code that must look at untrusted bytes
// without decoding (and allocating) whole messages. Every problem becomes an OnnxFormatError or a
// protobufjs RangeError that decodeFailure turns into one.
import type protobuf from 'protobufjs';
import { OnnxFormatError } from './errors.js';

export type Reader = protobuf.Reader;

/** Calls `visit` for each field of the message that ends at `end`; fields it does not claim are skipped. */
export function eachField(r: Reader, end: number, message: string,
  visit: (field: number, wire: number, at: number) => boolean): void {
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 0) throw new OnnxFormatError(`not an ONNX model: invalid field number 0 in ${message} at byte ${at}`, { offset: at });
    if (!visit(field, tag & 7, at)) r.skipType(tag & 7);
    if (r.pos > end) {
      throw new OnnxFormatError(`not an ONNX model: field ${field} at byte ${at} overruns its ${message}`, { offset: at });
    }
  }
}

export function expectWire(wire: number, want: number, at: number, name: string): void {
  if (wire !== want) {
    throw new OnnxFormatError(`not an ONNX model: field ${name} at byte ${at} has wire type ${wire}, expected ${want}`, { offset: at });
  }
}

export function varint(r: Reader, wire: number, at: number, name: string): unknown {
  expectWire(wire, 0, at, name);
  return r.int64();
}

export function string(r: Reader, wire: number, at: number, name: string): string {
  expectWire(wire, 2, at, name);
  return r.string();
}

/** Reads a length prefix; returns where the embedded message ends. */
export function length(r: Reader, wire: number, at: number, name: string): number {
  expectWire(wire, 2, at, name);
  const len = r.uint32();
  if (r.pos + len > r.len) throw RangeError(`index out of range: ${name} needs ${len} bytes`);
  return r.pos + len;
}
