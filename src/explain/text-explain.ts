// Explaining one text of a text classifier: one score per token, with the token's span of the
// original string. Integrated gradients run over the token embeddings (ids cannot be interpolated):
// the path goes from the baseline embeddings to the text's own, with the ids — and so the padding
// mask and positions the model derives from them — held fixed, and a token's score is the sum of
// its embedding's attributions. Occlusion leaves one token out at a time: its characters are cut
// from the string and the rest goes through the served model as any request would.
import { FerryError } from '../core/errors.js';
import type { NamedTensors } from '../core/tensor.js';
import type { HfTokenizer } from '../text/hf-tokenizers.js';
import type { TextTokenizer } from '../text/tokenizer.js';
import type { ExplainContext } from './explain-service.js';
import { classIndex } from './explain-params.js';
import type { TextExplanation } from './explanation.js';
import { GRADIENT_OUTPUT, SCORES_OUTPUT, TARGET_INPUT } from './gradient-model.js';
import { describeBaseline } from './image-explain.js';
import { argmax, integratedGradients } from './integrated-gradients.js';
import { checkStop, stopError } from './stop.js';
import { tokenSpans, type TokenSpan } from './token-spans.js';

export interface TextFacts {
  readonly tokenizer: TextTokenizer;
  readonly hf: HfTokenizer;
  /** the graph input that takes token ids */
  readonly idsInput: string;
  readonly inputs: readonly string[];
  readonly maxLength?: number;
  readonly truncation: boolean;
}

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);
const utf8 = new TextEncoder();

/** The longest text explained. Occlusion builds one copy of the text per token and the offsets are
 *  worked out a character at a time, so without a bound one request body (64 MB by default) could
 *  hold the server's CPU and memory for minutes; per-token scores of a longer text are unreadable anyway. */
export const MAX_TEXT_CHARS = 32_768;
/** The most tokens explained (a model with no maxLength would otherwise take any number): every
 *  integrated-gradients step and every occlusion run costs a forward pass over all of them. */
export const MAX_TOKENS = 1024;
/** occlusion requests sent together, of the most rows the model batches each */
const OCCLUSION_WAVE = 4;

export async function explainText(ctx: ExplainContext, t: TextFacts, text: string): Promise<TextExplanation> {
  const started = performance.now();
  const { rec, facts, params } = ctx;
  if (text.trim() === '') throw bad('the text is empty; send at least one word');
  if (text.length > MAX_TEXT_CHARS) throw bad(`the text has ${text.length} characters; explanations take at most ${MAX_TEXT_CHARS}: send the passage you want explained`);
  const encoding = { maxLength: t.maxLength, truncation: t.truncation };
  const ids = t.tokenizer.encode(text, encoding).ids;
  if (ids.length > MAX_TOKENS) throw bad(`the text is ${ids.length} tokens; explanations take at most ${MAX_TOKENS}: send a shorter text`);
  const spans = tokenSpans(text, t.hf, ids.length);
  const label = (i: number) => (facts.labels?.[i] !== undefined ? { label: facts.labels[i] } : {});
  const done = (e: Omit<TextExplanation, 'text' | 'computeMs'>): TextExplanation => ({ ...e, text, computeMs: performance.now() - started });

  return ctx.choose({ embeddingsOf: t.idsInput, output: params.output }, {
    gradients: async ({ graph, session }) => {
      const emb = graph.embeddings!;
      const [n, d] = [ids.length, emb.dim];
      const x = new Float32Array(n * d);
      ids.forEach((id, i) => {
        if (id >= emb.rows) throw bad(`token id ${id} is past the model's embedding table of ${emb.rows} rows`);
        x.set(emb.table.subarray(id * d, (id + 1) * d), i * d);
      });
      const run = async (batch: Float32Array, rows: number, onehot: Float32Array) => {
        const feeds: NamedTensors = {
          [graph.wrt]: { dtype: 'FP32', shape: [rows, n, d], data: batch },
          [TARGET_INPUT]: { dtype: 'FP32', shape: [rows, graph.classes], data: onehot },
        };
        for (const p of graph.passThrough) feeds[p.name] = sideInput(p.name, t.idsInput, ids, rows);
        const out = await session.run(feeds, [GRADIENT_OUTPUT, SCORES_OUTPUT]);
        return { grad: out[GRADIENT_OUTPUT]!.data as Float32Array, scores: out[SCORES_OUTPUT]!.data as Float32Array };
      };
      const ig = await integratedGradients(x, run, {
        steps: params.steps, tolerance: params.tolerance, baseline: textBaseline(params.baseline, emb.table, t.tokenizer.padId, n, d),
        classes: graph.classes, target: classIndex(params.target, graph.classes, facts.labels), stop: ctx.stop,
      });
      const scores = spans.map((s, i) => {
        let sum = 0;
        for (let k = 0; k < d; k++) sum += ig.attributions[i * d + k]!;
        return { ...s, score: sum };
      });
      const predicted = argmax(ig.scores);
      return done({
        method: 'integrated_gradients', baseline: describeBaseline(params.baseline),
        target: { index: ig.target, ...label(ig.target), output: graph.score.output, space: graph.score.space, score: ig.scores[ig.target]!, baselineScore: ig.baselineScores[ig.target]! },
        predicted: { index: predicted, ...label(predicted) },
        completeness: ig.completeness, steps: ig.steps, tokens: scores,
      });
    },
    occlusion: async (fallbackReason) => {
      // A truncating model reads only the first tokens: a token left out of the whole text would pull
      // the first unread token in at the end, and its score would mix the two. Tokens are left out of
      // the part the model read instead, when that part alone gives the same ids (so the same score).
      const readEnd = spans.reduce((m, s) => Math.max(m, s.end ?? 0), 0);
      const prefix = text.slice(0, readEnd);
      const read = readEnd < text.length && sameIds(t.tokenizer.encode(prefix, encoding).ids, ids) ? prefix : text;
      const variants = spans.map((s) => (s.special || s.start === null ? undefined : leaveOut(read, s, t.hf)));
      const texts = [read, ...variants.filter((v): v is string => v !== undefined)];
      const maxRows = Math.max(1, await ctx.deps.maxRows(rec));
      // a few requests at a time, as image occlusion sends them, so a client that goes away or a
      // time limit that passes stops the rest unsent
      const hint = `leaving out each of ${texts.length - 1} tokens in turn: send a shorter text`;
      const all: number[] = [];
      for (let wave = 0; wave < texts.length; wave += OCCLUSION_WAVE * maxRows) {
        checkStop(ctx.stop, hint);
        const parts: Promise<Float32Array>[] = [];
        for (let first = wave; first < Math.min(texts.length, wave + OCCLUSION_WAVE * maxRows); first += maxRows) {
          const chunk = texts.slice(first, first + maxRows);
          const inputs: NamedTensors = { text: { dtype: 'BYTES', shape: [chunk.length], data: chunk.map((s) => utf8.encode(s)) } };
          parts.push(ctx.deps.infer(rec, inputs, ctx.stop.signal).then((r) => r.outputs['scores']!.data as Float32Array));
        }
        const got = await Promise.all(parts).catch((err: unknown) => {
          throw stopError(ctx.stop, hint) ?? err;
        });
        for (const p of got) all.push(...p);
      }
      const classes = all.length / texts.length;
      const target = classIndex(params.target, classes, facts.labels) ?? argmax(all.slice(0, classes));
      const base = all[target]!;
      let row = 1;
      const tokens = spans.map((s, i) => ({ ...s, score: variants[i] === undefined ? 0 : base - all[row++ * classes + target]! }));
      const predicted = argmax(all.slice(0, classes));
      return done({
        method: 'occlusion', ...(fallbackReason ? { fallbackReason } : {}),
        target: { index: target, ...label(target), output: 'scores', space: 'probability', score: base },
        predicted: { index: predicted, ...label(predicted) }, tokens,
      });
    },
  });
}

const sameIds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** The inputs besides the embeddings: the ids themselves, and the masks a tokenizer would send. */
function sideInput(name: string, idsInput: string, ids: readonly number[], rows: number): NamedTensors[string] {
  const shape = [rows, ids.length];
  const data = new BigInt64Array(rows * ids.length);
  if (name === idsInput) for (let r = 0; r < rows; r++) ids.forEach((id, i) => (data[r * ids.length + i] = BigInt(id)));
  else if (name === 'attention_mask') data.fill(1n);
  else if (name !== 'token_type_ids') throw bad(`the model reads input "${name}", which a text request cannot supply`);
  return { dtype: 'INT64', shape, data };
}

function textBaseline(b: string | number | readonly number[], table: Float32Array, padId: number, n: number, d: number): Float32Array {
  if (b === 'zero') return new Float32Array(n * d);
  if (b === 'pad') {
    const out = new Float32Array(n * d);
    for (let i = 0; i < n; i++) out.set(table.subarray(padId * d, (padId + 1) * d), i * d);
    return out;
  }
  if (typeof b === 'number') return new Float32Array(n * d).fill(b);
  if (typeof b === 'string' || b.length !== n * d) throw bad(`"baseline" for a text model is "zero" (default), "pad" (the padding token's embedding), a number, or ${n}×${d} numbers`);
  return Float32Array.from(b);
}

/**
 * The text without one token's characters. A text the model cannot take empty keeps the
 * tokenizer's unknown token in its place, so a one-word text can still be compared.
 */
function leaveOut(text: string, s: TokenSpan, hf: HfTokenizer): string {
  const rest = text.slice(0, s.start!) + text.slice(s.end!);
  if (rest.trim() !== '') return rest;
  const unk = hf.model?.unk_token_id;
  return (unk !== undefined ? hf.id_to_token(unk) : undefined) ?? '?';
}
