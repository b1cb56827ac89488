// Training jobs as a service: a queue that runs one job at a time in a worker thread, keeps each
// job's record in the JobStore, streams its events to watchers, registers the trained model, and
// — after a crash or `kill -9` — resumes unfinished jobs from their last checkpoint on the next start.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { FerryError } from '../../core/errors.js';
import { startWorker } from '../../core/worker.js';
import { checkModelName } from '../../registry/names.js';
import type { Registry } from '../../registry/registry.js';
import { prunedTensors, registerTrained } from '../run.js';
import { parseSpec, type TrainSpec } from '../spec.js';
import { checkNetwork } from '../prepare.js';
import { FINISHED, type JobEvent, type JobRecord } from './job.js';
import type { JobStore } from './job-store.js';
import type { JobWorkerData, JobWorkerMessage } from './job-worker.js';

export interface JobServiceOptions {
  /** the server's data folder: checkpoints go to <data>/jobs, datasets are read from <data>/datasets */
  readonly dataDir: string;
  readonly threads: number;
  readonly logger: Logger;
}

type Listener = (e: JobEvent) => void;

interface Running {
  readonly id: string;
  /** absent while the job is starting (loading its parent) */
  worker?: Worker;
  cancelRequested: boolean;
}

const DATASET_PATH_FIELDS = ['path', 'images', 'labels', 'testImages', 'testLabels', 'dir'] as const;

/** How long close() waits for a training step to finish before it terminates the worker anyway. */
const STOP_GRACE_MS = 30_000;

export class JobService {
  /** records of queued and running jobs, kept current in memory; finished ones live in the store */
  private readonly active = new Map<string, JobRecord>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly queue: string[] = [];
  private running: Running | undefined;
  private closing = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly store: JobStore, private readonly registry: Registry, private readonly opts: JobServiceOptions) {}

  get datasetsDir(): string {
    return path.resolve(this.opts.dataDir, 'datasets');
  }

  private checkpointFile(id: string): string {
    return path.join(this.opts.dataDir, 'jobs', id, 'checkpoint.bin');
  }

  /** Checks a spec as far as it can without data, queues it, and returns the new job. */
  async submit(raw: unknown): Promise<JobRecord> {
    const spec = parseSpec(raw);
    checkModelName(spec.name);
    this.checkDatasetPaths(spec);
    checkNetwork(spec, spec.input ?? (spec.dataset.type === 'mnist' ? [784] : undefined));
    let parent: JobRecord['parent'];
    if (spec.from) {
      try {
        const v = await this.registry.resolveRef(spec.from);
        parent = { model: v.model, version: v.version };
      } catch (err) {
        if (err instanceof FerryError && err.code === 'NOT_FOUND') throw new FerryError('INVALID_ARGUMENT', `training spec: from: ${err.message}`);
        throw err;
      }
    }
    const job: JobRecord = {
      id: randomUUID(), state: 'queued', spec, ...(parent ? { parent } : {}),
      createdAt: new Date().toISOString(), epochs: [],
    };
    await this.store.create(job);
    this.active.set(job.id, job);
    this.queue.push(job.id);
    this.pump();
    return job;
  }

  /** Dataset files for API jobs are read from <data>/datasets only: a spec from the network must
   *  not make the server read whatever path it names. */
  private checkDatasetPaths(spec: TrainSpec): void {
    const ds = spec.dataset as Record<string, unknown>;
    for (const field of DATASET_PATH_FIELDS) {
      const p = ds[field];
      if (typeof p !== 'string') continue;
      const inside = path.relative(this.datasetsDir, path.resolve(this.datasetsDir, p));
      if (path.isAbsolute(p) || inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) {
        throw new FerryError('INVALID_ARGUMENT', `training spec: dataset.${field} "${p.slice(0, 200)}" must be a path relative to the server's datasets folder (<data>/datasets), without ".."`);
      }
    }
  }

  async get(id: string): Promise<JobRecord> {
    const job = this.active.get(id) ?? (await this.store.get(id));
    if (!job) throw new FerryError('NOT_FOUND', `training job "${id.slice(0, 100)}" does not exist; GET /api/training-jobs lists the jobs`);
    return job;
  }

  async list(): Promise<JobRecord[]> {
    const stored = await this.store.list();
    return stored.map((j) => this.active.get(j.id) ?? j);
  }

  /** The job as it is now and, until it finishes, every event after that; no event is missed or
   *  repeated between the two. Call `stop` when the watcher goes away. */
  async watch(id: string, listener: Listener): Promise<{ job: JobRecord; stop: () => void }> {
    const stored = this.active.has(id) ? undefined : await this.get(id);
    const job = this.active.get(id) ?? stored!;
    if (FINISHED.includes(job.state)) return { job, stop: () => {} };
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    set.add(listener);
    return { job, stop: () => set!.delete(listener) };
  }

  async cancel(id: string): Promise<JobRecord> {
    const job = await this.get(id);
    if (FINISHED.includes(job.state)) {
      throw new FerryError('FAILED_PRECONDITION', `training job ${id} already ${job.state}; only queued or running jobs can be cancelled`);
    }
    if (this.running?.id === id) {
      // the worker stops between two runs of steps and reports CANCELLED, which finishes the job;
      // a job still starting checks the flag before it starts its worker
      this.running.cancelRequested = true;
      this.running.worker?.postMessage({ type: 'cancel' });
      return job;
    }
    this.queue.splice(this.queue.indexOf(id), 1);
    return this.finish(id, { state: 'cancelled' });
  }

  /** Queues the jobs a previous run of the server left unfinished; they continue from their last
   *  checkpoint. */
  async recover(): Promise<string[]> {
    const unfinished = (await this.store.list()).filter((j) => !FINISHED.includes(j.state)).reverse();
    for (const j of unfinished) {
      if (this.active.has(j.id)) continue; // already queued or running here
      const job = { ...j, state: 'queued' as const };
      this.active.set(job.id, job);
      await this.store.update(job);
      this.queue.push(job.id);
    }
    this.pump();
    return unfinished.map((j) => j.id);
  }

  /** Stops the running job's worker without finishing the job: the next start resumes it. */
  async close(): Promise<void> {
    this.closing = true;
    this.queue.length = 0;
    for (const id of [...this.listeners.keys()]) {
      this.emit(id, { type: 'interrupted', message: 'the server is stopping; the job continues from its last checkpoint when the server starts again' });
    }
    this.listeners.clear();
    const worker = this.running?.worker;
    if (worker) {
      // Asked to stop between steps, not terminated mid-run: an onnxruntime run still in flight when
      // its thread is torn down aborts the whole process ("terminate called after throwing
      // Napi::Error"). terminate() stays the last resort for a worker that does not answer.
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage({ type: 'cancel' });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_GRACE_MS)));
      if ((await Promise.race([exited, late])) === 'late') await worker.terminate();
      clearTimeout(timer);
    }
    await this.idle;
    await this.store.close();
  }

  private emit(id: string, e: JobEvent): void {
    for (const l of this.listeners.get(id) ?? []) l(e);
    if (e.type === 'done') this.listeners.delete(id);
  }

  private async save(job: JobRecord): Promise<JobRecord> {
    this.active.set(job.id, job);
    await this.store.update(job);
    return job;
  }

  private async finish(id: string, patch: Partial<JobRecord>): Promise<JobRecord> {
    const { progress: _p, ...job } = { ...this.active.get(id)!, ...patch, finishedAt: new Date().toISOString() };
    await this.store.update(job);
    this.active.delete(id);
    rmSync(path.dirname(this.checkpointFile(id)), { recursive: true, force: true });
    this.emit(id, { type: 'done', state: job.state, ...(job.result ? { result: job.result } : {}), ...(job.error ? { error: job.error } : {}) });
    return job;
  }

  private pump(): void {
    if (this.running || this.closing || this.queue.length === 0) return;
    const id = this.queue.shift()!;
    // taken before the first await: one job at a time, whatever arrives while this one starts
    const running: Running = { id, cancelRequested: false };
    this.running = running;
    this.idle = this.run(running).catch(async (err: unknown) => {
      this.opts.logger.error({ err, job: id }, 'training job failed outside its worker');
      if (!this.closing && this.active.has(id)) await this.finish(id, { state: 'failed', error: `internal error: ${(err as Error).message}` }).catch(() => {});
    }).finally(() => {
      this.running = undefined;
      this.pump();
    });
  }

  private async run(running: Running): Promise<void> {
    const { id } = running;
    let job = await this.save({ ...this.active.get(id)!, state: 'running', startedAt: new Date().toISOString() });
    this.emit(id, { type: 'state', state: 'running' });
    let parent: JobWorkerData['parent'];
    try {
      if (job.parent) {
        const v = await this.registry.resolve(job.parent.model, String(job.parent.version));
        const onnx = new Uint8Array(await readFile(await this.registry.artifacts.localPath(v.artifactKey)));
        parent = { ...job.parent, onnx, pruned: prunedTensors(v.metadata) };
      }
    } catch (err) {
      await this.finish(id, { state: 'failed', error: `the parent version is gone: ${(err as Error).message}` });
      return;
    }
    if (this.closing) return; // stays 'running' in the store: the next start resumes it
    if (running.cancelRequested) {
      await this.finish(id, { state: 'cancelled' });
      return;
    }
    const checkpointFile = this.checkpointFile(id);
    mkdirSync(path.dirname(checkpointFile), { recursive: true });
    const data: JobWorkerData = { spec: job.spec, baseDir: this.datasetsDir, parent, checkpointFile, threads: this.opts.threads };
    const worker = startWorker(import.meta.url, 'job-worker', data as unknown as Record<string, unknown>);
    running.worker = worker;
    this.opts.logger.info({ job: id, model: job.spec.name, resume: existsSync(checkpointFile) }, 'training job started');

    let outcome: JobWorkerMessage | undefined;
    // Messages are handled one at a time, in order: an epoch's record is saved before the next.
    let chain = Promise.resolve();
    let broken: Error | undefined;
    // a worker that dies of an uncaught error (out of memory, a failed import) reports it here
    worker.on('error', (err) => {
      outcome ??= { type: 'error', code: 'INTERNAL', message: `the training worker failed: ${err.message}` };
    });
    worker.on('message', (m: JobWorkerMessage) => {
      chain = chain.then(async () => {
        switch (m.type) {
          case 'started':
            if (m.resumedFromEpoch !== undefined) {
              // the checkpoint's epochs are the truth: a kill between writing it and reporting its
              // epoch would otherwise leave that epoch out of the record
              job = await this.save({ ...job, resumedFromEpoch: m.resumedFromEpoch, epochs: m.history ?? job.epochs });
              this.emit(id, { type: 'state', state: 'running', resumedFromEpoch: m.resumedFromEpoch });
            }
            break;
          case 'progress':
            job = { ...job, progress: m.progress };
            this.active.set(id, job);
            this.emit(id, { type: 'progress', progress: m.progress });
            break;
          case 'epoch': {
            // a resumed job re-reports nothing: its checkpoint's epochs are already in the record
            const epochs = [...job.epochs.filter((e) => e.epoch < m.metrics.epoch), m.metrics];
            job = await this.save({ ...job, epochs });
            this.emit(id, { type: 'epoch', metrics: m.metrics });
            break;
          }
          default:
            outcome = m;
        }
      }).catch((err: Error) => {
        // the job store refused a write (disk full, locked): stop the job rather than the server
        broken ??= err;
        void worker.terminate();
      });
    });
    const code = await new Promise<number>((resolve) => worker.once('exit', resolve));
    await chain;
    if (this.closing) return; // stopped by close(): the job stays 'running' and resumes on the next start
    if (broken) throw broken; // pump() records the failure

    if (outcome?.type === 'done') {
      try {
        // a server stopped between registering and recording it resumes here: do not register twice
        const v = await this.registeredBy(id, job.spec.name) ?? await registerTrained(this.registry, job.spec, { onnx: outcome.onnx, record: outcome.record, metrics: outcome.record.epochs.at(-1)! }, { trainingJob: id });
        await this.finish(id, { state: 'succeeded', result: { model: v.model, version: v.version } });
        this.opts.logger.info({ job: id, model: v.model, version: v.version }, 'training job registered its model');
      } catch (err) {
        await this.finish(id, { state: 'failed', error: `training finished but registering the model failed: ${(err as Error).message}` });
      }
    } else if (outcome?.type === 'error') {
      const cancelled = outcome.code === 'CANCELLED' && running.cancelRequested;
      await this.finish(id, cancelled ? { state: 'cancelled' } : { state: 'failed', error: outcome.message });
    } else {
      await this.finish(id, { state: 'failed', error: `the training worker stopped unexpectedly (exit code ${code})` });
    }
  }

  private async registeredBy(id: string, model: string): Promise<{ model: string; version: number } | undefined> {
    const summary = await this.registry.meta.getModel(model);
    for (const n of summary?.versions ?? []) {
      const v = await this.registry.meta.getVersion(model, n);
      if (v?.metadata['trainingJob'] === id) return v;
    }
    return undefined;
  }
}
