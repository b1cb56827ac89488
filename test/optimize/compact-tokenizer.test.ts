// A text model's optimized variant stores its tokenizer brotli-compressed (ferry.tokenizer.brotli):
// the file gets smaller, the variant still serves from strings, and the original is left as it is.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { NamedTensors } from '../../src/core/tensor.js';
import { attr, GraphBuilder } from '../../src/graph/builder.js';
import { decodeModel, encodeModel, inspectOnnx } from '../../src/graph/onnx.js';
import { compactTokenizerOf } from '../../src/optimize/compact-tokenizer.js';
import { runPipeline } from '../../src/optimize/pipeline.js';
import { OnnxRuntime } from '../../src/runtimes/onnx/onnx-runtime.js';
import { tokenizerText } from '../../src/tasks/text-model.js';
import { TextTaskRuntime } from '../../src/tasks/text-runtime.js';
import { trainWordPiece } from '../../src/text/tokenizer-trainer.js';
import { mlpModel, seededRandom } from '../fixtures/models.js';
import { tempDir } from '../helpers/server.js';

const CORPUS = ['win a free prize now', 'meeting moved to monday', 'free money click here', 'lunch on friday with the team', 'claim your prize today'];
const WIDTH = 16;

/** A text classifier: input_ids → embedding table → mean over tokens → logits for ham / spam. */
function textClassifier(): { onnx: Uint8Array; tokenizer: string } {
  const files = trainWordPiece([...CORPUS, ...CORPUS, ...CORPUS], { vocabSize: 120, modelMaxLength: 16 });
  const vocab = Object.keys((files.tokenizerJson as { model: { vocab: Record<string, number> } }).model.vocab).length;
  const r = seededRandom(7);
  const model = decodeModel(new GraphBuilder({ opset: 17 })
    .input('input_ids', 'INT64', ['batch', 'seq'])
    .initializer('table', 'FP32', [vocab, WIDTH], Float32Array.from({ length: vocab * WIDTH }, () => r() * 2 - 1))
    .initializer('head', 'FP32', [WIDTH, 2], Float32Array.from({ length: WIDTH * 2 }, () => r() * 2 - 1))
    .node('Gather', ['table', 'input_ids'], ['embedded'])
    .node('ReduceMean', ['embedded'], ['pooled'], { axes: attr.ints([1]), keepdims: attr.int(0) })
    .node('MatMul', ['pooled', 'head'], ['logits'])
    .output('logits', 'FP32', ['batch', 2])
    .build());
  const tokenizer = JSON.stringify({ tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig });
  model.metadataProps = [
    { key: 'ferry.task', value: 'text-classification' },
    { key: 'ferry.tokenizer', value: tokenizer },
    { key: 'ferry.classes', value: JSON.stringify(['ham', 'spam']) },
  ];
  return { onnx: encodeModel(model), tokenizer };
}

const texts = (...s: string[]): NamedTensors => ({ text: { dtype: 'BYTES', shape: [s.length], data: s.map((t) => new TextEncoder().encode(t)) } });

describe('compact tokenizer in optimized text models', () => {
  it('moves the tokenizer to ferry.tokenizer.brotli, smaller, with the same JSON inside', () => {
    const { onnx, tokenizer } = textClassifier();
    const { model, bytes } = compactTokenizerOf(onnx);
    const meta = inspectOnnx(model).metadata;
    assert.equal(meta['ferry.tokenizer'], undefined);
    assert.equal(tokenizerText(meta), tokenizer);
    assert.deepEqual(bytes, { original: tokenizer.length, variant: meta['ferry.tokenizer.brotli']!.length });
    assert.ok(bytes!.variant < bytes!.original / 2, `${bytes!.variant} of ${bytes!.original} bytes`);
    const saved = bytes!.original - bytes!.variant;
    // less the longer key (7 bytes) and a length prefix or two
    assert.ok(onnx.length - model.length >= saved - 10 && onnx.length - model.length <= saved, `file ${onnx.length} → ${model.length} bytes, tokenizer −${saved}`);
    assert.equal(inspectOnnx(onnx).metadata['ferry.tokenizer'], tokenizer, 'the original bytes are untouched');
  });

  it('leaves a model without a tokenizer as it is', () => {
    const onnx = mlpModel();
    const r = compactTokenizerOf(onnx);
    assert.equal(r.model, onnx);
    assert.equal(r.bytes, undefined);
  });

  it('ferry optimize writes the compact form, reports it as a step, and the variant serves the same labels', async () => {
    const { onnx } = textClassifier();
    const { onnx: variant, report } = await runPipeline({
      onnx, parent: { model: 'spam', version: 1 }, request: { int8: 'dynamic' }, baseDir: tempDir('ferry-compact-'), threads: 1, trainingThreads: 1,
      latency: { batches: [1], budgetMs: 0, minRuns: 1, warmup: 0 },
    });
    const step = report.steps.find((s) => s.transformation === 'compact-tokenizer');
    assert.ok(step, `steps: ${report.steps.map((s) => s.transformation).join(', ')}`);
    const { original, variant: packed } = step['tokenizerBytes'] as { original: number; variant: number };
    assert.ok(packed < original);
    assert.ok(report.size.ratio > 1);
    assert.ok(inspectOnnx(variant).metadata['ferry.tokenizer.brotli'] !== undefined);

    const dir = tempDir('ferry-compact-');
    const runtime = new TextTaskRuntime(new OnnxRuntime({ isolation: 'inline' }));
    const files = ['original.onnx', 'variant.onnx'].map((f, i) => {
      writeFileSync(path.join(dir, f), i === 0 ? onnx : variant);
      return path.join(dir, f);
    });
    const [a, b] = [await runtime.load({ path: files[0]!, format: 'onnx' }, { intraOpThreads: 1 }), await runtime.load({ path: files[1]!, format: 'onnx' }, { intraOpThreads: 1 })];
    try {
      const input = texts(...CORPUS);
      const [x, y] = [await a.infer(input), await b.infer(input)];
      assert.deepEqual(y['tokens'], x['tokens'], 'the same tokenizer');
      const [sx, sy] = [x['scores']!.data as Float32Array, y['scores']!.data as Float32Array];
      sx.forEach((v, i) => assert.ok(Math.abs(v - sy[i]!) < 0.02, `score ${i}: ${v} vs ${sy[i]}`));
    } finally {
      await a.unload();
      await b.unload();
    }
  });
});
