// Editing one ONNX graph in place, as every optimize transform does: fresh names that never shadow
// an existing one, float32 initializers read safely (external data and truncated tensors refused by
// name), nodes inserted and replaced, initializers nothing reads any more dropped.
//
//   const edit = new GraphEdit(model.graph!);
//   const w = edit.floats('fc.weight');                     // { dims, data } or undefined
//   const s = edit.addInitializer('fc.weight_scale', OnnxDataType.FLOAT, [], new Float32Array([0.1]));
//   edit.replace(node, [edit.node('Mul', [node.input[0]!, s], node.output)]);
//   edit.pruneInitializers();
import { FerryError } from '../core/errors.js';
import type { AttrValue } from '../graph/builder.js';
import { OnnxDataType, onnxTypeName } from '../graph/dtypes.js';
import type { GraphProto, NodeProto, TensorProto } from '../graph/onnx.js';
import { DataLocation } from '../graph/onnx-proto.js';

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = node.attribute.find((x) => x.name === name);
  return a?.i === undefined ? fallback : Number(a.i);
}
export function attrFloat(node: NodeProto, name: string, fallback: number): number {
  return node.attribute.find((x) => x.name === name)?.f ?? fallback;
}

/** The float32 contents of a FLOAT tensor, copied (raw_data may be unaligned and shares the file's
 *  memory). Throws FerryError INVALID_ARGUMENT naming the tensor when its values are not in the file
 *  (external data) or do not match its dims, which would otherwise surface as a RangeError (a 500). */
export function floatsOf(t: TensorProto): Float32Array {
  const name = t.name ?? '';
  if (hasExternalData(t)) throw externalDataError(name);
  if (t.dataType !== OnnxDataType.FLOAT) {
    throw new FerryError('INVALID_ARGUMENT', `tensor '${name}' is ${onnxTypeName(t.dataType ?? 0)}; this step reads FLOAT (float32) weights`);
  }
  const dims = t.dims.map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  if (raw ? raw.length !== count * 4 : t.floatData.length !== count) {
    const stored = raw ? `${raw.length} bytes of raw_data` : t.doubleData.length > 0 ? `its values in double_data, which ONNX keeps for DOUBLE tensors` : `${t.floatData.length} float_data values`;
    throw new FerryError('INVALID_ARGUMENT', `FLOAT tensor '${name}' has dims [${dims.join(', ')}] (${count} values, ${count * 4} bytes) but stores ${stored}; the file is damaged or was written by a broken exporter: re-export the model`);
  }
  if (raw) return new Float32Array(raw.slice().buffer);
  return Float32Array.from(t.floatData);
}

/** TensorProto.data_location EXTERNAL, or external_data entries (some writers set only those). */
export function hasExternalData(t: TensorProto): boolean {
  return t.dataLocation === DataLocation.EXTERNAL || t.externalData.length > 0;
}

export function externalDataError(tensor: string): FerryError {
  return new FerryError('INVALID_ARGUMENT',
    `tensor '${tensor}' keeps its data in an external file, which Ferry never reads (a model must be one self-contained file): ` +
      're-save it as one file with onnx.save_model(onnx.load(path), out_path, save_as_external_data=False) and upload that');
}

export function tensorProto(name: string, dataType: number, dims: readonly number[], data: ArrayBufferView): TensorProto {
  return {
    name, dataType, dims: [...dims], floatData: [], int32Data: [], stringData: [], int64Data: [], externalData: [], doubleData: [], uint64Data: [],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
  };
}

interface QuantizedWeight { q: string; scale: string }

/** Edits one graph in place: fresh names, initializer lookups, node replacement, unused-initializer pruning. */
export class GraphEdit {
  private readonly inits = new Map<string, TensorProto>();
  private readonly inputs: Set<string>;
  private readonly taken = new Set<string>();
  private readonly weights = new Map<string, QuantizedWeight>();

  constructor(readonly graph: GraphProto) {
    for (const t of graph.initializer) if (t.name) this.inits.set(t.name, t);
    this.inputs = new Set(graph.input.map((v) => v.name ?? ''));
    for (const name of namesIn(graph)) this.taken.add(name);
  }

  isGraphInput(name: string): boolean {
    return this.inputs.has(name);
  }

  /** An initializer that is also a graph input: a default a client may replace at run time. */
  isOverridable(name: string): boolean {
    return this.inits.has(name) && this.inputs.has(name);
  }

  /** The initializer of that name, whatever its type. */
  initializer(name: string): TensorProto | undefined {
    return this.inits.get(name);
  }

  /** A FLOAT initializer's contents, unless a client can override it as a graph input. */
  floats(name: string): { dims: number[]; data: Float32Array } | undefined {
    const t = this.inits.get(name);
    if (!t || t.dataType !== OnnxDataType.FLOAT || this.inputs.has(name)) return undefined;
    return { dims: t.dims.map(Number), data: floatsOf(t) };
  }

  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.taken.has(name); i++) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }

  addInitializer(base: string, dataType: number, dims: readonly number[], data: ArrayBufferView): string {
    const name = this.fresh(base);
    const t = tensorProto(name, dataType, dims, data);
    this.graph.initializer.push(t);
    this.inits.set(name, t);
    return name;
  }

  /** Quantizes a weight once per key, so a weight shared by several nodes is stored once. */
  quantizedWeight(key: string, make: () => { q: Int8Array; scale: Float32Array; dims: number[]; scaleDims: number[] }): QuantizedWeight {
    let w = this.weights.get(key);
    if (!w) {
      const m = make();
      const base = key.split('|')[0]!;
      w = {
        q: this.addInitializer(`${base}_int8`, OnnxDataType.INT8, m.dims, m.q),
        scale: this.addInitializer(`${base}_scale`, OnnxDataType.FLOAT, m.scaleDims, m.scale),
      };
      this.weights.set(key, w);
    }
    return w;
  }

  node(opType: string, input: string[], output: string[], attrs: Record<string, AttrValue> = {}, name?: string, domain?: string): NodeProto {
    return {
      opType, input, output, name: this.fresh(name ?? `${opType}_${output[0]}`),
      ...(domain ? { domain } : {}),
      attribute: Object.entries(attrs).map(([n, v]) => ({ ...v, name: n })),
    };
  }

  insertBefore(anchor: NodeProto, ...nodes: NodeProto[]): void {
    this.graph.node.splice(this.graph.node.indexOf(anchor), 0, ...nodes);
  }

  replace(old: NodeProto, nodes: NodeProto[]): void {
    this.graph.node.splice(this.graph.node.indexOf(old), 1, ...nodes);
  }

  /** Drops initializers nothing reads any more (the float32 weights that now live as int8). */
  pruneInitializers(): void {
    const used = new Set<string>(this.graph.output.map((o) => o.name ?? ''));
    const visit = (g: GraphProto): void => {
      for (const n of g.node) {
        for (const i of n.input) used.add(i);
        for (const a of n.attribute) for (const sub of [...(a.g ? [a.g] : []), ...a.graphs]) visit(sub);
      }
    };
    visit(this.graph);
    this.graph.initializer = this.graph.initializer.filter((t) => used.has(t.name ?? '') || this.inputs.has(t.name ?? ''));
  }
}

/** Every value and node name in the graph and its subgraphs, so fresh names never shadow one. */
function namesIn(g: GraphProto): string[] {
  const out: string[] = [];
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) out.push(v.name ?? '');
  for (const t of g.initializer) out.push(t.name ?? '');
  for (const n of g.node) {
    out.push(n.name ?? '', ...n.input, ...n.output);
    for (const a of n.attribute) for (const sub of [...(a.g ? [a.g] : []), ...a.graphs]) out.push(...namesIn(sub));
  }
  return out;
}
