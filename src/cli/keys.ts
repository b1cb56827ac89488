// `ferry keys create | ls | revoke`: API keys through the admin API (an admin-scope key in
// FERRY_API_KEY or --api-key; `ferry serve` prints the first one on its first start).
import { InvalidArgumentError, type Command } from 'commander';
import type { FerryClient } from './client.js';

interface KeyRow {
  id: string; tenant: string; scopes: string[]; models: string[] | null;
  createdAt: string; expiresAt: string | null; revokedAt: string | null; name: string | null;
}

const list = (v: string) => v.split(',').map((s) => s.trim()).filter((s) => s !== '');

function state(k: KeyRow, now: number): string {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && Date.parse(k.expiresAt) <= now) return 'expired';
  return 'active';
}

interface LimitFlags { rpm?: number; tpm?: number; concurrency?: number; budgetTokens?: number; budgetComputeSeconds?: number; budgetPeriod?: string }

const whole = (v: string): number => {
  if (!/^[0-9]+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('a whole number of at least 1');
  return Number(v);
};

function limitsOf(o: LimitFlags): object | undefined {
  const budget = o.budgetTokens !== undefined || o.budgetComputeSeconds !== undefined
    ? { period: o.budgetPeriod ?? 'month', tokens: o.budgetTokens, computeSeconds: o.budgetComputeSeconds }
    : o.budgetPeriod !== undefined ? { period: o.budgetPeriod } : undefined;
  const l = { rpm: o.rpm, tpm: o.tpm, concurrency: o.concurrency, budget };
  return Object.values(l).some((v) => v !== undefined) ? l : undefined;
}

export function keyCommands(program: Command, client: () => FerryClient): void {
  const keys = program.command('keys').description('manage API keys: scopes, tenants, model limits, expiry');

  keys.command('create').description('make a key; it is printed once and cannot be shown again')
    .requiredOption('--tenant <tenant>', 'the tenant the key acts for')
    .requiredOption('--scopes <list>', 'comma-separated: infer, read, train, admin, metrics')
    .option('--models <list>', 'comma-separated model names the key is limited to (default: all of its tenant\'s)')
    .option('--expires <when>', 'a duration (30d, 12h, 90m) or an ISO-8601 time')
    .option('--name <text>', 'a note: what the key is for')
    .option('--rpm <n>', 'requests per minute', whole)
    .option('--tpm <n>', 'tokens per minute (generative models: prompt + max_tokens reserved, settled to actual)', whole)
    .option('--concurrency <n>', 'requests in flight at once', whole)
    .option('--budget-tokens <n>', 'tokens per budget period', whole)
    .option('--budget-compute-seconds <n>', 'seconds of model compute per budget period', whole)
    .option('--budget-period <day|month>', 'UTC day or month (default month)')
    .option('--json', 'print JSON')
    .action(async (opts: { tenant: string; scopes: string; models?: string; expires?: string; name?: string; json?: boolean } & LimitFlags) => {
      const body = { tenant: opts.tenant, scopes: list(opts.scopes), models: opts.models ? list(opts.models) : undefined, expires: opts.expires, name: opts.name, limits: limitsOf(opts) };
      const made = (await client().postJson('/api/keys', body)) as KeyRow & { key: string };
      if (opts.json) return console.log(JSON.stringify(made, null, 2));
      console.log(made.key);
      process.stderr.write(`key ${made.id} for tenant ${made.tenant} (${made.scopes.join(', ')}${made.models ? `; models ${made.models.join(', ')}` : ''}${made.expiresAt ? `; expires ${made.expiresAt}` : ''}). It is shown only now.\n`);
    });

  keys.command('ls').description('list keys (never their secrets)').option('--tenant <tenant>', 'only this tenant\'s').option('--json', 'print JSON')
    .action(async (opts: { tenant?: string; json?: boolean }) => {
      const { keys: rows } = (await client().get(`/api/keys${opts.tenant ? `?tenant=${encodeURIComponent(opts.tenant)}` : ''}`)) as { keys: KeyRow[] };
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      const now = Date.now();
      const table = rows.map((k) => [k.id, k.tenant, k.scopes.join(','), k.models?.join(',') ?? '*', k.expiresAt ?? '-', state(k, now), k.name ?? '']);
      const head = ['ID', 'TENANT', 'SCOPES', 'MODELS', 'EXPIRES', 'STATE', 'NAME'];
      const w = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
      console.log(head.map((h, i) => h.padEnd(w[i]!)).join('  ').trimEnd());
      for (const r of table) console.log(r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd());
    });

  keys.command('revoke <id>').description('revoke a key at once; requests with it get 401').action(async (id: string) => {
    const k = (await client().delete(`/api/keys/${encodeURIComponent(id)}`)) as KeyRow;
    console.log(`revoked ${k.id} (tenant ${k.tenant})`);
  });
}
