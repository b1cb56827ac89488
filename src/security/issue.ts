// Making keys: checks what a request asks for, and that the caller may grant it.
import { FerryError } from '../core/errors.js';
import { checkModelName } from '../registry/names.js';
import { generateKey } from './api-keys.js';
import { isSuperuser, KEY_SCOPES, type KeyScope, type Principal } from './authorizer.js';
import type { KeyRecord, KeyStore } from './key-store.js';
import { parseLimits, type Limits } from './limits.js';
import { checkTenant } from './tenancy.js';

export interface KeyRequest {
  readonly tenant: string;
  readonly scopes: readonly KeyScope[];
  readonly models: readonly string[] | null;
  readonly expiresAt: string | null;
  readonly name: string | null;
  readonly limits: Limits;
}

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);
const UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30d", "12h", "90m", or an ISO-8601 time; the expiry as ISO-8601. */
export function parseExpiry(v: string, now: Date): string {
  const m = /^([0-9]{1,6})([mhd])$/.exec(v);
  if (m) {
    const ms = Number(m[1]) * UNITS[m[2]!]!;
    if (ms <= 0) throw bad('"expires" must be in the future');
    return new Date(now.getTime() + ms).toISOString();
  }
  const t = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw bad(`"expires" ${JSON.stringify(v.slice(0, 50))} is neither a duration (30d, 12h, 90m) nor an ISO-8601 time`);
  if (t <= now.getTime()) throw bad('"expires" must be in the future');
  return new Date(t).toISOString();
}

/** Reads POST /api/keys's body: {tenant, scopes, models?, expires?, name?, limits?: {rpm?, tpm?,
 *  concurrency?, budget?: {period, tokens?, computeSeconds?}}}. */
export function parseKeyRequest(body: unknown, now: Date): KeyRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('send {"tenant": "...", "scopes": ["infer", ...]} as JSON');
  const b = body as Record<string, unknown>;
  const tenant = checkTenant(b.tenant);
  const scopes = b.scopes;
  if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((s) => (KEY_SCOPES as readonly unknown[]).includes(s))) {
    throw bad(`"scopes" must be a non-empty list of ${KEY_SCOPES.join(', ')}`);
  }
  let models: string[] | null = null;
  if (b.models !== undefined && b.models !== null) {
    if (!Array.isArray(b.models) || b.models.length === 0 || !b.models.every((m) => typeof m === 'string')) throw bad('"models" must be a non-empty list of model names, or left out for all');
    models = [...new Set((b.models as string[]).map(checkModelName))];
  }
  if (b.expires !== undefined && b.expires !== null && typeof b.expires !== 'string') throw bad('"expires" must be a string: 30d, 12h, 90m or an ISO-8601 time');
  const expiresAt = typeof b.expires === 'string' ? parseExpiry(b.expires, now) : null;
  if (b.name !== undefined && b.name !== null && (typeof b.name !== 'string' || b.name.length > 200)) throw bad('"name" must be a string of at most 200 characters');
  const limits = parseLimits(b.limits, '"limits"');
  return { tenant, scopes: [...new Set(scopes as KeyScope[])], models, expiresAt, name: typeof b.name === 'string' ? b.name : null, limits };
}

/** A key can only hand out what it has: its own tenant, scopes and model limit (the admin tenant's
 *  admin keys: anything). Anonymous callers (auth turned off) may grant anything. */
export function checkGrant(by: Principal | undefined, req: KeyRequest): void {
  if (by === undefined || isSuperuser(by)) return;
  if (req.tenant !== by.tenant) throw new FerryError('PERMISSION_DENIED', `this key can create keys for its own tenant "${by.tenant}" only`);
  const extra = req.scopes.filter((s) => !by.scopes.has(s));
  if (extra.length > 0) throw new FerryError('PERMISSION_DENIED', `this key cannot grant scopes it does not have: ${extra.join(', ')}`);
  if (by.models !== null && (req.models === null || req.models.some((m) => !by.models!.has(m)))) {
    throw new FerryError('PERMISSION_DENIED', `this key is limited to models ${[...by.models].join(', ')}; a key it creates must be limited to some of them`);
  }
}

export async function createKey(store: KeyStore, req: KeyRequest, now: Date): Promise<{ record: KeyRecord; key: string }> {
  const k = generateKey();
  const record: KeyRecord = { id: k.id, tenant: req.tenant, scopes: req.scopes, models: req.models, hash: k.hash, createdAt: now.toISOString(), expiresAt: req.expiresAt, revokedAt: null, name: req.name, limits: req.limits };
  await store.create(record);
  return { record, key: k.key };
}
