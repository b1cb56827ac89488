// A language model trained by Ferry, served two ways: registered as ONNX with a KV cache (Ferry's
// generation loop) and exported as GGUF (llama.cpp). Both continue a prompt with the same greedy
// text, through the same OpenAI endpoints.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { inspectOnnx } from '../../src/graph/onnx.js';
import { decoderGguf } from '../../src/llm/decoder-exports.js';
import { registerTrained, runTraining } from '../../src/training/run.js';
import type { TrainSpec } from '../../src/training/spec.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

// the tiny-gpt recipe, shrunk to train in a few seconds
const SPEC: TrainSpec = {
  name: 'mini-gpt',
  dataset: { type: 'spam-assassin-lm', context: 64, vocabChars: 64, trainWindows: 1000, testWindows: 100 },
  model: [{ type: 'DecoderLM', vocab: 3 + 256 + 64, context: 64, dim: 32, heads: 2, layers: 1, ffn: 64 }],
  loss: 'crossEntropy', optimizer: { type: 'adamw', lr: 1e-2 }, epochs: 1, batchSize: 32, seed: 0,
};

describe('tiny-gpt: trained, registered with a KV cache, exported to GGUF', () => {
  let s: TestServer;
  let client: OpenAI;

  before(async () => {
    const result = await runTraining({ spec: SPEC, intraOpThreads: 1 });
    assert.ok(result.metrics.testLoss < Math.log(3 + 256 + 64) - 1, `it learned something: test loss ${result.metrics.testLoss}`);
    s = await startServer({ generation: { parallel: 2, maxQueueSize: 4, threads: 1 } });
    const v = await registerTrained(s.ferry.registry, SPEC, result);
    assert.equal(v.metadata['task'], 'text-generation');
    const registered = inspectOnnx(new Uint8Array(await (await import('node:fs/promises')).readFile(await s.ferry.registry.artifacts.localPath(v.artifactKey))));
    assert.ok(registered.inputs.some((i) => i.name === 'past_key.0'), 'registered with its KV cache');
    const pushed = await pushModel(s.url, 'mini-gpt-gguf', decoderGguf(result.onnx, 'mini-gpt'));
    assert.equal(pushed.status, 201, await pushed.clone().text());
    client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused' });
  });
  after(() => s?.close());

  it('continues a prompt with the same greedy text from both exports', async () => {
    for (const prompt of ['Subject: Re: ', 'Hello, I would like to']) {
      const [onnx, gguf] = await Promise.all(['mini-gpt', 'mini-gpt-gguf'].map((model) => client.completions.create({ model, prompt, max_tokens: 40, temperature: 0 })));
      assert.equal(onnx!.choices[0]!.text, gguf!.choices[0]!.text, prompt);
      assert.deepEqual(onnx!.usage, gguf!.usage);
      assert.ok(onnx!.choices[0]!.text.length > 0);
    }
  });
});
