// The Runtime for ONNX models on onnxruntime-node. A model runs either on the main thread (`inline`) or
// in a worker thread of its own (`worker`; see onnx-worker.ts for why). Measured on the serving
// benchmark's MLP, the worker's thread hand-off cost a third of the throughput at concurrency 1-16,
// while a model whose runs take long blocks every other request when inline. `auto` (the default)
// starts inline and moves a model to a worker once three runs in a row take longer than
// `workerThresholdMs`.
import { Worker } from 'node:worker_threads';
import { FerryError } from '../../core/errors.js';
import type { NamedTensors } from '../../core/tensor.js';
import type { LoadedModel, ModelArtifact, Runtime, RuntimeOptions, Signature } from '../runtime.js';
import type { WorkerReply, WorkerRequest } from './onnx-worker.js';
import { openSession, type Session } from './session.js';

export type Isolation = 'auto' | 'worker' | 'inline';

class InlineModel implements LoadedModel {
  constructor(private readonly session: Session) {}

  get signature(): Signature {
    return this.session.signature;
  }

  infer(inputs: NamedTensors, outputs?: readonly string[]): Promise<NamedTensors> {
    return this.session.run(inputs, outputs);
  }

  unload(): Promise<void> {
    return this.session.release();
  }
}

// Under tsx (tests, benchmarks) this module is TypeScript and so is its worker, which a small JS
// bootstrap starts with tsx registered in the worker thread; built, the worker is plain .js.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_ENTRY = new URL(FROM_SOURCE ? './onnx-worker.ts' : './onnx-worker.js', import.meta.url);
const WORKER_MAIN = FROM_SOURCE ? new URL('./ts-worker-bootstrap.mjs', import.meta.url) : WORKER_ENTRY;

interface Pending {
  resolve: (t: NamedTensors) => void;
  reject: (e: Error) => void;
}

class WorkerModel implements LoadedModel {
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private exited: Error | undefined;

  private constructor(private readonly worker: Worker, readonly signature: Signature) {
    worker.on('message', (msg: WorkerReply) => {
      if (msg.type === 'ready' || msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) this.worker.unref();
      if (msg.type === 'result') p.resolve(msg.outputs);
      else p.reject(new FerryError(msg.code, msg.message));
    });
    worker.on('exit', (code) => this.stopped(`exit code ${code}`));
    // Without a listener, an error thrown in the worker would be rethrown here and end the server.
    worker.on('error', (err) => this.stopped(err.message));
  }

  private stopped(why: string): void {
    this.exited ??= new FerryError('UNAVAILABLE', `the model's worker thread stopped (${why}); retry to load it again`, { retryAfterSeconds: 1 });
    for (const p of this.pending.values()) p.reject(this.exited);
    this.pending.clear();
  }

  static load(path: string, options: RuntimeOptions): Promise<WorkerModel> {
    const worker = new Worker(WORKER_MAIN, { workerData: { path, options, entry: WORKER_ENTRY.href } });
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new FerryError('INTERNAL', `the model's worker thread failed to start: ${err.message}`, { cause: err }));
      const onExit = (code: number) => reject(new FerryError('INTERNAL', `the model's worker thread exited (code ${code}) before the model loaded`));
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.once('message', (msg: WorkerReply) => {
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (msg.type === 'ready') {
          // An idle model must not keep the process alive on its own (the server's socket does that);
          // the worker is referenced again while it has work, so awaited results always arrive.
          worker.unref();
          resolve(new WorkerModel(worker, msg.signature));
        }
        else if (msg.type === 'error') {
          void worker.terminate();
          reject(new FerryError(msg.code, msg.message));
        }
      });
    });
  }

  infer(inputs: NamedTensors, outputs?: readonly string[]): Promise<NamedTensors> {
    if (this.exited) return Promise.reject(this.exited);
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      // Inputs are copied, not transferred: they may be views into buffers the caller still uses.
      this.worker.postMessage({ type: 'run', id, inputs, outputs } satisfies WorkerRequest);
    });
  }

  async unload(): Promise<void> {
    if (this.exited) return;
    this.worker.ref();
    const done = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.postMessage({ type: 'release' } satisfies WorkerRequest);
    await done;
  }
}

const SLOW_RUNS_TO_MOVE = 3;

/** Runs inline until runs are slow, then moves the model to a worker thread. */
class AdaptiveModel implements LoadedModel {
  private current: LoadedModel;
  private inlineRuns = 0;
  private slowRuns = 0;
  private moving: Promise<void> | undefined;
  private releaseInline: (() => void) | undefined;

  constructor(
    private readonly inline: InlineModel,
    private readonly path: string,
    private readonly options: RuntimeOptions,
    private readonly thresholdMs: number,
  ) {
    this.current = inline;
  }

  get signature(): Signature {
    return this.inline.signature;
  }

  /** true once the model runs in a worker thread */
  get inWorker(): boolean {
    return this.current !== this.inline;
  }

  async infer(inputs: NamedTensors, outputs?: readonly string[]): Promise<NamedTensors> {
    if (this.current !== this.inline) return this.current.infer(inputs, outputs);
    this.inlineRuns++;
    const started = performance.now();
    try {
      return await this.inline.infer(inputs, outputs);
    } finally {
      this.inlineRuns--;
      // The time includes waiting for a turn of the event loop, which a burst of other work can
      // stretch once: only several slow runs in a row move the model.
      this.slowRuns = performance.now() - started > this.thresholdMs ? this.slowRuns + 1 : 0;
      if (this.moving === undefined && this.slowRuns >= SLOW_RUNS_TO_MOVE) this.moving = this.moveToWorker();
      if (this.inlineRuns === 0) this.releaseInline?.();
    }
  }

  private async moveToWorker(): Promise<void> {
    let worker: LoadedModel;
    try {
      worker = await WorkerModel.load(this.path, this.options);
    } catch {
      return; // stays inline: slower for others, but still correct
    }
    this.current = worker;
    // Runs already started inline finish before the inline session is released.
    if (this.inlineRuns > 0) await new Promise<void>((r) => (this.releaseInline = r));
    await this.inline.unload();
  }

  async unload(): Promise<void> {
    await this.moving;
    await this.current.unload();
  }
}

export interface OnnxRuntimeOptions {
  readonly isolation?: Isolation;
  /** with `auto`: a run longer than this moves the model to a worker thread */
  readonly workerThresholdMs?: number;
}

export class OnnxRuntime implements Runtime {
  readonly name = 'onnxruntime';
  private readonly isolation: Isolation;
  private readonly thresholdMs: number;

  constructor(options: OnnxRuntimeOptions = {}) {
    this.isolation = options.isolation ?? 'auto';
    this.thresholdMs = options.workerThresholdMs ?? 10;
  }

  async load(artifact: ModelArtifact, options: RuntimeOptions): Promise<LoadedModel> {
    if (this.isolation === 'worker') return WorkerModel.load(artifact.path, options);
    const inline = new InlineModel(await openSession(artifact.path, options));
    return this.isolation === 'inline' ? inline : new AdaptiveModel(inline, artifact.path, options, this.thresholdMs);
  }
}
