// What one admitted inference request used, gathered as it runs and handed to the usage ledger when
// it ends. The protocol routes report into it (request.usage, set by auth-hooks.ts for requests
// that carry a key); they do not know about limits or the ledger.
import type { Ticket } from './admission.js';
import type { UsageRow } from './usage.js';

/** What a batched run reports (scheduler/batcher.ts's BatchResult). */
export interface BatchRun {
  readonly timings: { readonly queueMs: number; readonly inputMs: number; readonly inferMs: number; readonly outputMs: number };
  readonly batchSize: number;
  readonly rows: number;
}

export class Meter {
  model: string | null = null;
  version: number | null = null;
  promptTokens = 0;
  completionTokens = 0;
  queueMs = 0;
  /** undefined until a route reports it; then the request's wall time stands in */
  computeMs: number | undefined;

  /** set once admission let the request in */
  ticket: Ticket | undefined;
  /** whether the route reserved tokens: a generative request, which may stream its answer */
  tokensReserved = false;

  /** `time`: wall time when the request arrived, ms since the epoch */
  constructor(readonly time: number) {}

  /** A batched run: a request is charged its rows' share of the batch's compute. */
  ranBatch(model: string, version: number, run: BatchRun): void {
    const t = run.timings;
    this.ran(model, version, t.queueMs, ((t.inputMs + t.inferMs + t.outputMs) * run.rows) / Math.max(1, run.batchSize));
  }

  ran(model: string, version: number, queueMs: number, computeMs: number): void {
    this.model = model;
    this.version = version;
    this.queueMs += queueMs;
    this.computeMs = (this.computeMs ?? 0) + computeMs;
  }

  /** Reserves prompt + max output tokens before generating; throws 429 when they do not fit. */
  reserveTokens(n: number): void {
    this.tokensReserved = true;
    this.ticket?.reserveTokens(n);
  }

  tokens(prompt: number, completion: number): void {
    this.promptTokens = prompt;
    this.completionTokens = completion;
  }

  /** Settles the reservations and gives what the ledger records. */
  finish(requestId: string, keyId: string, tenant: string, status: number, elapsedMs: number, payload: string | undefined): UsageRow {
    const computeMs = this.computeMs ?? elapsedMs;
    this.ticket?.finish(this.promptTokens + this.completionTokens, computeMs);
    return {
      time: this.time, requestId, keyId, tenant, model: this.model, version: this.version, status,
      promptTokens: this.promptTokens, completionTokens: this.completionTokens, queueMs: this.queueMs, computeMs, payload,
    };
  }
}
