// Ferry's own look at an uploaded file before any native code parses it. It walks the protobuf
// wire format instead of decoding the whole ModelProto because a full decode allocates a JS object
// per nested message: a few megabytes of empty NodeProtos (2 bytes each) would take gigabytes of
// heap and kill the server. Here memory grows only with what the summary reports, work is linear
// in the file size, and every failure is an OnnxFormatError.
import protobuf from 'protobufjs';
import type { DType } from '../core/tensor.js';
import { int64ToNumber, fromMessage } from './convert.js';
import { dtypeFromOnnx, onnxTypeName, OnnxDataType } from './dtypes.js';
import { decodeFailure, foreignFormat, OnnxFormatError } from './errors.js';
import { DataLocation, ValueInfoProtoType, type ValueInfoProto } from './onnx-proto.js';

export type OnnxValueKind = 'tensor' | 'sparse_tensor' | 'sequence' | 'map' | 'optional' | 'unknown';

export interface OnnxValueSummary {
  name: string;
  kind: OnnxValueKind;
  /** ONNX TensorProto.DataType; 0 for values that are not tensors */
  elemType: number;
  /** V2 name, or null when the V2 protocol cannot carry this value (BFLOAT16, sequences, maps ...) */
  dtype: DType | null;
  /** dim_value, dim_param (symbolic name) or -1 when a dim has neither; null when the rank is unknown */
  shape: (number | string)[] | null;
}

export interface OnnxSummary {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsets: { domain: string; version: number }[];
  /** graph inputs a caller must feed: inputs that are also initializers are left out */
  inputs: OnnxValueSummary[];
  outputs: OnnxValueSummary[];
  nodeCount: number;
  initializerCount: number;
  /** distinct op types in the main graph, in first-use order */
  opTypes: string[];
}

// Real models declare a handful of inputs, outputs and opsets; the cap bounds what a hostile file
// can make us allocate.
const MAX_GRAPH_VALUES = 10_000;

type Reader = protobuf.Reader;

/** Checks untrusted bytes and summarizes the model; throws OnnxFormatError saying what is wrong.
 *  Never throws anything else, whatever the bytes. */
export function inspectOnnx(bytes: Uint8Array): OnnxSummary {
  if (!(bytes instanceof Uint8Array)) throw new OnnxFormatError('expected the bytes of an .onnx file');
  if (bytes.length === 0) throw new OnnxFormatError('file is empty (0 bytes); send the .onnx model file itself');
  const reader = protobuf.Reader.create(bytes);
  try {
    return summarize(reader);
  } catch (err) {
    const failure = decodeFailure(err, reader.pos, bytes.length);
    throw foreignFormat(bytes, failure) ?? failure;
  }
}

function summarize(r: Reader): OnnxSummary {
  let irVersion: number | undefined;
  let producerName = '';
  let producerVersion = '';
  const opsets: { domain: string; version: number }[] = [];
  let graph: { start: number; end: number } | undefined;
  eachField(r, r.len, 'ModelProto', (field, wire, at) => {
    if (field === 1) irVersion = int64ToNumber(varint(r, wire, at, 'ir_version'));
    else if (field === 2) producerName = string(r, wire, at, 'producer_name');
    else if (field === 3) producerVersion = string(r, wire, at, 'producer_version');
    else if (field === 8) {
      if (opsets.length >= MAX_GRAPH_VALUES) throw new OnnxFormatError('model imports too many operator sets');
      opsets.push(readOpset(r, length(r, wire, at, 'opset_import')));
    } else if (field === 7) {
      // protoc would merge a second graph field into the first; no writer emits one, so refuse it
      // rather than guess what native code will make of it.
      if (graph) throw new OnnxFormatError(`ONNX model has a second graph at byte ${at}`, { offset: at });
      const end = length(r, wire, at, 'graph');
      graph = { start: r.pos, end }; // walked in full below
      r.pos = end;
    } else return false;
    return true;
  });

  if (irVersion === undefined || irVersion <= 0) {
    throw new OnnxFormatError('not an ONNX model: ir_version missing (every ONNX file sets it in field 1)');
  }
  if (!graph) throw new OnnxFormatError('ONNX model has no graph: the file holds metadata only, or it was cut off');
  if (irVersion >= 3 && opsets.length === 0) {
    throw new OnnxFormatError('ONNX model imports no operator set (opset_import is empty); the file may be cut off');
  }
  const bad = opsets.find((o) => !(o.version > 0));
  if (bad) throw new OnnxFormatError(`opset_import for domain '${bad.domain || 'ai.onnx'}' has no version`);
  return { irVersion, producerName, producerVersion, opsets, ...readGraph(r, graph.start, graph.end) };
}

function readOpset(r: Reader, end: number): { domain: string; version: number } {
  const opset = { domain: '', version: 0 };
  eachField(r, end, 'OperatorSetIdProto', (field, wire, at) => {
    if (field === 1) opset.domain = string(r, wire, at, 'domain');
    else if (field === 2) opset.version = int64ToNumber(varint(r, wire, at, 'version'));
    else return false;
    return true;
  });
  return opset;
}

type GraphSummary = Pick<OnnxSummary, 'inputs' | 'outputs' | 'nodeCount' | 'initializerCount' | 'opTypes'>;

function readGraph(r: Reader, start: number, end: number): GraphSummary {
  const declared: OnnxValueSummary[] = [];
  const outputs: OnnxValueSummary[] = [];
  const opTypes = new Set<string>();
  let nodeCount = 0;
  r.pos = start;
  eachField(r, end, 'GraphProto', (field, wire, at) => {
    if (field === 1) {
      const node = readNode(r, length(r, wire, at, 'node'));
      if (!node.opType) {
        throw new OnnxFormatError(`graph node #${nodeCount} ('${node.name}') has no op_type`, { offset: at });
      }
      opTypes.add(node.opType);
      nodeCount++;
    } else if (field === 11 || field === 12) {
      const list = field === 11 ? declared : outputs;
      if (list.length >= MAX_GRAPH_VALUES) {
        throw new OnnxFormatError(`graph declares more than ${MAX_GRAPH_VALUES} ${field === 11 ? 'inputs' : 'outputs'}`);
      }
      list.push(summarizeValue(readValueInfo(r, length(r, wire, at, field === 11 ? 'input' : 'output'))));
    } else return false;
    return true;
  });

  // Second pass for initializers: only their names are needed, and only to drop inputs that have
  // a default value, so nothing per initializer is kept.
  const declaredNames = new Set(declared.map((v) => v.name));
  const initialized = new Set<string>();
  let initializerCount = 0;
  r.pos = start;
  eachField(r, end, 'GraphProto', (field, wire, at) => {
    if (field !== 5) return false;
    const tensor = readInitializer(r, length(r, wire, at, 'initializer'));
    if (tensor.external) {
      throw new OnnxFormatError(
        `initializer '${tensor.name}' keeps its data in an external file, which an upload cannot include; ` +
          're-save the model as one file (onnx.save_model(..., save_as_external_data=False))',
      );
    }
    if (declaredNames.has(tensor.name)) initialized.add(tensor.name);
    initializerCount++;
    return true;
  });

  const inputs = declared.filter((v) => !initialized.has(v.name));
  if (inputs.length === 0) throw new OnnxFormatError('graph has no inputs: there is nothing to send this model');
  if (outputs.length === 0) throw new OnnxFormatError('graph has no outputs: this model returns nothing');
  checkValues(inputs, 'input');
  checkValues(outputs, 'output');
  return { inputs, outputs, nodeCount, initializerCount, opTypes: [...opTypes] };
}

function checkValues(values: OnnxValueSummary[], role: string): void {
  const seen = new Set<string>();
  values.forEach((v, i) => {
    if (!v.name) throw new OnnxFormatError(`graph ${role} #${i} has no name`);
    if (seen.has(v.name)) throw new OnnxFormatError(`graph ${role} '${v.name}' is declared twice`);
    seen.add(v.name);
    // onnx.proto: the type "MUST be present ... for inputs and outputs of the top-level graph".
    if (v.kind === 'unknown') throw new OnnxFormatError(`graph ${role} '${v.name}' has no type`);
    if ((v.kind === 'tensor' || v.kind === 'sparse_tensor') && v.elemType === OnnxDataType.UNDEFINED) {
      throw new OnnxFormatError(`graph ${role} '${v.name}' has element type ${onnxTypeName(0)}`);
    }
  });
}

function readNode(r: Reader, end: number): { opType: string; name: string } {
  const node = { opType: '', name: '' };
  eachField(r, end, 'NodeProto', (field, wire, at) => {
    if (field === 4) node.opType = string(r, wire, at, 'op_type');
    else if (field === 3) node.name = string(r, wire, at, 'name');
    else return false; // inputs, attributes and subgraphs: native code validates those itself
    return true;
  });
  return node;
}

function readInitializer(r: Reader, end: number): { name: string; external: boolean } {
  const tensor = { name: '', external: false };
  eachField(r, end, 'TensorProto', (field, wire, at) => {
    if (field === 8) tensor.name = string(r, wire, at, 'name');
    else if (field === 14) tensor.external ||= int64ToNumber(varint(r, wire, at, 'data_location')) === DataLocation.EXTERNAL;
    else if (field === 13) { tensor.external = true; r.pos = length(r, wire, at, 'external_data'); }
    else return false;
    return true;
  });
  return tensor;
}

function readValueInfo(r: Reader, end: number): ValueInfoProto {
  // A ValueInfoProto is small and its size bounded by its bytes, so the generated decoder is safe here.
  const message = ValueInfoProtoType.decode(r, end - r.pos);
  return fromMessage(ValueInfoProtoType, message as unknown as Record<string, unknown>) as ValueInfoProto;
}

function summarizeValue(v: ValueInfoProto): OnnxValueSummary {
  const t = v.type;
  const kind: OnnxValueKind = t?.tensorType ? 'tensor' : t?.sparseTensorType ? 'sparse_tensor'
    : t?.sequenceType ? 'sequence' : t?.mapType ? 'map' : t?.optionalType ? 'optional' : 'unknown';
  const tensor = t?.tensorType ?? t?.sparseTensorType;
  const elemType = tensor?.elemType ?? 0;
  const shape = tensor?.shape
    ? tensor.shape.dim.map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue >= 0 ? d.dimValue : -1))
    : null;
  return { name: v.name ?? '', kind, elemType, dtype: kind === 'tensor' ? dtypeFromOnnx(elemType) : null, shape };
}

// --- wire-format walking ---------------------------------------------------------------------

/** Calls `visit` for each field of the message that ends at `end`; fields it does not claim are skipped. */
function eachField(r: Reader, end: number, message: string,
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

function expectWire(wire: number, want: number, at: number, name: string): void {
  if (wire !== want) {
    throw new OnnxFormatError(`not an ONNX model: field ${name} at byte ${at} has wire type ${wire}, expected ${want}`, { offset: at });
  }
}

function varint(r: Reader, wire: number, at: number, name: string): unknown {
  expectWire(wire, 0, at, name);
  return r.int64();
}

function string(r: Reader, wire: number, at: number, name: string): string {
  expectWire(wire, 2, at, name);
  return r.string();
}

/** Reads a length prefix; returns where the embedded message ends. */
function length(r: Reader, wire: number, at: number, name: string): number {
  expectWire(wire, 2, at, name);
  const len = r.uint32();
  if (r.pos + len > r.len) throw RangeError(`index out of range: ${name} needs ${len} bytes`);
  return r.pos + len;
}
