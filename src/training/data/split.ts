// One seeded train/test split for every source without its own test files. The shuffle has its own
// seed (splitSeed, default 0) rather than the training seed, so runs that differ only in their
// training seed are scored on the same held-out examples and their metrics can be compared.
import { invalid } from '../../core/errors.js';
import { Rng } from '../rng.js';
import type { Dataset, DatasetSpec, Examples, SplitOptions } from './dataset.js';

/** Every example of a source before the split. */
export interface Pool extends Examples {
  readonly featureShape: readonly number[];
  readonly classes?: readonly string[];
  readonly targetSize?: number;
}

export interface Split {
  readonly train: Uint32Array;
  readonly test: Uint32Array;
  /** how the split was made, for the training record */
  readonly description: string;
}

export const DEFAULT_TEST_FRACTION = 0.2;

/** The product of a shape's dimensions: the floats in one example. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function checkSplitSeed(seed: unknown): number {
  if (seed === undefined) return 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw invalid(`splitSeed must be an integer, got ${JSON.stringify(seed)}; send e.g. "splitSeed": 0`);
  }
  return seed;
}

/**
 * Shuffles 0..n-1 with Rng(splitSeed) and holds out the first round(n × testFraction) as test.
 * Both sides keep at least one example, so a tiny dataset still gets a test set to report on.
 *
 *   seededSplit(10, { testFraction: 0.3 })  // 7 train indices, 3 test, the same every call
 */
export function seededSplit(n: number, opts: SplitOptions = {}): Split {
  const fraction = opts.testFraction ?? DEFAULT_TEST_FRACTION;
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) {
    throw invalid(`testFraction must be a number between 0 and 1 (exclusive), got ${JSON.stringify(fraction)}; send e.g. "testFraction": 0.2`);
  }
  const seed = checkSplitSeed(opts.splitSeed);
  if (n < 2) throw invalid(`dataset has ${n} examples; need at least 2 to split into train and test`);
  const testSize = Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
  const order = new Rng(seed).permutation(n);
  const percent = Number((fraction * 100).toFixed(1));
  return {
    test: order.subarray(0, testSize),
    train: order.subarray(testSize),
    description: `seeded shuffle (splitSeed ${seed}), ${percent}% test`,
  };
}

/** Copies the rows at `indices` into fresh arrays; targets per row are y.length / n. */
export function gather(ex: Examples, indices: ArrayLike<number>, featureSize: number): Examples {
  const n = indices.length;
  const targetSize = ex.n === 0 ? 1 : ex.y.length / ex.n;
  const x = new Float32Array(n * featureSize);
  const y = ex.y instanceof Int32Array ? new Int32Array(n * targetSize) : new Float32Array(n * targetSize);
  for (let i = 0; i < n; i++) {
    const r = indices[i]!;
    x.set(ex.x.subarray(r * featureSize, (r + 1) * featureSize), i * featureSize);
    if (targetSize === 1) y[i] = ex.y[r]!;
    else y.set(ex.y.subarray(r * targetSize, (r + 1) * targetSize), i * targetSize);
  }
  return { n, x, y };
}

/** A pool split with seededSplit into a Dataset. */
export function splitPool(pool: Pool, meta: { name: string; type: DatasetSpec['type']; source: string }, opts: SplitOptions): Dataset {
  const split = seededSplit(pool.n, opts);
  const featureSize = sizeOf(pool.featureShape);
  const train = gather(pool, split.train, featureSize);
  const test = gather(pool, split.test, featureSize);
  return {
    name: meta.name,
    featureShape: pool.featureShape,
    ...(pool.classes ? { classes: pool.classes } : {}),
    ...(pool.targetSize !== undefined ? { targetSize: pool.targetSize } : {}),
    train,
    test,
    record: { type: meta.type, source: meta.source, trainSize: train.n, testSize: test.n, split: split.description },
  };
}
