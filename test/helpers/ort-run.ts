// What the optimize tests share for checking a transformed model against its original: run it
// through onnxruntime-node and read its first output, seeded inputs, and top-1 accuracy.
import ort from 'onnxruntime-node';
import { seededRandom } from '../fixtures/models.js';

/** The model's first output for `feeds`, in a session made and released for this one run. */
export async function runFirstOutput(model: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model, { logSeverityLevel: 4 });
  try {
    return (await session.run(feeds))[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** n numbers uniform in [lo, hi), the same for the same seed. */
export function seededFloats(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  const r = seededRandom(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/** Percent of rows whose largest of `classes` scores is at the label's index. */
export function top1Accuracy(scores: Float32Array, labels: ArrayLike<number>, rows: number, classes = 10): number {
  let right = 0;
  for (let i = 0; i < rows; i++) {
    const row = scores.subarray(i * classes, (i + 1) * classes);
    if (row.indexOf(Math.max(...row)) === labels[i]) right++;
  }
  return (100 * right) / rows;
}
