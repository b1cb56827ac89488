// Mini-batches over one epoch. The last, smaller batch is yielded as it is: dropping it would skip
// examples every epoch (n mod batchSize of them, the same ones when unshuffled), and padding it would
// count repeated examples twice in the loss and the metrics.
import { invalid } from '../../core/errors.js';
import type { Rng } from '../rng.js';
import type { Examples } from './dataset.js';
import { gather } from './split.js';

export interface Batch {
  /** size × featureSize features, a fresh copy */
  readonly x: Float32Array;
  /** size class ids, or size × targetSize regression targets, a fresh copy */
  readonly y: Int32Array | Float32Array;
  /** rows in this batch: batchSize, or fewer for the last one */
  readonly size: number;
  /** which rows of `ex` the batch holds, in batch order */
  readonly indices: Uint32Array;
}

/**
 * One epoch of batches, shuffled by `rng` (one permutation per call) or in order when it is null.
 *
 *   for (const b of batches(ds.train, 784, 32, rng)) step(b.x, b.y, b.size);
 */
export function* batches(ex: Examples, featureSize: number, batchSize: number, rng: Rng | null): Generator<Batch> {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalid(`batchSize must be a whole number of at least 1, got ${JSON.stringify(batchSize)}; send e.g. "batchSize": 32`);
  if (ex.x.length !== ex.n * featureSize) throw new RangeError(`examples hold ${ex.x.length} floats, not n × featureSize = ${ex.n} × ${featureSize}`);
  let order: Uint32Array;
  if (rng) order = rng.permutation(ex.n);
  else {
    order = new Uint32Array(ex.n);
    for (let i = 0; i < ex.n; i++) order[i] = i;
  }
  for (let start = 0; start < ex.n; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    const { x, y } = gather(ex, indices, featureSize);
    yield { x, y, size: indices.length, indices };
  }
}
