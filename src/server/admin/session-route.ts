// GET /api/session: who the caller's key belongs to, so a client (the dashboard) can log in with a
// key and show only what that key may do. Any valid key may ask, whatever its scopes; never the secret.
import type { FastifyInstance } from 'fastify';

export function sessionRoute(app: FastifyInstance): void {
  app.get('/session', { config: { scope: 'key' } }, async (request) => {
    const p = request.principal;
    // anonymous: a server without keys (tests, embedding) — everything is allowed
    if (p === undefined) return { anonymous: true };
    return { anonymous: false, keyId: p.keyId, tenant: p.tenant, scopes: [...p.scopes].sort(), models: p.models === null ? null : [...p.models].sort() };
  });
}
