// POST /v1/completions and /v1/chat/completions on generative (GGUF) models, in OpenAI's shapes, so
// its clients work unchanged. Ferry tokenizes the prompt itself, so usage counts are exact and a
// prompt that does not fit the context is refused with both lengths — never truncated silently.
// Streams are server-sent events ending in `data: [DONE]`; a client that goes away stops generation.
import { randomUUID } from 'node:crypto';
import { Template } from '@huggingface/jinja';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { systemClock, type TimerHandle } from '../../core/clock.js';
import { FerryError } from '../../core/errors.js';
import type { GenerationTracker } from '../../monitor/metrics.js';
import type { VersionRecord } from '../../registry/records.js';
import type { GenerationPool } from '../../scheduler/generation-pool.js';
import type { Meter } from '../../security/meter.js';
import type { GeneratedToken, GenerativeModel } from '../../tasks/generation.js';
import { TextStream } from '../../tasks/text-stream.js';
import type { ServerDeps } from '../app.js';
import { IntervalSender } from './generation-interval.js';
import { generationParams, type GenerationBody, type GenerationParams } from './generation-params.js';

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);

/** Marks where a chunk's text goes in chunkTemplate. */
const TEXT_SLOT = '\u0000ferry-text\u0000';
/** A chunk serialized once around its text: `data: {…"content":` and `…}\n\n`, so each token costs
 *  one JSON.stringify of its text instead of the whole object (the streaming hot path). */
function chunkTemplate(chunk: object): [string, string] {
  const json = JSON.stringify(chunk);
  const slot = JSON.stringify(TEXT_SLOT);
  const at = json.indexOf(slot);
  return [`data: ${json.slice(0, at)}`, `${json.slice(at + slot.length)}\n\n`];
}
/** a comment line every few seconds keeps proxies from closing a stream while a long prompt is read */
const KEEP_ALIVE_MS = 5_000;

interface ChatMessage { role: string; content: string }

function chatMessages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw bad('"messages" must be a non-empty list of {"role", "content"}');
  return v.map((m, i) => {
    const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || !['system', 'user', 'assistant', 'developer'].includes(role)) throw bad(`messages[${i}].role must be system, user, assistant or developer`);
    if (typeof content === 'string') return { role, content };
    // content parts: text only (this server's models read text)
    if (Array.isArray(content) && content.every((p) => p && typeof p === 'object' && (p as { type?: unknown }).type === 'text' && typeof (p as { text?: unknown }).text === 'string')) {
      return { role, content: content.map((p) => (p as { text: string }).text).join('') };
    }
    throw bad(`messages[${i}].content must be a string or a list of {"type": "text", "text"} parts`);
  });
}

/** Parsed chat templates, per loaded model: parsing one costs more than rendering it. */
const templates = new WeakMap<GenerativeModel, Template>();
function templateOf(m: GenerativeModel): Template {
  let t = templates.get(m);
  if (!t) templates.set(m, (t = new Template(m.chatTemplate!)));
  return t;
}

export async function generationRoutes(app: FastifyInstance, { deps, generation }: { deps: ServerDeps; generation: GenerationPool }): Promise<void> {
  const { registry } = deps;
  const clock = deps.clock ?? systemClock;
  const metrics = deps.monitor.metrics;
  // the running/waiting gauges read the models' own queues when /metrics is scraped
  metrics.watchGeneration(() => generation.loads());

  const modelOf = async (model: unknown): Promise<[VersionRecord, GenerativeModel]> => {
    if (typeof model !== 'string' || model === '') throw bad('"model" must name a model, e.g. "tiny-gpt" or "tiny-gpt:2"');
    const rec = await registry.resolveRef(model);
    return [rec, await generation.acquire(rec)];
  };

  /** Fits prompt and output into the context, or says why not. */
  const limits = (m: GenerativeModel, prompt: readonly number[], p: GenerationParams): number => {
    const room = m.contextLength - prompt.length;
    if (room <= 0) throw bad(`the prompt is ${prompt.length} tokens but the model's context holds ${m.contextLength}; send a shorter prompt`);
    if (p.maxTokens !== undefined && p.maxTokens > room) {
      throw bad(`the prompt (${prompt.length} tokens) plus max_tokens (${p.maxTokens}) is more than the model's context of ${m.contextLength} tokens; ask for at most ${room}`);
    }
    return p.maxTokens ?? room;
  };

  interface Run { text: string; finish: 'stop' | 'length'; completionTokens: number; tokens: GeneratedToken[] }

  /** Generates, handing each new piece of text to `onText`; resolves when done or the client left.
   *  `track` sees every token and how the request ended (a client that left: abort); `usage` (a
   *  request with a key) its tokens and time, the wait for a sequence included. */
  const generate = async (m: GenerativeModel, prompt: number[], p: GenerationParams, maxTokens: number, signal: AbortSignal, logprobs: number | undefined, track: GenerationTracker, onText: (t: string, tok?: GeneratedToken) => void, usage?: { meter: Meter; rec: VersionRecord }): Promise<Run> => {
    const stream = new TextStream(m, p.stop);
    const tokens: GeneratedToken[] = [];
    let count = 0;
    const t0 = performance.now();
    usage?.meter.tokens(prompt.length, 0);
    try {
      await m.generate({ prompt, maxTokens, sampling: p.sampling, ...(p.json ? { json: p.json } : {}), ...(logprobs !== undefined ? { logprobs } : {}), signal }, (tok) => {
        track.token();
        count++;
        usage?.meter.tokens(prompt.length, count);
        if (logprobs !== undefined) tokens.push(tok);
        const piece = stream.push(tok.id);
        if (piece) onText(piece, tok);
        return !stream.stopped;
      });
      const rest = stream.flush();
      if (rest) onText(rest);
    } catch (err) {
      track.finish(signal.aborted ? 'abort' : 'error');
      throw err;
    } finally {
      usage?.meter.ran(usage.rec.model, usage.rec.version, 0, performance.now() - t0);
    }
    const finish = stream.stopped || count < maxTokens ? 'stop' : 'length';
    // generation ends quietly when the client goes away; the metrics tell it apart
    track.finish(signal.aborted ? 'abort' : finish);
    return { text: stream.text, finish, completionTokens: count, tokens };
  };

  const event = (obj: unknown) => `data: ${JSON.stringify(obj)}\n\n`;

  /** Starts an SSE response, `first` (an event) with the headers; returns a writer and functions that end it. */
  const sse = (reply: FastifyReply, first?: unknown) => {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // the client hears at once that its stream started, even while it waits for a sequence; the
    // headers and the first event go out in one write
    if (first === undefined) raw.flushHeaders();
    else raw.write(event(first));
    // a comment line while nothing else is sent (a long prompt, a wait for a sequence), on the
    // injected clock so tests can move time
    let timer: TimerHandle | undefined;
    const beat = () => {
      raw.write(': keep-alive\n\n');
      timer = clock.setTimeout(beat, KEEP_ALIVE_MS);
    };
    const stop = () => {
      if (timer) clock.clearTimeout(timer);
      timer = undefined;
    };
    timer = clock.setTimeout(beat, KEEP_ALIVE_MS);
    raw.once('close', stop);
    return {
      send: (obj: unknown) => raw.write(event(obj)),
      /** a chunk already serialized, `data: …\n\n` included */
      write: (serialized: string) => raw.write(serialized),
      /** the last events and [DONE], in one write */
      end: (...last: unknown[]) => {
        stop();
        raw.end(`${last.map(event).join('')}data: [DONE]\n\n`);
      },
      fail: (err: FerryError) => {
        stop();
        raw.end(`${event({ error: { message: err.message, type: 'server_error', code: err.code.toLowerCase() } })}data: [DONE]\n\n`);
      },
    };
  };

  const abortOnClose = (reply: FastifyReply): AbortController => {
    const abort = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
    return abort;
  };

  const logprobsOf = (m: GenerativeModel, tok: GeneratedToken | undefined) => tok?.logprob === undefined ? null : {
    content: [{
      token: m.detokenize([tok.id]), logprob: tok.logprob, bytes: null,
      top_logprobs: (tok.top ?? []).map((t) => ({ token: m.detokenize([t.id]), logprob: t.logprob, bytes: null })),
    }],
  };

  /** What both endpoints do once the prompt is tokenized: fit it into the context, admit its tokens
   *  (prompt + the most it may generate, before it waits for a sequence), and set up the answer's
   *  id, metrics and cancellation. `run` generates, handing each new piece of text to `onText`. */
  const begin = (request: FastifyRequest, reply: FastifyReply, rec: VersionRecord, m: GenerativeModel, prompt: number[], p: GenerationParams, logprobs: number | undefined, idPrefix: string, started: number) => {
    const maxTokens = limits(m, prompt, p);
    request.usage?.reserveTokens(prompt.length + maxTokens);
    const usageOf = request.usage && { meter: request.usage, rec };
    const abort = abortOnClose(reply);
    const track = metrics.generation(rec.model, rec.version, prompt.length, started);
    return {
      id: `${idPrefix}-${randomUUID()}`,
      created: Math.floor(Date.now() / 1000),
      modelName: `${rec.model}:${rec.version}`,
      usage: (n: number) => ({ prompt_tokens: prompt.length, completion_tokens: n, total_tokens: prompt.length + n }),
      run: (onText: (t: string, tok?: GeneratedToken) => void) => generate(m, prompt, p, maxTokens, abort.signal, logprobs, track, onText, usageOf),
    };
  };

  app.post('/chat/completions', { config: { scope: 'infer' } }, async (request, reply) => {
    const started = performance.now();
    const body = (request.body ?? {}) as GenerationBody & { messages?: unknown; logprobs?: unknown; top_logprobs?: unknown };
    const messages = chatMessages(body.messages);
    const p = generationParams(body);
    if (body.logprobs !== undefined && body.logprobs !== null && typeof body.logprobs !== 'boolean') throw bad('"logprobs" must be true or false');
    const top = body.top_logprobs ?? 0;
    if (typeof top !== 'number' || !Number.isInteger(top) || top < 0 || top > 20) throw bad('"top_logprobs" must be an integer from 0 to 20');
    if (top > 0 && body.logprobs !== true) throw bad('"top_logprobs" needs "logprobs": true');
    const logprobs = body.logprobs === true ? top : undefined;
    if (p.interval && logprobs !== undefined) throw bad('"stream_interval" cannot be combined with "logprobs": each event carries one token\'s logprobs');
    const [rec, m] = await modelOf(body.model);
    if (!m.chatTemplate) throw bad(`model "${rec.model}" has no chat template in its file; use POST /v1/completions with a prompt`);
    let rendered: string;
    try {
      rendered = templateOf(m).render({ messages, add_generation_prompt: true, bos_token: m.bosToken ?? '', eos_token: m.eosToken ?? '' });
    } catch (err) {
      throw bad(`the model's chat template could not render these messages: ${(err as Error).message}`);
    }
    const prompt = m.tokenize(rendered, { special: true, bos: true });
    const { id, created, modelName, usage, run: generateText } = begin(request, reply, rec, m, prompt, p, logprobs, 'chatcmpl', started);
    if (!p.stream) {
      const run = await generateText(() => {});
      return {
        id, object: 'chat.completion', created, model: modelName,
        choices: [{
          index: 0, message: { role: 'assistant', content: run.text, refusal: null }, finish_reason: run.finish,
          logprobs: logprobs === undefined ? null : { content: run.tokens.flatMap((t) => logprobsOf(m, t)?.content ?? []) },
        }],
        usage: usage(run.completionTokens),
      };
    }
    const chunk = (delta: object, finish: string | null, tok?: GeneratedToken) =>
      ({ id, object: 'chat.completion.chunk', created, model: modelName, choices: [{ index: 0, delta, finish_reason: finish, logprobs: logprobs === undefined ? null : logprobsOf(m, tok) }] });
    const out = sse(reply, chunk({ role: 'assistant', content: '' }, null));
    // the per-token chunk without logprobs, with only its text serialized each time
    const [head, tail] = chunkTemplate({ id, object: 'chat.completion.chunk', created, model: modelName, choices: [{ index: 0, delta: { content: TEXT_SLOT }, finish_reason: null, logprobs: null }] });
    const writeText = (text: string) => out.write(head + JSON.stringify(text) + tail);
    const interval = p.interval && new IntervalSender(p.interval, clock, writeText);
    const onText = interval ? (text: string) => interval.push(text)
      : logprobs === undefined ? writeText
      : (text: string, tok?: GeneratedToken) => out.send(chunk({ content: text }, null, tok));
    try {
      const run = await generateText(onText);
      interval?.flush();
      const last: object[] = [chunk({}, run.finish)];
      if (p.includeUsage) last.push({ id, object: 'chat.completion.chunk', created, model: modelName, choices: [], usage: usage(run.completionTokens) });
      out.end(...last);
    } catch (err) {
      interval?.stop();
      out.fail(err instanceof FerryError ? err : new FerryError('INTERNAL', 'generation failed'));
    }
    return reply;
  });

  app.post('/completions', { config: { scope: 'infer' } }, async (request, reply) => {
    const started = performance.now();
    const body = (request.body ?? {}) as GenerationBody & { prompt?: unknown; logprobs?: unknown; echo?: unknown; suffix?: unknown; best_of?: unknown };
    const text = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
    if (typeof text !== 'string') throw bad('"prompt" must be a string (or a list of exactly one string)');
    if (body.echo === true) throw bad('"echo" is not supported; the prompt is yours already');
    if (body.suffix !== undefined && body.suffix !== null) throw bad('"suffix" is not supported: the models served here do not fill in the middle');
    if (body.best_of !== undefined && body.best_of !== null && body.best_of !== 1) throw bad('"best_of" must be 1');
    const p = generationParams(body);
    const lp = body.logprobs;
    if (lp !== undefined && lp !== null && !(typeof lp === 'number' && Number.isInteger(lp) && lp >= 0 && lp <= 5)) throw bad('"logprobs" must be an integer from 0 to 5');
    const logprobs = typeof lp === 'number' ? lp : undefined;
    if (p.interval && logprobs !== undefined) throw bad('"stream_interval" cannot be combined with "logprobs": each event carries one token\'s logprobs');
    const [rec, m] = await modelOf(body.model);
    const prompt = m.tokenize(text, { bos: true });
    const { id, created, modelName, usage, run: generateText } = begin(request, reply, rec, m, prompt, p, logprobs, 'cmpl', started);
    const legacyLogprobs = (toks: (GeneratedToken | undefined)[]) => logprobs === undefined ? null : {
      tokens: toks.map((t) => (t ? m.detokenize([t.id]) : '')),
      token_logprobs: toks.map((t) => t?.logprob ?? null),
      top_logprobs: toks.map((t) => Object.fromEntries((t?.top ?? []).map((x) => [m.detokenize([x.id]), x.logprob]))),
      text_offset: [],
    };
    if (!p.stream) {
      const run = await generateText(() => {});
      return {
        id, object: 'text_completion', created, model: modelName,
        choices: [{ index: 0, text: run.text, finish_reason: run.finish, logprobs: legacyLogprobs(run.tokens) }],
        usage: usage(run.completionTokens),
      };
    }
    const out = sse(reply);
    const chunk = (t: string, finish: string | null, tok?: GeneratedToken) =>
      ({ id, object: 'text_completion', created, model: modelName, choices: [{ index: 0, text: t, finish_reason: finish, logprobs: tok ? legacyLogprobs([tok]) : null }] });
    const [head, tail] = chunkTemplate({ id, object: 'text_completion', created, model: modelName, choices: [{ index: 0, text: TEXT_SLOT, finish_reason: null, logprobs: null }] });
    const writeText = (t: string) => out.write(head + JSON.stringify(t) + tail);
    const interval = p.interval && new IntervalSender(p.interval, clock, writeText);
    const onText = interval ? (t: string) => interval.push(t) : logprobs === undefined ? writeText : (t: string, tok?: GeneratedToken) => out.send(chunk(t, null, tok));
    try {
      const run = await generateText(onText);
      interval?.flush();
      const last: object[] = [chunk('', run.finish)];
      if (p.includeUsage) last.push({ id, object: 'text_completion', created, model: modelName, choices: [], usage: usage(run.completionTokens) });
      out.end(...last);
    } catch (err) {
      interval?.stop();
      out.fail(err instanceof FerryError ? err : new FerryError('INTERNAL', 'generation failed'));
    }
    return reply;
  });
}
