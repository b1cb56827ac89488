// Limits and budgets, as a key carries them (set when it is made: `ferry keys create --rpm 600
// --tpm 100000 --concurrency 8 --budget-tokens 1000000 --budget-period month`) and as a tenant's
// config entry carries them (`tenants.acme.rpm` ...). A request must fit both its key's and its
// tenant's. null: no limit.
import { FerryError } from '../core/errors.js';

export type BudgetPeriod = 'day' | 'month';

export interface Budget {
  /** UTC calendar day or month: the budget starts over at 00:00 UTC of the next one */
  readonly period: BudgetPeriod;
  /** prompt + completion tokens (generative models) */
  readonly tokens: number | null;
  /** seconds of model compute (queue time not counted) */
  readonly computeSeconds: number | null;
}

export interface Limits {
  /** requests per minute */
  readonly rpm: number | null;
  /** tokens per minute: prompt + max output tokens reserved at admission, settled to actual after */
  readonly tpm: number | null;
  /** requests in flight at once */
  readonly concurrency: number | null;
  readonly budget: Budget | null;
}

export const NO_LIMITS: Limits = { rpm: null, tpm: null, concurrency: null, budget: null };

export const hasLimits = (l: Limits): boolean => l.rpm !== null || l.tpm !== null || l.concurrency !== null || l.budget !== null;

const MAX = 1e12;

function count(v: unknown, name: string, where: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX) throw new FerryError('INVALID_ARGUMENT', `${where}: "${name}" must be a whole number from 1 to ${MAX}, or left out for no limit`);
  return v;
}

/** Reads {rpm?, tpm?, concurrency?, budget?: {period, tokens?, computeSeconds?}}; `where` names the
 *  source in errors (a request body, a config key). */
export function parseLimits(v: unknown, where: string): Limits {
  if (v === undefined || v === null) return NO_LIMITS;
  if (typeof v !== 'object' || Array.isArray(v)) throw new FerryError('INVALID_ARGUMENT', `${where} must be an object like {"rpm": 600, "tpm": 100000, "concurrency": 8}`);
  const o = v as Record<string, unknown>;
  const known = ['rpm', 'tpm', 'concurrency', 'budget'];
  const extra = Object.keys(o).filter((k) => !known.includes(k));
  if (extra.length > 0) throw new FerryError('INVALID_ARGUMENT', `${where}: unknown limit ${JSON.stringify(extra[0]!.slice(0, 50))}; known: ${known.join(', ')}`);
  let budget: Budget | null = null;
  if (o.budget !== undefined && o.budget !== null) {
    const b = o.budget as Record<string, unknown>;
    if (typeof b !== 'object' || Array.isArray(b)) throw new FerryError('INVALID_ARGUMENT', `${where}: "budget" must be {"period": "day"|"month", "tokens"?: N, "computeSeconds"?: N}`);
    if (b.period !== 'day' && b.period !== 'month') throw new FerryError('INVALID_ARGUMENT', `${where}: "budget.period" must be "day" or "month"`);
    const tokens = count(b.tokens, 'budget.tokens', where);
    const computeSeconds = count(b.computeSeconds, 'budget.computeSeconds', where);
    if (tokens === null && computeSeconds === null) throw new FerryError('INVALID_ARGUMENT', `${where}: a budget needs "tokens", "computeSeconds" or both`);
    budget = { period: b.period, tokens, computeSeconds };
  }
  return { rpm: count(o.rpm, 'rpm', where), tpm: count(o.tpm, 'tpm', where), concurrency: count(o.concurrency, 'concurrency', where), budget };
}

/** The budget window `at` falls in, as a key ("2025-01-31" or "2025-01"), and when it ends. */
export function budgetWindow(period: BudgetPeriod, at: Date): { id: string; start: Date; end: Date } {
  const y = at.getUTCFullYear(), m = at.getUTCMonth(), d = at.getUTCDate();
  if (period === 'day') {
    const start = new Date(Date.UTC(y, m, d));
    return { id: start.toISOString().slice(0, 10), start, end: new Date(Date.UTC(y, m, d + 1)) };
  }
  const start = new Date(Date.UTC(y, m, 1));
  return { id: start.toISOString().slice(0, 7), start, end: new Date(Date.UTC(y, m + 1, 1)) };
}
