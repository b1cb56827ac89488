// API keys under /api/keys (admin scope): create one (its secret is in this answer only), list them
// (never their hashes), revoke one. A tenant's admin key manages its own tenant's keys; another
// tenant's key is 404 to it, like a key that does not exist.
import type { FastifyInstance } from 'fastify';
import { FerryError } from '../../core/errors.js';
import { isSuperuser } from '../../security/authorizer.js';
import { checkGrant, createKey, parseKeyRequest } from '../../security/issue.js';
import { keyView } from '../../security/key-store.js';
import { checkTenant } from '../../security/tenancy.js';
import type { SecurityDeps } from '../auth-hooks.js';

const noSuchKey = (id: string) => new FerryError('NOT_FOUND', `API key "${id.slice(0, 100)}" does not exist; GET /api/keys lists the keys`);

export function keyRoutes(app: FastifyInstance, security: SecurityDeps): void {
  const admin = { config: { scope: 'admin' as const } };
  const { keys, now } = security;

  app.post('/keys', admin, async (request, reply) => {
    const req = parseKeyRequest(request.body, now());
    checkGrant(request.principal, req);
    const { record, key } = await createKey(keys, req, now());
    request.auditTarget = record.id;
    return reply.code(201).send({ ...keyView(record), key });
  });

  app.get<{ Querystring: { tenant?: string } }>('/keys', admin, async (request) => {
    const p = request.principal;
    const asked = request.query.tenant === undefined ? undefined : checkTenant(request.query.tenant);
    // A tenant's key sees its tenant's keys whatever it asks for.
    const tenant = p === undefined || isSuperuser(p) ? asked : p.tenant;
    return { keys: (await keys.list(tenant)).map(keyView) };
  });

  app.delete<{ Params: { id: string } }>('/keys/:id', admin, async (request) => {
    const { id } = request.params;
    const p = request.principal;
    const rec = await keys.get(id);
    if (!rec || (p !== undefined && !isSuperuser(p) && rec.tenant !== p.tenant)) throw noSuchKey(id);
    if (rec.revokedAt === null) await keys.revoke(id, now().toISOString());
    security.authorizer.forget?.(id);
    return keyView((await keys.get(id))!);
  });
}
