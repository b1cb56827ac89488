// Training jobs under /api/training-jobs: submit a spec, read a job, follow it as server-sent
// events, cancel it. A job belongs to the tenant whose key submitted it; to any other tenant it (and
// its event stream) does not exist.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FerryError } from '../../core/errors.js';
import { splitModelRef } from '../../registry/names.js';
import type { Registry } from '../../registry/registry.js';
import { canSeeJob, ownerFor, type JobOwners } from '../../security/tenancy.js';
import { checkModelAccess } from '../auth-hooks.js';
import type { JobEvent, JobRecord } from '../../training/jobs/job.js';
import type { JobService } from '../../training/jobs/job-service.js';

interface IdParams { id: string }

// SSE comments keep proxies and clients from timing out a quiet stream (a long epoch).
const KEEP_ALIVE_MS = 15_000;

export interface JobTenancy {
  readonly registry: Registry;
  readonly owners: JobOwners;
}

/** The same words JobService uses for a job that does not exist. */
const noSuchJob = (id: string) => new FerryError('NOT_FOUND', `training job "${id.slice(0, 100)}" does not exist; GET /api/training-jobs lists the jobs`);

export function trainingRoutes(app: FastifyInstance, jobs: JobService, tenancy: JobTenancy): void {
  const read = { config: { scope: 'read' as const } };
  const train = { config: { scope: 'train' as const } };
  const { registry, owners } = tenancy;
  const ownJob = async (request: FastifyRequest<{ Params: IdParams }>): Promise<string> => {
    const { id } = request.params;
    if (!canSeeJob(request.principal, await owners.jobOwner(id))) throw noSuchJob(id);
    return id;
  };

  app.post('/training-jobs', train, async (request, reply) => {
    if (request.body === undefined || request.body === null || typeof request.body !== 'object') {
      throw new FerryError('INVALID_ARGUMENT', 'send a training spec as a JSON object (content-type: application/json); see `ferry train --help` and the README');
    }
    // The result is registered under spec.name, which the caller must be able to create or change;
    // a fine-tune reads spec.from, which it must be able to see.
    const { name, from } = request.body as { name?: unknown; from?: unknown };
    if (typeof name === 'string') await checkModelAccess(registry.meta, request.principal, name, true);
    if (typeof from === 'string' && from !== '') await checkModelAccess(registry.meta, request.principal, splitModelRef(from)[0], false);
    const job = await jobs.submit(request.body);
    const owner = ownerFor(request.principal);
    await owners.setJobOwner(job.id, owner);
    // Reserves the name for the tenant now: the job registers its result without a key.
    await registry.meta.claim(job.spec.name, owner);
    request.auditTarget = job.id;
    reply.code(201).header('location', `/api/training-jobs/${job.id}`);
    return job;
  });

  app.get('/training-jobs', read, async (request) => {
    const all = await jobs.list();
    const mine = await Promise.all(all.map(async (j) => canSeeJob(request.principal, await owners.jobOwner(j.id))));
    return { jobs: all.filter((_, i) => mine[i]) };
  });

  app.get<{ Params: IdParams }>('/training-jobs/:id', read, async (request) => jobs.get(await ownJob(request)));

  app.delete<{ Params: IdParams }>('/training-jobs/:id', train, async (request, reply) => {
    const job = await jobs.cancel(await ownJob(request));
    // a running job stops between two steps; its stream and record then say 'cancelled'
    reply.code(job.state === 'cancelled' ? 200 : 202);
    return job;
  });

  app.get<{ Params: IdParams }>('/training-jobs/:id/events', read, async (request, reply) => {
    const pending: JobEvent[] = [];
    let send: ((e: JobEvent) => void) | undefined;
    const { job, stop } = await jobs.watch(await ownJob(request), (e) => (send ? send(e) : pending.push(e)));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const write = (e: JobEvent) => res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    let timer: NodeJS.Timeout | undefined;
    const end = () => {
      stop();
      clearInterval(timer);
      if (!res.writableEnded) res.end();
    };
    send = (e) => {
      write(e);
      if (e.type === 'done' || e.type === 'interrupted') end();
    };
    for (const e of snapshot(job)) send(e);
    if (res.writableEnded) return;
    for (const e of pending.splice(0)) send(e);
    timer = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    timer.unref();
    request.raw.once('close', end);
  });
}

/** The events that bring a new watcher up to date: the state, each finished epoch, the latest
 *  progress, and the end when the job has finished. */
function snapshot(job: JobRecord): JobEvent[] {
  const events: JobEvent[] = [{ type: 'state', state: job.state, ...(job.resumedFromEpoch !== undefined ? { resumedFromEpoch: job.resumedFromEpoch } : {}) }];
  for (const metrics of job.epochs) events.push({ type: 'epoch', metrics });
  if (job.progress) events.push({ type: 'progress', progress: job.progress });
  if (job.state === 'succeeded' || job.state === 'failed' || job.state === 'cancelled') {
    events.push({ type: 'done', state: job.state, ...(job.result ? { result: job.result } : {}), ...(job.error ? { error: job.error } : {}) });
  }
  return events;
}
