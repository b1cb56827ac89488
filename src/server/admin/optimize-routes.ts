// POST /api/models/:name/versions/:version/optimize: int8, fp16 or pruning as a service
// (src/optimize/optimize.ts). Admin scope, as pushing a version and moving an alias are: the route
// does both.
//
// Synchronous, not a job: the answer (201) is the registered version with its report. On the
// models Ferry trains a run takes seconds to a minute (bench/optimize.ts), and a caller wants the
// report at once to decide what to do; runs go one at a time off the event loop (a worker thread),
// and a client that hangs up cancels its run, which then registers nothing. Fine-tunes are bounded
// (prune.fineTune.epochs ≤ 20); work longer than a request should wait on belongs in a training job
// (POST /api/training-jobs with "from"), whose fine-tune does not hold pruned weights at zero.
//
//   curl -X POST localhost:8080/api/models/mnist-mlp/versions/1/optimize \
//     -H 'content-type: application/json' -d '{"int8": "dynamic", "deploy": "canary"}'
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { FerryError } from '../../core/errors.js';
import { OptimizeService } from '../../optimize/optimize.js';
import type { VersionRecord } from '../../registry/records.js';
import { DEFAULT_ALIAS } from '../../registry/registry.js';
import type { ServerDeps } from '../app.js';
import { versionView } from './routes.js';
import { hangUpSignal } from '../hang-up.js';

interface VersionParams { name: string; version: string }

export function optimizeRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { registry, pool, config } = deps;
  // Moving the alias loads the variant first, as PUT /aliases does, so requests that follow the
  // alias never wait on a cold load; the version it left is unloaded unless something still uses it.
  const deploy = async (v: VersionRecord, alias: string): Promise<void> => {
    const before = (await registry.model(v.model)).aliases[alias];
    await pool.acquire(v);
    await registry.setAlias(v.model, alias, v.version);
    if (before === undefined || before === v.version) return;
    const m = await registry.model(v.model);
    const stillUsed = Object.values(m.aliases).includes(before) || (m.aliases[DEFAULT_ALIAS] ?? m.latestVersion) === before;
    if (!stillUsed) await pool.unload(v.model, before, 'replaced');
  };
  const service = new OptimizeService(registry, {
    baseDir: path.resolve(config.data, 'datasets'), confinePaths: true,
    threads: config.intraOpThreads, trainingThreads: config.trainingThreads, deploy,
  });
  app.addHook('onClose', () => service.close());

  app.post<{ Params: VersionParams; Body: unknown }>('/models/:name/versions/:version/optimize', { config: { scope: 'admin' } }, async (request, reply) => {
    if (request.body === undefined || request.body === null || typeof request.body !== 'object') {
      throw new FerryError('INVALID_ARGUMENT', 'send what to do as a JSON object (content-type: application/json), e.g. {"int8": "dynamic"}, {"fp16": true} or {"prune": {"amount": 0.5, "fineTune": {"epochs": 1}}}');
    }
    const { name, version } = request.params;
    const out = await service.optimize(name, version, request.body, { signal: hangUpSignal(reply) });
    reply.code(201).header('location', `/api/models/${encodeURIComponent(name)}/versions/${out.version.version}`);
    return { ...out, version: versionView(out.version) };
  });
}
