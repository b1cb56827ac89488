// The seam for API keys, scopes and tenants. Every route declares the scope it needs in its route
// config; the server asks the Authorizer who is calling before the body is read, then checks the
// model a request names (URL or JSON body) once the body is parsed (src/server/auth-hooks.ts).
import type { IncomingHttpHeaders } from 'node:http';
import { FerryError } from '../core/errors.js';
import type { Limits } from './limits.js';

/** 'key': any valid key whatever its scopes (GET /api/session: a metrics-only key may still log in
 *  to the dashboard to see its metrics). */
export type Scope = 'public' | 'key' | 'infer' | 'read' | 'train' | 'admin' | 'metrics';

/** The scopes a key can hold ('public' routes need none). */
export const KEY_SCOPES = ['infer', 'read', 'train', 'admin', 'metrics'] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];

/** Which held scopes let a key through a route's scope. Seeing models (`read`) comes with every
 *  scope: an inference client lists models before it calls one (the openai client's models.list),
 *  and a trainer or manager must see what it works on. Everything else is granted by itself only. */
const GRANTED_BY: Readonly<Record<Exclude<Scope, 'public'>, readonly KeyScope[]>> = {
  key: KEY_SCOPES,
  read: ['read', 'infer', 'train', 'admin'],
  infer: ['infer'],
  train: ['train'],
  admin: ['admin'],
  metrics: ['metrics'],
};

export function grants(held: ReadonlySet<KeyScope>, need: Scope): boolean {
  return need === 'public' || GRANTED_BY[need].some((s) => held.has(s));
}

export function checkScope(p: Principal, need: Scope): void {
  if (!grants(p.scopes, need)) {
    throw new FerryError('PERMISSION_DENIED', `this API key does not have the "${need}" scope this route needs; its scopes: ${[...p.scopes].join(', ')}`);
  }
}

/** The tenant whose admin keys see and manage everything. */
export const ADMIN_TENANT = 'admin';

/** Who is calling, as an API key says. */
export interface Principal {
  readonly keyId: string;
  readonly tenant: string;
  readonly scopes: ReadonlySet<KeyScope>;
  /** the only models this key may touch; null: every model its tenant may */
  readonly models: ReadonlySet<string> | null;
  /** the key's own rate limits and budget (admission.ts); absent: none */
  readonly limits?: Limits;
}

/** An admin-scope key of the admin tenant: sees and manages every tenant's models, jobs and keys. */
export const isSuperuser = (p: Principal): boolean => p.tenant === ADMIN_TENANT && p.scopes.has('admin');

export interface AccessRequest {
  readonly headers: IncomingHttpHeaders;
  readonly ip: string;
  readonly scope: Scope;
  /** the request path; open mode tells the inference protocols' metadata from the admin API by it */
  readonly url: string;
}

export interface Authorizer {
  /** The caller, or undefined for an anonymous one the rules let through (a public route, open
   *  mode, auth turned off). Rejects with a FerryError: UNAUTHENTICATED (401), or
   *  RESOURCE_EXHAUSTED (429) while a source address is backing off. Whether the caller's scopes
   *  cover the route (else 403) is checked after, with checkScope, so a refusal names the caller. */
  check(req: AccessRequest): Promise<Principal | undefined>;
  /** drops anything remembered about a key (it was revoked) */
  forget?(keyId: string): void;
}

/** No keys: everyone is anonymous and may do everything. For tests and embedding only; `ferry serve`
 *  always uses the KeyAuthorizer. */
export class OpenAuthorizer implements Authorizer {
  check(): Promise<Principal | undefined> {
    return Promise.resolve(undefined);
  }
}
