// The two exports of a decoder's weights agree with llama's arithmetic: the ONNX model with a KV cache
// (Ferry's own generation loop) against a plain loop-by-loop reference forward, and the GGUF file run
// by llama.cpp against the same reference, token by token.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { llamaGguf } from '../../src/llm/gguf/llama-export.js';
import { llamaOnnx, pastKey, pastValue, presentKey, presentValue } from '../../src/llm/onnx-export.js';
import { LlamaEngine } from '../../src/runtimes/llama/llama-engine.js';
import { argmax } from '../../src/tasks/sampling.js';
import type { GenerativeModel } from '../../src/tasks/generation.js';
import { TINY_CONFIG, tinyParams, tinyVocab } from '../fixtures/tiny-llama.js';
import { llamaForward } from '../helpers/llama-reference.js';
import { tempDir } from '../helpers/server.js';

const cfg = TINY_CONFIG;
const params = tinyParams(3);
const hd = cfg.dim / cfg.heads;

describe('decoder exports', () => {
  const opened: GenerativeModel[] = [];
  after(async () => {
    for (const m of opened) await m.unload();
  });

  it('the ONNX export with a KV cache computes the reference logits, whole or a token at a time', async () => {
    const session = await ort.InferenceSession.create(llamaOnnx(params, cfg));
    const ids = [1, 300, 301, 280, 290, 310, 305];
    const ref = llamaForward(params, cfg, ids);
    const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, cfg.heads, 0, hd]);
    const feeds = (tokens: number[], past: Record<string, ort.Tensor>) => ({ input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens.map(BigInt)), [1, tokens.length]), ...past });
    let past: Record<string, ort.Tensor> = {};
    for (let i = 0; i < cfg.layers; i++) Object.assign(past, { [pastKey(i)]: empty(), [pastValue(i)]: empty() });
    // the first four at once, then one by one through the cache
    const first = await session.run(feeds(ids.slice(0, 4), past));
    const logits: Float32Array[] = [];
    for (let t = 0; t < 4; t++) logits.push((first['logits']!.data as Float32Array).slice(t * cfg.vocab, (t + 1) * cfg.vocab));
    const carry = (out: ort.InferenceSession.OnnxValueMapType) => {
      const next: Record<string, ort.Tensor> = {};
      for (let i = 0; i < cfg.layers; i++) Object.assign(next, { [pastKey(i)]: out[presentKey(i)]!, [pastValue(i)]: out[presentValue(i)]! });
      return next;
    };
    past = carry(first);
    assert.deepEqual(past[pastKey(0)]!.dims, [1, cfg.heads, 4, hd]);
    for (let t = 4; t < ids.length; t++) {
      const out = await session.run(feeds([ids[t]!], past));
      logits.push(out['logits']!.data as Float32Array);
      past = carry(out);
    }
    let worst = 0;
    logits.forEach((row, t) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ref[t * cfg.vocab + j]!)))));
    assert.ok(worst < 1e-4, `largest difference from the reference: ${worst}`);
  });

  it('llama.cpp runs the GGUF export to the reference greedy continuation', async () => {
    const file = path.join(tempDir('ferry-gguf-'), 'tiny.gguf');
    writeFileSync(file, llamaGguf(params, cfg, tinyVocab(), { name: 'tiny' }));
    const m = await new LlamaEngine().load(file, { parallel: 1, maxQueue: 0, threads: 1 });
    opened.push(m);
    const prompt = m.tokenize('the tea', { bos: true });
    assert.deepEqual(prompt.slice(0, 2), [1, tinyVocab().tokens.indexOf('t')], 'BOS, then one token per character');
    const theirs: number[] = [];
    await m.generate({ prompt, maxTokens: 24, sampling: { temperature: 0 }, signal: new AbortController().signal }, (t) => theirs.push(t.id) > 0);
    const ours: number[] = [];
    const ids = [...prompt];
    for (let i = 0; i < theirs.length; i++) {
      const logits = llamaForward(params, cfg, ids);
      const next = argmax(logits.subarray((ids.length - 1) * cfg.vocab));
      ours.push(next);
      ids.push(next);
    }
    assert.equal(theirs.length, 24);
    assert.deepEqual(theirs, ours);
  });
});
