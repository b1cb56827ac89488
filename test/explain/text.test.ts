// Explaining a text classifier: a small spam transformer trained here (Embedding → transformer) is
// pushed and explained through POST /v1/classifications/explain and V2 /explain. Each token's score
// comes with offsets that cut exactly that token out of the string that was sent; integrated
// gradients over the embeddings are complete within 1%; leave-one-token-out scores are the drops the
// served model itself shows.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildGradientModel } from '../../src/explain/gradient-model.js';
import { importGraph } from '../../src/explain/import-graph.js';
import { decodeModel } from '../../src/graph/onnx.js';
import { openGraphSession } from '../../src/runtimes/onnx/session.js';
import { emitModel } from '../../src/training/autodiff/emit.js';
import { runTraining } from '../../src/training/run.js';
import type { TrainSpec } from '../../src/training/spec.js';
import { mlpModel } from '../fixtures/models.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

const SPEC: TrainSpec = {
  name: 'spam', dataset: { type: 'spam-assassin', maxLength: 32, vocabSize: 2000 },
  model: [{ type: 'TransformerEncoder', vocab: 2000, maxLength: 32, dim: 16, heads: 2, layers: 1 }, { type: 'Linear', in: 16, out: 2 }],
  loss: 'crossEntropy', optimizer: { type: 'adamw', lr: 3e-3 }, epochs: 1, batchSize: 64, seed: 0,
};

interface Token { token: string; start: number | null; end: number | null; special: boolean; score: number }
interface TextBody {
  object: string; model: string; label: string; method: string; fallbackReason?: string; text: string; steps?: number; baseline?: string | number;
  target: { index: number; label: string; output: string; space: string; score: number; baselineScore?: number };
  predicted: { index: number; label: string };
  completeness?: { sum: number; outputDelta: number; relativeError: number };
  tokens: Token[];
}

const TEXT = 'CLICK HERE to WIN cash prizes now!!! Café naïve 😀 unbelievably';

describe('explaining text classifiers', () => {
  let s: TestServer;
  let onnx: Uint8Array;
  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${s.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: r.status, body: (await r.json()) as TextBody & { error: { message: string } | string } };
  };

  before(async () => {
    onnx = (await runTraining({ spec: SPEC, intraOpThreads: 1 })).onnx;
    s = await startServer();
    assert.equal((await pushModel(s.url, 'spam', onnx)).status, 201);
    assert.equal((await pushModel(s.url, 'mlp', mlpModel({ inputs: 4, hidden: 3, outputs: 2 }))).status, 201);
  });
  after(() => s.close());

  it('imports the transformer graph as onnxruntime runs it', async () => {
    const g = importGraph(decodeModel(onnx), { outputs: ['logits'] });
    const copy = emitModel(g.tape, { outputs: { logits: g.values.get('logits')! }, sequenceDim: 'sequence' });
    const ids = { input: { dtype: 'INT64' as const, shape: [2, 6], data: BigInt64Array.from([2, 40, 41, 42, 43, 3, 2, 50, 3, 0, 0, 0], BigInt) } };
    const [a, b] = await Promise.all([openGraphSession(onnx), openGraphSession(copy)]);
    const [x, y] = [(await a.run(ids, ['logits']))['logits']!.data as Float32Array, (await b.run(ids, ['logits']))['logits']!.data as Float32Array];
    await Promise.all([a.release(), b.release()]);
    x.forEach((v, i) => assert.ok(Math.abs(v - y[i]!) < 1e-5, `${v} vs ${y[i]}`));
    assert.deepEqual(buildGradientModel(onnx, { embeddingsOf: 'input' }).wrtShape, [-1, 16], 'explained over [tokens, 16] embeddings');
  });

  it('scores every token, each with the offsets of its own characters in the original string', async () => {
    const r = await post('/v1/classifications/explain', { model: 'spam', input: TEXT });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const b = r.body;
    assert.equal(b.object, 'classification.explanation');
    assert.equal(b.model, 'spam:1');
    assert.equal(b.method, 'integrated_gradients');
    assert.equal(b.baseline, 'zero');
    assert.equal(b.text, TEXT);
    assert.equal(b.label, b.predicted.label);
    assert.deepEqual([b.target.output, b.target.space], ['logits', 'logit']);
    const [first, last] = [b.tokens[0]!, b.tokens.at(-1)!];
    assert.deepEqual([first.special, first.start, last.special, last.end], [true, null, true, null], '[CLS] and [SEP] have no characters');
    let cursor = 0;
    for (const t of b.tokens.filter((x) => !x.special)) {
      assert.ok(t.start !== null && t.end !== null && t.start >= cursor && t.end > t.start, `${t.token} at ${t.start}-${t.end}`);
      cursor = t.end!;
      const piece = TEXT.slice(t.start!, t.end!);
      if (t.token !== '[UNK]') assert.equal(piece.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, ''), t.token.replace(/^##/, ''), `${t.token} is "${piece}"`);
      else assert.equal(piece, '😀');
    }
    assert.ok(b.tokens.some((t) => t.token === 'ca' && TEXT.slice(t.start!, t.end!) === 'Ca'), 'offsets point into the original casing and accents');
    // completeness over the embeddings: Σ token scores = logit(text) − logit(zero embeddings)
    const sum = b.tokens.reduce((a, t) => a + t.score, 0);
    assert.ok(b.completeness!.relativeError <= 0.01, JSON.stringify(b.completeness));
    assert.ok(Math.abs(sum - (b.target.score - b.target.baselineScore!)) <= 0.01 * Math.abs(b.target.score - b.target.baselineScore!) + 1e-4);
  });

  it('explains any class on request, by label or index, and gives V2 the same numbers', async () => {
    const spam = await post('/v1/classifications/explain', { model: 'spam', input: TEXT, target: 'spam', steps: 20, tolerance: 0 });
    const ham = await post('/v1/classifications/explain', { model: 'spam', input: TEXT, target: 0, steps: 20, tolerance: 0 });
    assert.equal(spam.body.target.label, 'spam');
    assert.equal(ham.body.target.label, 'ham');
    assert.equal(spam.body.steps, 20);
    // two classes, one logit each: the attributions for ham are not those for spam
    assert.notDeepEqual(spam.body.tokens.map((t) => t.score), ham.body.tokens.map((t) => t.score));
    const v2 = await fetch(`${s.url}/v2/models/spam/explain`, {
      method: 'POST', body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: [TEXT] }], parameters: { target: 'spam', steps: 20, tolerance: 0 } }),
    });
    assert.equal(v2.status, 200);
    const body = (await v2.json()) as TextBody & { model_name: string };
    assert.equal(body.model_name, 'spam');
    assert.deepEqual(body.tokens, spam.body.tokens);
  });

  it('leaves one token out at a time through the served model when asked for occlusion', async () => {
    const text = 'free money, click here now';
    const r = await post('/v1/classifications/explain', { model: 'spam', input: text, method: 'occlusion', target: 'spam' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.method, 'occlusion');
    assert.equal(r.body.fallbackReason, undefined);
    assert.equal('baseline' in r.body, false, 'leaving a token out uses no baseline, so none is reported');
    assert.deepEqual([r.body.target.output, r.body.target.space], ['scores', 'probability']);
    const money = r.body.tokens.find((t) => t.token === 'money')!;
    const cls = async (input: string) => ((await post('/v1/classifications', { model: 'spam', input })).body as unknown as { data: { scores: Record<string, number> }[] }).data[0]!.scores['spam']!;
    const drop = (await cls(text)) - (await cls(text.slice(0, money.start!) + text.slice(money.end!)));
    assert.ok(Math.abs(money.score - drop) < 1e-6, `${money.score} vs ${drop}`);
    assert.equal(r.body.tokens[0]!.score, 0, 'special tokens are not left out');
  });

  it('leaves tokens out of the part a truncating model read, so no unread token slides in', async () => {
    // the model reads 32 tokens ([CLS], 30 words, [SEP]); the words after them are never seen
    const words = Array.from({ length: 40 }, (_, i) => (i === 3 ? 'money' : ['free', 'click', 'here', 'now', 'win'][i % 5]!));
    const text = words.join(' ');
    const r = await post('/v1/classifications/explain', { model: 'spam', input: text, method: 'occlusion', target: 'spam' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.tokens.length, 32);
    const read = text.slice(0, Math.max(...r.body.tokens.map((t) => t.end ?? 0)));
    const money = r.body.tokens.find((t) => t.token === 'money')!;
    const cls = async (input: string) => ((await post('/v1/classifications', { model: 'spam', input })).body as unknown as { data: { scores: Record<string, number> }[] }).data[0]!.scores['spam']!;
    assert.equal(await cls(read), r.body.target.score, 'the part read scores as the whole text');
    const drop = (await cls(read)) - (await cls(read.slice(0, money.start!) + read.slice(money.end!)));
    assert.ok(Math.abs(money.score - drop) < 1e-6, `${money.score} vs ${drop}`);
  });

  it('refuses what it cannot explain, saying what to send', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ model: 'spam', input: ['a', 'b'] }, 400, /"input" must be one string: explanations are per text/],
      [{ model: 'spam', input: '   ' }, 400, /the text is empty/],
      [{ model: 'spam', input: 'win '.repeat(10_000) }, 400, /the text has 40000 characters; explanations take at most 32768/],
      [{ model: 'spam', input: 'hi', target: 'eggs' }, 400, /"target" "eggs" is not one of this model's labels: "ham", "spam"/],
      [{ model: 'spam', input: 'hi', method: 'lime' }, 400, /"method" must be "integrated_gradients" or "occlusion"/],
      [{ model: 'spam', input: 'hi', stride: 2, bogus: 1 }, 400, /unknown explain parameter "bogus"/],
      [{ model: 'mlp', input: 'hi' }, 400, /model "mlp" is not a text classifier; .*POST \/v2\/models\/mlp\/explain/],
      [{ model: 'nope', input: 'hi' }, 404, /nope/],
    ];
    for (const [body, status, message] of cases) {
      const r = await post('/v1/classifications/explain', body);
      assert.equal(r.status, status, JSON.stringify(body));
      assert.match((r.body.error as { message: string }).message, message);
    }
  });
});
