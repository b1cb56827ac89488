// The usage ledger: keyed inference requests summed by key, model version and minute, written in
// batches on the injected clock, daily roll-ups behind GET /api/usage (a tenant sees only itself), retention that keeps the
// roll-ups, and the opt-in payload log, redacted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mlpModel } from '../fixtures/models.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { call, keyedServer, makeKey, push, type KeyedServer } from './support.js';

const INFER = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }], parameters: { note: 'from ann@example.com' } };
const DAY = 86_400_000;

describe('usage ledger', () => {
  let s: KeyedServer;
  const clock = new FakeClock();
  let wall = Date.parse('2025-03-10T09:00:00Z');
  let aInfer: string, aAdmin: string, bInfer: string;
  const infer = (key: string, model = 'm1') => call(s.url, 'POST', `/v2/models/${model}/infer`, { key, body: INFER });

  before(async () => {
    s = await keyedServer({ usage: { retentionDays: 30, logPayloads: true, flushRows: 100, flushMs: 1000 } }, { clock, now: () => new Date(wall) });
    aAdmin = await makeKey(s, 'a', ['admin', 'infer']);
    aInfer = await makeKey(s, 'a', ['infer']);
    bInfer = await makeKey(s, 'b', ['infer']);
    for (const m of ['m1', 'm2']) {
      assert.equal((await push(s, aAdmin, m, mlpModel({ inputs: 4, hidden: 3, outputs: 2 }))).status, 201);
      assert.equal((await call(s.url, 'POST', `/api/models/${m}/shares`, { key: aAdmin, body: { tenant: 'b' } })).status, 201);
    }
  });
  after(() => s.close());

  it('buffers requests and writes them on the clock, a row per key, model version and minute, with its tenant, counts and timings', async () => {
    assert.equal((await infer(aInfer)).status, 200);
    assert.equal(s.ferry.ledger.minutes().length, 0, 'buffered, not written while the request is answered');
    await clock.advance(1000);
    const rows = s.ferry.ledger.minutes();
    assert.equal(rows.length, 1);
    const r = rows[0]!;
    assert.equal(r.tenant, 'a');
    assert.equal(r.keyId, aInfer.slice(3, 15));
    assert.equal(r.model, 'm1');
    assert.equal(r.version, 1);
    assert.equal(r.requests, 1);
    assert.equal(r.errors, 0, 'answered 200');
    assert.equal(r.minute, '2025-03-10T09:00');
    // the batcher times runs on the injected clock, which stood still
    assert.equal(r.computeMs, 0);
    assert.equal(r.queueMs, 0);
    assert.equal(s.ferry.ledger.payloads().length, 1, 'this server logs payloads (next test)');
  });

  it('sums by model, key and day; a tenant\'s key sees only its tenant', async () => {
    await infer(aInfer, 'm2');
    await infer(bInfer);
    await call(s.url, 'POST', '/v2/models/nope/infer', { key: bInfer, body: INFER });
    wall += DAY;
    await infer(aInfer);
    const byModel = await call(s.url, 'GET', '/api/usage?group_by=model', { key: s.root });
    assert.deepEqual(byModel.body.usage.map((g: { group: string; requests: number }) => [g.group, g.requests]), [['', 1], ['m1:1', 3], ['m2:1', 1]]);
    const byDay = await call(s.url, 'GET', '/api/usage?group_by=day&from=2025-03-11&to=2025-03-11', { key: s.root });
    assert.deepEqual(byDay.body.usage.map((g: { group: string; requests: number }) => [g.group, g.requests]), [['2025-03-11', 1]]);
    const mine = await call(s.url, 'GET', '/api/usage?group_by=key&tenant=b', { key: aAdmin });
    assert.equal(mine.body.tenant, 'a', 'asking for another tenant answers for its own');
    assert.equal(mine.body.usage.length, 1);
    assert.equal(mine.body.usage[0].requests, 3);
    const errors = await call(s.url, 'GET', '/api/usage?group_by=tenant&tenant=b', { key: s.root });
    assert.deepEqual([errors.body.usage[0].requests, errors.body.usage[0].errors], [2, 1]);
    assert.equal((await call(s.url, 'GET', '/api/usage?group_by=color', { key: s.root })).status, 400);
    assert.equal((await call(s.url, 'GET', '/api/usage', { key: aInfer })).status, 403);
  });

  it('stores request bodies only redacted when the payload log is on', async () => {
    const payloads = s.ferry.ledger.payloads();
    assert.ok(payloads.length >= 5);
    for (const p of payloads) {
      assert.ok(!p.payload.includes('ann@example.com'), p.payload);
      assert.match(p.payload, /from \[email\]/);
    }
  });

  it('deletes rows past retention and keeps the roll-ups', async () => {
    wall += 40 * DAY;
    await infer(aInfer);
    await clock.advance(1000);
    const rows = s.ferry.ledger.minutes();
    assert.equal(rows.length, 1, 'only the new row is left');
    assert.equal(rows[0]!.minute, '2025-04-20T09:00');
    assert.equal(s.ferry.ledger.payloads().length, 1);
    const all = await call(s.url, 'GET', '/api/usage?group_by=tenant', { key: s.root });
    assert.deepEqual(all.body.usage.map((g: { group: string; requests: number }) => [g.group, g.requests]), [['a', 4], ['b', 2]]);
  });
});
