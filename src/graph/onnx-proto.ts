// The ONNX protobuf schema, embedded as text so reading a model needs no file next to the code.
// Field numbers are onnx/onnx.proto3's. The subset covers inference models and model-local
// functions; training_info, sparse initializers and quantization annotations are left out, so
// decoding then re-encoding a model that carries them drops them (protobuf skips unknown fields).
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto3";
package onnx;

message ModelProto {
  int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  string producer_name = 2;
  string producer_version = 3;
  string domain = 4;
  int64 model_version = 5;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
  repeated FunctionProto functions = 25;
}
message StringStringEntryProto { string key = 1; string value = 2; }
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  string domain = 7;
  repeated AttributeProto attribute = 5;
  string doc_string = 6;
}
message AttributeProto {
  string name = 1;
  string ref_attr_name = 21;
  string doc_string = 13;
  int32 type = 20;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  GraphProto g = 6;
  TypeProto tp = 14;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
  repeated TypeProto type_protos = 15;
}
message TensorProto {
  repeated int64 dims = 1;
  int32 data_type = 2;
  repeated float float_data = 4;
  repeated int32 int32_data = 5;
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7;
  string name = 8;
  string doc_string = 12;
  bytes raw_data = 9;
  repeated StringStringEntryProto external_data = 13;
  int32 data_location = 14;
  repeated double double_data = 10;
  repeated uint64 uint64_data = 11;
}
message ValueInfoProto { string name = 1; TypeProto type = 2; string doc_string = 3; }
message TensorShapeProto {
  message Dimension {
    oneof value { int64 dim_value = 1; string dim_param = 2; }
    string denotation = 3;
  }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
  message Sequence { TypeProto elem_type = 1; }
  message Map { int32 key_type = 1; TypeProto value_type = 2; }
  message Optional { TypeProto elem_type = 1; }
  message SparseTensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
  oneof value {
    Tensor tensor_type = 1;
    Sequence sequence_type = 4;
    Map map_type = 5;
    Optional optional_type = 9;
    SparseTensor sparse_tensor_type = 8;
  }
  string denotation = 6;
}
message FunctionProto {
  string name = 1;
  repeated string input = 4;
  repeated string output = 5;
  repeated string attribute = 6;
  repeated AttributeProto attribute_proto = 11;
  repeated NodeProto node = 7;
  string doc_string = 8;
  repeated OperatorSetIdProto opset_import = 9;
  string domain = 10;
  string overload = 13;
  repeated ValueInfoProto value_info = 12;
}
`;

/** The parsed schema; messages are looked up as `onnx.ModelProto` etc. Field names are camelCase. */
export const onnxRoot: protobuf.Root = protobuf.parse(SCHEMA).root;
onnxRoot.resolveAll();
export const ModelProtoType: protobuf.Type = onnxRoot.lookupType('onnx.ModelProto');
export const ValueInfoProtoType: protobuf.Type = onnxRoot.lookupType('onnx.ValueInfoProto');
export const OperatorSetIdProtoType: protobuf.Type = onnxRoot.lookupType('onnx.OperatorSetIdProto');

/** int64 fields that can hold values past 2**53 in real models (Slice ends of INT64_MAX, hashes),
 *  so they decode to bigint. Every other int64 (dims, versions) decodes to number. */
export const BIGINT_FIELDS: ReadonlySet<string> = new Set([
  'AttributeProto.i', 'AttributeProto.ints', 'TensorProto.int64Data', 'TensorProto.uint64Data',
]);

/** AttributeProto.type values. */
export const AttributeType = {
  UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5,
  FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10, TYPE_PROTO: 13, TYPE_PROTOS: 14,
} as const;

/** TensorProto.data_location: EXTERNAL means the bytes live in another file next to the model. */
export const DataLocation = { DEFAULT: 0, EXTERNAL: 1 } as const;

// Decoded objects: repeated fields are always arrays (empty when absent); singular fields are
// present only when the file set them, so "absent" and "zero" stay distinguishable.

export interface StringStringEntryProto { key?: string; value?: string }
export interface OperatorSetIdProto { domain?: string; version?: number }

export interface ModelProto {
  irVersion?: number;
  opsetImport: OperatorSetIdProto[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph?: GraphProto;
  metadataProps: StringStringEntryProto[];
  functions: FunctionProto[];
}

export interface GraphProto {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  docString?: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute: AttributeProto[];
  docString?: string;
}

export interface AttributeProto {
  name?: string;
  refAttrName?: string;
  docString?: string;
  type?: number;
  f?: number;
  i?: bigint;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  tp?: TypeProto;
  floats: number[];
  ints: bigint[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
  typeProtos: TypeProto[];
}

/** Decoded raw_data and string_data share memory with the input bytes; copy before mutating. */
export interface TensorProto {
  dims: number[];
  dataType?: number;
  floatData: number[];
  int32Data: number[];
  stringData: Uint8Array[];
  int64Data: bigint[];
  name?: string;
  docString?: string;
  rawData?: Uint8Array;
  externalData: StringStringEntryProto[];
  dataLocation?: number;
  doubleData: number[];
  uint64Data: bigint[];
}

export interface ValueInfoProto { name?: string; type?: TypeProto; docString?: string }

export interface TensorShapeDimension { dimValue?: number; dimParam?: string; denotation?: string }
/** A shape that is present but has no dims is a scalar; an absent shape means unknown rank. */
export interface TensorShapeProto { dim: TensorShapeDimension[] }

export interface TypeProtoTensor { elemType?: number; shape?: TensorShapeProto }
export interface TypeProto {
  tensorType?: TypeProtoTensor;
  sequenceType?: { elemType?: TypeProto };
  mapType?: { keyType?: number; valueType?: TypeProto };
  optionalType?: { elemType?: TypeProto };
  sparseTensorType?: TypeProtoTensor;
  denotation?: string;
}

export interface FunctionProto {
  name?: string;
  input: string[];
  output: string[];
  attribute: string[];
  attributeProto: AttributeProto[];
  node: NodeProto[];
  docString?: string;
  opsetImport: OperatorSetIdProto[];
  domain?: string;
  overload?: string;
  valueInfo: ValueInfoProto[];
}
