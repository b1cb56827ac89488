import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { parseIdx } from '../../../src/training/data/idx.js';
import { loadDataset } from '../../../src/training/data/load.js';
import { idxBytes, scratch } from './support.js';

const tmp = scratch('idx');
after(tmp.remove);
const write = (name: string, bytes: Uint8Array) => {
  writeFileSync(path.join(tmp.dir, name), bytes);
  return name;
};

// n images of 2×3 pixels; pixel k of image i is 10·i + k, so first pixel × 255 / 10 tells which image
// a row of the split holds.
function images(n: number): Buffer {
  const px = Array.from({ length: n * 6 }, (_, k) => 10 * Math.floor(k / 6) + (k % 6));
  return idxBytes('ubyte', [n, 2, 3], px);
}
const labels = (ys: number[]) => idxBytes('ubyte', [ys.length], ys);

const invalidWith = (pattern: RegExp) => (e: Error & { code?: string }) => {
  assert.equal(e.code, 'INVALID_ARGUMENT');
  assert.match(e.message, pattern);
  return true;
};

describe('parseIdx', () => {
  it('reads every IDX dtype big-endian', () => {
    assert.deepEqual([...parseIdx(idxBytes('byte', [3], [-1, 0, 127]), 'f').data], [-1, 0, 127]);
    assert.deepEqual([...parseIdx(idxBytes('short', [2], [-300, 1000]), 'f').data], [-300, 1000]);
    assert.deepEqual([...parseIdx(idxBytes('int', [2], [-70000, 1 << 30]), 'f').data], [-70000, 1 << 30]);
    assert.deepEqual([...parseIdx(idxBytes('float', [2], [0.5, -2.25]), 'f').data], [0.5, -2.25]);
    const d = parseIdx(idxBytes('double', [1, 2], [Math.PI, -1e300]), 'f');
    assert.equal(d.dtype, 'double');
    assert.deepEqual(d.dims, [1, 2]);
    assert.deepEqual([...d.data], [Math.PI, -1e300]);
  });

  it('gunzips when the bytes start with the gzip magic', () => {
    const plain = idxBytes('int', [2, 2], [1, 2, 3, -4]);
    assert.deepEqual([...parseIdx(gzipSync(plain), 'f.gz').data], [1, 2, 3, -4]);
  });

  it('says what is wrong with a file that is not IDX', () => {
    assert.throws(() => parseIdx(Buffer.from('PK\x03\x04zip'), 'a.zip'), invalidWith(/a.zip is not an IDX file: it should start with the bytes 00 00 <dtype> <rank>/));
    assert.throws(() => parseIdx(Buffer.from([0, 0, 0x0a, 1, 0, 0, 0, 0]), 'b'), invalidWith(/unknown dtype byte 0x0a/));
    assert.throws(() => parseIdx(Buffer.from([0, 0, 8, 0]), 'c'), invalidWith(/declares 0 dimensions/));
    assert.throws(() => parseIdx(Buffer.from([0, 0, 8, 3, 0, 0]), 'd'), invalidWith(/declares 3 dimensions but ends after 6 bytes/));
    const truncated = idxBytes('ubyte', [4, 2], [1, 2, 3, 4, 5, 6, 7, 8]).subarray(0, 16);
    assert.throws(() => parseIdx(truncated, 'e'), invalidWith(/e declares dimensions \[4, 2\] of ubyte \(20 bytes with the header\) but has 16 bytes/));
    const badGzip = gzipSync(idxBytes('ubyte', [1], [1])).subarray(0, 12);
    assert.throws(() => parseIdx(badGzip, 'f.gz'), invalidWith(/f.gz starts like a gzip file but does not decompress/));
  });
});

describe('idx datasets', () => {
  const imgs = write('imgs.idx', images(10));
  const labs = write('labs.idx', labels([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]));

  it('scales ubyte pixels to [0, 1], keeps [h, w] and splits 80/20 by default', async () => {
    const ds = await loadDataset({ type: 'idx', images: imgs, labels: labs }, { baseDir: tmp.dir });
    assert.equal(ds.name, 'imgs.idx');
    assert.deepEqual(ds.featureShape, [2, 3]);
    assert.deepEqual(ds.classes, ['0', '1', '2']);
    assert.equal(ds.train.n, 8);
    assert.equal(ds.test.n, 2);
    assert.deepEqual(ds.record, { type: 'idx', source: path.join(tmp.dir, imgs), trainSize: 8, testSize: 2, split: 'seeded shuffle (splitSeed 0), 20% test' });
    // Every image lands in exactly one side, with its own label and pixels.
    const seen: number[] = [];
    for (const side of [ds.train, ds.test]) {
      for (let r = 0; r < side.n; r++) {
        const i = Math.round((side.x[r * 6]! * 255) / 10);
        seen.push(i);
        assert.equal(side.y[r], [0, 1, 2][i % 3]);
        assert.ok(Math.abs(side.x[r * 6 + 5]! - (10 * i + 5) / 255) < 1e-6);
      }
    }
    assert.deepEqual(seen.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('reads gzipped files to the same examples', async () => {
    const gz = await loadDataset({ type: 'idx', images: write('imgs.idx.gz', gzipSync(images(10))), labels: write('labs.gz', gzipSync(labels([0, 1, 2, 0, 1, 2, 0, 1, 2, 0]))) }, { baseDir: tmp.dir });
    const plain = await loadDataset({ type: 'idx', images: imgs, labels: labs }, { baseDir: tmp.dir });
    assert.deepEqual(gz.train.x, plain.train.x);
    assert.deepEqual(gz.test.y, plain.test.y);
  });

  it('the same splitSeed gives the same split; testFraction sets its size', async () => {
    const a = await loadDataset({ type: 'idx', images: imgs, labels: labs, splitSeed: 3, testFraction: 0.3 }, { baseDir: tmp.dir });
    const b = await loadDataset({ type: 'idx', images: imgs, labels: labs, splitSeed: 3, testFraction: 0.3 }, { baseDir: tmp.dir });
    const c = await loadDataset({ type: 'idx', images: imgs, labels: labs, splitSeed: 4, testFraction: 0.3 }, { baseDir: tmp.dir });
    assert.equal(a.test.n, 3);
    assert.equal(a.record.split, 'seeded shuffle (splitSeed 3), 30% test');
    assert.deepEqual(a.test.x, b.test.x);
    assert.notDeepEqual(a.test.x, c.test.x);
  });

  it('uses test files as the test set when given, with classes up to the largest label in either', async () => {
    const ds = await loadDataset({
      type: 'idx', images: imgs, labels: labs,
      testImages: write('t-imgs', images(3)), testLabels: write('t-labs', labels([4, 0, 1])),
    }, { baseDir: tmp.dir });
    assert.equal(ds.train.n, 10);
    assert.equal(ds.test.n, 3);
    assert.deepEqual([...ds.test.y], [4, 0, 1]);
    assert.deepEqual(ds.classes, ['0', '1', '2', '3', '4']);
    assert.equal(ds.record.split, `separate test files (${path.join(tmp.dir, 't-imgs')})`);
  });

  it('keeps float pixels as they are', async () => {
    const ds = await loadDataset({ type: 'idx', images: write('f.idx', idxBytes('float', [2, 2], [0.5, 3, -1, 2])), labels: write('fl.idx', labels([1, 0])), testFraction: 0.5 }, { baseDir: tmp.dir });
    assert.deepEqual([...ds.train.x, ...ds.test.x].sort(), [-1, 0.5, 2, 3]);
    assert.deepEqual(ds.featureShape, [2]);
  });

  it('names the files and the problem when images and labels do not fit together', async () => {
    const load = (spec: Record<string, unknown>) => loadDataset({ type: 'idx', images: imgs, labels: labs, ...spec } as never, { baseDir: tmp.dir });
    await assert.rejects(load({ labels: write('short', labels([0, 1])) }), invalidWith(/imgs.idx has 10 examples but labels file .*short has 2 labels/));
    await assert.rejects(load({ labels: write('rank2', idxBytes('ubyte', [5, 2], new Array(10).fill(0))) }), invalidWith(/labels file .*rank2 holds ubyte values of dimensions \[5, 2\]; send one integer class id per example/));
    await assert.rejects(load({ labels: write('neg', idxBytes('byte', [10], [0, 1, -1, 0, 0, 0, 0, 0, 0, 0])) }), invalidWith(/has label -1 at index 2/));
    await assert.rejects(load({ images: write('flat', idxBytes('ubyte', [10], new Array(10).fill(0))) }), invalidWith(/images file .*flat has dimensions \[10\]; send an IDX file of rank 2 or more/));
    await assert.rejects(load({ testImages: imgs }), invalidWith(/needs both testImages and testLabels/));
    await assert.rejects(load({ images: 'nope.idx' }), invalidWith(new RegExp(`images file ${path.join(tmp.dir, 'nope.idx').replace(/[.\\]/g, '\\$&')} does not exist`)));
    await assert.rejects(load({ testImages: write('t3', idxBytes('ubyte', [1, 3, 2], [0, 0, 0, 0, 0, 0])), testLabels: write('t3l', labels([0])) }), invalidWith(/test images .*t3 are \[3, 2\] per example but training images .*imgs.idx are \[2, 3\]/));
    await assert.rejects(load({ images: write('one', images(1)), labels: write('onel', labels([0])) }), invalidWith(/dataset has 1 examples; need at least 2 to split/));
    await assert.rejects(load({ testFraction: 1 }), invalidWith(/testFraction must be a number between 0 and 1/));
  });
});
