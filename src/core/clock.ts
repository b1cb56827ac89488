// Time is injected wherever behaviour depends on it, so the batcher, idle unloading and timeouts are
// tested with a fake clock instead of sleeps.
import { performance } from 'node:perf_hooks';

export interface TimerHandle {
  readonly id: unknown;
}

export interface Clock {
  /** milliseconds, monotonic, fractional */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** runs fn after the current I/O phase, so requests that arrive together can be batched together */
  defer(fn: () => void): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    // Node fires delays above 2^31 - 1 ms after 1 ms; clamp so a "very long" timeout stays long.
    const t = setTimeout(fn, Math.min(ms, 2 ** 31 - 1));
    t.unref();
    return { id: t };
  },
  clearTimeout: (h) => clearTimeout(h.id as NodeJS.Timeout),
  defer: (fn) => setImmediate(fn),
};
