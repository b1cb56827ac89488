// Who may see and manage what. A model belongs to the tenant whose key created it; a model without
// an owner (built-ins, models registered on the machine itself, data folders from before tenants)
// is public: every tenant may see and use it, only the admin tenant manages it. A model may be shared
// with other tenants, who may then see and use it but not change it. Anything a caller may not see
// answers exactly like a model that does not exist (404), never 403: a 403 would confirm the name.
import { FerryError } from '../core/errors.js';
import { isSuperuser, type Principal } from './authorizer.js';

export interface ModelAccessInfo {
  readonly owner: string | null;
  readonly sharedWith: readonly string[];
}

const TENANT = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export function checkTenant(tenant: unknown): string {
  if (typeof tenant !== 'string' || !TENANT.test(tenant)) {
    throw new FerryError('INVALID_ARGUMENT', `tenant ${JSON.stringify(String(tenant).slice(0, 100))} is not allowed: use 1 to 64 lowercase letters, digits, '_' or '-', starting with a letter or digit`);
  }
  return tenant;
}

/** undefined principal: anonymous, let through by the authorizer (auth off, or open-mode inference). */
export function canSee(p: Principal | undefined, model: string, info: ModelAccessInfo): boolean {
  if (p === undefined) return true;
  if (p.models !== null && !p.models.has(model)) return false;
  if (isSuperuser(p)) return true;
  return info.owner === null || info.owner === p.tenant || info.sharedWith.includes(p.tenant);
}

export function canManage(p: Principal | undefined, model: string, info: ModelAccessInfo): boolean {
  if (p === undefined) return true;
  if (p.models !== null && !p.models.has(model)) return false;
  return isSuperuser(p) || (info.owner !== null && info.owner === p.tenant);
}

/** Whether a key may create a model of this name (one that does not exist yet). */
export const canCreate = (p: Principal | undefined, model: string): boolean => p === undefined || p.models === null || p.models.has(model);

/** The tenant new things a caller creates belong to: none for anonymous callers (public). */
export const ownerFor = (p: Principal | undefined): string | null => p?.tenant ?? null;

/** Training jobs belong to their creator's tenant; jobs with no owner (created without a key, or
 *  before tenants) only the admin tenant sees. */
export interface JobOwners {
  setJobOwner(jobId: string, tenant: string | null): Promise<void>;
  /** undefined: no record */
  jobOwner(jobId: string): Promise<string | null | undefined>;
}

export function canSeeJob(p: Principal | undefined, owner: string | null | undefined): boolean {
  if (p === undefined || isSuperuser(p)) return true;
  return owner !== null && owner !== undefined && owner === p.tenant;
}
