// The composition root: builds the stores, registry, runtime, pool and HTTP server from a config, and
// owns start-up and graceful shutdown. Tests build a Ferry on a temporary folder and port 0.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { systemClock, type Clock } from './core/clock.js';
import { checkOpenMode, type FerryConfig } from './core/config.js';
import { FerryError } from './core/errors.js';
import { createLogger } from './monitor/logger.js';
import { Monitor } from './monitor/monitor.js';
import { importBuiltins } from './registry/builtin.js';
import { CachedMetadataStore } from './registry/cached-store.js';
import { FsArtifactStore } from './registry/fs/fs-artifact-store.js';
import { Registry, type CheckedModel } from './registry/registry.js';
import { SqliteMetadataStore } from './registry/sqlite/sqlite-store.js';
import { inspectGguf, GENERATIVE_SIGNATURE } from './llm/gguf/inspect.js';
import { LlamaRuntime } from './runtimes/llama/llama-runtime.js';
import { probeGguf } from './runtimes/llama/probe.js';
import { OnnxRuntime } from './runtimes/onnx/onnx-runtime.js';
import type { Runtime } from './runtimes/runtime.js';
import { GenerationPool } from './scheduler/generation-pool.js';
import { ModelPool } from './scheduler/model-pool.js';
import { ADMIN_TENANT, KEY_SCOPES, type Authorizer } from './security/authorizer.js';
import { createKey } from './security/issue.js';
import { KeyAuthorizer } from './security/key-authorizer.js';
import { NO_LIMITS } from './security/limits.js';
import { SecurityDb } from './security/sqlite/security-db.js';
import { UsageDb } from './security/sqlite/usage-db.js';
import { Admission } from './security/admission.js';
import { UsageRecorder } from './security/usage.js';
import { buildServer } from './server/app.js';
import { OnnxGenerativeRuntime } from './tasks/onnx-generator.js';
import { TextTaskRuntime as textModelsRuntime } from './tasks/text-runtime.js';
import { JobService } from './training/jobs/job-service.js';
import { SqliteJobStore } from './training/jobs/sqlite-job-store.js';
import { FERRY_VERSION } from './version.js';

export interface FerryOptions {
  readonly config: FerryConfig;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** default: API keys (KeyAuthorizer). Tests and embedders may pass OpenAuthorizer to turn auth
   *  off; `ferry serve` never does. */
  readonly authorizer?: Authorizer;
  /** wall time for key expiry and the audit log; default the system's */
  readonly now?: () => Date;
  readonly runtime?: Runtime;
}

/** The registry on a data folder: SQLite metadata and a folder of artifacts. `ferry serve` and
 *  `ferry train` (which registers what it trained) open the same one. */
/** Models whose files say they are text models take strings (src/tasks/text-runtime.ts). */
const textModels = (inner: Runtime): Runtime => new textModelsRuntime(inner);

/** A GGUF upload: Ferry's own header checks, then a test load in a child process (llama.cpp can
 *  abort the process on a file it cannot read). */
async function checkGguf(file: string): Promise<CheckedModel> {
  const summary = inspectGguf(file);
  await probeGguf(file);
  const { shape } = summary;
  return {
    signature: GENERATIVE_SIGNATURE,
    embedded: {
      task: 'text-generation', architecture: shape.architecture, contextLength: shape.contextLength, vocabSize: shape.vocab,
      layers: shape.blocks, embedding: shape.embedding, heads: shape.heads, chatTemplate: summary.hasChatTemplate,
      ...(summary.name ? { description: summary.name } : {}),
    },
  };
}

export function openRegistry(config: FerryConfig, checkRuntime?: Runtime): Registry {
  mkdirSync(config.data, { recursive: true });
  const meta = new CachedMetadataStore(new SqliteMetadataStore(path.join(config.data, 'ferry.db')));
  const artifacts = new FsArtifactStore(path.join(config.data, 'artifacts'));
  // Uploads are test-loaded in a worker thread whatever the serving isolation: loading a large or
  // hostile model can take seconds, and the event loop must keep answering meanwhile.
  const runtime = checkRuntime ?? textModels(new OnnxRuntime({ isolation: 'worker' }));
  return new Registry(meta, artifacts, runtime, { maxUploadBytes: config.maxUploadBytes, intraOpThreads: config.intraOpThreads, defaults: config.batching, checkGguf });
}

export class Ferry {
  private ready = false;

  private constructor(
    readonly config: FerryConfig,
    readonly app: FastifyInstance,
    readonly registry: Registry,
    readonly pool: ModelPool,
    readonly monitor: Monitor,
    readonly logger: Logger,
    readonly jobs: JobService,
    readonly generation: GenerationPool,
    private readonly securityDb: SecurityDb,
    private readonly usageDb: UsageDb,
    private readonly usage: UsageRecorder,
    private readonly usesKeys: boolean,
    private readonly now: () => Date,
  ) {}

  /** the admin key made by listen() on a first start (no keys yet), to be shown once; else undefined */
  firstAdminKey: string | undefined;

  static async create(opts: FerryOptions): Promise<Ferry> {
    const { config } = opts;
    checkOpenMode(config);
    const tls = config.tls.cert === '' ? undefined : readTls(config.tls.cert, config.tls.key);
    const clock = opts.clock ?? systemClock;
    const now = opts.now ?? (() => new Date());
    const logger = opts.logger ?? createLogger(config.logLevel);
    const registry = openRegistry(config, opts.runtime);
    const runtime = opts.runtime ?? textModels(new OnnxRuntime({
      isolation: config.runtimeIsolation,
      workerThresholdMs: config.workerThresholdMs,
      onMove: (to, file) => logger.info({ artifact: path.relative(config.data, file), to }, to === 'inline' ? 'model runs are short: moved to the main thread' : 'model runs are long: moved to a worker thread'),
    }));
    const defaults = config.batching;
    const monitor = new Monitor();
    const pool = new ModelPool(registry, runtime, monitor, clock, {
      memoryBudgetBytes: config.memoryBudgetBytes, idleUnloadMs: config.idleUnloadMs, intraOpThreads: config.intraOpThreads, defaults, logger,
    });
    const jobs = new JobService(new SqliteJobStore(path.join(config.data, 'ferry.db')), registry, {
      dataDir: config.data, threads: config.trainingThreads, logger,
    });
    const generation = new GenerationPool(registry, {
      gguf: new LlamaRuntime(),
      onnx: new OnnxGenerativeRuntime(new OnnxRuntime({ isolation: 'inline' })),
    }, { ...config.generation, logger });
    const securityDb = new SecurityDb(path.join(config.data, 'ferry.db'));
    const authorizer = opts.authorizer ?? new KeyAuthorizer(securityDb, { clock, now, open: config.open });
    const usageDb = new UsageDb(path.join(config.data, 'ferry.db'));
    const usage = new UsageRecorder(usageDb, {
      clock, now, ...config.usage, onError: (err) => logger.error({ err }, 'could not write the usage ledger'),
    });
    const admission = new Admission({
      clock, now, tenantLimits: (t) => config.tenants[t] ?? NO_LIMITS,
      // rows still in the buffer must count too
      spent: (who, from, to) => (usage.flush(), usageDb.spent(who, from, to)),
    });
    let ferry: Ferry | undefined;
    const app = buildServer({
      config, registry, pool, monitor, logger, version: FERRY_VERSION, jobs, generation, clock, tls,
      security: { authorizer, keys: securityDb, audit: securityDb, jobOwners: securityDb, now, admission, usage, logPayloads: config.usage.logPayloads },
      isReady: () => ferry?.ready === true,
    });
    ferry = new Ferry(config, app, registry, pool, monitor, logger, jobs, generation, securityDb, usageDb, usage, opts.authorizer === undefined, now);
    const removed = await registry.collectGarbage();
    if (removed > 0) logger.warn({ removed }, 'removed model files no version referenced (left by an interrupted upload)');
    if (config.builtinModels) {
      const report = await importBuiltins(registry, config.data);
      if (report.imported.length > 0) logger.info({ models: report.imported }, 'registered built-in models');
      if (report.missing.length > 0) logger.warn({ models: report.missing }, 'built-in model files not found in node_modules');
    }
    return ferry;
  }

  /** Starts listening; resolves with the address (port 0 picks a free port). */
  async listen(): Promise<string> {
    const address = await this.app.listen({ host: this.config.host, port: this.config.port });
    // Safe by default: a server with no keys makes an admin key, whose secret only the caller of
    // listen() ever sees (`ferry serve` prints it once, to stderr). Made once listening succeeded,
    // so a start that fails (port taken) does not leave a key nobody was shown.
    if (this.usesKeys && (await this.securityDb.count()) === 0) {
      const made = await createKey(this.securityDb, { tenant: ADMIN_TENANT, scopes: [...KEY_SCOPES], models: null, expiresAt: null, name: 'created on first start', limits: NO_LIMITS }, this.now());
      this.firstAdminKey = made.key;
      await this.securityDb.append({ time: this.now().toISOString(), keyId: null, tenant: null, action: 'key.create', target: made.record.id, outcome: 'ok', status: 201, ip: 'local' });
    }
    this.ready = true;
    this.logger.info({ address, data: path.resolve(this.config.data) }, 'ferry is serving');
    const resumed = await this.jobs.recover();
    if (resumed.length > 0) this.logger.info({ jobs: resumed }, 'resuming training jobs the last run left unfinished');
    return address;
  }

  /** Stops accepting, lets in-flight requests finish, releases models and closes the store. */
  async close(): Promise<void> {
    this.ready = false;
    await this.jobs.close();
    await this.app.close();
    await this.pool.close();
    await this.generation.close();
    await this.registry.meta.close();
    this.usage.close();
    this.usageDb.close();
    await this.securityDb.close();
  }

  /** the usage ledger as written so far, without what is still buffered (tests read its rows) */
  get ledger(): UsageDb {
    return this.usageDb;
  }
}

function readTls(certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const read = (what: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new FerryError('INVALID_ARGUMENT', `cannot read the TLS ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; set tls.${what} to a PEM file`);
    }
  };
  return { cert: read('cert', certFile), key: read('key', keyFile) };
}
