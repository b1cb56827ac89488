// ONNX inference graph → autodiff tape. Each node becomes the tape op(s) with the same meaning
// (import-ops.ts holds the per-op translations), initializers and Constant nodes become tape
// constants, and graph inputs become tape inputs — so `gradients` from the training engine can
// differentiate a served model that Ferry may never have trained, and `emitModel` can write the
// result back out as a standard ONNX graph for onnxruntime.
//
// Shape arithmetic on sizes the tape knows (PyTorch's `x.view(x.size(0), -1)`) is folded to
// constants first: fold-shapes.ts.
//
// Only the nodes that the requested outputs depend on are imported: an exotic op on a side output
// does not stop a model from being explained.
//
//   const g = importGraph(decodeModel(bytes), { outputs: ['logits'] });
//   const y = g.values.get('logits')!;   // a tape Value; g.tape holds the whole forward pass
import { FerryError } from '../core/errors.js';
import { OnnxDataType, onnxTypeName } from '../graph/dtypes.js';
import type { NodeProto, OnnxModel, TensorProto, ValueInfoProto } from '../graph/onnx.js';
import { Tape, type Value, type VType } from '../training/autodiff/tape.js';
import { ShapeFolder } from './fold-shapes.js';
import { OP_IMPORTERS, type NodeContext } from './import-ops.js';

/** The model cannot be put on the tape, or its gradient cannot be built: names the op. */
export class UnsupportedGraphError extends FerryError {
  constructor(readonly op: string, readonly reason: string) {
    super('INVALID_ARGUMENT', reason);
    this.name = 'UnsupportedGraphError';
  }
}

export interface ImportOptions {
  /** the graph outputs (or any value names) to import the graph for */
  readonly outputs: readonly string[];
  /**
   * Cut the graph at an embedding lookup: the output of the Gather that reads a constant table at
   * this (int64 ids) graph input becomes a tape input named `embeddings` instead. Text models are
   * explained over their token embeddings, since ids themselves cannot be interpolated.
   */
  readonly embeddingsOf?: string;
}

export interface EmbeddingCut {
  /** the new tape input [N, T, D] */
  readonly value: Value;
  /** the table the Gather read, row-major [rows, dim], for computing embeddings of ids in JS */
  readonly table: Float32Array;
  readonly rows: number;
  readonly dim: number;
}

export interface ImportedGraph {
  readonly tape: Tape;
  /** every imported ONNX value name → its tape value */
  readonly values: ReadonlyMap<string, Value>;
  /** the graph inputs the imported part reads, in graph order */
  readonly inputs: readonly Value[];
  readonly embeddings?: EmbeddingCut;
}

export const EMBEDDINGS_INPUT = 'embeddings';

const VTYPES: Readonly<Record<number, VType>> = { [OnnxDataType.FLOAT]: 'FP32', [OnnxDataType.INT64]: 'INT64', [OnnxDataType.BOOL]: 'BOOL' };

export function importGraph(model: OnnxModel, opts: ImportOptions): ImportedGraph {
  const g = model.graph;
  if (!g) throw new FerryError('INVALID_ARGUMENT', 'the model has no graph');
  const opset = model.opsetImport.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx')?.version ?? 1;
  const tape = new Tape();
  const values = new Map<string, Value>();
  const initializers = new Map(g.initializer.map((t) => [t.name ?? '', t]));
  const producers = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) if (o) producers.set(o, n);

  const needed = neededNodes(g.node, producers, opts.outputs);
  const read = new Set<string>();
  for (const n of needed) for (const i of n.input) if (i) read.add(i);
  for (const o of opts.outputs) read.add(o);

  const inputs: Value[] = [];
  for (const vi of g.input) {
    const name = vi.name ?? '';
    if (!read.has(name) || initializers.has(name)) continue;
    const v = tape.input(name, shapeOf(vi), dtypeOf(vi));
    values.set(name, v);
    inputs.push(v);
  }
  for (const [name, t] of initializers) if (read.has(name)) values.set(name, constantOf(tape, t));

  let embeddings: EmbeddingCut | undefined;
  const folder = new ShapeFolder(tape, values);
  for (const node of needed) {
    const op = node.opType ?? '';
    const label = node.name ? `${op} node "${node.name}"` : `${op} node`;
    if (node.domain && node.domain !== 'ai.onnx') {
      throw new UnsupportedGraphError(`${node.domain}.${op}`, `op ${node.domain}.${op} has no gradient rule (only standard ai.onnx operators are imported)`);
    }
    if (opts.embeddingsOf !== undefined && !embeddings && op === 'Gather' && node.input[1] === opts.embeddingsOf) {
      embeddings = cutEmbeddings(tape, node, values);
      values.set(node.output[0]!, embeddings.value);
      continue;
    }
    const translate = OP_IMPORTERS[op];
    const ctx = nodeContext(tape, node, values, opset, label);
    let outs: (Value | undefined)[];
    try {
      // shape arithmetic on sizes the tape knows is folded to constants (fold-shapes.ts)
      const folded = folder.fold(node, ctx);
      if (folded) outs = folded;
      else if (!translate) throw new UnsupportedGraphError(op, `op ${op} has no gradient rule (${label} cannot be imported onto the autodiff tape)`);
      else outs = translate(ctx);
    } catch (err) {
      if (err instanceof UnsupportedGraphError) throw err;
      throw new UnsupportedGraphError(op, `${label} could not be imported: ${(err as Error).message}`);
    }
    node.output.forEach((name, i) => {
      if (!name) return;
      const v = outs[i];
      if (!v) {
        // an optional output the translation does not produce (Dropout's mask): fine unless used
        if (read.has(name)) throw new UnsupportedGraphError(op, `${label}: its output #${i} is used, which the importer does not provide`);
        return;
      }
      values.set(name, v);
    });
  }
  if (opts.embeddingsOf !== undefined && !embeddings) {
    throw new UnsupportedGraphError('Gather', `no embedding lookup (a Gather of a constant table at input "${opts.embeddingsOf}") was found to explain over`);
  }
  for (const o of opts.outputs) if (!values.has(o)) throw new FerryError('INVALID_ARGUMENT', `the model has no value named "${o}"`);
  return { tape, values, inputs, embeddings };
}

/** The nodes the outputs depend on, in graph order (ONNX requires graphs to be sorted). */
function neededNodes(nodes: readonly NodeProto[], producers: ReadonlyMap<string, NodeProto>, outputs: readonly string[]): NodeProto[] {
  const want = new Set<NodeProto>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const n = producers.get(stack.pop()!);
    if (!n || want.has(n)) continue;
    want.add(n);
    for (const i of n.input) if (i) stack.push(i);
  }
  return nodes.filter((n) => want.has(n));
}

function cutEmbeddings(tape: Tape, node: NodeProto, values: Map<string, Value>): EmbeddingCut {
  const table = values.get(node.input[0]!);
  const ids = values.get(node.input[1]!)!;
  const data = table && tape.constantData(table);
  const axis = node.attribute.find((a) => a.name === 'axis')?.i ?? 0n;
  if (!table || !(data instanceof Float32Array) || table.rank !== 2 || axis !== 0n) {
    throw new UnsupportedGraphError('Gather', `the lookup at input "${node.input[1]}" is not a Gather of a constant [rows, dim] float table`);
  }
  const [rows, dim] = [table.shape[0]!, table.shape[1]!];
  return { value: tape.input(EMBEDDINGS_INPUT, [...ids.shape, dim], 'FP32'), table: data, rows, dim };
}

function nodeContext(tape: Tape, node: NodeProto, values: ReadonlyMap<string, Value>, opset: number, label: string): NodeContext {
  const attrOf = (name: string) => node.attribute.find((a) => a.name === name);
  const fail = (why: string): never => {
    throw new UnsupportedGraphError(node.opType ?? '', `${label} ${why}`);
  };
  const input = (i: number): Value | undefined => {
    const name = node.input[i];
    if (!name) return undefined;
    const v = values.get(name);
    if (!v) fail(`reads "${name}", which is neither a graph input, an initializer nor an earlier node's output`);
    return v;
  };
  return {
    tape, opset, label, fail, input,
    need: (i) => input(i) ?? fail(`is missing its input #${i}`),
    has: (name) => attrOf(name) !== undefined,
    int: (name, dflt) => {
      const a = attrOf(name);
      return a?.i !== undefined ? Number(a.i) : dflt;
    },
    ints: (name, dflt) => {
      const a = attrOf(name);
      return a && a.ints.length > 0 ? a.ints.map(Number) : dflt;
    },
    float: (name, dflt) => attrOf(name)?.f ?? dflt,
    string: (name, dflt) => {
      const s = attrOf(name)?.s;
      return s ? new TextDecoder().decode(s) : dflt;
    },
    tensorAttr: (name) => {
      const t = attrOf(name)?.t;
      return t ? constantOf(tape, t) : undefined;
    },
    constInts: (i) => {
      const v = input(i);
      const d = v && tape.constantData(v);
      if (!(d instanceof BigInt64Array)) return fail(`needs input #${i} to be a constant int64 tensor (computed shapes are not supported)`);
      return Array.from(d, Number);
    },
    constFloats: (i) => {
      const v = input(i);
      const d = v && tape.constantData(v);
      if (!(d instanceof Float32Array)) return fail(`needs input #${i} to be a constant float tensor`);
      return d;
    },
  };
}

function shapeOf(vi: ValueInfoProto): number[] {
  const dims = vi.type?.tensorType?.shape?.dim;
  if (!dims) throw new UnsupportedGraphError('input', `graph input "${vi.name}" has no declared shape; the importer needs its rank`);
  return dims.map((d) => (d.dimValue !== undefined && d.dimValue > 0 ? d.dimValue : -1));
}

function dtypeOf(vi: ValueInfoProto): VType {
  const t = vi.type?.tensorType?.elemType ?? 0;
  const v = VTYPES[t];
  if (!v) throw new UnsupportedGraphError('input', `graph input "${vi.name}" is ${onnxTypeName(t)}; gradients are computed for FLOAT models (int64 and bool inputs are fed as they are)`);
  return v;
}

/** An initializer or Constant tensor as a tape constant (FLOAT and INT64 only: the tape's types). */
export function constantOf(tape: Tape, t: TensorProto): Value {
  const dims = t.dims.map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  if (t.dataLocation === 1 || t.externalData.length > 0) {
    throw new UnsupportedGraphError('initializer', `tensor "${t.name}" keeps its data in an external file`);
  }
  const raw = t.rawData && t.rawData.byteLength > 0 ? t.rawData : undefined;
  const copy = (bytesPer: number) => {
    const b = new Uint8Array(count * bytesPer);
    b.set(raw!.subarray(0, count * bytesPer));
    return b.buffer;
  };
  switch (t.dataType) {
    case OnnxDataType.FLOAT:
      return tape.constant(raw ? new Float32Array(copy(4)) : Float32Array.from(t.floatData), dims, 'FP32');
    case OnnxDataType.INT64:
      return tape.constant(raw ? new BigInt64Array(copy(8)) : BigInt64Array.from(t.int64Data), dims, 'INT64');
    case OnnxDataType.INT32:
      // shape-like int32 constants are widened; the ops that read them here take int64
      return tape.constant(BigInt64Array.from(raw ? new Int32Array(copy(4)) : t.int32Data, (x) => BigInt(x)), dims, 'INT64');
    default:
      throw new UnsupportedGraphError('initializer', `tensor "${t.name}" is ${onnxTypeName(t.dataType ?? 0)}; the autodiff tape holds FLOAT and INT64 constants`);
  }
}
