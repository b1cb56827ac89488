// Static (QDQ) int8 quantization on the shipped CNN and on Gemm models, calibrated with real inputs
// and run through onnxruntime-node.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { FerryError } from '../../src/core/errors.js';
import type { NamedTensors } from '../../src/core/tensor.js';
import { attr, GraphBuilder } from '../../src/graph/builder.js';
import { quantizeStatic, uint8Params } from '../../src/optimize/quantize-static.js';
import { loadMnist } from '../../src/training/data/mnist.js';
import { mlpModel } from '../fixtures/models.js';
import { runFirstOutput, seededFloats, top1Accuracy } from '../helpers/ort-run.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

const batchOf = (data: Float32Array, shape: number[]): NamedTensors => ({ input: { dtype: 'FP32', shape, data } });
const invalid = (pattern: RegExp) => (err: unknown) => err instanceof FerryError && err.code === 'INVALID_ARGUMENT' && pattern.test(err.message);

describe('quantizeStatic', () => {
  it('the shipped mnist-cnn (Conv, MaxPool, MatMul): >= 3.5x smaller, accuracy within 0.5 points on 500 digits', async () => {
    const model = new Uint8Array(readFileSync(path.join(MODELS, 'mnist-cnn.onnx')));
    const mnist = await loadMnist();
    // calibration from the training split, evaluation on the test split: no example is in both
    const calibration = [0, 1].map((b) => batchOf(mnist.train.x.slice(b * 64 * 784, (b + 1) * 64 * 784), [64, 1, 28, 28]));
    const result = await quantizeStatic(model, calibration);
    assert.deepEqual(result.quantized, ['MatMul_4']);
    // its Conv 1→32 sums 9 products per output, where int8 runs slower than float
    assert.deepEqual(result.skipped.map((s) => s.node), ['Conv_0']);
    assert.match(result.skipped[0]!.reason, /only 9 products/);
    const ratio = model.length / result.model.length;
    assert.ok(ratio >= 3.5, `int8 model is ${ratio.toFixed(2)}x smaller, expected >= 3.5x`);

    const n = 500;
    const feeds = { input: new ort.Tensor('float32', mnist.test.x.slice(0, n * 784), [n, 1, 28, 28]) };
    const accuracy = (logits: Float32Array) => top1Accuracy(logits, mnist.test.y, n);
    const before = accuracy(await runFirstOutput(model, feeds));
    const after = accuracy(await runFirstOutput(result.model, feeds));
    assert.ok(before - after <= 0.5, `accuracy fell from ${before}% to ${after}%`);
  });

  it('a Conv over 4 channels with bias: per-channel int8 weights, int32 bias, outputs within 5% of float', async () => {
    // output channel c's weights are scaled by 2^c, so one scale for all channels would lose the small ones
    const k = seededFloats(8 * 4 * 9, 20, -0.5, 0.5).map((v, i) => v * 2 ** Math.floor(i / 36));
    const model = new GraphBuilder().input('input', 'FP32', ['batch', 4, 10, 10])
      .initializer('k', 'FP32', [8, 4, 3, 3], k).initializer('b', 'FP32', [8], seededFloats(8, 21, -1, 1))
      .node('Conv', ['input', 'k', 'b'], ['y'], { pads: attr.ints([1, 1, 1, 1]) }, { name: 'conv' })
      .output('y', 'FP32', ['batch', 8, 10, 10]).build();
    const calibration = [0, 1].map((i) => batchOf(seededFloats(4 * 400, 30 + i), [4, 4, 10, 10]));
    const result = await quantizeStatic(model, calibration);
    assert.deepEqual(result.quantized, ['conv']);
    assert.deepEqual(result.notes, [], 'the bias fits int32');
    const feeds = { input: new ort.Tensor('float32', seededFloats(2 * 400, 40), [2, 4, 10, 10]) };
    const [expected, actual] = [await runFirstOutput(model, feeds), await runFirstOutput(result.model, feeds)];
    // error per output channel against that channel's own scale: per-channel weights keep channel 0
    // (256x smaller than channel 7) accurate; the output Q/DQ pair is shared, so allow 255ths of the
    // whole range on top
    const range = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let c = 0; c < 8; c++) {
      const idx = [...Array(200).keys()].map((j) => Math.floor(j / 100) * 800 + c * 100 + (j % 100));
      const scale = Math.max(...idx.map((i) => Math.abs(expected[i]!)));
      const err = Math.max(...idx.map((i) => Math.abs(actual[i]! - expected[i]!)));
      assert.ok(err <= 0.05 * scale + range / 255, `channel ${c}: max error ${err} vs scale ${scale}`);
    }
  });

  it('a Conv whose bias is past int32 in steps of input × weight scale keeps it in float32: outputs still match float', async () => {
    // inputs and weights near 1e-4 make the bias step x_scale·w_scale about 3e-13, so a bias of 1 is
    // 3e12 steps: as int32 it would wrap to a bias of at most 7e-4, i.e. lose the bias entirely
    const model = new GraphBuilder().input('input', 'FP32', ['batch', 4, 6, 6])
      .initializer('k', 'FP32', [8, 4, 3, 3], seededFloats(8 * 4 * 9, 50, -1e-4, 1e-4)).initializer('b', 'FP32', [8], seededFloats(8, 51, -1, 1))
      .node('Conv', ['input', 'k', 'b'], ['y'], { pads: attr.ints([1, 1, 1, 1]) }, { name: 'conv' })
      .output('y', 'FP32', ['batch', 8, 6, 6]).build();
    const result = await quantizeStatic(model, [batchOf(seededFloats(4 * 144, 52, 0, 1e-4), [4, 4, 6, 6])]);
    assert.deepEqual(result.quantized, ['conv']);
    assert.deepEqual(result.notes.map((n) => n.node), ['conv']);
    assert.match(result.notes[0]!.reason, /bias 'b' kept in float32 and added after the Conv: .* steps, past int32's 2147483647/);
    const feeds = { input: new ort.Tensor('float32', seededFloats(2 * 144, 53, 0, 1e-4), [2, 4, 6, 6]) };
    const [expected, actual] = [await runFirstOutput(model, feeds), await runFirstOutput(result.model, feeds)];
    // the output is the bias plus ~1e-7: only the output Q/DQ pair's 255 steps over [-1, 1] remain
    const range = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(range > 0.5, `outputs up to ${range}: the bias is there`);
    expected.forEach((v, i) => assert.ok(Math.abs(actual[i]! - v) <= (2 * range) / 255, `element ${i}: ${actual[i]} vs ${v}`));
  });

  it('a Gather along axis 1 is not an embedding lookup: skipped, not rewritten along axis 0', async () => {
    const table = seededFloats(3 * 5, 60, -1, 1);
    const model = new GraphBuilder().input('input', 'FP32', ['batch', 8]).input('ids', 'INT64', [2])
      .initializer('w', 'FP32', [8, 4], seededFloats(32, 61, -1, 1)).initializer('table', 'FP32', [3, 5], table)
      .node('MatMul', ['input', 'w'], ['h'], {}, { name: 'dense' })
      .node('Gather', ['table', 'ids'], ['cols'], { axis: attr.int(1) }, { name: 'pick' })
      .output('h', 'FP32', ['batch', 4]).output('cols', 'FP32', [3, 2]).build();
    const ids = { dtype: 'INT64' as const, shape: [2], data: BigInt64Array.of(4n, 0n) };
    const result = await quantizeStatic(model, [{ input: { dtype: 'FP32', shape: [2, 8], data: seededFloats(16, 62) }, ids }]);
    assert.deepEqual(result.quantized, ['dense']);
    assert.deepEqual(result.skipped.map((s) => [s.node, s.reason]), [['pick', 'Gather along an axis other than 0 is not an embedding lookup']]);
    const session = await ort.InferenceSession.create(result.model, { logSeverityLevel: 4 });
    try {
      const out = await session.run({ input: new ort.Tensor('float32', seededFloats(8, 63), [1, 8]), ids: new ort.Tensor('int64', ids.data, [2]) });
      assert.deepEqual(Array.from(out['cols']!.data as Float32Array), [0, 1, 2].flatMap((r) => [table[r * 5 + 4]!, table[r * 5]!]));
    } finally {
      await session.release();
    }
  });

  it('MLP with Gemm(transB, bias), calibrated from an async iterable: outputs within 5% of float', async () => {
    const model = mlpModel();
    async function* calibration(): AsyncGenerator<NamedTensors> {
      for (let b = 0; b < 4; b++) yield batchOf(seededFloats(32 * 784, 10 + b), [32, 784]);
    }
    const result = await quantizeStatic(model, calibration());
    assert.deepEqual(result.quantized, ['Gemm_0', 'Gemm_2']);
    const feeds = { input: new ort.Tensor('float32', seededFloats(16 * 784, 99), [16, 784]) };
    const [expected, actual] = [await runFirstOutput(model, feeds), await runFirstOutput(result.model, feeds)];
    // Unlike dynamic quantization, activations use ranges fixed at calibration, and the outputs
    // themselves pass through a uint8 Q/DQ pair (255 steps over the whole output range): an error
    // of a few steps is expected, a wrong scale or zero point is not (it shifts values by 10% or more).
    const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const err = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0);
    assert.ok(err <= 0.05 * scale, `max error ${err} > 5% of ${scale}`);
  });

  it('a Gemm with transA, alpha and beta keeps its numbers', async () => {
    const w = seededFloats(16 * 8, 3, -1, 1);
    const model = new GraphBuilder().input('input', 'FP32', [16, 'batch']).initializer('w', 'FP32', [8, 16], w)
      .initializer('c', 'FP32', [8], seededFloats(8, 4, -1, 1))
      .node('Gemm', ['input', 'w', 'c'], ['y'], { transA: attr.int(1), transB: attr.int(1), alpha: attr.float(2), beta: attr.float(0.5) })
      .output('y', 'FP32', ['batch', 8]).build();
    const x = seededFloats(16 * 6, 5, -1, 1);
    const result = await quantizeStatic(model, [batchOf(x, [16, 6])]);
    const feeds = { input: new ort.Tensor('float32', x, [16, 6]) };
    const [expected, actual] = [await runFirstOutput(model, feeds), await runFirstOutput(result.model, feeds)];
    const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expected.forEach((v, i) => assert.ok(Math.abs(actual[i]! - v) <= 0.05 * scale, `element ${i}: ${actual[i]} vs ${v}`));
  });

  it('lists activation × activation MatMul as skipped, with the reason', async () => {
    const model = new GraphBuilder().input('input', 'FP32', ['batch', 4]).input('other', 'FP32', [4, 4])
      .initializer('w', 'FP32', [4, 4], seededFloats(16, 1, -1, 1))
      .node('MatMul', ['input', 'w'], ['h'], {}, { name: 'dense' })
      .node('MatMul', ['h', 'other'], ['y'], {}, { name: 'mix' })
      .output('y', 'FP32', ['batch', 4]).build();
    const result = await quantizeStatic(model, [{ input: { dtype: 'FP32', shape: [2, 4], data: seededFloats(8, 2) }, other: { dtype: 'FP32', shape: [4, 4], data: seededFloats(16, 3) } }]);
    assert.deepEqual(result.quantized, ['dense']);
    assert.deepEqual(result.skipped.map((s) => s.node), ['mix']);
    assert.match(result.skipped[0]!.reason, /computed at run time/);
  });

  describe('errors a caller can act on (INVALID_ARGUMENT)', () => {
    it('an empty calibration set asks for one', async () => {
      await assert.rejects(quantizeStatic(mlpModel(), []), invalid(/without a calibration set cannot be statically quantized: send/));
    });
    it('a calibration batch with the wrong input name names the inputs the model takes', async () => {
      await assert.rejects(quantizeStatic(mlpModel(), [{ pixels: { dtype: 'FP32', shape: [1, 784], data: new Float32Array(784) } }]),
        invalid(/calibration batch 0 did not run .*input FP32 \[-1, 784\]/));
    });
    it('bytes that are not an ONNX model', async () => {
      await assert.rejects(quantizeStatic(new Uint8Array([1, 2, 3, 4]), []), invalid(/ONNX/));
    });
    it('a model with nothing to quantize', async () => {
      const model = new GraphBuilder().input('x', 'FP32', ['batch', 3]).node('Relu', ['x'], ['y']).output('y', 'FP32', ['batch', 3]).build();
      await assert.rejects(quantizeStatic(model, []), invalid(/nothing to quantize.*only Relu/));
    });
  });
});

describe('uint8Params', () => {
  it('maps the calibrated range onto 0..255 with zero exact', () => {
    assert.deepEqual(uint8Params({ min: 0, max: 2.55 }), { scale: Math.fround(0.01), zeroPoint: 0 });
    assert.deepEqual(uint8Params({ min: -1.275, max: 1.275 }), { scale: Math.fround(0.01), zeroPoint: 128 });
    // a range that does not include 0 is widened to include it
    assert.equal(uint8Params({ min: 1, max: 2.55 }).zeroPoint, 0);
    assert.deepEqual(uint8Params({ min: 0, max: 0 }), { scale: 1, zeroPoint: 0 });
  });
});
