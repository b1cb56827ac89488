// Which model versions are in memory. Versions load lazily on first use (concurrent first requests
// share one load), unload after an idle time, and are evicted least-recently-used when the memory
// budget would be exceeded. Unloading closes the version's queue and waits for running batches, so a
// request that was admitted is never cut off.
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../core/clock.js';
import { FerryError } from '../core/errors.js';
import type { NamedTensors } from '../core/tensor.js';
import type { Monitor } from '../monitor/monitor.js';
import { effectiveConfig, type EffectiveConfig, type ServingDefaults } from '../registry/model-config.js';
import type { VersionRecord } from '../registry/records.js';
import type { Registry } from '../registry/registry.js';
import type { LoadedModel, Runtime } from '../runtimes/runtime.js';
import { DynamicBatcher, type BatchResult, type SubmitOptions } from './batcher.js';

export interface PoolOptions {
  /** total estimated bytes of loaded models; 0 = no limit */
  readonly memoryBudgetBytes: number;
  /** unload a version unused this long; 0 = never */
  readonly idleUnloadMs: number;
  readonly intraOpThreads: number;
  readonly defaults: ServingDefaults;
  /** where load failures are logged with their cause */
  readonly logger?: Pick<Logger, 'error'>;
}

export type UnloadReason = 'idle' | 'evicted' | 'api' | 'deleted' | 'replaced' | 'shutdown';

export interface Deployment {
  readonly record: VersionRecord;
  readonly model: LoadedModel;
  readonly batcher: DynamicBatcher;
  readonly config: EffectiveConfig;
  /** ORT keeps weights plus working buffers: twice the file size is a measured-enough estimate */
  readonly estimatedBytes: number;
  lastUsed: number;
}

const keyOf = (name: string, version: number) => `${name}@${version}`;

export interface InferOptions extends SubmitOptions {
  /** the request's own parameters, for models that read options per request (LoadedModel.check) */
  readonly parameters?: Readonly<Record<string, unknown>>;
}

export class ModelPool {
  private readonly loaded = new Map<string, Deployment>();
  private readonly loading = new Map<string, Promise<Deployment>>();
  /** estimated bytes of loads in progress: counted against the budget so concurrent loads cannot overshoot it */
  private reservedBytes = 0;
  private sweepTimer: TimerHandle | undefined;
  private closed = false;

  constructor(
    private readonly registry: Registry,
    private readonly runtime: Runtime,
    private readonly monitor: Monitor,
    private readonly clock: Clock,
    private readonly options: PoolOptions,
  ) {
    this.armSweep();
  }

  /** Loads the version if needed and runs the request through its batcher. */
  async infer(record: VersionRecord, inputs: NamedTensors, opts: InferOptions = {}): Promise<BatchResult> {
    let dep = await this.acquire(record);
    // An unload may close this version's queue between acquire and submit: load it again rather than fail.
    if (dep.batcher.closed) dep = await this.acquire(record);
    dep.lastUsed = this.clock.now();
    dep.model.check?.(inputs, opts.parameters);
    return dep.batcher.submit(inputs, opts);
  }

  isLoaded(name: string, version: number): boolean {
    return this.loaded.has(keyOf(name, version));
  }

  deployments(): Deployment[] {
    return [...this.loaded.values()];
  }

  /** Returns the loaded deployment for a version, loading it first when needed. */
  acquire(record: VersionRecord): Promise<Deployment> {
    const key = keyOf(record.model, record.version);
    const have = this.loaded.get(key);
    if (have) return Promise.resolve(have);
    if (this.closed) return Promise.reject(new FerryError('UNAVAILABLE', 'the server is shutting down', { retryAfterSeconds: 1 }));
    let p = this.loading.get(key);
    if (!p) {
      p = this.load(record).finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  private async load(record: VersionRecord): Promise<Deployment> {
    const { model: name, version } = record;
    if (record.format !== 'onnx') {
      throw new FerryError('INVALID_ARGUMENT', `model "${name}" is a generative model (${record.format}); send it prompts through POST /v1/completions or /v1/chat/completions`);
    }
    const estimatedBytes = record.sizeBytes * 2;
    await this.makeRoom(estimatedBytes); // reserves estimatedBytes
    let model: LoadedModel;
    let config: EffectiveConfig;
    try {
      try {
        const path = await this.registry.artifacts.localPath(record.artifactKey);
        model = await this.runtime.load({ path, format: 'onnx' }, { intraOpThreads: this.options.intraOpThreads });
      } catch (err) {
        this.monitor.metrics.modelLoads.labels(name, String(version), 'failure').inc();
        // The cause (a missing file, an ORT message) names paths on this server: it goes to the log,
        // and the client gets what it can act on.
        this.options.logger?.error({ err, model: name, version }, 'model failed to load');
        throw new FerryError('UNAVAILABLE', `model "${name}" version ${version} failed to load; the server log has the cause`, { cause: err, retryAfterSeconds: 5 });
      }
      try {
        config = effectiveConfig(record.config, model.signature, this.options.defaults);
      } catch (err) {
        // the native session would otherwise stay allocated with nothing pointing at it
        await model.unload();
        this.monitor.metrics.modelLoads.labels(name, String(version), 'failure').inc();
        throw err;
      }
    } finally {
      this.reservedBytes -= estimatedBytes;
    }
    const execute = (inputs: NamedTensors) => model.infer(inputs).catch((err: unknown) => {
      // A model that cannot run any more is dropped, so the next request loads the version afresh.
      if (err instanceof FerryError && err.code === 'UNAVAILABLE' && this.loaded.get(keyOf(name, version))?.model === model) {
        this.loaded.delete(keyOf(name, version));
        this.monitor.metrics.loadedModels.set(this.loaded.size);
      }
      throw err;
    });
    const batcher = new DynamicBatcher(execute, config, this.clock, (r) => this.monitor.execution(name, version, r));
    const dep: Deployment = { record, model, batcher, config, estimatedBytes, lastUsed: this.clock.now() };
    this.loaded.set(keyOf(name, version), dep);
    this.monitor.metrics.modelLoads.labels(name, String(version), 'success').inc();
    this.monitor.metrics.loadedModels.set(this.loaded.size);
    return dep;
  }

  /**
   * Evicts idle versions, least recently used first, until `bytes` more fit in the budget, then reserves
   * them (the caller releases the reservation once the load has finished or failed).
   */
  private async makeRoom(bytes: number): Promise<void> {
    const budget = this.options.memoryBudgetBytes;
    if (budget > 0) {
      const used = () => [...this.loaded.values()].reduce((n, d) => n + d.estimatedBytes, this.reservedBytes);
      const candidates = [...this.loaded.values()].filter((d) => !d.batcher.busy).sort((a, b) => a.lastUsed - b.lastUsed);
      while (used() + bytes > budget && candidates.length > 0) {
        const d = candidates.shift()!;
        // it may have been unloaded, or have taken a request, while an earlier eviction was awaited
        if (this.loaded.get(keyOf(d.record.model, d.record.version)) !== d || d.batcher.busy) continue;
        await this.unload(d.record.model, d.record.version, 'evicted');
      }
      // A model larger than the whole budget still loads when nothing else is in memory or loading.
      if (used() + bytes > budget && (this.loaded.size > 0 || this.reservedBytes > 0)) {
        throw new FerryError('UNAVAILABLE', `loading this model needs about ${bytes} bytes but the memory budget of ${budget} bytes is taken by models that are busy or loading; retry shortly or raise memoryBudgetBytes`, { retryAfterSeconds: 5 });
      }
    }
    this.reservedBytes += bytes;
  }

  /** Unloads one version (or every loaded version of a model) once the work it admitted has finished. */
  async unload(name: string, version: number | undefined, reason: UnloadReason): Promise<number> {
    // A load in progress would finish after this call and leave the version in memory: wait for it.
    const prefix = version === undefined ? `${name}@` : keyOf(name, version);
    const pending = [...this.loading].filter(([key]) => (version === undefined ? key.startsWith(prefix) : key === prefix));
    if (pending.length > 0) await Promise.all(pending.map(([, p]) => p.catch(() => undefined)));
    const targets = [...this.loaded.values()].filter((d) => d.record.model === name && (version === undefined || d.record.version === version));
    for (const d of targets) {
      this.loaded.delete(keyOf(d.record.model, d.record.version));
      await d.batcher.close(`model "${name}" version ${d.record.version} was unloaded (${reason}); retry to load it again`);
      await d.model.unload();
      this.monitor.metrics.modelUnloads.labels(d.record.model, String(d.record.version), reason).inc();
    }
    this.monitor.metrics.loadedModels.set(this.loaded.size);
    return targets.length;
  }

  /** Unloads versions that have been idle for idleUnloadMs. Runs on a timer; tests call it directly. */
  async sweepIdle(): Promise<void> {
    const idle = this.options.idleUnloadMs;
    if (idle <= 0) return;
    const now = this.clock.now();
    for (const d of [...this.loaded.values()]) {
      if (!d.batcher.busy && now - d.lastUsed >= idle) await this.unload(d.record.model, d.record.version, 'idle');
    }
  }

  private armSweep(): void {
    const idle = this.options.idleUnloadMs;
    if (idle <= 0 || this.closed) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      void this.sweepIdle().finally(() => this.armSweep());
    }, Math.max(1000, Math.min(idle / 4, 30_000)));
  }

  /** Queue depth per loaded version, for the metrics gauge. */
  refreshGauges(): void {
    this.monitor.metrics.queueDepth.reset();
    for (const d of this.loaded.values()) this.monitor.metrics.queueDepth.labels(d.record.model, String(d.record.version)).set(d.batcher.depth);
  }

  /** Waits for running work everywhere, then releases every model. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) this.clock.clearTimeout(this.sweepTimer);
    await Promise.allSettled([...this.loading.values()]);
    await Promise.all([...this.loaded.values()].map((d) => d.batcher.whenIdle()));
    for (const d of [...this.loaded.values()]) await this.unload(d.record.model, d.record.version, 'shutdown');
  }
}
