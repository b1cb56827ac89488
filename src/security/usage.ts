// The usage ledger: what each key did with each model version in each UTC minute (requests,
// errors, tokens, queue and compute time), with daily roll-ups that outlive the minutes
// (usage.retentionDays). Requests are summed into their minute in memory and written in batches —
// when `flushRows` minute rows (and payloads) wait, `flushMs` after the first unwritten one (on the
// injected clock), before anything reads the ledger, and on shutdown — so no request waits on a
// disk write, and the ledger costs a few map updates per request instead of a SQLite row: at
// thousands of requests a second a row each was the largest part of what a key cost (README,
// Performance). A crash (not SIGTERM, which flushes) loses at most what waited, by default one
// second. OpenAI's usage API has per-minute buckets too.
// Payloads are never stored unless usage.logPayloads is on; then request bodies are redacted
// (redact.ts) before they are buffered, one per request.
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Spent } from './admission.js';

/** One keyed inference request, as the Meter reports it when it ends. */
export interface UsageRow {
  /** wall time when the request arrived, ms since the epoch */
  readonly time: number;
  readonly requestId: string;
  readonly keyId: string;
  readonly tenant: string;
  readonly model: string | null;
  readonly version: number | null;
  readonly status: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly queueMs: number;
  readonly computeMs: number;
  /** the request body, redacted; only with usage.logPayloads */
  readonly payload: string | undefined;
}

/** A ledger row: the requests of one key to one model version that arrived in one UTC minute. */
export interface UsageMinute {
  /** "2025-03-10T09:04" (UTC) */
  readonly minute: string;
  readonly tenant: string;
  readonly keyId: string;
  /** null: the request named no model that exists */
  readonly model: string | null;
  readonly version: number | null;
  readonly requests: number;
  /** answers with status 400 and above (499: the client went away) */
  readonly errors: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly queueMs: number;
  readonly computeMs: number;
}

/** A request body in the payload log (usage.logPayloads). */
export interface UsagePayload {
  /** ISO-8601, when the request arrived */
  readonly time: string;
  readonly requestId: string;
  readonly keyId: string;
  readonly tenant: string;
  readonly payload: string;
}

export type UsageGroupBy = 'model' | 'key' | 'day' | 'tenant';

export interface UsageQuery {
  /** UTC days, YYYY-MM-DD, both included */
  readonly from?: string;
  readonly to?: string;
  readonly tenant?: string;
  readonly groupBy: UsageGroupBy;
}

export interface UsageGroup {
  /** the model ("name:version"), key id, day or tenant */
  readonly group: string;
  readonly requests: number;
  /** answers with status 400 and above */
  readonly errors: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly queueMs: number;
  readonly computeMs: number;
}

export interface UsageLedger {
  /** one transaction: minute rows added to those already written for the same minute, their
   *  daily roll-ups, and the payloads */
  write(minutes: readonly UsageMinute[], payloads: readonly UsagePayload[]): void;
  /** from the daily roll-ups, so it covers days whose minutes retention has deleted */
  summary(q: UsageQuery): Promise<UsageGroup[]>;
  /** tokens and compute spent by a key or tenant in [from, to) by whole UTC days (the roll-ups) */
  spent(who: { keyId?: string; tenant?: string }, from: Date, to: Date): Spent;
  /** deletes minute rows and payloads older than `before` (ISO-8601); roll-ups stay */
  prune(before: string): number;
}

export interface RecorderOptions {
  readonly clock: Clock;
  readonly now: () => Date;
  /** minute rows and payloads waiting before a write */
  readonly flushRows: number;
  /** longest one waits */
  readonly flushMs: number;
  /** 0: keep rows for ever */
  readonly retentionDays: number;
  readonly onError: (err: unknown) => void;
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** a waiting ledger row; `start`: its minute in ms since the epoch */
type Bucket = { -readonly [K in keyof UsageMinute]: UsageMinute[K] } & { readonly start: number };

/** The UTC minute of `ms`, as the ledger names it. */
export const minuteOf = (ms: number): string => new Date(Math.floor(ms / MINUTE_MS) * MINUTE_MS).toISOString().slice(0, 16);

export class UsageRecorder {
  // key id -> that key's waiting rows (a key has few: one per model version and minute), found by
  // a scan instead of a string built per request
  private buckets = new Map<string, Bucket[]>();
  private waiting = 0;
  private payloads: UsagePayload[] = [];
  private timer: TimerHandle | undefined;
  private lastPrune = -Infinity;

  constructor(readonly ledger: UsageLedger, private readonly opts: RecorderOptions) {}

  add(row: UsageRow): void {
    const start = Math.floor(row.time / MINUTE_MS) * MINUTE_MS;
    let rows = this.buckets.get(row.keyId);
    if (rows === undefined) this.buckets.set(row.keyId, (rows = []));
    // a key belongs to one tenant: key, model, version and minute name the row
    let b: Bucket | undefined;
    for (const r of rows) {
      if (r.start === start && r.model === row.model && r.version === row.version) {
        b = r;
        break;
      }
    }
    if (b === undefined) {
      b = { start, minute: minuteOf(start), tenant: row.tenant, keyId: row.keyId, model: row.model, version: row.version, requests: 0, errors: 0, promptTokens: 0, completionTokens: 0, queueMs: 0, computeMs: 0 };
      rows.push(b);
      this.waiting++;
    }
    b.requests++;
    if (row.status >= 400) b.errors++;
    b.promptTokens += row.promptTokens;
    b.completionTokens += row.completionTokens;
    b.queueMs += row.queueMs;
    b.computeMs += row.computeMs;
    if (row.payload !== undefined) {
      this.payloads.push({ time: new Date(row.time).toISOString(), requestId: row.requestId, keyId: row.keyId, tenant: row.tenant, payload: row.payload });
    }
    if (this.waiting + this.payloads.length >= this.opts.flushRows) this.flush();
    // no standing timer: one is armed only while something waits
    else if (this.timer === undefined) this.timer = this.opts.clock.setTimeout(() => this.flush(), this.opts.flushMs);
  }

  /** Writes what waits; also applies retention, at most hourly. Anything that reads the ledger
   *  (the usage API, a budget window's start) calls this first, so it sees every finished request. */
  flush(): void {
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const minutes = [...this.buckets.values()].flat(), payloads = this.payloads;
    this.buckets = new Map();
    this.waiting = 0;
    this.payloads = [];
    try {
      if (minutes.length > 0 || payloads.length > 0) this.ledger.write(minutes, payloads);
      const now = this.opts.now().getTime();
      if (this.opts.retentionDays > 0 && now - this.lastPrune > DAY_MS / 24) {
        this.lastPrune = now;
        this.ledger.prune(new Date(now - this.opts.retentionDays * DAY_MS).toISOString());
      }
    } catch (err) {
      this.opts.onError(err);
    }
  }

  close(): void {
    this.flush();
  }
}
