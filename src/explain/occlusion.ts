// Occlusion (Zeiler & Fergus, 2014): slide a patch over the image, replace what it covers with the
// baseline, and see how much the class score drops. A pixel's attribution is the mean drop over the
// patches that cover it. It needs nothing but forward runs, so it explains any model — including
// ones with ops that have no gradient rule, and ones Ferry did not train.
//
// The per-example input is seen as an image: its last two axes are height and width and the axes
// before them are channels, which a patch covers all of; a flat vector whose length is a square
// (784 = 28²) is seen as a square greyscale image, any other vector as one row.
//
//   const geo = imageGeometry([1, 28, 28]);                 // { channels: 1, height: 28, width: 28 }
//   const r = await occlusion(x, baseline, geo, scoreRows, { patch: 4, stride: 2 });
import { FerryError } from '../core/errors.js';

export interface ImageGeometry {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

export interface Patch {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
}

/** Scores of one class for `rows` inputs laid out back to back in `batch`. */
export type ScoreRows = (batch: Float32Array, rows: number) => Promise<Float32Array>;

export interface OcclusionOptions {
  readonly patch: number;
  readonly stride: number;
}

export interface OcclusionResult {
  /** same layout as the input */
  readonly attributions: Float32Array;
  /** the class score of the input itself */
  readonly score: number;
  readonly patches: number;
}

/** the most occluded copies one request may cost */
export const MAX_PATCHES = 4096;

export function imageGeometry(shape: readonly number[]): ImageGeometry {
  if (shape.length === 0 || shape.some((d) => d < 1)) throw new FerryError('INVALID_ARGUMENT', `cannot explain an input of shape [${shape.join(', ')}]`);
  if (shape.length === 1) {
    const side = Math.round(Math.sqrt(shape[0]!));
    return side * side === shape[0] ? { channels: 1, height: side, width: side } : { channels: 1, height: 1, width: shape[0]! };
  }
  const channels = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { channels, height: shape.at(-2)!, width: shape.at(-1)! };
}

/** A patch about a seventh of the shorter side, moved by half of it: 4 and 2 on a 28×28 digit. */
export function defaultPatch(geo: ImageGeometry): OcclusionOptions {
  const side = geo.height === 1 ? geo.width : Math.min(geo.height, geo.width);
  const patch = Math.max(1, Math.round(side / 7));
  return { patch, stride: Math.max(1, Math.floor(patch / 2)) };
}

/** Patch positions along one axis: every `stride`, plus one flush with the far edge. */
function starts(size: number, patch: number, stride: number): number[] {
  const p = Math.min(patch, size);
  const out: number[] = [];
  for (let s = 0; s + p <= size; s += stride) out.push(s);
  if (out.at(-1) !== size - p) out.push(size - p);
  return out;
}

export function patches(geo: ImageGeometry, o: OcclusionOptions): Patch[] {
  for (const [k, v] of Object.entries(o)) {
    if (!Number.isInteger(v) || v < 1) throw new FerryError('INVALID_ARGUMENT', `"${k}" must be a positive integer; got ${JSON.stringify(v)}`);
  }
  const ph = Math.min(geo.height, o.patch);
  const pw = Math.min(geo.width, o.patch);
  const rows = starts(geo.height, ph, o.stride);
  const cols = starts(geo.width, pw, o.stride);
  if (rows.length * cols.length > MAX_PATCHES) {
    throw new FerryError('INVALID_ARGUMENT', `patch ${o.patch} with stride ${o.stride} makes ${rows.length * cols.length} occluded copies of this ${geo.height}×${geo.width} input; the limit is ${MAX_PATCHES}: use a larger patch or stride`);
  }
  return rows.flatMap((top) => cols.map((left) => ({ top, left, height: ph, width: pw })));
}

/** Copies `x` with one patch (all channels) taken from `baseline`. */
export function occlude(x: Float32Array, baseline: Float32Array, geo: ImageGeometry, p: Patch, into: Float32Array): void {
  into.set(x);
  const plane = geo.height * geo.width;
  for (let c = 0; c < geo.channels; c++) {
    for (let r = p.top; r < p.top + p.height; r++) {
      const from = c * plane + r * geo.width + p.left;
      into.set(baseline.subarray(from, from + p.width), from);
    }
  }
}

export async function occlusion(x: Float32Array, baseline: Float32Array, geo: ImageGeometry, score: ScoreRows, o: OcclusionOptions, rowsPerRun = 64): Promise<OcclusionResult> {
  const size = x.length;
  if (baseline.length !== size) throw new FerryError('INVALID_ARGUMENT', `the baseline has ${baseline.length} values but the input has ${size}`);
  const list = patches(geo, o);
  const base = (await score(x, 1))[0]!;
  const plane = geo.height * geo.width;
  const drop = new Float64Array(plane);
  const covered = new Uint32Array(plane);
  const per = Math.max(1, rowsPerRun);
  for (let first = 0; first < list.length; first += per) {
    const part = list.slice(first, first + per);
    const batch = new Float32Array(part.length * size);
    part.forEach((p, i) => occlude(x, baseline, geo, p, batch.subarray(i * size, (i + 1) * size)));
    const s = await score(batch, part.length);
    part.forEach((p, i) => {
      const d = base - s[i]!;
      for (let r = p.top; r < p.top + p.height; r++) {
        for (let c = p.left; c < p.left + p.width; c++) {
          drop[r * geo.width + c]! += d;
          covered[r * geo.width + c]!++;
        }
      }
    });
  }
  // a patch covers all channels together: each gets an equal share of the pixel's mean drop, so
  // the heatmap (the sum over channels) shows the drop itself
  const attributions = new Float32Array(size);
  for (let c = 0; c < geo.channels; c++) {
    for (let i = 0; i < plane; i++) attributions[c * plane + i] = covered[i]! > 0 ? drop[i]! / covered[i]! / geo.channels : 0;
  }
  return { attributions, score: base, patches: list.length };
}
