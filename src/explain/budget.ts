// How many rows of an input one run may carry. Integrated gradients and occlusion both build a batch
// of copies of the input per run; the input's size is the client's to choose when the model's
// shape is dynamic, so rows are bounded by floats, not only by count.

/** a few million floats per run: a 28×28 image fits 64 rows, a 128-token × 64-wide text too, a
 *  3×224×224 image 27, a 3×1024×1024 one 1 */
export const FLOATS_PER_RUN = 4 << 20;

/** At most `wanted` rows, and no more than FLOATS_PER_RUN floats — but always at least one row. */
export function rowsPerRun(size: number, wanted: number): number {
  return Math.max(1, Math.min(wanted, Math.floor(FLOATS_PER_RUN / Math.max(1, size))));
}
