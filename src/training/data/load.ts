// The one entry point from a dataset spec to examples in memory. Specs arrive from users (CLI flags,
// HTTP bodies), so their shape is checked here before any file is touched, and relative paths
// resolve against one base directory rather than wherever the server happened to start.
import path from 'node:path';
import { invalid } from '../../core/errors.js';
import type { Dataset, DatasetSpec } from './dataset.js';
import { loadIdx } from './idx.js';
import { loadImages } from './images.js';
import { preview } from './labels.js';
import { loadSpamAssassinLm } from './language-model.js';
import { loadMnist } from './mnist.js';
import { loadCsv, loadJsonl } from './tabular.js';
import { loadSkipGram, loadSpamText } from './text.js';

export const DATASET_TYPES: readonly DatasetSpec['type'][] = ['mnist', 'idx', 'jsonl', 'csv', 'images', 'spam-assassin', 'spam-assassin-lm', 'skipgram'];

export interface LoadOptions {
  /** where relative paths in the spec resolve; default process.cwd() */
  readonly baseDir?: string;
}

/**
 * Reads a dataset and splits it into train and test.
 *
 *   const ds = await loadDataset({ type: 'csv', path: 'iris.csv', label: 'species' }, { baseDir: '/data' });
 *   ds.classes;  // ['setosa', 'versicolor', 'virginica']
 */
export async function loadDataset(spec: DatasetSpec, opts: LoadOptions = {}): Promise<Dataset> {
  if (typeof spec !== 'object' || spec === null) throw invalid(`a dataset spec must be an object, got ${preview(spec)}; send e.g. {"type": "mnist"}`);
  const base = opts.baseDir ?? process.cwd();
  const file = (field: string, value: unknown): string => {
    if (typeof value !== 'string' || value === '') throw invalid(`${spec.type} dataset field "${field}" must be a path, got ${preview(value)}; send e.g. "${field}": "data/train.${spec.type === 'images' ? 'png' : spec.type}"`);
    return path.resolve(base, value);
  };
  const optional = (field: string, value: unknown) => (value === undefined ? undefined : file(field, value));
  switch (spec.type) {
    case 'mnist':
      return loadMnist(spec);
    case 'idx': {
      const images = file('images', spec.images);
      return loadIdx({ ...spec, images, labels: file('labels', spec.labels), testImages: optional('testImages', spec.testImages), testLabels: optional('testLabels', spec.testLabels) }, path.basename(images));
    }
    case 'jsonl':
      return loadJsonl({ ...spec, path: file('path', spec.path) });
    case 'csv':
      return loadCsv({ ...spec, path: file('path', spec.path) });
    case 'images':
      return loadImages({ ...spec, dir: file('dir', spec.dir) });
    case 'spam-assassin':
      return loadSpamText(spec);
    case 'spam-assassin-lm':
      return loadSpamAssassinLm(spec);
    case 'skipgram':
      return loadSkipGram(spec);
    default: {
      const type: unknown = (spec as { type?: unknown }).type;
      throw invalid(`unknown dataset type ${preview(type)}; send one of ${DATASET_TYPES.map((t) => `"${t}"`).join(', ')}`);
    }
  }
}
