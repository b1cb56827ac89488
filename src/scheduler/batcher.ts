// One queue per deployed model version, with Triton's dynamic-batching semantics
// (docs/user_guide/batcher.md): batches as large as possible up to maxBatchSize; maxQueueDelayMs waits
// only while neither a full nor a preferred batch can be formed; a bounded queue rejects instead of
// growing; priority levels are FIFO within a level; per-request timeouts; queued work whose client
// went away is dropped.
import type { Cancellation } from '../core/cancel.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { FerryError } from '../core/errors.js';
import type { NamedTensors } from '../core/tensor.js';
import { batchKey, batchRows, mergeInputs, splitOutputs } from './batch.js';

export interface BatcherOptions {
  /** > 0 enables batching along dimension 0; 0 runs each request alone */
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  readonly preferredBatchSizes: readonly number[];
  /** queued requests beyond this are rejected with 429 */
  readonly maxQueueSize: number;
  /** batches that may be in flight at once; one session runs one batch at a time, so more than 1
   *  only overlaps preparing the next batch with the current run (it adds no parallel compute) */
  readonly instances: number;
  /** applied when a request names no timeout; 0 = none */
  readonly defaultTimeoutMs: number;
}

export const DEFAULT_PRIORITY = 5;
export const MAX_PRIORITY = 10;

export interface SubmitOptions {
  /** 1 is the highest level; 0 or absent means DEFAULT_PRIORITY (the V2 schedule_policy convention) */
  readonly priority?: number;
  readonly timeoutMs?: number;
  /** cancelling drops the request if it has not started */
  readonly cancellation?: Cancellation;
}

/** Where the time of one request went, in milliseconds, as Triton's statistics split it. */
export interface Timings {
  readonly queueMs: number;
  readonly inputMs: number;
  readonly inferMs: number;
  readonly outputMs: number;
}

export interface BatchResult {
  readonly outputs: NamedTensors;
  readonly timings: Timings;
  /** rows in the batch this request ran in */
  readonly batchSize: number;
  /** rows this request contributed (1 for a model that does not batch) */
  readonly rows: number;
}

export interface ExecutionReport {
  readonly batchSize: number;
  readonly requests: number;
  readonly timings: Omit<Timings, 'queueMs'>;
  readonly ok: boolean;
}

export type Execute = (inputs: NamedTensors) => Promise<NamedTensors>;

interface Item {
  readonly inputs: NamedTensors;
  readonly key: string;
  readonly rows: number;
  readonly level: number;
  readonly enqueuedAt: number;
  readonly resolve: (r: BatchResult) => void;
  readonly reject: (e: FerryError) => void;
  timer?: TimerHandle;
  detach?: () => void;
  done: boolean;
}

export class DynamicBatcher {
  private readonly levels = new Map<number, Item[]>();
  private queued = 0;
  private running = 0;
  private pumpScheduled = false;
  private delayTimer: TimerHandle | undefined;
  private closedReason: string | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly execute: Execute,
    private readonly options: BatcherOptions,
    private readonly clock: Clock,
    private readonly onExecution: (r: ExecutionReport) => void = () => {},
  ) {}

  /** Requests waiting, not yet running. */
  get depth(): number {
    return this.queued;
  }

  /** Requests waiting or running, in batches. */
  get busy(): boolean {
    return this.queued > 0 || this.running > 0;
  }

  submit(inputs: NamedTensors, opts: SubmitOptions = {}): Promise<BatchResult> {
    if (this.closedReason !== undefined) {
      return Promise.reject(new FerryError('UNAVAILABLE', this.closedReason, { retryAfterSeconds: 1 }));
    }
    if (opts.cancellation?.cancelled) return Promise.reject(cancelled());
    const batching = this.options.maxBatchSize > 0;
    let rows: number, level: number;
    try {
      rows = batching ? batchRows(inputs) : 1;
      level = priorityLevel(opts.priority);
    } catch (err) {
      return Promise.reject(err);
    }
    if (batching && rows > this.options.maxBatchSize) {
      return Promise.reject(new FerryError('INVALID_ARGUMENT', `the request has ${rows} rows but this model's maxBatchSize is ${this.options.maxBatchSize}; split it into smaller requests`));
    }
    if (this.queued >= this.options.maxQueueSize) {
      return Promise.reject(new FerryError('RESOURCE_EXHAUSTED', `the queue for this model is full (${this.options.maxQueueSize} requests waiting); retry later`, { retryAfterSeconds: 1 }));
    }
    return new Promise<BatchResult>((resolve, reject) => {
      const item: Item = {
        inputs, rows, level, resolve, reject, done: false,
        key: batching ? batchKey(inputs) : '',
        enqueuedAt: this.clock.now(),
      };
      const timeoutMs = opts.timeoutMs ?? this.options.defaultTimeoutMs;
      if (timeoutMs > 0) {
        item.timer = this.clock.setTimeout(() => this.drop(item, new FerryError('DEADLINE_EXCEEDED', `the request waited ${timeoutMs} ms in the queue without starting; raise its timeout or retry later`)), timeoutMs);
      }
      if (opts.cancellation) item.detach = opts.cancellation.onCancel(() => this.drop(item, cancelled()));
      let q = this.levels.get(level);
      if (!q) {
        q = [];
        this.levels.set(level, q);
      }
      q.push(item);
      this.queued++;
      this.schedulePump();
    });
  }

  /** Refuses new work; what was admitted (queued or running) still runs. Resolves when idle. */
  close(reason: string): Promise<void> {
    this.closedReason = reason;
    return this.whenIdle();
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Resolves once nothing is queued or running. */
  whenIdle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private drop(item: Item, err: FerryError): void {
    if (item.done) return;
    this.finish(item);
    this.queued--;
    // Out of the queue now, not at the next batch: while a long batch runs, requests that time out
    // or lose their client would otherwise keep their tensors in memory.
    const q = this.levels.get(item.level);
    const k = q ? q.indexOf(item) : -1;
    if (k >= 0) q!.splice(k, 1);
    if (q && q.length === 0) this.levels.delete(item.level);
    item.reject(err);
    this.notifyIdle();
  }

  private finish(item: Item): void {
    item.done = true;
    if (item.timer) this.clock.clearTimeout(item.timer);
    item.detach?.();
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    this.clock.defer(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.options.instances && this.queued > 0) {
      const batch = this.nextBatch();
      if (batch === null) return;
      void this.run(batch);
    }
  }

  /** Picks the next batch, or arms the delay timer and returns null when it should wait. */
  private nextBatch(): Item[] | null {
    this.compact();
    const { maxBatchSize, maxQueueDelayMs, preferredBatchSizes } = this.options;
    const ordered = [...this.levels.keys()].sort((a, b) => a - b);
    const head = this.levels.get(ordered[0]!)![0]!;
    if (maxBatchSize === 0) return this.take([head]);
    const picked: Item[] = [];
    let rows = 0;
    scan: for (const level of ordered) {
      for (const it of this.levels.get(level)!) {
        if (it.key !== head.key || rows + it.rows > maxBatchSize) continue;
        picked.push(it);
        rows += it.rows;
        if (rows === maxBatchSize) break scan;
      }
    }
    if (rows === maxBatchSize || maxQueueDelayMs <= 0) return this.take(picked);
    // Triton: the largest preferred size that the queue can form goes at once.
    let cut = 0, sum = 0;
    picked.forEach((it, i) => {
      sum += it.rows;
      if (preferredBatchSizes.includes(sum)) cut = i + 1;
    });
    if (cut > 0) return this.take(picked.slice(0, cut));
    const oldest = Math.min(...picked.map((it) => it.enqueuedAt));
    const waitMs = oldest + maxQueueDelayMs - this.clock.now();
    if (waitMs <= 0) return this.take(picked);
    if (this.delayTimer === undefined) {
      this.delayTimer = this.clock.setTimeout(() => {
        this.delayTimer = undefined;
        this.pump();
      }, waitMs);
    }
    return null;
  }

  private take(items: Item[]): Item[] {
    if (this.delayTimer !== undefined) {
      this.clock.clearTimeout(this.delayTimer);
      this.delayTimer = undefined;
    }
    for (const it of items) {
      this.finish(it);
      this.queued--;
    }
    this.compact();
    return items;
  }

  /** Removes finished items (dispatched, timed out or cancelled) from the level queues. */
  private compact(): void {
    for (const [level, q] of this.levels) {
      let live = 0;
      for (const it of q) if (!it.done) q[live++] = it;
      q.length = live;
      if (live === 0) this.levels.delete(level);
    }
  }

  private async run(items: Item[]): Promise<void> {
    this.running++;
    const start = this.clock.now();
    const rows = items.map((it) => it.rows);
    const batchSize = rows.reduce((a, b) => a + b, 0);
    let t1 = start, t2 = start;
    try {
      const merged = mergeInputs(items.map((it) => it.inputs));
      t1 = this.clock.now();
      const outputs = await this.execute(merged);
      t2 = this.clock.now();
      const parts = this.options.maxBatchSize > 0 ? splitOutputs(outputs, rows) : [outputs];
      const t3 = this.clock.now();
      const timings = { inputMs: t1 - start, inferMs: t2 - t1, outputMs: t3 - t2 };
      this.onExecution({ batchSize, requests: items.length, timings, ok: true });
      items.forEach((it, i) => it.resolve({ outputs: parts[i]!, batchSize, rows: it.rows, timings: { queueMs: start - it.enqueuedAt, ...timings } }));
    } catch (err) {
      // A failed batch fails every request in it, with the same error.
      const e = err instanceof FerryError ? err : new FerryError('INTERNAL', `the batch failed: ${(err as Error).message}`, { cause: err });
      const now = this.clock.now();
      this.onExecution({ batchSize, requests: items.length, timings: { inputMs: t1 - start, inferMs: now - t1, outputMs: 0 }, ok: false });
      for (const it of items) it.reject(e);
    } finally {
      this.running--;
      if (this.queued > 0) this.schedulePump();
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    if (this.busy || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

function priorityLevel(p: number | undefined): number {
  if (p === undefined || p === 0) return DEFAULT_PRIORITY;
  if (!Number.isInteger(p) || p < 1 || p > MAX_PRIORITY) {
    throw new FerryError('INVALID_ARGUMENT', `parameter "priority" must be an integer from 1 (highest) to ${MAX_PRIORITY}, or 0 for the default level ${DEFAULT_PRIORITY}; got ${p}`);
  }
  return p;
}

function cancelled(): FerryError {
  return new FerryError('CANCELLED', 'the client cancelled the request before it started');
}
