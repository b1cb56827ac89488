// A reader for Prometheus's text exposition format (what GET /metrics answers) and the PromQL the
// metrics page needs, computed between two scrapes the way Prometheus computes it over a range:
// increase() of counters (a series that went down restarted from zero) and histogram_quantile()
// over the buckets' increases. No DOM here: test/web/prom.test.ts runs it under node.
//
//   const before = parseProm(await (await fetch('/metrics')).text());
//   const after = parseProm(await (await fetch('/metrics')).text());
//   const requests = sumBy(increases(before, after, 'ferry_inference_requests_total'), 'model');
//   const p99 = histogramQuantile(0.99, bucketsBy(increases(before, after, 'ferry_request_duration_seconds_bucket'), 'model').get('mlp') ?? []);

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One bucket of a histogram: how many observations were ≤ `le` (cumulative, as exposed). */
export interface Bucket {
  readonly le: number;
  readonly count: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function number(token: string): number {
  if (token === '+Inf' || token === 'Inf') return Infinity;
  if (token === '-Inf') return -Infinity;
  if (token === 'NaN') return NaN;
  const v = Number(token);
  if (token === '' || Number.isNaN(v)) throw new Error(`not a number: ${token}`);
  return v;
}

/** `{a="x",b="y\"z"}` from `s[at]` on; the labels and where they end. */
function readLabels(s: string, at: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at + 1;
  for (;;) {
    while (s[i] === ' ' || s[i] === ',') i++;
    if (s[i] === '}') return { labels, end: i + 1 };
    const name = LABEL_NAME.exec(s.slice(i))?.[0];
    if (!name) throw new Error('bad label name');
    i += name.length;
    while (s[i] === ' ') i++;
    if (s[i] !== '=' || s[i + 1] !== '"') throw new Error('expected ="');
    i += 2;
    let value = '';
    for (;;) {
      const c = s[i++];
      if (c === undefined) throw new Error('unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const e = s[i++];
        value += e === 'n' ? '\n' : e ?? '';
      } else value += c;
    }
    labels[name] = value;
  }
}

/** Every sample in a scrape. Comments (# HELP, # TYPE) and blank lines are skipped, and so is a line
 *  that does not parse: one odd metric should not blank the whole page. */
export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      const name = NAME.exec(line)?.[0];
      if (!name) continue;
      let i = name.length;
      let labels: Record<string, string> = {};
      if (line[i] === '{') ({ labels, end: i } = readLabels(line, i));
      // the value, then an optional timestamp we do not need
      const [value] = line.slice(i).trim().split(/\s+/);
      out.push({ name, labels, value: number(value ?? '') });
    } catch {
      // a malformed line: skipped (see above)
    }
  }
  return out;
}

const seriesKey = (s: Sample): string => `${s.name}${JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;

/** How much each series of counter `name` grew from `prev` to `cur`, like PromQL's increase(): a
 *  series that went down was reset (the server restarted) and counts from zero, and a series first
 *  seen in `cur` was created after `prev` at zero. */
export function increases(prev: readonly Sample[], cur: readonly Sample[], name: string): Sample[] {
  const before = new Map<string, number>();
  for (const s of prev) if (s.name === name) before.set(seriesKey(s), s.value);
  const out: Sample[] = [];
  for (const s of cur) {
    if (s.name !== name) continue;
    const p = before.get(seriesKey(s)) ?? 0;
    out.push({ ...s, value: s.value >= p ? s.value - p : s.value });
  }
  return out;
}

/** `sum by (label) (samples)`; samples without the label are left out. */
export function sumBy(samples: readonly Sample[], label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    const g = s.labels[label];
    if (g !== undefined) out.set(g, (out.get(g) ?? 0) + s.value);
  }
  return out;
}

/** A histogram's `_bucket` samples summed by `label` and `le` (versions of one model add up), each
 *  group's buckets sorted by `le`. */
export function bucketsBy(samples: readonly Sample[], label: string): Map<string, Bucket[]> {
  const groups = new Map<string, Map<number, number>>();
  for (const s of samples) {
    const g = s.labels[label], le = s.labels.le;
    if (g === undefined || le === undefined) continue;
    const bounds = groups.get(g) ?? new Map<number, number>();
    groups.set(g, bounds);
    const bound = number(le);
    bounds.set(bound, (bounds.get(bound) ?? 0) + s.value);
  }
  const out = new Map<string, Bucket[]>();
  for (const [g, bounds] of groups) out.set(g, [...bounds].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le));
  return out;
}

/** PromQL's histogram_quantile(q, buckets): the q-quantile (0 ≤ q ≤ 1), interpolated linearly inside
 *  the bucket it falls in. NaN without observations or without a +Inf bucket; a quantile in the +Inf
 *  bucket is the highest finite bound, as Prometheus answers. */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number {
  const b = [...buckets].sort((x, y) => x.le - y.le);
  if (b.length < 2 || b[b.length - 1]!.le !== Infinity) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  // counts taken from two scrapes can be a hair out of order; cumulative counts never go down
  let running = 0;
  const counts = b.map((x) => (running = Math.max(running, x.count)));
  const total = counts[counts.length - 1]!;
  if (total === 0) return NaN;
  const rank = q * total;
  let i = counts.findIndex((c) => c >= rank);
  if (i < 0) i = counts.length - 1;
  if (i === b.length - 1) return b[b.length - 2]!.le;
  if (i === 0 && b[0]!.le <= 0) return b[0]!.le;
  const start = i === 0 ? 0 : b[i - 1]!.le;
  const below = i === 0 ? 0 : counts[i - 1]!;
  const inBucket = counts[i]! - below;
  return start + (b[i]!.le - start) * ((rank - below) / inBucket);
}

/** Cumulative buckets as counts per bucket: how many observations fell in (previous le, le]. */
export function bucketCounts(buckets: readonly Bucket[]): { lower: number; le: number; count: number }[] {
  let lower = -Infinity, below = 0;
  return buckets.map((b) => {
    const row = { lower, le: b.le, count: Math.max(0, b.count - below) };
    lower = b.le;
    below = Math.max(below, b.count);
    return row;
  });
}
