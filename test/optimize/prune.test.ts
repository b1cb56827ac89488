// Magnitude pruning: the masks zero exactly the weights or channels asked for, the model still runs,
// structured pruning leaves the class outputs alone, a model with nothing to prune is refused naming
// its ops, and a fine-tune through the training engine keeps every pruned weight at exactly zero
// while it wins back accuracy.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../../src/core/errors.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { openGraphSession } from '../../src/runtimes/onnx/session.js';
import { loadDataset } from '../../src/training/data/load.js';
import { RECIPES } from '../../src/training/recipes.js';
import { train } from '../../src/training/trainer.js';
import { readFloatInitializers } from '../../src/training/weights.js';
import { channelMask, magnitudeMask, pruneModel, sparsityOf } from '../../src/optimize/prune.js';
import { mlpModel, mlpParams } from '../fixtures/models.js';

const zeros = (m: Uint8Array) => m.reduce((n, v) => (v === 0 ? n + 1 : n), 0);

describe('magnitude masks', () => {
  it('zero exactly floor(amount × n) of the smallest magnitudes, ties by position', () => {
    const w = Float32Array.of(0.5, -0.1, 0.3, -0.3, 0.2, 0.9, -0.3, 0.05);
    const m = magnitudeMask(w, 0.5);
    // |w| sorted: 0.05, 0.1, 0.2, 0.3 (×3), 0.5, 0.9 → the 4th smallest is a three-way tie at 0.3;
    // the first of them (index 2) goes
    assert.deepEqual([...m], [1, 0, 0, 1, 0, 1, 1, 0]);
    assert.equal(zeros(magnitudeMask(w, 0.3)), 2);
    assert.equal(zeros(magnitudeMask(new Float32Array(3), 0.2)), 0, 'floor(0.6) = 0 weights');
  });

  it('zero whole output channels of the smallest L2 norm, along the axis given', () => {
    // [K=2, N=3] as a MatMul weight: channel j is column j; norms² 1+1, 0.01+0, 4+4
    const w = Float32Array.of(1, 0.1, 2, 1, 0, -2);
    assert.deepEqual([...channelMask(w, [2, 3], 1, 0.34)], [1, 0, 1, 1, 0, 1]);
    // [M=3, K=2] as a Conv/Gemm-transB weight: channel i is row i
    const rows = Float32Array.of(1, 1, 0.1, 0, 2, -2);
    assert.deepEqual([...channelMask(rows, [3, 2], 0, 0.67)], [0, 0, 0, 0, 1, 1]);
    assert.equal(zeros(channelMask(rows, [3, 2], 0, 0.99)), 4, 'one channel always stays');
  });
});

describe('pruneModel', () => {
  const p = mlpParams({ inputs: 8, hidden: 6, outputs: 3, seed: 4 });
  const model = mlpModel(p);

  it('prunes every Gemm weight by half, keeps biases, and the model still runs', async () => {
    const r = pruneModel(model, { amount: 0.5 });
    assert.deepEqual(r.pruned.map((t) => [t.tensor, t.op, t.zeroed, t.total]), [['w1', 'Gemm', 24, 48], ['w2', 'Gemm', 9, 18]]);
    assert.deepEqual(r.skipped, []);
    const w = readFloatInitializers(r.model);
    assert.equal([...w.get('w1')!.data].filter((v) => v === 0).length, 24);
    assert.deepEqual([...w.get('b1')!.data], [...p.b1], 'biases are not pruned');
    // the kept weights are the large ones: every kept |w| ≥ every zeroed |w| of the original
    const orig = p.w1;
    const kept = [...orig].filter((_, i) => r.masks.get('w1')![i] === 1).map(Math.abs);
    const cut = [...orig].filter((_, i) => r.masks.get('w1')![i] === 0).map(Math.abs);
    assert.ok(Math.min(...kept) >= Math.max(...cut));
    const s = await openGraphSession(r.model);
    try {
      const out = await s.run({ input: { dtype: 'FP32', shape: [2, 8], data: new Float32Array(16).fill(0.5) } });
      assert.deepEqual(out['logits']!.shape, [2, 3]);
    } finally {
      await s.release();
    }
  });

  it('structured: zeroes rows of a transB Gemm weight (its output channels) and leaves the last layer', () => {
    const r = pruneModel(model, { amount: 0.5, structured: true });
    assert.equal(r.pruned.length, 1);
    assert.deepEqual(r.pruned[0]!.channels, { zeroed: 3, total: 6 });
    assert.deepEqual(r.skipped.map((s) => [s.node, s.op]), [['Gemm_2', 'Gemm']]);
    assert.match(r.skipped[0]!.reason, /last layer/);
    const w1 = readFloatInitializers(r.model).get('w1')!.data;
    for (let row = 0; row < 6; row++) {
      const values = [...w1.subarray(row * 8, row * 8 + 8)];
      assert.ok(values.every((v) => v === 0) || values.every((v) => v !== 0), `row ${row} is all zero or all kept`);
    }
  });

  it('refuses a model with nothing to prune, naming its ops and why each candidate was skipped', () => {
    const relu = new GraphBuilder().input('x', 'FP32', ['batch', 4]).input('y', 'FP32', [4, 4])
      .node('MatMul', ['x', 'y'], ['h']).node('Relu', ['h'], ['out']).output('out', 'FP32', ['batch', 4]).build();
    assert.throws(() => pruneModel(relu, { amount: 0.5 }), (err: unknown) => {
      assert.ok(err instanceof FerryError && err.code === 'INVALID_ARGUMENT');
      assert.match(err.message, /its ops: MatMul, Relu/);
      assert.match(err.message, /MatMul_0 \(MatMul\): its weight "y" is computed at run time/);
      return true;
    });
    assert.throws(() => pruneModel(model, { amount: 1 }), /between 0 and 1/);
  });
});

describe('fine-tuning a pruned model', () => {
  it('keeps every pruned weight at exactly zero and recovers accuracy', async () => {
    const spec = { ...RECIPES['mnist-mlp']!, dataset: { type: 'mnist', train: 600, test: 300 } as const, epochs: 3 };
    const dataset = await loadDataset(spec.dataset);
    const base = await train({ spec, dataset });
    // 90% is far past what this MLP takes unharmed, so the fine-tune has something to win back
    const pruned = pruneModel(base.onnx, { amount: 0.9 });
    const names = [...pruned.masks.keys()];
    assert.deepEqual(names, ['0.weight', '2.weight']);
    const before = sparsityOf(pruned.model, names);
    const tuned = await train({
      spec: { ...spec, epochs: 2 }, dataset, keep: pruned.masks,
      parent: { model: 'mnist-mlp', version: 1, onnx: pruned.model },
    });
    const after = sparsityOf(tuned.onnx, names);
    assert.deepEqual(after, before, 'the zeros are exactly where pruning put them');
    const weights = readFloatInitializers(tuned.onnx);
    const start = readFloatInitializers(pruned.model);
    for (const [name, mask] of pruned.masks) {
      const w = weights.get(name)!.data;
      const w0 = start.get(name)!.data;
      assert.ok(mask.every((k, i) => k === 1 || w[i] === 0), `${name}: pruned positions are zero`);
      assert.ok(mask.some((k, i) => k === 1 && w[i] !== w0[i]), `${name}: kept weights trained`);
    }
    const accuracy = (r: typeof base) => r.metrics.testAccuracy!;
    const prunedSession = await openGraphSession(pruned.model);
    let prunedAcc = 0;
    try {
      const out = await prunedSession.run({ input: { dtype: 'FP32', shape: [dataset.test.n, 784], data: dataset.test.x } });
      const logits = out['logits']!.data as Float32Array;
      for (let i = 0; i < dataset.test.n; i++) {
        const row = logits.subarray(i * 10, i * 10 + 10);
        if (row.indexOf(Math.max(...row)) === dataset.test.y[i]) prunedAcc++;
      }
      prunedAcc /= dataset.test.n;
    } finally {
      await prunedSession.release();
    }
    assert.ok(accuracy(tuned) > prunedAcc + 0.02, `fine-tuned ${accuracy(tuned)} vs pruned ${prunedAcc} (dense ${accuracy(base)})`);
    assert.deepEqual(tuned.record.parent, { model: 'mnist-mlp', version: 1 });
  });

  it('refuses a mask for a parameter the network does not have', async () => {
    const spec = { ...RECIPES['mnist-mlp']!, dataset: { type: 'mnist', train: 64, test: 32 } as const, epochs: 1 };
    const dataset = await loadDataset(spec.dataset);
    await assert.rejects(train({ spec, dataset, keep: new Map([['9.weight', new Uint8Array(4)]]) }), /keep: "9.weight" is not a trainable parameter of this network; its parameters: 0.weight, 0.bias, 2.weight, 2.bias/);
  });
});
