// A worker thread that owns one onnxruntime session. onnxruntime-node runs `session.run` on the
// calling thread (its async run is a setImmediate around a synchronous call), so inline inference
// blocks the event loop: no health probe, metrics scrape or new request is answered while a batch
// runs. In a worker, the main thread keeps serving HTTP while the model computes.
import { parentPort, workerData } from 'node:worker_threads';
import { FerryError } from '../../core/errors.js';
import type { NamedTensors } from '../../core/tensor.js';
import type { RuntimeOptions } from '../runtime.js';
import { openSession, type Session } from './session.js';

export type WorkerRequest =
  | { readonly type: 'run'; readonly id: number; readonly inputs: NamedTensors; readonly outputs?: readonly string[] }
  | { readonly type: 'release' };

export type WorkerReply =
  | { readonly type: 'ready'; readonly signature: Session['signature'] }
  | { readonly type: 'result'; readonly id: number; readonly outputs: NamedTensors; readonly ms: number }
  | { readonly type: 'error'; readonly id?: number; readonly code: FerryError['code']; readonly message: string };

const port = parentPort!;
const { path, options } = workerData as { path: string; options: RuntimeOptions };

const failure = (err: unknown, id?: number): WorkerReply =>
  err instanceof FerryError
    ? { type: 'error', id, code: err.code, message: err.message }
    : { type: 'error', id, code: 'INTERNAL', message: (err as Error)?.message ?? String(err) };

/** Output buffers move to the main thread instead of being copied (they are the worker's own). */
function transferables(outputs: NamedTensors): ArrayBuffer[] {
  const list: ArrayBuffer[] = [];
  for (const t of Object.values(outputs)) {
    const d = t.data;
    if (!Array.isArray(d) && d.buffer instanceof ArrayBuffer && d.byteOffset === 0 && d.byteLength === d.buffer.byteLength && !list.includes(d.buffer)) list.push(d.buffer);
  }
  return list;
}

let session: Session;
try {
  session = await openSession(path, options);
  port.postMessage({ type: 'ready', signature: session.signature } satisfies WorkerReply);
} catch (err) {
  port.postMessage(failure(err));
  process.exit(0);
}

port.on('message', (msg: WorkerRequest) => {
  if (msg.type === 'release') {
    // A failed release must not become an unhandled rejection: the thread ends either way.
    session.release().catch(() => {}).finally(() => port.close());
    return;
  }
  const started = performance.now();
  session.run(msg.inputs, msg.outputs).then(
    (outputs) => port.postMessage({ type: 'result', id: msg.id, outputs, ms: performance.now() - started } satisfies WorkerReply, transferables(outputs)),
    (err: unknown) => port.postMessage(failure(err, msg.id)),
  );
});
