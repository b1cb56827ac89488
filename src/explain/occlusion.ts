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
import { rowsPerRun } from './budget.js';
import { checkStop, stopError, type StopWhen } from './stop.js';

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

export interface OcclusionRun {
  /** the most occluded copies scored at once; fewer when they would pass FLOATS_PER_RUN */
  readonly rowsPerRun?: number;
  /** checked before every run: a client gone or a time limit passed stops the work */
  readonly stop?: StopWhen;
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
/** the most input floats all the occluded copies of one request may add up to (patches × input
 *  size): each copy is written out and run through the model, so this bounds a request's work when
 *  a dynamic-shape model takes inputs of any size. A 3×224×224 image may have 1,783 copies (patch
 *  16, stride 8 makes 729), a 3×1024×1024 one 85. */
export const MAX_OCCLUDED_FLOATS = 1 << 28;

export function imageGeometry(shape: readonly number[]): ImageGeometry {
  if (shape.length === 0 || shape.some((d) => d < 1)) throw new FerryError('INVALID_ARGUMENT', `cannot explain an input of shape [${shape.join(', ')}]`);
  if (shape.length === 1) {
    const side = Math.round(Math.sqrt(shape[0]!));
    return side * side === shape[0] ? { channels: 1, height: side, width: side } : { channels: 1, height: 1, width: shape[0]! };
  }
  const channels = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return { channels, height: shape.at(-2)!, width: shape.at(-1)! };
}

/** A patch about a seventh of the shorter side, moved by half of it: 4 and 2 on a 28×28 digit —
 *  doubled while the copies would pass MAX_OCCLUDED_FLOATS (a 3×1024×1024 image: 292 and 146). */
export function defaultPatch(geo: ImageGeometry): OcclusionOptions {
  const side = geo.height === 1 ? geo.width : Math.min(geo.height, geo.width);
  const size = geo.channels * geo.height * geo.width;
  let patch = Math.max(1, Math.round(side / 7));
  const count = (p: number, s: number) => starts(geo.height, Math.min(p, geo.height), s).length * starts(geo.width, Math.min(p, geo.width), s).length;
  while (patch < side && count(patch, Math.max(1, Math.floor(patch / 2))) * size > MAX_OCCLUDED_FLOATS) patch *= 2;
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
  const count = rows.length * cols.length;
  if (count > MAX_PATCHES) {
    throw new FerryError('INVALID_ARGUMENT', `patch ${o.patch} with stride ${o.stride} makes ${count} occluded copies of this ${geo.height}×${geo.width} input; the limit is ${MAX_PATCHES}: use a larger patch or stride`);
  }
  const size = geo.channels * geo.height * geo.width;
  if (count * size > MAX_OCCLUDED_FLOATS) {
    const most = Math.floor(MAX_OCCLUDED_FLOATS / size);
    throw new FerryError('INVALID_ARGUMENT', `patch ${o.patch} with stride ${o.stride} makes ${count} occluded copies of this ${geo.channels}×${geo.height}×${geo.width} input; an input this large allows at most ${most}: send a larger "patch" or "stride"`);
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

export async function occlusion(x: Float32Array, baseline: Float32Array, geo: ImageGeometry, score: ScoreRows, o: OcclusionOptions, run: OcclusionRun = {}): Promise<OcclusionResult> {
  const size = x.length;
  if (baseline.length !== size) throw new FerryError('INVALID_ARGUMENT', `the baseline has ${baseline.length} values but the input has ${size}`);
  const list = patches(geo, o);
  let done = 0;
  const hint = () => `patch ${o.patch} with stride ${o.stride} makes ${list.length} occluded copies (${done} were scored): send a larger "patch" or "stride"`;
  // a run that fails because the signal was aborted (the model pool drops a cancelled request) fails
  // for the reason the signal gives
  const scored = (batch: Float32Array, rows: number) => score(batch, rows).catch((err: unknown) => {
    throw stopError(run.stop, hint()) ?? err;
  });
  checkStop(run.stop, hint());
  const base = (await scored(x, 1))[0]!;
  const plane = geo.height * geo.width;
  const drop = new Float64Array(plane);
  const covered = new Uint32Array(plane);
  const per = rowsPerRun(size, run.rowsPerRun ?? 64);
  for (let first = 0; first < list.length; first += per) {
    checkStop(run.stop, hint());
    const part = list.slice(first, first + per);
    const batch = new Float32Array(part.length * size);
    part.forEach((p, i) => occlude(x, baseline, geo, p, batch.subarray(i * size, (i + 1) * size)));
    const s = await scored(batch, part.length);
    done += part.length;
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
