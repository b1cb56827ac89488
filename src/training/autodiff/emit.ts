// Turns part of a tape into an ONNX model: only the ops the requested outputs depend on, so the same
// tape yields the training step (every output) and the inference graph (the prediction alone, with
// parameters baked in as initializers).
import { DTYPE_TO_ONNX } from '../../graph/dtypes.js';
import { attr, GraphBuilder, type AttrValue } from '../../graph/builder.js';
import { encodeModel as encode, type OnnxModel } from '../../graph/onnx.js';
import { RULES, type AttrKind } from './rules.js';
import type { Tape, TapeNode, Value } from './tape.js';

/** ai.onnx opset of every graph the training engine writes: Gelu needs 20; ScatterND's
 *  reduction='add' and Reduce*'s axes input are older. */
export const TRAINING_OPSET = 20;

/** Tape ops that are an ONNX operator used a particular way (see rules.ts). */
const ONNX_OP: Readonly<Record<string, string>> = { MaxPoolWithIndices: 'MaxPool' };

export interface EmitOptions {
  readonly outputs: Readonly<Record<string, Value>>;
  /** tape inputs to store in the model as initializers instead of feeding them (trained weights) */
  readonly bake?: ReadonlyMap<Value, Float32Array>;
  /** name for the run-time (-1) first dimension of inputs and outputs; default 'batch' */
  readonly batchDim?: string;
  /** name for a run-time second dimension (a sequence length); default: left unnamed */
  readonly sequenceDim?: string;
  readonly graphName?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export function emitModel(tape: Tape, opts: EmitOptions): Uint8Array {
  return encode(emitOnnx(tape, opts));
}

/** The model as objects, for callers that reshape it further (loop.ts wraps a step in a Loop). */
export function emitOnnx(tape: Tape, opts: EmitOptions): OnnxModel {
  const needed = liveNodes(tape, Object.values(opts.outputs));
  const usedIds = new Set<number>();
  for (const n of needed) for (const x of n.inputs) usedIds.add(x.id);
  for (const v of Object.values(opts.outputs)) usedIds.add(v.id);

  // An output computed by a node takes the output's name directly; only a graph input (or a value
  // that is two outputs) needs an Identity node, which would copy the tensor on every run.
  const names = new Map<number, string>();
  const inputIds = new Set([...tape.inputs, ...tape.constants.map((c) => c.value)].map((v) => v.id));
  for (const [name, v] of Object.entries(opts.outputs)) {
    if (!inputIds.has(v.id) && !names.has(v.id)) names.set(v.id, name);
  }
  const nameOf = (v: Value) => names.get(v.id) ?? v.name;
  const b = new GraphBuilder({ opset: TRAINING_OPSET, name: opts.graphName ?? 'ferry' });
  const dim = (shape: readonly number[]) => shape.map((d, i) => (d >= 0 ? d : i === 0 ? (opts.batchDim ?? 'batch') : i === 1 && opts.sequenceDim ? opts.sequenceDim : -1));
  for (const v of tape.inputs) {
    if (!usedIds.has(v.id)) continue;
    const baked = opts.bake?.get(v);
    if (baked) b.initializer(v.name, 'FP32', v.shape as number[], baked);
    else b.input(v.name, v.dtype, dim(v.shape));
  }
  for (const c of tape.constants) {
    if (usedIds.has(c.value.id)) b.initializer(c.value.name, c.value.dtype, c.value.shape as number[], c.data);
  }
  for (const n of needed) {
    const kinds = RULES[n.op]!.attrs ?? {};
    const attrs: Record<string, AttrValue> = {};
    for (const [k, v] of Object.entries(n.attrs)) attrs[k] = toAttr(k, v, kinds[k], n.op);
    b.node(ONNX_OP[n.op] ?? n.op, n.inputs.map(nameOf), n.outputs.map(nameOf), attrs);
  }
  for (const [name, v] of Object.entries(opts.outputs)) {
    if (nameOf(v) !== name) b.node('Identity', [nameOf(v)], [name]);
    b.output(name, v.dtype, dim(v.shape));
  }
  const onnx = b.model();
  if (opts.metadata) onnx.metadataProps = Object.entries(opts.metadata).map(([key, value]) => ({ key, value }));
  return onnx;
}

function liveNodes(tape: Tape, outputs: readonly Value[]): TapeNode[] {
  const want = new Set(outputs.map((v) => v.id));
  const live: TapeNode[] = [];
  for (let i = tape.nodes.length - 1; i >= 0; i--) {
    const n = tape.nodes[i]!;
    if (!n.outputs.some((y) => want.has(y.id))) continue;
    live.push(n);
    for (const x of n.inputs) want.add(x.id);
  }
  return live.reverse();
}

function toAttr(name: string, v: number | readonly number[] | string, kind: AttrKind | undefined, op: string): AttrValue {
  switch (kind) {
    case 'int': return attr.int(v as number);
    case 'ints': return attr.ints(v as number[]);
    case 'float': return attr.float(v as number);
    case 'string': return attr.string(v as string);
    case 'dtype': return attr.int(DTYPE_TO_ONNX[v as 'FP32']);
    default: throw new Error(`op ${op}: attribute '${name}' has no declared type in the gradient table`);
  }
}
