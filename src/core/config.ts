// Server configuration: defaults < config file < FERRY_* environment variables < command-line flags.
// Every value is checked at start, and an error names the key and where it came from, so a typo
// fails the start instead of being silently ignored.
import { readFileSync } from 'node:fs';
import { FerryError } from './errors.js';
import { parseLimits, type Limits } from '../security/limits.js';

export interface BatchingDefaults {
  maxBatchSize: number;
  maxQueueDelayMs: number;
  maxQueueSize: number;
  instances: number;
  defaultTimeoutMs: number;
}

export interface FerryConfig {
  host: string;
  port: number;
  /** folder for the SQLite file and the artifacts */
  data: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** largest inference request body; larger ones get 413 */
  bodyLimitBytes: number;
  maxUploadBytes: number;
  /** estimated bytes all loaded models may take; 0 = no limit */
  memoryBudgetBytes: number;
  /** unload a model version unused for this long; 0 = never */
  idleUnloadMs: number;
  intraOpThreads: number;
  /** where models run: on the main thread, each in its own worker thread (the event loop stays free),
   *  or `auto`: loaded in a worker, moved inline once its runs prove shorter than workerThresholdMs */
  runtimeIsolation: 'auto' | 'worker' | 'inline';
  workerThresholdMs: number;
  /** register the pretrained models that ship with Ferry's npm dependencies on first start */
  builtinModels: boolean;
  /** also write an access-log line for every successful inference request (failures are always logged) */
  logInferenceRequests: boolean;
  /** how long SIGTERM waits for in-flight requests before exiting anyway */
  shutdownTimeoutMs: number;
  /** onnxruntime threads for a training job; jobs run one at a time in a worker thread, and the
   *  default of 1 leaves the other cores to serving */
  trainingThreads: number;
  batching: BatchingDefaults;
  generation: GenerationDefaults;
  /** loopback development mode: inference routes (and the V2/OpenAI model metadata) answer without
   *  an API key. Refused at start unless host is a loopback address; everything else needs a key. */
  open: boolean;
  /** origins a browser may call from ("*": any); empty: CORS off */
  cors: { origins: string[] };
  /** PEM files; both set: the server speaks HTTPS only. Empty: plain HTTP */
  tls: { cert: string; key: string };
  /** limits and budgets of whole tenants, on top of each key's own: {"acme": {"rpm": 600, "tpm":
   *  100000, "concurrency": 8, "budget": {"period": "month", "tokens": 5000000}}} */
  tenants: Record<string, Limits>;
  usage: UsageSettings;
}

/** The usage ledger (src/security/usage.ts). */
export interface UsageSettings {
  /** rows older than this many days are deleted; the daily roll-ups stay. 0: keep for ever */
  retentionDays: number;
  /** store request bodies, redacted (e-mails, phones, card numbers, keys), with the ledger rows */
  logPayloads: boolean;
  /** rows buffered before a write */
  flushRows: number;
  /** longest a row waits in the buffer */
  flushMs: number;
}

/** Generative (GGUF) models: how many requests decode together, and how many may wait. */
export interface GenerationDefaults {
  /** sequences of one model that decode together in one batch */
  parallel: number;
  /** requests waiting for a sequence beyond those; more get 429 */
  maxQueueSize: number;
  /** llama.cpp threads per model (1 suits small models on few cores) */
  threads: number;
}

export const DEFAULT_CONFIG: FerryConfig = {
  host: '127.0.0.1',
  port: 8080,
  data: './ferry-data',
  logLevel: 'info',
  bodyLimitBytes: 64 * 1024 * 1024,
  // Ferry's own check reads an upload whole, and Node reads at most 2^31 - 1 bytes at once.
  maxUploadBytes: 2 ** 31 - 1,
  memoryBudgetBytes: 8 * 1024 * 1024 * 1024,
  idleUnloadMs: 30 * 60 * 1000,
  intraOpThreads: 1,
  runtimeIsolation: 'auto',
  workerThresholdMs: 10,
  builtinModels: true,
  logInferenceRequests: false,
  shutdownTimeoutMs: 30_000,
  trainingThreads: 1,
  batching: { maxBatchSize: 64, maxQueueDelayMs: 0, maxQueueSize: 1024, instances: 1, defaultTimeoutMs: 0 },
  generation: { parallel: 4, maxQueueSize: 64, threads: 1 },
  open: false,
  cors: { origins: [] },
  tls: { cert: '', key: '' },
  tenants: {},
  usage: { retentionDays: 90, logPayloads: false, flushRows: 500, flushMs: 1000 },
};

type Kind = { type: 'int'; min: number; max: number } | { type: 'string' } | { type: 'path' } | { type: 'list' } | { type: 'bool' } | { type: 'enum'; values: readonly string[] } | { type: 'tenants' };
const int = (min: number, max: number): Kind => ({ type: 'int', min, max });

const SCHEMA: Record<string, Kind> = {
  host: { type: 'string' },
  port: int(0, 65535),
  data: { type: 'string' },
  logLevel: { type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  bodyLimitBytes: int(1024, 2 ** 31),
  maxUploadBytes: int(1024, 2 ** 31 - 1),
  memoryBudgetBytes: int(0, 2 ** 46),
  idleUnloadMs: int(0, 2 ** 31),
  intraOpThreads: int(1, 256),
  runtimeIsolation: { type: 'enum', values: ['auto', 'worker', 'inline'] },
  workerThresholdMs: int(0, 60_000),
  builtinModels: { type: 'bool' },
  logInferenceRequests: { type: 'bool' },
  shutdownTimeoutMs: int(0, 600_000),
  trainingThreads: int(1, 256),
  'batching.maxBatchSize': int(0, 65536),
  'batching.maxQueueDelayMs': int(0, 60_000),
  'batching.maxQueueSize': int(1, 1_000_000),
  'batching.instances': int(1, 64),
  'batching.defaultTimeoutMs': int(0, 3_600_000),
  'generation.parallel': int(1, 256),
  'generation.maxQueueSize': int(0, 1_000_000),
  'generation.threads': int(1, 256),
  open: { type: 'bool' },
  'cors.origins': { type: 'list' },
  'tls.cert': { type: 'path' },
  'tls.key': { type: 'path' },
  tenants: { type: 'tenants' },
  'usage.retentionDays': int(0, 36_500),
  'usage.logPayloads': { type: 'bool' },
  'usage.flushRows': int(1, 100_000),
  'usage.flushMs': int(1, 600_000),
};

/** FERRY_ variables that are not server settings: read by the CLI's client commands and by loadConfig. */
const CLIENT_ENV = ['FERRY_URL', 'FERRY_CONFIG', 'FERRY_API_KEY'];

/** FERRY_BATCHING_MAX_BATCH_SIZE <-> batching.maxBatchSize */
export const envName = (key: string): string => 'FERRY_' + key.replace(/\./g, '_').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();

/** `text` sources (environment, flags) carry every value as a string; a JSON file has real types. */
function check(key: string, value: unknown, source: string, text: boolean): unknown {
  const kind = Object.hasOwn(SCHEMA, key) ? SCHEMA[key] : undefined;
  if (!kind) throw new FerryError('INVALID_ARGUMENT', `${source}: unknown configuration key "${key}"; known keys: ${Object.keys(SCHEMA).join(', ')}`);
  const fromText = text && typeof value === 'string';
  const bad = (want: string) => new FerryError('INVALID_ARGUMENT', `${source}: "${key}" must be ${want}; got ${JSON.stringify(value)}`);
  switch (kind.type) {
    case 'int': {
      const n = fromText && /^-?[0-9]+$/.test(value as string) ? Number(value) : value;
      if (!Number.isInteger(n) || (n as number) < kind.min || (n as number) > kind.max) throw bad(`an integer from ${kind.min} to ${kind.max}`);
      return n;
    }
    case 'bool': {
      if (typeof value === 'boolean') return value;
      if (fromText && (value === 'true' || value === 'false')) return value === 'true';
      throw bad('true or false');
    }
    case 'enum':
      if (!kind.values.includes(value as string)) throw bad(`one of ${kind.values.join(', ')}`);
      return value;
    case 'string':
      if (typeof value !== 'string' || value.length === 0) throw bad('a non-empty string');
      return value;
    case 'path':
      if (typeof value !== 'string') throw bad('a file path');
      return value;
    case 'tenants': {
      // a JSON object in the file; JSON text in the environment (FERRY_TENANTS)
      let obj = value;
      if (fromText) {
        try {
          obj = JSON.parse(value as string);
        } catch {
          throw bad('a JSON object of tenant limits, e.g. {"acme": {"rpm": 600}}');
        }
      }
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw bad('an object of tenant limits, e.g. {"acme": {"rpm": 600}}');
      return Object.fromEntries(Object.entries(obj as Record<string, unknown>).map(([t, l]) => [t, parseLimits(l, `${source}: "tenants.${t}"`)]));
    }
    case 'list': {
      // a JSON list in the file; comma-separated in the environment and on the command line
      const list = fromText ? (value as string).split(',').map((v) => v.trim()).filter((v) => v !== '') : value;
      if (!Array.isArray(list) || !list.every((v) => typeof v === 'string' && v.length > 0)) throw bad('a list of non-empty strings');
      return list;
    }
  }
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let obj = target;
  for (const p of parts.slice(0, -1)) obj = obj[p] as Record<string, unknown>;
  obj[parts.at(-1)!] = value;
}

function flatten(obj: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && !Object.hasOwn(SCHEMA, `${prefix}${k}`) ? flatten(v as Record<string, unknown>, `${prefix}${k}.`) : [[`${prefix}${k}`, v] as [string, unknown]]);
}

export interface ConfigSources {
  /** path of a JSON config file */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** flat keys from command-line flags, e.g. {port: '9000'} */
  flags?: Record<string, unknown>;
}

export function loadConfig(sources: ConfigSources = {}): FerryConfig {
  const config = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;
  const env = sources.env ?? {};
  const file = sources.file ?? env.FERRY_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new FerryError('INVALID_ARGUMENT', `config file ${file} could not be read as JSON: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new FerryError('INVALID_ARGUMENT', `config file ${file} must hold a JSON object`);
    for (const [k, v] of flatten(parsed as Record<string, unknown>)) setPath(config, k, check(k, v, `config file ${file}`, false));
  }
  // A misspelt FERRY_ variable must fail the start like a misspelt file key, not be ignored.
  const known = new Set([...Object.keys(SCHEMA).map(envName), ...CLIENT_ENV]);
  for (const name of Object.keys(env)) {
    if (name.startsWith('FERRY_') && !known.has(name)) {
      throw new FerryError('INVALID_ARGUMENT', `environment variable ${name} is not a Ferry setting; known: ${[...known].sort().join(', ')}`);
    }
  }
  for (const key of Object.keys(SCHEMA)) {
    const v = env[envName(key)];
    if (v !== undefined && v !== '') setPath(config, key, check(key, v, `environment variable ${envName(key)}`, true));
  }
  for (const [k, v] of Object.entries(sources.flags ?? {})) {
    if (v !== undefined) setPath(config, k, check(k, v, `command-line flag for "${k}"`, true));
  }
  const done = config as unknown as FerryConfig;
  if ((done.tls.cert === '') !== (done.tls.key === '')) throw new FerryError('INVALID_ARGUMENT', 'set both tls.cert and tls.key (PEM files) for HTTPS, or neither');
  return done;
}

/** Loopback addresses: the only ones open mode may bind to. */
export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/** Refuses open mode off loopback: anyone who can reach the address could then use every model. */
export function checkOpenMode(config: FerryConfig): void {
  if (config.open && !isLoopback(config.host)) {
    throw new FerryError('INVALID_ARGUMENT', `open mode (--open) lets anyone who can reach the server run inference without a key, so it is allowed only on a loopback address (127.0.0.1, ::1, localhost); the server is bound to ${config.host}. Drop --open and use API keys (\`ferry keys create\`), or bind to 127.0.0.1`);
  }
}
