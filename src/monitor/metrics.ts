// Prometheus metrics, labelled by model and version. Histograms use buckets that resolve the
// sub-millisecond work small models do as well as multi-second loads.
import client from 'prom-client';
import type { ExecutionReport, Timings } from '../scheduler/batcher.js';

const SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export class Metrics {
  readonly registry = new client.Registry();
  private readonly requests = new client.Counter({ name: 'ferry_inference_requests_total', help: 'Inference requests by outcome', labelNames: ['model', 'version', 'outcome'], registers: [this.registry] });
  private readonly inferences = new client.Counter({ name: 'ferry_inference_count_total', help: 'Rows inferred (a request of batch 8 counts 8)', labelNames: ['model', 'version'], registers: [this.registry] });
  private readonly executions = new client.Counter({ name: 'ferry_execution_count_total', help: 'Model executions (batches run)', labelNames: ['model', 'version'], registers: [this.registry] });
  private readonly queueTime = new client.Histogram({ name: 'ferry_queue_duration_seconds', help: 'Time a request waited in the queue', labelNames: ['model', 'version'], buckets: SECONDS, registers: [this.registry] });
  private readonly computeTime = new client.Histogram({ name: 'ferry_compute_duration_seconds', help: 'Time a batch spent in merge, inference and split', labelNames: ['model', 'version'], buckets: SECONDS, registers: [this.registry] });
  private readonly requestTime = new client.Histogram({ name: 'ferry_request_duration_seconds', help: 'Time from decoded request to result, per request', labelNames: ['model', 'version'], buckets: SECONDS, registers: [this.registry] });
  private readonly batchSize = new client.Histogram({ name: 'ferry_batch_size', help: 'Rows per executed batch', labelNames: ['model', 'version'], buckets: BATCH, registers: [this.registry] });
  readonly loadedModels = new client.Gauge({ name: 'ferry_models_loaded', help: 'Model versions loaded in memory', registers: [this.registry] });
  readonly queueDepth = new client.Gauge({ name: 'ferry_queue_depth', help: 'Requests waiting per model version', labelNames: ['model', 'version'], registers: [this.registry] });
  readonly modelLoads = new client.Counter({ name: 'ferry_model_loads_total', help: 'Model loads by outcome', labelNames: ['model', 'version', 'outcome'], registers: [this.registry] });
  readonly modelUnloads = new client.Counter({ name: 'ferry_model_unloads_total', help: 'Model unloads by reason (idle, evicted, api, deleted, replaced, shutdown)', labelNames: ['model', 'version', 'reason'], registers: [this.registry] });

  constructor() {
    // process_resident_memory_bytes, heap sizes, event-loop lag: what an operator checks first.
    client.collectDefaultMetrics({ register: this.registry, prefix: 'ferry_' });
  }

  /** prom-client hashes label values on every labels() call; the serving path binds them once per version. */
  private readonly bound = new Map<string, ReturnType<Metrics['bind']>>();

  private bind(model: string, version: string) {
    return {
      success: this.requests.labels(model, version, 'success'),
      failure: this.requests.labels(model, version, 'failure'),
      inferences: this.inferences.labels(model, version),
      executions: this.executions.labels(model, version),
      queueTime: this.queueTime.labels(model, version),
      computeTime: this.computeTime.labels(model, version),
      requestTime: this.requestTime.labels(model, version),
      batchSize: this.batchSize.labels(model, version),
    };
  }

  private of(model: string, version: number) {
    const key = `${model}@${version}`;
    let b = this.bound.get(key);
    if (!b) {
      b = this.bind(model, String(version));
      this.bound.set(key, b);
    }
    return b;
  }

  request(model: string, version: number, ok: boolean, totalMs: number, rows: number, timings?: Timings): void {
    const m = this.of(model, version);
    if (!ok) {
      m.failure.inc();
      return;
    }
    m.success.inc();
    m.inferences.inc(rows);
    m.requestTime.observe(totalMs / 1000);
    if (timings) m.queueTime.observe(timings.queueMs / 1000);
  }

  execution(model: string, version: number, r: ExecutionReport): void {
    if (!r.ok) return;
    const m = this.of(model, version);
    m.executions.inc();
    m.batchSize.observe(r.batchSize);
    m.computeTime.observe((r.timings.inputMs + r.timings.inferMs + r.timings.outputMs) / 1000);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
