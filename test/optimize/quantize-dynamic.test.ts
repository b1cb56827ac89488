// Dynamic int8 quantization on real models run through onnxruntime-node: the quantized model must
// load, compute nearly what the float model computes, and be about 4x smaller.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { FerryError } from '../../src/core/errors.js';
import { attr, GraphBuilder } from '../../src/graph/builder.js';
import { quantizeSymmetric } from '../../src/optimize/int8.js';
import { quantizeDynamic } from '../../src/optimize/quantize-dynamic.js';
import { loadMnist } from '../../src/training/data/mnist.js';
import { mlpModel } from '../fixtures/models.js';
import { runFirstOutput, seededFloats, top1Accuracy } from '../helpers/ort-run.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

const maxAbs = (xs: Float32Array) => xs.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

/** Asserts the int8 output is within `fraction` of the float output's largest magnitude. Weights
 *  carry at most half an int8 step of error (1/254 of a column's largest weight) and activations
 *  half a uint8 step (1/510 of their range); summed over hundreds of products with mixed signs
 *  that is about 1% of the output scale, so 3% leaves room for unlucky rounding without letting a
 *  wrong scale (which is off by 2x or more) through. */
function assertClose(actual: Float32Array, expected: Float32Array, fraction = 0.03): void {
  const err = maxDiff(actual, expected);
  assert.ok(err <= fraction * maxAbs(expected), `max error ${err} > ${fraction} × ${maxAbs(expected)}`);
}

async function assertSameAsFloat(model: Uint8Array, feeds: Record<string, ort.Tensor>) {
  const result = quantizeDynamic(model);
  assertClose(await runFirstOutput(result.model, feeds), await runFirstOutput(model, feeds));
  return result;
}

describe('quantizeDynamic', () => {
  it('MLP 784-128-10 (Gemm, transB, bias): ~4x smaller, outputs within 3% of float', async () => {
    const model = mlpModel();
    const feeds = { input: new ort.Tensor('float32', seededFloats(64 * 784, 1), [64, 784]) };
    const result = await assertSameAsFloat(model, feeds);
    assert.deepEqual(result.quantized, ['Gemm_0', 'Gemm_2']);
    assert.deepEqual(result.skipped, []);
    const ratio = model.length / result.model.length;
    assert.ok(ratio >= 3.5, `int8 model is ${ratio.toFixed(2)}x smaller, expected >= 3.5x (weights are 99% of the file)`);
  });

  it('the shipped mnist-mlp keeps its accuracy on 500 held-out digits (within 0.5 points)', async () => {
    const model = new Uint8Array(readFileSync(path.join(MODELS, 'mnist-mlp.onnx')));
    const mnist = await loadMnist();
    const n = 500;
    const feeds = { input: new ort.Tensor('float32', mnist.test.x.slice(0, n * 784), [n, 784]) };
    const accuracy = (logits: Float32Array) => top1Accuracy(logits, mnist.test.y, n);
    const before = accuracy(await runFirstOutput(model, feeds));
    const after = accuracy(await runFirstOutput(quantizeDynamic(model).model, feeds));
    assert.ok(before - after <= 0.5, `accuracy fell from ${before}% to ${after}%`);
  });

  describe('Gemm variants become MatMul (+ Add) with the same result', () => {
    const x = new ort.Tensor('float32', seededFloats(8 * 32, 2, -1, 1), [8, 32]);
    const w = seededFloats(32 * 16, 3, -0.5, 0.5);
    const c = seededFloats(16, 4, -1, 1);
    const gemm = (attrs: Record<string, ReturnType<typeof attr.int>>, opts: { wShape?: number[]; cShape?: number[] | null; xShape?: (number | string)[]; cInput?: boolean } = {}) => {
      const b = new GraphBuilder()
        .input('x', 'FP32', opts.xShape ?? ['batch', 32])
        .initializer('w', 'FP32', opts.wShape ?? [32, 16], w);
      const inputs = ['x', 'w'];
      if (opts.cInput) {
        b.input('c', 'FP32', [16]);
        inputs.push('c');
      } else if (opts.cShape !== null) {
        b.initializer('c', 'FP32', opts.cShape ?? [16], c);
        inputs.push('c');
      }
      return b.node('Gemm', inputs, ['y'], attrs).output('y', 'FP32', ['batch', 16]).build();
    };
    it('transB=1 with alpha and beta', async () => {
      await assertSameAsFloat(gemm({ transB: attr.int(1), alpha: attr.float(0.5), beta: attr.float(2) }, { wShape: [16, 32] }), { x });
    });
    it('no bias', async () => {
      await assertSameAsFloat(gemm({}, { cShape: null }), { x });
    });
    it('bias [1, N] and beta 0.25', async () => {
      await assertSameAsFloat(gemm({ beta: attr.float(0.25) }, { cShape: [1, 16] }), { x });
    });
    it('bias fed at run time, scaled by beta', async () => {
      await assertSameAsFloat(gemm({ beta: attr.float(3) }, { cInput: true }), { x, c: new ort.Tensor('float32', c, [16]) });
    });
    it('transA=1 (the activation arrives transposed)', async () => {
      const xt = new ort.Tensor('float32', seededFloats(32 * 8, 5, -1, 1), [32, 8]);
      await assertSameAsFloat(gemm({ transA: attr.int(1) }, { xShape: [32, 'batch'] }), { x: xt });
    });
  });

  it('per-channel scales follow columns of very different sizes; one per-tensor scale cannot', async () => {
    // column j's weights are scaled by 10^(j % 3): the small columns get no resolution from one scale
    const w = seededFloats(64 * 12, 6, -1, 1).map((v, i) => v * 10 ** ((i % 12) % 3));
    const model = new GraphBuilder().input('x', 'FP32', ['batch', 64]).initializer('w', 'FP32', [64, 12], w)
      .node('MatMul', ['x', 'w'], ['y']).output('y', 'FP32', ['batch', 12]).build();
    const feeds = { x: new ort.Tensor('float32', seededFloats(16 * 64, 7), [16, 64]) };
    const expected = await runFirstOutput(model, feeds);
    const smallColumns = (y: Float32Array) => y.filter((_, i) => i % 3 === 0);
    const perChannel = maxDiff(smallColumns(await runFirstOutput(quantizeDynamic(model).model, feeds)), smallColumns(expected));
    const perTensor = maxDiff(smallColumns(await runFirstOutput(quantizeDynamic(model, { perChannel: false }).model, feeds)), smallColumns(expected));
    assert.ok(perChannel * 5 < perTensor, `per-channel error ${perChannel} should be far below per-tensor ${perTensor}`);
  });

  it('quantizes an embedding table (Gather) row by row and leaves activation × activation MatMul, naming it', async () => {
    const table = seededFloats(50 * 8, 8, -1, 1);
    const model = new GraphBuilder()
      .input('ids', 'INT64', ['batch', 4])
      .initializer('table', 'FP32', [50, 8], table)
      .node('Gather', ['table', 'ids'], ['e'], { axis: attr.int(0) }, { name: 'embed' })
      .node('Transpose', ['e'], ['et'], { perm: attr.ints([0, 2, 1]) })
      .node('MatMul', ['e', 'et'], ['scores'], {}, { name: 'scores' })
      .output('scores', 'FP32', ['batch', 4, 4])
      .build();
    const feeds = { ids: new ort.Tensor('int64', BigInt64Array.from([0n, 7n, 49n, 3n, 12n, 12n, 1n, 30n]), [2, 4]) };
    const result = quantizeDynamic(model);
    assert.deepEqual(result.quantized, ['embed']);
    assert.deepEqual(result.skipped.map((s) => [s.node, s.op]), [['scores', 'MatMul']]);
    assert.match(result.skipped[0]!.reason, /both operands are computed at run time/);
    assertClose(await runFirstOutput(result.model, feeds), await runFirstOutput(model, feeds));
  });

  it('names Conv as skipped: it needs static quantization', () => {
    const model = new GraphBuilder().input('x', 'FP32', ['batch', 1, 8, 8])
      .initializer('k', 'FP32', [4, 1, 3, 3], seededFloats(36, 9)).node('Conv', ['x', 'k'], ['c'], {}, { name: 'conv' })
      .node('Flatten', ['c'], ['f']).initializer('w', 'FP32', [144, 2], seededFloats(288, 10)).node('MatMul', ['f', 'w'], ['y'], {}, { name: 'fc' })
      .output('y', 'FP32', ['batch', 2]).build();
    const result = quantizeDynamic(model);
    assert.deepEqual(result.quantized, ['fc']);
    assert.equal(result.skipped[0]!.node, 'conv');
    assert.match(result.skipped[0]!.reason, /static quantization/);
  });

  describe('refuses what it cannot quantize, with INVALID_ARGUMENT', () => {
    const invalid = (pattern: RegExp) => (err: unknown) => err instanceof FerryError && err.code === 'INVALID_ARGUMENT' && pattern.test(err.message);
    it('bytes that are not an ONNX model', () => {
      assert.throws(() => quantizeDynamic(new TextEncoder().encode('{"not": "onnx"}')), invalid(/not an ONNX model/));
    });
    it('a model with no MatMul or Gemm names the ops it has', () => {
      const model = new GraphBuilder().input('x', 'FP32', ['batch', 3]).node('Relu', ['x'], ['r']).node('Sigmoid', ['r'], ['y'])
        .output('y', 'FP32', ['batch', 3]).build();
      assert.throws(() => quantizeDynamic(model), invalid(/nothing to quantize.*only Relu, Sigmoid/));
    });
    it('a model whose only MatMul has no constant weight says why', () => {
      const model = new GraphBuilder().input('a', 'FP32', [2, 3]).input('b', 'FP32', [3, 2]).node('MatMul', ['a', 'b'], ['y'])
        .output('y', 'FP32', [2, 2]).build();
      assert.throws(() => quantizeDynamic(model), invalid(/MatMul_0 \(MatMul\): both operands are computed at run time/));
    });
  });
});

describe('quantizeSymmetric', () => {
  it('keeps every weight within half a step of its channel, and an all-zero channel exact', () => {
    const data = Float32Array.from([0.5, 0, -2, 0.25, 0, 0, 1, 0, 3]); // [3, 3] row-major, column 1 all zero
    const { q, scale } = quantizeSymmetric(data, { outer: 3, channels: 3, inner: 1 });
    assert.deepEqual([...scale].map((s) => +s.toFixed(6)), [+(1 / 127).toFixed(6), 1, +(3 / 127).toFixed(6)]);
    data.forEach((v, i) => assert.ok(Math.abs(q[i]! * scale[i % 3]! - v) <= scale[i % 3]! / 2 + 1e-7, `weight ${i}`));
    assert.deepEqual([q[1], q[4], q[7]], [0, 0, 0]);
    assert.equal(Math.max(...q.map(Math.abs)), 127);
  });
});
