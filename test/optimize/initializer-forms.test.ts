// Weights a transform cannot read (kept in external files, truncated, or not float32) are refused
// or skipped by name with INVALID_ARGUMENT (a 400), never a RangeError (a 500) or a silently
// emptied tensor, by every transform: int8 dynamic and static, fp16 and pruning.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../../src/core/errors.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { encodeModel, type TensorProto } from '../../src/graph/onnx.js';
import { toFp16Weights } from '../../src/optimize/fp16.js';
import { floatsOf } from '../../src/optimize/graph-edit.js';
import { pruneModel } from '../../src/optimize/prune.js';
import { quantizeDynamic } from '../../src/optimize/quantize-dynamic.js';
import { quantizeStatic } from '../../src/optimize/quantize-static.js';
import { seededRandom } from '../fixtures/models.js';

const rand = (n: number, seed: number) => {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n }, () => r() - 0.5);
};

/** x [batch, 32] · 'dense.weight' [32, 8]; `edit` changes the stored weight before encoding. */
function denseModel(edit: (t: TensorProto) => void = () => {}): Uint8Array {
  const model = new GraphBuilder().input('x', 'FP32', ['batch', 32])
    .initializer('dense.weight', 'FP32', [32, 8], rand(256, 1))
    .node('MatMul', ['x', 'dense.weight'], ['y'], {}, { name: 'dense' })
    .output('y', 'FP32', ['batch', 8]).model();
  edit(model.graph!.initializer[0]!);
  return encodeModel(model);
}

const TRANSFORMS: [string, (bytes: Uint8Array) => unknown][] = [
  ['int8 dynamic', (b) => quantizeDynamic(b)],
  ['int8 static', (b) => quantizeStatic(b, [{ x: { dtype: 'FP32', shape: [2, 32], data: rand(64, 2) } }])],
  ['fp16', (b) => toFp16Weights(b)],
  ['prune', (b) => pruneModel(b, { amount: 0.5 })],
];

const refused = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof FerryError, `expected a FerryError, got ${String(err)}`);
  assert.equal(err.code, 'INVALID_ARGUMENT');
  assert.match(err.message, pattern);
  return true;
};

describe('weights kept in external files', () => {
  const forms: [string, (t: TensorProto) => void][] = [
    ['data_location EXTERNAL with external_data entries', (t) => {
      t.rawData = undefined;
      t.dataLocation = 1;
      t.externalData = [{ key: 'location', value: 'weights.bin' }, { key: 'length', value: '1024' }];
    }],
    // some writers set the entries and leave data_location at its default
    ['external_data entries only', (t) => {
      t.rawData = undefined;
      t.externalData = [{ key: 'location', value: 'weights.bin' }];
    }],
    ['data_location EXTERNAL only', (t) => {
      t.rawData = undefined;
      t.dataLocation = 1;
    }],
  ];
  for (const [form, edit] of forms) {
    for (const [name, transform] of TRANSFORMS) {
      it(`${name}, ${form}: INVALID_ARGUMENT naming the tensor and how to inline it`, async () => {
        await assert.rejects(async () => transform(denseModel(edit)), refused(/tensor 'dense\.weight' keeps its data in an external file.*save_as_external_data=False/));
      });
    }
  }

  it('floatsOf refuses one too, for callers that edit a decoded model directly', () => {
    const t: TensorProto = { name: 'emb', dataType: 1, dims: [4, 2], floatData: [], int32Data: [], stringData: [], int64Data: [], externalData: [{ key: 'location', value: 'emb.bin' }], doubleData: [], uint64Data: [] };
    assert.throws(() => floatsOf(t), refused(/tensor 'emb' keeps its data in an external file.*save_as_external_data=False\) and upload that$/));
  });
});

describe('FLOAT weights whose stored values do not match their dims', () => {
  const forms: [string, (t: TensorProto) => void, RegExp][] = [
    ['raw_data cut short (not a whole number of floats)', (t) => { t.rawData = t.rawData!.subarray(0, 1021); },
      /FLOAT tensor 'dense\.weight' has dims \[32, 8\] \(256 values, 1024 bytes\) but stores 1021 bytes of raw_data/],
    ['raw_data of whole floats, too few', (t) => { t.rawData = t.rawData!.subarray(0, 512); },
      /'dense\.weight' .* but stores 512 bytes of raw_data/],
    ['no values at all', (t) => { t.rawData = undefined; },
      /'dense\.weight' .* but stores 0 float_data values/],
    ['values in double_data', (t) => { t.rawData = undefined; t.doubleData = Array.from({ length: 256 }, () => 0.5); },
      /'dense\.weight' .* but stores its values in double_data, which ONNX keeps for DOUBLE tensors/],
  ];
  for (const [form, edit, message] of forms) {
    for (const [name, transform] of TRANSFORMS) {
      it(`${name}, ${form}: INVALID_ARGUMENT naming the tensor`, async () => {
        await assert.rejects(async () => transform(denseModel(edit)), refused(message));
      });
    }
  }

  it('float_data (instead of raw_data) is read like raw_data', () => {
    const values = rand(256, 1);
    const fromFloatData = quantizeDynamic(denseModel((t) => { t.rawData = undefined; t.floatData = Array.from(values); }));
    assert.deepEqual(fromFloatData.quantized, ['dense']);
    assert.deepEqual(fromFloatData.model, quantizeDynamic(denseModel()).model);
  });
});

describe('weights that are not float32', () => {
  const doubleModel = () => new GraphBuilder().input('x', 'FP64', ['batch', 4])
    .initializer('w', 'FP64', [4, 2], Float64Array.of(1, 2, 3, 4, 5, 6, 7, 8))
    .node('MatMul', ['x', 'w'], ['y'], {}, { name: 'dense' })
    .output('y', 'FP64', ['batch', 2]).build();

  it('int8 dynamic names the DOUBLE weight instead of calling it computed at run time', () => {
    assert.throws(() => quantizeDynamic(doubleModel()), refused(/nothing to quantize.*dense \(MatMul\): weight 'w' is DOUBLE; int8 quantization reads FLOAT \(float32\) weights/));
  });
  it('int8 static says the same', async () => {
    await assert.rejects(quantizeStatic(doubleModel(), []), refused(/dense \(MatMul\): weight 'w' is DOUBLE/));
  });
  it('prune skips it as not float32', () => {
    assert.throws(() => pruneModel(doubleModel(), { amount: 0.5 }), refused(/nothing to prune.*its weight "w" is not float32/));
  });
});
