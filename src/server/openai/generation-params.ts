// The sampling and limit fields shared by /v1/completions and /v1/chat/completions, checked once:
// every refusal names the field and what to send instead.
import { FerryError } from '../../core/errors.js';
import type { Sampling } from '../../tasks/generation.js';
import type { StreamInterval } from './generation-interval.js';

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);

export interface GenerationBody {
  model?: unknown;
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
  temperature?: unknown;
  top_p?: unknown;
  top_k?: unknown;
  seed?: unknown;
  stop?: unknown;
  n?: unknown;
  stream?: unknown;
  stream_options?: unknown;
  response_format?: unknown;
  /** Ferry's extension (vLLM's --stream-interval, per request): tokens per SSE event */
  stream_interval?: unknown;
  /** Ferry's extension: the longest a token's text waits for others to share its event */
  stream_interval_ms?: unknown;
}

export interface GenerationParams {
  readonly maxTokens?: number;
  readonly sampling: Sampling;
  readonly stop: readonly string[];
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** several tokens per SSE event; absent: one event per token */
  readonly interval?: StreamInterval;
  readonly json?: { readonly schema?: object };
}

function number(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw bad(`"${name}" must be a number from ${min} to ${max}; got ${JSON.stringify(v)?.slice(0, 40)}`);
  return v;
}

function integer(v: unknown, name: string, min: number, max: number): number | undefined {
  const n = number(v, name, min, max);
  if (n !== undefined && !Number.isInteger(n)) throw bad(`"${name}" must be an integer; got ${n}`);
  return n;
}

/** JSON Schema keywords node-llama-cpp's grammar builder enforces; anything else is refused by name. */
const SCHEMA_KEYWORDS = new Set(['type', 'properties', 'required', 'items', 'enum', 'const', 'oneOf', 'description', 'title', 'additionalProperties', 'minItems', 'maxItems', 'format', '$schema']);
const FORMATS = new Set(['date-time', 'time', 'date']);

/** Refuses, up front, a schema the grammar could not enforce: never a silently looser answer. */
export function checkSchema(s: unknown, at = 'schema'): void {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw bad(`response_format.json_schema.${at} must be an object`);
  const o = s as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!SCHEMA_KEYWORDS.has(k)) throw bad(`response_format.json_schema.${at} uses "${k}", which Ferry cannot enforce while generating; supported: ${[...SCHEMA_KEYWORDS].filter((x) => x !== '$schema').join(', ')}`);
  }
  if (o['format'] !== undefined && !FORMATS.has(o['format'] as string)) throw bad(`response_format.json_schema.${at}.format "${String(o['format'])}" is not supported; use date-time, time or date`);
  if (o['additionalProperties'] !== undefined && o['additionalProperties'] !== false) throw bad(`response_format.json_schema.${at}.additionalProperties must be false (or left out)`);
  if (o['properties'] !== undefined) {
    const props = o['properties'] as Record<string, unknown>;
    const required = new Set(Array.isArray(o['required']) ? (o['required'] as string[]) : []);
    for (const [name, sub] of Object.entries(props)) {
      // the grammar always emits every property: an optional one would be a promise it cannot keep
      if (!required.has(name)) throw bad(`response_format.json_schema.${at}.properties.${name} is optional; Ferry enforces schemas whose properties are all "required"`);
      checkSchema(sub, `${at}.properties.${name}`);
    }
  }
  if (o['items'] !== undefined) checkSchema(o['items'], `${at}.items`);
  if (Array.isArray(o['oneOf'])) (o['oneOf'] as unknown[]).forEach((sub, i) => checkSchema(sub, `${at}.oneOf[${i}]`));
}

function responseFormat(v: unknown): GenerationParams['json'] {
  if (v === undefined || v === null) return undefined;
  const rf = v as { type?: unknown; json_schema?: { schema?: unknown } };
  if (rf.type === 'text') return undefined;
  if (rf.type === 'json_object') return {};
  if (rf.type === 'json_schema') {
    const schema = rf.json_schema?.schema;
    checkSchema(schema);
    return { schema: schema as object };
  }
  throw bad('"response_format" must be {"type": "text"}, {"type": "json_object"} or {"type": "json_schema", "json_schema": {"name", "schema"}}');
}

export function generationParams(body: GenerationBody): GenerationParams {
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw bad(`"n" must be 1: Ferry returns one choice per request; send ${JSON.stringify(body.n)?.slice(0, 20)} requests (with different seeds) instead`);
  const maxTokens = integer(body.max_completion_tokens ?? body.max_tokens, body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens', 1, 1_000_000);
  const temperature = number(body.temperature, 'temperature', 0, 2) ?? 1;
  const topP = number(body.top_p, 'top_p', 0, 1);
  const topK = integer(body.top_k, 'top_k', 0, 1_000_000);
  const seed = integer(body.seed, 'seed', -(2 ** 53), 2 ** 53);
  const stop = body.stop === undefined || body.stop === null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (!Array.isArray(stop) || stop.length > 4 || !stop.every((s) => typeof s === 'string' && s.length > 0)) throw bad('"stop" must be a non-empty string or a list of up to 4 of them');
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw bad('"stream" must be true or false');
  const so = body.stream_options as { include_usage?: unknown } | undefined | null;
  if (so !== undefined && so !== null && (typeof so !== 'object' || (so.include_usage !== undefined && typeof so.include_usage !== 'boolean'))) throw bad('"stream_options" must be {"include_usage": true|false}');
  if (so && body.stream !== true) throw bad('"stream_options" is only allowed with "stream": true');
  const json = responseFormat(body.response_format);
  const intervalTokens = integer(body.stream_interval, 'stream_interval', 1, 1000);
  const intervalMs = number(body.stream_interval_ms, 'stream_interval_ms', 1, 60_000);
  if ((intervalTokens !== undefined || intervalMs !== undefined) && body.stream !== true) throw bad('"stream_interval" and "stream_interval_ms" are only allowed with "stream": true');
  // stream_interval 1 without a time bound is the default: an event per token
  const interval = intervalMs !== undefined || (intervalTokens ?? 1) > 1 ? { tokens: intervalTokens ?? Infinity, ...(intervalMs !== undefined ? { ms: intervalMs } : {}) } : undefined;
  return {
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    // seeds go to llama.cpp as unsigned 32-bit
    sampling: { temperature, ...(topP !== undefined ? { topP } : {}), ...(topK !== undefined ? { topK } : {}), ...(seed !== undefined ? { seed: ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32 } : {}) },
    stop: stop as string[],
    stream: body.stream === true,
    includeUsage: so?.include_usage === true,
    ...(interval ? { interval } : {}),
    ...(json ? { json } : {}),
  };
}
