// OpenAI-style endpoints under /v1: `POST /v1/embeddings` (OpenAI's shape, so its clients work
// unchanged), `POST /v1/classifications` for text classifiers in the same style (`model` and
// `input`, a string or a list of strings), and `GET /v1/models`.
// Requests go through the same registry, pool and batcher as V2 inference.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { FerryError } from '../../core/errors.js';
import { Cancellation } from '../../core/cancel.js';
import type { ServerDeps } from '../app.js';
import { generationRoutes } from './generation-routes.js';
import { imageRoutes } from './image-routes.js';
import { explainRoutes } from './explain-route.js';
import { visibleModels } from '../auth-hooks.js';
import { onHangUp } from '../hang-up.js';

interface ClassificationBody {
  model?: unknown;
  input?: unknown;
  /** Ferry's extension: cut texts longer than the model takes instead of refusing them */
  truncation?: unknown;
}

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** OpenAI's error envelope, which its clients parse. */
const ERROR_TYPES: Partial<Record<FerryError['code'], string>> = {
  NOT_FOUND: 'not_found_error', UNAUTHENTICATED: 'authentication_error', PERMISSION_DENIED: 'permission_error',
  RESOURCE_EXHAUSTED: 'rate_limit_error', UNAVAILABLE: 'server_error', INTERNAL: 'server_error', DEADLINE_EXCEEDED: 'server_error',
};
const envelope = (e: FerryError) => ({ error: { message: e.message, type: ERROR_TYPES[e.code] ?? 'invalid_request_error', param: null, code: e.code.toLowerCase() } });

/** "name" or "name:version" / "name:alias" */
function modelRef(model: unknown): string {
  if (typeof model !== 'string' || model === '') throw bad('"model" must name a model, e.g. "spam-transformer" or "spam-transformer:2"');
  return model;
}

function inputTexts(input: unknown): string[] {
  const texts = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string')) {
    throw bad('"input" must be a string or a non-empty list of strings');
  }
  return texts as string[];
}

export async function openaiRoutes(app: FastifyInstance, { deps }: { deps: ServerDeps }): Promise<void> {
  const { registry, pool, monitor } = deps;
  const { sendError } = await import('../app.js');
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err, envelope));

  // chat and completions share this plugin's error envelope
  if (deps.generation) await generationRoutes(app, { deps, generation: deps.generation });
  await imageRoutes(app, { deps });
  await explainRoutes(app, { deps });

  app.get('/models', { config: { scope: 'read' } }, async (request) => {
    const models = await visibleModels(registry.meta, request.principal, await registry.list());
    return { object: 'list', data: models.map((m) => ({ id: m.name, object: 'model', created: Math.floor(Date.parse(m.createdAt) / 1000), owned_by: 'ferry' })) };
  });

  /** Runs texts through a text model (V2's path: registry, pool, batcher, statistics). */
  const runTexts = async (body: ClassificationBody, want: string, reply: FastifyReply, dimensions?: unknown) => {
    const { model, input } = body;
    const texts = inputTexts(input);
    if (body.truncation !== undefined && typeof body.truncation !== 'boolean') throw bad('"truncation" must be true or false');
    const rec = await registry.resolveRef(modelRef(model));
    const name = rec.model;
    const width = rec.signature.outputs.find((o) => o.name === want)?.shape[1];
    if (dimensions !== undefined && dimensions !== width) {
      throw bad(`"dimensions" ${JSON.stringify(dimensions)} is not supported: model "${rec.model}" gives ${width}-dimensional embeddings; leave it out`);
    }
    const isText = rec.signature.inputs.length === 1 && rec.signature.inputs[0]!.dtype === 'BYTES' && rec.signature.outputs.some((o) => o.name === want);
    if (!isText) {
      throw bad(want === 'embedding'
        ? `model "${name}" does not produce embeddings; /v1/embeddings serves text models with a tokenizer and a last_hidden_state or embeddings output`
        : `model "${name}" is not a text classifier; /v1/classifications serves models pushed or trained with a tokenizer and labels`);
    }
    const abort = new Cancellation();
    onHangUp(reply, () => abort.cancel());
    const started = performance.now();
    const inputs = { text: { dtype: 'BYTES' as const, shape: [texts.length], data: texts.map((t) => utf8.encode(t)) } };
    try {
      const result = await pool.infer(rec, inputs, { cancellation: abort, parameters: body.truncation === undefined ? undefined : { truncation: body.truncation } });
      monitor.request(name, rec.version, true, performance.now() - started, result.rows, result.timings);
      const tokens = Array.from(result.outputs['tokens']!.data as BigInt64Array, Number);
      const usage = reply.request.usage;
      usage?.ranBatch(rec.model, rec.version, result);
      usage?.tokens(tokens.reduce((a, b) => a + b, 0), 0);
      return { rec, texts, outputs: result.outputs, promptTokens: tokens.reduce((a, b) => a + b, 0) };
    } catch (err) {
      monitor.request(name, rec.version, false, performance.now() - started, 0);
      throw err;
    }
  };

  app.post('/classifications', { config: { scope: 'infer' } }, async (request, reply) => {
    const body = (request.body ?? {}) as ClassificationBody;
    const { rec, texts, outputs, promptTokens } = await runTexts(body, 'scores', reply);
    const scores = outputs['scores']!;
    const labels = (outputs['label']!.data as Uint8Array[]).map((b) => utf8Decoder.decode(b));
    const width = scores.shape[1]!;
    const classes = (rec.metadata['classes'] as string[] | undefined) ?? Array.from({ length: width }, (_, i) => `LABEL_${i}`);
    const data = texts.map((_, i) => ({
      object: 'classification',
      index: i,
      label: labels[i],
      scores: Object.fromEntries(classes.map((c, j) => [c, (scores.data as Float32Array)[i * width + j]])),
    }));
    return { object: 'list', model: `${rec.model}:${rec.version}`, data, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
  });

  app.post('/embeddings', { config: { scope: 'infer' } }, async (request, reply) => {
    const body = (request.body ?? {}) as ClassificationBody & { encoding_format?: unknown; dimensions?: unknown };
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') throw bad('"encoding_format" must be "float" or "base64"');
    if (Array.isArray(body.input) && body.input.some((t) => typeof t !== 'string')) {
      throw bad('"input" must be a string or a list of strings; token-id arrays are not accepted, Ferry tokenizes with the model\'s own tokenizer');
    }
    const { rec, texts, outputs, promptTokens } = await runTexts(body, 'embedding', reply, body.dimensions);
    const emb = outputs['embedding']!;
    const d = emb.shape[1]!;
    const all = emb.data as Float32Array;
    const data = texts.map((_, i) => {
      const row = all.slice(i * d, i * d + d);
      return {
        object: 'embedding',
        index: i,
        // base64 of little-endian float32, as OpenAI's clients decode it
        embedding: format === 'base64' ? Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('base64') : Array.from(row),
      };
    });
    return { object: 'list', data, model: `${rec.model}:${rec.version}`, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
  });
}
