// Per-model statistics shaped like Triton's statistics extension, so tools written for Triton read them:
// counts and cumulative nanoseconds for success, fail, queue and compute input/infer/output, plus
// per-batch-size execution stats. Average batch size = inference_count / execution_count.
import type { ExecutionReport, Timings } from '../scheduler/batcher.js';

interface Duration { count: number; ns: number }
const dur = (): Duration => ({ count: 0, ns: 0 });
const add = (d: Duration, ms: number): void => {
  d.count++;
  d.ns += Math.round(ms * 1e6);
};

interface BatchStat { batch_size: number; compute_input: Duration; compute_infer: Duration; compute_output: Duration }

interface Entry {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: { success: Duration; fail: Duration; queue: Duration; compute_input: Duration; compute_infer: Duration; compute_output: Duration };
  batch_stats: Map<number, BatchStat>;
}

export type ModelStatsJson = Omit<Entry, 'batch_stats'> & { batch_stats: BatchStat[] };

const blank = (name: string, version: number): Entry => ({
  name, version: String(version), last_inference: 0, inference_count: 0, execution_count: 0,
  inference_stats: { success: dur(), fail: dur(), queue: dur(), compute_input: dur(), compute_infer: dur(), compute_output: dur() },
  batch_stats: new Map(),
});

const toJson = (e: Entry): ModelStatsJson => ({ ...e, batch_stats: [...e.batch_stats.values()].sort((a, b) => a.batch_size - b.batch_size) });

export class ModelStats {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly wallNow: () => number = Date.now) {}

  private entry(name: string, version: number): Entry {
    const key = `${name}\u0000${version}`;
    let e = this.entries.get(key);
    if (!e) {
      e = blank(name, version);
      this.entries.set(key, e);
    }
    return e;
  }

  /** One finished request. `rows` is what it contributed to its batch (Triton's inference count). */
  request(name: string, version: number, ok: boolean, totalMs: number, rows: number, timings?: Timings): void {
    const e = this.entry(name, version);
    const s = e.inference_stats;
    if (!ok) {
      add(s.fail, totalMs);
      return;
    }
    add(s.success, totalMs);
    e.inference_count += rows;
    e.last_inference = this.wallNow();
    if (timings) {
      add(s.queue, timings.queueMs);
      add(s.compute_input, timings.inputMs);
      add(s.compute_infer, timings.inferMs);
      add(s.compute_output, timings.outputMs);
    }
  }

  execution(name: string, version: number, r: ExecutionReport): void {
    if (!r.ok) return;
    const e = this.entry(name, version);
    e.execution_count++;
    let b = e.batch_stats.get(r.batchSize);
    if (!b) {
      b = { batch_size: r.batchSize, compute_input: dur(), compute_infer: dur(), compute_output: dur() };
      e.batch_stats.set(r.batchSize, b);
    }
    add(b.compute_input, r.timings.inputMs);
    add(b.compute_infer, r.timings.inferMs);
    add(b.compute_output, r.timings.outputMs);
  }

  /** Stats of one version; a version that has served nothing has every field, at zero. */
  of(name: string, version: number): ModelStatsJson {
    return toJson(this.entries.get(`${name}\u0000${version}`) ?? blank(name, version));
  }
}
