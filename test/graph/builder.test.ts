import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attr, GraphBuilder } from '../../src/graph/builder.js';
import { decodeModel } from '../../src/graph/onnx.js';

describe('GraphBuilder', () => {
  it('writes ir_version 8, opset ai.onnx 17 and producer "ferry" unless told otherwise', () => {
    const m = decodeModel(new GraphBuilder().input('x', 'FP32', [1]).node('Relu', ['x'], ['y']).output('y', 'FP32', [1]).build());
    assert.equal(m.irVersion, 8);
    assert.equal(m.producerName, 'ferry');
    assert.deepEqual(m.opsetImport, [{ domain: '', version: 17 }]);
    assert.equal(m.graph!.node[0]!.name, 'Relu_0');

    const custom = new GraphBuilder({ opset: 13, irVersion: 7, producerName: 'me', extraOpsets: [{ domain: 'com.microsoft', version: 1 }] }).model();
    assert.deepEqual([custom.irVersion, custom.producerName, custom.opsetImport.length], [7, 'me', 2]);
  });

  it('stores numeric initializers as little-endian raw_data and strings as string_data', () => {
    const g = decodeModel(new GraphBuilder()
      .initializer('f', 'FP32', [2], Float32Array.from([1, -2]))
      .initializer('i', 'INT64', [1], BigInt64Array.from([-2n]))
      .initializer('s', 'BYTES', [2], ['ab', new Uint8Array([0xff])])
      .build()).graph!;
    const [f, i, s] = g.initializer;
    assert.deepEqual([f!.dataType, f!.dims, [...f!.rawData!]], [1, [2], [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]]);
    assert.deepEqual([...i!.rawData!], [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert.equal(s!.dataType, 8);
    assert.equal(s!.rawData, undefined, 'ONNX forbids raw_data for STRING tensors');
    assert.deepEqual(s!.stringData.map((b) => [...b]), [[0x61, 0x62], [0xff]]);
  });

  it('refuses initializer data that does not match its dims or dtype', () => {
    const b = new GraphBuilder();
    assert.throws(() => b.initializer('w', 'FP32', [2, 3], new Float32Array(5)), /dims \[2, 3\] hold 6 elements, data has 5/);
    assert.throws(() => b.initializer('w', 'FP32', [2], new Int32Array(2)), /FP32 data must be a Float32Array/);
    assert.throws(() => b.initializer('w', 'INT64', [1], new Int32Array(1)), /INT64 data must be a BigInt64Array/);
    assert.throws(() => b.initializer('w', 'BYTES', [1], new Uint8Array(1)), /BYTES data must be an array/);
  });

  it('types attributes explicitly', () => {
    assert.deepEqual([attr.int(3).type, attr.int(3).i], [2, 3n]);
    assert.deepEqual([attr.float(3).type, attr.float(3).f], [1, 3]);
    assert.deepEqual([attr.ints([1, 2n]).type, attr.ints([1, 2n]).ints], [7, [1n, 2n]]);
    assert.deepEqual([attr.floats([0.5]).type, attr.strings(['a']).type, attr.string('a').type], [6, 8, 3]);
    const node = decodeModel(new GraphBuilder().node('Softmax', ['x'], ['y'], { axis: attr.int(-1) }).build()).graph!.node[0]!;
    assert.deepEqual([node.attribute[0]!.name, node.attribute[0]!.type, node.attribute[0]!.i], ['axis', 2, -1n]);
  });

  it('writes symbolic, fixed and unnamed dims', () => {
    const dims = decodeModel(new GraphBuilder().input('x', 'FP32', ['batch', 3, -1]).build()).graph!.input[0]!.type!.tensorType!.shape!.dim;
    assert.deepEqual(dims, [{ dimParam: 'batch' }, { dimValue: 3 }, {}]);
  });
});
