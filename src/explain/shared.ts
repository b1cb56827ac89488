// One ExplainService per server, shared by the V2 and OpenAI-style routes so a gradient model built
// for one protocol serves the other, and the bound on explanations at once holds across both. Keyed
// by the server's dependencies object, which both protocol plugins are handed; the service goes
// when the server does.
import type { Clock } from '../core/clock.js';
import { Cancellation } from '../core/cancel.js';
import type { NamedTensors } from '../core/tensor.js';
import type { VersionRecord } from '../registry/records.js';
import { ExplainService } from './explain-service.js';

/** What the service needs of a server: its registry's artifacts, its model pool, its thread count, its clock. */
export interface ServingParts {
  readonly registry: { readonly artifacts: { localPath(key: string): Promise<string> } };
  readonly pool: {
    infer(rec: VersionRecord, inputs: NamedTensors, opts?: { readonly cancellation?: Cancellation }): Promise<{ outputs: NamedTensors }>;
    acquire(rec: VersionRecord): Promise<{ readonly config: { readonly maxBatchSize: number } }>;
  };
  readonly config: { readonly intraOpThreads: number };
  readonly clock?: Clock;
}

const services = new WeakMap<ServingParts, ExplainService>();

export function sharedExplainService(deps: ServingParts): ExplainService {
  let s = services.get(deps);
  if (!s) {
    s = new ExplainService({
      modelPath: (rec) => deps.registry.artifacts.localPath(rec.artifactKey),
      infer: async (rec, inputs, signal) => {
        // the pool's cancellation, cancelled with the signal: a request still queued when it aborts is dropped
        const cancellation = new Cancellation();
        const cancel = () => cancellation.cancel();
        if (signal?.aborted) cancel();
        signal?.addEventListener('abort', cancel, { once: true });
        try {
          return await deps.pool.infer(rec, inputs, { cancellation });
        } finally {
          signal?.removeEventListener('abort', cancel);
        }
      },
      maxRows: async (rec) => (await deps.pool.acquire(rec)).config.maxBatchSize,
      intraOpThreads: deps.config.intraOpThreads,
      ...(deps.clock ? { clock: deps.clock } : {}),
    });
    services.set(deps, s);
  }
  return s;
}
