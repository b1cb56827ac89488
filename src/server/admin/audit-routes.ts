// GET /api/audit?from=&to=&tenant=&action=&limit= (admin scope): the audit log, oldest first. A
// tenant's admin key reads its own tenant's rows; the admin tenant's reads everyone's.
import type { FastifyInstance } from 'fastify';
import { FerryError } from '../../core/errors.js';
import { isSuperuser } from '../../security/authorizer.js';
import { checkTenant } from '../../security/tenancy.js';
import type { SecurityDeps } from '../auth-hooks.js';

interface AuditQs { from?: string; to?: string; tenant?: string; action?: string; limit?: string }

function time(name: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new FerryError('INVALID_ARGUMENT', `"${name}" must be an ISO-8601 time, e.g. 2025-01-31 or 2025-01-31T12:00:00Z`);
  return new Date(t).toISOString();
}

export function auditRoutes(app: FastifyInstance, security: SecurityDeps): void {
  app.get<{ Querystring: AuditQs }>('/audit', { config: { scope: 'admin' } }, async (request) => {
    const q = request.query;
    const p = request.principal;
    const asked = q.tenant === undefined ? undefined : checkTenant(q.tenant);
    const limit = q.limit === undefined ? 1000 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new FerryError('INVALID_ARGUMENT', '"limit" must be an integer from 1 to 100000');
    if (q.action !== undefined && q.action.length > 200) throw new FerryError('INVALID_ARGUMENT', '"action" is too long');
    const tenant = p === undefined || isSuperuser(p) ? asked : p.tenant;
    const entries = await security.audit.query({ from: time('from', q.from), to: time('to', q.to), tenant, action: q.action, limit });
    return { entries };
  });
}
