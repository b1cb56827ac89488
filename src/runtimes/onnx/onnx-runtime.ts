// The Runtime for ONNX models on onnxruntime-node. A model runs either on the main thread (`inline`) or
// in a worker thread of its own (`worker`; see onnx-worker.ts for why). Measured on the serving
// benchmark's MLP, the worker's thread hand-off cost a third of the throughput at concurrency 1-16,
// while a model whose runs take long blocks every other request when inline. `auto` (the default)
// loads each model in a worker and moves it inline once its runs prove short (see AdaptiveModel).
import type { Worker } from 'node:worker_threads';
import { FerryError } from '../../core/errors.js';
import { startWorker } from '../../core/worker.js';
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


interface Timed {
  readonly outputs: NamedTensors;
  /** the run itself, timed in the worker: no queueing or message passing in it */
  readonly ms: number;
}

interface Pending {
  resolve: (t: Timed) => void;
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
      if (msg.type === 'result') p.resolve({ outputs: msg.outputs, ms: msg.ms });
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
    const worker = startWorker(import.meta.url, 'onnx-worker', { path, options });
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

  async infer(inputs: NamedTensors, outputs?: readonly string[]): Promise<NamedTensors> {
    return (await this.inferTimed(inputs, outputs)).outputs;
  }

  inferTimed(inputs: NamedTensors, outputs?: readonly string[]): Promise<Timed> {
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

const RUNS_TO_DECIDE = 3;

/**
 * `auto`: the model loads in a worker thread, so loading never stalls the event loop, and runs there
 * while the worker times each run. Three runs in a row under the threshold show it is small: it moves
 * inline, where small models are fastest. One slow run in the worker keeps it there for good; three
 * slow runs in a row inline (a bigger batch, a busier machine) send it back to a worker for good.
 */
class AdaptiveModel implements LoadedModel {
  private current: WorkerModel | InlineModel;
  private state: 'trial' | 'inline' | 'worker' = 'trial';
  private streak = 0;
  private moving: Promise<void> | undefined;
  private readonly inflight = new Map<LoadedModel, number>();
  private readonly drained = new Map<LoadedModel, () => void>();

  constructor(
    worker: WorkerModel,
    private readonly path: string,
    private readonly options: RuntimeOptions,
    private readonly thresholdMs: number,
    private readonly onMove: (to: 'inline' | 'worker', path: string) => void,
  ) {
    this.current = worker;
  }

  get signature(): Signature {
    return this.current.signature;
  }

  /** true while the model runs in a worker thread */
  get inWorker(): boolean {
    return this.current instanceof WorkerModel;
  }

  async infer(inputs: NamedTensors, outputs?: readonly string[]): Promise<NamedTensors> {
    const model = this.current;
    this.inflight.set(model, (this.inflight.get(model) ?? 0) + 1);
    try {
      if (model instanceof WorkerModel) {
        const { outputs: out, ms } = await model.inferTimed(inputs, outputs);
        this.observe(ms);
        return out;
      }
      const started = performance.now();
      const out = await model.infer(inputs, outputs);
      // Inline, the time includes a wait for ORT's turn of the event loop: hence several runs in a row.
      this.observe(performance.now() - started);
      return out;
    } finally {
      const left = this.inflight.get(model)! - 1;
      this.inflight.set(model, left);
      if (left === 0) this.drained.get(model)?.();
    }
  }

  private observe(ms: number): void {
    if (this.moving !== undefined || this.state === 'worker') return;
    const slow = ms > this.thresholdMs;
    if (this.state === 'trial') {
      if (slow) this.state = 'worker';
      else if (++this.streak >= RUNS_TO_DECIDE) this.moving = this.move('inline');
      return;
    }
    this.streak = slow ? this.streak + 1 : 0;
    if (this.streak >= RUNS_TO_DECIDE) this.moving = this.move('worker');
  }

  private async move(to: 'inline' | 'worker'): Promise<void> {
    const from = this.current;
    try {
      this.current = to === 'inline' ? new InlineModel(await openSession(this.path, this.options)) : await WorkerModel.load(this.path, this.options);
    } catch {
      this.state = 'worker'; // could not load the other way: stay as it is, and stop trying
      this.moving = undefined;
      return;
    }
    this.state = to;
    this.streak = 0;
    this.onMove(to, this.path);
    // Runs that started on the old one finish before it is released.
    if ((this.inflight.get(from) ?? 0) > 0) await new Promise<void>((r) => this.drained.set(from, r));
    this.inflight.delete(from);
    this.drained.delete(from);
    await from.unload();
    this.moving = undefined;
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
  /** with `auto`: told when a model moves, so operators can see where it runs */
  readonly onMove?: (to: 'inline' | 'worker', path: string) => void;
}

export class OnnxRuntime implements Runtime {
  readonly name = 'onnxruntime';
  private readonly isolation: Isolation;
  private readonly thresholdMs: number;
  private readonly onMove: (to: 'inline' | 'worker', path: string) => void;

  constructor(options: OnnxRuntimeOptions = {}) {
    this.isolation = options.isolation ?? 'auto';
    this.thresholdMs = options.workerThresholdMs ?? 10;
    this.onMove = options.onMove ?? (() => {});
  }

  async load(artifact: ModelArtifact, options: RuntimeOptions): Promise<LoadedModel> {
    if (this.isolation === 'inline') return new InlineModel(await openSession(artifact.path, options));
    const worker = await WorkerModel.load(artifact.path, options);
    return this.isolation === 'worker' ? worker : new AdaptiveModel(worker, artifact.path, options, this.thresholdMs, this.onMove);
  }
}
