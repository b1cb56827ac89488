// The three losses, their accuracy counts and their serving outputs, run through onnxruntime and
// compared with plain-JS references computed in float64 — including logits far out where a naive
// softmax or log-sigmoid overflows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../../../src/core/errors.js';
import { gradients } from '../../../src/training/autodiff/backward.js';
import { Tape } from '../../../src/training/autodiff/tape.js';
import { correctCount, lossValue, servingOutputs, type TargetLoss } from '../../../src/training/nn/losses.js';
import { Rng } from '../../../src/training/rng.js';
import { assertClose, randn, runTape } from './support.js';

const rng = new Rng(5);
const ids = (xs: number[]) => ({ shape: [xs.length], recordShape: [-1], data: BigInt64Array.from(xs, BigInt) });
const floats = (shape: number[], data: ArrayLike<number>) => ({ shape, recordShape: [-1, ...shape.slice(1)], data: Float32Array.from(data) });

/** loss, correct count and d loss / d out, from one graph */
async function evaluate(loss: TargetLoss, out: ReturnType<typeof floats>, target: ReturnType<typeof floats> | ReturnType<typeof ids>) {
  const r = await runTape({ out, target }, (v) => {
    const l = lossValue(loss, v['out']!, v['target']!);
    const [g] = gradients(l, [v['out']!]);
    const c = correctCount(loss, v['out']!, v['target']!);
    return { loss: l, grad: g!, ...(c ? { correct: c } : {}) };
  });
  return { loss: r['loss']!.data[0]!, grad: r['grad']!.data, correct: r['correct']?.data[0] };
}

function logSumExp(row: readonly number[]): number {
  const m = Math.max(...row);
  return m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
}
/** log(1 + e^z) without overflow */
const softplus = (z: number) => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function crossEntropyRef(logits: Float32Array, classes: number, y: number[]) {
  const n = y.length;
  let loss = 0;
  const grad: number[] = [];
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const row = Array.from(logits.subarray(i * classes, (i + 1) * classes));
    const lse = logSumExp(row);
    loss += lse - row[y[i]!]!;
    row.forEach((z, k) => grad.push((Math.exp(z - lse) - (k === y[i] ? 1 : 0)) / n));
    if (row.indexOf(Math.max(...row)) === y[i]) correct++;
  }
  return { loss: loss / n, grad, correct };
}

describe('crossEntropy', () => {
  it('is the mean negative log-likelihood of the target class, with gradient (softmax − one-hot)/N', async () => {
    const y = [0, 3, 2, 2, 1, 3];
    const out = floats([6, 4], randn(rng, 24, 2));
    const ref = crossEntropyRef(out.data, 4, y);
    const r = await evaluate('crossEntropy', out, ids(y));
    assertClose([r.loss], [ref.loss], 'loss');
    assertClose(r.grad, ref.grad, 'd loss / d logits');
    assert.equal(r.correct, ref.correct, 'correct predictions (argmax = target)');
  });

  it('stays finite and exact for logits of ±50', async () => {
    const logits = [50, -50, 0, -50, 50, 0, 0, 0, 50, 50, 50, -50];
    const y = [0, 0, 1, 2];
    const ref = crossEntropyRef(Float32Array.from(logits), 3, y);
    const r = await evaluate('crossEntropy', floats([4, 3], logits), ids(y));
    assert.ok(Number.isFinite(r.loss), `loss ${r.loss}`);
    assert.ok(r.grad.every(Number.isFinite), 'gradient finite');
    assertClose([r.loss], [ref.loss], 'loss at ±50 (≈ 100/4 + 50/4 + …)', 1e-4);
    assertClose(r.grad, ref.grad, 'gradient at ±50', 1e-6);
  });

  it('rejects a network output that is not [N, classes]', () => {
    const tape = new Tape();
    assert.throws(() => lossValue('crossEntropy', tape.input('o', [-1, 2, 3]), tape.input('t', [-1], 'INT64')),
      (e: unknown) => e instanceof FerryError && /crossEntropy expects logits \[N, classes\].*\[N, 2, 3\]/.test(e.message));
  });
});

describe('mse', () => {
  it('is the mean of squared differences over every element, gradient 2(out − target)/(N·D)', async () => {
    const out = floats([5, 3], randn(rng, 15));
    const target = floats([5, 3], randn(rng, 15));
    const d = Array.from(out.data, (v, i) => v - target.data[i]!);
    const r = await evaluate('mse', out, target);
    assertClose([r.loss], [d.reduce((s, v) => s + v * v, 0) / 15], 'mse');
    assertClose(r.grad, d.map((v) => (2 * v) / 15), 'd mse / d out');
    assert.equal(r.correct, undefined, 'regression has no accuracy');
  });

  it('names both shapes when the network output and the targets differ', () => {
    const tape = new Tape();
    assert.throws(() => lossValue('mse', tape.input('o', [-1, 3]), tape.input('t', [-1, 1])),
      (e: unknown) => e instanceof FerryError && /mse: the network outputs \[N, 3\] but the targets are \[N, 1\]/.test(e.message));
  });
});

describe('binaryCrossEntropy', () => {
  const bceRef = (z: number[], t: number[]) => ({
    loss: z.reduce((s, v, i) => s + softplus(v) - v * t[i]!, 0) / z.length,
    grad: z.map((v, i) => (sigmoid(v) - t[i]!) / z.length),
    correct: z.filter((v, i) => (v > 0 ? 1 : 0) === t[i]).length,
  });

  it('equals −t·log σ(z) − (1−t)·log(1−σ(z)) on moderate logits', async () => {
    const z = Array.from(randn(rng, 8, 2));
    const t = [1, 0, 0, 1, 1, 0, 1, 0];
    const naive = z.reduce((s, v, i) => s - t[i]! * Math.log(sigmoid(v)) - (1 - t[i]!) * Math.log(1 - sigmoid(v)), 0) / 8;
    const ref = bceRef(z, t);
    assertClose([ref.loss], [naive], 'the reference agrees with the textbook form', 1e-9);
    const r = await evaluate('binaryCrossEntropy', floats([8, 1], z), floats([8, 1], t));
    assertClose([r.loss], [ref.loss], 'bce');
    assertClose(r.grad, ref.grad, 'd bce / d logits = (σ(z) − t)/N');
    assert.equal(r.correct, ref.correct, 'correct predictions (z > 0 ⇔ t = 1)');
  });

  it('stays finite and exact for logits of ±50 (and ±200, where e^z overflows float32), right and wrong', async () => {
    const z = [50, -50, 50, -50, 200, -200];
    const t = [1, 0, 0, 1, 1, 1];
    const ref = bceRef(z, t); // three confident hits (≈ 0) and misses of 50, 50 and 200
    const r = await evaluate('binaryCrossEntropy', floats([6, 1], z), floats([6, 1], t));
    assert.ok(Number.isFinite(r.loss), `loss ${r.loss}`);
    assertClose([r.loss], [ref.loss], 'bce at ±50 and ±200 (= 300/6)', 1e-4);
    assertClose(r.grad, ref.grad, 'gradient at ±50 and ±200', 1e-6);
    assert.equal(r.correct, 3);
  });
});

describe('serving outputs', () => {
  it('classification serves logits and probabilities; regression serves its output', async () => {
    const z = randn(rng, 6, 3);
    const r = await runTape({ z: floats([2, 3], z) }, (v) => ({
      ...servingOutputs('crossEntropy', v['z']!),
      sig: servingOutputs('binaryCrossEntropy', v['z']!)['probabilities']!,
    }));
    assert.deepEqual(Object.keys(r).sort(), ['logits', 'probabilities', 'sig']);
    assert.deepEqual([...r['logits']!.data], [...z]);
    const softmax = [0, 1].flatMap((i) => {
      const row = Array.from(z.subarray(i * 3, i * 3 + 3));
      const lse = logSumExp(row);
      return row.map((v) => Math.exp(v - lse));
    });
    assertClose(r['probabilities']!.data, softmax, 'softmax probabilities');
    assertClose(r['sig']!.data, Array.from(z, sigmoid), 'sigmoid probabilities');
    const tape = new Tape();
    assert.deepEqual(Object.keys(servingOutputs('mse', tape.input('o', [-1, 1]))), ['output']);
  });
});
