// A stream that has nothing to say yet — its request waits for a sequence, or a long prompt is being
// read — sends SSE comment lines so proxies and clients do not give up on it. Time is a fake clock.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { llamaGguf } from '../../src/llm/gguf/llama-export.js';
import { TINY_CONFIG, tinyParams, tinyVocab } from '../fixtures/tiny-llama.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

describe('SSE keep-alive', () => {
  let s: TestServer;
  const clock = new FakeClock();

  before(async () => {
    s = await startServer({ generation: { parallel: 1, maxQueueSize: 4, threads: 1 } }, { clock });
    // a long context, so one greedy stream runs for thousands of tokens and holds the only sequence
    const cfg = { ...TINY_CONFIG, context: 4096 };
    const res = await pushModel(s.url, 'long', llamaGguf(tinyParams(1, cfg), cfg, tinyVocab(), { name: 'long' }));
    assert.equal(res.status, 201, await res.clone().text());
  });
  after(() => s.close());

  it('sends a comment every 5 s to a stream waiting for its sequence', async () => {
    const open = (c: AbortController) => fetch(`${s.url}/v1/completions`, {
      method: 'POST', signal: c.signal, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'long', prompt: 'a', temperature: 0, stream: true }),
    });
    const [ca, cb] = [new AbortController(), new AbortController()];
    const a = await open(ca);
    const decoder = new TextDecoder();
    const ra = a.body!.getReader();
    assert.match(decoder.decode((await ra.read()).value), /^data: /, 'the first stream generates');
    const b = await open(cb);
    assert.equal(b.headers.get('content-type'), 'text/event-stream', 'the waiting stream has its headers at once');
    const rb = b.body!.getReader();
    const next = rb.read();
    await clock.advance(5_000);
    assert.equal(decoder.decode((await next).value), ': keep-alive\n\n');
    ca.abort();
    cb.abort();
  });
});
