// Operational endpoints outside the protocols: Prometheus metrics and Kubernetes-style probes.
import type { FastifyInstance } from 'fastify';
import type { ServerDeps } from './app.js';

export async function opsRoutes(app: FastifyInstance, { deps }: { deps: ServerDeps }): Promise<void> {
  app.get('/metrics', { config: { scope: 'metrics' } }, async (_request, reply) => {
    deps.pool.refreshGauges();
    return reply.type(deps.monitor.metrics.contentType).send(await deps.monitor.metrics.text());
  });
  app.get('/healthz', async () => ({ live: true }));
  app.get('/readyz', async (_req, reply) => (deps.isReady() ? { ready: true } : reply.code(503).send({ ready: false })));
}
