// What an optimization run is asked to do — the JSON body of POST .../optimize and what the CLI's
// flags build — and its checks. Every problem names the field, what was there and what to send.
//
//   parseOptimizeRequest({ int8: 'dynamic', tolerance: 1, deploy: 'canary' })
//   parseOptimizeRequest({ prune: { amount: 0.5, structured: true, fineTune: { epochs: 1 } } })
import { FerryError } from '../core/errors.js';
import type { DatasetSpec } from '../training/data/dataset.js';
import { checkAliasName } from '../registry/names.js';

export interface FineTuneOptions {
  readonly epochs: number;
  /** the learning rate; default the one the model was trained with */
  readonly lr?: number;
}

export interface PruneRequest {
  readonly amount: number;
  readonly structured?: boolean;
  readonly fineTune?: FineTuneOptions;
}

export interface CalibrationRequest {
  /** a dataset spec (as in training specs) whose training split is sampled */
  readonly dataset?: DatasetSpec;
  /** a JSON file of input tensors: {"<input name>": {"shape": [N, ...], "data": [...]}} */
  readonly file?: string;
  /** how many examples to calibrate on; default 256 */
  readonly examples?: number;
}

export interface OptimizeRequest {
  readonly int8?: 'dynamic' | 'static';
  readonly fp16?: boolean;
  readonly prune?: PruneRequest;
  /** static int8: where the calibration examples come from; default the model's training dataset */
  readonly calibration?: CalibrationRequest;
  /** the held-out set accuracy is measured on (its test split); default the model's training dataset */
  readonly evaluation?: { readonly dataset: DatasetSpec };
  /** accuracy points the variant may lose and still count as within tolerance; default 0.5 */
  readonly tolerance?: number;
  /** move this alias to the new version when it is within tolerance */
  readonly deploy?: string;
}

// training/data/load.ts holds the same list; importing it would load every dataset reader (sharp
// among them) into the CLI's start-up, which checks requests with this file
const DATASET_TYPES: readonly DatasetSpec['type'][] = ['mnist', 'idx', 'jsonl', 'csv', 'images', 'spam-assassin', 'spam-assassin-lm', 'skipgram'];

export const DEFAULT_TOLERANCE_POINTS = 0.5;
export const MAX_FINE_TUNE_EPOCHS = 20;
export const DEFAULT_CALIBRATION_EXAMPLES = 256;

const FIELDS = ['int8', 'fp16', 'prune', 'calibration', 'evaluation', 'tolerance', 'deploy'];
const EXAMPLE = '{"int8": "dynamic"}, {"fp16": true} or {"prune": {"amount": 0.5, "fineTune": {"epochs": 1}}}';

const bad = (field: string, msg: string) => new FerryError('INVALID_ARGUMENT', `optimize: ${field} ${msg}`);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => (typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v));

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad(`${where}.${k}`, `is not a known field; known fields: ${allowed.join(', ')}`);
}

function datasetSpec(v: unknown, where: string): DatasetSpec {
  if (!isObj(v) || !DATASET_TYPES.includes(v['type'] as DatasetSpec['type'])) {
    throw bad(`${where}.type`, `must be one of ${DATASET_TYPES.join(', ')} (a dataset spec as in training specs), got ${show(isObj(v) ? v['type'] : v)}`);
  }
  return v as unknown as DatasetSpec;
}

/** Checks a request from outside (HTTP body, CLI flags) and returns it typed. */
export function parseOptimizeRequest(raw: unknown): OptimizeRequest {
  if (!isObj(raw)) throw new FerryError('INVALID_ARGUMENT', `optimize: send a JSON object naming the transformation, e.g. ${EXAMPLE}`);
  onlyKeys(raw, FIELDS, 'body');
  const { int8, fp16, prune, calibration, evaluation, tolerance, deploy } = raw;
  if (int8 !== undefined && int8 !== 'dynamic' && int8 !== 'static') throw bad('int8', `must be "dynamic" or "static", got ${show(int8)}`);
  if (fp16 !== undefined && typeof fp16 !== 'boolean') throw bad('fp16', `must be true or false, got ${show(fp16)}`);
  if (int8 !== undefined && fp16 === true) throw bad('int8', 'and fp16 are two ways to store the same weights: ask for one of them');
  if (prune !== undefined) {
    if (!isObj(prune)) throw bad('prune', `must be an object such as {"amount": 0.5}, got ${show(prune)}`);
    onlyKeys(prune, ['amount', 'structured', 'fineTune'], 'prune');
    const a = prune['amount'];
    if (typeof a !== 'number' || !Number.isFinite(a) || a <= 0 || a >= 1) throw bad('prune.amount', `must be a fraction between 0 and 1 (exclusive), e.g. 0.5; got ${show(a)}`);
    if (prune['structured'] !== undefined && typeof prune['structured'] !== 'boolean') throw bad('prune.structured', `must be true or false, got ${show(prune['structured'])}`);
    const ft = prune['fineTune'];
    if (ft !== undefined) {
      if (!isObj(ft)) throw bad('prune.fineTune', `must be an object such as {"epochs": 1}, got ${show(ft)}`);
      onlyKeys(ft, ['epochs', 'lr'], 'prune.fineTune');
      const e = ft['epochs'];
      if (!Number.isInteger(e) || (e as number) < 1 || (e as number) > MAX_FINE_TUNE_EPOCHS) throw bad('prune.fineTune.epochs', `must be an integer from 1 to ${MAX_FINE_TUNE_EPOCHS}, got ${show(e)}`);
      const lr = ft['lr'];
      if (lr !== undefined && !(typeof lr === 'number' && Number.isFinite(lr) && lr > 0)) throw bad('prune.fineTune.lr', `must be a positive number, got ${show(lr)}`);
    }
  }
  if (int8 === undefined && fp16 !== true && prune === undefined) {
    throw new FerryError('INVALID_ARGUMENT', `optimize: name a transformation: int8, fp16 or prune, e.g. ${EXAMPLE}`);
  }
  if (calibration !== undefined) {
    if (int8 !== 'static') throw bad('calibration', 'is used by static int8 quantization only; send "int8": "static" with it, or leave it out');
    if (!isObj(calibration)) throw bad('calibration', `must be an object with "dataset" or "file", got ${show(calibration)}`);
    onlyKeys(calibration, ['dataset', 'file', 'examples'], 'calibration');
    if ((calibration['dataset'] === undefined) === (calibration['file'] === undefined)) throw bad('calibration', 'needs exactly one of "dataset" (a dataset spec) or "file" (a JSON file of input tensors)');
    if (calibration['dataset'] !== undefined) datasetSpec(calibration['dataset'], 'calibration.dataset');
    if (calibration['file'] !== undefined && (typeof calibration['file'] !== 'string' || calibration['file'] === '')) throw bad('calibration.file', `must be a path, got ${show(calibration['file'])}`);
    const n = calibration['examples'];
    if (n !== undefined && !(Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 10_000)) throw bad('calibration.examples', `must be an integer from 1 to 10000, got ${show(n)}`);
  }
  if (evaluation !== undefined) {
    if (!isObj(evaluation)) throw bad('evaluation', `must be {"dataset": {...}}, got ${show(evaluation)}`);
    onlyKeys(evaluation, ['dataset'], 'evaluation');
    datasetSpec(evaluation['dataset'], 'evaluation.dataset');
  }
  if (tolerance !== undefined && !(typeof tolerance === 'number' && Number.isFinite(tolerance) && tolerance >= 0 && tolerance <= 100)) {
    throw bad('tolerance', `must be the accuracy points the variant may lose, from 0 to 100 (e.g. 0.5), got ${show(tolerance)}`);
  }
  if (deploy !== undefined) {
    if (typeof deploy !== 'string') throw bad('deploy', `must be an alias name such as "prod", got ${show(deploy)}`);
    checkAliasName(deploy);
  }
  return raw as OptimizeRequest;
}

/** The transformation as lineage names it: its steps in the order they run, joined by '+'. */
export function transformationName(r: OptimizeRequest): string {
  const steps: string[] = [];
  if (r.prune) {
    steps.push(`prune-${r.prune.amount}-${r.prune.structured ? 'structured' : 'unstructured'}`);
    if (r.prune.fineTune) steps.push('fine-tune');
  }
  if (r.int8) steps.push(`int8-${r.int8}`);
  if (r.fp16) steps.push('fp16');
  return steps.join('+');
}
