// What an explain request may ask for, the same for every protocol: V2 sends these as the request's
// `parameters`, the OpenAI-style endpoint as body fields. Checked here once, with messages that
// say what to send instead.
import { FerryError } from '../core/errors.js';
import { MAX_STEPS } from './integrated-gradients.js';

export const METHODS = ['integrated_gradients', 'occlusion'] as const;
export type Method = (typeof METHODS)[number];

export interface ExplainParams {
  /** undefined: integrated gradients when the model's graph allows it, else occlusion (and say why) */
  readonly method?: Method;
  /** class index or label; default the predicted class */
  readonly target?: number | string;
  /** integrated gradients' starting step count; default 50 */
  readonly steps: number;
  /** refine the steps while completeness is off by more than this fraction (of F(x) − F(baseline),
   *  or of a tenth of max(1, |F|) when that difference is tiny); 0 = exactly `steps` */
  readonly tolerance: number;
  /** 'zero' (default), a number every element takes, one value per input element, or for text 'pad' */
  readonly baseline: 'zero' | 'pad' | number | readonly number[];
  /** occlusion patch side and stride in pixels; default about a seventh of the image, and half that */
  readonly patch?: number;
  readonly stride?: number;
  /** the model output whose class score is explained; default logits */
  readonly output?: string;
  /** which input to attribute to, for models with several */
  readonly input?: string;
  /** add a PNG of the heatmap over the image, base64 */
  readonly overlay: boolean;
}

export const DEFAULT_STEPS = 50;
const KNOWN = ['method', 'target', 'steps', 'tolerance', 'baseline', 'patch', 'stride', 'output', 'input', 'overlay'];

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);
const show = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 60);

/** `ignore` lists keys that belong to the request but not to the explanation (V2's own parameters). */
export function parseExplainParams(raw: Readonly<Record<string, unknown>>, ignore: readonly string[] = []): ExplainParams {
  for (const k of Object.keys(raw)) {
    if (!KNOWN.includes(k) && !ignore.includes(k)) throw bad(`unknown explain parameter "${k.slice(0, 60)}"; known: ${KNOWN.join(', ')}`);
  }
  const { method, target, steps, tolerance, baseline, patch, stride, output, input, overlay } = raw;
  if (method !== undefined && method !== 'auto' && !METHODS.includes(method as Method)) {
    throw bad(`"method" must be "integrated_gradients" or "occlusion" (or leave it out to choose automatically); got ${show(method)}`);
  }
  if (target !== undefined && !(typeof target === 'string' || (Number.isInteger(target) && (target as number) >= 0))) {
    throw bad(`"target" must be a class index (0, 1, …) or a label; got ${show(target)}`);
  }
  if (steps !== undefined && !(Number.isInteger(steps) && (steps as number) >= 1 && (steps as number) <= MAX_STEPS)) {
    throw bad(`"steps" must be an integer from 1 to ${MAX_STEPS}; got ${show(steps)}`);
  }
  if (tolerance !== undefined && !(typeof tolerance === 'number' && tolerance >= 0 && tolerance < 1)) {
    throw bad(`"tolerance" must be a fraction from 0 (exactly "steps") to below 1; got ${show(tolerance)}`);
  }
  const baselineOk = baseline === undefined || baseline === 'zero' || baseline === 'pad' || (typeof baseline === 'number' && Number.isFinite(baseline))
    || (Array.isArray(baseline) && baseline.every((b) => typeof b === 'number' && Number.isFinite(b)));
  if (!baselineOk) throw bad(`"baseline" must be "zero", "pad" (text), a number, or one number per input element; got ${show(baseline)}`);
  for (const [k, v] of [['patch', patch], ['stride', stride]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 4096)) throw bad(`"${k}" must be a positive integer (pixels); got ${show(v)}`);
  }
  for (const [k, v] of [['output', output], ['input', input]] as const) {
    if (v !== undefined && (typeof v !== 'string' || v === '')) throw bad(`"${k}" must name one of the model's ${k}s; got ${show(v)}`);
  }
  if (overlay !== undefined && typeof overlay !== 'boolean') throw bad(`"overlay" must be true or false; got ${show(overlay)}`);
  return {
    ...(method !== undefined && method !== 'auto' ? { method: method as Method } : {}),
    ...(target !== undefined ? { target: target as number | string } : {}),
    steps: (steps as number | undefined) ?? DEFAULT_STEPS,
    tolerance: (tolerance as number | undefined) ?? 0.01,
    baseline: (baseline as ExplainParams['baseline'] | undefined) ?? 'zero',
    ...(patch !== undefined ? { patch: patch as number } : {}),
    ...(stride !== undefined ? { stride: stride as number } : {}),
    ...(output !== undefined ? { output: output as string } : {}),
    ...(input !== undefined ? { input: input as string } : {}),
    overlay: overlay === true,
  };
}

/** A class index from an index or a label. */
export function classIndex(target: number | string | undefined, classes: number, labels: readonly string[] | undefined): number | undefined {
  if (target === undefined) return undefined;
  if (typeof target === 'number') {
    if (target >= classes) throw bad(`"target" ${target} is out of range: this model has classes 0 to ${classes - 1}`);
    return target;
  }
  const i = labels?.indexOf(target) ?? -1;
  if (i < 0) {
    throw bad(labels && labels.length > 0
      ? `"target" ${show(target)} is not one of this model's labels: ${labels.slice(0, 20).map((l) => `"${l}"`).join(', ')}`
      : `"target" ${show(target)} is a label, but this model names no labels; send the class index`);
  }
  return i;
}
