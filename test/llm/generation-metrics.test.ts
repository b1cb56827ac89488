// vLLM-style metrics for generative models, read back from GET /metrics of a real server serving a
// real GGUF (llama.cpp): token counters equal the usage the responses reported, latency histograms
// count one observation per request (time to first token, whole request) or per token after the
// first (inter-token latency), finish reasons are counted, and the running/waiting gauges follow
// streams that are held open — and drop back when their clients go away (counted as aborts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { llamaGguf } from '../../src/llm/gguf/llama-export.js';
import { TINY_CONFIG, tinyLlamaGguf, tinyParams, tinyVocab } from '../fixtures/tiny-llama.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

/** Prometheus text format → sample value by name and exact label set (undefined when absent). */
function parse(text: string): (name: string, labels?: Record<string, string>) => number | undefined {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}=${v}`).sort().join(',');
    samples.set(`${m[1]}{${labels}}`, Number(m[3]));
  }
  return (name, labels = {}) => samples.get(`${name}{${Object.entries(labels).map(([k, v]) => `${k}=${v}`).sort().join(',')}}`);
}

describe('generation metrics (vLLM style) in /metrics', () => {
  let s: TestServer;
  let client: OpenAI;
  const tiny = { model: 'tiny', version: '1' };

  const scrape = async () => {
    const res = await fetch(`${s.url}/metrics`);
    assert.equal(res.status, 200);
    return parse(await res.text());
  };
  /** A value that is absent counts as 0 (a series appears with its first observation). */
  const reader = (get: Awaited<ReturnType<typeof scrape>>) => (name: string, labels: Record<string, string>) => get(name, labels) ?? 0;
  const snapshot = async (labels: Record<string, string>) => {
    const v = reader(await scrape());
    return {
      prompt: v('ferry_generation_prompt_tokens_total', labels),
      completion: v('ferry_generation_completion_tokens_total', labels),
      ttft: v('ferry_generation_time_to_first_token_seconds_count', labels),
      itl: v('ferry_generation_inter_token_latency_seconds_count', labels),
      e2e: v('ferry_generation_request_duration_seconds_count', labels),
      e2eSum: v('ferry_generation_request_duration_seconds_sum', labels),
      stop: v('ferry_generation_requests_total', { ...labels, finish_reason: 'stop' }),
      length: v('ferry_generation_requests_total', { ...labels, finish_reason: 'length' }),
      abort: v('ferry_generation_requests_total', { ...labels, finish_reason: 'abort' }),
      error: v('ferry_generation_requests_total', { ...labels, finish_reason: 'error' }),
      running: v('ferry_generation_requests_running', labels),
      waiting: v('ferry_generation_requests_waiting', labels),
    };
  };
  const delta = (a: Awaited<ReturnType<typeof snapshot>>, b: typeof a) =>
    Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - a[k as keyof typeof a]])) as typeof a;

  /** Polls /metrics until `ok` holds (the server notices a closed connection asynchronously). */
  const until = async (labels: Record<string, string>, ok: (m: Awaited<ReturnType<typeof snapshot>>) => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const m = await snapshot(labels);
      if (ok(m)) return m;
      if (Date.now() > deadline) assert.fail(`${what}; last scrape: ${JSON.stringify(m)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  before(async () => {
    s = await startServer({ generation: { parallel: 2, maxQueueSize: 4, threads: 1 } });
    const res = await pushModel(s.url, 'tiny', tinyLlamaGguf());
    assert.equal(res.status, 201, await res.clone().text());
    // the same tiny network with a long context: generating thousands of tokens keeps a stream open
    // for a second or more, long enough to scrape the gauges while it runs
    const cfg = { ...TINY_CONFIG, context: 4096 };
    const long = await pushModel(s.url, 'long', llamaGguf(tinyParams(1, cfg), cfg, tinyVocab(), { name: 'tiny-llama-long' }));
    assert.equal(long.status, 201, await long.clone().text());
    client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused' });
  });
  after(() => s.close());

  it('counts a non-streamed and a streamed completion: tokens as reported in usage, one TTFT and e2e each, ITL per later token, finish reasons', async () => {
    const before = await snapshot(tiny);
    const whole = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 20, temperature: 0 });
    assert.equal(whole.choices[0]!.finish_reason, 'length');
    const first = whole.choices[0]!.text;
    assert.ok(first.length >= 7, `the greedy text is long enough to cut: ${JSON.stringify(first)}`);
    // streamed, cut by a stop string from the greedy text: finish_reason "stop"
    const stream = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 20, temperature: 0, stop: first.slice(5, 7), stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(finish, 'stop');
    assert.ok(usage);

    const d = delta(before, await snapshot(tiny));
    assert.equal(d.prompt, whole.usage!.prompt_tokens + usage.prompt_tokens, 'prompt tokens as the responses reported');
    assert.equal(d.completion, whole.usage!.completion_tokens + usage.completion_tokens, 'generated tokens as the responses reported');
    assert.equal(d.ttft, 2, 'one time-to-first-token per request');
    assert.equal(d.e2e, 2, 'one end-to-end latency per request');
    assert.ok(d.e2eSum > 0);
    assert.equal(d.itl, whole.usage!.completion_tokens - 1 + usage.completion_tokens - 1, 'one inter-token latency per token after the first');
    assert.equal(d.length, 1);
    assert.equal(d.stop, 1);
    assert.equal(d.abort, 0);
    assert.equal(d.error, 0);
  });

  it('counts chat completions the same way, and labels by version; histograms are well formed', async () => {
    const before = await snapshot(tiny);
    const messages = [{ role: 'user' as const, content: 'Say hi' }];
    const whole = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0 });
    const stream = await client.chat.completions.create({ model: 'tiny:1', messages, max_tokens: 9, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    assert.ok(usage);
    const get = await scrape();
    const v = reader(get);
    const d = delta(before, await snapshot(tiny));
    assert.equal(d.prompt, whole.usage!.prompt_tokens + usage.prompt_tokens);
    assert.equal(d.completion, whole.usage!.completion_tokens + usage.completion_tokens);
    assert.equal(d.ttft, 2);
    assert.equal(d.e2e, 2);
    assert.equal(d.itl, whole.usage!.completion_tokens + usage.completion_tokens - 2);
    assert.equal(d.length + d.stop, 2);
    // cumulative buckets end at +Inf with the count; ITL has sub-millisecond buckets, e2e reaches minutes
    for (const h of ['ferry_generation_time_to_first_token_seconds', 'ferry_generation_inter_token_latency_seconds', 'ferry_generation_request_duration_seconds']) {
      assert.equal(v(`${h}_bucket`, { ...tiny, le: '+Inf' }), v(`${h}_count`, tiny), h);
    }
    assert.notEqual(get('ferry_generation_inter_token_latency_seconds_bucket', { ...tiny, le: '0.0005' }), undefined);
    assert.notEqual(get('ferry_generation_request_duration_seconds_bucket', { ...tiny, le: '60' }), undefined);
  });

  it('gauges requests running and waiting while streams are held open; clients that leave count as aborted', async () => {
    const labels = { model: 'long', version: '1' };
    const before = await snapshot(labels);
    const open = () => {
      const c = new AbortController();
      const res = fetch(`${s.url}/v1/completions`, {
        method: 'POST', signal: c.signal, headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'long', prompt: 'a', temperature: 0, stream: true }),
      });
      return { c, res };
    };
    // two streams take both sequences; read a first chunk of each so both are generating
    const held = [open(), open()];
    for (const h of held) {
      const r = await h.res;
      assert.equal(r.status, 200);
      const first = await r.body!.getReader().read();
      assert.equal(first.done, false);
    }
    const running = await snapshot(labels);
    assert.equal(running.running, 2, 'both held streams are running');
    assert.equal(running.waiting, 0);
    // a third waits for a sequence (its response headers may not have arrived yet: nothing is written
    // to a completions stream before its first token or keep-alive)
    const third = open();
    const thirdRes = third.res.catch(() => undefined);
    await until(labels, (m) => m.waiting === 1 && m.running === 2, 'the third stream waits for a sequence');

    for (const h of [...held, third]) h.c.abort();
    await thirdRes;
    const after = await until(labels, (m) => m.running === 0 && m.waiting === 0 && m.abort - before.abort === 3, 'all three streams end as aborted');
    const d = delta(before, after);
    assert.equal(d.abort, 3, 'two generating and one queued client went away');
    assert.equal(d.stop + d.length + d.error, 0);
    assert.equal(d.e2e, 0, 'aborted requests stay out of the end-to-end latency');
    assert.equal(d.ttft, 2, 'the two that generated saw a first token');
    assert.ok(d.completion >= 2);
    assert.equal(d.itl, d.completion - 2, 'inter-token latency per token after each first');
    // the tiny model's gauges read 0 meanwhile: labelled per version, not pooled
    const idle = await snapshot(tiny);
    assert.equal(idle.running, 0);
    assert.equal(idle.waiting, 0);
  });
});
