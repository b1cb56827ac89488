// Where API keys live: the SQLite file by default (sqlite/security-db.ts). Keys are never stored,
// only their hashes; revoking keeps the row so the audit log's key ids stay explainable.
import type { KeyScope } from './authorizer.js';
import type { Limits } from './limits.js';

export interface KeyRecord {
  readonly id: string;
  readonly tenant: string;
  readonly scopes: readonly KeyScope[];
  /** models this key is limited to; null: all of its tenant's */
  readonly models: readonly string[] | null;
  /** hex SHA-256 of the secret (api-keys.ts) */
  readonly hash: string;
  /** ISO-8601 */
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  /** a note for people: what the key is for */
  readonly name: string | null;
  /** rate limits and budget (limits.ts) */
  readonly limits: Limits;
}

export interface KeyStore {
  create(key: KeyRecord): Promise<void>;
  get(id: string): Promise<KeyRecord | undefined>;
  /** newest first; only `tenant`'s when given */
  list(tenant?: string): Promise<KeyRecord[]>;
  /** false when there is no such key or it was revoked already */
  revoke(id: string, at: string): Promise<boolean>;
  count(): Promise<number>;
}

/** What the API shows of a key: everything but its hash. */
export function keyView(k: KeyRecord) {
  const { hash: _hash, ...rest } = k;
  return rest;
}
