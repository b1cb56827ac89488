// Every rule in the gradient table against finite differences, through onnxruntime.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as F from '../../../src/training/autodiff/fn.js';
import { Rng } from '../../../src/training/rng.js';
import { gradCheck, randn } from './gradcheck.js';

const rng = new Rng(42);
const x = (name: string, shape: number[], scale = 1, offset = 0) =>
  ({ name, shape, data: randn(rng, shape.reduce((a, b) => a * b, 1), scale, offset) });
/** Values at least 0.05 apart and away from 0: finite differences with eps ≤ 1e-2 never cross a
 *  kink (two candidates for a pool's maximum swapping, a ReLU input changing sign). */
const distinct = (name: string, shape: number[]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const order = rng.permutation(n);
  return { name, shape, data: Float32Array.from(order, (i) => (i - n / 2 + 0.5) * 0.05) };
};
const ids = (name: string, values: number[], shape = [values.length]) =>
  ({ name, shape, data: BigInt64Array.from(values, BigInt) });

describe('gradient rules match finite differences', () => {
  describe('elementwise', () => {
    it('Add, Sub, Mul, Div with broadcasting', async () => {
      await gradCheck([x('a', [3, 4]), x('b', [4])], ([a, b]) => F.add(a!, b!));
      await gradCheck([x('a', [3, 4]), x('b', [3, 1])], ([a, b]) => F.sub(a!, b!));
      await gradCheck([x('a', [2, 3, 4]), x('b', [3, 1])], ([a, b]) => F.mul(a!, b!));
      await gradCheck([x('a', [3, 4]), x('b', [4], 0.2, 2)], ([a, b]) => F.div(a!, b!));
    });
    it('the same value used twice accumulates both paths', async () => {
      await gradCheck([x('a', [5])], ([a]) => F.mul(a!, a!));
    });
    it('Neg, Exp, Log, Sqrt, Erf', async () => {
      await gradCheck([x('a', [6])], ([a]) => F.neg(a!));
      await gradCheck([x('a', [6], 0.5)], ([a]) => F.exp(a!));
      await gradCheck([x('a', [6], 0.3, 2)], ([a]) => F.log(a!));
      await gradCheck([x('a', [6], 0.3, 2)], ([a]) => F.sqrt(a!));
      await gradCheck([x('a', [6])], ([a]) => F.erf(a!));
    });
    it('Relu, Tanh, Sigmoid, Softplus, Gelu', async () => {
      await gradCheck([distinct('a', [4, 5])], ([a]) => F.relu(a!), { eps: 1e-3 });
      await gradCheck([x('a', [4, 5])], ([a]) => F.tanh(a!));
      await gradCheck([x('a', [4, 5])], ([a]) => F.sigmoid(a!));
      await gradCheck([x('a', [4, 5])], ([a]) => F.softplus(a!));
      await gradCheck([x('a', [4, 5], 2)], ([a]) => F.gelu(a!));
    });
    it('Where routes the gradient to the chosen side', async () => {
      await gradCheck([x('a', [3, 4]), x('b', [4]), x('c', [3, 4])], ([a, b, c]) => F.where(F.greater(c!, F.scalar(c!, 0)), a!, b!));
    });
  });

  describe('matrix products', () => {
    it('MatMul 2-D and batched 3-D × 2-D', async () => {
      await gradCheck([x('a', [3, 5]), x('b', [5, 2])], ([a, b]) => F.matmul(a!, b!));
      await gradCheck([x('a', [2, 3, 5]), x('b', [5, 4])], ([a, b]) => F.matmul(a!, b!));
      await gradCheck([x('a', [2, 3, 5]), x('b', [2, 5, 4])], ([a, b]) => F.matmul(a!, b!));
    });
    it('Gemm with every transpose combination', async () => {
      for (const [tA, tB] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
        const a = tA ? [5, 3] : [3, 5];
        const b = tB ? [2, 5] : [5, 2];
        await gradCheck([x('a', a), x('b', b)], ([p, q]) => F.gemm(p!, q!, tA, tB));
      }
    });
  });

  describe('normalizing and reducing', () => {
    it('Softmax and LogSoftmax on the last and a middle axis', async () => {
      await gradCheck([x('a', [3, 5])], ([a]) => F.softmax(a!, -1));
      await gradCheck([x('a', [2, 4, 3])], ([a]) => F.softmax(a!, 1));
      await gradCheck([x('a', [3, 5])], ([a]) => F.logSoftmax(a!, -1));
      await gradCheck([x('a', [2, 4, 3])], ([a]) => F.logSoftmax(a!, 1));
    });
    it('ReduceSum and ReduceMean, with and without keepdims', async () => {
      await gradCheck([x('a', [3, 4, 2])], ([a]) => F.reduceSum(a!, [1], false));
      await gradCheck([x('a', [3, 4, 2])], ([a]) => F.reduceSum(a!, [0, 2], true));
      await gradCheck([x('a', [3, 4, 2])], ([a]) => F.reduceMean(a!, [2], false));
      await gradCheck([x('a', [3, 4, 2])], ([a]) => F.reduceMean(a!, [0, 1], true));
    });
    it('ReduceMean over a run-time batch dimension', async () => {
      const a = x('a', [5, 3]);
      await gradCheck([{ ...a, shape: [-1, 3], runShape: [5, 3] }], ([v]) => F.reduceMean(v!, [0], false));
    });
    it('LayerNormalization: input, scale and bias', async () => {
      await gradCheck([x('a', [4, 6], 2, 1), x('s', [6], 0.5, 1), x('b', [6])], ([a, s, b]) => F.layerNorm(a!, s!, b!, 1e-5)[0]);
    });
  });

  describe('shapes', () => {
    it('Reshape, Flatten, Transpose, Unsqueeze, Expand', async () => {
      await gradCheck([x('a', [2, 3, 4])], ([a]) => F.mul(F.reshape(a!, [6, 4]), F.scalar(a!, 1)));
      await gradCheck([{ ...x('a', [2, 3, 4]), shape: [-1, 3, 4], runShape: [2, 3, 4] }], ([a]) => F.tanh(F.flatten(a!)));
      await gradCheck([x('a', [2, 3, 4])], ([a]) => F.transpose(a!, [2, 0, 1]));
      await gradCheck([x('a', [3, 4])], ([a]) => F.unsqueeze(a!, [1]));
      await gradCheck([x('a', [3, 1])], ([a]) => F.expandTo(a!, a!.tape.ints([2, 3, 4])));
    });
    it('Split (including a piece nothing uses) and Concat', async () => {
      await gradCheck([x('a', [10])], ([a]) => {
        const [p, , r] = F.split(a!, [3, 4, 3], 0);
        return F.concat([F.tanh(r!), F.mul(p!, p!)], 0);
      });
      await gradCheck([x('a', [2, 3]), x('b', [2, 5])], ([a, b]) => F.concat([a!, b!], 1));
    });
  });

  describe('embedding', () => {
    it('Gather with repeated ids accumulates every occurrence', async () => {
      await gradCheck([x('table', [5, 3]), ids('ids', [1, 3, 1, 1, 4, 3], [2, 3])], ([t, i]) => F.gather(t!, i!));
    });
  });

  describe('convolution and pooling', () => {
    it('Conv: stride 1, no padding, with bias', async () => {
      await gradCheck([x('x', [2, 2, 5, 5]), x('w', [3, 2, 3, 3]), x('b', [3])], ([a, w, b]) => F.conv(a!, w!, b!));
    });
    it('Conv: stride 2 with padding, where (H + 2p − k) mod s ≠ 0', async () => {
      await gradCheck([x('x', [2, 2, 6, 7]), x('w', [3, 2, 3, 3])], ([a, w]) => F.conv(a!, w!, undefined, { strides: [2, 2], pads: [1, 1, 1, 1] }));
    });
    it('Conv: dilation 2 and a run-time batch', async () => {
      const input = x('x', [2, 1, 7, 7]);
      await gradCheck([{ ...input, shape: [-1, 1, 7, 7], runShape: [2, 1, 7, 7] }, x('w', [2, 1, 3, 3])],
        ([a, w]) => F.conv(a!, w!, undefined, { dilations: [2, 2] }));
    });
    it('MaxPool with non-overlapping windows, including rows and columns the windows leave out', async () => {
      await gradCheck([distinct('x', [2, 3, 4, 4])], ([a]) => F.maxPool(a!, { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] }), { eps: 1e-3 });
      await gradCheck([distinct('x', [2, 2, 5, 7])], ([a]) => F.maxPool(a!, { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] }), { eps: 1e-3 });
      const input = distinct('x', [3, 2, 6, 6]);
      await gradCheck([{ ...input, shape: [-1, 2, 6, 6], runShape: [3, 2, 6, 6] }], ([a]) => F.maxPool(a!, { kernel: [3, 3], strides: [3, 3], pads: [0, 0, 0, 0] }), { eps: 1e-3 });
    });
    it('MaxPool with overlapping windows (an input can be the max of several)', async () => {
      await gradCheck([distinct('x', [1, 2, 5, 5])], ([a]) => F.maxPool(a!, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }), { eps: 1e-3 });
      await gradCheck([distinct('x', [2, 1, 7, 7])], ([a]) => F.maxPool(a!, { kernel: [3, 3], strides: [2, 2], pads: [0, 0, 0, 0] }), { eps: 1e-3 });
    });
    it('MaxPool with its indices output (what training records): MaxUnpool and scatter paths', async () => {
      const p2 = { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] };
      const p3 = { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] };
      await gradCheck([distinct('x', [2, 3, 6, 6])], ([a]) => F.maxPoolWithIndices(a!, p2)[0], { eps: 1e-3 });
      await gradCheck([distinct('x', [2, 2, 7, 7])], ([a]) => F.maxPoolWithIndices(a!, p3)[0], { eps: 1e-3 });
    });
    it('AveragePool, non-overlapping and overlapping with padding', async () => {
      await gradCheck([x('x', [2, 3, 4, 4])], ([a]) => F.averagePool(a!, { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] }));
      await gradCheck([x('x', [1, 2, 5, 5])], ([a]) => F.averagePool(a!, { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }));
      await gradCheck([x('x', [1, 2, 6, 6])], ([a]) => F.averagePool(a!, { kernel: [3, 3], strides: [2, 2], pads: [0, 0, 0, 0] }));
    });
  });
});

describe('gradient rules where finite differences cannot look', () => {
  it('MaxPool shares a window\'s gradient between tied maxima; with indices it goes to the first', async () => {
    const { openGraphSession } = await import('../../../src/runtimes/onnx/session.js');
    const { gradients } = await import('../../../src/training/autodiff/backward.js');
    const { emitModel } = await import('../../../src/training/autodiff/emit.js');
    const { Tape } = await import('../../../src/training/autodiff/tape.js');
    // one 2×4 image: the left window is all 3s (a four-way tie), the right one has a single maximum
    const data = Float32Array.of(3, 3, 1, 2, 3, 3, 5, 0);
    for (const withIndices of [false, true]) {
      const t = new Tape();
      const xv = t.input('x', [1, 1, 2, 4]);
      const pool = { kernel: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] };
      const y = withIndices ? F.maxPoolWithIndices(xv, pool)[0] : F.maxPool(xv, pool);
      const [g] = gradients(F.sumAll(F.mul(y, t.constant([10, 20], [1, 1, 1, 2]))), [xv]);
      const s = await openGraphSession(emitModel(t, { outputs: { g: g! } }));
      const out = await s.run({ x: { dtype: 'FP32', shape: [1, 1, 2, 4], data } });
      await s.release();
      const expected = withIndices ? [10, 0, 0, 0, 0, 0, 20, 0] : [2.5, 2.5, 0, 0, 2.5, 2.5, 20, 0];
      assert.deepEqual(Array.from(out['g']!.data as Float32Array), expected);
    }
  });
});
