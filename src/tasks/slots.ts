// A fixed number of slots with a bounded FIFO queue in front: how many requests a generative model
// runs at once, and how many may wait. Beyond the queue a request is refused (429) instead of waiting
// without end; a waiter whose client goes away leaves the queue at once.
import { FerryError } from '../core/errors.js';

export class Slots {
  private free: number;
  private readonly waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(readonly size: number, private readonly maxQueue: number) {
    this.free = size;
  }

  get running(): number {
    return this.size - this.free;
  }

  get queued(): number {
    return this.waiting.length;
  }

  acquire(signal: AbortSignal): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(new FerryError('RESOURCE_EXHAUSTED', `all ${this.size} generation slots are busy and ${this.waiting.length} requests wait already; retry shortly`, { retryAfterSeconds: 1 }));
    }
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.waiting.push(waiter);
      signal.addEventListener('abort', () => {
        const i = this.waiting.indexOf(waiter);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        reject(new FerryError('CANCELLED', 'the client went away while waiting'));
      }, { once: true });
    });
  }

  /** hands the slot to the next waiter, or frees it */
  release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.free++;
  }

  close(reason: string): void {
    for (const w of this.waiting.splice(0)) w.reject(new FerryError('UNAVAILABLE', reason, { retryAfterSeconds: 1 }));
  }
}
