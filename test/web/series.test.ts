// What the metrics page plots between two scrapes: requests per second, p50/p99, queue depth and
// batch sizes per model, and the five-minute window it keeps.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from '../../src/monitor/metrics.js';
import { addScrape, batchHistogram, EMPTY_HISTORY, modelsOf, pointBetween, toScrape, type Scrape } from '../../web/src/pages/metrics/series.js';

const timings = { queueMs: 0.5, inputMs: 0.1, inferMs: 1, outputMs: 0.1 };
const scrape = async (m: Metrics, t: number): Promise<Scrape> => toScrape(await m.text(), t);

describe('metrics page series', () => {
  it('turns two scrapes of Ferry\'s metrics into rates and quantiles per model', async () => {
    const m = new Metrics();
    m.request('mlp', 1, true, 3, 1, timings);
    const first = await scrape(m, 10_000);
    // 2 s later: 10 more successes at 3 ms and 2 at 40 ms on mlp, one failure; batches of 4, 4 and 5
    for (let i = 0; i < 10; i++) m.request('mlp', 1, true, 3, 1, timings);
    m.request('mlp', 2, true, 40, 1, timings);
    m.request('mlp', 2, true, 40, 1, timings);
    m.request('mlp', 1, false, 1, 0);
    for (const batchSize of [4, 4, 5]) m.execution('mlp', 1, { ok: true, batchSize, requests: batchSize, timings });
    m.queueDepth.labels('mlp', '1').set(3);
    m.queueDepth.labels('mlp', '2').set(1);
    const second = await scrape(m, 12_000);
    assert.ok(second.samples.every((s) => !s.name.startsWith('ferry_process')), 'process metrics are dropped on arrival');

    const p = pointBetween(first, second).models.get('mlp')!;
    assert.equal(p.rps, 13 / 2);
    assert.equal(p.errorsPerS, 0.5);
    assert.equal(p.queue, 4, 'queue depth adds up the versions');
    // 12 successes: 10 in (2.5 ms, 5 ms], 2 in (25 ms, 50 ms]. p50: rank 6 of 10 in (0.0025, 0.005]
    assert.ok(Math.abs(p.p50! - (0.0025 + 0.0025 * (6 / 10))) < 1e-12);
    // p99: rank 11.88 falls in (0.025, 0.05], 1.88 of 2 into it
    assert.ok(Math.abs(p.p99! - (0.025 + 0.025 * (1.88 / 2))) < 1e-12);
    assert.equal(p.meanBatch, (4 + 4 + 5) / 3, 'the batches\' own rows, not the requests\'');
    assert.equal(p.tokensPerS, null, 'not a generative model');

    assert.deepEqual(batchHistogram(first, second, 'mlp').filter((b) => b.count > 0), [{ label: '3–4', count: 2 }, { label: '5–8', count: 1 }]);
    assert.deepEqual(batchHistogram(undefined, second, 'mlp').map((b) => b.label), ['1', '2', '3–4', '5–8', '9–16', '17–32', '33–64', '65–128', '129–256', '> 256']);
  });

  it('leaves latency as a gap when a window had no requests, and knows which models have traffic', async () => {
    const m = new Metrics();
    const empty = await scrape(m, 0);
    assert.deepEqual(modelsOf(empty), []);
    m.request('a', 1, true, 3, 1, timings);
    for (let i = 0; i < 3; i++) m.request('b', 1, true, 3, 1, timings);
    const one = await scrape(m, 2000), two = await scrape(m, 4000);
    assert.deepEqual(modelsOf(two), ['b', 'a'], 'busiest first');
    const quiet = pointBetween(one, two).models.get('a')!;
    assert.equal(quiet.rps, 0);
    assert.equal(quiet.p50, null);
  });

  it('keeps five minutes of points and the scrape just before them', async () => {
    const m = new Metrics();
    let h = EMPTY_HISTORY;
    for (let t = 0; t <= 400_000; t += 2000) {
      m.request('a', 1, true, 3, 1, timings);
      h = addScrape(h, await scrape(m, t));
    }
    assert.equal(h.points.length, 150);
    assert.equal(h.points[0]!.t, 102_000);
    assert.equal(h.scrapes[0]!.t, 100_000);
    assert.equal(h.points.at(-1)!.models.get('a')!.rps, 0.5);
  });
});
