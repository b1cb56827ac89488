// A Ferry-trained text classifier exported in the Hugging Face layout is a normal HF model:
// @huggingface/transformers' text-classification pipeline loads the folder (no hub access) and gives
// the labels and scores Ferry gives, within 1e-4.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { inspectOnnx } from '../../src/graph/onnx.js';
import { openGraphSession } from '../../src/runtimes/onnx/session.js';
import { writeHfClassifier } from '../../src/text/hf-export.js';
import { renameAndSelect } from '../../src/training/onnx-rename.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { runTraining } from '../../src/training/run.js';
import type { TrainSpec } from '../../src/training/spec.js';
import { ferry as runFerry } from '../helpers/cli.js';
import { startServer } from '../helpers/server.js';

const SPEC: TrainSpec = {
  name: 'tiny-spam', dataset: { type: 'spam-assassin', maxLength: 32, vocabSize: 600 },
  model: [{ type: 'TransformerEncoder', vocab: 600, maxLength: 32, dim: 16, heads: 2, layers: 1 }, { type: 'Linear', in: 16, out: 2 }],
  loss: 'crossEntropy', optimizer: { type: 'adamw', lr: 3e-3 }, epochs: 1, batchSize: 64, seed: 0,
};

// short enough that no runtime truncates them (transformers.js cuts finished ids, Ferry the text)
const TEXTS = [
  'Meeting moved to Thursday, see the attached agenda',
  'WIN a FREE vacation!!! Click here to claim your prize now',
  'Re: patch for the kernel build',
  'Lowest mortgage rates guaranteed, act now',
];

describe('Hugging Face export', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ferry-hf-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('transformers.js loads the exported spam classifier and agrees with Ferry within 1e-4', async () => {
    const result = await runTraining({ spec: SPEC, intraOpThreads: 1 });
    assert.ok(result.tokenizer, 'a text dataset hands its tokenizer to the result');
    writeHfClassifier(dir, { onnx: result.onnx, classes: result.record.classes!, tokenizer: result.tokenizer, record: result.record });
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']) assert.ok(existsSync(path.join(dir, f)), f);
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(config.id2label, { 0: 'ham', 1: 'spam' });
    const graph = inspectOnnx(new Uint8Array(readFileSync(path.join(dir, 'onnx', 'model.onnx'))));
    assert.deepEqual(graph.inputs.map((i) => [i.name, i.dtype]), [['input_ids', 'INT64']]);
    assert.deepEqual(graph.outputs.map((o) => o.name), ['logits']);

    // Ferry's own scores: its tokenizer and its inference graph
    const tokenizer = TextTokenizer.fromFiles(result.tokenizer.tokenizerJson, result.tokenizer.tokenizerConfig);
    const batch = tokenizer.encodeBatch(TEXTS, { maxLength: 32, truncation: false, padding: 'longest' });
    const session = await openGraphSession(result.onnx);
    const out = await session.run({ input: { dtype: 'INT64', shape: [batch.rows, batch.width], data: BigInt64Array.from(batch.ids, BigInt) } });
    await session.release();
    const ferry = out['probabilities']!.data as Float32Array;

    const { pipeline, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    const classify = await pipeline('text-classification', dir, { dtype: 'fp32' });
    const theirs = (await classify(TEXTS, { top_k: null })) as { label: string; score: number }[][];
    let spamFound = false;
    TEXTS.forEach((text, i) => {
      for (const { label, score } of theirs[i]!) {
        const mine = ferry[i * 2 + (label === 'spam' ? 1 : 0)]!;
        assert.ok(Math.abs(score - mine) < 1e-4, `${text}: ${label} ${score} (transformers.js) vs ${mine} (Ferry)`);
      }
      if (theirs[i]![0]!.label === 'spam') spamFound = true;
    });
    assert.ok(spamFound, 'the classifier learned something: one of the texts reads as spam');
    await classify.dispose();

    // and the same folder pushes back into Ferry, which serves it from strings with the same scores
    const server = await startServer();
    try {
      const pushed = await runFerry(['--url', server.url, 'models', 'push', dir, '--task', 'text-classification', '--name', 'hf-spam']);
      assert.equal(pushed.code, 0, pushed.stderr);
      const res = await fetch(`${server.url}/v1/classifications`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'hf-spam', input: TEXTS }) });
      assert.equal(res.status, 200, await res.clone().text());
      const served = (await res.json()) as { data: { scores: Record<string, number> }[] };
      served.data.forEach((d, i) => assert.ok(Math.abs(d.scores['spam']! - ferry[i * 2 + 1]!) < 1e-5, `served ${d.scores['spam']} vs ${ferry[i * 2 + 1]}`));
      const long = await fetch(`${server.url}/v1/classifications`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'hf-spam', input: 'word '.repeat(200) }) });
      assert.equal(long.status, 400, 'pushed without --truncation, an over-long text is refused');
      assert.match(((await long.json()) as { error: { message: string } }).error.message, /longer than the model's maximum of 32/);
      // a feature-extraction folder (an encoder with an embeddings output) serves /v1/embeddings
      const fe = mkdtempSync(path.join(tmpdir(), 'ferry-hf-fe-'));
      try {
        writeHfClassifier(fe, { onnx: result.onnx, classes: result.record.classes!, tokenizer: result.tokenizer! });
        writeFileSync(path.join(fe, 'onnx', 'model.onnx'), renameAndSelect(result.onnx, { inputs: { input: 'input_ids' }, keepOutputs: ['embeddings'] }));
        writeFileSync(path.join(fe, 'modules.json'), JSON.stringify([{ idx: 0, type: 'sentence_transformers.models.Transformer' }, { idx: 1, type: 'sentence_transformers.models.Normalize' }]));
        const pushedFe = await runFerry(['--url', server.url, 'models', 'push', fe, '--task', 'feature-extraction', '--name', 'hf-encoder']);
        assert.equal(pushedFe.code, 0, pushedFe.stderr);
        const emb = await fetch(`${server.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'hf-encoder', input: TEXTS }) });
        assert.equal(emb.status, 200, await emb.clone().text());
        const vectors = ((await emb.json()) as { data: { embedding: number[] }[] }).data.map((d) => d.embedding);
        assert.equal(vectors.length, TEXTS.length);
        for (const v of vectors) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5, 'Normalize in modules.json gives unit vectors');
        const cls = await fetch(`${server.url}/v1/classifications`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'hf-encoder', input: 'x' }) });
        assert.equal(cls.status, 400, 'an encoder is not a classifier');
      } finally {
        rmSync(fe, { recursive: true, force: true });
      }
      const noTask = await runFerry(['--url', server.url, 'models', 'push', dir]);
      assert.match(noTask.stderr, /is a folder: push a Hugging Face model folder with --task text-classification/);
      rmSync(path.join(dir, 'tokenizer.json'));
      const broken = await runFerry(['--url', server.url, 'models', 'push', dir, '--task', 'text-classification', '--name', 'broken']);
      assert.equal(broken.code, 1);
      assert.match(broken.stderr, /has no tokenizer\.json; a Hugging Face model folder needs config\.json, tokenizer\.json/);
    } finally {
      await server.close();
    }
  });
});
