// Admission: before an inference request is queued, it must fit its key's and its tenant's limits
// (requests per minute, requests in flight, budgets); a generative request must also fit their
// tokens per minute and token budgets with prompt + max output tokens, reserved once it is
// tokenized. Everything a request reserves is settled to what it used when it ends, so requests
// admitted together can never spend more than a budget holds: a reservation counts as spent
// until it is settled.
//
// The answer carries OpenAI's x-ratelimit-* headers (from the tighter of key and tenant), on
// success and on 429, so the openai client's back-off works unchanged.
import type { Clock } from '../core/clock.js';
import { FerryError } from '../core/errors.js';
import type { Principal } from './authorizer.js';
import { budgetWindow, hasLimits, NO_LIMITS, type Budget, type Limits } from './limits.js';
import { formatReset, TokenBucket } from './rate-limiter.js';

/** Tokens and compute a key or tenant has spent in a budget window, before this process counted. */
export interface Spent { readonly tokens: number; readonly computeMs: number }
/** Read once per subject and window, synchronously (SQLite). A PostgreSQL ledger would load the
 *  current windows at start instead. */
export type SpentReader = (who: { keyId?: string; tenant?: string }, from: Date, to: Date) => Spent;

export interface AdmissionOptions {
  readonly clock: Clock;
  /** wall time: budget windows are UTC days and months */
  readonly now: () => Date;
  /** a tenant's limits from the config */
  readonly tenantLimits: (tenant: string) => Limits;
  readonly spent: SpentReader;
  /** compute a request reserves before any has been measured for its key or tenant */
  readonly initialComputeReserveMs?: number;
}

interface Window {
  readonly id: string;
  readonly end: Date;
  tokens: number;
  computeMs: number;
}

/** One key's or one tenant's live state. */
class Subject {
  readonly rpm: TokenBucket | undefined;
  readonly tpm: TokenBucket | undefined;
  inFlight = 0;
  window: Window | undefined;
  /** what a request is expected to compute: reserved from a compute budget at admission */
  computeEstimateMs: number;

  constructor(readonly label: string, readonly who: { keyId?: string; tenant?: string }, readonly limits: Limits, clock: Clock, initialComputeMs: number) {
    this.rpm = limits.rpm === null ? undefined : new TokenBucket(limits.rpm, clock);
    this.tpm = limits.tpm === null ? undefined : new TokenBucket(limits.tpm, clock);
    this.computeEstimateMs = initialComputeMs;
  }
}

const sameLimits = (a: Limits, b: Limits): boolean => a === b || (a.rpm === b.rpm && a.tpm === b.tpm && a.concurrency === b.concurrency
  && a.budget?.period === b.budget?.period && a.budget?.tokens === b.budget?.tokens && a.budget?.computeSeconds === b.budget?.computeSeconds);

const exhausted = (msg: string, retryMs: number) => new FerryError('RESOURCE_EXHAUSTED', msg, { retryAfterSeconds: Math.max(1, Math.ceil(retryMs / 1000)) });
const PERIOD_WORD = { day: 'daily', month: 'monthly' } as const;

export type HeaderSink = (name: string, value: string) => void;

export class Admission {
  // keys and tenants apart, by id: no string is built per request to find them
  private readonly keys = new Map<string, Subject>();
  private readonly tenants = new Map<string, Subject>();

  constructor(private readonly opts: AdmissionOptions) {}

  private subject(map: Map<string, Subject>, id: string, limits: Limits, ofKey: boolean): Subject {
    let s = map.get(id);
    // A key's limits never change; a tenant's change only with the config, i.e. a restart.
    if (!s || !sameLimits(s.limits, limits)) {
      s = new Subject(ofKey ? `API key ${id}` : `tenant "${id}"`, ofKey ? { keyId: id } : { tenant: id }, limits, this.opts.clock, this.opts.initialComputeReserveMs ?? 1000);
      map.set(id, s);
    }
    return s;
  }

  /** The budget window `now` falls in, loaded from the ledger when it is new to this process. */
  private window(s: Subject, budget: Budget, now: Date): Window {
    const w = s.window;
    if (w && now < w.end) return w;
    const { id, start, end } = budgetWindow(budget.period, now);
    const spent = this.opts.spent(s.who, start, end);
    return (s.window = { id, end, tokens: spent.tokens, computeMs: spent.computeMs });
  }

  /** Admits a request of `p` or throws 429; the ticket must be finished when the request ends. */
  admit(p: Principal, setHeader: HeaderSink): Ticket {
    const keyLimits = p.limits ?? NO_LIMITS, tenantLimits = this.opts.tenantLimits(p.tenant);
    const subjects: Subject[] = [];
    if (hasLimits(keyLimits)) subjects.push(this.subject(this.keys, p.keyId, keyLimits, true));
    if (hasLimits(tenantLimits)) subjects.push(this.subject(this.tenants, p.tenant, tenantLimits, false));
    const ticket = new Ticket(this, subjects, setHeader);
    if (subjects.length === 0) return ticket;
    // check everything first, then take: a refused request must not use up any part of a limit
    const windows: (Window | undefined)[] = [], compute: number[] = [];
    let now: Date | undefined;
    for (const s of subjects) {
      if (s.limits.concurrency !== null && s.inFlight >= s.limits.concurrency) {
        ticket.sendHeaders();
        throw exhausted(`${s.label} has ${s.inFlight} requests in flight, its limit of concurrent requests; retry when one finishes`, 1000);
      }
      const wait = s.rpm?.waitFor(1) ?? 0;
      if (wait > 0) {
        ticket.sendHeaders();
        throw exhausted(`${s.label} is over its limit of ${s.limits.rpm} requests per minute; retry in ${formatReset(wait)}`, wait);
      }
      const b = s.limits.budget;
      if (b === null) {
        windows.push(undefined);
        compute.push(0);
        continue;
      }
      now ??= this.opts.now();
      const w = this.window(s, b, now);
      const c = b.computeSeconds !== null ? s.computeEstimateMs : 0;
      this.checkBudget(s, b, w, 0, c, ticket, now);
      windows.push(w);
      compute.push(c);
    }
    for (const s of subjects) {
      s.inFlight++;
      s.rpm?.take(1);
    }
    ticket.reserve(windows, compute);
    ticket.sendHeaders();
    return ticket;
  }

  private checkBudget(s: Subject, b: Budget, w: Window, tokens: number, computeMs: number, ticket: Ticket, now: Date): void {
    // at admission (tokens 0) a spent token budget refuses at once; tokenized, the request must fit
    const over = (b.tokens !== null && (tokens > 0 ? w.tokens + tokens > b.tokens : w.tokens >= b.tokens))
      ? `token budget of ${b.tokens} (${Math.round(w.tokens)} spent or reserved${tokens > 0 ? `; this request needs ${tokens}: prompt + max_tokens` : ''})`
      : (b.computeSeconds !== null && tokens === 0 && w.computeMs + Math.max(computeMs, 1) > b.computeSeconds * 1000) ? `compute budget of ${b.computeSeconds} s (${(w.computeMs / 1000).toFixed(1)} s spent or reserved)`
        : undefined;
    if (over === undefined) return;
    ticket.sendHeaders();
    throw exhausted(`${s.label} has used its ${PERIOD_WORD[b.period]} ${over}; it resets at ${w.end.toISOString()}`, w.end.getTime() - now.getTime());
  }

  /** @internal Ticket's: reserve tokens from every subject, or throw without reserving any. */
  reserveTokens(subjects: readonly Subject[], n: number, ticket: Ticket): void {
    let now: Date | undefined;
    for (const s of subjects) {
      const wait = s.tpm?.waitFor(n) ?? 0;
      if (wait === Infinity) {
        ticket.sendHeaders();
        // OpenAI answers a request larger than the whole limit with 429 too; it cannot succeed by waiting
        throw new FerryError('RESOURCE_EXHAUSTED', `this request needs ${n} tokens (prompt + max_tokens) but ${s.label} may use ${s.limits.tpm} per minute; lower max_tokens or shorten the prompt`);
      }
      if (wait > 0) {
        ticket.sendHeaders();
        throw exhausted(`${s.label} is over its limit of ${s.limits.tpm} tokens per minute (this request reserves ${n}: prompt + max_tokens); retry in ${formatReset(wait)}`, wait);
      }
      const b = s.limits.budget;
      if (b !== null) {
        now ??= this.opts.now();
        this.checkBudget(s, b, this.window(s, b, now), n, 0, ticket, now);
      }
    }
    for (const s of subjects) s.tpm?.take(n);
  }
}

/** One admitted request's reservations; finish() settles them. */
export class Ticket {
  private reservedTokens = 0;
  private reservedCompute: number[] = [];
  private windows: (Window | undefined)[] = [];
  private done = false;

  constructor(private readonly admission: Admission, private readonly subjects: readonly Subject[], private readonly setHeader: HeaderSink) {}

  /** @internal the budget windows admission charged, with the compute it reserved from each */
  reserve(windows: (Window | undefined)[], computeMs: number[]): void {
    this.windows = windows;
    this.reservedCompute = computeMs;
    for (let i = 0; i < windows.length; i++) {
      const w = windows[i];
      if (w) w.computeMs += computeMs[i]!;
    }
  }

  /** Reserves prompt + max output tokens, or throws 429 (tokens per minute, token budget). */
  reserveTokens(n: number): void {
    if (this.subjects.length === 0 || n <= 0) return;
    this.admission.reserveTokens(this.subjects, n, this);
    this.reservedTokens += n;
    for (const w of this.windows) if (w) w.tokens += n;
    this.sendHeaders();
  }

  /** Settles reservations to what the request used and lets the next request in. Once only. */
  finish(tokens: number, computeMs: number): void {
    if (this.done) return;
    this.done = true;
    for (let i = 0; i < this.subjects.length; i++) {
      const s = this.subjects[i]!;
      s.inFlight--;
      if (this.reservedTokens > tokens) s.tpm?.refund(this.reservedTokens - tokens);
      else if (tokens > this.reservedTokens) s.tpm?.take(tokens - this.reservedTokens);
      const w = this.windows[i];
      if (w) {
        w.tokens += tokens - this.reservedTokens;
        w.computeMs += computeMs - (this.reservedCompute[i] ?? 0);
      }
      // what the next request of this subject reserves: recent requests' compute, leaning high
      s.computeEstimateMs = Math.max(computeMs, 0.8 * s.computeEstimateMs + 0.2 * computeMs);
    }
  }

  /** x-ratelimit-* from the subject with the fewest requests (tokens) left. */
  sendHeaders(): void {
    let req: { limit: number; left: number; resetMs: number } | undefined;
    let tok: typeof req;
    for (const s of this.subjects) {
      if (s.rpm) {
        const st = s.rpm.state();
        if (!req || st.left < req.left) req = { limit: s.rpm.perMinute, left: st.left, resetMs: st.resetMs };
      }
      if (s.tpm) {
        const st = s.tpm.state();
        if (!tok || st.left < tok.left) tok = { limit: s.tpm.perMinute, left: st.left, resetMs: st.resetMs };
      }
    }
    if (req) {
      this.setHeader('x-ratelimit-limit-requests', String(req.limit));
      this.setHeader('x-ratelimit-remaining-requests', String(req.left));
      this.setHeader('x-ratelimit-reset-requests', formatReset(req.resetMs));
    }
    if (tok) {
      this.setHeader('x-ratelimit-limit-tokens', String(tok.limit));
      this.setHeader('x-ratelimit-remaining-tokens', String(tok.left));
      this.setHeader('x-ratelimit-reset-tokens', formatReset(tok.resetMs));
    }
  }
}
