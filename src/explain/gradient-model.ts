// The gradient model for integrated gradients: the served graph imported onto the autodiff tape,
// one class score picked per row by a one-hot `explain_target` input, and its gradient with respect
// to the model input (or, for text, the token embeddings) emitted as one ONNX graph. It takes a
// batch of interpolated inputs and returns, per row, the gradient and the outputs — so one
// onnxruntime run gives a whole Riemann sum's worth of gradients.
//
// Which score: a model's logits when it has them (an output named `logits`, or the input of the
// Softmax that produces the requested output), not the probabilities. Softmax saturates: on a
// confident prediction the probability's gradient is near zero along most of the path and all the
// change happens in a short stretch, so a fixed number of Riemann steps misses it. Completeness is
// exact for either; the response says which one it reports.
import { FerryError } from '../core/errors.js';
import { decodeModel, type OnnxModel } from '../graph/onnx.js';
import { gradients } from '../training/autodiff/backward.js';
import { emitModel } from '../training/autodiff/emit.js';
import * as F from '../training/autodiff/fn.js';
import { RULES } from '../training/autodiff/rules.js';
import type { Tape, Value } from '../training/autodiff/tape.js';
import { importGraph, UnsupportedGraphError, type EmbeddingCut, type ImportedGraph } from './import-graph.js';

export const TARGET_INPUT = 'explain_target';
export const GRADIENT_OUTPUT = 'explain_gradient';
export const SCORES_OUTPUT = 'explain_output';

/** What the explained score is: the model output it comes from, and whether it is a logit. */
export interface ScoreSource {
  /** the graph output the user sees (e.g. 'probabilities') */
  readonly output: string;
  /** the value differentiated: the output itself, or the logits before its Softmax */
  readonly value: string;
  /** what `value` is */
  readonly space: ScoreSpace;
  /** what `output` itself is (occlusion reads the output as served) */
  readonly outputSpace: ScoreSpace;
}

export type ScoreSpace = 'logit' | 'probability' | 'output';

export interface GradientGraph {
  readonly bytes: Uint8Array;
  readonly score: ScoreSource;
  /** the gradient model's input that is interpolated */
  readonly wrt: string;
  /** its per-example shape (-1 where it varies) */
  readonly wrtShape: readonly number[];
  /** other inputs it reads (token ids, masks), fed unchanged */
  readonly passThrough: readonly { readonly name: string; readonly dtype: 'FP32' | 'INT64' | 'BOOL'; readonly shape: readonly number[] }[];
  readonly classes: number;
  /** for text: the embedding table the ids index */
  readonly embeddings?: Omit<EmbeddingCut, 'value'>;
}

export interface GradientOptions {
  /** the model output to explain; default `logits`, else the first output */
  readonly output?: string;
  /** the float input to attribute to, for models with several; the others are fed as they are */
  readonly input?: string;
  /** explain over the embeddings looked up at this int64 input instead of over a float input */
  readonly embeddingsOf?: string;
}

/** Chooses the score to differentiate: see the file comment for why logits. */
export function scoreSource(model: OnnxModel, requested?: string): ScoreSource {
  const g = model.graph!;
  const outputs = g.output.map((o) => o.name ?? '');
  if (requested !== undefined && !outputs.includes(requested)) {
    throw new FerryError('INVALID_ARGUMENT', `"output" "${requested.slice(0, 100)}" is not an output of this model; its outputs are ${outputs.map((o) => `"${o}"`).join(', ')}`);
  }
  const output = requested ?? (outputs.includes('logits') ? 'logits' : outputs[0]!);
  if (output === 'logits') return { output, value: output, space: 'logit', outputSpace: 'logit' };
  // follow Identity nodes back to a Softmax: its input is the logit
  const producer = new Map(g.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
  let name = output;
  for (let n = producer.get(name); n?.opType === 'Identity'; n = producer.get(name)) name = n.input[0]!;
  const node = producer.get(name);
  const outputSpace = node?.opType === 'Softmax' ? 'probability' : 'output';
  if (node?.opType === 'Softmax' && requested === undefined) return { output, value: node.input[0]!, space: 'logit', outputSpace };
  return { output, value: output, space: outputSpace, outputSpace };
}

/** Builds the gradient model; throws UnsupportedGraphError naming the op that stops it. */
export function buildGradientModel(bytes: Uint8Array, opts: GradientOptions = {}): GradientGraph {
  const model = decodeModel(bytes);
  const score = scoreSource(model, opts.output);
  const g = importGraph(model, { outputs: [score.value], embeddingsOf: opts.embeddingsOf });
  const y = g.values.get(score.value)!;
  if (y.rank !== 2 || y.dtype !== 'FP32') {
    throw new FerryError('INVALID_ARGUMENT', `output "${score.output}" is ${y.dtype} [${y.shape.join(', ')}]; explanations are for class scores [batch, classes]`);
  }
  const x = g.embeddings?.value ?? floatInput(g, opts.input);
  checkDifferentiable(g.tape, x, y);
  const tape = g.tape;
  const target = tape.input(TARGET_INPUT, [-1, y.shape[1]!]);
  const loss = F.sumAll(F.mul(y, target));
  let grad: Value;
  try {
    [grad] = gradients(loss, [x]) as [Value];
  } catch (err) {
    throw new UnsupportedGraphError('gradient', `the gradient could not be built: ${(err as Error).message}`);
  }
  let out: Uint8Array;
  try {
    out = emitModel(tape, {
      outputs: { [GRADIENT_OUTPUT]: grad, [SCORES_OUTPUT]: y },
      sequenceDim: x.rank >= 3 && x.shape[1]! < 0 ? 'sequence' : undefined,
      graphName: 'ferry_explain',
    });
  } catch (err) {
    throw new UnsupportedGraphError('gradient', `the gradient model could not be written: ${(err as Error).message}`);
  }
  // inputs the gradient graph still reads (a text model's ids feed its padding mask and positions)
  const fed = new Set(decodeModel(out).graph!.input.map((v) => v.name));
  const passThrough = g.inputs.filter((v) => v !== x && fed.has(v.name)).map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape }));
  const { value: _v, ...embeddings } = g.embeddings ?? { value: undefined };
  return {
    bytes: out, score, wrt: x.name, wrtShape: x.shape.slice(1), passThrough,
    classes: y.shape[1]!, ...(g.embeddings ? { embeddings: embeddings as Omit<EmbeddingCut, 'value'> } : {}),
  };
}

function floatInput(g: ImportedGraph, name: string | undefined): Value {
  const floats = g.inputs.filter((v) => v.dtype === 'FP32');
  const pick = name === undefined ? (floats.length === 1 ? floats[0] : undefined) : floats.find((v) => v.name === name);
  if (!pick) {
    throw new FerryError('INVALID_ARGUMENT', name !== undefined
      ? `"input" "${name.slice(0, 100)}" is not a float input of this model; its float inputs are ${floats.map((v) => `"${v.name}"`).join(', ') || 'none'}`
      : floats.length === 0 ? 'the model has no float input to attribute to'
        : `the model has ${floats.length} float inputs (${floats.map((v) => v.name).join(', ')}); say which to explain with "input"`);
  }
  return pick;
}

/**
 * Refuses a graph where the score depends on the input through an op with no gradient rule: the
 * tape would silently treat that op's gradient as zero, and the attributions would be wrong.
 */
function checkDifferentiable(tape: Tape, x: Value, y: Value): void {
  const fromX = new Set([x.id]);
  for (const n of tape.nodes) {
    if (n.inputs.some((v) => v.dtype === 'FP32' && fromX.has(v.id))) for (const o of n.outputs) fromX.add(o.id);
  }
  const toY = new Set([y.id]);
  for (let i = tape.nodes.length - 1; i >= 0; i--) {
    const n = tape.nodes[i]!;
    if (!n.outputs.some((o) => toY.has(o.id))) continue;
    for (const v of n.inputs) toY.add(v.id);
    const onPath = n.inputs.some((v) => v.dtype === 'FP32' && fromX.has(v.id)) && n.outputs.some((o) => o.dtype === 'FP32' && toY.has(o.id));
    if (!onPath) continue;
    if (!RULES[n.op]?.grad) throw new UnsupportedGraphError(n.op, `op ${n.op} has no gradient rule`);
    if (n.op === 'Conv' && n.attrs['group'] !== 1) throw new UnsupportedGraphError(n.op, 'op Conv with group > 1 has no gradient rule');
  }
}
