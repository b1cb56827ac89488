// Per-model serving settings, checked with errors that name the bad key. Absent keys fall back to the
// server's defaults; maxBatchSize falls back to what the model's signature allows.
import { FerryError } from '../core/errors.js';
import type { Signature } from '../runtimes/runtime.js';

export interface ModelConfig {
  readonly maxBatchSize?: number;
  readonly maxQueueDelayMs?: number;
  readonly preferredBatchSizes?: readonly number[];
  readonly maxQueueSize?: number;
  readonly instances?: number;
  readonly defaultTimeoutMs?: number;
  readonly description?: string;
}

type Check = (v: unknown) => string | null;
const int = (min: number, max: number): Check => (v) =>
  Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? null : `an integer from ${min} to ${max}`;
const intList: Check = (v) =>
  Array.isArray(v) && v.length <= 64 && v.every((x) => Number.isInteger(x) && x >= 1 && x <= 65536) ? null : 'a list of positive integers';
const text: Check = (v) => (typeof v === 'string' && v.length <= 2000 ? null : 'a string of at most 2000 characters');

const CHECKS: Readonly<Record<keyof ModelConfig, Check>> = {
  maxBatchSize: int(0, 65536),
  maxQueueDelayMs: int(0, 60_000),
  preferredBatchSizes: intList,
  maxQueueSize: int(1, 1_000_000),
  instances: int(1, 64),
  defaultTimeoutMs: int(0, 3_600_000),
  description: text,
};

/** Validates a config object from the API or the CLI. `where` names its source in errors. */
export function parseModelConfig(raw: unknown, where = 'config'): ModelConfig {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new FerryError('INVALID_ARGUMENT', `${where} must be a JSON object`);
  for (const [key, value] of Object.entries(raw)) {
    const check = (CHECKS as Record<string, Check | undefined>)[key];
    if (!check) throw new FerryError('INVALID_ARGUMENT', `${where} has an unknown key "${key}"; known keys: ${Object.keys(CHECKS).join(', ')}`);
    const want = check(value);
    if (want) throw new FerryError('INVALID_ARGUMENT', `${where}.${key} must be ${want}; got ${JSON.stringify(value)}`);
  }
  return raw as ModelConfig;
}

/**
 * A model can batch along dimension 0 only when every input and output leaves that dimension open.
 * Silero VAD, whose state tensors are [2, batch, 64], cannot; PaddleOCR's models can.
 */
export function canBatch(sig: Signature): boolean {
  const all = [...sig.inputs, ...sig.outputs];
  return all.length > 0 && all.every((t) => t.shape.length > 0 && t.shape[0] === -1);
}

export interface ServingDefaults {
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  readonly maxQueueSize: number;
  readonly instances: number;
  readonly defaultTimeoutMs: number;
}

export type EffectiveConfig = Required<Omit<ModelConfig, 'description'>>;

export function effectiveConfig(cfg: ModelConfig, sig: Signature, defaults: ServingDefaults): EffectiveConfig {
  const batchable = canBatch(sig);
  const maxBatchSize = cfg.maxBatchSize ?? (batchable ? defaults.maxBatchSize : 0);
  if (maxBatchSize > 0 && !batchable) {
    throw new FerryError('INVALID_ARGUMENT', `maxBatchSize ${maxBatchSize} needs every input and output to have an open first dimension, and this model's do not; use maxBatchSize 0`);
  }
  return {
    maxBatchSize,
    maxQueueDelayMs: cfg.maxQueueDelayMs ?? defaults.maxQueueDelayMs,
    preferredBatchSizes: cfg.preferredBatchSizes ?? [],
    maxQueueSize: cfg.maxQueueSize ?? defaults.maxQueueSize,
    instances: cfg.instances ?? defaults.instances,
    defaultTimeoutMs: cfg.defaultTimeoutMs ?? defaults.defaultTimeoutMs,
  };
}
