// Gradient models, built once per model version (and explained output) and kept with their
// onnxruntime session: importing and differentiating a graph and opening a session cost tens of
// milliseconds (mnist-cnn: ~5 ms to build, ~3-35 ms to open), more than a 50-step explanation
// itself. A version is immutable, so an entry never goes stale; the least recently used is
// released past `capacity`. A graph that cannot be differentiated is remembered too, so every
// request for it falls back to occlusion without importing it again.
import { FerryError } from '../core/errors.js';
import { openGraphSession, type Session } from '../runtimes/onnx/session.js';
import { buildGradientModel, type GradientGraph, type GradientOptions } from './gradient-model.js';
import { UnsupportedGraphError } from './import-graph.js';

export type GradientEntry =
  | { readonly ok: true; readonly graph: GradientGraph; readonly session: Session }
  | { readonly ok: false; readonly error: UnsupportedGraphError };

interface Slot {
  readonly entry: Promise<GradientEntry>;
  /** explanations running on it: an evicted slot's session is released when the last one ends */
  users: number;
  evicted: boolean;
}

export class GradientCache {
  private readonly slots = new Map<string, Slot>();
  private closed = false;

  constructor(private readonly intraOpThreads: number, private readonly capacity = 8) {}

  /**
   * Runs `use` with the gradient model of a version. `key` names the version (name, version,
   * checksum); `load` reads its ONNX bytes when the model is not built yet.
   */
  async with<T>(key: string, load: () => Promise<Uint8Array>, opts: GradientOptions, use: (e: GradientEntry) => Promise<T>): Promise<T> {
    // after close() nothing would release a session opened now
    if (this.closed) throw new FerryError('UNAVAILABLE', 'the server is shutting down', { retryAfterSeconds: 1 });
    const full = `${key}|${opts.output ?? ''}|${opts.input ?? ''}|${opts.embeddingsOf ?? ''}`;
    let slot = this.slots.get(full);
    if (slot) {
      this.slots.delete(full); // re-inserted below: most recently used
    } else {
      slot = { entry: this.build(load, opts), users: 0, evicted: false };
      // a failure that is not about the graph (the file went missing) is not remembered
      const failed = slot;
      failed.entry.catch(() => {
        if (this.slots.get(full) === failed) this.slots.delete(full);
      });
    }
    this.slots.set(full, slot);
    while (this.slots.size > this.capacity) {
      const [oldest, old] = this.slots.entries().next().value!;
      this.slots.delete(oldest);
      old.evicted = true;
      if (old.users === 0) void release(old.entry);
    }
    slot.users++;
    try {
      return await use(await slot.entry);
    } finally {
      if (--slot.users === 0 && slot.evicted) void release(slot.entry);
    }
  }

  private async build(load: () => Promise<Uint8Array>, opts: GradientOptions): Promise<GradientEntry> {
    let graph: GradientGraph;
    try {
      graph = buildGradientModel(await load(), opts);
    } catch (err) {
      if (err instanceof UnsupportedGraphError) return { ok: false, error: err };
      throw err;
    }
    try {
      return { ok: true, graph, session: await openGraphSession(graph.bytes, { intraOpThreads: this.intraOpThreads }) };
    } catch (err) {
      // an import that onnxruntime does not accept (a type the tape widened, say): explain another way
      return { ok: false, error: new UnsupportedGraphError('onnxruntime', `onnxruntime refused the gradient model: ${(err as Error).message}`) };
    }
  }

  /** Releases every session once the explanations running on it have finished. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.slots.values()];
    this.slots.clear();
    for (const slot of all) {
      slot.evicted = true;
      if (slot.users === 0) await release(slot.entry);
    }
  }
}

async function release(p: Promise<GradientEntry>): Promise<void> {
  const e = await p.catch(() => undefined);
  if (e?.ok) await e.session.release();
}
