// The IDX format MNIST, Fashion-MNIST and EMNIST are distributed in: a 4-byte magic (0, 0, dtype,
// rank), `rank` big-endian uint32 dimensions, then the values big-endian, row-major. The files
// usually come gzipped (train-images-idx3-ubyte.gz), so gzip is detected by its magic and undone.
import { gunzipSync } from 'node:zlib';
import { invalid } from '../../core/errors.js';
import type { Dataset, SplitOptions } from './dataset.js';
import { readBytes } from './read.js';
import { sizeOf, splitPool, type Pool } from './split.js';

export interface IdxArray {
  readonly dtype: IdxType;
  readonly dims: readonly number[];
  /** ubyte and byte as views of the file's bytes; wider types decoded to Float64Array */
  readonly data: Uint8Array | Int8Array | Float64Array;
}

export type IdxType = 'ubyte' | 'byte' | 'short' | 'int' | 'float' | 'double';

const TYPES: Readonly<Record<number, { name: IdxType; bytes: number }>> = {
  0x08: { name: 'ubyte', bytes: 1 },
  0x09: { name: 'byte', bytes: 1 },
  0x0b: { name: 'short', bytes: 2 },
  0x0c: { name: 'int', bytes: 4 },
  0x0d: { name: 'float', bytes: 4 },
  0x0e: { name: 'double', bytes: 8 },
};

/** Parses one IDX file's bytes, gunzipping first when they start with the gzip magic 1f 8b. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw invalid(`${file} starts like a gzip file but does not decompress (${(e as Error).message}); send the IDX file whole, gzipped or not`);
    }
  }
  const notIdx = `${file} is not an IDX file`;
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw invalid(`${notIdx}: it should start with the bytes 00 00 <dtype> <rank>; send e.g. train-images-idx3-ubyte(.gz)`);
  }
  const type = TYPES[bytes[2]!];
  if (!type) {
    throw invalid(`${notIdx}: unknown dtype byte 0x${bytes[2]!.toString(16).padStart(2, '0')}; IDX dtypes are 0x08 ubyte, 0x09 byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double`);
  }
  const rank = bytes[3]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = 4 + 4 * rank;
  if (rank === 0) throw invalid(`${notIdx}: its header declares 0 dimensions; send an IDX file of rank 1 or more`);
  if (bytes.length < start) throw invalid(`${notIdx}: its header declares ${rank} dimensions but ends after ${bytes.length} bytes`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const count = sizeOf(dims);
  const expected = start + count * type.bytes;
  if (bytes.length !== expected) {
    throw invalid(`${file} declares dimensions [${dims.join(', ')}] of ${type.name} (${expected} bytes with the header) but has ${bytes.length} bytes; the file is truncated or not what its header says`);
  }
  return { dtype: type.name, dims, data: decode(view, start, count, type.name) };
}

function decode(view: DataView, start: number, count: number, dtype: IdxType): IdxArray['data'] {
  switch (dtype) {
    case 'ubyte':
      return new Uint8Array(view.buffer, view.byteOffset + start, count);
    case 'byte':
      return new Int8Array(view.buffer, view.byteOffset + start, count);
    default: {
      // Multi-byte values are big-endian, so a typed-array view (host order) would be wrong.
      const out = new Float64Array(count);
      const read = { short: (o: number) => view.getInt16(o), int: (o: number) => view.getInt32(o), float: (o: number) => view.getFloat32(o), double: (o: number) => view.getFloat64(o) }[dtype];
      const size = dtype === 'short' ? 2 : dtype === 'double' ? 8 : 4;
      for (let i = 0; i < count; i++) out[i] = read(start + i * size);
      return out;
    }
  }
}

export interface IdxFiles extends SplitOptions {
  readonly images: string;
  readonly labels: string;
  readonly testImages?: string;
  readonly testLabels?: string;
}

/**
 * Images (rank ≥ 2: [n, ...featureShape]) with class labels (rank 1, integers ≥ 0). Ubyte pixels are
 * scaled to [0, 1]; other dtypes are kept as they are. Given test files, those are the test set;
 * otherwise a seeded split.
 *
 *   await loadIdx({ images: '/data/train-images-idx3-ubyte.gz', labels: '/data/train-labels-idx1-ubyte.gz' })
 */
export async function loadIdx(files: IdxFiles, name: string): Promise<Dataset> {
  if ((files.testImages === undefined) !== (files.testLabels === undefined)) {
    throw invalid('an idx dataset with a test set needs both testImages and testLabels; send both, or neither to split the training files');
  }
  const train = await readPair(files.images, files.labels);
  if (files.testImages === undefined || files.testLabels === undefined) {
    const classes = classNames(train.y);
    return splitPool({ ...train, classes }, { name, type: 'idx', source: files.images }, files);
  }
  const test = await readPair(files.testImages, files.testLabels);
  if (test.featureShape.join('x') !== train.featureShape.join('x')) {
    throw invalid(`test images ${files.testImages} are [${test.featureShape.join(', ')}] per example but training images ${files.images} are [${train.featureShape.join(', ')}]; send test images of the same size`);
  }
  const classes = classNames(train.y, test.y);
  return {
    name,
    featureShape: train.featureShape,
    classes,
    train: { n: train.n, x: train.x, y: train.y },
    test: { n: test.n, x: test.x, y: test.y },
    record: { type: 'idx', source: files.images, trainSize: train.n, testSize: test.n, split: `separate test files (${files.testImages})` },
  };
}

async function readPair(imagesFile: string, labelsFile: string): Promise<Pool & { y: Int32Array }> {
  const images = parseIdx(await readBytes(imagesFile, 'images file'), imagesFile);
  const labels = parseIdx(await readBytes(labelsFile, 'labels file'), labelsFile);
  if (images.dims.length < 2) {
    throw invalid(`images file ${imagesFile} has dimensions [${images.dims.join(', ')}]; send an IDX file of rank 2 or more, [examples, ...] e.g. [60000, 28, 28]`);
  }
  if (labels.dims.length !== 1 || labels.dtype === 'float' || labels.dtype === 'double') {
    throw invalid(`labels file ${labelsFile} holds ${labels.dtype} values of dimensions [${labels.dims.join(', ')}]; send one integer class id per example (rank 1, e.g. ubyte [60000])`);
  }
  const n = images.dims[0]!;
  if (labels.dims[0] !== n) {
    throw invalid(`images file ${imagesFile} has ${n} examples but labels file ${labelsFile} has ${labels.dims[0]} labels; send files with one label per image`);
  }
  if (n === 0) throw invalid(`images file ${imagesFile} has no examples; send a file with at least one`);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels.data[i]!;
    if (v < 0) throw invalid(`labels file ${labelsFile} has label ${v} at index ${i}; class ids must be 0 or more`);
    y[i] = v;
  }
  const x = Float32Array.from(images.data);
  if (images.dtype === 'ubyte') for (let i = 0; i < x.length; i++) x[i] /= 255;
  return { n, x, y, featureShape: images.dims.slice(1) };
}

/** '0' .. String(max label), so a class missing from one file still gets its id. */
function classNames(...labels: Int32Array[]): string[] {
  let max = 0;
  for (const ys of labels) for (const v of ys) max = Math.max(max, v);
  return Array.from({ length: max + 1 }, (_, i) => String(i));
}
