// What every optimization run reports: file size, latency at batch 1 and 64, and accuracy on a
// held-out set, each for the original and the variant, measured on this machine in the same run.
//
// Latency: both models are loaded as the server loads them (onnxruntime, the server's intra-op
// thread count) and timed in alternating runs — original, variant, variant, original, … — so that
// whatever else the machine does (another model serving, a turbo clock) falls on both alike; each
// figure is the median of its runs. Accuracy: top-1 of the model's class output against the labels
// of the dataset's test split, the examples training never saw.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NamedTensors } from '../core/tensor.js';
import { decodeModel } from '../graph/onnx.js';
import { openSession, type Session } from '../runtimes/onnx/session.js';
import type { Signature } from '../runtimes/runtime.js';
import type { Examples } from '../training/data/dataset.js';
import { batchOf, type ModelInput } from './examples.js';

export interface SizeFigures {
  readonly originalBytes: number;
  readonly variantBytes: number;
  /** original / variant: 4 means four times smaller */
  readonly ratio: number;
  /** the stored weights (initializers) alone: what the transformation works on. The file also holds
   *  the graph and metadata (a text model's tokenizer: ~100 KB, which every variant stores
   *  brotli-compressed, compact-tokenizer.ts, so a text model's file ratio is partly that step) */
  readonly weights: { readonly originalBytes: number; readonly variantBytes: number; readonly ratio: number };
}

export interface LatencyFigure {
  readonly batch: number;
  /** median milliseconds per run */
  readonly originalMs: number;
  readonly variantMs: number;
  /** original / variant: 2 means twice as fast */
  readonly speedup: number;
  /** timed runs of each model */
  readonly runs: number;
}

export type AccuracyFigures =
  | {
    readonly measured: true;
    /** e.g. "mnist (test split, 2000 examples)" */
    readonly dataset: string;
    readonly examples: number;
    readonly original: number;
    readonly variant: number;
    /** (variant − original) × 100: negative is lost accuracy, in points */
    readonly deltaPoints: number;
  }
  | { readonly measured: false; readonly reason: string };

export interface StepReport {
  readonly transformation: string;
  readonly [detail: string]: unknown;
}

export interface OptimizationReport {
  readonly parent: { readonly model: string; readonly version: number };
  readonly transformation: string;
  readonly steps: readonly StepReport[];
  readonly size: SizeFigures;
  readonly latency: { readonly threads: number; readonly batches: readonly LatencyFigure[] };
  readonly accuracy: AccuracyFigures;
  readonly tolerancePoints: number;
  /** false: lost more than the tolerance; null: accuracy was not measured (so it is never deployed) */
  readonly withinTolerance: boolean | null;
  readonly seconds: number;
}

export interface LatencyOptions {
  readonly batches?: readonly number[];
  /** time spent per batch size, both models together, after the minimum runs; default 1000 ms */
  readonly budgetMs?: number;
  readonly minRuns?: number;
  readonly maxRuns?: number;
  readonly warmup?: number;
  /** milliseconds; injected so tests can pin it */
  readonly now?: () => number;
}

export function sizeFigures(original: Uint8Array, variant: Uint8Array): SizeFigures {
  const [a, b] = [weightBytes(original), weightBytes(variant)];
  return {
    originalBytes: original.length, variantBytes: variant.length, ratio: round(original.length / variant.length, 3),
    weights: { originalBytes: a, variantBytes: b, ratio: round(a / b, 3) },
  };
}

/** Bytes of tensor data in a model's initializers. */
export function weightBytes(bytes: Uint8Array): number {
  let n = 0;
  for (const t of decodeModel(bytes).graph?.initializer ?? []) {
    n += t.rawData?.length ?? 0;
    n += 4 * (t.floatData.length + t.int32Data.length) + 8 * (t.int64Data.length + t.doubleData.length + t.uint64Data.length);
    for (const s of t.stringData) n += s.length;
  }
  return n;
}

/** Whether the variant lost no more than `tolerance` points. */
export const withinTolerance = (a: AccuracyFigures, tolerancePoints: number): boolean | null =>
  // a hair of slack: 0.5 points written as a difference of two fractions is not always exactly 0.5
  (a.measured ? -a.deltaPoints <= tolerancePoints + 1e-9 : null);

/** Models loaded the way the server loads them (from a file, its thread count); `close` releases
 *  them and removes their files. */
export async function openModels(models: readonly Uint8Array[], threads: number): Promise<{ sessions: Session[]; close(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-optimize-'));
  const sessions: Session[] = [];
  const close = async () => {
    await Promise.all(sessions.map((s) => s.release()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const [i, bytes] of models.entries()) {
      const file = path.join(dir, `model-${i}.onnx`);
      await writeFile(file, bytes);
      sessions.push(await openSession(file, { intraOpThreads: threads }));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { sessions, close };
}

/** Median run time of each model at each batch size, in alternating runs. */
export async function measureLatency(original: Session, variant: Session, feeds: (batch: number) => NamedTensors, opts: LatencyOptions = {}): Promise<LatencyFigure[]> {
  const now = opts.now ?? (() => performance.now());
  const { budgetMs = 1000, minRuns = 10, maxRuns = 2000, warmup = 3 } = opts;
  const out: LatencyFigure[] = [];
  for (const batch of opts.batches ?? [1, 64]) {
    const f = feeds(batch);
    for (let i = 0; i < warmup; i++) {
      await original.run(f);
      await variant.run(f);
    }
    const times: [number[], number[]] = [[], []];
    const started = now();
    for (let r = 0; r < maxRuns && (r < minRuns || now() - started < budgetMs); r++) {
      // ABBA order: neither model always runs first, right after the other warmed the caches
      for (const which of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const t0 = now();
        await (which === 0 ? original : variant).run(f);
        times[which]!.push(now() - t0);
      }
    }
    const [a, b] = times.map(median) as [number, number];
    out.push({ batch, originalMs: round(a, 4), variantMs: round(b, 4), speedup: round(a / b, 3), runs: times[0].length });
  }
  return out;
}

/** The output that holds class scores: "logits", else "probabilities", else the first output whose
 *  last dimension is the number of classes. */
export function classOutput(sig: Signature, classes: number): string | undefined {
  for (const name of ['logits', 'probabilities']) if (sig.outputs.some((o) => o.name === name)) return name;
  return sig.outputs.find((o) => o.shape.at(-1) === classes)?.name;
}

/** Top-1 accuracy of the model's class output on labelled examples. */
export async function accuracyOf(session: Session, input: ModelInput, output: string, ex: Examples, batch = 250): Promise<number> {
  const labels = ex.y as Int32Array;
  let correct = 0;
  for (let start = 0; start < ex.n; start += batch) {
    const k = Math.min(batch, ex.n - start);
    const out = await session.run({ [input.name]: batchOf(input, ex, start, k) }, [output]);
    const scores = out[output]!.data as Float32Array;
    const classes = scores.length / k;
    for (let i = 0; i < k; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (scores[i * classes + c]! > scores[i * classes + best]!) best = c;
      if (best === labels[start + i]) correct++;
    }
  }
  return correct / ex.n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const round = (x: number, digits: number): number => Number(x.toFixed(digits));
