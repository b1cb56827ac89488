// Training a DecoderLM end to end on a small corpus: the held-out loss falls far below the ln(V) of
// guessing, the result carries its parameters under the names a GGUF exporter maps and its
// vocabulary, the registered ONNX computes llama's logits from exactly those parameters, and a
// model whose vocab does not match the data's is refused before training.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../../src/core/errors.js';
import { openGraphSession } from '../../src/runtimes/onnx/session.js';
import { CharVocab } from '../../src/text/char-vocab.js';
import type { Dataset } from '../../src/training/data/dataset.js';
import { joinTexts, windows } from '../../src/training/data/language-model.js';
import { Rng } from '../../src/training/rng.js';
import type { TrainSpec } from '../../src/training/spec.js';
import { train, type TrainResult } from '../../src/training/trainer.js';
import { readMetadata } from '../../src/training/weights.js';
import { llamaForward } from '../helpers/llama-reference.js';

const CONTEXT = 16;

/** Sentences from a tiny grammar: predictable enough to learn in seconds, varied enough that the
 *  model has to read what came before (subject–verb pairs, the article after a verb). */
function corpus(seed: number, n: number): string[] {
  const rng = new Rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const pairs = [['the cat', 'sat on'], ['a dog', 'ran to'], ['my bird', 'flew over'], ['his fish', 'swam by']] as const;
  const places = ['the mat', 'the park', 'a tree', 'the river'];
  return Array.from({ length: n }, () => {
    const [who, did] = pick(pairs);
    return `${who} ${did} ${pick(places)}.\n`;
  });
}

function lmDataset(): Dataset {
  const trainTexts = corpus(1, 300);
  const vocab = CharVocab.build(trainTexts, { maxChars: 40 });
  const train = windows(joinTexts(vocab, trainTexts), CONTEXT);
  const test = windows(joinTexts(vocab, corpus(2, 60)), CONTEXT);
  return {
    name: 'sentences', featureShape: [CONTEXT], labelShape: [CONTEXT], train, test, charVocab: vocab.toJSON(),
    record: { type: 'spam-assassin-lm', source: 'memory', trainSize: train.n, testSize: test.n, split: 'given' },
  };
}

const dataset = lmDataset();
const V = CharVocab.fromJSON(dataset.charVocab).size;
const model = { type: 'DecoderLM', vocab: V, context: CONTEXT, dim: 32, heads: 2, layers: 2, ffn: 64 } as const;
const spec: TrainSpec = {
  name: 'sentences-lm', dataset: { type: 'spam-assassin-lm', context: CONTEXT }, model: [model], loss: 'crossEntropy',
  optimizer: { type: 'adamw', lr: 1e-2, weightDecay: 0.01 }, schedule: { type: 'cosine', warmupSteps: 10 }, epochs: 4, batchSize: 16, seed: 0,
};

let trained: Promise<TrainResult> | undefined;
const result = () => (trained ??= train({ spec, dataset }));

describe('training a DecoderLM', () => {
  it('makes the held-out next-character loss fall from ln(V) to well below, epoch after epoch', async () => {
    const r = await result();
    const losses = r.record.epochs.map((e) => e.testLoss);
    assert.equal(losses.length, 4);
    for (let i = 1; i < losses.length; i++) assert.ok(losses[i]! < losses[i - 1]!, `test loss falls every epoch: ${losses.join(', ')}`);
    // guessing is ln(V) ≈ 5.6 nats; four epochs reach about 0.26
    assert.ok(r.metrics.testLoss < 0.15 * Math.log(V), `test loss ${r.metrics.testLoss} vs ln(V) = ${Math.log(V)}`);
    assert.ok(r.metrics.testAccuracy! > 0.8, `next-character accuracy ${r.metrics.testAccuracy}`);
  });

  it('returns its parameters by the contract names and a model file with its vocabulary and hyper-parameters', async () => {
    const r = await result();
    const names = [...r.params.keys()];
    assert.equal(names[0], 'tokens');
    assert.ok(names.includes('blocks.1.attention.out.weight') && names.includes('output.weight') && names.includes('norm.weight'));
    assert.equal(r.params.get('tokens')!.length, V * 32);
    assert.deepEqual(r.charVocab, dataset.charVocab);
    const meta = readMetadata(r.onnx);
    assert.equal(meta['ferry.task'], 'text-generation');
    assert.deepEqual(CharVocab.fromJSON(JSON.parse(meta['ferry.vocab']!)).tokens, CharVocab.fromJSON(dataset.charVocab).tokens);
    assert.deepEqual(JSON.parse(meta['ferry.decoder']!), { vocab: V, context: CONTEXT, dim: 32, heads: 2, layers: 2, ffn: 64, eps: 1e-5, ropeBase: 10000 });
    assert.equal(meta['ferry.classes'], undefined);
  });

  it('registers an ONNX whose logits are llama\'s from result.params, and which continues the grammar', async () => {
    const r = await result();
    const vocab = CharVocab.fromJSON(r.charVocab);
    const cfg = JSON.parse(readMetadata(r.onnx)['ferry.decoder']!);
    const ids = vocab.encode('my bird', { bos: true });
    const s = await openGraphSession(r.onnx);
    try {
      const out = await s.run({ input_ids: { dtype: 'INT64', shape: [1, ids.length], data: BigInt64Array.from(ids, BigInt) } });
      const logits = out['logits']!.data as Float32Array;
      const ref = llamaForward(r.params, cfg, ids);
      for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(logits[i]! - ref[i]!) <= 1e-4 * Math.max(1, Math.abs(ref[i]!)), `logit ${i}: ${logits[i]} vs ${ref[i]}`);
      // greedy next characters after "my bird": its verb, which only the subject decides
      const next: number[] = [];
      let seq = [...ids];
      for (let k = 0; k < 7; k++) {
        const o = await s.run({ input_ids: { dtype: 'INT64', shape: [1, seq.length], data: BigInt64Array.from(seq, BigInt) } });
        const last = (o['logits']!.data as Float32Array).subarray((seq.length - 1) * V, seq.length * V);
        const id = last.indexOf(Math.max(...last));
        next.push(id);
        seq = [...seq, id];
      }
      assert.equal(vocab.decode(next), ' flew o');
    } finally {
      await s.release();
    }
  });

  it('refuses a model whose vocab is not the data\'s, naming the size to use', async () => {
    await assert.rejects(train({ spec: { ...spec, model: [{ ...model, vocab: V + 1 }] }, dataset }),
      (e: unknown) => e instanceof FerryError && new RegExp(`vocabulary of ${V} tokens .* set the model's vocab to ${V}`).test(e.message));
  });
});
