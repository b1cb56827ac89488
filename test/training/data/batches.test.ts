import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batches } from '../../../src/training/data/batches.js';
import type { Examples } from '../../../src/training/data/dataset.js';
import { Rng } from '../../../src/training/rng.js';

// Row i has features [i, 100 + i] and class i % 3, so every batch row can be checked against its index.
const n = 10;
const ex: Examples = {
  n,
  x: Float32Array.from({ length: 2 * n }, (_, k) => (k % 2 ? 100 : 0) + Math.floor(k / 2)),
  y: Int32Array.from({ length: n }, (_, i) => i % 3),
};

describe('batches', () => {
  it('covers every example once per epoch; the last, partial batch keeps its real size', () => {
    const all = [...batches(ex, 2, 4, new Rng(1))];
    assert.deepEqual(all.map((b) => b.size), [4, 4, 2]);
    assert.deepEqual(all.map((b) => b.x.length), [8, 8, 4]);
    assert.deepEqual(all.map((b) => b.y.length), [4, 4, 2]);
    const seen = all.flatMap((b) => [...b.indices]);
    assert.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const b of all) {
      b.indices.forEach((i, r) => {
        assert.deepEqual([b.x[2 * r], b.x[2 * r + 1]], [i, 100 + i]);
        assert.equal(b.y[r], i % 3);
      });
      assert.ok(b.y instanceof Int32Array);
    }
  });

  it('the same seed gives the same order, another seed another; null keeps file order', () => {
    const order = (rng: Rng | null) => [...batches(ex, 2, 3, rng)].flatMap((b) => [...b.indices]);
    assert.deepEqual(order(new Rng(5)), order(new Rng(5)));
    assert.notDeepEqual(order(new Rng(5)), order(new Rng(6)));
    assert.deepEqual(order(null), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // One rng across epochs draws a new order each epoch.
    const rng = new Rng(5);
    assert.notDeepEqual(order(rng), order(rng));
  });

  it('a batch larger than the data is one batch of everything', () => {
    const all = [...batches(ex, 2, 64, null)];
    assert.equal(all.length, 1);
    assert.equal(all[0]!.size, 10);
    assert.deepEqual(all[0]!.x, ex.x);
  });

  it('regression targets travel as rows of targetSize floats', () => {
    const reg: Examples = { n: 3, x: Float32Array.of(1, 2, 3), y: Float32Array.of(0.1, 0.2, 1.1, 1.2, 2.1, 2.2) };
    const [first, second] = [...batches(reg, 1, 2, null)];
    assert.ok(first!.y instanceof Float32Array);
    assert.deepEqual([...first!.y], [0.1, 0.2, 1.1, 1.2].map(Math.fround));
    assert.deepEqual([...second!.y], [2.1, 2.2].map(Math.fround));
    assert.equal(second!.size, 1);
  });

  it('batches are copies: writing to one leaves the examples alone', () => {
    const [b] = [...batches(ex, 2, 4, null)];
    b!.x.fill(-1);
    b!.y.fill(-1);
    assert.equal(ex.x[0], 0);
    assert.equal(ex.y[1], 1);
  });

  it('refuses a batch size that is not a positive integer', () => {
    assert.throws(() => [...batches(ex, 2, 0, null)], /batchSize must be a whole number of at least 1, got 0/);
    assert.throws(() => [...batches(ex, 2, 2.5, null)], /got 2.5/);
    assert.throws(() => [...batches(ex, 3, 2, null)], /examples hold 20 floats, not n × featureSize = 10 × 3/);
  });

  it('no examples, no batches', () => {
    assert.deepEqual([...batches({ n: 0, x: new Float32Array(0), y: new Int32Array(0) }, 4, 8, new Rng(0))], []);
  });
});
