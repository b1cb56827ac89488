// One ExplainService per server, shared by the V2 and OpenAI-style routes so a gradient model built
// for one protocol serves the other. Keyed by the server's dependencies object, which both protocol
// plugins are handed; the service goes when the server does.
import type { NamedTensors } from '../core/tensor.js';
import type { VersionRecord } from '../registry/records.js';
import { ExplainService } from './explain-service.js';

/** What the service needs of a server: its registry's artifacts, its model pool, its thread count. */
export interface ServingParts {
  readonly registry: { readonly artifacts: { localPath(key: string): Promise<string> } };
  readonly pool: {
    infer(rec: VersionRecord, inputs: NamedTensors): Promise<{ outputs: NamedTensors }>;
    acquire(rec: VersionRecord): Promise<{ readonly config: { readonly maxBatchSize: number } }>;
  };
  readonly config: { readonly intraOpThreads: number };
}

const services = new WeakMap<ServingParts, ExplainService>();

export function sharedExplainService(deps: ServingParts): ExplainService {
  let s = services.get(deps);
  if (!s) {
    s = new ExplainService({
      modelPath: (rec) => deps.registry.artifacts.localPath(rec.artifactKey),
      infer: (rec, inputs) => deps.pool.infer(rec, inputs),
      maxRows: async (rec) => (await deps.pool.acquire(rec)).config.maxBatchSize,
      intraOpThreads: deps.config.intraOpThreads,
    });
    services.set(deps, s);
  }
  return s;
}
