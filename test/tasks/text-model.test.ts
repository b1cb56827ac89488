// A text model below the server: pooling last_hidden_state as the model's folder says (mean, the
// first token, or the maximum), and truncation chosen per request, through a real ONNX encoder whose
// "hidden state" is an embedding lookup, so every expected vector is a row of a known table.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NamedTensors } from '../../src/core/tensor.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { decodeModel, encodeModel } from '../../src/graph/onnx.js';
import { OnnxRuntime } from '../../src/runtimes/onnx/onnx-runtime.js';
import type { LoadedModel } from '../../src/runtimes/runtime.js';
import { compactTokenizer, tokenizerText } from '../../src/tasks/text-model.js';
import { TextTaskRuntime } from '../../src/tasks/text-runtime.js';
import { trainWordPiece, type TokenizerFiles } from '../../src/text/tokenizer-trainer.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { tempDir } from '../helpers/server.js';

const CORPUS = ['the cat sat on the mat', 'the dog sat on the log', 'a cat and a dog met at the mat'];
const DIM = 3;

/** input_ids [N, T] → last_hidden_state [N, T, DIM] = table[id]; table row i is (i, -i, i % 3) */
function encoderFile(files: TokenizerFiles, vocab: number, text: object): string {
  const table = new Float32Array(vocab * DIM);
  for (let i = 0; i < vocab; i++) table.set([i, -i, i % 3], i * DIM);
  const model = decodeModel(new GraphBuilder({ opset: 17 })
    .input('input_ids', 'INT64', ['batch', 'seq'])
    .initializer('table', 'FP32', [vocab, DIM], table)
    .node('Gather', ['table', 'input_ids'], ['last_hidden_state'])
    .output('last_hidden_state', 'FP32', ['batch', 'seq', DIM])
    .build());
  model.metadataProps = [
    { key: 'ferry.task', value: 'feature-extraction' },
    { key: 'ferry.tokenizer', value: JSON.stringify({ tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig }) },
    { key: 'ferry.text', value: JSON.stringify(text) },
  ];
  const file = path.join(tempDir('ferry-text-model-'), 'encoder.onnx');
  writeFileSync(file, encodeModel(model));
  return file;
}

const texts = (...s: string[]): NamedTensors => ({ text: { dtype: 'BYTES', shape: [s.length], data: s.map((t) => new TextEncoder().encode(t)) } });
const rowsOf = (t: NamedTensors[string]): number[][] => {
  const d = t!.shape[1]!;
  const all = Array.from(t!.data as Float32Array);
  return Array.from({ length: t!.shape[0]! }, (_, i) => all.slice(i * d, i * d + d));
};

describe('text model pooling and per-request truncation', () => {
  let files: TokenizerFiles;
  let tok: TextTokenizer;
  const loaded: LoadedModel[] = [];
  const runtime = new TextTaskRuntime(new OnnxRuntime({ isolation: 'inline' }));
  const load = async (text: object) => {
    const m = await runtime.load({ path: encoderFile(files, tok.vocabSize, text), format: 'onnx' }, { intraOpThreads: 1 });
    loaded.push(m);
    return m;
  };
  /** what check() then infer() answer, as a server runs them */
  const run = async (m: LoadedModel, inputs: NamedTensors, parameters?: Record<string, unknown>) => {
    m.check?.(inputs, parameters);
    return m.infer(inputs);
  };

  before(() => {
    files = trainWordPiece([...CORPUS, ...CORPUS], { vocabSize: 60, modelMaxLength: 8 });
    tok = TextTokenizer.fromFiles(files.tokenizerJson, files.tokenizerConfig);
  });
  after(async () => {
    for (const m of loaded) await m.unload();
  });

  it('pools the real tokens by mean, by the first token or by maximum, as the model says', async () => {
    const short = 'the cat';
    const long = 'a dog met the cat';
    const ids = [tok.encode(short).ids, tok.encode(long).ids];
    const expect = {
      mean: ids.map((r) => [0, 1, 2].map((k) => r.reduce((a, id) => a + [id, -id, id % 3][k]!, 0) / r.length)),
      cls: ids.map((r) => [r[0]!, -r[0]!, r[0]! % 3]),
      max: ids.map((r) => [Math.max(...r), -Math.min(...r), Math.max(...r.map((id) => id % 3))]),
    };
    for (const pooling of ['mean', 'cls', 'max'] as const) {
      const m = await load({ pooling });
      // the short text is padded to the long one's length: padding must not count
      const out = await run(m, texts(short, long));
      rowsOf(out['embedding']).forEach((row, i) => row.forEach((x, k) => assert.ok(Math.abs(x - expect[pooling][i]![k]!) < 1e-5, `${pooling} row ${i}: ${row} vs ${expect[pooling][i]}`)));
      assert.deepEqual(Array.from(out['tokens']!.data as BigInt64Array, Number), ids.map((r) => r.length));
    }
    await assert.rejects(load({ pooling: 'weightedmean' }), /pooling must be mean, cls or max; got "weightedmean"/);
  });

  it('refuses an over-long text unless its request asks for truncation, without affecting other requests', async () => {
    const m = await load({ truncation: false });
    const long = 'the cat sat on the mat and the dog sat on the log';
    assert.throws(() => m.check!(texts(long)), /longer than the model's maximum of 8/);
    assert.throws(() => m.check!(texts(long), { truncation: 'yes' }), /"truncation" must be true or false/);
    // two requests merged into one batch, as the batcher merges them: one asked for truncation
    const cut = texts(long);
    const plain = texts('the dog');
    m.check!(cut, { truncation: true });
    m.check!(plain);
    const merged: NamedTensors = { text: { dtype: 'BYTES', shape: [2], data: [...(cut['text']!.data as Uint8Array[]), ...(plain['text']!.data as Uint8Array[])] } };
    const out = await m.infer(merged);
    assert.deepEqual(Array.from(out['tokens']!.data as BigInt64Array, Number), [8, tok.encode('the dog').ids.length], 'cut to the limit of 8, special tokens included');

    const truncating = await load({ truncation: true });
    assert.throws(() => truncating.check!(texts(long), { truncation: false }), /longer than the model's maximum of 8/, 'a request may also refuse truncation');
    const ok = await run(truncating, texts(long));
    assert.deepEqual(Array.from(ok['tokens']!.data as BigInt64Array, Number), [8]);
  });
});

describe('the tokenizer in a model file, plain or compact', () => {
  const files = trainWordPiece([...CORPUS, ...CORPUS], { vocabSize: 60, modelMaxLength: 8 });
  const json = JSON.stringify({ tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig });

  it('reads the JSON from ferry.tokenizer or, brotli-compressed and base64-encoded, from ferry.tokenizer.brotli', () => {
    const packed = compactTokenizer(json);
    assert.ok(packed.length < json.length, `${packed.length} base64 characters for ${json.length} of JSON`);
    assert.equal(tokenizerText({ 'ferry.tokenizer': json }), json);
    assert.equal(tokenizerText({ 'ferry.tokenizer.brotli': packed }), json);
    assert.equal(tokenizerText({ 'ferry.task': 'text-classification' }), undefined);
    assert.throws(() => tokenizerText({ 'ferry.tokenizer.brotli': 'bm90IGJyb3RsaQ==' }), /ferry\.tokenizer\.brotli is not a base64 brotli stream/);
  });

  it('serves a model whose tokenizer is compact exactly as the same model with it plain', async () => {
    const runtime = new TextTaskRuntime(new OnnxRuntime({ isolation: 'inline' }));
    const tok = TextTokenizer.fromFiles(files.tokenizerJson, files.tokenizerConfig);
    const plainFile = encoderFile(files, tok.vocabSize, { pooling: 'mean' });
    const model = decodeModel(new Uint8Array(readFileSync(plainFile)));
    model.metadataProps = model.metadataProps.map((p) => (p.key === 'ferry.tokenizer' ? { key: 'ferry.tokenizer.brotli', value: compactTokenizer(p.value!) } : p));
    const compactFile = path.join(tempDir('ferry-text-model-'), 'compact.onnx');
    writeFileSync(compactFile, encodeModel(model));
    const [plain, compact] = [
      await runtime.load({ path: plainFile, format: 'onnx' }, { intraOpThreads: 1 }),
      await runtime.load({ path: compactFile, format: 'onnx' }, { intraOpThreads: 1 }),
    ];
    try {
      const input = texts('the cat sat', 'a dog met the cat');
      const [a, b] = [await plain.infer(input), await compact.infer(input)];
      assert.deepEqual(Array.from(b['embedding']!.data as Float32Array), Array.from(a['embedding']!.data as Float32Array));
      assert.deepEqual(Array.from(b['tokens']!.data as BigInt64Array, Number), [tok.encode('the cat sat').ids.length, tok.encode('a dog met the cat').ids.length]);
    } finally {
      await plain.unload();
      await compact.unload();
    }
  });
});
