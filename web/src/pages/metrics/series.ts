// What the metrics page plots, from Ferry's own /metrics scrapes: per model, the rates and latency
// quantiles between each scrape and the one before (PromQL's rate() and histogram_quantile() over
// the poll window), kept for the last five minutes. Pure functions, tested in test/web/series.test.ts.
// '.js': test/web/series.test.ts type-checks this file under node's resolution too, which wants it
import { bucketCounts, bucketsBy, histogramQuantile, increases, parseProm, sumBy, type Bucket, type Sample } from '../../lib/prom.js';

/** How much history the page keeps in memory (and draws). */
export const WINDOW_S = 300;

// The page reads these; the rest of a scrape (process, heap and event-loop metrics) is dropped on arrival.
const M = {
  requests: 'ferry_inference_requests_total',
  duration: 'ferry_request_duration_seconds_bucket',
  batch: 'ferry_batch_size_bucket',
  batchRows: 'ferry_batch_size_sum',
  rows: 'ferry_inference_count_total',
  queue: 'ferry_queue_depth',
  genRequests: 'ferry_generation_requests_total',
  genDuration: 'ferry_generation_request_duration_seconds_bucket',
  genFirstToken: 'ferry_generation_time_to_first_token_seconds_bucket',
  genTokens: 'ferry_generation_completion_tokens_total',
  genWaiting: 'ferry_generation_requests_waiting',
  genRunning: 'ferry_generation_requests_running',
} as const;
const KEEP = new Set<string>(Object.values(M));

export interface Scrape {
  /** when it was answered, ms since the epoch */
  readonly t: number;
  readonly samples: readonly Sample[];
}

export function toScrape(text: string, t: number): Scrape {
  return { t, samples: parseProm(text).filter((s) => KEEP.has(s.name)) };
}

/** One model over one poll window. Latencies in seconds; null where the window saw no request. */
export interface ModelPoint {
  readonly rps: number;
  readonly errorsPerS: number;
  readonly rowsPerS: number;
  readonly p50: number | null;
  readonly p99: number | null;
  /** requests waiting now (the batch queue, or a generative model's wait for a free sequence) */
  readonly queue: number;
  readonly meanBatch: number | null;
  /** generative models only */
  readonly tokensPerS: number | null;
  readonly firstTokenP50: number | null;
  readonly firstTokenP99: number | null;
}

export interface Point {
  /** the later scrape's time, ms since the epoch */
  readonly t: number;
  readonly models: ReadonlyMap<string, ModelPoint>;
}

export interface History {
  /** the scrapes of the window, oldest first (the oldest may be just before it: the base of the first point) */
  readonly scrapes: readonly Scrape[];
  readonly points: readonly Point[];
}

export const EMPTY_HISTORY: History = { scrapes: [], points: [] };

/** The models that have served or failed at least one request, busiest first. */
export function modelsOf(s: Scrape | undefined): string[] {
  if (!s) return [];
  const total = sumBy(s.samples.filter((x) => x.name === M.requests || x.name === M.genRequests), 'model');
  return [...total].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([m]) => m);
}

const quantile = (q: number, b: readonly Bucket[] | undefined): number | null => {
  const v = b ? histogramQuantile(q, b) : NaN;
  return Number.isFinite(v) ? v : null;
};

const gauge = (s: Scrape, name: string): Map<string, number> => sumBy(s.samples.filter((x) => x.name === name), 'model');

/** Every model's rates and quantiles between two scrapes. */
export function pointBetween(prev: Scrape, cur: Scrape): Point {
  const dt = Math.max(1e-3, (cur.t - prev.t) / 1000);
  const inc = (name: string) => increases(prev.samples, cur.samples, name);
  const requests = inc(M.requests), genRequests = inc(M.genRequests);
  const ok = sumBy([...requests.filter((s) => s.labels.outcome === 'success'), ...genRequests.filter((s) => s.labels.finish_reason !== 'error')], 'model');
  const failed = sumBy([...requests.filter((s) => s.labels.outcome === 'failure'), ...genRequests.filter((s) => s.labels.finish_reason === 'error')], 'model');
  const duration = bucketsBy(inc(M.duration), 'model'), genDuration = bucketsBy(inc(M.genDuration), 'model');
  const firstToken = bucketsBy(inc(M.genFirstToken), 'model');
  const batches = bucketsBy(inc(M.batch), 'model');
  const rows = sumBy(inc(M.rows), 'model'), tokens = sumBy(inc(M.genTokens), 'model');
  // the histogram's own sum over its count: rows per request (M.rows) are counted when a request
  // ends, executions when a batch runs, and the two need not cover the same requests in one window
  const batchRows = sumBy(inc(M.batchRows), 'model');
  const queue = gauge(cur, M.queue), waiting = gauge(cur, M.genWaiting);
  const generative = new Set([...gauge(cur, M.genRunning).keys(), ...waiting.keys(), ...sumBy(cur.samples.filter((s) => s.name === M.genRequests), 'model').keys()]);

  const models = new Map<string, ModelPoint>();
  for (const model of modelsOf(cur)) {
    const okN = ok.get(model) ?? 0, failedN = failed.get(model) ?? 0;
    const b = batches.get(model);
    const executions = b?.[b.length - 1]?.count ?? 0;
    // a generative model's whole request (its first token to its last) is its latency
    const lat = (duration.get(model)?.at(-1)?.count ?? 0) > 0 ? duration.get(model) : genDuration.get(model);
    const gen = generative.has(model);
    models.set(model, {
      rps: (okN + failedN) / dt,
      errorsPerS: failedN / dt,
      rowsPerS: (rows.get(model) ?? 0) / dt,
      p50: quantile(0.5, lat),
      p99: quantile(0.99, lat),
      queue: (queue.get(model) ?? 0) + (waiting.get(model) ?? 0),
      meanBatch: executions > 0 ? (batchRows.get(model) ?? 0) / executions : null,
      tokensPerS: gen ? (tokens.get(model) ?? 0) / dt : null,
      firstTokenP50: gen ? quantile(0.5, firstToken.get(model)) : null,
      firstTokenP99: gen ? quantile(0.99, firstToken.get(model)) : null,
    });
  }
  return { t: cur.t, models };
}

/** Adds a scrape: a new point from the one before, and what fell out of the window dropped. */
export function addScrape(h: History, s: Scrape, windowS = WINDOW_S): History {
  const last = h.scrapes[h.scrapes.length - 1];
  const points = last ? [...h.points, pointBetween(last, s)] : [...h.points];
  const since = s.t - windowS * 1000;
  const scrapes = [...h.scrapes, s];
  // keep one scrape at or before the window's start: the base of the window's first point
  let first = 0;
  while (first + 1 < scrapes.length && scrapes[first + 1]!.t <= since) first++;
  return { scrapes: scrapes.slice(first), points: points.filter((p) => p.t > since) };
}

export interface BatchRow {
  /** e.g. "1", "3–4", "> 256" */
  readonly label: string;
  readonly count: number;
}

/** How many batches of each size `model` ran from scrape `from` to scrape `to` (from the start of the
 *  server when `from` is undefined): the batch-size histogram's buckets, not cumulative. */
export function batchHistogram(from: Scrape | undefined, to: Scrape, model: string): BatchRow[] {
  const buckets = bucketsBy(increases(from?.samples ?? [], to.samples, M.batch), 'model').get(model) ?? [];
  return bucketCounts(buckets).map(({ lower, le, count }) => {
    // batch sizes are whole rows: the bucket (2, 4] holds batches of 3 and 4
    const lo = Number.isFinite(lower) ? Math.floor(lower) + 1 : 1;
    const label = le === Infinity ? `> ${lower}` : lo >= le ? String(le) : `${lo}–${le}`;
    return { label, count };
  });
}
