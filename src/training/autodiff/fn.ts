// Tensor functions over the tape, one per ONNX operator Ferry uses. Layers, losses, optimizers and
// the gradient rules themselves are written with these, so gradients are ordinary ops on the tape.
import type { Value } from './tape.js';

const one = (op: string, inputs: Value[], attrs = {}): Value => inputs[0]!.tape.apply(op, inputs, attrs)[0]!;

export const add = (a: Value, b: Value): Value => one('Add', [a, b]);
export const sub = (a: Value, b: Value): Value => one('Sub', [a, b]);
export const mul = (a: Value, b: Value): Value => one('Mul', [a, b]);
export const div = (a: Value, b: Value): Value => one('Div', [a, b]);
export const neg = (a: Value): Value => one('Neg', [a]);
export const exp = (a: Value): Value => one('Exp', [a]);
export const log = (a: Value): Value => one('Log', [a]);
export const sqrt = (a: Value): Value => one('Sqrt', [a]);
export const erf = (a: Value): Value => one('Erf', [a]);
export const relu = (a: Value): Value => one('Relu', [a]);
export const tanh = (a: Value): Value => one('Tanh', [a]);
export const sigmoid = (a: Value): Value => one('Sigmoid', [a]);
export const softplus = (a: Value): Value => one('Softplus', [a]);
export const gelu = (a: Value): Value => one('Gelu', [a]);
export const identity = (a: Value): Value => one('Identity', [a]);
export const matmul = (a: Value, b: Value): Value => one('MatMul', [a, b]);

/** a · b, with either side transposed (Gemm; 2-D only). */
export const gemm = (a: Value, b: Value, transA = 0, transB = 0): Value => one('Gemm', [a, b], { transA, transB });

export const softmax = (a: Value, axis = -1): Value => one('Softmax', [a], { axis });
export const logSoftmax = (a: Value, axis = -1): Value => one('LogSoftmax', [a], { axis });

export const scalar = (like: Value, x: number): Value => like.tape.scalar(x);
export const addScalar = (a: Value, x: number): Value => add(a, scalar(a, x));
export const mulScalar = (a: Value, x: number): Value => mul(a, scalar(a, x));

export function reduceSum(a: Value, axes: readonly number[], keepdims = false): Value {
  return one('ReduceSum', [a, a.tape.ints(axes)], { keepdims: keepdims ? 1 : 0 });
}
export function reduceMean(a: Value, axes: readonly number[], keepdims = false): Value {
  return one('ReduceMean', [a, a.tape.ints(axes)], { keepdims: keepdims ? 1 : 0 });
}
/** sum over every element, as a scalar */
export const sumAll = (a: Value): Value => reduceSum(a, a.shape.map((_, i) => i));
export const meanAll = (a: Value): Value => reduceMean(a, a.shape.map((_, i) => i));

/** Reshape to a fixed shape; 0 copies the input's dimension and -1 takes what is left (ONNX rules). */
export const reshape = (a: Value, shape: readonly number[]): Value => one('Reshape', [a, a.tape.ints(shape)]);
/** Reshape to the run-time shape of another value. */
export const reshapeLike = (a: Value, like: Value): Value => one('Reshape', [a, shapeOf(like)]);
export const shapeOf = (a: Value): Value => one('Shape', [a]);
export const sizeOf = (a: Value): Value => one('Size', [a]);
export const flatten = (a: Value, axis = 1): Value => one('Flatten', [a], { axis });
export const transpose = (a: Value, perm: readonly number[]): Value => one('Transpose', [a], { perm: [...perm] });
export const expandTo = (a: Value, shape: Value): Value => one('Expand', [a, shape]);
export const unsqueeze = (a: Value, axes: readonly number[]): Value => one('Unsqueeze', [a, a.tape.ints(axes)]);
export const cast = (a: Value, to: 'FP32' | 'INT64' | 'BOOL'): Value => one('Cast', [a], { to });
export const greater = (a: Value, b: Value): Value => one('Greater', [a, b]);
export const equal = (a: Value, b: Value): Value => one('Equal', [a, b]);
export const not = (a: Value): Value => one('Not', [a]);
export const cumsum = (a: Value, axis: number): Value => one('CumSum', [a, a.tape.constant([axis], [], 'INT64')]);
export const where = (c: Value, a: Value, b: Value): Value => one('Where', [c, a, b]);
export const argmax = (a: Value, axis = -1): Value => one('ArgMax', [a], { axis, keepdims: 0 });
/** zeros with the run-time shape of `like` */
export const zerosLike = (like: Value): Value => one('ConstantOfShape', [shapeOf(like)]);
export const slice = (a: Value, starts: readonly number[], ends: readonly number[], axes: readonly number[]): Value =>
  one('Slice', [a, a.tape.ints(starts), a.tape.ints(ends), a.tape.ints(axes)]);

/** one-hot float rows from int64 class ids */
export function oneHot(ids: Value, depth: number): Value {
  const t = ids.tape;
  return one('OneHot', [ids, t.constant([depth], [], 'INT64'), t.constant([0, 1], [2])], { axis: -1 });
}

export const gather = (table: Value, ids: Value): Value => one('Gather', [table, ids], { axis: 0 });
export const scatterNDAdd = (data: Value, idx: Value, updates: Value): Value =>
  one('ScatterND', [data, idx, updates], { reduction: 'add' });
export const scatterElementsAdd = (data: Value, idx: Value, updates: Value): Value =>
  one('ScatterElements', [data, idx, updates], { axis: 0, reduction: 'add' });

export interface ConvAttrs {
  strides?: readonly number[];
  /** [top, left, bottom, right] */
  pads?: readonly number[];
  dilations?: readonly number[];
  group?: number;
}
export interface PoolAttrs {
  kernel: readonly number[];
  strides: readonly number[];
  pads: readonly number[];
}

export function conv(x: Value, w: Value, b: Value | undefined, a: ConvAttrs = {}): Value {
  return one('Conv', b ? [x, w, b] : [x, w], convAttrs(w, a));
}
export function convTranspose(x: Value, w: Value, a: ConvAttrs & { outputPadding?: readonly number[] }): Value {
  return one('ConvTranspose', [x, w], { ...convAttrs(w, a), output_padding: [...(a.outputPadding ?? [0, 0])] });
}
function convAttrs(w: Value, a: ConvAttrs) {
  return {
    kernel_shape: w.shape.slice(2),
    strides: [...(a.strides ?? [1, 1])],
    pads: [...(a.pads ?? [0, 0, 0, 0])],
    dilations: [...(a.dilations ?? [1, 1])],
    group: a.group ?? 1,
  };
}
export function maxPool(x: Value, p: PoolAttrs): Value {
  return one('MaxPool', [x], { kernel_shape: [...p.kernel], strides: [...p.strides], pads: [...p.pads] });
}
/** MaxPool with its flat (N·C·H·W) argmax indices, which an overlapping pool's gradient scatters into. */
export function maxPoolWithIndices(x: Value, p: PoolAttrs): [Value, Value] {
  const [y, idx] = x.tape.apply('MaxPoolWithIndices', [x], { kernel_shape: [...p.kernel], strides: [...p.strides], pads: [...p.pads] });
  return [y!, idx!];
}
export const reduceMax = (a: Value, axes: readonly number[], keepdims = true): Value =>
  one('ReduceMax', [a, a.tape.ints(axes)], { keepdims: keepdims ? 1 : 0 });
/** nearest-neighbour upsampling by whole factors: each value repeated over a block */
export function resizeNearest(a: Value, scales: readonly number[]): Value {
  const t = a.tape;
  return one('Resize', [a, t.constant([], [0]), t.constant(scales, [scales.length])],
    { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
}
export const concat = (parts: readonly Value[], axis: number): Value => one('Concat', [...parts], { axis });
export const split = (a: Value, sizes: readonly number[], axis: number): Value[] =>
  a.tape.apply('Split', [a, a.tape.ints(sizes)], { axis });
export const pad = (a: Value, pads: readonly number[]): Value => one('Pad', [a, a.tape.ints(pads)]);
export function averagePool(x: Value, p: PoolAttrs): Value {
  // count_include_pad keeps every window's divisor k·k, which is what the gradient rule assumes.
  return one('AveragePool', [x], { kernel_shape: [...p.kernel], strides: [...p.strides], pads: [...p.pads], count_include_pad: 1 });
}
export function layerNorm(x: Value, scale: Value, bias: Value, epsilon: number): [Value, Value, Value] {
  const [y, mean, istd] = x.tape.apply('LayerNormalization', [x, scale, bias], { axis: -1, epsilon });
  return [y!, mean!, istd!];
}
