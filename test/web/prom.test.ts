// The dashboard's Prometheus reader and its PromQL: parsing Ferry's /metrics text, increase() across
// a restart, and histogram_quantile() checked against numbers worked out by hand.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketCounts, bucketsBy, histogramQuantile, increases, parseProm, sumBy } from '../../web/src/lib/prom.js';

const SCRAPE = `# HELP ferry_inference_requests_total Inference requests by outcome
# TYPE ferry_inference_requests_total counter
ferry_inference_requests_total{model="mlp",version="1",outcome="success"} 40
ferry_inference_requests_total{model="mlp",version="2",outcome="success"} 2
ferry_inference_requests_total{model="mlp",version="1",outcome="failure"} 3
ferry_inference_requests_total{model="odd \\"name\\"\\\\x",version="1",outcome="success"} 1 1712000000000

ferry_batch_size_bucket{le="1",model="mlp",version="1"} 5
ferry_batch_size_bucket{le="+Inf",model="mlp",version="1"} 8
ferry_models_loaded 2
ferry_process_cpu_seconds_total NaN
broken{model="x" 1
ferry_weird{a="1"} not-a-number
`;

describe('parseProm', () => {
  it('reads names, labels (with escapes), values and skips comments and malformed lines', () => {
    const s = parseProm(SCRAPE);
    assert.equal(s.length, 8);
    assert.deepEqual(s[0], { name: 'ferry_inference_requests_total', labels: { model: 'mlp', version: '1', outcome: 'success' }, value: 40 });
    assert.equal(s[3]!.labels.model, 'odd "name"\\x');
    assert.equal(s[3]!.value, 1, 'the timestamp is not the value');
    assert.equal(s[5]!.labels.le, '+Inf');
    assert.deepEqual(s[6], { name: 'ferry_models_loaded', labels: {}, value: 2 });
    assert.ok(Number.isNaN(s[7]!.value));
  });

  it('reads what Ferry really serves', async () => {
    const { Metrics } = await import('../../src/monitor/metrics.js');
    const m = new Metrics();
    m.request('mnist', 1, true, 12, 4, { queueMs: 1, inputMs: 1, inferMs: 8, outputMs: 1 });
    m.execution('mnist', 1, { ok: true, batchSize: 4, requests: 1, timings: { inputMs: 1, inferMs: 8, outputMs: 1 } });
    const s = parseProm(await m.text());
    const rows = s.find((x) => x.name === 'ferry_inference_count_total' && x.labels.model === 'mnist');
    assert.equal(rows?.value, 4);
    const batch = bucketsBy(s.filter((x) => x.name === 'ferry_batch_size_bucket'), 'model').get('mnist')!;
    assert.deepEqual(batch.map((b) => b.count), [0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert.equal(batch.at(-1)!.le, Infinity);
  });
});

describe('increases and sums', () => {
  const before = parseProm(`c{model="a",version="1"} 10\nc{model="a",version="2"} 5\nc{model="b",version="1"} 7\nother 1`);
  it('is the growth of each series, summed by a label', () => {
    const after = parseProm(`c{model="a",version="1"} 16\nc{model="a",version="2"} 9\nc{model="b",version="1"} 7\nother 100`);
    assert.deepEqual([...sumBy(increases(before, after, 'c'), 'model')], [['a', 10], ['b', 0]]);
  });
  it('counts a series that went down (a restart) from zero, and a new series from zero', () => {
    const after = parseProm(`c{model="a",version="1"} 3\nc{model="a",version="2"} 6\nc{model="b",version="1"} 7\nc{model="c",version="1"} 2`);
    assert.deepEqual(Object.fromEntries(sumBy(increases(before, after, 'c'), 'model')), { a: 4, b: 0, c: 2 });
  });
  it('label order does not make a different series', () => {
    const a = parseProm('c{x="1",y="2"} 1'), b = parseProm('c{y="2",x="1"} 4');
    assert.equal(increases(a, b, 'c')[0]!.value, 3);
  });
});

describe('histogramQuantile', () => {
  // 100 observations: 10 ≤ 0.1, 60 in (0.1, 0.5], 25 in (0.5, 1], 5 above 1
  const buckets = [{ le: 0.1, count: 10 }, { le: 0.5, count: 70 }, { le: 1, count: 95 }, { le: Infinity, count: 100 }];
  it('interpolates inside the bucket the rank falls in, as Prometheus does', () => {
    // p50: rank 50, 40 into the (0.1, 0.5] bucket of 60 → 0.1 + 0.4 × 40/60
    assert.ok(Math.abs(histogramQuantile(0.5, buckets) - (0.1 + 0.4 * (40 / 60))) < 1e-12);
    // p90: rank 90, 20 into (0.5, 1] of 25 → 0.5 + 0.5 × 0.8
    assert.ok(Math.abs(histogramQuantile(0.9, buckets) - 0.9) < 1e-12);
    // p5: in the first bucket, from 0
    assert.ok(Math.abs(histogramQuantile(0.05, buckets) - 0.05) < 1e-12);
  });
  it('answers the highest finite bound for a rank in +Inf, and NaN without data', () => {
    assert.equal(histogramQuantile(0.99, buckets), 1);
    assert.ok(Number.isNaN(histogramQuantile(0.5, buckets.map((b) => ({ ...b, count: 0 })))));
    assert.ok(Number.isNaN(histogramQuantile(0.5, buckets.slice(0, 3))), 'no +Inf bucket');
    assert.equal(histogramQuantile(0.5, [...buckets].reverse()), histogramQuantile(0.5, buckets), 'order does not matter');
  });
  it('bucketCounts turns cumulative counts into counts per bucket', () => {
    assert.deepEqual(bucketCounts(buckets).map((b) => b.count), [10, 60, 25, 5]);
    assert.deepEqual(bucketCounts(buckets).map((b) => b.lower), [-Infinity, 0.1, 0.5, 1]);
  });
});
