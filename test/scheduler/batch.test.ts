import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { NamedTensors, Tensor } from '../../src/core/tensor.js';
import { batchKey, batchRows, mergeInputs, splitOutputs } from '../../src/scheduler/batch.js';

const f32 = (shape: number[], start = 0): Tensor => ({ dtype: 'FP32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => start + i) });
const text = (...s: string[]): Tensor => ({ dtype: 'BYTES', shape: [s.length, 1], data: s.map((x) => new TextEncoder().encode(x)) });

describe('batchKey', () => {
  it('matches requests with the same names, dtypes and non-batch dimensions, whatever their row counts', () => {
    assert.equal(batchKey({ a: f32([1, 3]), b: f32([1, 2]) }), batchKey({ b: f32([5, 2]), a: f32([5, 3]) }));
    assert.notEqual(batchKey({ a: f32([1, 3]) }), batchKey({ a: f32([1, 4]) }));
    assert.notEqual(batchKey({ a: f32([1, 3]) }), batchKey({ a: { dtype: 'FP64', shape: [1, 3], data: new Float64Array(3) } }));
    assert.notEqual(batchKey({ a: f32([1, 3]) }), batchKey({ c: f32([1, 3]) }));
  });
});

describe('batchRows', () => {
  it('is the shared first dimension, and refuses scalars and disagreeing inputs', () => {
    assert.equal(batchRows({ a: f32([4, 3]), b: f32([4]) }), 4);
    assert.throws(() => batchRows({ a: f32([]) }), /scalar/);
    assert.throws(() => batchRows({ a: f32([2, 3]), b: f32([3, 3]) }), /disagree/);
  });
});

describe('mergeInputs and splitOutputs', () => {
  it('concatenates rows in request order and gives each request back exactly its rows', () => {
    const reqs: NamedTensors[] = [{ x: f32([1, 2], 0), s: text('a') }, { x: f32([3, 2], 10), s: text('b', 'c', 'd') }, { x: f32([2, 2], 100), s: text('e', 'f') }];
    const merged = mergeInputs(reqs);
    assert.deepEqual(merged.x!.shape, [6, 2]);
    assert.deepEqual(Array.from(merged.x!.data as Float32Array), [0, 1, 10, 11, 12, 13, 14, 15, 100, 101, 102, 103]);
    assert.deepEqual((merged.s!.data as Uint8Array[]).map((b) => new TextDecoder().decode(b)), ['a', 'b', 'c', 'd', 'e', 'f']);
    // The "model" is the identity: splitting its output must give back each request's own input.
    const parts = splitOutputs(merged, [1, 3, 2]);
    parts.forEach((p, i) => {
      assert.deepEqual(p.x!.shape, reqs[i]!.x!.shape);
      assert.deepEqual(Array.from(p.x!.data as Float32Array), Array.from(reqs[i]!.x!.data as Float32Array));
      assert.deepEqual(p.s!.data, reqs[i]!.s!.data);
    });
  });

  it('passes a single request through untouched', () => {
    const one = { x: f32([2, 2]) };
    assert.equal(mergeInputs([one]), one);
    assert.deepEqual(splitOutputs(one, [2]), [one]);
  });

  it('refuses to split an output whose first dimension is not the batch', () => {
    assert.throws(() => splitOutputs({ y: f32([1, 4]) }, [2, 3]), /cannot be split per request/);
  });

  it('split(merge(requests)) is the identity for any row counts and widths', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 4 }), (rowCounts, width) => {
      let next = 0;
      const reqs = rowCounts.map((r) => {
        const t = f32([r, width], next);
        next += r * width;
        return { x: t };
      });
      const merged = mergeInputs(reqs);
      assert.equal(merged.x!.shape[0], rowCounts.reduce((a, b) => a + b, 0));
      splitOutputs(merged, rowCounts).forEach((p, i) => assert.deepEqual(Array.from(p.x!.data as Float32Array), Array.from(reqs[i]!.x.data as Float32Array)));
    }), { numRuns: 300 });
  });
});
