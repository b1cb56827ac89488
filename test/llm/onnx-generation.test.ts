// One decoder's weights exported twice — ONNX with a KV cache (Ferry's generation loop) and GGUF
// (llama.cpp) — serve the same greedy continuation through /v1/completions and /v1/chat/completions.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { llamaGguf } from '../../src/llm/gguf/llama-export.js';
import { llamaOnnx } from '../../src/llm/onnx-export.js';
import { TINY_CHARS, TINY_CONFIG, tinyParams, tinyVocab } from '../fixtures/tiny-llama.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

describe('Ferry-exported decoders: ONNX and GGUF agree', () => {
  let s: TestServer;
  let client: OpenAI;
  const params = tinyParams(5);

  before(async () => {
    s = await startServer({ generation: { parallel: 2, maxQueueSize: 4, threads: 1 } });
    const onnx = llamaOnnx(params, TINY_CONFIG, {
      'ferry.task': 'text-generation',
      'ferry.vocab': JSON.stringify({ format: 'ferry-char-vocab/1', chars: TINY_CHARS }),
      'ferry.decoder': JSON.stringify(TINY_CONFIG),
    });
    for (const [name, bytes] of [['tiny-onnx', onnx], ['tiny-gguf', llamaGguf(params, TINY_CONFIG, tinyVocab(), { name: 'tiny' })]] as const) {
      const res = await pushModel(s.url, name, bytes);
      assert.equal(res.status, 201, await res.clone().text());
    }
    client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused' });
  });
  after(() => s.close());

  it('gives the same greedy completion and usage from both runtimes', async () => {
    for (const prompt of ['Once upon a time', 'hello, world']) {
      const [a, b] = await Promise.all(['tiny-onnx', 'tiny-gguf'].map((model) => client.completions.create({ model, prompt, max_tokens: 30, temperature: 0 })));
      assert.equal(a!.choices[0]!.text, b!.choices[0]!.text, prompt);
      assert.deepEqual(a!.usage, b!.usage);
      assert.equal(a!.usage!.prompt_tokens, prompt.length + 1);
    }
  });

  it('streams chat from the ONNX model, with seeded sampling that repeats', async () => {
    const messages = [{ role: 'user' as const, content: 'tell me a story' }];
    const whole = await client.chat.completions.create({ model: 'tiny-onnx', messages, max_tokens: 16, temperature: 0 });
    let streamed = '';
    for await (const c of await client.chat.completions.create({ model: 'tiny-onnx', messages, max_tokens: 16, temperature: 0, stream: true })) streamed += c.choices[0]?.delta.content ?? '';
    assert.equal(streamed, whole.choices[0]!.message.content);
    const gguf = await client.chat.completions.create({ model: 'tiny-gguf', messages, max_tokens: 16, temperature: 0 });
    assert.equal(gguf.choices[0]!.message.content, whole.choices[0]!.message.content, 'same chat template, same tokens');
    const seeded = async () => (await client.completions.create({ model: 'tiny-onnx', prompt: 'abc', max_tokens: 20, temperature: 0.8, top_p: 0.9, seed: 11 })).choices[0]!.text;
    assert.equal(await seeded(), await seeded());
    const json = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-onnx', messages, response_format: { type: 'json_object' } }) });
    assert.equal(json.status, 400);
    assert.match(await json.text(), /needs a GGUF model/);
  });

  it('V2 infer on the ONNX decoder returns its raw logits', async () => {
    const res = await fetch(`${s.url}/v2/models/tiny-onnx`);
    const meta = (await res.json()) as { inputs: { name: string }[] };
    assert.ok(meta.inputs.some((i) => i.name === 'past_key.0'));
  });
});
