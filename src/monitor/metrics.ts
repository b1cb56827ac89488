// Prometheus metrics, labelled by model and version. Histograms use buckets that resolve the
// sub-millisecond work small models do as well as multi-second loads.
import client from 'prom-client';
import type { ExecutionReport, Timings } from '../scheduler/batcher.js';

const SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH = [1, 2, 4, 8, 16, 32, 64, 128, 256];
// Generation (GGUF) latencies. First token: a prefill of a few ms on a tiny model up to a cold load or
// a long queue. Between tokens: a tiny CPU model decodes 1,000–3,000 tokens/s (sub-millisecond), a
// large one tens to hundreds of ms. Whole request: tens of ms up to minutes of streamed output.
const FIRST_TOKEN_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];
const TOKEN_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2.5];
const REQUEST_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 40, 60, 120, 300, 600];

/** How a generation request ended: OpenAI's finish reasons, plus a client that went away and a failure. */
export type GenerationFinish = 'stop' | 'length' | 'abort' | 'error';

/** Running and waiting requests per loaded generative model version (GenerationPool.loads()). */
export type GenerationLoads = () => readonly { model: string; version: number; running: number; waiting: number }[];

/** One generation request's metrics: call token() for every generated token, finish() once at the end. */
export interface GenerationTracker {
  token(): void;
  finish(reason: GenerationFinish): void;
}

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

  // Generative (GGUF) models, per model and version, after vLLM's metrics:
  //   ferry_generation_requests_running           ~ vllm:num_requests_running
  //   ferry_generation_requests_waiting           ~ vllm:num_requests_waiting
  //   ferry_generation_time_to_first_token_seconds ~ vllm:time_to_first_token_seconds
  //   ferry_generation_inter_token_latency_seconds ~ vllm:time_per_output_token_seconds (vllm:inter_token_latency_seconds in newer vLLM)
  //   ferry_generation_request_duration_seconds   ~ vllm:e2e_request_latency_seconds
  //   ferry_generation_prompt_tokens_total        ~ vllm:prompt_tokens_total
  //   ferry_generation_completion_tokens_total    ~ vllm:generation_tokens_total
  //   ferry_generation_requests_total{finish_reason} ~ vllm:request_success_total{finished_reason}
  // Clocks start when the route receives the request, so a model's first load and the wait for a free
  // sequence count towards first-token and request latency, as a client sees them.
  // The gauges are sampled from the models' own queues at scrape time: a request is "running" while
  // it holds a llama.cpp sequence and "waiting" while it queues for one, which only the model knows.
  private generationLoads?: GenerationLoads;
  private readonly genRunning: client.Gauge<'model' | 'version'> = new client.Gauge({
    name: 'ferry_generation_requests_running', help: 'Generation requests holding a sequence (decoding now), per model version', labelNames: ['model', 'version'], registers: [this.registry],
    collect: (): void => this.sampleLoads(this.genRunning, 'running'),
  });
  private readonly genWaiting: client.Gauge<'model' | 'version'> = new client.Gauge({
    name: 'ferry_generation_requests_waiting', help: 'Generation requests queued for a free sequence, per model version', labelNames: ['model', 'version'], registers: [this.registry],
    collect: (): void => this.sampleLoads(this.genWaiting, 'waiting'),
  });
  private readonly genFirstToken = new client.Histogram({ name: 'ferry_generation_time_to_first_token_seconds', help: 'Time from request to the first generated token', labelNames: ['model', 'version'], buckets: FIRST_TOKEN_SECONDS, registers: [this.registry] });
  private readonly genInterToken = new client.Histogram({ name: 'ferry_generation_inter_token_latency_seconds', help: 'Time between consecutive generated tokens of a request (every token after the first)', labelNames: ['model', 'version'], buckets: TOKEN_SECONDS, registers: [this.registry] });
  private readonly genRequestTime = new client.Histogram({ name: 'ferry_generation_request_duration_seconds', help: 'Time from request to its last token, for requests that finished (stop or length)', labelNames: ['model', 'version'], buckets: REQUEST_SECONDS, registers: [this.registry] });
  private readonly genPromptTokens = new client.Counter({ name: 'ferry_generation_prompt_tokens_total', help: 'Prompt tokens processed (prefilled)', labelNames: ['model', 'version'], registers: [this.registry] });
  private readonly genCompletionTokens = new client.Counter({ name: 'ferry_generation_completion_tokens_total', help: 'Tokens generated', labelNames: ['model', 'version'], registers: [this.registry] });
  private readonly genRequests = new client.Counter({ name: 'ferry_generation_requests_total', help: 'Generation requests by finish_reason (stop, length, abort: the client went away, error)', labelNames: ['model', 'version', 'finish_reason'], registers: [this.registry] });

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

  /** Where the running/waiting gauges read from (the generation pool), set once the pool exists. */
  watchGeneration(loads: GenerationLoads): void {
    this.generationLoads = loads;
  }

  /** The counts as the models have them now: a synchronous read, so both gauges of one scrape agree. */
  private sampleLoads(gauge: client.Gauge<'model' | 'version'>, which: 'running' | 'waiting'): void {
    const loads = this.generationLoads?.() ?? [];
    // reset: an unloaded version's series goes away instead of freezing at its last value
    gauge.reset();
    for (const l of loads) gauge.labels(l.model, String(l.version)).set(l[which]);
  }

  private readonly boundGeneration = new Map<string, ReturnType<Metrics['bindGeneration']>>();

  private bindGeneration(model: string, version: string) {
    return {
      firstToken: this.genFirstToken.labels(model, version),
      interToken: this.genInterToken.labels(model, version),
      requestTime: this.genRequestTime.labels(model, version),
      promptTokens: this.genPromptTokens.labels(model, version),
      completionTokens: this.genCompletionTokens.labels(model, version),
      finished: (reason: GenerationFinish) => this.genRequests.labels(model, version, reason),
    };
  }

  /**
   * Starts tracking one generation request. `startedMs` is performance.now() when the request
   * arrived. Prompt tokens count once prefill is done (the first token), or at a normal finish that
   * generated nothing; tokens count as they are generated, so long streams show in rate() live.
   */
  generation(model: string, version: number, promptTokens: number, startedMs: number): GenerationTracker {
    const key = `${model}@${version}`;
    let m = this.boundGeneration.get(key);
    if (!m) {
      m = this.bindGeneration(model, String(version));
      this.boundGeneration.set(key, m);
    }
    const b = m;
    let last: number | undefined;
    let done = false;
    return {
      token: () => {
        if (done) return;
        const now = performance.now();
        if (last === undefined) {
          b.firstToken.observe((now - startedMs) / 1000);
          b.promptTokens.inc(promptTokens);
        } else {
          b.interToken.observe((now - last) / 1000);
        }
        b.completionTokens.inc();
        last = now;
      },
      finish: (reason) => {
        if (done) return;
        done = true;
        b.finished(reason).inc();
        if (reason === 'stop' || reason === 'length') {
          if (last === undefined) b.promptTokens.inc(promptTokens);
          b.requestTime.observe((performance.now() - startedMs) / 1000);
        }
      },
    };
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
