import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Dataset } from '../../../src/training/data/dataset.js';
import { loadDataset } from '../../../src/training/data/load.js';
import { scratch } from './support.js';

const tmp = scratch('images');
after(tmp.remove);

const invalidWith = (pattern: RegExp) => (e: Error & { code?: string }) => {
  assert.equal(e.code, 'INVALID_ARGUMENT');
  assert.match(e.message, pattern);
  return true;
};

async function solid(file: string, rgb: [number, number, number], alpha = false, width = 8, height = 6): Promise<void> {
  mkdirSync(path.dirname(file), { recursive: true });
  const background = alpha ? { r: rgb[0], g: rgb[1], b: rgb[2], alpha: 0.5 } : { r: rgb[0], g: rgb[1], b: rgb[2] };
  const img = sharp({ create: { width, height, channels: alpha ? 4 : 3, background } });
  await (file.endsWith('.jpg') ? img.jpeg({ quality: 100 }) : img.png()).toFile(file);
}

/** The class id and per-channel means of every example, both sides of the split. */
function examples(ds: Dataset): { label: number; means: number[] }[] {
  const [c, h, w] = ds.featureShape as [number, number, number];
  const plane = h * w;
  return [ds.train, ds.test].flatMap((s) => Array.from({ length: s.n }, (_, r) => ({
    label: s.y[r]!,
    means: Array.from({ length: c }, (_, k) => s.x.subarray((r * c + k) * plane, (r * c + k + 1) * plane).reduce((a, b) => a + b, 0) / plane),
  })));
}

describe('image folder datasets', () => {
  const pets = path.join(tmp.dir, 'pets');
  before(async () => {
    await Promise.all([
      solid(path.join(pets, 'cat', 'a.png'), [255, 0, 0]),
      solid(path.join(pets, 'cat', 'b.PNG'), [255, 0, 0], true),
      solid(path.join(pets, 'cat', 'c.jpg'), [255, 0, 0]),
      solid(path.join(pets, 'dog', 'a.png'), [0, 0, 255]),
      solid(path.join(pets, 'dog', 'b.png'), [0, 0, 255]),
    ]);
    writeFileSync(path.join(pets, 'dog', 'README.txt'), 'not an image');
    mkdirSync(path.join(pets, '.cache'));
  });

  it('sub-folders are the classes; images become [3, H, W] floats in [0, 1], alpha dropped', async () => {
    const ds = await loadDataset({ type: 'images', dir: 'pets', width: 4, height: 3 }, { baseDir: tmp.dir });
    assert.equal(ds.name, 'pets');
    assert.deepEqual(ds.classes, ['cat', 'dog']);
    assert.deepEqual(ds.featureShape, [3, 3, 4]);
    assert.deepEqual([ds.train.n, ds.test.n], [4, 1]);
    assert.equal(ds.train.x.length, 4 * 36);
    assert.deepEqual(ds.record, { type: 'images', source: pets, trainSize: 4, testSize: 1, split: 'seeded shuffle (splitSeed 0), 20% test' });
    const all = examples(ds);
    assert.deepEqual(all.map((e) => e.label).sort(), [0, 0, 0, 1, 1]);
    for (const { label, means } of all) {
      // JPEG may shift a solid colour by a level or two.
      const want = label === 0 ? [1, 0, 0] : [0, 0, 1];
      means.forEach((m, k) => assert.ok(Math.abs(m - want[k]!) < 0.02, `class ${label} channel ${k}: ${m}`));
    }
  });

  it('channels 1 decodes to one grey plane', async () => {
    const grey = path.join(tmp.dir, 'grey');
    await Promise.all([solid(path.join(grey, 'light', '1.png'), [200, 200, 200]), solid(path.join(grey, 'dark', '1.webp'), [40, 40, 40])]);
    await sharp({ create: { width: 3, height: 3, channels: 3, background: { r: 40, g: 40, b: 40 } } }).gif().toFile(path.join(grey, 'dark', '2.gif'));
    const ds = await loadDataset({ type: 'images', dir: grey, width: 2, height: 2, channels: 1 });
    assert.deepEqual(ds.classes, ['dark', 'light']);
    assert.deepEqual(ds.featureShape, [1, 2, 2]);
    for (const { label, means } of examples(ds)) assert.ok(Math.abs(means[0]! - (label === 0 ? 40 : 200) / 255) < 0.02, `class ${label}: ${means[0]}`);
  });

  it('a one-channel PNG loaded as RGB repeats its grey in all three planes', async () => {
    const dir = path.join(tmp.dir, 'bw');
    mkdirSync(path.join(dir, 'g'), { recursive: true });
    const png = sharp({ create: { width: 3, height: 3, channels: 3, background: { r: 90, g: 90, b: 90 } } }).toColourspace('b-w').png();
    await Promise.all(['1.png', '2.png'].map((f) => png.clone().toFile(path.join(dir, 'g', f))));
    assert.equal((await sharp(path.join(dir, 'g', '1.png')).metadata()).channels, 1);
    const ds = await loadDataset({ type: 'images', dir, width: 2, height: 2 });
    assert.deepEqual([...ds.test.x], new Array(12).fill(90 / 255).map(Math.fround));
  });

  it('keeps pixels in place: channels first, rows then columns', async () => {
    // Left half red, right half green, 4 wide and 2 high, loaded without resizing.
    const dir = path.join(tmp.dir, 'halves');
    mkdirSync(path.join(dir, 'only'), { recursive: true });
    const px = Buffer.alloc(4 * 2 * 3);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) px[(y * 4 + x) * 3 + (x < 2 ? 0 : 1)] = 255;
    for (const f of ['1.png', '2.png']) await sharp(px, { raw: { width: 4, height: 2, channels: 3 } }).png().toFile(path.join(dir, 'only', f));
    const ds = await loadDataset({ type: 'images', dir, width: 4, height: 2, testFraction: 0.5 });
    assert.deepEqual([...ds.train.x], [
      1, 1, 0, 0, 1, 1, 0, 0, // red plane
      0, 0, 1, 1, 0, 0, 1, 1, // green plane
      0, 0, 0, 0, 0, 0, 0, 0, // blue plane
    ]);
  });

  it('names the folder or file that is wrong', async () => {
    const bad = path.join(tmp.dir, 'bad');
    mkdirSync(path.join(bad, 'empty'), { recursive: true });
    await solid(path.join(bad, 'full', 'a.png'), [1, 2, 3]);
    await assert.rejects(loadDataset({ type: 'images', dir: bad, width: 2, height: 2 }), invalidWith(new RegExp(`class folder ${path.join(bad, 'empty')} has no images`)));

    const broken = path.join(tmp.dir, 'broken');
    await solid(path.join(broken, 'a', '1.png'), [1, 2, 3]);
    mkdirSync(path.join(broken, 'b'));
    writeFileSync(path.join(broken, 'b', 'fake.png'), 'this is text');
    await assert.rejects(loadDataset({ type: 'images', dir: broken, width: 2, height: 2 }), invalidWith(new RegExp(`cannot decode image ${path.join(broken, 'b', 'fake.png')}`)));

    const flat = path.join(tmp.dir, 'flat');
    await solid(path.join(flat, 'x.png'), [1, 2, 3]);
    await assert.rejects(loadDataset({ type: 'images', dir: flat, width: 2, height: 2 }), invalidWith(/images folder .*flat has no class folders; send a folder with one sub-folder of images per class/));
    await assert.rejects(loadDataset({ type: 'images', dir: path.join(tmp.dir, 'nowhere'), width: 2, height: 2 }), invalidWith(/images folder .*nowhere does not exist/));
    await assert.rejects(loadDataset({ type: 'images', dir: pets, width: 0, height: 2 }), invalidWith(/images width must be a whole number of pixels from 1 to 4096, got 0/));
    await assert.rejects(loadDataset({ type: 'images', dir: pets, width: 2, height: 2, channels: 4 as never }), invalidWith(/channels must be 1 \(greyscale\) or 3 \(RGB\), got 4/));
  });
});
