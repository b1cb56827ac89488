// The production Authorizer: API keys from the KeyStore, scopes, and back-off per source address.
// Every way a presented key can be wrong (malformed, unknown, wrong secret, revoked, expired) gets
// the same 401 and counts toward back-off: the answer must not tell an attacker which part was right.
import type { Clock } from '../core/clock.js';
import { FerryError } from '../core/errors.js';
import { keyFromHeaders, parseKey, sameSecret, secretMatchesDigest } from './api-keys.js';
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
  /** how long a key read from the store is reused; revoking through the API forgets it at once */
  readonly cacheMs?: number;
}

interface Cached {
  readonly rec: KeyRecord;
  readonly digest: Buffer;
  readonly principal: Principal;
  readonly until: number;
  /** the secret that last hashed to `digest`: the same secret again is compared, not hashed */
  verified: string | undefined;
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
  // Key id -> record, for a few seconds: at thousands of requests a second the store lookup and the
  // Principal it builds were the largest part of authentication's cost. A secret that hashed to the
  // key's digest is kept with it, and the same secret again is compared in constant time instead of
  // hashed (SHA-256 was 2% of the server's CPU). The secret stays in memory only as long as the row
  // (cacheMs), and revoking forgets both at once.
  private readonly cache = new Map<string, Cached>();

  constructor(private readonly keys: KeyStore, private readonly opts: KeyAuthorizerOptions) {
    this.backoff = new FailureBackoff(opts.clock, opts.backoff);
    this.now = opts.now ?? (() => new Date());
  }

  check(req: AccessRequest): Promise<Principal | undefined> {
    try {
      if (req.scope === 'public') return Promise.resolve(undefined);
      const key = keyFromHeaders(req.headers as { authorization?: string; 'x-api-key'?: string | string[] });
      if (key === undefined) {
        if (this.opts.open && isOpenRoute(req.scope, req.url)) return Promise.resolve(undefined);
        throw new FerryError('UNAUTHENTICATED', MISSING);
      }
      const wait = this.backoff.retryAfterMs(req.ip);
      if (wait > 0) {
        throw new FerryError('RESOURCE_EXHAUSTED', 'too many invalid API keys from this address; wait and retry with a valid key', { retryAfterSeconds: Math.ceil(wait / 1000) });
      }
      const parsed = parseKey(key);
      if (!parsed) return Promise.resolve(this.decide(req.ip, undefined));
      const c = this.cache.get(parsed.id);
      // a cached key is decided without a promise hop: this is every request after a key's first
      if (c && c.until > this.opts.clock.now()) return Promise.resolve(this.decide(req.ip, this.verify(c, parsed.secret)));
      return this.load(parsed.id).then((loaded) => this.decide(req.ip, loaded && this.verify(loaded, parsed.secret)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private decide(ip: string, p: Principal | undefined): Principal {
    if (!p) {
      this.backoff.fail(ip);
      throw new FerryError('UNAUTHENTICATED', INVALID);
    }
    this.backoff.succeed(ip);
    return p;
  }

  forget(keyId: string): void {
    this.cache.delete(keyId);
  }

  private async load(id: string): Promise<Cached | undefined> {
    const rec = await this.keys.get(id);
    if (!rec) return undefined;
    const c: Cached = { rec, digest: Buffer.from(rec.hash, 'hex'), principal: toPrincipal(rec), until: this.opts.clock.now() + (this.opts.cacheMs ?? 5000), verified: undefined };
    // only known ids are cached, so a spray of made-up ids cannot grow the map
    this.cache.set(id, c);
    return c;
  }

  private verify(c: Cached, secret: string): Principal | undefined {
    const { rec } = c;
    if (c.verified === undefined || !sameSecret(secret, c.verified)) {
      if (!secretMatchesDigest(secret, c.digest)) return undefined;
      c.verified = secret;
    }
    if (rec.revokedAt !== null) return undefined;
    if (rec.expiresAt !== null && Date.parse(rec.expiresAt) <= this.now().getTime()) return undefined;
    return c.principal;
  }
}

export const toPrincipal = (rec: KeyRecord): Principal => ({
  keyId: rec.id, tenant: rec.tenant, scopes: new Set(rec.scopes), models: rec.models === null ? null : new Set(rec.models), limits: rec.limits,
});
