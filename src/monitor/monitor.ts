// One place the serving path reports to; it fans out to Triton-style stats and Prometheus metrics.
import type { ExecutionReport, Timings } from '../scheduler/batcher.js';
import { Metrics } from './metrics.js';
import { ModelStats } from './stats.js';

export class Monitor {
  readonly stats: ModelStats;
  readonly metrics = new Metrics();

  constructor(wallNow: () => number = Date.now) {
    this.stats = new ModelStats(wallNow);
  }

  request(model: string, version: number, ok: boolean, totalMs: number, rows: number, timings?: Timings): void {
    this.stats.request(model, version, ok, totalMs, rows, timings);
    this.metrics.request(model, version, ok, totalMs, rows, timings);
  }

  execution(model: string, version: number, r: ExecutionReport): void {
    this.stats.execution(model, version, r);
    this.metrics.execution(model, version, r);
  }
}
