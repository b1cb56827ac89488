// Loaded generative models (GGUF), one per version, loaded on first use and unloaded when their
// version is deleted. Each model queues its own requests (GenerativeModel.generate): this pool only
// decides what is loaded.
import { FerryError } from '../core/errors.js';
import type { GenerationDefaults } from '../core/config.js';
import type { Logger } from 'pino';
import type { Registry } from '../registry/registry.js';
import type { ModelFormat, VersionRecord } from '../registry/records.js';
import type { GenerativeModel, GenerativeRuntime } from '../tasks/generation.js';

const keyOf = (name: string, version: number) => `${name}@${version}`;

export class GenerationPool {
  private readonly models = new Map<string, Promise<GenerativeModel>>();
  /** the loaded ones, for metrics: a scrape must not wait for a load in progress */
  private readonly ready = new Map<string, GenerativeModel>();

  constructor(
    private readonly registry: Registry,
    /** by file format: GGUF on llama.cpp, Ferry-exported ONNX decoders on Ferry's own loop */
    private readonly runtimes: Readonly<Record<ModelFormat, GenerativeRuntime>>,
    private readonly options: GenerationDefaults & { readonly logger?: Pick<Logger, 'error'> },
  ) {}

  /** The loaded model of a generative version, loading it on first use. */
  acquire(record: VersionRecord): Promise<GenerativeModel> {
    if (record.format !== 'gguf' && record.metadata['task'] !== 'text-generation') {
      throw new FerryError('INVALID_ARGUMENT', `model "${record.model}" is not a generative model; /v1/completions and /v1/chat/completions serve GGUF models (push one with \`ferry models push model.gguf\`)`);
    }
    const key = keyOf(record.model, record.version);
    let p = this.models.get(key);
    if (!p) {
      p = this.load(record);
      this.models.set(key, p);
      p.then((m) => {
        if (this.models.get(key) === p) this.ready.set(key, m);
      }, () => {});
      // a failed load is not remembered: the next request tries again
      p.catch(() => this.models.delete(key));
    }
    return p;
  }

  private async load(record: VersionRecord): Promise<GenerativeModel> {
    try {
      const path = await this.registry.artifacts.localPath(record.artifactKey);
      return await this.runtimes[record.format].load(path, { parallel: this.options.parallel, maxQueue: this.options.maxQueueSize, threads: this.options.threads });
    } catch (err) {
      this.options.logger?.error({ err, model: record.model, version: record.version }, 'generative model failed to load');
      throw new FerryError('UNAVAILABLE', `model "${record.model}" version ${record.version} failed to load; the server log has the cause`, { cause: err, retryAfterSeconds: 5 });
    }
  }

  /** Which loaded models are busy, for metrics: running and waiting requests per model version. */
  loads(): { model: string; version: number; running: number; waiting: number }[] {
    return [...this.ready].map(([key, m]) => {
      const [model, version] = key.split('@') as [string, string];
      return { model, version: Number(version), ...m.load() };
    });
  }

  async unload(name: string, version?: number): Promise<void> {
    for (const [key, p] of [...this.models]) {
      if (version === undefined ? !key.startsWith(`${name}@`) : key !== keyOf(name, version)) continue;
      this.models.delete(key);
      this.ready.delete(key);
      const m = await p.catch(() => undefined);
      await m?.unload();
    }
  }

  async close(): Promise<void> {
    for (const key of [...this.models.keys()]) {
      const [name, version] = key.split('@') as [string, string];
      await this.unload(name, Number(version));
    }
  }
}
