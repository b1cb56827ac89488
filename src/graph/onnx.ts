// Read and write ONNX model files. decodeModel trusts its input to be a sane model; bytes from an
// upload go through inspectOnnx first (see inspect.ts), which is built to refuse anything else
// cheaply and with a message a person can act on.
//
//   const bytes = new GraphBuilder().input('x', 'FP32', ['batch', 3])
//     .node('Relu', ['x'], ['y']).output('y', 'FP32', ['batch', 3]).build();
//   decodeModel(bytes).graph?.node[0]?.opType  // 'Relu'
import protobuf from 'protobufjs';
import { fromMessage, toWire } from './convert.js';
import { decodeFailure, OnnxFormatError } from './errors.js';
import { ModelProtoType, type ModelProto } from './onnx-proto.js';

export { OnnxFormatError } from './errors.js';
export { inspectOnnx, type OnnxSummary, type OnnxValueSummary, type OnnxValueKind } from './inspect.js';
export type * from './onnx-proto.js';

/** The whole model as plain objects, so code reads `model.graph.node`. */
export type OnnxModel = ModelProto;

/** Serializes a model; fields are written in field-number order, as protoc does. */
export function encodeModel(model: OnnxModel): Uint8Array {
  let message: protobuf.Message;
  try {
    message = ModelProtoType.fromObject(toWire(model) as Record<string, unknown>);
  } catch (err) {
    // fromObject names the offending field ("onnx.GraphProto.node: object expected").
    throw new TypeError(`cannot encode ONNX model: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const out = ModelProtoType.encode(message).finish();
  // protobufjs hands back a Buffer in Node, small ones carved from Node's shared 8 KiB pool.
  // Callers get a plain Uint8Array that owns its whole ArrayBuffer, so `bytes.buffer` is the model.
  return out.byteLength === out.buffer.byteLength
    ? new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
    : new Uint8Array(out);
}

/** Parses a model. Tensor raw_data in the result shares memory with `bytes`.
 *  Throws OnnxFormatError when the bytes are not a protobuf ModelProto at all. */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  if (bytes.length === 0) throw new OnnxFormatError('file is empty (0 bytes); send the .onnx model file itself');
  // A plain view, so bytes fields come back as Uint8Array views whether or not the caller had a Buffer.
  const reader = protobuf.Reader.create(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  let message: protobuf.Message;
  try {
    message = ModelProtoType.decode(reader);
  } catch (err) {
    throw decodeFailure(err, reader.pos, bytes.length);
  }
  // fromMessage walks the schema, so the result has exactly the ModelProto shape.
  return fromMessage(ModelProtoType, message as unknown as Record<string, unknown>) as unknown as OnnxModel;
}
