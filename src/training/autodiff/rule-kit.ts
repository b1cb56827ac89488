// What the gradient table's rules are made of: the rule and context types, and the shape and
// gradient helpers both halves of the table (rules.ts, conv-rules.ts) use.
import * as F from './fn.js';
import type { Tape, Value, VType } from './tape.js';
import { fmtShape, shapeError } from './tape.js';

export type AttrMap = Readonly<Record<string, number | readonly number[] | string>>;
export type AttrKind = 'int' | 'ints' | 'float' | 'string' | 'dtype';

export interface OutSpec {
  shape: readonly number[];
  dtype: VType;
}

export interface GradContext {
  readonly x: readonly Value[];
  readonly y: readonly Value[];
  /** the gradient of each output; undefined where the loss does not depend on that output */
  readonly dy: readonly (Value | undefined)[];
  /** which inputs want a gradient: rules skip the work for the others */
  readonly needs: readonly boolean[];
  readonly attrs: AttrMap;
}

export interface OpRule {
  /** the ONNX type of each attribute, for emitting (a JS number cannot say int or float) */
  readonly attrs?: Readonly<Record<string, AttrKind>>;
  infer(x: readonly Value[], attrs: AttrMap, tape: Tape): OutSpec[];
  /** absent: the op is not differentiable (shapes, comparisons, indices) */
  grad?(c: GradContext): (Value | undefined)[];
}

// ---- shape helpers -------------------------------------------------------------------------------

export const same = (x: readonly Value[]): OutSpec[] => [{ shape: x[0]!.shape, dtype: x[0]!.dtype }];

/** numpy broadcasting; -1 (known at run time) wins over 1 and is assumed to match anything else */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else if (da === -1 || db === -1) out.push(Math.max(da, db));
    else throw shapeError(`shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast`);
  }
  return out;
}
export const broadcast = (x: readonly Value[]): OutSpec[] =>
  [{ shape: x.map((v) => v.shape).reduce((s, t) => broadcastShapes(s, t)), dtype: x[0]!.dtype }];

export const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

export function constInts(tape: Tape, v: Value): number[] {
  const data = tape.constantData(v);
  if (!(data instanceof BigInt64Array)) throw new Error('expected a constant int64 tensor');
  return Array.from(data, Number);
}

/** The shape a Shape node measured, when `v` came from one: lets Reshape/Expand/ConstantOfShape
 *  infer shapes that are only fixed at run time. */
export function measuredShape(tape: Tape, v: Value): readonly number[] {
  const node = tape.producer.get(v.id);
  if (node?.op === 'Shape') return node.inputs[0]!.shape;
  return constInts(tape, v);
}

export const prod = (dims: readonly number[]): number => (dims.some((d) => d < 0) ? -1 : dims.reduce((a, b) => a * b, 1));

export function convOut(size: number, k: number, s: number, p0: number, p1: number, d: number): number {
  return size < 0 ? -1 : Math.floor((size + p0 + p1 - d * (k - 1) - 1) / s) + 1;
}

// ---- gradient helpers ----------------------------------------------------------------------------

/** Sums a gradient over the axes that broadcasting stretched, back to the operand's shape. */
export function unbroadcast(g: Value, target: Value): Value {
  const out = g.shape;
  const t = target.shape;
  const lead = out.length - t.length;
  const axes: number[] = [];
  for (let i = 0; i < out.length; i++) {
    if (i < lead || (t[i - lead] === 1 && out[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return g;
  const summed = F.reduceSum(g, axes, true);
  return t.includes(-1) ? F.reshapeLike(summed, target) : F.reshape(summed, t);
}

export const lastTwo = (v: Value): number[] => {
  const perm = v.shape.map((_, i) => i);
  const n = perm.length;
  [perm[n - 2], perm[n - 1]] = [perm[n - 1]!, perm[n - 2]!];
  return perm;
};

export const ifNeeded = (c: GradContext, i: number, f: () => Value): Value | undefined => (c.needs[i] ? f() : undefined);
