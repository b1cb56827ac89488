// Text classifiers served from strings: a Ferry-trained spam model pushed as one ONNX file (it
// carries its tokenizer and labels) answers V2 requests with BYTES texts and /v1/classifications,
// batches texts of different lengths, and refuses bad texts and broken model files clearly.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeModel, encodeModel } from '../../src/graph/onnx.js';
import { runTraining } from '../../src/training/run.js';
import type { TrainSpec } from '../../src/training/spec.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

const SPEC: TrainSpec = {
  name: 'spam', dataset: { type: 'spam-assassin', maxLength: 32, vocabSize: 2000 },
  model: [{ type: 'TransformerEncoder', vocab: 2000, maxLength: 32, dim: 16, heads: 2, layers: 1 }, { type: 'Linear', in: 16, out: 2 }],
  loss: 'crossEntropy', optimizer: { type: 'adamw', lr: 3e-3 }, epochs: 1, batchSize: 64, seed: 0,
};

function withMetadata(onnx: Uint8Array, edit: (m: Map<string, string>) => void): Uint8Array {
  const model = decodeModel(onnx);
  const m = new Map(model.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
  edit(m);
  model.metadataProps = [...m].map(([key, value]) => ({ key, value }));
  return encodeModel(model);
}

describe('text classification serving', () => {
  let s: TestServer;
  let onnx: Uint8Array;
  const post = (path: string, body: unknown) => fetch(`${s.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  before(async () => {
    onnx = (await runTraining({ spec: SPEC, intraOpThreads: 1 })).onnx;
    s = await startServer();
    const res = await pushModel(s.url, 'spam', onnx);
    assert.equal(res.status, 201, await res.text());
  });
  after(() => s.close());

  it('shows a text signature: BYTES texts in, labels and scores out', async () => {
    const meta = (await (await fetch(`${s.url}/v2/models/spam`)).json()) as { inputs: unknown[]; outputs: unknown[] };
    assert.deepEqual(meta.inputs, [{ name: 'text', datatype: 'BYTES', shape: [-1] }]);
    assert.deepEqual(meta.outputs, [
      { name: 'label', datatype: 'BYTES', shape: [-1] }, { name: 'scores', datatype: 'FP32', shape: [-1, 2] },
      { name: 'embedding', datatype: 'FP32', shape: [-1, 16] }, { name: 'tokens', datatype: 'INT64', shape: [-1] },
    ]);
  });

  it('classifies texts of different lengths through V2 infer and /v1/classifications alike', async () => {
    const texts = ['Re: the build is fixed', 'CLICK HERE to WIN cash prizes now!!! limited offer, act today, free money'];
    const v2 = await post('/v2/models/spam/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: texts }] });
    assert.equal(v2.status, 200, await v2.clone().text());
    const out = (await v2.json()) as { outputs: { name: string; shape: number[]; data: (string | number)[] }[] };
    const labels = out.outputs.find((o) => o.name === 'label')!;
    const scores = out.outputs.find((o) => o.name === 'scores')!;
    assert.deepEqual(labels.shape, [2]);
    assert.deepEqual(scores.shape, [2, 2]);
    for (let i = 0; i < 2; i++) {
      const [ham, spam] = [scores.data[2 * i] as number, scores.data[2 * i + 1] as number];
      assert.ok(Math.abs(ham + spam - 1) < 1e-5);
      assert.equal(labels.data[i], spam > ham ? 'spam' : 'ham');
    }

    const oa = await post('/v1/classifications', { model: 'spam', input: texts });
    assert.equal(oa.status, 200, await oa.clone().text());
    const body = (await oa.json()) as { object: string; model: string; data: { index: number; label: string; scores: Record<string, number> }[] };
    assert.equal(body.object, 'list');
    assert.equal(body.model, 'spam:1');
    body.data.forEach((d, i) => {
      assert.equal(d.index, i);
      assert.equal(d.label, labels.data[i]);
      assert.ok(Math.abs(d.scores['spam']! - (scores.data[2 * i + 1] as number)) < 1e-6, 'same scores as V2');
    });
    const one = (await (await post('/v1/classifications', { model: 'spam:1', input: texts[1] })).json()) as { data: { label: string }[] };
    assert.deepEqual(one.data.map((d) => d.label), [body.data[1]!.label], 'a single string works too');
  });

  it('serves OpenAI embeddings that the official openai client reads unchanged, with exact token usage', async () => {
    const { default: OpenAI } = await import('openai');
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'not-needed-yet' });
    const texts = ['free money, click now', 'the meeting notes are attached'];
    const res = await client.embeddings.create({ model: 'spam', input: texts }); // the client asks for base64
    assert.equal(res.data.length, 2);
    const asFloat = (await (await post('/v1/embeddings', { model: 'spam', input: texts, encoding_format: 'float' })).json()) as { data: { embedding: number[] }[]; usage: { prompt_tokens: number } };
    res.data.forEach((d, i) => {
      assert.equal(d.index, i);
      assert.equal(d.embedding.length, 16);
      const norm = Math.sqrt(d.embedding.reduce((a, v) => a + v * v, 0));
      assert.ok(Math.abs(norm - 1) < 1e-5, `unit length, got ${norm}`);
      d.embedding.forEach((v, k) => assert.ok(Math.abs(v - asFloat.data[i]!.embedding[k]!) < 1e-7, 'base64 and float agree'));
    });
    const v2 = (await (await post('/v2/models/spam/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: texts }], outputs: [{ name: 'tokens' }] })).json()) as { outputs: { data: number[] }[] };
    const tokens = v2.outputs[0]!.data.reduce((a, b) => a + b, 0);
    assert.equal(res.usage.prompt_tokens, tokens, 'usage counts the tokens the model saw');
    assert.equal(asFloat.usage.prompt_tokens, tokens);
    const single = await client.embeddings.create({ model: 'spam', input: 'one text' });
    assert.equal(single.data.length, 1);
    await assert.rejects(client.embeddings.create({ model: 'spam', input: 'x', dimensions: 8 }), /dimensions/);
  });

  it('refuses empty texts, non-text input and non-text models with 400s that say what to send', async () => {
    const empty = await post('/v1/classifications', { model: 'spam', input: ['fine', '   '] });
    assert.equal(empty.status, 400);
    assert.match(((await empty.json()) as { error: { message: string } }).error.message, /text 1 is empty/);
    const notText = await post('/v1/classifications', { model: 'spam', input: [1, 2] });
    assert.equal(notText.status, 400);
    assert.match(((await notText.json()) as { error: { message: string } }).error.message, /"input" must be a string or a non-empty list of strings/);
    const missing = await post('/v1/classifications', { model: 'nope', input: 'x' });
    assert.equal(missing.status, 404);
    const tooMany = await post('/v1/embeddings', { model: 'spam', input: Array.from({ length: 65 }, (_, i) => `text ${i}`) });
    assert.equal(tooMany.status, 400, 'more texts than the per-request limit (maxBatchSize)');
    assert.match(((await tooMany.json()) as { error: { message: string } }).error.message, /65 rows but this model's maxBatchSize is 64/);
    // invalid UTF-8 can only arrive as binary tensor data: a 4-byte length, then the bytes
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 6 } }] }));
    const badUtf8 = await fetch(`${s.url}/v2/models/spam/infer`, {
      method: 'POST', headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, Buffer.from([2, 0, 0, 0, 0xff, 0xfe])]),
    });
    assert.equal(badUtf8.status, 400);
    assert.match(await badUtf8.text(), /not valid UTF-8/);
  });

  it('lets a request choose truncation: V2 parameters and the OpenAI-style body alike', async () => {
    const long = 'free money '.repeat(40);
    // the trained model truncates by default; a request may ask it not to, and then hears the limit
    const v2 = await post('/v2/models/spam/infer', { parameters: { truncation: false }, inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: [long] }] });
    assert.equal(v2.status, 400);
    assert.match(await v2.text(), /longer than the model's maximum of 32/);
    const cls = await post('/v1/classifications', { model: 'spam', input: long, truncation: false });
    assert.equal(cls.status, 400);
    const cut = await post('/v1/classifications', { model: 'spam', input: [long, 'hi'], truncation: true });
    assert.equal(cut.status, 200, await cut.clone().text());
    assert.equal(((await cut.json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens, 32 + 3, 'cut to 32 tokens; "hi" is [CLS] hi [SEP]');
    const bad = await post('/v1/embeddings', { model: 'spam', input: 'x', truncation: 'yes' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: { message: string } }).error.message, /"truncation" must be true or false/);
  });

  it('a bad text fails its own request only, not the others batched with it', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => (i === 5 ? ['fine', ' '] : [`message number ${i}`]));
    const answers = await Promise.all(inputs.map((input) => post('/v1/embeddings', { model: 'spam', input })));
    assert.deepEqual(answers.map((r) => r.status), inputs.map((_, i) => (i === 5 ? 400 : 200)));
    assert.match(((await answers[5]!.json()) as { error: { message: string } }).error.message, /text 1 is empty/, 'the index is within that request');
  });

  it('refuses to register a text model without its tokenizer, or with labels that do not match its outputs', async () => {
    const noTokenizer = await pushModel(s.url, 'broken', withMetadata(onnx, (m) => m.delete('ferry.tokenizer')));
    assert.equal(noTokenizer.status, 400);
    assert.match(await noTokenizer.text(), /must carry its tokenizer/);
    const threeLabels = await pushModel(s.url, 'broken', withMetadata(onnx, (m) => m.set('ferry.classes', JSON.stringify(['a', 'b', 'c']))));
    assert.equal(threeLabels.status, 400);
    assert.match(await threeLabels.text(), /id2label names 3 labels but the model outputs 2 logits/);
    for (const [key, value, message] of [
      ['ferry.tokenizer', 'null', /must hold both tokenizer\.json and tokenizer_config\.json/],
      ['ferry.text', 'null', /text options: must be an object/],
      ['ferry.text', '{"maxLength":"x"}', /maxLength must be a positive integer/],
    ] as const) {
      const res = await pushModel(s.url, 'broken', withMetadata(onnx, (m) => m.set(key, value)));
      assert.equal(res.status, 400, `${key} = ${value}`);
      assert.match(await res.text(), message);
    }
    assert.equal((await fetch(`${s.url}/api/models/broken`)).status, 404, 'nothing registered half-way');
  });
});
