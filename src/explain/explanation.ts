// What an explanation is, protocol-neutral: the V2 and OpenAI-style routes wrap these in their own
// envelopes. Shaped to be drawn without further work: attributions in the input's own shape, a
// heatmap of height × width, tokens with their character offsets into the text that was sent.
import type { Method } from './explain-params.js';
import type { ScoreSpace } from './gradient-model.js';
import type { Completeness } from './integrated-gradients.js';
import type { TokenSpan } from './token-spans.js';

export interface ClassRef {
  readonly index: number;
  readonly label?: string;
}

export interface ExplainedScore extends ClassRef {
  /** the model output the score is read from */
  readonly output: string;
  /** 'logit': the input of the Softmax (or an output named logits); 'probability'; 'output': neither */
  readonly space: ScoreSpace;
  /** the score at the input */
  readonly score: number;
  /** the score at the baseline (integrated gradients) */
  readonly baselineScore?: number;
}

export interface ExplanationBase {
  readonly method: Method;
  /** why integrated gradients were not used although the request left the method open */
  readonly fallbackReason?: string;
  readonly target: ExplainedScore;
  readonly predicted: ClassRef;
  /** integrated gradients: Σ attributions against score(input) − score(baseline) */
  readonly completeness?: Completeness;
  /** integrated gradients: the steps used (more than asked when refined for completeness) */
  readonly steps?: number;
  /** what the attributions are measured from; absent for text occlusion, which leaves tokens out instead */
  readonly baseline?: string | number;
  /** time spent computing, for usage records */
  readonly computeMs: number;
}

export interface TensorExplanation extends ExplanationBase {
  /** the input attributed to */
  readonly input: string;
  /** one number per input element, in the input's shape without its batch axis */
  readonly attributions: { readonly shape: readonly number[]; readonly data: Float32Array };
  /** one number per pixel: the sum over channels */
  readonly heatmap: { readonly height: number; readonly width: number; readonly data: Float32Array; readonly png?: string };
  /** occlusion: the patch side and stride used, and how many occluded copies ran */
  readonly occlusion?: { readonly patch: number; readonly stride: number; readonly patches: number };
}

export interface TokenScore extends TokenSpan {
  readonly score: number;
}

export interface TextExplanation extends ExplanationBase {
  readonly text: string;
  readonly tokens: readonly TokenScore[];
}

type Json<T> = { [K in keyof T]: T[K] extends Float32Array ? number[] : T[K] extends object ? Json<T[K]> : T[K] };

/** An explanation as JSON: typed arrays become plain arrays; the compute time stays with usage. */
export function explanationJson(e: TensorExplanation | TextExplanation): Json<Omit<TensorExplanation, 'computeMs'>> | Json<Omit<TextExplanation, 'computeMs'>> {
  const { computeMs: _ms, ...rest } = e;
  if (!('attributions' in rest)) return rest;
  return {
    ...rest,
    attributions: { shape: rest.attributions.shape, data: Array.from(rest.attributions.data) },
    heatmap: { ...rest.heatmap, data: Array.from(rest.heatmap.data) },
  } as Json<Omit<TensorExplanation, 'computeMs'>>;
}
