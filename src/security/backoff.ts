// Brute-force back-off per source address: a few wrong keys are free (typos, a rotated key), then
// each further failure doubles the wait, up to maxMs, and every key from that address gets 429 with
// Retry-After until it passes. Quiet for forgetMs, an address starts over. Time is the injected clock.
import type { Clock } from '../core/clock.js';

export interface BackoffOptions {
  /** failures allowed before the first wait */
  readonly freeFailures: number;
  readonly baseMs: number;
  readonly maxMs: number;
  /** failures older than this are forgotten */
  readonly forgetMs: number;
  /** addresses remembered at most: the oldest go first, so a spray of addresses cannot grow memory */
  readonly maxAddresses: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { freeFailures: 5, baseMs: 1000, maxMs: 5 * 60_000, forgetMs: 15 * 60_000, maxAddresses: 10_000 };

interface Entry { failures: number; last: number; until: number }

export class FailureBackoff {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: Clock, private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {}

  /** ms this address must still wait; 0 when it may try */
  retryAfterMs(ip: string): number {
    const e = this.entries.get(ip);
    return e ? Math.max(0, e.until - this.clock.now()) : 0;
  }

  fail(ip: string): void {
    const now = this.clock.now();
    let e = this.entries.get(ip);
    if (!e || now - e.last > this.opts.forgetMs) e = { failures: 0, last: now, until: 0 };
    e.failures++;
    e.last = now;
    const over = e.failures - this.opts.freeFailures;
    if (over > 0) e.until = now + Math.min(this.opts.baseMs * 2 ** Math.min(over - 1, 30), this.opts.maxMs);
    // re-inserted, so the map's order is least recently failed first
    this.entries.delete(ip);
    this.entries.set(ip, e);
    if (this.entries.size > this.opts.maxAddresses) this.entries.delete(this.entries.keys().next().value!);
  }

  succeed(ip: string): void {
    this.entries.delete(ip);
  }
}
