// A clock the test moves by hand: timers fire only inside advance(), deferred work runs on the
// microtask queue. No sleeps, no dependence on machine speed.
import type { Clock, TimerHandle } from '../../src/core/clock.js';

interface Timer { id: number; at: number; fn: () => void }

export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: ++this.seq, at: this.t + Math.max(0, ms), fn };
    this.timers.push(timer);
    return { id: timer.id };
  }

  clearTimeout(h: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== h.id);
  }

  defer(fn: () => void): void {
    queueMicrotask(fn);
  }

  get pendingTimers(): number {
    return this.timers.length;
  }

  /** Moves time forward, firing due timers in order, and lets the work they start settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** Lets queued microtasks and promise chains run to completion (no wall-clock wait). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
