// Explaining one example of a tensor model (an image classifier, or any model with a float input
// and class scores): integrated gradients through its gradient model, or occlusion through the
// model pool — the same path /infer takes, so it works for any model Ferry serves.
import { FerryError } from '../core/errors.js';
import type { NamedTensors, Tensor } from '../core/tensor.js';
import type { ExplainContext } from './explain-service.js';
import { classIndex } from './explain-params.js';
import type { TensorExplanation } from './explanation.js';
import { GRADIENT_OUTPUT, SCORES_OUTPUT, TARGET_INPUT } from './gradient-model.js';
import { overlayPng, pixelHeatmap } from './heatmap.js';
import { argmax, integratedGradients } from './integrated-gradients.js';
import { defaultPatch, imageGeometry, occlusion } from './occlusion.js';
import { checkStop, stopError } from './stop.js';
import { tile } from './tile.js';

const bad = (msg: string) => new FerryError('INVALID_ARGUMENT', msg);

export async function explainImage(ctx: ExplainContext, inputs: NamedTensors): Promise<TensorExplanation> {
  const started = performance.now();
  const { rec, facts, params } = ctx;
  const name = explainedInput(ctx, inputs);
  const x = inputs[name]!;
  if (x.shape[0] !== 1) throw bad(`explain one example at a time: send "${name}" with shape [1, ${x.shape.slice(1).join(', ')}], not [${x.shape.join(', ')}]`);
  const shape = x.shape.slice(1);
  const xs = Float32Array.from(x.data as Float32Array);
  const baseline = baselineOf(params.baseline, xs.length);
  const geo = imageGeometry(shape);
  const others = Object.entries(inputs).filter(([n]) => n !== name);
  const fixedBatch = rec.signature.inputs.find((s) => s.name === name)?.shape[0] !== -1;
  const source = params.output !== undefined ? facts.sources[params.output] : facts.defaultSource;
  if (!source) throw bad(`"output" "${params.output!.slice(0, 100)}" is not an output of this model; its outputs are ${Object.keys(facts.sources).map((o) => `"${o}"`).join(', ')}`);

  const finish = async (base: Omit<TensorExplanation, 'input' | 'attributions' | 'heatmap' | 'computeMs' | 'baseline'>, attributions: Float32Array) => {
    const heat = pixelHeatmap(attributions, geo);
    const png = params.overlay ? (await overlayPng(xs, geo, heat)).toString('base64') : undefined;
    return {
      ...base, input: name, baseline: describeBaseline(params.baseline),
      attributions: { shape, data: attributions },
      heatmap: { height: geo.height, width: geo.width, data: heat, ...(png ? { png } : {}) },
      computeMs: performance.now() - started,
    } satisfies TensorExplanation;
  };
  const label = (i: number) => (facts.labels?.[i] !== undefined ? { label: facts.labels[i] } : {});

  return ctx.choose({ output: params.output, input: params.input }, {
    gradients: async ({ graph, session }) => {
      const run = async (batch: Float32Array, rows: number, onehot: Float32Array) => {
        const feeds: NamedTensors = {
          [graph.wrt]: { dtype: 'FP32', shape: [rows, ...shape], data: batch },
          [TARGET_INPUT]: { dtype: 'FP32', shape: [rows, graph.classes], data: onehot },
        };
        for (const p of graph.passThrough) {
          const t = inputs[p.name];
          if (!t) throw bad(`the model also reads input "${p.name}"; send it with the request`);
          feeds[p.name] = rows === 1 ? t : tile(t, rows);
        }
        const out = await session.run(feeds, [GRADIENT_OUTPUT, SCORES_OUTPUT]);
        return { grad: out[GRADIENT_OUTPUT]!.data as Float32Array, scores: out[SCORES_OUTPUT]!.data as Float32Array };
      };
      const ig = await integratedGradients(xs, run, {
        steps: params.steps, tolerance: params.tolerance, baseline, classes: graph.classes, stop: ctx.stop,
        target: classIndex(params.target, graph.classes, facts.labels), ...(fixedBatch ? { rowsPerRun: 1 } : {}),
      });
      const predicted = argmax(ig.scores);
      return finish({
        method: 'integrated_gradients',
        target: { index: ig.target, ...label(ig.target), output: graph.score.output, space: graph.score.space, score: ig.scores[ig.target]!, baselineScore: ig.baselineScores[ig.target]! },
        predicted: { index: predicted, ...label(predicted) },
        completeness: ig.completeness, steps: ig.steps,
      }, ig.attributions);
    },
    occlusion: async (fallbackReason) => {
      const maxRows = fixedBatch ? 1 : Math.max(1, await ctx.deps.maxRows(rec));
      const output = source.output;
      const classScores = async (batch: Float32Array, rows: number): Promise<Float32Array> => {
        const parts: Promise<Float32Array>[] = [];
        for (let first = 0; first < rows; first += maxRows) {
          const n = Math.min(maxRows, rows - first);
          const feeds: NamedTensors = { [name]: { dtype: 'FP32', shape: [n, ...shape], data: batch.slice(first * xs.length, (first + n) * xs.length) } };
          for (const [k, t] of others) feeds[k] = n === 1 ? t : tile(t, n);
          parts.push(ctx.deps.infer(rec, feeds, ctx.stop.signal).then((r) => scoresOf(r.outputs[output], output, n)));
        }
        const all = await Promise.all(parts);
        const out = new Float32Array(all.reduce((a, p) => a + p.length, 0));
        let at = 0;
        for (const p of all) {
          out.set(p, at);
          at += p.length;
        }
        return out;
      };
      const hint = 'send a larger "patch" or "stride"';
      checkStop(ctx.stop, hint);
      const first = await classScores(xs, 1).catch((err: unknown) => {
        throw stopError(ctx.stop, hint) ?? err;
      });
      const classes = first.length;
      const target = classIndex(params.target, classes, facts.labels) ?? argmax(first);
      const { patch, stride } = { ...defaultPatch(geo), ...pick(params, 'patch', 'stride') };
      const r = await occlusion(xs, baseline, geo, async (batch, rows) => {
        const s = await classScores(batch, rows);
        return Float32Array.from({ length: rows }, (_, i) => s[i * classes + target]!);
      }, { patch, stride }, { rowsPerRun: maxRows * 4, stop: ctx.stop });
      const predicted = argmax(first);
      return finish({
        method: 'occlusion', ...(fallbackReason ? { fallbackReason } : {}),
        target: { index: target, ...label(target), output, space: source.outputSpace, score: r.score },
        predicted: { index: predicted, ...label(predicted) },
        occlusion: { patch, stride, patches: r.patches },
      }, r.attributions);
    },
  });
}

function explainedInput(ctx: ExplainContext, inputs: NamedTensors): string {
  const floats = ctx.rec.signature.inputs.filter((s) => s.dtype === 'FP32').map((s) => s.name);
  const name = ctx.params.input ?? (floats.length === 1 ? floats[0] : undefined);
  if (name === undefined) {
    throw bad(floats.length === 0 ? `model "${ctx.rec.model}" has no float input to attribute to`
      : `model "${ctx.rec.model}" has ${floats.length} float inputs (${floats.join(', ')}); say which to explain with the parameter "input"`);
  }
  if (!floats.includes(name)) throw bad(`"input" "${name.slice(0, 100)}" is not a float input of model "${ctx.rec.model}"; its float inputs are ${floats.map((f) => `"${f}"`).join(', ')}`);
  if (!inputs[name]) throw bad(`send input "${name}" to explain it`);
  return name;
}

function scoresOf(t: Tensor | undefined, output: string, rows: number): Float32Array {
  if (!t || !(t.data instanceof Float32Array) || t.shape.length !== 2 || t.shape[0] !== rows) {
    throw bad(`output "${output}" is not class scores [batch, classes]; choose another with the parameter "output"`);
  }
  return t.data;
}

export function baselineOf(b: string | number | readonly number[], size: number): Float32Array {
  if (b === 'zero') return new Float32Array(size);
  if (typeof b === 'number') return new Float32Array(size).fill(b);
  if (typeof b === 'string') throw bad(`"baseline" "${b}" is for text models; send "zero", a number, or ${size} numbers`);
  if (b.length !== size) throw bad(`"baseline" has ${b.length} numbers but the input has ${size} elements`);
  return Float32Array.from(b);
}

export function describeBaseline(b: string | number | readonly number[]): string | number {
  return typeof b === 'string' || typeof b === 'number' ? b : 'custom';
}

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
