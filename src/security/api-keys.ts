// API keys: `fy_<id>_<secret>`. The id (12 hex digits) names the key in listings, logs and the audit
// log without revealing it; the secret is 32 bytes from the system CSPRNG, shown once, stored only as
// its SHA-256.
//
// Why SHA-256 and not a slow KDF (scrypt, argon2): a KDF makes guessing a low-entropy password from a
// stolen hash expensive. A 256-bit random secret cannot be guessed from its hash at any hash speed
// (2^256 tries), so slowness would buy nothing — while costing every request tens of milliseconds and
// handing an attacker a CPU-exhaustion lever. Verification compares digests with timingSafeEqual.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const KEY = /^fy_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface NewKey {
  readonly id: string;
  /** the whole key, shown to its owner once */
  readonly key: string;
  /** what is stored: hex SHA-256 of the secret */
  readonly hash: string;
}

export function generateKey(): NewKey {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, key: `fy_${id}_${secret}`, hash: hashSecret(secret) };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The id and secret of a well-formed key; undefined for anything else. */
export function parseKey(key: string): { id: string; secret: string } | undefined {
  const m = KEY.exec(key);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** Whether `secret` hashes to `storedHash`, in time that does not depend on where they differ. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** secretMatches against the stored hash already decoded (a cached key): no hex work per request. */
export function secretMatchesDigest(secret: string, digest: Buffer): boolean {
  const a = createHash('sha256').update(secret).digest();
  return a.length === digest.length && timingSafeEqual(a, digest);
}

/** Whether two secrets are equal, in time that does not depend on where they differ. Secrets of
 *  well-formed keys all have 43 characters, so the length says nothing. A loop and not
 *  timingSafeEqual: that needs two Buffers made from the strings, which cost more than the compare. */
export function sameSecret(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The key a request carries: `Authorization: Bearer <key>` (what the openai client sends) or
 *  `x-api-key: <key>`. undefined when there is none; '' when a header is there but empty or garbled. */
export function keyFromHeaders(headers: { authorization?: string; 'x-api-key'?: string | string[] }): string | undefined {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(auth);
    return m ? m[1]! : '';
  }
  const x = headers['x-api-key'];
  if (x === undefined) return undefined;
  return typeof x === 'string' ? x.trim() : '';
}
