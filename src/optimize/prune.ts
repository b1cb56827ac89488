// Magnitude pruning of the stored weights of MatMul, Gemm and Conv nodes: the smallest weights of
// each tensor (unstructured) or its weakest output channels (structured, by L2 norm) become 0.
//
//   const { model, masks, pruned } = pruneModel(bytes, { amount: 0.5 });
//   pruned[0]  // { tensor: '0.weight', node: 'MatMul_0', op: 'MatMul', zeroed: 50176, total: 100352, ... }
//
// Amounts are per tensor (layer-wise), not one global threshold: a global one empties layers whose
// weights are small by scale (a wide first layer) and spares the rest, and which layers those are
// depends on initialization. `masks` (1 = kept) is what the fine-tune holds at zero (TrainInput.keep).
//
// Structured pruning zeroes a channel's weights and keeps its bias: a bias is one number per channel,
// and keeping it lets the following layer absorb the channel's now-constant output. It leaves the
// model's last layer alone (every node from which a graph output is reached without another
// MatMul/Gemm/Conv): its output channels are the model's classes, and pruning one removes a class.
//
// The file keeps its dense layout (ONNX has no sparse initializers onnxruntime runs), so pruning
// alone does not shrink it; the zeros pay off with int8 or a compressed transfer.
import { FerryError } from '../core/errors.js';
import { OnnxDataType } from '../graph/dtypes.js';
import { decodeModel, encodeModel, inspectOnnx, type NodeProto, type TensorProto } from '../graph/onnx.js';
import { floatsOf } from './graph-edit.js';

export interface PruneOptions {
  /** the fraction of each tensor's weights (or output channels) to zero, in (0, 1) */
  readonly amount: number;
  /** zero whole output channels instead of single weights */
  readonly structured?: boolean;
}

export interface PrunedTensor {
  readonly tensor: string;
  readonly node: string;
  readonly op: string;
  readonly shape: readonly number[];
  /** weights that are 0 after pruning (including any that were 0 before) */
  readonly zeroed: number;
  readonly total: number;
  /** structured only: output channels zeroed, of how many */
  readonly channels?: { readonly zeroed: number; readonly total: number };
}

export interface Skipped {
  readonly node: string;
  readonly op: string;
  readonly reason: string;
}

export interface PruneResult {
  readonly model: Uint8Array;
  readonly pruned: PrunedTensor[];
  readonly skipped: Skipped[];
  /** per pruned tensor: 1 where a weight was kept, 0 where it was zeroed */
  readonly masks: Map<string, Uint8Array>;
}

export const PRUNABLE_OPS: readonly string[] = ['MatMul', 'Gemm', 'Conv'];

/** Prunes every MatMul/Gemm/Conv weight stored in the model; throws naming the ops when none is. */
export function pruneModel(bytes: Uint8Array, opts: PruneOptions): PruneResult {
  checkAmount(opts.amount);
  inspectOnnx(bytes); // OnnxFormatError (INVALID_ARGUMENT): not a model, or weights kept in external files
  const model = decodeModel(bytes);
  const graph = model.graph;
  if (!graph) throw new FerryError('INVALID_ARGUMENT', 'the model has no graph to prune');
  const inits = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const heads = opts.structured ? lastLayers(graph.node, new Set(graph.output.map((o) => o.name ?? ''))) : new Set<NodeProto>();
  const pruned: PrunedTensor[] = [];
  const skipped: Skipped[] = [];
  const masks = new Map<string, Uint8Array>();
  for (const node of graph.node) {
    const op = node.opType ?? '';
    if (!PRUNABLE_OPS.includes(op) || (node.domain ?? '') !== '') continue;
    const where = { node: node.name || node.output[0] || op, op };
    const name = node.input[1] ?? '';
    const t = inits.get(name);
    if (!t) {
      skipped.push({ ...where, reason: `its weight "${name}" is computed at run time, not stored in the model` });
      continue;
    }
    if (masks.has(name)) continue; // shared by two nodes: pruned once
    if (t.dataType !== OnnxDataType.FLOAT) {
      skipped.push({ ...where, reason: `its weight "${name}" is not float32` });
      continue;
    }
    const dims = t.dims.map(Number);
    const axis = channelAxis(node, dims);
    if (axis === undefined) {
      skipped.push({ ...where, reason: `its weight "${name}" has shape [${dims.join(', ')}], which has no output-channel axis to prune along` });
      continue;
    }
    if (opts.structured && heads.has(node)) {
      skipped.push({ ...where, reason: 'it is the model\'s last layer: structured pruning would remove whole outputs (classes)' });
      continue;
    }
    const w = floatsOf(t);
    const mask = opts.structured ? channelMask(w, dims, axis, opts.amount) : magnitudeMask(w, opts.amount);
    for (let i = 0; i < w.length; i++) if (mask[i] === 0) w[i] = 0;
    setFloats(t, w);
    masks.set(name, mask);
    const zeroed = w.reduce((n, v) => (v === 0 ? n + 1 : n), 0);
    const channelCount = dims[axis]!;
    pruned.push({
      tensor: name, ...where, shape: dims, zeroed, total: w.length,
      ...(opts.structured ? { channels: { zeroed: channelCount - keptChannels(mask, dims, axis), total: channelCount } } : {}),
    });
  }
  if (pruned.length === 0) {
    const ops = [...new Set(graph.node.map((n) => n.opType ?? '?'))].join(', ');
    const why = skipped.length > 0 ? `; skipped: ${skipped.map((s) => `${s.node} (${s.op}): ${s.reason}`).join('; ')}` : '';
    throw new FerryError('INVALID_ARGUMENT', `nothing to prune: pruning works on the stored weights of ${PRUNABLE_OPS.join(', ')} nodes, and this model has none that qualify (its ops: ${ops})${why}`);
  }
  return { model: encodeModel(model), pruned, skipped, masks };
}

export function checkAmount(amount: unknown): asserts amount is number {
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0 || amount >= 1) {
    throw new FerryError('INVALID_ARGUMENT', `prune amount must be a fraction between 0 and 1 (exclusive), e.g. 0.5 for half the weights; got ${JSON.stringify(amount)}`);
  }
}

/** Keeps all but the floor(amount × n) smallest magnitudes; ties at the threshold go by position,
 *  so exactly that many are zeroed and the result does not depend on the sort. */
export function magnitudeMask(w: Float32Array, amount: number): Uint8Array {
  const k = Math.floor(amount * w.length);
  const mask = new Uint8Array(w.length).fill(1);
  if (k === 0) return mask;
  const mags = Float32Array.from(w, Math.abs);
  const threshold = mags.slice().sort()[k - 1]!;
  let left = k;
  for (let i = 0; i < w.length; i++) {
    if (mags[i]! < threshold) {
      mask[i] = 0;
      left--;
    }
  }
  for (let i = 0; i < w.length && left > 0; i++) {
    if (mags[i] === threshold) {
      mask[i] = 0;
      left--;
    }
  }
  return mask;
}

/** Keeps all but the floor(amount × channels) output channels of smallest L2 norm (at least one
 *  channel is kept). `axis` is the output-channel axis of `dims`. */
export function channelMask(w: Float32Array, dims: readonly number[], axis: number, amount: number): Uint8Array {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const norms = new Float64Array(channels);
  for (let i = 0; i < w.length; i++) norms[Math.floor(i / inner) % channels] += w[i]! * w[i]!;
  const k = Math.min(Math.floor(amount * channels), channels - 1);
  const order = Array.from({ length: channels }, (_, c) => c).sort((a, b) => norms[a]! - norms[b]! || a - b);
  const drop = new Set(order.slice(0, k));
  const mask = new Uint8Array(w.length);
  for (let i = 0; i < w.length; i++) mask[i] = drop.has(Math.floor(i / inner) % channels) ? 0 : 1;
  return mask;
}

function keptChannels(mask: Uint8Array, dims: readonly number[], axis: number): number {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const kept = new Set<number>();
  for (let i = 0; i < mask.length; i++) if (mask[i] === 1) kept.add(Math.floor(i / inner) % channels);
  return kept.size;
}

/** The axis of a node's weight that indexes its output channels: MatMul [.., K, N] the last,
 *  Gemm B [K, N] (or [N, K] with transB) and Conv W [M, C/g, kH, kW] as ONNX defines them. */
function channelAxis(node: NodeProto, dims: readonly number[]): number | undefined {
  switch (node.opType) {
    case 'MatMul':
      return dims.length >= 2 ? dims.length - 1 : undefined;
    case 'Gemm': {
      if (dims.length !== 2) return undefined;
      const transB = node.attribute.find((a) => a.name === 'transB')?.i ?? 0n;
      return transB === 0n ? 1 : 0;
    }
    case 'Conv':
      return dims.length >= 3 ? 0 : undefined;
    default:
      return undefined;
  }
}

/** The prunable nodes from which a graph output is reached without passing another prunable node. */
function lastLayers(nodes: readonly NodeProto[], outputs: ReadonlySet<string>): Set<NodeProto> {
  const consumers = new Map<string, NodeProto[]>();
  for (const n of nodes) for (const i of n.input) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const reachesOutput = (start: NodeProto): boolean => {
    const seen = new Set<NodeProto>();
    const todo = [...start.output];
    while (todo.length > 0) {
      const v = todo.pop()!;
      if (outputs.has(v)) return true;
      for (const c of consumers.get(v) ?? []) {
        if (seen.has(c) || PRUNABLE_OPS.includes(c.opType ?? '')) continue;
        seen.add(c);
        todo.push(...c.output);
      }
    }
    return false;
  };
  return new Set(nodes.filter((n) => PRUNABLE_OPS.includes(n.opType ?? '') && reachesOutput(n)));
}

function setFloats(t: TensorProto, w: Float32Array): void {
  t.rawData = new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
  t.floatData = [];
}

/** Fraction of zeros in the named float initializers of a model (what the report shows after a
 *  fine-tune, to prove the pruned weights stayed at zero). */
export function sparsityOf(bytes: Uint8Array, names: Iterable<string>): { zeros: number; total: number } {
  const want = new Set(names);
  let zeros = 0;
  let total = 0;
  for (const t of decodeModel(bytes).graph?.initializer ?? []) {
    if (!want.has(t.name ?? '') || t.dataType !== OnnxDataType.FLOAT) continue;
    const w = floatsOf(t);
    total += w.length;
    for (const v of w) if (v === 0) zeros++;
  }
  return { zeros, total };
}
