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
import { eachField, length, string, varint, type Reader } from './wire.js';

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
  /** metadata_props: key/value strings the writer stored (Ferry keeps a training record there) */
  metadata: Record<string, string>;
}

// Real models declare a handful of inputs, outputs and opsets; the cap bounds what a hostile file
// can make us allocate.
const MAX_GRAPH_VALUES = 10_000;
// protoc's default recursion limit is 100 messages; a subgraph level is three (graph, node, attribute).
const MAX_DEPTH = 100;

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
  const metadata: Record<string, string> = {};
  let metadataCount = 0;
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
    } else if (field === 14) {
      if (++metadataCount > MAX_GRAPH_VALUES) throw new OnnxFormatError('model has too many metadata entries');
      const [key, value] = readStringPair(r, length(r, wire, at, 'metadata_props'));
      // Object.create(null) semantics without the prototype: a key like "__proto__" stays data.
      Object.defineProperty(metadata, key, { value, enumerable: true, writable: true, configurable: true });
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
  const summary = { irVersion, producerName, producerVersion, opsets, ...readGraph(r, graph.start, graph.end), metadata };
  r.pos = 0;
  refuseExternalData(r, r.len, 'ModelProto', 0);
  return summary;
}

function readStringPair(r: Reader, end: number): [string, string] {
  const pair: [string, string] = ['', ''];
  eachField(r, end, 'StringStringEntryProto', (field, wire, at) => {
    if (field === 1) pair[0] = string(r, wire, at, 'key');
    else if (field === 2) pair[1] = string(r, wire, at, 'value');
    else return false;
    return true;
  });
  return pair;
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
    const name = readTensorName(r, length(r, wire, at, 'initializer'));
    if (declaredNames.has(name)) initialized.add(name);
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

function readTensorName(r: Reader, end: number): string {
  let name = '';
  eachField(r, end, 'TensorProto', (field, wire, at) => {
    if (field !== 8) return false;
    name = string(r, wire, at, 'name');
    return true;
  });
  return name;
}

// Where tensors can hide: message kind -> field number -> kind of the embedded message.
const HOLDS_TENSORS: Readonly<Record<string, Readonly<Record<number, string>>>> = {
  ModelProto: { 7: 'GraphProto', 25: 'FunctionProto' },
  GraphProto: { 1: 'NodeProto', 5: 'TensorProto', 15: 'SparseTensorProto' },
  FunctionProto: { 7: 'NodeProto' },
  NodeProto: { 5: 'AttributeProto' },
  AttributeProto: { 5: 'TensorProto', 6: 'GraphProto', 10: 'TensorProto', 11: 'GraphProto', 22: 'SparseTensorProto', 23: 'SparseTensorProto' },
  SparseTensorProto: { 1: 'TensorProto', 2: 'TensorProto' },
};

/** Refuses any tensor, at any depth (initializers, Constant attributes, subgraphs, functions),
 *  whose data lives in another file. onnxruntime resolves such paths against the server's working
 *  directory for a model loaded from bytes, so an upload could otherwise read the server's files. */
function refuseExternalData(r: Reader, end: number, kind: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new OnnxFormatError(`not an ONNX model: subgraphs nested more than ${MAX_DEPTH} deep`);
  let name = '';
  let external = false;
  eachField(r, end, kind, (field, wire, at) => {
    const inner = HOLDS_TENSORS[kind]?.[field];
    if (inner && wire === 2) refuseExternalData(r, length(r, wire, at, inner), inner, depth + 1);
    else if (kind !== 'TensorProto') return false;
    else if (field === 8) name = string(r, wire, at, 'name');
    else if (field === 13) { r.pos = length(r, wire, at, 'external_data'); external = true; }
    else if (field === 14) {
      if (int64ToNumber(varint(r, wire, at, 'data_location')) === DataLocation.EXTERNAL) external = true;
    } else return false;
    return true;
  });
  if (external) {
    throw new OnnxFormatError(
      `tensor '${name}' keeps its data in an external file, which an upload cannot include; ` +
        're-save the model as one file (onnx.save_model(..., save_as_external_data=False))',
    );
  }
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
