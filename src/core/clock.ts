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
    const t = setTimeout(fn, ms);
    t.unref();
    return { id: t };
  },
  clearTimeout: (h) => clearTimeout(h.id as NodeJS.Timeout),
  defer: (fn) => setImmediate(fn),
};
