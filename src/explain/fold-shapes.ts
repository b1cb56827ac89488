// Constant-folding the shape arithmetic PyTorch's ONNX exports compute at run time — the
// `Shape → Gather → Unsqueeze → Concat → Reshape` chain of `x.view(x.size(0), -1)`. The tape knows
// each value's shape when importing, so `Shape` of a value is known entry by entry, and the int64
// ops that pick and combine those entries can be evaluated here. A result known in full becomes a
// tape constant (which every importer that needs constant ints then reads); one that still holds a
// run-time size (the batch, -1 on the tape) is imported as usual, with what is known of it kept so
// that a Reshape reading it can take a constant target: the run-time size becomes 0 ("keep this
// dimension") where it is the reshaped tensor's own dimension, or -1 ("whatever is left") when it
// is the only unknown. So the gradient model still runs for any batch of interpolated inputs.
import type { NodeProto } from '../graph/onnx.js';
import { OnnxDataType } from '../graph/dtypes.js';
import type { Tape, Value } from '../training/autodiff/tape.js';
import type { NodeContext } from './import-ops.js';

/** An entry of a folded int64 tensor: a number, or dimension `axis` of `of`, only known at run time. */
type Dim = number | { readonly of: Value; readonly axis: number };
/** What is known of an int64 tensor of rank 0 or 1 (a fully known one may have any rank). */
interface Folded {
  readonly shape: readonly number[];
  readonly data: readonly Dim[];
}

const known = (ds: readonly Dim[]): ds is number[] => ds.every((d) => typeof d === 'number');
const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

export class ShapeFolder {
  /** ONNX value name → what is known of it, for values that still hold a run-time size */
  private readonly partial = new Map<string, Folded>();

  constructor(private readonly tape: Tape, private readonly values: ReadonlyMap<string, Value>) {}

  /**
   * The node's outputs where folding decides them — int64 shape arithmetic on known entries as a
   * constant, or a Reshape to a partly known shape — else `undefined`: import it as usual.
   */
  fold(node: NodeProto, n: NodeContext): Value[] | undefined {
    if (node.opType === 'Reshape') return this.reshape(node, n);
    const f = this.evaluate(node, n);
    if (!f) return undefined;
    if (known(f.data)) return [this.tape.constant(f.data, f.shape, 'INT64')];
    this.partial.set(node.output[0]!, f);
    return undefined;
  }

  private reshape(node: NodeProto, n: NodeContext): Value[] | undefined {
    const f = node.input[1] ? this.partial.get(node.input[1]) : undefined;
    // a Shape node's output is a target the tape's Reshape already reads as measured at run time
    if (!f || this.tape.producer.get(n.need(1).id)?.op === 'Shape') return undefined;
    if (n.int('allowzero', 0) !== 0) n.fail('uses allowzero');
    const x = n.need(0);
    // dim i of x itself at position i is kept with 0; so is a run-time batch size at position 0
    // (the tape's, and the emitted model's, one run-time batch dimension)
    const target = f.data.map((d, i) => (typeof d === 'number' ? d
      : i < x.rank && x.shape[i]! < 0 && d.axis === i && (d.of === x || i === 0) ? 0 : d));
    const open = target.filter((d) => typeof d !== 'number');
    // more than one size only known at run time: left to the usual importer, which refuses it
    if (open.length > 1 || (open.length === 1 && target.includes(-1))) return undefined;
    const dims = target.map((d) => (typeof d === 'number' ? d : -1));
    return n.tape.apply('Reshape', [x, n.tape.ints(dims)], {});
  }

  /** What is known of input i: a partly known value, or a constant int64 tensor of rank ≤ 1. */
  private get(node: NodeProto, i: number): Folded | undefined {
    const name = node.input[i];
    if (!name) return undefined;
    const p = this.partial.get(name);
    if (p) return p;
    const v = this.values.get(name);
    const d = v && this.tape.constantData(v);
    return d instanceof BigInt64Array && v!.rank <= 1 ? { shape: v!.shape, data: Array.from(d, Number) } : undefined;
  }

  private ints(node: NodeProto, i: number): number[] | undefined {
    const f = this.get(node, i);
    return f && known(f.data) ? f.data : undefined;
  }

  private evaluate(node: NodeProto, n: NodeContext): Folded | undefined {
    const op = node.opType ?? '';
    const a = this.get(node, 0);
    switch (op) {
      case 'Shape': {
        const x = n.need(0);
        const clamp = (v: number) => Math.max(0, Math.min(x.rank, norm(v, x.rank)));
        const [start, end] = [clamp(n.int('start', 0)), clamp(n.int('end', x.rank))];
        const data = x.shape.slice(start, end).map((d, j): Dim => (d >= 0 ? d : { of: x, axis: start + j }));
        return { shape: [data.length], data };
      }
      case 'Identity':
        return a;
      case 'Cast':
        return a && n.int('to', 0) === OnnxDataType.INT64 ? a : undefined;
      case 'Gather': {
        const idx = this.get(node, 1);
        if (!a || a.shape.length !== 1 || !idx || !known(idx.data) || norm(n.int('axis', 0), 1) !== 0) return undefined;
        const len = a.data.length;
        if (idx.data.some((k) => k < -len || k >= len)) return undefined;
        return { shape: idx.shape, data: idx.data.map((k) => a.data[norm(k, len)]!) };
      }
      case 'Unsqueeze': {
        const axes = n.opset >= 13 ? this.ints(node, 1) : n.ints('axes', []);
        return a && a.shape.length === 0 && axes?.length === 1 && (axes[0] === 0 || axes[0] === -1) ? { shape: [1], data: a.data } : undefined;
      }
      case 'Squeeze': {
        const axes = n.opset >= 13 ? (node.input[1] ? this.ints(node, 1) : []) : n.ints('axes', []);
        return a && a.shape.length === 1 && a.shape[0] === 1 && axes && axes.every((x) => x === 0 || x === -1) ? { shape: [], data: a.data } : undefined;
      }
      case 'Concat': {
        const parts = node.input.map((_, i) => this.get(node, i));
        if (norm(n.int('axis', 0), 1) !== 0 || parts.some((p) => !p || p.shape.length !== 1)) return undefined;
        const data = parts.flatMap((p) => p!.data);
        return { shape: [data.length], data };
      }
      case 'Slice': {
        const [starts, ends] = [this.ints(node, 1), this.ints(node, 2)];
        const axes = node.input[3] ? this.ints(node, 3) : [0];
        const steps = node.input[4] ? this.ints(node, 4) : [1];
        if (n.opset < 10 || !a || a.shape.length !== 1 || !starts || !ends || starts.length !== 1 || ends.length !== 1) return undefined;
        if (!axes || axes.length !== 1 || norm(axes[0]!, 1) !== 0 || !steps || steps[0] !== 1) return undefined;
        const len = a.data.length;
        const clamp = (v: number) => Math.max(0, Math.min(len, v < 0 ? v + len : v));
        const data = a.data.slice(clamp(starts[0]!), Math.max(clamp(starts[0]!), clamp(ends[0]!)));
        return { shape: [data.length], data };
      }
      case 'Add': case 'Sub': case 'Mul': case 'Div':
        return arithmetic(op, a, this.get(node, 1));
      case 'ConstantOfShape': {
        const shape = this.ints(node, 0);
        const v = n.tensorAttr('value');
        const fill = v && this.tape.constantData(v);
        if (!shape || !(fill instanceof BigInt64Array) || fill.length !== 1 || shape.some((d) => d < 0)) return undefined;
        const count = shape.reduce((p, d) => p * d, 1);
        return count <= 1 << 16 ? { shape, data: new Array<number>(count).fill(Number(fill[0]!)) } : undefined;
      }
      case 'Range': {
        const [s, l, d] = [0, 1, 2].map((i) => this.get(node, i));
        if (![s, l, d].every((x) => x && x.shape.length === 0 && known(x.data))) return undefined;
        const [start, limit, delta] = [s!.data[0] as number, l!.data[0] as number, d!.data[0] as number];
        const count = delta === 0 ? -1 : Math.max(0, Math.ceil((limit - start) / delta));
        if (count < 0 || count > 1 << 16) return undefined;
        return { shape: [count], data: Array.from({ length: count }, (_, k) => start + k * delta) };
      }
      default:
        return undefined;
    }
  }
}

/** Elementwise int64 arithmetic on known entries of rank ≤ 1, with ONNX broadcasting. */
function arithmetic(op: string, a: Folded | undefined, b: Folded | undefined): Folded | undefined {
  if (!a || !b || !known(a.data) || !known(b.data) || a.shape.length > 1 || b.shape.length > 1) return undefined;
  const [la, lb] = [a.data.length, b.data.length];
  if (la !== lb && la !== 1 && lb !== 1) return undefined;
  const len = Math.max(la, lb);
  const data: number[] = [];
  for (let i = 0; i < len; i++) {
    const [x, y] = [a.data[la === 1 ? 0 : i]!, b.data[lb === 1 ? 0 : i]!];
    if (op === 'Div' && y === 0) return undefined;
    // integer division truncates toward zero, as onnxruntime's int64 Div does
    data.push(op === 'Add' ? x + y : op === 'Sub' ? x - y : op === 'Mul' ? x * y : Math.trunc(x / y));
  }
  return { shape: a.shape.length === 1 || b.shape.length === 1 ? [len] : [], data };
}
