// CORS, off unless `cors.origins` lists the origins a browser may call from ("*" for any). With it
// off, browsers keep other sites' pages from reading Ferry's answers; no header is sent at all.
import type { FastifyInstance } from 'fastify';

const ALLOW_HEADERS = 'authorization, x-api-key, content-type, x-request-id, inference-header-content-length';
const ALLOW_METHODS = 'GET, POST, PUT, DELETE, OPTIONS';

export function installCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const any = origins.includes('*');
  const allowed = new Set(origins);
  app.addHook('onRequest', (request, reply, done) => {
    const origin = request.headers.origin;
    if (origin !== undefined && (any || allowed.has(origin))) {
      reply.header('access-control-allow-origin', any ? '*' : origin);
      reply.header('vary', 'Origin');
      reply.header('access-control-expose-headers', 'x-request-id, retry-after, inference-header-content-length');
    }
    done();
  });
  // Preflights carry no key, so they are answered here; the real request is still checked.
  app.options('/*', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin === undefined || !(any || allowed.has(origin))) return reply.code(404).send();
    return reply.code(204)
      .header('access-control-allow-methods', ALLOW_METHODS)
      .header('access-control-allow-headers', ALLOW_HEADERS)
      .header('access-control-max-age', '600')
      .send();
  });
}
