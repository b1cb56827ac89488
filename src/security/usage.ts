// The usage ledger: one row per inference request by a key (who, which model, how it ended, tokens,
// queue and compute time), with daily roll-ups that outlive the rows (usage.retentionDays). Rows are
// buffered and written in batches — every `flushRows` rows, `flushMs` after the first unwritten one
// (on the injected clock), and on shutdown — so no request waits on a disk write.
// Payloads are never stored unless usage.logPayloads is on; then request bodies are redacted
// (redact.ts) before they are buffered.
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Spent } from './admission.js';

export interface UsageRow {
  /** ISO-8601, when the request arrived */
  readonly time: string;
  readonly requestId: string;
  readonly keyId: string | null;
  readonly tenant: string | null;
  readonly model: string | null;
  readonly version: number | null;
  readonly status: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly queueMs: number;
  readonly computeMs: number;
  /** the request body, redacted; only with usage.logPayloads */
  readonly payload?: string;
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
  /** one transaction: the rows, their payloads, and the daily roll-ups they add to */
  write(rows: readonly UsageRow[]): void;
  /** from the daily roll-ups, so it covers days whose rows retention has deleted */
  summary(q: UsageQuery): Promise<UsageGroup[]>;
  /** tokens and compute spent by a key or tenant in [from, to) by whole UTC days (the roll-ups) */
  spent(who: { keyId?: string; tenant?: string }, from: Date, to: Date): Spent;
  /** deletes rows and payloads older than `before` (ISO-8601); roll-ups stay */
  prune(before: string): number;
}

export interface RecorderOptions {
  readonly clock: Clock;
  readonly now: () => Date;
  readonly flushRows: number;
  readonly flushMs: number;
  /** 0: keep rows for ever */
  readonly retentionDays: number;
  readonly onError: (err: unknown) => void;
}

const DAY_MS = 86_400_000;

export class UsageRecorder {
  private buffer: UsageRow[] = [];
  private timer: TimerHandle | undefined;
  private lastPrune = -Infinity;

  constructor(readonly ledger: UsageLedger, private readonly opts: RecorderOptions) {}

  add(row: UsageRow): void {
    this.buffer.push(row);
    if (this.buffer.length >= this.opts.flushRows) this.flush();
    // no standing timer: one is armed only while rows wait
    else if (this.timer === undefined) this.timer = this.opts.clock.setTimeout(() => this.flush(), this.opts.flushMs);
  }

  /** writes what is buffered; also applies retention, at most hourly */
  flush(): void {
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const rows = this.buffer;
    this.buffer = [];
    try {
      if (rows.length > 0) this.ledger.write(rows);
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
