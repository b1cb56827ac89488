// Writing small ONNX models in code: test fixtures, the training engine's step graphs, optimizer
// output. Attributes are typed explicitly (attr.int vs attr.float) because ONNX operators check
// the attribute type, and a JS number cannot say which one was meant.
//
//   const onnx = new GraphBuilder()
//     .input('x', 'FP32', ['batch', 4])
//     .initializer('w', 'FP32', [4, 2], new Float32Array(8).fill(0.5))
//     .node('MatMul', ['x', 'w'], ['h'])
//     .node('Softmax', ['h'], ['y'], { axis: attr.int(-1) })
//     .output('y', 'FP32', ['batch', 2])
//     .build();
import { DTYPES, type DType } from '../core/tensor.js';
import { DTYPE_TO_ONNX } from './dtypes.js';
import { encodeModel, type OnnxModel } from './onnx.js';
import {
  AttributeType, type AttributeProto, type GraphProto, type NodeProto, type TensorProto, type TypeProto, type ValueInfoProto,
} from './onnx-proto.js';

/** An attribute value without its name; build one with the `attr` helpers. */
export type AttrValue = Omit<AttributeProto, 'name'>;

const emptyAttr = (): AttrValue => ({ floats: [], ints: [], strings: [], tensors: [], graphs: [], typeProtos: [] });
const utf8 = (s: string | Uint8Array): Uint8Array => (typeof s === 'string' ? new TextEncoder().encode(s) : s);

export const attr = {
  int: (n: number | bigint): AttrValue => ({ ...emptyAttr(), type: AttributeType.INT, i: BigInt(n) }),
  float: (x: number): AttrValue => ({ ...emptyAttr(), type: AttributeType.FLOAT, f: x }),
  string: (s: string | Uint8Array): AttrValue => ({ ...emptyAttr(), type: AttributeType.STRING, s: utf8(s) }),
  ints: (ns: readonly (number | bigint)[]): AttrValue =>
    ({ ...emptyAttr(), type: AttributeType.INTS, ints: ns.map((n) => BigInt(n)) }),
  floats: (xs: readonly number[]): AttrValue => ({ ...emptyAttr(), type: AttributeType.FLOATS, floats: [...xs] }),
  strings: (ss: readonly (string | Uint8Array)[]): AttrValue =>
    ({ ...emptyAttr(), type: AttributeType.STRINGS, strings: ss.map(utf8) }),
  tensor: (t: TensorProto): AttrValue => ({ ...emptyAttr(), type: AttributeType.TENSOR, t }),
  graph: (g: GraphProto): AttrValue => ({ ...emptyAttr(), type: AttributeType.GRAPH, g }),
};

/** A shape entry: a fixed size, a name for a dimension that varies (e.g. 'batch'), or -1 for
 *  a dimension that varies and has no name. */
export type Dim = number | string;

/** Initializer contents: the typed array that matches the dtype (FP16 as Uint16Array bits,
 *  BOOL as one byte per element), or strings / byte strings for BYTES. */
export type InitializerData =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | readonly (string | Uint8Array)[];

export interface GraphBuilderOptions {
  /** graph name; default 'main' */
  name?: string;
  /** ai.onnx opset version; default 17 */
  opset?: number;
  /** extra operator sets, e.g. { domain: 'com.microsoft', version: 1 } */
  extraOpsets?: { domain: string; version: number }[];
  /** default 8, which every onnxruntime since 1.10 reads */
  irVersion?: number;
  /** default 'ferry' */
  producerName?: string;
}

export class GraphBuilder {
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly nodes: NodeProto[] = [];

  constructor(private readonly options: GraphBuilderOptions = {}) {}

  input(name: string, dtype: DType, shape: readonly Dim[]): this {
    this.inputs.push(valueInfo(name, dtype, shape));
    return this;
  }

  output(name: string, dtype: DType, shape: readonly Dim[]): this {
    this.outputs.push(valueInfo(name, dtype, shape));
    return this;
  }

  /** A constant tensor. Numeric data goes into raw_data, little-endian as ONNX requires. */
  initializer(name: string, dtype: DType, dims: readonly number[], data: InitializerData): this {
    const count = dims.reduce((a, b) => a * b, 1);
    if (data.length !== count) {
      throw new RangeError(`initializer '${name}': dims [${dims.join(', ')}] hold ${count} elements, data has ${data.length}`);
    }
    const tensor: TensorProto = {
      ...emptyTensor(), name, dataType: DTYPE_TO_ONNX[dtype], dims: [...dims],
    };
    if (dtype === 'BYTES') {
      if (!Array.isArray(data)) throw new TypeError(`initializer '${name}': BYTES data must be an array of strings`);
      // ONNX forbids raw_data for STRING tensors; each element is its own protobuf bytes field.
      tensor.stringData = data.map(utf8);
    } else {
      const ctor = DTYPES[dtype].ctor;
      if (ctor === null || !(data instanceof ctor)) {
        throw new TypeError(`initializer '${name}': ${dtype} data must be a ${ctor?.name ?? 'typed array'}`);
      }
      tensor.rawData = littleEndianBytes(data);
    }
    this.initializers.push(tensor);
    return this;
  }

  node(opType: string, inputs: readonly string[], outputs: readonly string[],
    attrs: Record<string, AttrValue> = {}, options: { name?: string; domain?: string } = {}): this {
    this.nodes.push({
      opType,
      name: options.name ?? `${opType}_${this.nodes.length}`,
      ...(options.domain === undefined ? {} : { domain: options.domain }),
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attrs).map(([name, value]) => ({ ...value, name })),
    });
    return this;
  }

  /** The model as objects, for callers that want to adjust it before encoding. */
  model(): OnnxModel {
    const o = this.options;
    return {
      irVersion: o.irVersion ?? 8,
      producerName: o.producerName ?? 'ferry',
      opsetImport: [{ domain: '', version: o.opset ?? 17 }, ...(o.extraOpsets ?? [])],
      metadataProps: [],
      functions: [],
      graph: {
        name: o.name ?? 'main',
        node: [...this.nodes],
        initializer: [...this.initializers],
        input: [...this.inputs],
        output: [...this.outputs],
        valueInfo: [],
      },
    };
  }

  build(): Uint8Array {
    return encodeModel(this.model());
  }
}

function valueInfo(name: string, dtype: DType, shape: readonly Dim[]): ValueInfoProto {
  const type: TypeProto = {
    tensorType: {
      elemType: DTYPE_TO_ONNX[dtype],
      // A negative size becomes a dim with neither value nor name: ONNX's "unknown, unnamed".
      shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : d >= 0 ? { dimValue: d } : {})) },
    },
  };
  return { name, type };
}

function emptyTensor(): TensorProto {
  return {
    dims: [], floatData: [], int32Data: [], stringData: [], int64Data: [], externalData: [], doubleData: [], uint64Data: [],
  };
}

// Typed arrays use the host's byte order; every platform Node ships for is little-endian, and
// this check turns the one assumption into a loud failure instead of silently swapped weights.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function littleEndianBytes(data: ArrayBufferView): Uint8Array {
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error('GraphBuilder needs a little-endian host to write raw_data');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}
