// How many explanations run at once. An explanation is tens to thousands of model runs, and the
// gradient sessions sit outside the model pool's batching and memory budget, so without a bound a
// handful of clients could hold every core. A few run; a few more wait in line, in order; beyond that
// a request is turned away at once with Retry-After, as the batcher turns one away from a full queue.
//
//   const gate = new ExplainGate(2, 4);
//   const release = await gate.enter(signal);   // waits for a place; rejects if `signal` aborts first
//   try { ... } finally { release(); }
import { FerryError } from '../core/errors.js';

interface Waiter {
  readonly resolve: (release: () => void) => void;
  readonly reject: (err: unknown) => void;
  readonly signal?: AbortSignal;
  readonly onAbort: () => void;
}

export class ExplainGate {
  private inside = 0;
  private readonly line: Waiter[] = [];
  private closed = false;

  constructor(readonly limit: number, readonly maxWaiting: number) {}

  /** explanations running now */
  get running(): number {
    return this.inside;
  }

  /** explanations waiting for a place */
  get waiting(): number {
    return this.line.length;
  }

  /** Resolves with the function that gives the place back (once; later calls do nothing). */
  enter(signal?: AbortSignal): Promise<() => void> {
    if (this.closed) return Promise.reject(shuttingDown());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.inside < this.limit) return Promise.resolve(this.admit());
    if (this.line.length >= this.maxWaiting) {
      return Promise.reject(new FerryError('RESOURCE_EXHAUSTED', `${this.inside} explanations are running and ${this.line.length} wait already; retry shortly`, { retryAfterSeconds: 1 }));
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        resolve, reject, signal,
        onAbort: () => {
          const i = this.line.indexOf(w);
          if (i >= 0) this.line.splice(i, 1);
          reject(signal!.reason);
        },
      };
      signal?.addEventListener('abort', w.onAbort, { once: true });
      this.line.push(w);
    });
  }

  /** Turns away everyone waiting; those running finish. */
  close(): void {
    this.closed = true;
    for (const w of this.line.splice(0)) {
      w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(shuttingDown());
    }
  }

  private admit(): () => void {
    this.inside++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.inside--;
      const next = this.line.shift();
      if (next) {
        next.signal?.removeEventListener('abort', next.onAbort);
        next.resolve(this.admit());
      }
    };
  }
}

const shuttingDown = () => new FerryError('UNAVAILABLE', 'the server is shutting down', { retryAfterSeconds: 1 });
