// The explain data plane: one object both protocols call, which knows nothing of HTTP. It picks the
// method (integrated gradients when the model's graph can be differentiated, occlusion otherwise
// or on request), keeps the gradient models (gradient-cache.ts), and reads what it needs to know
// about a version — labels, and for text models the tokenizer — from the model file once.
//
// It also bounds what one request may cost: a few explanations run at once (gate.ts), each stops
// when its client goes away or its time limit passes (stop.ts), checked between model runs.
//
//   const svc = new ExplainService({ modelPath, infer, maxRows, intraOpThreads: 1 });
//   const e = await svc.explainTensor(rec, { input: { dtype: 'FP32', shape: [1, 1, 28, 28], data } }, parseExplainParams({}), { signal, timeoutMs: 5000 });
//   e.method, e.target, e.heatmap.data, e.completeness
import { readFile } from 'node:fs/promises';
import { systemClock, type Clock } from '../core/clock.js';
import { FerryError } from '../core/errors.js';
import type { NamedTensors } from '../core/tensor.js';
import { decodeModel } from '../graph/onnx.js';
import type { VersionRecord } from '../registry/records.js';
import { TEXT_TASK_KEYS, tokenizerText } from '../tasks/text-model.js';
import { createHfTokenizer } from '../text/hf-tokenizers.js';
import { TextTokenizer } from '../text/tokenizer.js';
import type { ExplainParams } from './explain-params.js';
import type { TensorExplanation, TextExplanation } from './explanation.js';
import { ExplainGate } from './gate.js';
import { GradientCache, type GradientEntry } from './gradient-cache.js';
import { scoreSource, type GradientOptions, type ScoreSource } from './gradient-model.js';
import { explainImage } from './image-explain.js';
import { DeadlinePassed, stopError, type Deadline, type StopWhen } from './stop.js';
import { explainText, type TextFacts } from './text-explain.js';

/** the time limit of an explanation whose request sets none: a 50-step mnist-cnn explanation takes
 *  tens of milliseconds, a 1024-step one on a large model minutes — which nobody waits for */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** explanations at once: each keeps a core busy (intraOpThreads) outside the model pool */
export const MAX_CONCURRENT = 2;
/** explanations waiting for a place; more are turned away with Retry-After */
export const MAX_WAITING = 4;

export interface ExplainDeps {
  /** the version's model file on local disk (the registry's artifact store) */
  readonly modelPath: (rec: VersionRecord) => Promise<string>;
  /** the served model's normal inference path (the model pool): occlusion runs through it; an
   *  aborted signal drops a request that has not started */
  readonly infer: (rec: VersionRecord, inputs: NamedTensors, signal?: AbortSignal) => Promise<{ outputs: NamedTensors }>;
  /** the most rows one inference request may carry for this version (0: no batching) */
  readonly maxRows: (rec: VersionRecord) => Promise<number>;
  readonly intraOpThreads: number;
  /** time limits are read from it; default the system clock */
  readonly clock?: Clock;
  /** default DEFAULT_TIMEOUT_MS, MAX_CONCURRENT, MAX_WAITING */
  readonly timeoutMs?: number;
  readonly maxConcurrent?: number;
  readonly maxWaiting?: number;
}

/** What a request says about its own explanation, besides the parameters. */
export interface ExplainRequest {
  /** aborted when the client goes away */
  readonly signal?: AbortSignal;
  /** the request's time limit (V2 `timeout`); default the service's */
  readonly timeoutMs?: number;
}

/** What is known of a version from its file, read once. */
export interface ModelFacts {
  readonly labels?: readonly string[];
  /** the score each output would be explained with, and the default output's */
  readonly sources: Readonly<Record<string, ScoreSource>>;
  readonly defaultSource: ScoreSource;
  readonly text?: TextFacts;
}

/** Ways to run integrated gradients or occlusion, as the method choice hands them out. */
export interface Plan<T> {
  readonly gradients: (entry: Extract<GradientEntry, { ok: true }>) => Promise<T>;
  readonly occlusion: (fallbackReason?: string) => Promise<T>;
}

export class ExplainService {
  private readonly gradients: GradientCache;
  private readonly facts = new Map<string, Promise<ModelFacts>>();
  private readonly gate: ExplainGate;

  constructor(private readonly deps: ExplainDeps) {
    this.gradients = new GradientCache(deps.intraOpThreads);
    this.gate = new ExplainGate(deps.maxConcurrent ?? MAX_CONCURRENT, deps.maxWaiting ?? MAX_WAITING);
  }

  /** explanations running and waiting now */
  get load(): { readonly running: number; readonly waiting: number } {
    return { running: this.gate.running, waiting: this.gate.waiting };
  }

  /** true for a text classifier, which is explained from a string */
  async isText(rec: VersionRecord): Promise<boolean> {
    return (await this.factsOf(rec)).text !== undefined;
  }

  async explainTensor(rec: VersionRecord, inputs: NamedTensors, params: ExplainParams, req: ExplainRequest = {}): Promise<TensorExplanation> {
    const facts = await this.factsOf(rec);
    if (facts.text) throw new FerryError('INVALID_ARGUMENT', `model "${rec.model}" is a text model; send the text as a BYTES input "text" with one string, or use POST /v1/classifications/explain`);
    return this.bounded(req, (stop) => explainImage({ rec, facts, params, deps: this.deps, stop, choose: (opts, plan) => this.choose(rec, opts, params, plan) }, inputs));
  }

  async explainText(rec: VersionRecord, text: string, params: ExplainParams, req: ExplainRequest = {}): Promise<TextExplanation> {
    const facts = await this.factsOf(rec);
    const t = facts.text;
    if (!t) throw new FerryError('INVALID_ARGUMENT', `model "${rec.model}" is not a text classifier; explain it with POST /v2/models/${rec.model}/explain and its tensors`);
    return this.bounded(req, (stop) => explainText({ rec, facts, params, deps: this.deps, stop, choose: (opts, plan) => this.choose(rec, opts, params, plan) }, t, text));
  }

  /** Runs `work` once the gate lets it in, with a signal that aborts when the client goes away or
   *  the time limit passes; the time spent waiting for the gate counts against the limit. */
  private async bounded<T>(req: ExplainRequest, work: (stop: StopWhen) => Promise<T>): Promise<T> {
    const clock = this.deps.clock ?? systemClock;
    const limitMs = req.timeoutMs ?? this.deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline: Deadline = { at: clock.now() + limitMs, now: () => clock.now(), limitMs, source: req.timeoutMs !== undefined ? 'request' : 'server' };
    const abort = new AbortController();
    const clientGone = () => abort.abort(req.signal!.reason);
    if (req.signal?.aborted) clientGone();
    else req.signal?.addEventListener('abort', clientGone, { once: true });
    const timer = clock.setTimeout(() => abort.abort(new DeadlinePassed(deadline)), limitMs);
    const stop: StopWhen = { signal: abort.signal, deadline };
    try {
      const release = await this.gate.enter(abort.signal).catch((err: unknown) => {
        throw stopError(stop, `it waited for other explanations to finish all that time: retry shortly`) ?? err;
      });
      try {
        return await work(stop);
      } finally {
        release();
      }
    } finally {
      clock.clearTimeout(timer);
      req.signal?.removeEventListener('abort', clientGone);
    }
  }

  /** Integrated gradients when asked for or possible; occlusion when asked for, or — saying why — when not possible. */
  private choose<T>(rec: VersionRecord, opts: GradientOptions, params: ExplainParams, plan: Plan<T>): Promise<T> {
    if (params.method === 'occlusion') return plan.occlusion();
    const key = `${rec.model}@${rec.version}:${rec.sha256}`;
    return this.gradients.with(key, () => this.bytes(rec), opts, async (entry) => {
      if (entry.ok) return plan.gradients(entry);
      if (params.method === 'integrated_gradients') {
        throw new FerryError('INVALID_ARGUMENT', `integrated gradients cannot explain model "${rec.model}" version ${rec.version}: ${entry.error.message}; ask for "method": "occlusion", which works with any model`);
      }
      return plan.occlusion(entry.error.message);
    });
  }

  private async bytes(rec: VersionRecord): Promise<Uint8Array> {
    return new Uint8Array(await readFile(await this.deps.modelPath(rec)));
  }

  private factsOf(rec: VersionRecord): Promise<ModelFacts> {
    const key = `${rec.model}@${rec.version}:${rec.sha256}`;
    let p = this.facts.get(key);
    if (!p) {
      p = this.readFacts(rec);
      p.catch(() => this.facts.delete(key));
      this.facts.set(key, p);
      // facts are small, but a server that sees many versions should not keep them all
      if (this.facts.size > 256) this.facts.delete(this.facts.keys().next().value!);
    }
    return p;
  }

  private async readFacts(rec: VersionRecord): Promise<ModelFacts> {
    if (rec.format !== 'onnx') throw new FerryError('INVALID_ARGUMENT', `model "${rec.model}" is a generative model (${rec.format}); explanations are for ONNX classifiers`);
    const model = decodeModel(await this.bytes(rec));
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
    const parsed = (key: string, raw = meta[key]): unknown => {
      try {
        return raw === undefined ? undefined : JSON.parse(raw);
      } catch {
        return undefined;
      }
    };
    const labelList = parsed(TEXT_TASK_KEYS.classes) ?? rec.metadata['classes'];
    const labels = Array.isArray(labelList) && labelList.every((l) => typeof l === 'string') ? (labelList as string[]) : undefined;
    const sources: Record<string, ScoreSource> = {};
    for (const o of model.graph?.output ?? []) sources[o.name ?? ''] = scoreSource(model, o.name ?? '');
    const facts = { labels, sources, defaultSource: scoreSource(model) };
    if (meta[TEXT_TASK_KEYS.task] !== 'text-classification') return facts;
    const files = parsed(TEXT_TASK_KEYS.tokenizer, tokenizerText(meta)) as { tokenizerJson?: object; tokenizerConfig?: object } | undefined;
    const options = (parsed(TEXT_TASK_KEYS.text) ?? {}) as { maxLength?: number; truncation?: boolean };
    if (!files?.tokenizerJson || !files.tokenizerConfig) throw new FerryError('INVALID_ARGUMENT', `model "${rec.model}" is a text model without its tokenizer`);
    const inputs = (model.graph?.input ?? []).map((i) => i.name ?? '');
    const idsInput = ['input_ids', 'input'].find((n) => inputs.includes(n));
    if (!idsInput) throw new FerryError('INVALID_ARGUMENT', `text model "${rec.model}" has no input_ids input`);
    const tokenizer = TextTokenizer.fromFiles(files.tokenizerJson, files.tokenizerConfig);
    return {
      ...facts,
      text: {
        tokenizer, hf: createHfTokenizer(files.tokenizerJson, files.tokenizerConfig), idsInput, inputs,
        maxLength: options.maxLength ?? tokenizer.maxLength, truncation: options.truncation ?? false,
      },
    };
  }

  close(): Promise<void> {
    this.gate.close();
    return this.gradients.close();
  }
}

/** What image-explain.ts and text-explain.ts are handed. */
export interface ExplainContext {
  readonly rec: VersionRecord;
  readonly facts: ModelFacts;
  readonly params: ExplainParams;
  readonly deps: ExplainDeps;
  /** checked between model runs */
  readonly stop: StopWhen;
  readonly choose: <T>(opts: GradientOptions, plan: Plan<T>) => Promise<T>;
}
