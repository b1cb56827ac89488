// Starting a worker thread from a module next to the caller, whether Ferry runs built (.js) or from
// source under tsx (tests, benchmarks): on Node 20 loader hooks do not carry over into workers, so a
// TypeScript worker is started through a small bootstrap that registers tsx first.
import { Worker } from 'node:worker_threads';

const BOOTSTRAP = new URL('./ts-worker-bootstrap.mjs', import.meta.url);

/** `callerUrl` is the caller's import.meta.url; `name` the worker module's file name without extension. */
export function startWorker(callerUrl: string, name: string, workerData: Record<string, unknown>): Worker {
  const fromSource = callerUrl.endsWith('.ts');
  const entry = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, callerUrl);
  return fromSource
    ? new Worker(BOOTSTRAP, { workerData: { ...workerData, entry: entry.href } })
    : new Worker(entry, { workerData });
}
