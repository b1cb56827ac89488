// Generative models end to end: a GGUF file written by Ferry's exporter is pushed over HTTP, checked
// by Ferry's own reader and a child-process test load, and served by llama.cpp (node-llama-cpp)
// through /v1/chat/completions and /v1/completions — driven by the official openai client.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { writeGguf } from '../../src/llm/gguf/write.js';
import { tinyLlamaGguf } from '../fixtures/tiny-llama.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';


describe('generative models (GGUF) through the OpenAI endpoints', () => {
  let s: TestServer;
  let client: OpenAI;
  const post = (path: string, body: unknown) => fetch(`${s.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const message = async (res: Response) => ((await res.json()) as { error: { message: string } }).error.message;

  before(async () => {
    s = await startServer({ generation: { parallel: 2, maxQueueSize: 4, threads: 1 } });
    const res = await pushModel(s.url, 'tiny', tinyLlamaGguf());
    assert.equal(res.status, 201, await res.clone().text());
    const v = (await res.json()) as { format: string; metadata: Record<string, unknown> };
    assert.equal(v.format, 'gguf');
    assert.equal(v.metadata['task'], 'text-generation');
    assert.equal(v.metadata['contextLength'], 128);
    client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused' });
  });
  after(() => s.close());

  it('answers chat completions, streamed and not, with the same greedy text and exact usage', async () => {
    const messages = [{ role: 'user' as const, content: 'Say hi' }];
    const whole = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0 });
    const choice = whole.choices[0]!;
    assert.equal(choice.message.role, 'assistant');
    assert.equal(typeof choice.message.content, 'string');
    // the plain template renders "user: Say hi\nassistant: "; the vocabulary has one token per
    // printable character, the newline is one byte token, and BOS comes first
    const rendered = 'user: Say hi\nassistant: ';
    assert.equal(whole.usage!.prompt_tokens, rendered.length + 1);
    assert.equal(whole.usage!.completion_tokens, 12);
    assert.equal(choice.finish_reason, 'length');

    const stream = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, choice.message.content, 'streamed pieces add up to the same greedy answer');
    assert.equal(finish, 'length');
    assert.deepEqual(usage, whole.usage, 'include_usage sends a final usage chunk');
  });

  it('completions: greedy and seeded sampling repeat; stop strings cut the text', async () => {
    const greedy = async () => (await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 20, temperature: 0 })).choices[0]!.text;
    const first = await greedy();
    assert.equal(await greedy(), first);
    const sampled = async (seed: number) => (await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 20, temperature: 1, seed })).choices[0]!.text;
    assert.equal(await sampled(7), await sampled(7), 'same seed, same text');
    // a stop string taken from the greedy output ends the text just before it
    const stop = first.slice(5, 7);
    const cut = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 20, temperature: 0, stop });
    assert.equal(cut.choices[0]!.text, first.slice(0, first.indexOf(stop)));
    assert.equal(cut.choices[0]!.finish_reason, 'stop');
    const models = await client.models.list();
    assert.ok(models.data.some((m) => m.id === 'tiny'));
  });

  it('reports log-probabilities, and constrains output to JSON when asked', async () => {
    const res = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'abc' }], max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = res.choices[0]!.logprobs!.content!;
    assert.equal(content.length, 5);
    for (const t of content) {
      assert.ok(t.logprob <= 0, 'a log-probability');
      assert.equal(t.top_logprobs.length, 3);
      assert.ok(Math.abs(Math.max(...t.top_logprobs.map((x) => x.logprob)) - t.logprob) < 1e-6, 'greedy picks the most likely token');
    }
    const legacy = await client.completions.create({ model: 'tiny', prompt: 'abc', max_tokens: 5, temperature: 0, logprobs: 3 });
    assert.equal(legacy.choices[0]!.logprobs!.token_logprobs!.length, 5);
    const chat = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'data?' }], max_tokens: 40, temperature: 0, response_format: { type: 'json_object' } });
    const text = chat.choices[0]!.message.content!;
    assert.match(text, /^\s*[{[]/, `grammar-constrained output starts as JSON: ${JSON.stringify(text)}`);
    if (chat.choices[0]!.finish_reason === 'stop') JSON.parse(text);
    // a schema narrow enough that even random weights must finish it
    const schema = { type: 'object', properties: { answer: { type: 'string', enum: ['yes', 'no'] }, n: { enum: [1, 2, 3] } }, required: ['answer', 'n'] };
    const typed = await client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'ok?' }], max_tokens: 100, temperature: 0, response_format: { type: 'json_schema', json_schema: { name: 'reply', schema } } });
    assert.equal(typed.choices[0]!.finish_reason, 'stop');
    const parsed = JSON.parse(typed.choices[0]!.message.content!) as { answer: string; n: number };
    assert.ok(['yes', 'no'].includes(parsed.answer) && [1, 2, 3].includes(parsed.n), JSON.stringify(parsed));
  });

  it('refuses what it cannot do with 400s that name the limit or the field', async () => {
    const long = await post('/v1/completions', { model: 'tiny', prompt: 'x'.repeat(200) });
    assert.equal(long.status, 400);
    assert.match(await message(long), /the prompt is 201 tokens but the model's context holds 128/);
    const tooMany = await post('/v1/completions', { model: 'tiny', prompt: 'hello', max_tokens: 500 });
    assert.equal(tooMany.status, 400);
    assert.match(await message(tooMany), /plus max_tokens \(500\) is more than the model's context of 128 tokens; ask for at most 122/);
    const n = await post('/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], n: 2 });
    assert.equal(n.status, 400);
    assert.match(await message(n), /"n" must be 1/);
    const schema = await post('/v1/chat/completions', { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string', pattern: '^a' } }, required: ['a'] } } } });
    assert.equal(schema.status, 400);
    assert.match(await message(schema), /properties\.a uses "pattern", which Ferry cannot enforce/);
    const v2 = await post('/v2/models/tiny/infer', { inputs: [{ name: 'prompt', datatype: 'BYTES', shape: [1], data: ['hi'] }] });
    assert.equal(v2.status, 400);
    assert.match(await v2.text(), /generative model \(gguf\); send it prompts through POST \/v1\/completions/);
    const notGen = await post('/v1/chat/completions', { model: 'nope', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(notGen.status, 404);
  });

  it('a client that goes away frees its sequence for the next request', async () => {
    // two sequences: hold both with streams, drop one, and a third request still runs
    const controllers = [new AbortController(), new AbortController()];
    const streams = await Promise.all(controllers.map((c) => fetch(`${s.url}/v1/completions`, {
      method: 'POST', signal: c.signal, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', prompt: 'a', max_tokens: 120, temperature: 0, stream: true }),
    })));
    for (const r of streams) await r.body!.getReader().read(); // each has started generating
    controllers.forEach((c) => c.abort());
    const next = await client.completions.create({ model: 'tiny', prompt: 'b', max_tokens: 3, temperature: 0 });
    assert.equal(next.usage!.completion_tokens, 3);
  });

  it('refuses malformed GGUF files before llama.cpp sees them, and registers nothing', async () => {
    const good = tinyLlamaGguf();
    const truncated = await pushModel(s.url, 'broken', good.subarray(0, good.length - 100));
    assert.equal(truncated.status, 400);
    assert.match(await truncated.text(), /truncated/);
    // a file llama.cpp would crash on: no feed_forward_length
    const noFfn = writeGguf([['general.architecture', { type: 'string', value: 'llama' }], ['llama.context_length', { type: 'uint32', value: 8 }], ['llama.embedding_length', { type: 'uint32', value: 8 }], ['llama.block_count', { type: 'uint32', value: 1 }], ['llama.attention.head_count', { type: 'uint32', value: 2 }]], []);
    const res = await pushModel(s.url, 'broken', noFfn);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /no \\"llama.feed_forward_length\\"/);
    assert.equal((await fetch(`${s.url}/api/models/broken`)).status, 404);
    assert.equal((await fetch(`${s.url}/v2/health/live`)).status, 200, 'the server is still up');
  });
});
