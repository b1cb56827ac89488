// Integrated gradients (Sundararajan et al., 2017): attribution_i = (x_i − x'_i) · ∫₀¹ ∂F(x' + α(x − x'))/∂x_i dα,
// the integral taken with the trapezoid rule over `steps` equal intervals. The trapezoid rule puts
// rows at α = 0 and α = 1, so the same runs that give the gradients also give F(baseline) and F(x),
// and completeness (Σ attributions = F(x) − F(x')) is checked without another run.
//
// When completeness is off by more than `tolerance`, the step count doubles — the new rows are the
// midpoints, so every gradient already computed is reused — until it holds or `maxSteps` is reached.
// Measured on mnist-cnn (zero baseline, 200 digits, logits): 50 steps leave 17 digits above 1%
// (worst 7.6%; these are digits whose logit barely moves from the blank image, so a small absolute
// error is a large relative one); refined, all 200 are within 1% (one needed 800 steps, most of
// the 17 needed 100). mnist-mlp is within 0.5% at 50 steps on all 200.
//
// A relative error means nothing when F(x) and F(x') are nearly equal: divided by ~0 it stays
// large however many steps run, and refinement went to REFINE_LIMIT for nothing. Below a floor of
// |F(x) − F(x')| (a tenth of max(1, |F(x)|, |F(x')|)) completeness is judged absolutely instead,
// against `tolerance` times that floor (1e-3 · max(1, |F|) at the default tolerance), and the result
// says so.
//
// Pure apart from `run`, which evaluates gradients for a batch of rows (an onnxruntime session in
// serving, anything in tests).
//
//   const r = await integratedGradients(x, run, { steps: 50, baseline: new Float32Array(x.length), classes: 10 });
//   r.completeness.relativeError  // |Σ r.attributions − (F(x) − F(x'))| / |F(x) − F(x')|
import { FerryError } from '../core/errors.js';
import { rowsPerRun } from './budget.js';
import { checkStop, type StopWhen } from './stop.js';

/** Gradients and class scores for `rows` inputs laid out back to back in `x`, with the class whose
 *  gradient is wanted given per row as one-hot rows of `target` [rows, classes]. */
export type GradientRun = (x: Float32Array, rows: number, target: Float32Array) => Promise<{ grad: Float32Array; scores: Float32Array }>;

export interface IgOptions {
  readonly steps: number;
  readonly baseline: Float32Array;
  readonly classes: number;
  /** the class to explain; default the one F(x) scores highest */
  readonly target?: number;
  /** refine while the completeness error is above this (a fraction); 0 = exactly `steps`. Default 0.01 */
  readonly tolerance?: number;
  /** the most steps refinement may reach; default REFINE_LIMIT */
  readonly maxSteps?: number;
  /** most rows per run: bounds memory, not results */
  readonly rowsPerRun?: number;
  /** checked before every run: a client gone or a time limit passed stops the work */
  readonly stop?: StopWhen;
}

export interface Completeness {
  /** Σ attributions */
  readonly sum: number;
  /** F(x) − F(baseline) for the target class */
  readonly outputDelta: number;
  /** |sum − outputDelta| / |outputDelta| */
  readonly relativeError: number;
  /** |sum − outputDelta| */
  readonly absoluteError: number;
  /** 'absolute' when |outputDelta| was too small for a relative error to mean anything: refinement
   *  then aimed at absoluteError ≤ tolerance · DELTA_FLOOR · max(1, |F(x)|, |F(x')|) */
  readonly judged: 'relative' | 'absolute';
}

export interface IgResult {
  readonly attributions: Float32Array;
  readonly target: number;
  /** every class's score at the input and at the baseline */
  readonly scores: Float32Array;
  readonly baselineScores: Float32Array;
  readonly completeness: Completeness;
  /** the steps the result was computed with (more than asked when refined) */
  readonly steps: number;
}

/** the most steps a request may ask for */
export const MAX_STEPS = 512;
/** the most steps refinement may reach (one digit of the 200 above needed 400 steps for 1.05%) */
export const REFINE_LIMIT = 1024;
/** below this fraction of max(1, |F(x)|, |F(x')|), |F(x) − F(x')| is judged absolutely (see above) */
export const DELTA_FLOOR = 0.1;

export async function integratedGradients(x: Float32Array, run: GradientRun, opts: IgOptions): Promise<IgResult> {
  const { steps, baseline, classes } = opts;
  const size = x.length;
  if (baseline.length !== size) throw new FerryError('INVALID_ARGUMENT', `the baseline has ${baseline.length} values but the input has ${size}`);
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS) throw new FerryError('INVALID_ARGUMENT', `"steps" must be an integer from 1 to ${MAX_STEPS}; got ${steps}`);
  const perRun = rowsPerRun(size, opts.rowsPerRun ?? 64);
  let m = steps;
  const check = () => checkStop(opts.stop, `ask for fewer "steps" (this one had reached ${m}), or "tolerance": 0 to keep to the steps asked for`);

  let target = opts.target;
  if (target === undefined) {
    check();
    // one row at the input, no gradient wanted (a zero target), to find the predicted class
    const { scores } = await run(x, 1, new Float32Array(classes));
    target = argmax(scores.subarray(0, classes));
  }
  if (!Number.isInteger(target) || target < 0 || target >= classes) {
    throw new FerryError('INVALID_ARGUMENT', `"target" must be a class index from 0 to ${classes - 1}; got ${target}`);
  }

  const diff = new Float32Array(size);
  for (let i = 0; i < size; i++) diff[i] = x[i]! - baseline[i]!;
  // the trapezoid sum kept as its two parts, so doubling the steps only adds the midpoints:
  // T_m = (ends + inner) / m, ends = (∇F(α=0) + ∇F(α=1)) / 2, inner = Σ ∇F at the interior points
  const ends = new Float64Array(size);
  const inner = new Float64Array(size);
  const scores = new Float32Array(classes);
  const baselineScores = new Float32Array(classes);
  const evaluate = async (alphas: readonly number[], into: (alpha: number) => Float64Array, weight: (alpha: number) => number) => {
    for (let first = 0; first < alphas.length; first += perRun) {
      check();
      const part = alphas.slice(first, first + perRun);
      const batch = new Float32Array(part.length * size);
      const onehot = new Float32Array(part.length * classes);
      part.forEach((alpha, r) => {
        const row = batch.subarray(r * size, (r + 1) * size);
        for (let i = 0; i < size; i++) row[i] = baseline[i]! + alpha * diff[i]!;
        onehot[r * classes + target!] = 1;
      });
      const out = await run(batch, part.length, onehot);
      part.forEach((alpha, r) => {
        const acc = into(alpha);
        const w = weight(alpha);
        const g = out.grad.subarray(r * size, (r + 1) * size);
        for (let i = 0; i < size; i++) acc[i]! += w * g[i]!;
        if (alpha === 0) baselineScores.set(out.scores.subarray(r * classes, (r + 1) * classes));
        if (alpha === 1) scores.set(out.scores.subarray(r * classes, (r + 1) * classes));
      });
    }
  };
  const isEnd = (a: number) => a === 0 || a === 1;
  await evaluate(Array.from({ length: steps + 1 }, (_, k) => k / steps), (a) => (isEnd(a) ? ends : inner), (a) => (isEnd(a) ? 0.5 : 1));

  const tolerance = opts.tolerance ?? 0.01;
  const maxSteps = Math.max(steps, opts.maxSteps ?? REFINE_LIMIT);
  const t = target;
  const judge = () => finish(diff, ends, inner, m, scores[t]!, baselineScores[t]!, tolerance);
  let result = judge();
  while (tolerance > 0 && !result.within && 2 * m <= maxSteps) {
    await evaluate(Array.from({ length: m }, (_, j) => (2 * j + 1) / (2 * m)), () => inner, () => 1);
    m *= 2;
    result = judge();
  }
  return { attributions: result.attributions, completeness: result.completeness, target, scores, baselineScores, steps: m };
}

function finish(diff: Float32Array, ends: Float64Array, inner: Float64Array, m: number, score: number, baselineScore: number, tolerance: number) {
  const attributions = new Float32Array(diff.length);
  let sum = 0;
  for (let i = 0; i < diff.length; i++) {
    const a = (diff[i]! * (ends[i]! + inner[i]!)) / m;
    attributions[i] = a;
    sum += a;
  }
  const outputDelta = score - baselineScore;
  const absoluteError = Math.abs(sum - outputDelta);
  const relativeError = absoluteError / Math.max(Math.abs(outputDelta), 1e-12);
  const floor = DELTA_FLOOR * Math.max(1, Math.abs(score), Math.abs(baselineScore));
  const judged = Math.abs(outputDelta) < floor ? 'absolute' : 'relative';
  const within = judged === 'relative' ? relativeError <= tolerance : absoluteError <= tolerance * floor;
  const completeness: Completeness = { sum, outputDelta, relativeError, absoluteError, judged };
  return { attributions, completeness, within };
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}
