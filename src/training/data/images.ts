// A folder of images, one sub-folder per class (the torchvision ImageFolder layout), decoded and
// resized with sharp (src/images/codec.ts).
import path from 'node:path';
import { invalid } from '../../core/errors.js';
import { decodeImage } from '../../images/codec.js';
import type { Dataset, SplitOptions } from './dataset.js';
import { listDir } from './read.js';
import { splitPool } from './split.js';

export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp', '.gif'];

// sharp decodes on libuv's thread pool (4 threads by default); more in flight only holds more
// decoded images in memory at once.
const CONCURRENCY = 8;

export interface ImageFolder extends SplitOptions {
  readonly dir: string;
  readonly width: number;
  readonly height: number;
  /** 1: greyscale, 3: RGB (alpha dropped); default 3 */
  readonly channels?: 1 | 3;
}

/**
 * Classes are the sorted sub-folder names; features are channels-first [C, H, W] floats in [0, 1].
 *
 *   await loadImages({ dir: '/data/pets', width: 32, height: 32 })  // pets/cat/*.png, pets/dog/*.jpg
 */
export async function loadImages(src: ImageFolder): Promise<Dataset> {
  const { dir, width, height } = src;
  const channels = src.channels ?? 3;
  for (const [field, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isSafeInteger(v) || v < 1 || v > 4096) throw invalid(`images ${field} must be a whole number of pixels from 1 to 4096, got ${JSON.stringify(v)}; send e.g. "${field}": 32`);
  }
  if (channels !== 1 && channels !== 3) throw invalid(`images channels must be 1 (greyscale) or 3 (RGB), got ${JSON.stringify(channels)}`);

  // Hidden folders (.git, .ipynb_checkpoints) are not classes.
  const classes = (await listDir(dir, 'images folder')).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
  if (classes.length === 0) throw invalid(`images folder ${dir} has no class folders; send a folder with one sub-folder of images per class, e.g. ${dir}/cat/1.png`);
  const files: string[] = [];
  const labels: number[] = [];
  for (const [label, name] of classes.entries()) {
    const images = (await listDir(path.join(dir, name), 'class folder'))
      .filter((e) => e.isFile() && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase()))
      .map((e) => e.name)
      .sort();
    if (images.length === 0) throw invalid(`class folder ${path.join(dir, name)} has no images; add ${IMAGE_EXTENSIONS.join('/')} files, or remove the folder`);
    for (const f of images) {
      files.push(path.join(dir, name, f));
      labels.push(label);
    }
  }

  const size = channels * height * width;
  const x = new Float32Array(files.length * size);
  for (let start = 0; start < files.length; start += CONCURRENCY) {
    await Promise.all(files.slice(start, start + CONCURRENCY).map(async (file, k) => {
      x.set(await decodeImage(file, width, height, channels), (start + k) * size);
    }));
  }
  const pool = { n: files.length, x, y: Int32Array.from(labels), featureShape: [channels, height, width], classes };
  return splitPool(pool, { name: path.basename(dir), type: 'images', source: dir }, src);
}
