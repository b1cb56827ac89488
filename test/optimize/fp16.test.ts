// FP16 weight storage: half the bytes, same float32 interface, numbers within half-precision rounding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { FerryError } from '../../src/core/errors.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { inspectOnnx } from '../../src/graph/onnx.js';
import { toFp16Weights } from '../../src/optimize/fp16.js';
import { mlpModel, seededRandom } from '../fixtures/models.js';
import { runFirstOutput } from '../helpers/ort-run.js';


describe('toFp16Weights', () => {
  it('MLP 784-128-10: weights stored as FLOAT16 (file ~2x smaller), same float32 inputs and outputs, outputs within 0.5%', async () => {
    const model = mlpModel();
    const result = toFp16Weights(model);
    // b2 holds 10 numbers: too few to be worth a Cast (see MIN_ELEMENTS)
    assert.deepEqual(result.converted, ['w1', 'b1', 'w2']);
    const ratio = model.length / result.model.length;
    assert.ok(ratio > 1.95 && ratio <= 2, `fp16 file is ${ratio.toFixed(3)}x smaller, expected just under 2x`);
    const [before, after] = [inspectOnnx(model), inspectOnnx(result.model)];
    assert.deepEqual(after.inputs, before.inputs, 'clients send the same FP32 input');
    assert.deepEqual(after.outputs, before.outputs, 'and get the same FP32 output');

    const r = seededRandom(3);
    const feeds = { input: new ort.Tensor('float32', Float32Array.from({ length: 32 * 784 }, () => r()), [32, 784]) };
    const [expected, actual] = [await runFirstOutput(model, feeds), await runFirstOutput(result.model, feeds)];
    // each weight moves by at most 2^-11 of itself (half a unit in FLOAT16's 10-bit mantissa); over
    // hundreds of mixed-sign products the output moves far less than 0.5% of its scale
    const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const err = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!)), 0);
    assert.ok(err > 0 && err <= 0.005 * scale, `max error ${err} (scale ${scale}): the weights should have been rounded, slightly`);
  });

  it('leaves float32 a tensor with a value past FLOAT16\'s range, and initializers a client can override', async () => {
    const big = Float32Array.from({ length: 32 }, (_, i) => (i === 5 ? 1e6 : i));
    const model = new GraphBuilder().input('x', 'FP32', [32]).input('bias', 'FP32', [32])
      .initializer('big', 'FP32', [32], big).initializer('bias', 'FP32', [32], new Float32Array(32).fill(0.5))
      .initializer('small', 'FP32', [32], Float32Array.from({ length: 32 }, (_, i) => i / 7))
      .node('Mul', ['x', 'big'], ['m']).node('Add', ['m', 'bias'], ['a']).node('Add', ['a', 'small'], ['y'])
      .output('y', 'FP32', [32]).build();
    const result = toFp16Weights(model);
    assert.deepEqual(result.converted, ['small']);
    const y = await runFirstOutput(result.model, { x: new ort.Tensor('float32', new Float32Array(32).fill(1), [32]) });
    // 1e6 would be infinity in FLOAT16; kept float32 it still multiplies through
    assert.ok(Math.abs(y[5]! - (1e6 + 0.5 + 5 / 7)) < 0.1, `y[5] = ${y[5]}`);
  });

  it('refuses bytes that are not an ONNX model with INVALID_ARGUMENT', () => {
    assert.throws(() => toFp16Weights(new Uint8Array(0)),
      (err: unknown) => err instanceof FerryError && err.code === 'INVALID_ARGUMENT' && /empty/.test(err.message));
  });
});
