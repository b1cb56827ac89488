// Streams send one SSE event per token by default; `stream_interval` (tokens per event) and
// `stream_interval_ms` (how long text may wait) let a client trade smoothness for throughput. The
// text adds up to the same greedy answer either way. A real GGUF over real HTTP on loopback; time is
// a fake clock, so a time-bounded event fires only when the test moves it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IntervalSender } from '../../src/server/openai/generation-interval.js';
import { tinyLlamaGguf } from '../fixtures/tiny-llama.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

interface Chunk { choices: { delta?: { content?: string }; text?: string; finish_reason: string | null }[]; usage?: { completion_tokens: number } }

/** the content pieces of an SSE response, in order, with its usage */
async function events(res: Response): Promise<{ pieces: string[]; finish: string | null; tokens: number; done: boolean }> {
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.text();
  const pieces: string[] = [];
  let finish: string | null = null;
  let tokens = NaN;
  for (const block of body.split('\n\n').filter((b) => b.startsWith('data: ') && b !== 'data: [DONE]')) {
    const c = JSON.parse(block.slice(6)) as Chunk;
    const piece = c.choices[0]?.delta?.content ?? c.choices[0]?.text;
    if (piece) pieces.push(piece);
    finish = c.choices[0]?.finish_reason ?? finish;
    if (c.usage) tokens = c.usage.completion_tokens;
  }
  return { pieces, finish, tokens, done: body.endsWith('data: [DONE]\n\n') };
}

describe('stream_interval: several tokens per SSE event, opt-in', () => {
  let s: TestServer;
  const clock = new FakeClock();
  const post = (path: string, body: object) => fetch(`${s.url}/v1${path}`, { method: 'POST', body: JSON.stringify({ model: 'tiny', temperature: 0, ...body }), headers: { 'content-type': 'application/json' } });
  const chat = (extra: object) => post('/chat/completions', { messages: [{ role: 'user', content: 'Say hi' }], max_tokens: 30, stream: true, stream_options: { include_usage: true }, ...extra });

  before(async () => {
    s = await startServer({ generation: { parallel: 2, maxQueueSize: 4, threads: 1 } }, { clock });
    const res = await pushModel(s.url, 'tiny', tinyLlamaGguf());
    assert.equal(res.status, 201, await res.clone().text());
  });
  after(() => s.close());

  it('by default sends an event per token; stream_interval 4 sends the same text four tokens at a time', async () => {
    const each = await events(await chat({}));
    assert.equal(each.tokens, 30);
    assert.equal(each.finish, 'length');
    assert.ok(each.done);
    // an event per token, except while a character's bytes wait for the rest (the fixture's random
    // weights pick byte tokens too)
    assert.ok(each.pieces.length >= 8 && each.pieces.length <= 30, `${each.pieces.length} events`);

    const four = await events(await chat({ stream_interval: 4 }));
    const grouped = Array.from({ length: Math.ceil(each.pieces.length / 4) }, (_, i) => each.pieces.slice(4 * i, 4 * i + 4).join(''));
    assert.deepEqual(four.pieces, grouped, 'the same greedy answer, four pieces to an event');
    assert.equal(four.tokens, 30, 'usage counts tokens, not events');
    assert.equal(four.finish, 'length');
    assert.ok(four.done);
  });

  it('stream_interval_ms holds text until the clock says its time is up; the end sends what waits', async () => {
    // the fake clock does not move while the request runs, so no event is due before the end
    const timers = clock.pendingTimers;
    const held = await events(await post('/completions', { prompt: 'Once upon a time', max_tokens: 20, stream: true, stream_interval_ms: 50 }));
    const plain = await events(await post('/completions', { prompt: 'Once upon a time', max_tokens: 20, stream: true }));
    assert.ok(plain.pieces.length > 1);
    assert.deepEqual(held.pieces, [plain.pieces.join('')], 'one event with all 20 tokens');
    assert.equal(held.tokens, NaN, 'no usage chunk was asked for');
    assert.equal(held.finish, 'length');
    assert.equal(clock.pendingTimers, timers, 'the timer is cleared at the end');
  });

  it('refuses what it cannot honour, naming the field', async () => {
    const refuse = async (body: object, pattern: RegExp) => {
      const res = await post('/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...body });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { error: { message: string } }).error.message, pattern);
    };
    await refuse({ stream_interval: 4 }, /only allowed with "stream": true/);
    await refuse({ stream: true, stream_interval: 0 }, /"stream_interval" must be a number from 1 to 1000/);
    await refuse({ stream: true, stream_interval: 2.5 }, /"stream_interval" must be an integer/);
    await refuse({ stream: true, stream_interval_ms: -1 }, /"stream_interval_ms" must be a number from 1 to 60000/);
    await refuse({ stream: true, stream_interval: 4, logprobs: true }, /cannot be combined with "logprobs"/);
  });
});

describe('IntervalSender', () => {
  const run = (interval: { tokens: number; ms?: number }) => {
    const clock = new FakeClock();
    const sent: string[] = [];
    return { clock, sent, sender: new IntervalSender(interval, clock, (t) => sent.push(t)) };
  };

  it('sends every `tokens` pieces, and the rest on flush', () => {
    const { sent, sender } = run({ tokens: 3 });
    for (const p of 'abcdefgh') sender.push(p);
    assert.deepEqual(sent, ['abc', 'def']);
    sender.flush();
    assert.deepEqual(sent, ['abc', 'def', 'gh']);
    sender.flush();
    assert.deepEqual(sent, ['abc', 'def', 'gh'], 'nothing waits: no empty event');
  });

  it('sends what waits once the first waiting piece is `ms` old, whichever limit comes first', async () => {
    const { clock, sent, sender } = run({ tokens: 4, ms: 20 });
    sender.push('a');
    await clock.advance(10);
    sender.push('b');
    await clock.advance(9);
    assert.deepEqual(sent, []);
    await clock.advance(1);
    assert.deepEqual(sent, ['ab'], '20 ms after "a", not after "b"');
    for (const p of 'cdef') sender.push(p);
    assert.deepEqual(sent, ['ab', 'cdef'], 'four pieces go at once');
    assert.equal(clock.pendingTimers, 0, 'and their timer with them');
    sender.push('g');
    sender.stop();
    await clock.advance(100);
    assert.deepEqual(sent, ['ab', 'cdef'], 'stop drops the timer');
  });
});
