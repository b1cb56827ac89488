// Usage summed by key, model version and minute in memory: totals exact once written, writes on the
// clock or when enough rows wait, nothing lost on close, and budgets and the usage API that see
// requests not written yet. Then what the keyed hot path skips must not skip a security property:
// a revoked key fails at once though its secret was just verified, and a streamed answer still
// carries the x-ratelimit-* headers.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Admission } from '../../src/security/admission.js';
import { parseKey, sameSecret } from '../../src/security/api-keys.js';
import type { Principal } from '../../src/security/authorizer.js';
import { NO_LIMITS } from '../../src/security/limits.js';
import { UsageDb } from '../../src/security/sqlite/usage-db.js';
import { UsageRecorder, type UsageRow } from '../../src/security/usage.js';
import { mlpModel } from '../fixtures/models.js';
import { tinyLlamaGguf } from '../fixtures/tiny-llama.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startServer, tempDir } from '../helpers/server.js';
import { call, keyedServer, makeKey, push, type KeyedServer } from './support.js';

const T0 = Date.parse('2025-03-10T09:00:00Z');
const INFER = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };
const row = (over: Partial<UsageRow> = {}): UsageRow => ({
  time: T0, requestId: 'r', keyId: 'k1', tenant: 't', model: 'm', version: 1, status: 200,
  promptTokens: 0, completionTokens: 0, queueMs: 0, computeMs: 0, payload: undefined, ...over,
});

function ledger(opts: { flushRows?: number; flushMs?: number } = {}) {
  const dir = tempDir();
  const file = path.join(dir, 'ferry.db');
  const db = new UsageDb(file);
  const clock = new FakeClock();
  const errors: unknown[] = [];
  const rec = new UsageRecorder(db, { clock, now: () => new Date(T0), flushRows: opts.flushRows ?? 500, flushMs: opts.flushMs ?? 1000, retentionDays: 0, onError: (e) => errors.push(e) });
  return { file, db, clock, rec, errors, done: () => (db.close(), rmSync(dir, { recursive: true, force: true })) };
}

describe('usage recorder', () => {
  it('sums requests by key, model version and minute, and the totals are exact once written', () => {
    const { db, rec, errors, done } = ledger();
    for (let i = 0; i < 1000; i++) {
      // 10 failed, 5 went away mid-answer (499): 15 errors
      const status = i < 10 ? 500 : i < 15 ? 499 : 200;
      rec.add(row({ time: T0 + i * 59, status, promptTokens: 3, completionTokens: 4, queueMs: 0.25, computeMs: 1.5 }));
    }
    rec.add(row({ time: T0 + 60_000 }));
    rec.add(row({ keyId: 'k2', completionTokens: 7 }));
    rec.add(row({ model: 'm', version: 2 }));
    rec.add(row({ model: null, version: null, status: 404 }));
    rec.flush();
    assert.deepEqual(errors, []);
    const rows = db.minutes().map((r) => [r.minute, r.keyId, r.model, r.version, r.requests, r.errors, r.promptTokens, r.completionTokens, r.queueMs, r.computeMs]);
    assert.deepEqual(rows, [
      ['2025-03-10T09:00', 'k1', null, null, 1, 1, 0, 0, 0, 0],
      ['2025-03-10T09:00', 'k1', 'm', 1, 1000, 15, 3000, 4000, 250, 1500],
      ['2025-03-10T09:00', 'k1', 'm', 2, 1, 0, 0, 0, 0, 0],
      ['2025-03-10T09:00', 'k2', 'm', 1, 1, 0, 0, 7, 0, 0],
      ['2025-03-10T09:01', 'k1', 'm', 1, 1, 0, 0, 0, 0, 0],
    ]);
    const spent = db.spent({ keyId: 'k1' }, new Date(T0), new Date(T0 + 86_400_000));
    assert.deepEqual(spent, { tokens: 7000, computeMs: 1500 });
    done();
  });

  it('adds a minute written in several batches to what is there', async () => {
    const { db, rec, clock, done } = ledger();
    rec.add(row({ promptTokens: 5 }));
    await clock.advance(1000);
    rec.add(row({ promptTokens: 6 }));
    await clock.advance(1000);
    assert.deepEqual(db.minutes().map((r) => [r.requests, r.promptTokens]), [[2, 11]]);
    done();
  });

  it('writes flushMs after the first waiting request, or at once when flushRows rows wait', async () => {
    const { db, rec, clock, done } = ledger({ flushRows: 3, flushMs: 1000 });
    for (let i = 0; i < 100; i++) rec.add(row());
    assert.equal(db.minutes().length, 0, 'a hundred requests of one key and model are one waiting row');
    await clock.advance(999);
    assert.equal(db.minutes().length, 0);
    await clock.advance(1);
    assert.deepEqual(db.minutes().map((r) => r.requests), [100]);
    rec.add(row({ keyId: 'a' }));
    rec.add(row({ keyId: 'b' }));
    assert.equal(db.minutes().length, 1);
    rec.add(row({ keyId: 'c' }));
    assert.equal(db.minutes().length, 4, 'the third waiting row writes them, without the clock');
    assert.equal(clock.pendingTimers, 0, 'no timer is left once nothing waits');
    done();
  });

  it('writes what waits on close: nothing is lost when the server stops', () => {
    const { file, db, rec, clock, done } = ledger({ flushMs: 60_000 });
    for (let i = 0; i < 7; i++) rec.add(row({ completionTokens: 2 }));
    rec.close();
    assert.equal(clock.pendingTimers, 0);
    const reopened = new UsageDb(file);
    assert.deepEqual(reopened.minutes().map((r) => [r.requests, r.completionTokens]), [[7, 14]]);
    reopened.close();
    done();
  });

  it('a budget window that starts while requests wait counts them', () => {
    const { db, rec, done } = ledger({ flushMs: 60_000 });
    rec.add(row({ promptTokens: 600, completionTokens: 350 }));
    rec.add(row({ promptTokens: 50 }));
    assert.equal(db.minutes().length, 0, 'not written yet');
    // what ferry.ts gives admission: the ledger's roll-ups, after what waits is written
    const admission = new Admission({ clock: new FakeClock(), now: () => new Date(T0 + 3_600_000), tenantLimits: () => NO_LIMITS, spent: (who, from, to) => (rec.flush(), db.spent(who, from, to)) });
    const p = (tokens: number): Principal => ({ keyId: 'k1', tenant: 't', scopes: new Set(['infer']), models: null, limits: { ...NO_LIMITS, budget: { period: 'day', tokens, computeSeconds: null } } });
    assert.throws(() => admission.admit(p(1000), () => {}), /daily token budget of 1000 \(1000 spent or reserved\)/);
    done();
  });
});

describe('keyed requests through the server', () => {
  let s: KeyedServer;
  const clock = new FakeClock();
  const wall = Date.parse('2025-03-10T09:00:00Z');

  before(async () => {
    // a long flushMs: nothing is written on the clock in these tests
    s = await keyedServer({ usage: { retentionDays: 30, logPayloads: false, flushRows: 500, flushMs: 600_000 }, generation: { parallel: 2, maxQueueSize: 16, threads: 1 } }, { clock, now: () => new Date(wall) });
    assert.equal((await push(s, s.root, 'm', mlpModel({ inputs: 4, hidden: 3, outputs: 2 }))).status, 201);
    assert.equal((await push(s, s.root, 'tiny', tinyLlamaGguf())).status, 201);
    for (const m of ['m', 'tiny']) assert.equal((await call(s.url, 'POST', `/api/models/${m}/shares`, { key: s.root, body: { tenant: 'acme' } })).status, 201);
  });
  after(() => s.close());

  it('the usage API counts requests that wait to be written', async () => {
    const key = await makeKey(s, 'acme', ['infer'], { limits: { rpm: 1000 } });
    for (let i = 0; i < 3; i++) assert.equal((await call(s.url, 'POST', '/v2/models/m/infer', { key, body: INFER })).status, 200);
    assert.equal(s.ferry.ledger.minutes().length, 0, 'nothing written yet');
    const usage = await call(s.url, 'GET', '/api/usage?group_by=tenant&tenant=acme', { key: s.root });
    assert.deepEqual(usage.body.usage.map((g: { group: string; requests: number }) => [g.group, g.requests]), [['acme', 3]]);
  });

  it('refuses a key at once when it is revoked, though its secret was verified a moment before', async () => {
    const key = await makeKey(s, 'acme', ['infer']);
    assert.equal((await call(s.url, 'POST', '/v2/models/m/infer', { key, body: INFER })).status, 200);
    assert.equal((await call(s.url, 'POST', '/v2/models/m/infer', { key, body: INFER })).status, 200);
    assert.equal((await call(s.url, 'DELETE', `/api/keys/${parseKey(key)!.id}`, { key: s.root })).status, 200);
    assert.equal((await call(s.url, 'POST', '/v2/models/m/infer', { key, body: INFER })).status, 401);
  });

  it('sends the x-ratelimit-* headers on a streamed answer too', async () => {
    const key = await makeKey(s, 'acme', ['infer'], { limits: { rpm: 100, tpm: 1000 } });
    const r = await call(s.url, 'POST', '/v1/completions', { key, body: { model: 'tiny', prompt: 'abc', max_tokens: 6, temperature: 0, stream: true } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /data: \[DONE\]/);
    assert.equal(r.headers.get('x-ratelimit-limit-requests'), '100');
    assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '99');
    // "abc" is 4 prompt tokens; max_tokens 6: 10 reserved when the stream starts
    assert.equal(r.headers.get('x-ratelimit-remaining-tokens'), '990');
  });
});

describe('stopping the server', () => {
  it('writes what waited: a restart keeps it', async () => {
    const dataDir = tempDir();
    const clock = new FakeClock();
    const overrides = { usage: { retentionDays: 30, logPayloads: false, flushRows: 500, flushMs: 600_000 } };
    const first = await startServer(overrides, { auth: true, dataDir, clock });
    const root = first.ferry.firstAdminKey!;
    assert.equal((await push(first, root, 'm', mlpModel({ inputs: 4, hidden: 3, outputs: 2 }))).status, 201);
    for (let i = 0; i < 2; i++) assert.equal((await call(first.url, 'POST', '/v2/models/m/infer', { key: root, body: INFER })).status, 200);
    assert.equal(first.ferry.ledger.minutes().length, 0, 'nothing written before the stop');
    // what SIGTERM does (src/cli/serve.ts)
    await first.close();
    const again = await startServer(overrides, { auth: true, dataDir, clock });
    try {
      assert.deepEqual(again.ferry.ledger.minutes().map((r) => [r.model, r.requests]), [['m', 2]]);
    } finally {
      await again.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('sameSecret', () => {
  it('tells equal secrets from different ones of any length', () => {
    const a = 'A'.repeat(43);
    assert.equal(sameSecret(a, 'A'.repeat(43)), true);
    assert.equal(sameSecret(a, `${'A'.repeat(42)}B`), false);
    assert.equal(sameSecret(a, `B${'A'.repeat(42)}`), false);
    assert.equal(sameSecret(a, 'A'.repeat(42)), false);
  });
});
