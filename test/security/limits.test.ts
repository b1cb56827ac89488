// Limits and budgets: token buckets and admission on a fake clock, then through the server — 429s
// with Retry-After and OpenAI's x-ratelimit-* headers, tenant limits shared by their keys, and a
// token budget that concurrent generative requests cannot overshoot.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Admission } from '../../src/security/admission.js';
import type { Principal } from '../../src/security/authorizer.js';
import { budgetWindow, NO_LIMITS, parseLimits, type Limits } from '../../src/security/limits.js';
import { formatReset, TokenBucket } from '../../src/security/rate-limiter.js';
import { mlpModel } from '../fixtures/models.js';
import { tinyLlamaGguf } from '../fixtures/tiny-llama.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { call, keyedServer, makeKey, push, type KeyedServer } from './support.js';

const principal = (limits: Limits, keyId = 'k1', tenant = 't'): Principal => ({ keyId, tenant, scopes: new Set(['infer']), models: null, limits });
const limits = (l: Partial<Limits>): Limits => ({ ...NO_LIMITS, ...l });
const status = (fn: () => unknown): number => {
  try {
    fn();
    return 200;
  } catch (err) {
    return (err as { status: number }).status;
  }
};

describe('token bucket', () => {
  it('refills continuously and says when it is full again', async () => {
    const clock = new FakeClock();
    const b = new TokenBucket(60, clock);
    b.take(60);
    assert.equal(b.remaining(), 0);
    assert.equal(b.waitFor(1), 1000);
    assert.equal(b.resetMs(), 60_000);
    await clock.advance(1500);
    assert.equal(b.remaining(), 1);
    assert.equal(b.waitFor(61), Infinity);
    b.refund(100);
    assert.equal(b.remaining(), 60, 'never above its size');
  });

  it('formats resets as OpenAI does', () => {
    assert.equal(formatReset(20), '20ms');
    assert.equal(formatReset(1000), '1s');
    assert.equal(formatReset(360_000), '6m0s');
    assert.equal(formatReset(90_500), '1m30.5s');
  });

  it('reads limits and refuses nonsense', () => {
    assert.deepEqual(parseLimits({ rpm: 600, budget: { period: 'day', tokens: 1000 } }, 'x'), { rpm: 600, tpm: null, concurrency: null, budget: { period: 'day', tokens: 1000, computeSeconds: null } });
    assert.throws(() => parseLimits({ rpm: 0 }, 'x'), /rpm/);
    assert.throws(() => parseLimits({ rpn: 5 }, 'x'), /unknown limit "rpn"/);
    assert.throws(() => parseLimits({ budget: { period: 'week', tokens: 5 } }, 'x'), /day" or "month/);
    assert.throws(() => parseLimits({ budget: { period: 'day' } }, 'x'), /needs "tokens"/);
    assert.deepEqual(budgetWindow('month', new Date('2025-12-31T23:59:59Z')).end, new Date('2026-01-01T00:00:00Z'));
  });
});

describe('admission', () => {
  const make = (tenant: Limits = NO_LIMITS, spent = { tokens: 0, computeMs: 0 }) => {
    const clock = new FakeClock();
    const headers = new Map<string, string>();
    const a = new Admission({ clock, now: () => new Date('2025-01-31T12:00:00Z'), tenantLimits: () => tenant, spent: () => spent });
    return { clock, headers, a, admit: (p: Principal) => a.admit(p, (k, v) => headers.set(k, v)) };
  };

  it('limits concurrent requests until one finishes', () => {
    const { admit } = make();
    const p = principal(limits({ concurrency: 2 }));
    const first = admit(p);
    admit(p);
    assert.equal(status(() => admit(p)), 429);
    first.finish(0, 1);
    assert.equal(status(() => admit(p)), 200);
  });

  it('holds a key to the tighter of its own and its tenant\'s limits, and refuses without taking', async () => {
    const { admit, headers, clock } = make(limits({ rpm: 2 }));
    const a = principal(limits({ rpm: 100 }), 'a'), b = principal(NO_LIMITS, 'b');
    admit(a).finish(0, 1);
    assert.equal(headers.get('x-ratelimit-limit-requests'), '2', 'the tenant\'s is tighter');
    assert.equal(headers.get('x-ratelimit-remaining-requests'), '1');
    admit(b).finish(0, 1);
    assert.equal(status(() => admit(a)), 429, 'the tenant\'s two are used, by two keys');
    assert.equal(headers.get('x-ratelimit-reset-requests'), '1m0s');
    await clock.advance(30_000);
    admit(a).finish(0, 1);
    assert.equal(status(() => admit(b)), 429);
  });

  it('reserves prompt + max tokens and settles to what was used', () => {
    const { admit, headers } = make();
    const p = principal(limits({ tpm: 1000 }));
    const t = admit(p);
    t.reserveTokens(800);
    assert.equal(headers.get('x-ratelimit-remaining-tokens'), '200');
    assert.equal(status(() => admit(p).reserveTokens(300)), 429, '800 reserved: 300 more do not fit');
    t.finish(100, 5);
    assert.equal(headers.get('x-ratelimit-remaining-tokens') !== undefined, true);
    assert.equal(status(() => admit(p).reserveTokens(300)), 200, 'settled to 100: 300 fit');
    assert.match(String((() => { try { admit(p).reserveTokens(5000); } catch (e) { return (e as Error).message; } })()), /needs 5000 tokens .* 1000 per minute; lower max_tokens/);
  });

  it('starts a budget window from what the ledger says was spent, and says when it resets', () => {
    const { admit } = make(NO_LIMITS, { tokens: 950, computeMs: 0 });
    const p = principal(limits({ budget: { period: 'month', tokens: 1000, computeSeconds: null } }));
    const t = admit(p);
    t.reserveTokens(50);
    let message = '';
    try {
      admit(p);
    } catch (err) {
      message = (err as Error).message;
      assert.equal((err as { retryAfterSeconds: number }).retryAfterSeconds, 12 * 3600);
    }
    assert.match(message, /monthly token budget of 1000 .*resets at 2025-02-01T00:00:00.000Z/);
  });

  it('reserves compute from a compute budget by what recent requests took', () => {
    const { admit } = make();
    const p = principal(limits({ budget: { period: 'day', tokens: null, computeSeconds: 3 } }));
    // the first request reserves 1 s (nothing measured yet); it took 2 s
    admit(p).finish(0, 2000);
    // 2 s spent; the next reserves its estimate (2 s): 4 s would be over 3
    assert.equal(status(() => admit(p)), 429);
  });
});

describe('limits through the server', () => {
  let s: KeyedServer;
  const clock = new FakeClock();
  let wall = Date.parse('2025-01-31T12:00:00Z');
  const INFER = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };

  before(async () => {
    s = await keyedServer({ tenants: { shared: limits({ rpm: 3 }) }, generation: { parallel: 2, maxQueueSize: 16, threads: 1 } }, { clock, now: () => new Date(wall) });
    assert.equal((await push(s, s.root, 'mlp', mlpModel({ inputs: 4, hidden: 3, outputs: 2 }))).status, 201);
    assert.equal((await push(s, s.root, 'tiny', tinyLlamaGguf())).status, 201);
    for (const m of ['mlp', 'tiny']) {
      for (const tenant of ['acme', 'shared', 'budgeted']) assert.equal((await call(s.url, 'POST', `/api/models/${m}/shares`, { key: s.root, body: { tenant } })).status, 201);
    }
  });
  after(() => s.close());

  it('answers 429 with Retry-After past a key\'s requests per minute, and the headers on every answer', async () => {
    const key = await makeKey(s, 'acme', ['infer'], { limits: { rpm: 2, tpm: 1000 } });
    const ok = await call(s.url, 'POST', '/v2/models/mlp/infer', { key, body: INFER });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers.get('x-ratelimit-limit-requests'), '2');
    assert.equal(ok.headers.get('x-ratelimit-remaining-requests'), '1');
    assert.equal(ok.headers.get('x-ratelimit-reset-requests'), '30s');
    assert.equal(ok.headers.get('x-ratelimit-limit-tokens'), '1000');
    assert.equal(ok.headers.get('x-ratelimit-remaining-tokens'), '1000');
    assert.equal((await call(s.url, 'POST', '/v2/models/mlp/infer', { key, body: INFER })).status, 200);
    const refused = await call(s.url, 'POST', '/v2/models/mlp/infer', { key, body: INFER });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '30');
    assert.equal(refused.headers.get('x-ratelimit-remaining-requests'), '0');
    assert.match(refused.body.error, /limit of 2 requests per minute; retry in 30s/);
    await clock.advance(30_000);
    assert.equal((await call(s.url, 'POST', '/v2/models/mlp/infer', { key, body: INFER })).status, 200);
  });

  it('shares a tenant\'s limit from the config among its keys', async () => {
    const a = await makeKey(s, 'shared', ['infer']), b = await makeKey(s, 'shared', ['infer']);
    const codes = [];
    for (const k of [a, b, a, b]) codes.push((await call(s.url, 'POST', '/v2/models/mlp/infer', { key: k, body: INFER })).status);
    assert.deepEqual(codes, [200, 200, 200, 429]);
  });

  it('lets exactly the concurrent generative requests that fit a token budget through, and never settles above it', async () => {
    // "abc" is 4 prompt tokens (BOS + one per character); max_tokens 6: each reserves 10
    const key = await makeKey(s, 'budgeted', ['infer'], { limits: { budget: { period: 'day', tokens: 35 } } });
    const answers = await Promise.all(Array.from({ length: 5 }, () =>
      call(s.url, 'POST', '/v1/completions', { key, body: { model: 'tiny', prompt: 'abc', max_tokens: 6, temperature: 0 } })));
    const codes = answers.map((r) => r.status).sort();
    assert.deepEqual(codes, [200, 200, 200, 429, 429], answers.map((r) => r.text).join('\n'));
    const refused = answers.find((r) => r.status === 429)!;
    assert.match(refused.body.error.message, /daily token budget of 35 .* this request needs 10: prompt \+ max_tokens\); it resets at 2025-02-01T00:00:00.000Z/);
    assert.equal(refused.body.error.type, 'rate_limit_error');
    assert.equal(refused.headers.get('retry-after'), String(12 * 3600));
    const used = answers.filter((r) => r.status === 200).reduce((n, r) => n + r.body.usage.total_tokens, 0);
    const usage = await call(s.url, 'GET', '/api/usage?group_by=tenant&tenant=budgeted', { key: s.root });
    const row = usage.body.usage[0];
    assert.equal(row.requests, 5);
    assert.equal(row.errors, 2);
    assert.equal(row.promptTokens + row.completionTokens, used, 'the ledger holds what the answers say');
    assert.ok(used <= 35, `settled ${used} of 35`);
    assert.equal(s.ferry.ledger.payloads().length, 0, 'no payloads are stored by default');
  });
});
