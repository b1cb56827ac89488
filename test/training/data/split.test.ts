import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gather, seededSplit } from '../../../src/training/data/split.js';
import { Rng } from '../../../src/training/rng.js';

describe('seededSplit', () => {
  it('holds out the first round(n × testFraction) of an Rng(splitSeed) permutation', () => {
    const s = seededSplit(10, { testFraction: 0.3, splitSeed: 7 });
    const order = new Rng(7).permutation(10);
    assert.deepEqual([...s.test], [...order.subarray(0, 3)]);
    assert.deepEqual([...s.train], [...order.subarray(3)]);
    assert.equal(s.description, 'seeded shuffle (splitSeed 7), 30% test');
    assert.equal(seededSplit(1000, { testFraction: 1 / 3 }).description, 'seeded shuffle (splitSeed 0), 33.3% test');
    assert.equal(seededSplit(1000).test.length, 200);
  });

  it('keeps one example on each side of a tiny dataset, and refuses fewer than 2', () => {
    const two = seededSplit(2, { testFraction: 0.2 });
    assert.deepEqual([two.train.length, two.test.length], [1, 1]);
    const nine = seededSplit(3, { testFraction: 0.9 });
    assert.deepEqual([nine.train.length, nine.test.length], [1, 2]);
    assert.throws(() => seededSplit(1), /dataset has 1 examples; need at least 2 to split/);
    assert.throws(() => seededSplit(0), /dataset has 0 examples/);
    assert.throws(() => seededSplit(10, { testFraction: 0 }), /testFraction must be a number between 0 and 1 \(exclusive\), got 0/);
    assert.throws(() => seededSplit(10, { splitSeed: 'a' as never }), /splitSeed must be an integer, got "a"/);
  });
});

describe('gather', () => {
  it('copies the chosen rows, features and multi-float targets alike', () => {
    const ex = { n: 3, x: Float32Array.of(0, 0, 1, 1, 2, 2), y: Float32Array.of(10, 11, 20, 21, 30, 31) };
    const g = gather(ex, [2, 0], 2);
    assert.equal(g.n, 2);
    assert.deepEqual([...g.x], [2, 2, 0, 0]);
    assert.deepEqual([...g.y], [30, 31, 10, 11]);
  });
});
