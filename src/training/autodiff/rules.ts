// The gradient table: for every ONNX operator the training engine records, the rule that infers its
// output shapes sits beside the rule that builds its input gradients — out of standard `ai.onnx` ops
// only, because the stock onnxruntime CPU build has none of the training-only *Grad kernels.
// Each rule here is checked against finite differences run through onnxruntime
// (test/training/autodiff/gradcheck.test.ts). The recipes follow ../shared/notes/onnx-training.md.
import * as F from './fn.js';
import type { Value, VType } from './tape.js';
import { fmtShape, shapeError } from './tape.js';

import { CONV_RULES } from './conv-rules.js';
import {
  broadcast, broadcastShapes, constInts, ifNeeded, lastTwo, measuredShape, norm, prod, same, unbroadcast,
  type GradContext, type OpRule, type OutSpec,
} from './rule-kit.js';

export { broadcastShapes, unbroadcast, type AttrKind, type AttrMap, type GradContext, type OpRule } from './rule-kit.js';

// ---- the table -----------------------------------------------------------------------------------

export const RULES: Readonly<Record<string, OpRule>> = {
  Add: {
    infer: broadcast,
    grad: (c) => [ifNeeded(c, 0, () => unbroadcast(c.dy[0]!, c.x[0]!)), ifNeeded(c, 1, () => unbroadcast(c.dy[0]!, c.x[1]!))],
  },
  Sub: {
    infer: broadcast,
    grad: (c) => [ifNeeded(c, 0, () => unbroadcast(c.dy[0]!, c.x[0]!)), ifNeeded(c, 1, () => unbroadcast(F.neg(c.dy[0]!), c.x[1]!))],
  },
  Mul: {
    infer: broadcast,
    grad: (c) => [
      ifNeeded(c, 0, () => unbroadcast(F.mul(c.dy[0]!, c.x[1]!), c.x[0]!)),
      ifNeeded(c, 1, () => unbroadcast(F.mul(c.dy[0]!, c.x[0]!), c.x[1]!)),
    ],
  },
  Div: {
    infer: broadcast,
    // d(a/b)/da = 1/b;  d(a/b)/db = -a/b² = -y/b
    grad: (c) => [
      ifNeeded(c, 0, () => unbroadcast(F.div(c.dy[0]!, c.x[1]!), c.x[0]!)),
      ifNeeded(c, 1, () => unbroadcast(F.neg(F.div(F.mul(c.dy[0]!, c.y[0]!), c.x[1]!)), c.x[1]!)),
    ],
  },
  Neg: { infer: same, grad: (c) => [F.neg(c.dy[0]!)] },
  Identity: { infer: same, grad: (c) => [c.dy[0]] },
  Exp: { infer: same, grad: (c) => [F.mul(c.dy[0]!, c.y[0]!)] },
  Log: { infer: same, grad: (c) => [F.div(c.dy[0]!, c.x[0]!)] },
  Sqrt: { infer: same, grad: (c) => [F.div(F.mulScalar(c.dy[0]!, 0.5), c.y[0]!)] },
  // dY · Cast(Y > 0): onnxruntime's Where and Sign kernels measured several times slower
  Relu: { infer: same, grad: (c) => [F.mul(c.dy[0]!, F.cast(F.greater(c.y[0]!, F.scalar(c.y[0]!, 0)), 'FP32'))] },
  Tanh: { infer: same, grad: (c) => [F.mul(c.dy[0]!, F.sub(F.scalar(c.y[0]!, 1), F.mul(c.y[0]!, c.y[0]!)))] },
  Sigmoid: { infer: same, grad: (c) => [F.mul(c.dy[0]!, F.mul(c.y[0]!, F.sub(F.scalar(c.y[0]!, 1), c.y[0]!)))] },
  Softplus: { infer: same, grad: (c) => [F.mul(c.dy[0]!, F.sigmoid(c.x[0]!))] },
  Erf: {
    infer: same,
    // d erf(x)/dx = 2/√π · exp(−x²)
    grad: (c) => {
      const x = c.x[0]!;
      return [F.mul(c.dy[0]!, F.mulScalar(F.exp(F.neg(F.mul(x, x))), 2 / Math.sqrt(Math.PI)))];
    },
  },
  Gelu: {
    // exact GELU (opset 20): y = x·Φ(x);  dy/dx = Φ(x) + x·φ(x)
    attrs: { approximate: 'string' },
    infer: same,
    grad: (c) => {
      const x = c.x[0]!;
      const cdf = F.mulScalar(F.addScalar(F.erf(F.mulScalar(x, Math.SQRT1_2)), 1), 0.5);
      const pdf = F.mulScalar(F.exp(F.mulScalar(F.mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
      return [F.mul(c.dy[0]!, F.add(cdf, F.mul(x, pdf)))];
    },
  },
  MatMul: {
    infer: (x) => {
      const [a, b] = [x[0]!.shape, x[1]!.shape];
      if (a.length < 2 || b.length < 2) throw shapeError(`MatMul needs matrices, got ${fmtShape(a)} · ${fmtShape(b)}`);
      const k1 = a[a.length - 1]!;
      const k2 = b[b.length - 2]!;
      if (k1 >= 0 && k2 >= 0 && k1 !== k2) throw shapeError(`cannot multiply ${fmtShape(a)} by ${fmtShape(b)}: inner sizes ${k1} and ${k2} differ`);
      const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
      return [{ shape: [...batch, a[a.length - 2]!, b[b.length - 1]!], dtype: 'FP32' }];
    },
    // dA = dY·Bᵀ, dB = Aᵀ·dY, each summed over broadcast batch axes
    grad: (c) => [
      ifNeeded(c, 0, () => unbroadcast(F.matmul(c.dy[0]!, F.transpose(c.x[1]!, lastTwo(c.x[1]!))), c.x[0]!)),
      ifNeeded(c, 1, () => unbroadcast(F.matmul(F.transpose(c.x[0]!, lastTwo(c.x[0]!)), c.dy[0]!), c.x[1]!)),
    ],
  },
  Gemm: {
    attrs: { transA: 'int', transB: 'int' },
    infer: (x, a) => {
      const [s, t] = [x[0]!.shape, x[1]!.shape];
      const [m, k1] = a['transA'] ? [s[1]!, s[0]!] : [s[0]!, s[1]!];
      const [k2, n] = a['transB'] ? [t[1]!, t[0]!] : [t[0]!, t[1]!];
      if (k1 >= 0 && k2 >= 0 && k1 !== k2) throw shapeError(`cannot multiply ${fmtShape(s)} by ${fmtShape(t)}: inner sizes ${k1} and ${k2} differ`);
      return [{ shape: [m, n], dtype: 'FP32' }];
    },
    grad: (c) => {
      const [a, b, g] = [c.x[0]!, c.x[1]!, c.dy[0]!];
      const tA = c.attrs['transA'] === 1;
      const tB = c.attrs['transB'] === 1;
      return [
        ifNeeded(c, 0, () => (tA ? F.gemm(b, g, tB ? 1 : 0, 1) : F.gemm(g, b, 0, tB ? 0 : 1))),
        ifNeeded(c, 1, () => (tB ? F.gemm(g, a, 1, tA ? 1 : 0) : F.gemm(a, g, tA ? 0 : 1, 0))),
      ];
    },
  },
  Softmax: {
    attrs: { axis: 'int' },
    infer: same,
    // dX = Y · (dY − Σ(dY·Y))
    grad: (c) => {
      const [y, g] = [c.y[0]!, c.dy[0]!];
      const axis = norm(c.attrs['axis'] as number, y.rank);
      return [F.mul(y, F.sub(g, F.reduceSum(F.mul(g, y), [axis], true)))];
    },
  },
  LogSoftmax: {
    attrs: { axis: 'int' },
    infer: same,
    // dX = dY − exp(Y) · Σ dY
    grad: (c) => {
      const [y, g] = [c.y[0]!, c.dy[0]!];
      const axis = norm(c.attrs['axis'] as number, y.rank);
      return [F.sub(g, F.mul(F.exp(y), F.reduceSum(g, [axis], true)))];
    },
  },
  ReduceMax: {
    attrs: { keepdims: 'int' },
    infer: (x, a, tape) => [reduceShape(x[0]!, constInts(tape, x[1]!), a['keepdims'] === 1)],
  },
  Resize: {
    attrs: { mode: 'string', coordinate_transformation_mode: 'string', nearest_mode: 'string' },
    infer: (x, _a, tape) => {
      const scales = Array.from(tape.constantData(x[2]!) as Float32Array);
      return [{ shape: x[0]!.shape.map((d, i) => (d < 0 ? -1 : Math.floor(d * scales[i]!))), dtype: x[0]!.dtype }];
    },
  },
  Split: {
    attrs: { axis: 'int' },
    infer: (x, a, tape) => {
      const axis = norm(a['axis'] as number, x[0]!.rank);
      return constInts(tape, x[1]!).map((n) => ({ shape: x[0]!.shape.map((d, i) => (i === axis ? n : d)), dtype: x[0]!.dtype }));
    },
    // the pieces' gradients side by side again; a piece nothing used contributes zeros
    grad: (c) => {
      const axis = norm(c.attrs['axis'] as number, c.x[0]!.rank);
      const parts = c.dy.map((g, i) => g ?? c.x[0]!.tape.constant(new Float32Array(c.y[i]!.shape.reduce((a, b) => a * b, 1)), c.y[i]!.shape));
      return [parts.length === 1 ? parts[0] : F.concat(parts, axis), undefined];
    },
  },
  Concat: {
    attrs: { axis: 'int' },
    infer: (x, a) => {
      const axis = norm(a['axis'] as number, x[0]!.rank);
      const total = x.some((v) => v.shape[axis]! < 0) ? -1 : x.reduce((n, v) => n + v.shape[axis]!, 0);
      return [{ shape: x[0]!.shape.map((d, i) => (i === axis ? total : d)), dtype: x[0]!.dtype }];
    },
    grad: (c) => {
      const axis = norm(c.attrs['axis'] as number, c.y[0]!.rank);
      const sizes = c.x.map((v) => v.shape[axis]!);
      if (sizes.some((n) => n < 0)) throw new Error('the gradient of Concat along a run-time (batch) dimension is not supported');
      return F.split(c.dy[0]!, sizes, axis);
    },
  },
  Pad: {
    infer: (x, _a, tape) => {
      const pads = constInts(tape, x[1]!);
      const r = x[0]!.rank;
      return [{ shape: x[0]!.shape.map((d, i) => (d < 0 ? -1 : d + pads[i]! + pads[i + r]!)), dtype: x[0]!.dtype }];
    },
  },
  ReduceSum: {
    attrs: { keepdims: 'int' },
    infer: (x, a, tape) => [reduceShape(x[0]!, constInts(tape, x[1]!), a['keepdims'] === 1)],
    grad: (c) => [F.expandTo(keepDims(c), F.shapeOf(c.x[0]!)), undefined],
  },
  ReduceMean: {
    attrs: { keepdims: 'int' },
    infer: (x, a, tape) => [reduceShape(x[0]!, constInts(tape, x[1]!), a['keepdims'] === 1)],
    // the divisor is |Y|/|X| counted at run time, so a mean over the batch works for any batch size
    grad: (c) => {
      const [x, y] = [c.x[0]!, c.y[0]!];
      const ratio = F.div(F.cast(F.sizeOf(y), 'FP32'), F.cast(F.sizeOf(x), 'FP32'));
      return [F.mul(F.expandTo(keepDims(c), F.shapeOf(x)), ratio), undefined];
    },
  },
  Reshape: {
    infer: (x, _a, tape) => {
      const target = measuredShape(tape, x[1]!);
      const src = x[0]!.shape;
      const out = target.map((d, i) => (d === 0 ? src[i]! : d));
      const known = prod(src);
      const rest = prod(out.filter((d) => d !== -1));
      if (out.filter((d) => d === -1).length === 1 && known >= 0 && rest > 0) {
        if (known % rest !== 0) throw shapeError(`cannot reshape ${fmtShape(src)} (${known} values) to ${fmtShape(target)}`);
        out[out.indexOf(-1)] = known / rest;
      }
      if (known >= 0 && prod(out) >= 0 && prod(out) !== known) {
        throw shapeError(`cannot reshape ${fmtShape(src)} (${known} values) to ${fmtShape(out)}`);
      }
      return [{ shape: out, dtype: x[0]!.dtype }];
    },
    grad: (c) => [F.reshapeLike(c.dy[0]!, c.x[0]!), undefined],
  },
  Flatten: {
    attrs: { axis: 'int' },
    infer: (x, a) => {
      const s = x[0]!.shape;
      const axis = norm(a['axis'] as number, s.length);
      return [{ shape: [prod(s.slice(0, axis)), prod(s.slice(axis))], dtype: x[0]!.dtype }];
    },
    grad: (c) => [F.reshapeLike(c.dy[0]!, c.x[0]!)],
  },
  Unsqueeze: {
    infer: (x, _a, tape) => {
      const axes = constInts(tape, x[1]!);
      const out = [...x[0]!.shape];
      const rank = out.length + axes.length;
      for (const ax of axes.map((a) => norm(a, rank)).sort((a, b) => a - b)) out.splice(ax, 0, 1);
      return [{ shape: out, dtype: x[0]!.dtype }];
    },
    grad: (c) => [F.reshapeLike(c.dy[0]!, c.x[0]!), undefined],
  },
  Transpose: {
    attrs: { perm: 'ints' },
    infer: (x, a) => [{ shape: (a['perm'] as number[]).map((p) => x[0]!.shape[p]!), dtype: x[0]!.dtype }],
    grad: (c) => {
      const perm = c.attrs['perm'] as number[];
      const inv = perm.map((_, i) => perm.indexOf(i));
      return [F.transpose(c.dy[0]!, inv)];
    },
  },
  Expand: {
    infer: (x, _a, tape) => [{ shape: broadcastShapes(x[0]!.shape, measuredShape(tape, x[1]!)), dtype: x[0]!.dtype }],
    grad: (c) => [unbroadcast(c.dy[0]!, c.x[0]!), undefined],
  },
  Slice: {
    infer: (x, _a, tape) => {
      const [starts, ends, axes] = [constInts(tape, x[1]!), constInts(tape, x[2]!), constInts(tape, x[3]!)];
      const out = [...x[0]!.shape];
      axes.forEach((ax, i) => {
        const a = norm(ax, out.length);
        const n = out[a]!;
        if (n < 0) throw new Error('Slice along a run-time dimension is not supported');
        const clamp = (v: number) => Math.max(0, Math.min(n, v < 0 ? v + n : v));
        out[a] = Math.max(0, clamp(ends[i]!) - clamp(starts[i]!));
      });
      return [{ shape: out, dtype: x[0]!.dtype }];
    },
  },
  Cast: {
    attrs: { to: 'dtype' },
    infer: (x, a) => [{ shape: x[0]!.shape, dtype: a['to'] as VType }],
    grad: (c) => [c.x[0]!.dtype === 'FP32' && c.y[0]!.dtype === 'FP32' ? c.dy[0] : undefined],
  },
  Shape: { infer: (x) => [{ shape: [x[0]!.rank], dtype: 'INT64' }] },
  Size: { infer: () => [{ shape: [], dtype: 'INT64' }] },
  ConstantOfShape: { infer: (x, _a, tape) => [{ shape: measuredShape(tape, x[0]!), dtype: 'FP32' }] },
  Not: { infer: same },
  CumSum: { infer: (x) => [{ shape: x[0]!.shape, dtype: x[0]!.dtype }] },
  Greater: { infer: (x) => [{ ...broadcast(x)[0]!, dtype: 'BOOL' }] },
  Equal: { infer: (x) => [{ ...broadcast(x)[0]!, dtype: 'BOOL' }] },
  Where: {
    infer: (x) => [{ shape: broadcast(x)[0]!.shape, dtype: x[1]!.dtype }],
    grad: (c) => {
      const zero = F.scalar(c.dy[0]!, 0);
      return [
        undefined,
        ifNeeded(c, 1, () => unbroadcast(F.where(c.x[0]!, c.dy[0]!, zero), c.x[1]!)),
        ifNeeded(c, 2, () => unbroadcast(F.where(c.x[0]!, zero, c.dy[0]!), c.x[2]!)),
      ];
    },
  },
  ArgMax: {
    attrs: { axis: 'int', keepdims: 'int' },
    infer: (x, a) => {
      const s = x[0]!.shape;
      const axis = norm(a['axis'] as number, s.length);
      return [{ shape: s.filter((_, i) => i !== axis), dtype: 'INT64' }];
    },
  },
  OneHot: {
    attrs: { axis: 'int' },
    infer: (x, _a, tape) => [{ shape: [...x[0]!.shape, constInts(tape, x[1]!)[0]!], dtype: 'FP32' }],
  },
  Gather: {
    attrs: { axis: 'int' },
    infer: (x) => [{ shape: [...x[1]!.shape, ...x[0]!.shape.slice(1)], dtype: x[0]!.dtype }],
    // embedding gradient: scatter-add each row's gradient into its id; repeated ids accumulate
    grad: (c) => {
      const [table, ids] = [c.x[0]!, c.x[1]!];
      const zeros = table.tape.constant(new Float32Array(table.shape.reduce((a, b) => a * b, 1)), table.shape);
      return [ifNeeded(c, 0, () => F.scatterNDAdd(zeros, F.unsqueeze(ids, [-1]), c.dy[0]!)), undefined];
    },
  },
  ScatterND: { attrs: { reduction: 'string' }, infer: same },
  ScatterElements: { attrs: { axis: 'int', reduction: 'string' }, infer: same },
  LayerNormalization: {
    attrs: { axis: 'int', epsilon: 'float' },
    infer: (x) => {
      const s = x[0]!.shape;
      const stat = [...s.slice(0, -1), 1];
      return [{ shape: s, dtype: 'FP32' }, { shape: stat, dtype: 'FP32' }, { shape: stat, dtype: 'FP32' }];
    },
    // with x̂ = (X − mean)·istd and g = dY·scale:  dX = istd · (g − mean(g) − x̂ · mean(g·x̂))
    grad: (c) => {
      const [x, scale] = [c.x[0]!, c.x[1]!];
      const [mean, istd] = [c.y[1]!, c.y[2]!];
      const dy = c.dy[0]!;
      const xhat = F.mul(F.sub(x, mean), istd);
      const lead = x.shape.slice(0, -1).map((_, i) => i);
      return [
        ifNeeded(c, 0, () => {
          const g = F.mul(dy, scale);
          const mg = F.reduceMean(g, [-1], true);
          const mgx = F.reduceMean(F.mul(g, xhat), [-1], true);
          return F.mul(istd, F.sub(F.sub(g, mg), F.mul(xhat, mgx)));
        }),
        ifNeeded(c, 1, () => F.reduceSum(F.mul(dy, xhat), lead)),
        ifNeeded(c, 2, () => F.reduceSum(dy, lead)),
      ];
    },
  },
  // convolution and pooling: conv-rules.ts
  ...CONV_RULES,
};

function reduceShape(x: Value, axes: readonly number[], keep: boolean): OutSpec {
  const ax = new Set(axes.map((a) => norm(a, x.rank)));
  const shape = keep ? x.shape.map((d, i) => (ax.has(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.has(i));
  return { shape, dtype: x.dtype };
}

/** dY with the reduced axes put back as size 1, ready to broadcast over X. */
function keepDims(c: GradContext): Value {
  if (c.attrs['keepdims'] === 1) return c.dy[0]!;
  const x = c.x[0]!;
  const axes = constInts(x.tape, c.x[1]!).map((a) => norm(a, x.rank)).sort((a, b) => a - b);
  return F.unsqueeze(c.dy[0]!, axes);
}
