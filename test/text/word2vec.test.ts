// Word vectors: skip-gram with negative sampling learns which words share contexts, and the trained
// table is served from strings — a word's vector and its nearest neighbours — over V2 and
// /v1/embeddings.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { skipGramDataset, words } from '../../src/text/skipgram.js';
import { wordVectorModel } from '../../src/text/word-vectors.js';
import { train } from '../../src/training/trainer.js';
import { readFloatInitializers } from '../../src/training/weights.js';
import { Rng } from '../../src/training/rng.js';
import type { TrainSpec } from '../../src/training/spec.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

// two topics that never share a sentence: a word's neighbours should come from its own topic
const FRUIT = ['apple', 'banana', 'cherry', 'grape', 'lemon', 'mango', 'peach', 'plum'];
const TOOLS = ['hammer', 'wrench', 'saw', 'drill', 'chisel', 'pliers', 'level', 'clamp'];
function corpus(): string[] {
  const rng = new Rng(7);
  return Array.from({ length: 600 }, (_, i) => {
    const topic = i % 2 ? FRUIT : TOOLS;
    return Array.from({ length: 12 }, () => topic[rng.int(topic.length)]).join(' ');
  });
}

describe('word2vec', () => {
  let s: TestServer;
  let onnx: Uint8Array;

  before(async () => {
    const dataset = skipGramDataset('topics', corpus(), { window: 3, negatives: 4, minCount: 1 });
    const spec: TrainSpec = {
      name: 'topics', dataset: { type: 'skipgram', corpus: 'spam-assassin' }, model: [{ type: 'SkipGram', vocab: dataset.vocabulary.length, dim: 16 }],
      loss: 'binaryCrossEntropy', optimizer: { type: 'adam', lr: 0.01 }, epochs: 2, batchSize: 256, seed: 0,
    };
    const result = await train({ spec, dataset });
    const table = readFloatInitializers(result.onnx).get('0.input')!;
    onnx = wordVectorModel(table.data, dataset.vocabulary, result.record);
    s = await startServer();
    const res = await pushModel(s.url, 'topics', onnx);
    assert.equal(res.status, 201, await res.text());
  });
  after(() => s.close());

  it('splits text into lowercase words', () => {
    assert.deepEqual(words("Don't PANIC: it's 42 o'clock, naïve café!"), ["don't", 'panic', "it's", "o'clock", 'naïve', 'café']);
  });

  it('learns the topics: every word\'s nearest neighbours are from its own topic', async () => {
    const query = ['apple', 'hammer', 'Plum'];
    const res = await fetch(`${s.url}/v2/models/topics/infer`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [3], data: query }], outputs: [{ name: 'neighbors' }, { name: 'similarity' }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const out = (await res.json()) as { outputs: { name: string; shape: number[]; data: (string | number)[] }[] };
    const neighbors = out.outputs.find((o) => o.name === 'neighbors')!;
    const similarity = out.outputs.find((o) => o.name === 'similarity')!;
    assert.deepEqual(neighbors.shape, [3, 10]);
    query.forEach((w, i) => {
      const topic = FRUIT.includes(w.toLowerCase()) ? FRUIT : TOOLS;
      const top = neighbors.data.slice(i * 10, i * 10 + 7) as string[];
      assert.ok(!top.includes(w.toLowerCase()), 'a word is not its own neighbour');
      assert.deepEqual(top.filter((n) => topic.includes(n)).sort(), topic.filter((t) => t !== w.toLowerCase()).sort(), `${w}: ${top.join(', ')}`);
      const sims = similarity.data.slice(i * 10, i * 10 + 10) as number[];
      for (let k = 1; k < 7; k++) assert.ok(sims[k - 1]! >= sims[k]!, 'neighbours come most similar first');
    });
  });

  it('serves unit word vectors on /v1/embeddings and refuses a word it does not know', async () => {
    const res = await fetch(`${s.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'topics', input: ['cherry', 'saw'] }) });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { data: { embedding: number[] }[]; usage: { prompt_tokens: number } };
    assert.equal(body.usage.prompt_tokens, 2);
    for (const d of body.data) {
      assert.equal(d.embedding.length, 16);
      assert.ok(Math.abs(Math.hypot(...d.embedding) - 1) < 1e-5);
    }
    const unknown = await fetch(`${s.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'topics', input: 'spaceship' }) });
    assert.equal(unknown.status, 400);
    assert.match(((await unknown.json()) as { error: { message: string } }).error.message, /"spaceship" is not in this model's vocabulary of 16 words/);
  });
});
