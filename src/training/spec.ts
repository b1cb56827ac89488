// A training run written as JSON — what the API, the CLI and the recipes share — and its checks.
// Every problem is reported in terms of the spec a user wrote: the path of the field, what was
// there and what to send instead.
import { FerryError } from '../core/errors.js';
import type { DatasetSpec } from './data/dataset.js';
import { LOSSES, type LossName } from './nn/losses.js';
import type { OptimizerSpec } from './nn/optimizers.js';
import type { ScheduleSpec } from './nn/schedules.js';

export type LayerSpec =
  | { type: 'Linear'; in: number; out: number; bias?: boolean }
  | { type: 'Conv2d'; in: number; out: number; kernel: number | [number, number]; stride?: number | [number, number]; padding?: number | [number, number]; dilation?: number | [number, number]; bias?: boolean }
  | { type: 'MaxPool2d' | 'AvgPool2d'; kernel: number | [number, number]; stride?: number | [number, number]; padding?: number | [number, number] }
  | { type: 'Flatten' | 'ReLU' | 'Tanh' | 'Sigmoid' | 'GELU' }
  | { type: 'Softmax'; axis?: number }
  | { type: 'Dropout'; p?: number }
  | { type: 'Embedding'; num: number; dim: number }
  | { type: 'LayerNorm'; dim: number; eps?: number }
  | { type: 'Sequential'; layers: LayerSpec[] }
  | { type: 'SkipGram'; vocab: number; dim: number }
  | { type: 'TransformerEncoder'; vocab: number; maxLength: number; dim: number; heads: number; layers: number; ffn?: number; dropout?: number; padId?: number }
  /** a llama-architecture language model (src/training/nn/decoder.ts); the only layer of its model */
  | { type: 'DecoderLM'; vocab: number; context: number; dim: number; heads: number; layers: number; ffn: number; eps?: number; ropeBase?: number }
  /** a variational autoencoder over images (src/training/nn/vae.ts), trained with "loss": "elbo"; the
   *  only layer of its model */
  | { type: 'VAE'; width: number; height: number; channels?: number; hidden: number | number[]; latent: number; beta?: number };

export interface TrainSpec {
  /** the model name the result is registered under */
  readonly name: string;
  readonly description?: string;
  readonly dataset: DatasetSpec;
  /** the shape of one example as the network takes it, e.g. [1, 28, 28]; default: the dataset's */
  readonly input?: readonly number[];
  readonly model: readonly LayerSpec[];
  readonly loss: LossName;
  readonly optimizer: OptimizerSpec;
  readonly schedule?: ScheduleSpec;
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  /** fine-tuning: start from this registered version's weights, 'model', 'model:3' or 'model:prod' */
  readonly from?: string;
  /** parameters (by name prefix, e.g. '0.' for the first layer) that stay as they are */
  readonly freeze?: readonly string[];
}

export const LAYER_FIELDS: Readonly<Record<LayerSpec['type'], { required: string[]; optional: string[] }>> = {
  Linear: { required: ['in', 'out'], optional: ['bias'] },
  Conv2d: { required: ['in', 'out', 'kernel'], optional: ['stride', 'padding', 'dilation', 'bias'] },
  MaxPool2d: { required: ['kernel'], optional: ['stride', 'padding'] },
  AvgPool2d: { required: ['kernel'], optional: ['stride', 'padding'] },
  Flatten: { required: [], optional: [] },
  ReLU: { required: [], optional: [] },
  Tanh: { required: [], optional: [] },
  Sigmoid: { required: [], optional: [] },
  GELU: { required: [], optional: [] },
  Softmax: { required: [], optional: ['axis'] },
  Dropout: { required: [], optional: ['p'] },
  Embedding: { required: ['num', 'dim'], optional: [] },
  LayerNorm: { required: ['dim'], optional: ['eps'] },
  Sequential: { required: ['layers'], optional: [] },
  SkipGram: { required: ['vocab', 'dim'], optional: [] },
  TransformerEncoder: { required: ['vocab', 'maxLength', 'dim', 'heads', 'layers'], optional: ['ffn', 'dropout', 'padId'] },
  DecoderLM: { required: ['vocab', 'context', 'dim', 'heads', 'layers', 'ffn'], optional: ['eps', 'ropeBase'] },
  VAE: { required: ['width', 'height', 'hidden', 'latent'], optional: ['channels', 'beta'] },
};

const TOP_FIELDS = ['name', 'description', 'dataset', 'input', 'model', 'loss', 'optimizer', 'schedule', 'epochs', 'batchSize', 'seed', 'from', 'freeze'];
const OPTIMIZERS = { sgd: ['lr', 'momentum', 'nesterov', 'weightDecay'], adam: ['lr', 'betas', 'eps', 'weightDecay'], adamw: ['lr', 'betas', 'eps', 'weightDecay'] };
const SCHEDULES = { constant: [], step: ['everyEpochs', 'gamma'], exponential: ['gamma'], cosine: ['minLr'] };
const DATASET_TYPES = ['mnist', 'idx', 'jsonl', 'csv', 'images', 'spam-assassin', 'spam-assassin-lm', 'skipgram'];

const bad = (path: string, msg: string): FerryError => new FerryError('INVALID_ARGUMENT', `training spec: ${path ? `${path} ` : ''}${msg}`);
/** JSON.stringify writes NaN and Infinity as null, which would hide what was wrong */
const show = (v: unknown): string => (typeof v === 'number' ? String(v) : JSON.stringify(v));
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
// own keys only: a type such as "toString" or "constructor" must be unknown, not Object.prototype's
const isKey = (table: object, k: unknown): boolean => typeof k === 'string' && Object.hasOwn(table, k);

function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw bad(`${path}.${k}`, `is not a known field; known fields: ${allowed.join(', ')}`);
  }
}
function posInt(v: unknown, path: string): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw bad(path, `must be a positive integer, got ${show(v)}`);
  return v as number;
}
function posNum(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw bad(path, `must be a positive number, got ${show(v)}`);
  return v;
}
function intOrPair(v: unknown, path: string, min: number): void {
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) >= min;
  if (!(ok(v) || (Array.isArray(v) && v.length === 2 && v.every(ok)))) {
    throw bad(path, `must be an integer ≥ ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
}

/** Checks a spec from outside (JSON body, file) and returns it typed; throws naming the first problem. */
export function parseSpec(raw: unknown): TrainSpec {
  if (!isObj(raw)) throw bad('', 'must be a JSON object with name, dataset, model, loss, optimizer, epochs, batchSize, seed');
  onlyKeys(raw, TOP_FIELDS, 'spec');
  if (typeof raw['name'] !== 'string' || raw['name'].length === 0) throw bad('name', 'must be the model name to register the result under');
  if (!isObj(raw['dataset']) || !DATASET_TYPES.includes(raw['dataset']['type'] as string)) {
    throw bad('dataset.type', `must be one of ${DATASET_TYPES.join(', ')}, got ${JSON.stringify(isObj(raw['dataset']) ? raw['dataset']['type'] : raw['dataset'])}`);
  }
  if (raw['input'] !== undefined && !(Array.isArray(raw['input']) && raw['input'].every((d) => Number.isInteger(d) && d > 0))) {
    throw bad('input', `must be a list of positive sizes such as [1, 28, 28], got ${JSON.stringify(raw['input'])}`);
  }
  checkLayers(raw['model'], 'model');
  if (!LOSSES.includes(raw['loss'] as LossName)) throw bad('loss', `must be one of ${LOSSES.join(', ')}, got ${JSON.stringify(raw['loss'])}`);
  const opt = raw['optimizer'];
  if (!isObj(opt) || !isKey(OPTIMIZERS, opt['type'])) {
    throw bad('optimizer.type', `must be one of ${Object.keys(OPTIMIZERS).join(', ')}, got ${JSON.stringify(isObj(opt) ? opt['type'] : opt)}`);
  }
  onlyKeys(opt, ['type', ...OPTIMIZERS[opt['type'] as keyof typeof OPTIMIZERS]], 'optimizer');
  posNum(opt['lr'], 'optimizer.lr');
  if (opt['momentum'] !== undefined && !(typeof opt['momentum'] === 'number' && opt['momentum'] >= 0 && opt['momentum'] < 1)) throw bad('optimizer.momentum', 'must be in [0, 1)');
  if (opt['weightDecay'] !== undefined && !(typeof opt['weightDecay'] === 'number' && opt['weightDecay'] >= 0)) throw bad('optimizer.weightDecay', 'must be ≥ 0');
  if (opt['eps'] !== undefined) posNum(opt['eps'], 'optimizer.eps');
  if (opt['nesterov'] !== undefined && typeof opt['nesterov'] !== 'boolean') throw bad('optimizer.nesterov', `must be true or false, got ${JSON.stringify(opt['nesterov'])}`);
  if (opt['nesterov'] === true && !((opt['momentum'] as number) > 0)) throw bad('optimizer.nesterov', 'needs a momentum above 0, e.g. "momentum": 0.9');
  if (opt['betas'] !== undefined && !(Array.isArray(opt['betas']) && opt['betas'].length === 2 && opt['betas'].every((b) => typeof b === 'number' && b >= 0 && b < 1))) {
    throw bad('optimizer.betas', 'must be two numbers in [0, 1), e.g. [0.9, 0.999]');
  }
  const sch = raw['schedule'];
  if (sch !== undefined) {
    if (!isObj(sch) || !isKey(SCHEDULES, sch['type'])) {
      throw bad('schedule.type', `must be one of ${Object.keys(SCHEDULES).join(', ')}`);
    }
    onlyKeys(sch, ['type', 'warmupSteps', ...SCHEDULES[sch['type'] as keyof typeof SCHEDULES]], 'schedule');
    if (sch['type'] === 'step') posInt(sch['everyEpochs'], 'schedule.everyEpochs');
    if (sch['type'] === 'step' || sch['type'] === 'exponential') posNum(sch['gamma'], 'schedule.gamma');
    if (sch['warmupSteps'] !== undefined && !(Number.isInteger(sch['warmupSteps']) && (sch['warmupSteps'] as number) >= 0)) {
      throw bad('schedule.warmupSteps', `must be an integer ≥ 0, got ${JSON.stringify(sch['warmupSteps'])}`);
    }
    if (sch['minLr'] !== undefined && !(typeof sch['minLr'] === 'number' && sch['minLr'] >= 0)) throw bad('schedule.minLr', `must be a number ≥ 0, got ${JSON.stringify(sch['minLr'])}`);
  }
  posInt(raw['epochs'], 'epochs');
  posInt(raw['batchSize'], 'batchSize');
  if (!Number.isInteger(raw['seed']) || (raw['seed'] as number) < 0) throw bad('seed', `must be an integer ≥ 0, got ${JSON.stringify(raw['seed'])}`);
  if (raw['from'] !== undefined && (typeof raw['from'] !== 'string' || raw['from'] === '')) throw bad('from', "must name a registered version, e.g. 'mnist-mlp:1'");
  if (raw['freeze'] !== undefined && !(Array.isArray(raw['freeze']) && raw['freeze'].every((f) => typeof f === 'string'))) {
    throw bad('freeze', "must be a list of parameter name prefixes, e.g. ['0.']");
  }
  return raw as unknown as TrainSpec;
}

function checkLayers(v: unknown, path: string): void {
  if (!Array.isArray(v) || v.length === 0) throw bad(path, 'must be a non-empty list of layers, e.g. [{"type": "Linear", "in": 784, "out": 10}]');
  v.forEach((layer, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(layer)) throw bad(p, 'must be an object with a "type"');
    const type = layer['type'] as LayerSpec['type'];
    const fields = isKey(LAYER_FIELDS, type) ? LAYER_FIELDS[type] : undefined;
    if (!fields) throw bad(`${p}.type`, `${JSON.stringify(layer['type'])} is not a known layer; known layers: ${Object.keys(LAYER_FIELDS).join(', ')}`);
    onlyKeys(layer, ['type', ...fields.required, ...fields.optional], `${p} (${type})`);
    for (const f of fields.required) if (layer[f] === undefined) throw bad(`${p}.${f}`, `is required for ${type}`);
    for (const f of ['in', 'out', 'num', 'dim', 'vocab', 'maxLength', 'context', 'heads', 'ffn', 'width', 'height', 'channels', 'latent']) if (layer[f] !== undefined) posInt(layer[f], `${p}.${f}`);
    const hidden = layer['hidden'];
    if (Array.isArray(hidden)) {
      if (hidden.length === 0) throw bad(`${p}.hidden`, 'must be a positive integer or a non-empty list of them, e.g. [512, 256]');
      hidden.forEach((h, j) => posInt(h, `${p}.hidden[${j}]`));
    } else if (hidden !== undefined) {
      posInt(hidden, `${p}.hidden`);
    }
    if ((type === 'TransformerEncoder' || type === 'DecoderLM') && Array.isArray(layer['layers'])) throw bad(`${p}.layers`, `is the number of blocks for a ${type}, e.g. 2`);
    if (type === 'TransformerEncoder' || type === 'DecoderLM') posInt(layer['layers'], `${p}.layers`);
    if (type === 'DecoderLM' && (path !== 'model' || v.length !== 1)) throw bad(p, 'is a DecoderLM, a whole language model: make it the only layer of the model');
    if (type === 'VAE' && (path !== 'model' || v.length !== 1)) throw bad(p, 'is a VAE, a whole generative model with its own objective: make it the only layer of the model');
    if (layer['beta'] !== undefined) posNum(layer['beta'], `${p}.beta`);
    if (layer['ropeBase'] !== undefined) posNum(layer['ropeBase'], `${p}.ropeBase`);
    if (layer['padId'] !== undefined && !(Number.isInteger(layer['padId']) && (layer['padId'] as number) >= 0)) throw bad(`${p}.padId`, 'must be an integer ≥ 0');
    if (layer['dropout'] !== undefined && !(typeof layer['dropout'] === 'number' && layer['dropout'] >= 0 && layer['dropout'] < 1)) throw bad(`${p}.dropout`, 'must be a rate in [0, 1)');
    if (layer['bias'] !== undefined && typeof layer['bias'] !== 'boolean') throw bad(`${p}.bias`, `must be true or false, got ${JSON.stringify(layer['bias'])}`);
    if (layer['kernel'] !== undefined) intOrPair(layer['kernel'], `${p}.kernel`, 1);
    if (layer['stride'] !== undefined) intOrPair(layer['stride'], `${p}.stride`, 1);
    if (layer['padding'] !== undefined) intOrPair(layer['padding'], `${p}.padding`, 0);
    if (layer['dilation'] !== undefined) intOrPair(layer['dilation'], `${p}.dilation`, 1);
    if (layer['p'] !== undefined && !(typeof layer['p'] === 'number' && layer['p'] >= 0 && layer['p'] < 1)) throw bad(`${p}.p`, 'must be a dropout rate in [0, 1)');
    if (layer['axis'] !== undefined && !Number.isInteger(layer['axis'])) throw bad(`${p}.axis`, `must be an integer axis such as -1, got ${show(layer['axis'])}`);
    if (layer['eps'] !== undefined) posNum(layer['eps'], `${p}.eps`);
    if (type === 'Sequential') checkLayers(layer['layers'], `${p}.layers`);
  });
}
