// Sharing a model with another tenant: POST /api/models/{m}/shares {"tenant"} and
// DELETE /api/models/{m}/shares/{tenant}. Only whoever manages the model may (the preHandler in
// auth-hooks.ts checks that); the other tenant may then see and use it, not change it.
import type { FastifyInstance } from 'fastify';
import { FerryError } from '../../core/errors.js';
import type { Registry } from '../../registry/registry.js';
import { checkTenant } from '../../security/tenancy.js';

export function shareRoutes(app: FastifyInstance, registry: Registry): void {
  const admin = { config: { scope: 'admin' as const } };

  app.post<{ Params: { name: string }; Body: { tenant?: unknown } }>('/models/:name/shares', admin, async (request, reply) => {
    const { name } = request.params;
    await registry.model(name);
    const tenant = checkTenant(request.body?.tenant);
    await registry.meta.share(name, tenant);
    return reply.code(201).send({ model: name, tenant, sharedWith: (await registry.meta.getAccess(name))?.sharedWith ?? [] });
  });

  app.delete<{ Params: { name: string; tenant: string } }>('/models/:name/shares/:tenant', admin, async (request) => {
    const { name } = request.params;
    await registry.model(name);
    const tenant = checkTenant(request.params.tenant);
    if (!(await registry.meta.unshare(name, tenant))) throw new FerryError('NOT_FOUND', `model "${name}" is not shared with tenant "${tenant}"`);
    return { model: name, tenant, sharedWith: (await registry.meta.getAccess(name))?.sharedWith ?? [] };
  });
}
