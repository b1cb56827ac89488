// The production Authorizer: API keys from the KeyStore, scopes, and back-off per source address.
// Every way a presented key can be wrong (malformed, unknown, wrong secret, revoked, expired) gets
// the same 401 and counts toward back-off: the answer must not tell an attacker which part was right.
import type { Clock } from '../core/clock.js';
import { FerryError } from '../core/errors.js';
import { keyFromHeaders, parseKey, secretMatches } from './api-keys.js';
import { type AccessRequest, type Authorizer, type Principal, type Scope } from './authorizer.js';
import { FailureBackoff, type BackoffOptions } from './backoff.js';
import type { KeyRecord, KeyStore } from './key-store.js';

export interface KeyAuthorizerOptions {
  readonly clock: Clock;
  /** wall time, for expiry */
  readonly now?: () => Date;
  /** loopback development mode: inference without a key (see isOpenRoute) */
  readonly open?: boolean;
  readonly backoff?: BackoffOptions;
}

const INVALID = 'invalid API key; send a current key as "Authorization: Bearer <key>" or "x-api-key: <key>"';
const MISSING = 'this route needs an API key; send it as "Authorization: Bearer <key>" or "x-api-key: <key>" (`ferry keys create` makes one)';

/** What open mode lets through without a key: inference, and the inference protocols' own model
 *  metadata (a V2 or OpenAI client reads it before it infers). Never the admin API or training. */
export const isOpenRoute = (scope: Scope, url: string): boolean =>
  scope === 'infer' || (scope === 'read' && (url.startsWith('/v2/') || url.startsWith('/v1/')));

export class KeyAuthorizer implements Authorizer {
  private readonly backoff: FailureBackoff;
  private readonly now: () => Date;

  constructor(private readonly keys: KeyStore, private readonly opts: KeyAuthorizerOptions) {
    this.backoff = new FailureBackoff(opts.clock, opts.backoff);
    this.now = opts.now ?? (() => new Date());
  }

  async check(req: AccessRequest): Promise<Principal | undefined> {
    if (req.scope === 'public') return undefined;
    const key = keyFromHeaders(req.headers as { authorization?: string; 'x-api-key'?: string | string[] });
    if (key === undefined) {
      if (this.opts.open && isOpenRoute(req.scope, req.url)) return undefined;
      throw new FerryError('UNAUTHENTICATED', MISSING);
    }
    const wait = this.backoff.retryAfterMs(req.ip);
    if (wait > 0) {
      throw new FerryError('RESOURCE_EXHAUSTED', 'too many invalid API keys from this address; wait and retry with a valid key', { retryAfterSeconds: Math.ceil(wait / 1000) });
    }
    const rec = await this.verify(key);
    if (!rec) {
      this.backoff.fail(req.ip);
      throw new FerryError('UNAUTHENTICATED', INVALID);
    }
    this.backoff.succeed(req.ip);
    return toPrincipal(rec);
  }

  private async verify(key: string): Promise<KeyRecord | undefined> {
    const parsed = parseKey(key);
    if (!parsed) return undefined;
    const rec = await this.keys.get(parsed.id);
    if (!rec || !secretMatches(parsed.secret, rec.hash)) return undefined;
    if (rec.revokedAt !== null) return undefined;
    if (rec.expiresAt !== null && Date.parse(rec.expiresAt) <= this.now().getTime()) return undefined;
    return rec;
  }
}

export const toPrincipal = (rec: KeyRecord): Principal => ({
  keyId: rec.id, tenant: rec.tenant, scopes: new Set(rec.scopes), models: rec.models === null ? null : new Set(rec.models),
});
