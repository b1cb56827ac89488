// Each layer's forward pass, run through onnxruntime, against a plain-JS reference; the shape errors a
// user sees when the layers do not fit together; parameter names and initialization.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../../../src/core/errors.js';
import { Tape } from '../../../src/training/autodiff/tape.js';
import { buildNetwork } from '../../../src/training/nn/build.js';
import {
  AvgPool2d, Conv2d, Dropout, Embedding, Flatten, GELU, LayerNorm, Linear, MaxPool2d, ReLU, Sequential, Sigmoid, Softmax, Tanh,
} from '../../../src/training/nn/layers.js';
import type { ForwardContext, Module } from '../../../src/training/nn/module.js';
import { Rng } from '../../../src/training/rng.js';
import { assertClose, erf, forward, randn, size } from './support.js';

const rng = new Rng(7);
const input = (shape: number[], scale = 1) => ({ shape, data: randn(rng, size(shape), scale) });
const init = <M extends Module>(m: M, seed = 3): M => {
  m.initialize(new Rng(seed));
  return m;
};

/** out[n, c, i, j] for a [N, C, H, W] array */
const at4 = (shape: readonly number[]) => (n: number, c: number, i: number, j: number) =>
  ((n * shape[1]! + c) * shape[2]! + i) * shape[3]! + j;

function conv2dRef(x: Float32Array, xs: number[], w: Float32Array, ws: number[], b: Float32Array, stride: number, pad: number) {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [O, , K, L] = ws as [number, number, number, number];
  const OH = Math.floor((H + 2 * pad - K) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - L) / stride) + 1;
  const out = new Float64Array(N * O * OH * OW);
  const xi = at4(xs);
  const wi = at4(ws);
  const oi = at4([N, O, OH, OW]);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
    let s = b[o]!;
    for (let c = 0; c < C; c++) for (let k = 0; k < K; k++) for (let l = 0; l < L; l++) {
      const r = i * stride - pad + k;
      const q = j * stride - pad + l;
      if (r >= 0 && r < H && q >= 0 && q < W) s += x[xi(n, c, r, q)]! * w[wi(o, c, k, l)]!;
    }
    out[oi(n, o, i, j)] = s;
  }
  return { shape: [N, O, OH, OW], data: out };
}

/** PyTorch's pooling: max ignores padding, average divides by k·k (count_include_pad=True). */
function pool2dRef(kind: 'max' | 'avg', x: Float32Array, xs: number[], k: number, stride: number, pad: number) {
  const [N, C, H, W] = xs as [number, number, number, number];
  const OH = Math.floor((H + 2 * pad - k) / stride) + 1;
  const OW = Math.floor((W + 2 * pad - k) / stride) + 1;
  const out = new Float64Array(N * C * OH * OW);
  const xi = at4(xs);
  const oi = at4([N, C, OH, OW]);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let i = 0; i < OH; i++) for (let j = 0; j < OW; j++) {
    let m = -Infinity;
    let s = 0;
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) {
      const r = i * stride - pad + a;
      const q = j * stride - pad + b;
      if (r >= 0 && r < H && q >= 0 && q < W) {
        m = Math.max(m, x[xi(n, c, r, q)]!);
        s += x[xi(n, c, r, q)]!;
      }
    }
    out[oi(n, c, i, j)] = kind === 'max' ? m : s / (k * k);
  }
  return { shape: [N, C, OH, OW], data: out };
}

describe('layer forward passes match plain-JS references', () => {
  it('Linear stores its weight [in, out] and computes x·W + b, for 2-D and 3-D input', async () => {
    const lin = init(new Linear(5, 3));
    assert.deepEqual(lin.weight.shape, [5, 3]);
    assert.deepEqual(lin.bias?.shape, [3]);
    for (const shape of [[4, 5], [2, 3, 5]]) {
      const x = input(shape);
      const rows = size(shape) / 5;
      const expected = new Float64Array(rows * 3);
      for (let r = 0; r < rows; r++) for (let o = 0; o < 3; o++) {
        let s = lin.bias!.data[o]!;
        for (let i = 0; i < 5; i++) s += x.data[r * 5 + i]! * lin.weight.data[i * 3 + o]!;
        expected[r * 3 + o] = s;
      }
      const y = await forward(lin, x);
      assert.deepEqual(y.shape, [...shape.slice(0, -1), 3]);
      assertClose(y.data, expected, `Linear on ${JSON.stringify(shape)}`);
    }
  });

  it('Linear without bias is x·W alone', async () => {
    const lin = init(new Linear(3, 2, false));
    assert.deepEqual(lin.namedParameters().map(([n]) => n), ['weight']);
    const x = input([2, 3]);
    const expected = [0, 1].flatMap((r) => [0, 1].map((o) => [0, 1, 2].reduce((s, i) => s + x.data[r * 3 + i]! * lin.weight.data[i * 2 + o]!, 0)));
    assertClose((await forward(lin, x)).data, expected, 'Linear(bias=false)');
  });

  it('Conv2d with stride 2 and padding 1', async () => {
    const conv = init(new Conv2d(3, 4, 3, { stride: 2, padding: 1 }));
    assert.deepEqual(conv.weight.shape, [4, 3, 3, 3]);
    const x = input([2, 3, 5, 6]);
    const ref = conv2dRef(x.data, [2, 3, 5, 6], conv.weight.data, [4, 3, 3, 3], conv.bias!.data, 2, 1);
    const y = await forward(conv, x);
    assert.deepEqual(y.shape, [2, 4, 3, 3]);
    assert.deepEqual(ref.shape, [2, 4, 3, 3]);
    assertClose(y.data, ref.data, 'Conv2d(3→4, 3×3, stride 2, padding 1)');
  });

  it('MaxPool2d and AvgPool2d, plain and with stride and padding', async () => {
    const x = input([2, 3, 5, 6]);
    const cases: [string, Module, 'max' | 'avg', number, number, number][] = [
      ['MaxPool2d(2)', new MaxPool2d(2), 'max', 2, 2, 0],
      ['MaxPool2d(3, 2, 1)', new MaxPool2d(3, 2, 1), 'max', 3, 2, 1],
      ['AvgPool2d(2)', new AvgPool2d(2), 'avg', 2, 2, 0],
      ['AvgPool2d(3, 2, 1)', new AvgPool2d(3, 2, 1), 'avg', 3, 2, 1],
    ];
    for (const [what, m, kind, k, s, p] of cases) {
      const ref = pool2dRef(kind, x.data, [2, 3, 5, 6], k, s, p);
      const y = await forward(m, x);
      assert.deepEqual(y.shape, ref.shape, `${what} output shape`);
      assertClose(y.data, ref.data, what);
    }
  });

  it('Flatten keeps the batch and row-major order', async () => {
    const x = input([2, 3, 2, 2]);
    const y = await forward(new Flatten(), x);
    assert.deepEqual(y.shape, [2, 12]);
    assert.deepEqual([...y.data], [...x.data]);
  });

  it('ReLU, Tanh, Sigmoid and GELU (the exact, erf form)', async () => {
    const x = input([3, 7], 2);
    const cases: [Module, (v: number) => number][] = [
      [new ReLU(), (v) => Math.max(0, v)],
      [new Tanh(), Math.tanh],
      [new Sigmoid(), (v) => 1 / (1 + Math.exp(-v))],
      [new GELU(), (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))],
    ];
    for (const [m, f] of cases) {
      const y = await forward(m, x);
      assert.deepEqual(y.shape, [3, 7]);
      assertClose(y.data, Array.from(x.data, f), m.kind, 1e-5);
    }
  });

  it('Softmax on the last axis and on a middle axis', async () => {
    const x = input([2, 3, 4], 3);
    for (const axis of [-1, 1]) {
      const expected = new Float64Array(24);
      const stride = axis === -1 ? 1 : 4;
      const len = axis === -1 ? 4 : 3;
      for (let n = 0; n < 2; n++) for (let other = 0; other < (axis === -1 ? 3 : 4); other++) {
        const base = n * 12 + (axis === -1 ? other * 4 : other);
        const e = Array.from({ length: len }, (_, k) => Math.exp(x.data[base + k * stride]!));
        const sum = e.reduce((a, b) => a + b, 0);
        e.forEach((v, k) => (expected[base + k * stride] = v / sum));
      }
      assertClose((await forward(new Softmax(axis), x)).data, expected, `Softmax(axis ${axis})`);
    }
  });

  it('LayerNorm normalizes the last axis with the biased variance, then scales and shifts', async () => {
    const ln = new LayerNorm(5);
    ln.initialize(new Rng(0));
    assert.deepEqual([...ln.weight.data], [1, 1, 1, 1, 1], 'scale starts at 1');
    assert.deepEqual([...ln.bias.data], [0, 0, 0, 0, 0], 'shift starts at 0');
    ln.weight.data = randn(rng, 5);
    ln.bias.data = randn(rng, 5);
    const x = input([3, 5], 4);
    const expected = new Float64Array(15);
    for (let r = 0; r < 3; r++) {
      const row = Array.from(x.data.subarray(r * 5, r * 5 + 5));
      const mean = row.reduce((a, b) => a + b, 0) / 5;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 5;
      row.forEach((v, i) => (expected[r * 5 + i] = ((v - mean) / Math.sqrt(variance + 1e-5)) * ln.weight.data[i]! + ln.bias.data[i]!));
    }
    assertClose((await forward(ln, x)).data, expected, 'LayerNorm(5)', 1e-4, 1e-4);
  });

  it('Embedding looks rows up by INT64 id', async () => {
    const emb = init(new Embedding(5, 4));
    const ids = [4, 0, 2, 2, 1, 3];
    const y = await forward(emb, { shape: [2, 3], data: BigInt64Array.from(ids, BigInt) });
    assert.deepEqual(y.shape, [2, 3, 4]);
    assert.deepEqual([...y.data], ids.flatMap((id) => [...emb.weight.data.subarray(id * 4, id * 4 + 4)]));
  });

  it('Embedding refuses float input, naming the dtype it got', () => {
    const tape = new Tape();
    const ctx = scratchContext(tape);
    assert.throws(() => new Embedding(5, 4).forward(tape.input('x', [-1, 3]), ctx), (e: unknown) =>
      e instanceof FerryError && /INT64/.test(e.message) && /FP32/.test(e.message));
  });

  it('Dropout is the identity when not training', async () => {
    const x = input([4, 6]);
    const y = await forward(new Dropout(0.5), x, { training: false });
    assert.equal(y.maskRequests.length, 0, 'no mask is asked for at inference');
    assert.deepEqual([...y.data], [...x.data]);
  });

  it('Dropout multiplies by the 1/(1−p)-scaled keep-mask it asks for when training', async () => {
    const x = input([4, 6]);
    const p = 0.25;
    const mask = Float32Array.from({ length: 24 }, (_, i) => (i % 3 === 0 ? 0 : 1 / (1 - p)));
    const y = await forward(new Dropout(p), x, { training: true, masks: [mask] });
    assert.deepEqual(y.maskRequests, [{ shape: [-1, 6], p }], 'one mask, the shape of the input, for p = 0.25');
    assertClose(y.data, Array.from(x.data, (v, i) => v * mask[i]!), 'Dropout(0.25) in training');
    assert.ok(y.data.some((v) => v === 0) && y.data.some((v, i) => v !== 0 && Math.abs(v / x.data[i]! - 4 / 3) < 1e-6));
  });

  it('Dropout rejects p outside [0, 1)', () => {
    for (const p of [1, -0.1, 1.5]) assert.throws(() => new Dropout(p), /Dropout p must be in \[0, 1\)/);
  });

  it('a Sequential network runs its layers in order', async () => {
    const net = init(new Sequential([new Linear(4, 3), new Tanh(), new Linear(3, 2)]));
    const x = input([5, 4]);
    const [w1, b1, w2, b2] = net.namedParameters().map(([, p]) => p.data);
    const expected: number[] = [];
    for (let r = 0; r < 5; r++) {
      const h = [0, 1, 2].map((o) => Math.tanh(b1![o]! + [0, 1, 2, 3].reduce((s, i) => s + x.data[r * 4 + i]! * w1![i * 3 + o]!, 0)));
      for (let o = 0; o < 2; o++) expected.push(b2![o]! + h.reduce((s, v, i) => s + v * w2![i * 2 + o]!, 0));
    }
    assertClose((await forward(net, x)).data, expected, 'Linear→Tanh→Linear');
  });
});

/** A context that only records: enough to see the shape checks fire. */
function scratchContext(tape: Tape): ForwardContext {
  let n = 0;
  return { training: false, param: (p) => tape.input(`p${n++}`, p.shape), dropoutMask: (s) => tape.input(`m${n++}`, s), normalNoise: (s) => tape.input(`e${n++}`, s) };
}

function recordShapeError(net: Module, shape: number[]): FerryError {
  const tape = new Tape();
  try {
    net.forward(tape.input('input', shape), scratchContext(tape));
  } catch (err) {
    assert.ok(err instanceof FerryError, `a FerryError, got ${String(err)}`);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return err;
  }
  assert.fail(`recording ${net.describe()} on ${JSON.stringify(shape)} should have failed`);
}

describe('layers that do not fit together say where and why', () => {
  it('Linear(100, 10) after Linear(784, 128) names layer 2 and both shapes', () => {
    const net = new Sequential([new Linear(784, 128), new ReLU(), new Linear(100, 10)]);
    const err = recordShapeError(net, [-1, 784]);
    assert.match(err.message, /layer 2/);
    assert.match(err.message, /Linear 100→10/);
    assert.match(err.message, /\[N, 100\]/, 'the shape it expects');
    assert.match(err.message, /\[N, 128\]/, 'the shape it got');
  });

  it('Conv2d given the wrong number of channels names both', () => {
    const net = new Sequential([new Conv2d(3, 8, 3)]);
    const err = recordShapeError(net, [-1, 1, 28, 28]);
    assert.match(err.message, /layer 0 \(Conv2d 3→8 3×3\)/);
    assert.match(err.message, /\[N, 3, H, W\]/);
    assert.match(err.message, /\[N, 1, 28, 28\]/);
  });

  it('a flat input to Conv2d or a pool asks for [N, C, H, W]', () => {
    assert.match(recordShapeError(new Sequential([new Conv2d(1, 4, 3)]), [-1, 784]).message, /\[N, 1, H, W\], got \[N, 784\]/);
    assert.match(recordShapeError(new Sequential([new MaxPool2d(2)]), [-1, 784]).message, /layer 0 \(MaxPool2d\).*\[N, C, H, W\], got \[N, 784\]/);
  });

  it('a mismatch inside a nested Sequential names its full position, like parameter names do', () => {
    const net = new Sequential([new Linear(4, 4), new Sequential([new Linear(4, 3), new Linear(5, 2)])]);
    const err = recordShapeError(net, [-1, 4]);
    assert.match(err.message, /^layer 1\.1 \(Linear 5→2\) expects input \[N, 5\], got \[N, 3\]/);
  });

  it('a pool padded by more than half its window is refused when built, as PyTorch does', () => {
    for (const make of [() => new MaxPool2d(2, 2, 2), () => new AvgPool2d(3, 1, 2), () => new MaxPool2d([2, 4], 1, [1, 3])]) {
      assert.throws(make, (e: unknown) => e instanceof FerryError && e.code === 'INVALID_ARGUMENT' && /padding \d must be an integer from 0 to half the kernel size \d/.test(e.message));
    }
    assert.throws(() => new MaxPool2d(2, 0), /MaxPool2d stride must be a positive integer, got 0/);
    new MaxPool2d(3, 2, 1); // half of 3, rounded down
    new AvgPool2d([2, 4], 1, [1, 2]);
  });

  it('LayerNorm of the wrong width names both widths', () => {
    const err = recordShapeError(new Sequential([new Linear(4, 6), new LayerNorm(5)]), [-1, 4]);
    assert.match(err.message, /layer 1 \(LayerNorm\)/);
    assert.match(err.message, /\[\.\.\., 5\], got \[N, 6\]/);
  });
});

describe('parameters', () => {
  it('are named like a PyTorch state dict, nested Sequentials included', () => {
    const net = buildNetwork([
      { type: 'Conv2d', in: 1, out: 2, kernel: 3 }, { type: 'ReLU' }, { type: 'Flatten' },
      { type: 'Sequential', layers: [{ type: 'Linear', in: 8, out: 4 }, { type: 'LayerNorm', dim: 4 }] },
      { type: 'Linear', in: 4, out: 2, bias: false },
    ]);
    assert.deepEqual(net.namedParameters().map(([n, p]) => [n, p.shape]), [
      ['0.weight', [2, 1, 3, 3]], ['0.bias', [2]],
      ['3.0.weight', [8, 4]], ['3.0.bias', [4]], ['3.1.weight', [4]], ['3.1.bias', [4]],
      ['4.weight', [4, 2]],
    ]);
  });

  it('initialize the same for the same seed and differently for another', () => {
    const spec = [{ type: 'Linear', in: 20, out: 8 }, { type: 'ReLU' }, { type: 'Linear', in: 8, out: 3 }] as const;
    const values = (seed: number) => {
      const net = buildNetwork(spec.map((l) => ({ ...l })));
      net.initialize(new Rng(seed));
      return net.namedParameters().map(([, p]) => [...p.data]);
    };
    assert.deepEqual(values(1), values(1));
    assert.notDeepEqual(values(1), values(2));
  });

  it('start within ±1/√fan_in (PyTorch\'s default), filling that range', () => {
    const cases: [Module, number][] = [[new Linear(50, 30), 50], [new Conv2d(4, 6, 3), 4 * 9], [new Conv2d(2, 3, [2, 5]), 2 * 10]];
    for (const [m, fanIn] of cases) {
      m.initialize(new Rng(11));
      const bound = 1 / Math.sqrt(fanIn);
      for (const [name, p] of m.namedParameters()) {
        const max = p.data.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
        assert.ok(max <= bound, `${m.describe()} ${name}: |value| up to ${max}, bound ${bound}`);
        if (p.size >= 30) assert.ok(max > 0.8 * bound, `${m.describe()} ${name}: values spread to the bound (max ${max}, bound ${bound})`);
        assert.ok(p.data.some((v) => v < 0) && p.data.some((v) => v > 0), `${name} has both signs`);
      }
    }
  });
});
