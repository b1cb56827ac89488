// The gradient table's convolution and pooling rules (spread into RULES in rules.ts): Conv and its
// transpose, MaxPool with and without its indices, MaxUnpool and AveragePool. Each gradient is
// built from standard ops as ../shared/notes/onnx-training.md records, and checked against finite
// differences in test/training/autodiff/gradcheck.test.ts.
import * as F from './fn.js';
import type { Value } from './tape.js';
import { fmtShape, shapeError } from './tape.js';
import { convOut, ifNeeded, measuredShape, type AttrMap, type GradContext, type OpRule } from './rule-kit.js';

export const CONV_RULES: Readonly<Record<string, OpRule>> = {
  Conv: {
    attrs: { kernel_shape: 'ints', strides: 'ints', pads: 'ints', dilations: 'ints', group: 'int' },
    infer: (x, a) => {
      const [xs, ws] = [x[0]!.shape, x[1]!.shape];
      if (xs.length !== 4) throw shapeError(`Conv2d expects input [N, C, H, W], got ${fmtShape(xs)}`);
      const group = a['group'] as number;
      if (xs[1]! >= 0 && xs[1] !== ws[1]! * group) {
        throw shapeError(`Conv2d with ${ws[1]! * group} input channels got input ${fmtShape(xs)} with ${xs[1]} channels`);
      }
      const [s, p, d] = [a['strides'] as number[], a['pads'] as number[], a['dilations'] as number[]];
      const h = convOut(xs[2]!, ws[2]!, s[0]!, p[0]!, p[2]!, d[0]!);
      const w = convOut(xs[3]!, ws[3]!, s[1]!, p[1]!, p[3]!, d[1]!);
      if (h === 0 || w === 0 || h < -1 || w < -1) throw shapeError(`Conv2d kernel ${ws[2]}×${ws[3]} does not fit input ${fmtShape(xs)}`);
      return [{ shape: [xs[0]!, ws[0]!, h, w], dtype: 'FP32' }];
    },
    grad: (c) => convGrad(c),
  },
  ConvTranspose: {
    attrs: { kernel_shape: 'ints', strides: 'ints', pads: 'ints', dilations: 'ints', group: 'int', output_padding: 'ints' },
    infer: (x, a) => {
      const [xs, ws] = [x[0]!.shape, x[1]!.shape];
      const [s, p, d, op] = [a['strides'] as number[], a['pads'] as number[], a['dilations'] as number[], a['output_padding'] as number[]];
      const out = (i: number, k: number, st: number, p0: number, p1: number, dl: number, o: number) =>
        (i < 0 ? -1 : st * (i - 1) + o + ((k - 1) * dl + 1) - p0 - p1);
      return [{
        shape: [xs[0]!, ws[1]! * (a['group'] as number), out(xs[2]!, ws[2]!, s[0]!, p[0]!, p[2]!, d[0]!, op[0]!), out(xs[3]!, ws[3]!, s[1]!, p[1]!, p[3]!, d[1]!, op[1]!)],
        dtype: 'FP32',
      }];
    },
  },
  MaxPool: {
    attrs: { kernel_shape: 'ints', strides: 'ints', pads: 'ints' },
    infer: (x, a) => [{ shape: poolShape(x[0]!, a), dtype: 'FP32' }],
    grad: (c) => [maxPoolGrad(c)],
  },
  // Emitted as MaxPool with its second output; a separate entry because the plain MaxPool above is
  // what forward passes and exported models use (onnxruntime's kernel for the indices output is
  // several times slower than MLAS's pooling).
  MaxPoolWithIndices: {
    attrs: { kernel_shape: 'ints', strides: 'ints', pads: 'ints' },
    infer: (x, a) => {
      const y = poolShape(x[0]!, a);
      return [{ shape: y, dtype: 'FP32' }, { shape: y, dtype: 'INT64' }];
    },
    grad: (c) => [indexedPoolGrad(c.x[0]!, c.y[1]!, c.dy[0]!, c.attrs)],
  },
  MaxUnpool: {
    attrs: { kernel_shape: 'ints', strides: 'ints', pads: 'ints' },
    infer: (x, _a, tape) => [{ shape: measuredShape(tape, x[2]!), dtype: 'FP32' }],
  },
  AveragePool: {
    attrs: { kernel_shape: 'ints', strides: 'ints', pads: 'ints', count_include_pad: 'int' },
    infer: (x, a) => [{ shape: poolShape(x[0]!, a), dtype: 'FP32' }],
    // each input pixel receives dY/k² from every window that covers it: a transposed convolution
    // with a constant kernel, one group per channel
    grad: (c) => {
      const x = c.x[0]!;
      const [kh, kw] = c.attrs['kernel_shape'] as number[];
      const ch = x.shape[1]!;
      const kernel = x.tape.constant(new Float32Array(ch * kh! * kw!).fill(1 / (kh! * kw!)), [ch, 1, kh!, kw!]);
      const strides = c.attrs['strides'] as number[];
      const pads = c.attrs['pads'] as number[];
      return [F.convTranspose(c.dy[0]!, kernel, { strides, pads, group: ch, outputPadding: outputPadding(x, c.y[0]!, [kh!, kw!], strides, pads, [1, 1]) })];
    },
  },
};

/** MaxPool's gradient: each window's gradient goes to the input that was its maximum.
 *  Non-overlapping windows (stride = kernel, no padding — the usual 2×2 pool) view X as
 *  X is compared with Y upsampled over each window; ties share the window's gradient equally, so
 *  the result is always a subgradient. Overlapping windows scatter-add into the
 *  argmax indices of a MaxPool recomputed with its indices output; MaxUnpool would be wrong there,
 *  as an input that is the maximum of several windows must receive all of their gradients. */
function maxPoolGrad(c: GradContext): Value {
  const x = c.x[0]!;
  const [k, s, p] = [c.attrs['kernel_shape'] as number[], c.attrs['strides'] as number[], c.attrs['pads'] as number[]];
  const [ho, wo] = [c.y[0]!.shape[2]!, c.y[0]!.shape[3]!];
  const [h, w] = [x.shape[2]!, x.shape[3]!];
  if (k[0] === s[0] && k[1] === s[1] && p.every((v) => v === 0) && h >= 0 && w >= 0) {
    const [kh, kw] = [k[0]!, k[1]!];
    const cropped = h === ho * kh && w === wo * kw ? x : F.slice(x, [0, 0], [ho * kh, wo * kw], [2, 3]);
    // Same-shape elementwise ops only: onnxruntime's broadcasting over inner axes is ~20× slower
    // than its plain elementwise kernels, so Y and dY are first upsampled to X's size.
    const up = (v: Value) => F.resizeNearest(v, [1, 1, kh, kw]);
    const hit = F.cast(F.equal(cropped, up(c.y[0]!)), 'FP32');
    // ties share the window's gradient: divide dY by how many inputs hit the maximum
    // (a convolution with a kernel of ones over channels folded into the batch: onnxruntime's NCHW
    // AveragePool measured 5× slower)
    const ones = x.tape.constant(new Float32Array(kh * kw).fill(1), [1, 1, kh, kw]);
    const ties = F.reshapeLike(F.conv(F.reshape(hit, [-1, 1, ho * kh, wo * kw]), ones, undefined, { strides: s }), c.y[0]!);
    const dx = F.mul(hit, up(F.div(c.dy[0]!, ties)));
    return cropped === x ? dx : F.pad(dx, [0, 0, 0, 0, 0, 0, h - ho * kh, w - wo * kw]);
  }
  const [, idx] = F.maxPoolWithIndices(x, { kernel: k, strides: s, pads: p });
  return indexedPoolGrad(x, idx, c.dy[0]!, c.attrs);
}

/** The gradient of a MaxPool that also output its argmax indices (flat over N·C·H·W). */
function indexedPoolGrad(x: Value, idx: Value, dy: Value, a: AttrMap): Value {
  const [k, s, p] = [a['kernel_shape'] as number[], a['strides'] as number[], a['pads'] as number[]];
  if (k.every((v, i) => v <= s[i]!) && p.every((v) => v === 0)) {
    return x.tape.apply('MaxUnpool', [dy, idx, F.shapeOf(x)], { kernel_shape: k, strides: s, pads: p })[0]!;
  }
  const flat = F.reshape(F.zerosLike(x), [-1]);
  return F.reshapeLike(F.scatterElementsAdd(flat, F.reshape(idx, [-1]), F.reshape(dy, [-1])), x);
}

function poolShape(x: Value, a: AttrMap): number[] {
  const s = x.shape;
  if (s.length !== 4) throw shapeError(`2-D pooling expects input [N, C, H, W], got ${fmtShape(s)}`);
  const [k, st, p] = [a['kernel_shape'] as number[], a['strides'] as number[], a['pads'] as number[]];
  const h = convOut(s[2]!, k[0]!, st[0]!, p[0]!, p[2]!, 1);
  const w = convOut(s[3]!, k[1]!, st[1]!, p[1]!, p[3]!, 1);
  if (h === 0 || w === 0 || h < -1 || w < -1) throw shapeError(`pool window ${k[0]}×${k[1]} does not fit input ${fmtShape(s)}`);
  return [s[0]!, s[1]!, h, w];
}

/** The output_padding that makes a transposed convolution give back exactly the input's H and W. */
function outputPadding(x: Value, y: Value, k: readonly number[], s: readonly number[], p: readonly number[], d: readonly number[]): number[] {
  return [0, 1].map((i) => {
    const size = x.shape[2 + i]!;
    return (size + p[i]! + p[i + 2]! - d[i]! * (k[i]! - 1) - 1) % s[i]!;
  }).map((v, i) => (y.shape[2 + i]! < 0 ? 0 : v));
}

function convGrad(c: GradContext): (Value | undefined)[] {
  const [x, w] = [c.x[0]!, c.x[1]!];
  const dy = c.dy[0]!;
  if ((c.attrs['group'] as number) !== 1) throw new Error('Conv gradient supports group = 1 only');
  const strides = c.attrs['strides'] as number[];
  const pads = c.attrs['pads'] as number[];
  const dilations = c.attrs['dilations'] as number[];
  const k = w.shape.slice(2);
  let swapped: Value | undefined;
  const gt = () => (swapped ??= F.transpose(dy, [1, 0, 2, 3]));
  return [
    // dX: a transposed convolution of dY with the same weights
    ifNeeded(c, 0, () => F.convTranspose(dy, w, {
      strides, pads, dilations, outputPadding: outputPadding(x, c.y[0]!, k, strides, pads, dilations),
    })),
    // dW: correlate X with dY, treating the batch as channels (swap axes 0 and 1 of both)
    ifNeeded(c, 1, () => {
      const xt = F.transpose(x, [1, 0, 2, 3]);
      let dw = F.transpose(F.conv(xt, gt(), undefined, { strides: dilations, dilations: strides, pads }), [1, 0, 2, 3]);
      if (dw.shape[2] !== k[0] || dw.shape[3] !== k[1]) dw = F.slice(dw, [0, 0], [k[0]!, k[1]!], [2, 3]);
      return dw;
    }),
    // dB: sums over the last axis of the swapped dY, which onnxruntime reduces several times faster
    // than axes [0, 2, 3] of dY itself
    ifNeeded(c, 2, () => F.reduceSum(F.reshape(gt(), [w.shape[0]!, -1]), [1])),
  ];
}
