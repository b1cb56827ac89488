// GET /api/usage?tenant=&from=&to=&group_by=model|key|day|tenant (admin scope): requests, errors,
// tokens, queue and compute time from the usage ledger's daily roll-ups (so days whose rows
// retention deleted still count). from and to are UTC days, both included. A tenant's admin key
// sees its own tenant's usage whatever it asks for; the admin tenant's sees everyone's.
import type { FastifyInstance } from 'fastify';
import { FerryError } from '../../core/errors.js';
import { isSuperuser } from '../../security/authorizer.js';
import { checkTenant } from '../../security/tenancy.js';
import type { UsageGroupBy } from '../../security/usage.js';
import type { SecurityDeps } from '../auth-hooks.js';

interface UsageQs { tenant?: string; from?: string; to?: string; group_by?: string }

const GROUPS: readonly UsageGroupBy[] = ['model', 'key', 'day', 'tenant'];

function day(name: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new FerryError('INVALID_ARGUMENT', `"${name}" must be a day (2025-01-31) or an ISO-8601 time`);
  return new Date(t).toISOString().slice(0, 10);
}

export function usageRoutes(app: FastifyInstance, security: SecurityDeps): void {
  app.get<{ Querystring: UsageQs }>('/usage', { config: { scope: 'admin' } }, async (request) => {
    const q = request.query;
    const groupBy = (q.group_by ?? 'day') as UsageGroupBy;
    if (!GROUPS.includes(groupBy)) throw new FerryError('INVALID_ARGUMENT', `"group_by" must be one of ${GROUPS.join(', ')}`);
    const p = request.principal;
    const asked = q.tenant === undefined ? undefined : checkTenant(q.tenant);
    const tenant = p === undefined || isSuperuser(p) ? asked : p.tenant;
    const from = day('from', q.from), to = day('to', q.to);
    // rows still buffered belong in the answer
    security.usage.flush();
    const groups = await security.usage.ledger.summary({ groupBy, ...(tenant !== undefined ? { tenant } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}) });
    return { group_by: groupBy, tenant: tenant ?? null, from: from ?? null, to: to ?? null, usage: groups };
  });
}
