// KServe V2 / Open Inference Protocol over REST, with the binary_tensor_data, model_repository,
// statistics and schedule_policy extensions. Decode, delegate, encode: no model logic here.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Cancellation } from '../../core/cancel.js';
import { FerryError } from '../../core/errors.js';
import { DEFAULT_ALIAS } from '../../registry/registry.js';
import { parseVersionRef } from '../../registry/names.js';
import { checkInputs, checkOutputs } from '../../tasks/tensor.js';
import { sendError, type ServerDeps } from '../app.js';
import { visibleModels } from '../auth-hooks.js';
import { decodeInferRequest, parseHeaderLength } from './decode.js';
import { encodeInferResponse } from './encode.js';
import { explainRoutes } from './explain-route.js';
import { onHangUp } from '../hang-up.js';

interface ModelParams { name: string; version?: string }

const EXTENSIONS = ['binary_tensor_data', 'model_repository', 'statistics', 'schedule_policy'];
const HEADER_LENGTH = 'inference-header-content-length';

export async function kserveV2Routes(app: FastifyInstance, { deps }: { deps: ServerDeps }): Promise<void> {
  const { registry, pool, monitor } = deps;

  // Inference bodies are JSON or JSON + binary tensors, whatever content type the client sends:
  // take the raw bytes and let the V2 decoder decide.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err, (e) => ({ error: e.message })));

  app.get('/health/live', async () => ({ live: true }));
  app.get('/health/ready', async (_req, reply) => (deps.isReady() ? { ready: true } : reply.code(503).send({ ready: false })));
  app.get('/', async () => ({ name: 'ferry', version: deps.version, extensions: EXTENSIONS }));

  const metadata = async (request: FastifyRequest<{ Params: ModelParams }>) => {
    const { name, version } = request.params;
    const [m, rec] = await Promise.all([registry.model(name), registry.resolve(name, version)]);
    const tensors = (list: typeof rec.signature.inputs) => list.map((t) => ({ name: t.name, datatype: t.dtype, shape: t.shape }));
    return {
      name,
      versions: m.versions.map(String),
      platform: 'onnx_onnxv1',
      ...(version !== undefined ? { version: String(rec.version) } : {}),
      inputs: tensors(rec.signature.inputs),
      outputs: tensors(rec.signature.outputs),
    };
  };
  const readOpts = { config: { scope: 'read' as const } };
  app.get('/models/:name', readOpts, metadata);
  app.get('/models/:name/versions/:version', readOpts, metadata);

  // Lazy loading: asking whether a version is ready loads it, so the answer is the truth for the next request.
  const ready = async (request: FastifyRequest<{ Params: ModelParams }>) => {
    const rec = await registry.resolve(request.params.name, request.params.version);
    await pool.acquire(rec);
    return { name: rec.model, version: String(rec.version), ready: true };
  };
  app.get('/models/:name/ready', readOpts, ready);
  app.get('/models/:name/versions/:version/ready', readOpts, ready);

  const infer = async (request: FastifyRequest<{ Params: ModelParams }>, reply: FastifyReply) => {
    const { name, version } = request.params;
    const started = performance.now();
    const body = request.body as Buffer | undefined;
    if (!body || body.length === 0) throw new FerryError('INVALID_ARGUMENT', 'the request body is empty; send a V2 inference request {"inputs": [...]}');
    const req = decodeInferRequest(body, parseHeaderLength(request.headers[HEADER_LENGTH]));
    const rec = await registry.resolve(name, version);
    checkInputs(rec.signature, req.inputs);
    if (req.outputs) checkOutputs(rec.signature, req.outputs.map((o) => o.name));

    // A client that goes away drops its request if it has not started yet.
    const abort = new Cancellation();
    onHangUp(reply, () => abort.cancel());
    let result;
    try {
      result = await pool.infer(rec, req.inputs, { priority: req.priority, timeoutMs: req.timeoutMs, cancellation: abort, parameters: req.parameters });
    } catch (err) {
      monitor.request(name, rec.version, false, performance.now() - started, 0);
      throw err;
    }
    monitor.request(name, rec.version, true, performance.now() - started, result.rows, result.timings);
    request.usage?.ranBatch(rec.model, rec.version, result);
    const encoded = encodeInferResponse(name, rec.version, req.id, result.outputs, req.outputs, req.binaryAll);
    if (encoded.headerLength !== undefined) {
      reply.header(HEADER_LENGTH, String(encoded.headerLength)).type('application/octet-stream');
    } else {
      reply.type('application/json');
    }
    return reply.send(encoded.body);
  };
  const inferOpts = { config: { scope: 'infer' as const } };
  app.post('/models/:name/infer', inferOpts, infer);
  app.post('/models/:name/versions/:version/infer', inferOpts, infer);
  await explainRoutes(app, { deps });

  // statistics extension. Every registered version has statistics, zero until it serves, with the
  // same fields as a busy one so a client written for Triton never meets a missing key.
  const statsOf = (name: string, versions: readonly number[]) => versions.map((ver) => monitor.stats.of(name, ver));
  const stats = async (request: FastifyRequest<{ Params: Partial<ModelParams> }>) => {
    const { name, version } = request.params;
    if (name === undefined) return { model_stats: (await visibleModels(registry.meta, request.principal, await registry.list())).flatMap((m) => statsOf(m.name, m.versions)) };
    const m = await registry.model(name);
    const versions = version === undefined ? m.versions : [(await registry.resolve(name, version)).version];
    return { model_stats: statsOf(name, versions) };
  };
  app.get('/models/stats', { config: { scope: 'metrics' } }, stats);
  app.get('/models/:name/stats', { config: { scope: 'metrics' } }, stats);
  app.get('/models/:name/versions/:version/stats', { config: { scope: 'metrics' } }, stats);

  // model_repository extension
  app.post('/repository/index', { config: { scope: 'read' } }, async (request) => {
    const body = parseJsonBody(request.body);
    const onlyReady = body.ready === true;
    const rows = [];
    for (const m of await visibleModels(registry.meta, request.principal, await registry.list())) {
      const served = m.aliases[DEFAULT_ALIAS] ?? m.latestVersion;
      for (const v of m.versions) {
        const loaded = pool.isLoaded(m.name, v);
        if (onlyReady && !loaded) continue;
        rows.push({ name: m.name, version: String(v), state: loaded ? 'READY' : 'UNAVAILABLE', reason: loaded ? '' : v === served ? 'not loaded yet: loads on first request' : 'not loaded' });
      }
    }
    return rows;
  });
  app.post<{ Params: ModelParams }>('/repository/models/:name/load', { config: { scope: 'admin' } }, async (request, reply) => {
    const body = parseJsonBody(request.body);
    const params = body.parameters as Record<string, unknown> | undefined;
    const ref = typeof params?.version === 'string' || typeof params?.version === 'number' ? String(params.version) : undefined;
    if (ref !== undefined) parseVersionRef(ref);
    const rec = await registry.resolve(request.params.name, ref);
    await pool.acquire(rec);
    return reply.code(200).send({ name: rec.model, version: String(rec.version), state: 'READY' });
  });
  app.post<{ Params: ModelParams }>('/repository/models/:name/unload', { config: { scope: 'admin' } }, async (request) => {
    await registry.model(request.params.name);
    const n = await pool.unload(request.params.name, undefined, 'api');
    return { name: request.params.name, unloaded_versions: n };
  });
}

function parseJsonBody(body: unknown): Record<string, unknown> {
  if (!body || (body as Buffer).length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse((body as Buffer).toString('utf8'));
  } catch (err) {
    throw new FerryError('INVALID_ARGUMENT', `the request body is not valid JSON (${(err as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new FerryError('INVALID_ARGUMENT', 'the request body must be a JSON object');
  return v as Record<string, unknown>;
}
