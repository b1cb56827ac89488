// One training run from a spec to a registered version, in the two halves that may live in different
// threads: `runTraining` (dataset and trainer, no registry — a job runs it in a worker thread) and
// `registerTrained` (the registry write, in the thread that owns the database).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { servableOnnx } from '../llm/decoder-exports.js';
import { FerryError } from '../core/errors.js';
import type { Registry } from '../registry/registry.js';
import type { VersionRecord } from '../registry/records.js';
import { loadDataset } from './data/load.js';
import { readFloatInitializers } from './weights.js';
import { wordVectorModel } from '../text/word-vectors.js';
import { RECIPES } from './recipes.js';
import { parseSpec, type TrainSpec } from './spec.js';
import { train, type TrainInput, type TrainResult } from './trainer.js';

export interface Parent {
  readonly model: string;
  readonly version: number;
  readonly onnx: Uint8Array;
  /** tensors a `ferry optimize --prune` left zeros in: a fine-tune keeps those zeros */
  readonly pruned?: readonly string[];
}

/** The tensors a version's pruning zeroed, from the report `ferry optimize` keeps in its metadata
 *  (optimization.steps[] whose transformation starts with "prune", each with tensors[].tensor). */
export function prunedTensors(metadata: Readonly<Record<string, unknown>>): string[] {
  const steps = (metadata['optimization'] as { steps?: unknown } | undefined)?.steps;
  if (!Array.isArray(steps)) return [];
  const names = new Set<string>();
  for (const step of steps as { transformation?: unknown; tensors?: unknown }[]) {
    if (typeof step?.transformation !== 'string' || !step.transformation.startsWith('prune') || !Array.isArray(step.tensors)) continue;
    for (const t of step.tensors as { tensor?: unknown }[]) if (typeof t?.tensor === 'string') names.add(t.tensor);
  }
  return [...names];
}

/** Keep-masks (1 = trains) holding a pruned parent's zeros at zero through a fine-tune: without
 *  them the first steps would grow the pruned weights back and the variant would lose its sparsity. */
function keepPrunedZeros(parent: Parent): Map<string, Uint8Array> | undefined {
  if (!parent.pruned || parent.pruned.length === 0) return undefined;
  const weights = readFloatInitializers(parent.onnx);
  const keep = new Map<string, Uint8Array>();
  for (const name of parent.pruned) {
    const w = weights.get(name);
    if (w) keep.set(name, Uint8Array.from(w.data, (x) => (x === 0 ? 0 : 1)));
  }
  return keep.size > 0 ? keep : undefined;
}

export interface RunOptions extends Omit<TrainInput, 'dataset' | 'parent'> {
  /** folder that relative dataset paths are read from */
  readonly baseDir?: string;
  readonly parent?: Parent;
}

export async function runTraining(opts: RunOptions): Promise<TrainResult> {
  const dataset = await loadDataset(opts.spec.dataset, { baseDir: opts.baseDir });
  const keep = opts.keep ?? (opts.parent ? keepPrunedZeros(opts.parent) : undefined);
  const result = await train({ ...opts, dataset, ...(keep ? { keep } : {}) });
  if (!dataset.vocabulary) return result;
  // word vectors: the model to serve is the lookup table with nearest neighbours, not the training net
  const table = [...readFloatInitializers(result.onnx)].find(([name]) => name.endsWith('.input'))?.[1];
  if (!table) throw new FerryError('INVALID_ARGUMENT', 'a skipgram dataset trains a SkipGram layer; the model has none');
  return { ...result, onnx: wordVectorModel(table.data, dataset.vocabulary, result.record) };
}

export interface SpecOverrides {
  epochs?: number;
  batchSize?: number;
  seed?: number;
  name?: string;
  from?: string;
}

/** A recipe name or a parsed JSON spec, with command-line or API overrides applied and checked. */
export function resolveSpec(recipeOrSpec: string | unknown, overrides: SpecOverrides = {}): TrainSpec {
  let base: unknown = recipeOrSpec;
  if (typeof recipeOrSpec === 'string') {
    base = RECIPES[recipeOrSpec];
    if (!base) throw new FerryError('INVALID_ARGUMENT', `no recipe named "${recipeOrSpec}"; recipes: ${Object.keys(RECIPES).join(', ')}, or give a spec.json file`);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return parseSpec({ ...(base as object), ...defined });
}

/** The registered version a spec's `from` names, with its weights. */
export async function resolveParent(registry: Registry, ref: string): Promise<Parent> {
  const v = await registry.resolveRef(ref);
  const file = await registry.artifacts.localPath(v.artifactKey);
  return { model: v.model, version: v.version, onnx: new Uint8Array(await readFile(file)), pruned: prunedTensors(v.metadata) };
}

export async function registerTrained(registry: Registry, spec: TrainSpec, result: Pick<TrainResult, 'onnx' | 'record' | 'metrics'>, extra: Record<string, unknown> = {}): Promise<VersionRecord> {
  // a language model is served with a KV cache (Ferry's generation loop); other models as trained
  const bytes = servableOnnx(result.onnx);
  const source = (async function* () {
    yield bytes;
  })();
  return registry.push(spec.name, source, {
    metadata: {
      source: 'training',
      ...(result.record.parent ? { lineage: { parent: result.record.parent, transformation: 'fine-tune' } } : {}),
      ...extra,
    },
  });
}

export const specBaseDir = (specFile: string): string => path.dirname(path.resolve(specFile));
