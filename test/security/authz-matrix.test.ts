// The authorization matrix: every route fastify knows × every scope (and no key, a bad key) × a
// model or job of the caller's own tenant and of another tenant. Routes come from the server's route
// table, so a new route without an entry in ROUTES fails this test until someone decides its rules.
// Rules: public routes need nothing; no or bad key: 401; a key without the route's scope: 403; with
// it, another tenant's model or job: 404 (never 403); its own: the route's normal answer.
// Also: path traversal in names, oversized headers, and management routes missing from ACTIONS.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { parseKey } from '../../src/security/api-keys.js';
import { ACTIONS } from '../../src/security/audit.js';
import { grants, KEY_SCOPES, type KeyScope } from '../../src/security/authorizer.js';
import { mlpModel } from '../fixtures/models.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { call, keyedServer, makeKey, push, type KeyedServer } from './support.js';

const INFER = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };
const MODEL = mlpModel({ inputs: 4, hidden: 3, outputs: 2 });
const job = (name: string) => ({
  name, dataset: { type: 'mnist', train: 100, test: 50 }, model: [{ type: 'Linear', in: 784, out: 10 }],
  loss: 'crossEntropy', optimizer: { type: 'adam', lr: 0.002 }, epochs: 200, batchSize: 50, seed: 1,
});

interface Target { model: string; job: string; key: string }
interface Case {
  /** the answer for a caller allowed in, on its own things */
  ok: number | readonly number[];
  /** makes a throwaway target first, for routes that destroy what they act on */
  fresh?: 'model' | 'job' | 'key';
  body?: (t: Target) => unknown;
  raw?: Uint8Array;
}

const ROUTES: Readonly<Record<string, Case>> = {
  'GET /v2/health/live': { ok: 200 },
  'GET /v2/health/ready': { ok: 200 },
  'GET /v2': { ok: 200 },
  'GET /v2/models/:name': { ok: 200 },
  'GET /v2/models/:name/versions/:version': { ok: 200 },
  'GET /v2/models/:name/ready': { ok: 200 },
  'GET /v2/models/:name/versions/:version/ready': { ok: 200 },
  'POST /v2/models/:name/infer': { ok: 200, body: () => INFER },
  'POST /v2/models/:name/versions/:version/infer': { ok: 200, body: () => INFER },
  'POST /v2/models/:name/explain': { ok: 200, body: () => INFER },
  'POST /v2/models/:name/versions/:version/explain': { ok: 200, body: () => INFER },
  'GET /v2/models/stats': { ok: 200 },
  'GET /v2/models/:name/stats': { ok: 200 },
  'GET /v2/models/:name/versions/:version/stats': { ok: 200 },
  'POST /v2/repository/index': { ok: 200, body: () => ({}) },
  'POST /v2/repository/models/:name/load': { ok: 200, body: () => ({}) },
  'POST /v2/repository/models/:name/unload': { ok: 200, body: () => ({}) },
  'POST /api/training-jobs': { ok: 201, fresh: 'job', body: (t) => job(t.model) },
  'GET /api/training-jobs': { ok: 200 },
  'GET /api/training-jobs/:id': { ok: 200 },
  'DELETE /api/training-jobs/:id': { ok: [200, 202], fresh: 'job' },
  'GET /api/training-jobs/:id/events': { ok: 200 },
  'GET /api/training/recipes': { ok: 200 },
  'POST /api/keys': { ok: 201, body: () => ({ tenant: 't1', scopes: ['admin'] }) },
  'GET /api/keys': { ok: 200 },
  'DELETE /api/keys/:id': { ok: 200, fresh: 'key' },
  'GET /api/audit': { ok: 200 },
  'GET /api/usage': { ok: 200 },
  'POST /api/models/:name/shares': { ok: 201, body: () => ({ tenant: 't3' }) },
  'DELETE /api/models/:name/shares/:tenant': { ok: 200, fresh: 'model' },
  'GET /api/models': { ok: 200 },
  'GET /api/models/:name': { ok: 200 },
  'GET /api/models/:name/versions/:version': { ok: 200 },
  'DELETE /api/models/:name/versions/:version': { ok: 200, fresh: 'model' },
  'DELETE /api/models/:name': { ok: 200, fresh: 'model' },
  'PUT /api/models/:name/aliases/:alias': { ok: 200, body: () => ({ version: 1 }) },
  'DELETE /api/models/:name/aliases/:alias': { ok: 200, fresh: 'model' },
  'POST /api/models/:name/versions': { ok: 201, raw: MODEL },
  // the fixture records no training dataset: registered with accuracy not measured
  'POST /api/models/:name/versions/:version/optimize': { ok: 201, body: () => ({ int8: 'dynamic' }) },
  // the models here are not generative or text models: a caller let through gets the route's 400
  'POST /v1/chat/completions': { ok: 400, body: (t) => ({ model: t.model, messages: [{ role: 'user', content: 'hi' }] }) },
  'POST /v1/completions': { ok: 400, body: (t) => ({ model: `${t.model}:1`, prompt: 'hi' }) },
  'GET /v1/models': { ok: 200 },
  'POST /v1/classifications': { ok: 400, body: (t) => ({ model: t.model, input: 'hi' }) },
  'POST /v1/classifications/explain': { ok: 400, body: (t) => ({ model: t.model, input: 'hi' }) },
  'POST /v1/embeddings': { ok: 400, body: (t) => ({ model: t.model, input: 'hi' }) },
  'POST /v1/images/generations': { ok: 400, body: (t) => ({ model: t.model, prompt: 'a digit' }) },
  'GET /metrics': { ok: 200 },
  'GET /healthz': { ok: 200 },
  'GET /readyz': { ok: 200 },
  'GET /api/session': { ok: 200 },
  // the dashboard's files are public: the UI asks for a key for everything it shows
  'GET /': { ok: 200 },
  'GET /assets/*': { ok: 404 },
};

describe('authorization matrix', () => {
  const clock = new FakeClock();
  let s: KeyedServer;
  const keys = {} as Record<KeyScope, string>;
  let t1Admin: string, t2Admin: string, t2Train: string;
  let seq = 0;
  let own: Target, foreign: Target;

  const freshModel = async (): Promise<string> => {
    const name = `fresh-${++seq}`;
    assert.equal((await push(s, t1Admin, name, MODEL)).status, 201);
    assert.equal((await call(s.url, 'PUT', `/api/models/${name}/aliases/prod`, { key: t1Admin, body: { version: 1 } })).status, 200);
    assert.equal((await call(s.url, 'POST', `/api/models/${name}/shares`, { key: t1Admin, body: { tenant: 't3' } })).status, 201);
    return name;
  };
  const newJob = async (key: string, name: string): Promise<string> => {
    const r = await call(s.url, 'POST', '/api/training-jobs', { key, body: job(name) });
    assert.equal(r.status, 201, r.text);
    return r.body.id as string;
  };
  /** a finished job: its event stream ends */
  const finishedJob = async (key: string, name: string): Promise<string> => {
    const id = await newJob(key, name);
    await call(s.url, 'DELETE', `/api/training-jobs/${id}`, { key });
    for (let i = 0; (await call(s.url, 'GET', `/api/training-jobs/${id}`, { key })).body.state !== 'cancelled'; i++) {
      assert.ok(i < 2000, 'the job was cancelled');
      await new Promise((r) => setImmediate(r));
    }
    return id;
  };

  before(async () => {
    s = await keyedServer({ idleUnloadMs: 0 }, { clock });
    for (const scope of KEY_SCOPES) keys[scope] = await makeKey(s, 't1', [scope]);
    t1Admin = await makeKey(s, 't1', ['admin', 'train']);
    t2Admin = await makeKey(s, 't2', ['admin']);
    t2Train = await makeKey(s, 't2', ['train']);
    assert.equal((await push(s, t1Admin, 'mine', MODEL)).status, 201);
    assert.equal((await push(s, t2Admin, 'theirs', MODEL)).status, 201);
    for (const [k, m] of [[t1Admin, 'mine'], [t2Admin, 'theirs']] as const) {
      assert.equal((await call(s.url, 'PUT', `/api/models/${m}/aliases/prod`, { key: k, body: { version: 1 } })).status, 200);
      assert.equal((await call(s.url, 'POST', `/api/models/${m}/shares`, { key: k, body: { tenant: 't3' } })).status, 201);
    }
    own = { model: 'mine', job: await finishedJob(t1Admin, 'mine-job'), key: parseKey(await makeKey(s, 't1', ['infer']))!.id };
    foreign = { model: 'theirs', job: await finishedJob(t2Train, 'theirs-job'), key: parseKey(await makeKey(s, 't2', ['infer']))!.id };
  });
  after(() => s.close());

  it('has an entry for every route, and every management route that changes something has an audit action', () => {
    const table = s.ferry.app.routeTable;
    const missing = table.map((r) => `${r.method} ${r.url}`).filter((r) => !(r in ROUTES));
    assert.deepEqual(missing, [], 'routes without a row in ROUTES: decide who may call them');
    const unaudited = table.filter((r) => (r.scope === 'admin' || r.scope === 'train') && r.method !== 'GET' && !(`${r.method} ${r.url}` in ACTIONS));
    assert.deepEqual(unaudited, [], 'management routes without an audit action name (src/security/audit.ts)');
  });

  it('answers every route × scope × tenant as the rules say', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const route of s.ferry.app.routeTable) {
      const c = ROUTES[`${route.method} ${route.url}`];
      if (!c) continue;
      const hasTarget = /:name|:id/.test(route.url) || (c.body !== undefined && route.method === 'POST' && /training-jobs|\/v1\//.test(route.url));
      const callers: [string, string | undefined][] = [['no key', undefined], ['bad key', 'fy_000000000000_' + 'C'.repeat(43)], ...KEY_SCOPES.map((sc) => [sc, keys[sc]] as [string, string])];
      for (const [who, key] of callers) {
        for (const side of hasTarget ? (['own', 'foreign'] as const) : (['own'] as const)) {
          let t = side === 'own' ? own : foreign;
          const allowed = route.scope === 'public' || (key !== undefined && who !== 'bad key' && grants(new Set([who as KeyScope]), route.scope));
          if (allowed && side === 'own' && c.fresh) {
            if (c.fresh === 'model') t = { ...t, model: await freshModel() };
            if (c.fresh === 'job') t = { ...t, job: await newJob(t1Admin, `job-${++seq}`), model: `job-${++seq}` };
            if (c.fresh === 'key') t = { ...t, key: parseKey(await makeKey(s, 't1', ['infer']))!.id };
          }
          const path = route.url.replace(':name', t.model).replace(':version', '1').replace(':alias', 'prod').replace(':id', route.url.startsWith('/api/keys') ? t.key : t.job).replace(':tenant', 't3');
          const r = await call(s.url, route.method, path, { key, body: c.body?.(t), raw: c.raw ? Buffer.from(c.raw) : undefined });
          if (who === 'bad key') await clock.advance(16 * 60_000); // forget the failure: back-off is tested elsewhere
          const want = route.scope === 'public' ? c.ok : key === undefined || who === 'bad key' ? 401 : !allowed ? 403 : side === 'foreign' ? 404 : c.ok;
          const ok = Array.isArray(want) ? want.includes(r.status) : r.status === want;
          checked++;
          if (!ok) failures.push(`${route.method} ${route.url} as ${who} on ${side}: ${r.status}, want ${want} (${r.text.slice(0, 150)})`);
        }
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(checked > 400, `${checked} requests`);
  });

  it('refuses path traversal in names without touching the file system', async () => {
    const root = s.root;
    // (a bare ".." segment never arrives: clients resolve it away, as fetch does)
    for (const name of ['..%2F..%2Fetc%2Fpasswd', '%2E%2E%2Fx', '..%5C..%5Cwindows', 'a%00b', '..%252F..']) {
      const pushed = await call(s.url, 'POST', `/api/models/${name}/versions`, { key: root, raw: Buffer.from(MODEL) });
      assert.ok([400, 404].includes(pushed.status), `push ${name}: ${pushed.status}`);
      for (const p of [`/v2/models/${name}`, `/api/models/${name}`, `/api/training-jobs/${name}/events`]) {
        const r = await call(s.url, 'GET', p, { key: root });
        assert.ok([400, 404].includes(r.status), `${p}: ${r.status}`);
      }
    }
    const spec = await call(s.url, 'POST', '/api/training-jobs', { key: root, body: { ...job('x'), dataset: { type: 'csv', path: '../../etc/passwd', label: 'y' } } });
    assert.equal(spec.status, 400);
  });

  it('answers oversized headers with 431 before any of this runs', async () => {
    const { hostname, port } = new URL(s.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: hostname, port, path: '/api/models', headers: { authorization: `Bearer ${'x'.repeat(20_000)}` } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 431);
  });
});
