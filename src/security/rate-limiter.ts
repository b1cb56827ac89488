// Per-minute limits as token buckets: a bucket holds up to `perMinute`, refills continuously at
// perMinute/60 s, and a request takes its cost out of it. This is what OpenAI's headers describe:
// "remaining" is what the bucket holds, "reset" the time until it is full again.
//
// State is in this process's memory, which is right for one server. Several replicas behind a load
// balancer would need the buckets in a shared store (Redis): one key per subject holding level and
// last-refill time, updated by a Lua script so the refill-check-take is atomic, plus INCR/DECR with
// an expiry for concurrency, so a crashed replica's in-flight count ages out.
import type { Clock } from '../core/clock.js';

export class TokenBucket {
  private level: number;
  private last: number;

  constructor(readonly perMinute: number, private readonly clock: Clock) {
    this.level = perMinute;
    this.last = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    if (now > this.last) {
      this.level = Math.min(this.perMinute, this.level + ((now - this.last) * this.perMinute) / 60_000);
      this.last = now;
    }
  }

  /** whole units left now */
  remaining(): number {
    this.refill();
    return Math.max(0, Math.floor(this.level));
  }

  /** remaining() and resetMs() from one look at the clock: what the x-ratelimit-* headers say */
  state(): { left: number; resetMs: number } {
    this.refill();
    return { left: Math.max(0, Math.floor(this.level)), resetMs: Math.max(0, ((this.perMinute - this.level) * 60_000) / this.perMinute) };
  }

  /** ms until `cost` fits (0: it fits now); Infinity when it never can */
  waitFor(cost: number): number {
    if (cost > this.perMinute) return Infinity;
    this.refill();
    return this.level >= cost ? 0 : ((cost - this.level) * 60_000) / this.perMinute;
  }

  take(cost: number): void {
    this.refill();
    this.level -= cost;
  }

  /** gives back what a request reserved but did not use */
  refund(n: number): void {
    this.refill();
    this.level = Math.min(this.perMinute, this.level + n);
  }

  /** ms until the bucket is full again */
  resetMs(): number {
    this.refill();
    return Math.max(0, ((this.perMinute - this.level) * 60_000) / this.perMinute);
  }
}

/** "20ms", "1s", "6m0s", as OpenAI writes x-ratelimit-reset-*. */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const s = ms / 1000;
  const m = Math.floor(s / 60);
  const rest = Math.round((s - m * 60) * 1000) / 1000;
  return m > 0 ? `${m}m${rest}s` : `${rest}s`;
}
