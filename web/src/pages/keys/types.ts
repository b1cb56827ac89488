// What the admin API answers about keys, usage and the audit log (src/security/key-store.ts keyView,
// usage.ts UsageGroup, audit.ts AuditEntry), as the dashboard reads it.
export const SCOPES = ['infer', 'read', 'train', 'admin', 'metrics'] as const;
export type KeyScope = (typeof SCOPES)[number];

export interface Limits {
  readonly rpm: number | null;
  readonly tpm: number | null;
  readonly concurrency: number | null;
  readonly budget: { period: 'day' | 'month'; tokens: number | null; computeSeconds: number | null } | null;
}

export interface KeyView {
  readonly id: string;
  readonly tenant: string;
  readonly scopes: readonly KeyScope[];
  readonly models: readonly string[] | null;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly name: string | null;
  readonly limits: Limits;
}

/** POST /api/keys's answer: the key's view plus its secret, which no other answer ever carries. */
export interface CreatedKey extends KeyView {
  readonly key: string;
}

export interface UsageGroup {
  readonly group: string;
  readonly requests: number;
  readonly errors: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly queueMs: number;
  readonly computeMs: number;
}

export interface AuditEntry {
  readonly time: string;
  readonly keyId: string | null;
  readonly tenant: string | null;
  readonly action: string;
  readonly target: string | null;
  readonly outcome: 'ok' | 'failed' | 'unauthenticated' | 'denied' | 'not_found' | 'throttled';
  readonly status: number;
  readonly ip: string;
}

/** "2025-01-31 14:05" in the viewer's time zone; "—" for none. */
export function when(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A UTC day (YYYY-MM-DD) `days` before today, for date inputs and the usage API's from/to. */
export function dayAgo(days: number, now = Date.now()): string {
  return new Date(now - days * 86_400_000).toISOString().slice(0, 10);
}
