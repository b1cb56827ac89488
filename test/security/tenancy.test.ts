// Tenants see and use only their own models (and public or shared ones) and their own training jobs;
// anything else answers exactly like something that does not exist. Plus brute-force back-off and
// the owner column's migration.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteMetadataStore } from '../../src/registry/sqlite/sqlite-store.js';
import { FailureBackoff } from '../../src/security/backoff.js';
import { mlpModel } from '../fixtures/models.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { call, keyedServer, makeKey, push, type KeyedServer } from './support.js';

const INFER = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };
const MODEL = mlpModel({ inputs: 4, hidden: 3, outputs: 2 });
const names = (r: { body: { models: { name: string }[] } }) => r.body.models.map((m) => m.name).sort();
const tinyJob = (name: string) => ({
  name, dataset: { type: 'mnist', train: 200, test: 100 }, model: [{ type: 'Linear', in: 784, out: 10 }],
  loss: 'crossEntropy', optimizer: { type: 'adam', lr: 0.002 }, epochs: 50, batchSize: 64, seed: 5,
});

describe('tenants', () => {
  let s: KeyedServer;
  let a: string, b: string, bAdmin: string;
  before(async () => {
    s = await keyedServer();
    a = await makeKey(s, 'a', ['infer', 'admin', 'train']);
    b = await makeKey(s, 'b', ['infer', 'train']);
    bAdmin = await makeKey(s, 'b', ['admin', 'infer']);
    assert.equal((await push(s, a, 'a-model', MODEL)).status, 201);
    assert.equal((await push(s, bAdmin, 'b-model', MODEL)).status, 201);
    // registered without a key (as built-ins are): public
    await s.ferry.registry.push('public-model', Readable.from([MODEL]));
  });
  after(() => s.close());

  it('lists only what a tenant may see, on every listing endpoint', async () => {
    assert.deepEqual(names(await call(s.url, 'GET', '/api/models', { key: a })), ['a-model', 'public-model']);
    assert.deepEqual(names(await call(s.url, 'GET', '/api/models', { key: b })), ['b-model', 'public-model']);
    assert.deepEqual(names(await call(s.url, 'GET', '/api/models', { key: s.root })), ['a-model', 'b-model', 'public-model']);
    const index = await call(s.url, 'POST', '/v2/repository/index', { key: b, body: {} });
    assert.deepEqual(index.body.map((r: { name: string }) => r.name).sort(), ['b-model', 'public-model']);
    const v1 = await call(s.url, 'GET', '/v1/models', { key: b });
    assert.deepEqual(v1.body.data.map((m: { id: string }) => m.id).sort(), ['b-model', 'public-model']);
  });

  it('answers another tenant\'s model exactly like a missing one (404), in the URL and in a JSON body', async () => {
    for (const [method, p, body] of [['GET', '/api/models/NAME'], ['GET', '/v2/models/NAME'], ['POST', '/v2/models/NAME/infer', INFER], ['DELETE', '/api/models/NAME']] as const) {
      const key = method === 'DELETE' ? bAdmin : b;
      const foreign = await call(s.url, method, p.replace('NAME', 'a-model'), { key, body });
      const missing = await call(s.url, method, p.replace('NAME', 'no-model'), { key, body });
      assert.equal(foreign.status, 404, `${method} ${p}`);
      assert.equal(foreign.text, missing.text.replaceAll('no-model', 'a-model'), `${method} ${p}: same answer`);
    }
    // OpenAI routes name the model in the body: checked once the body is parsed.
    const foreign = await call(s.url, 'POST', '/v1/embeddings', { key: b, body: { model: 'a-model:1', input: 'hi' } });
    const own = await call(s.url, 'POST', '/v1/embeddings', { key: b, body: { model: 'b-model', input: 'hi' } });
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.error.type, 'not_found_error');
    assert.equal(own.status, 400, 'its own model gets past the check (and is not a text model)');
    // pushing a version to another tenant's model name
    assert.equal((await push(s, bAdmin, 'a-model', MODEL)).status, 404);
  });

  it('uses public models, but only the admin tenant manages them', async () => {
    assert.equal((await call(s.url, 'POST', '/v2/models/public-model/infer', { key: b, body: INFER })).status, 200);
    assert.equal((await call(s.url, 'DELETE', '/api/models/public-model', { key: bAdmin })).status, 403);
    assert.equal((await call(s.url, 'PUT', '/api/models/public-model/aliases/prod', { key: bAdmin, body: { version: 1 } })).status, 403);
    assert.equal((await call(s.url, 'PUT', '/api/models/public-model/aliases/prod', { key: s.root, body: { version: 1 } })).status, 200);
  });

  it('shares a model with another tenant, who may use it but not change it, until it is unshared', async () => {
    assert.equal((await call(s.url, 'POST', '/api/models/a-model/shares', { key: bAdmin, body: { tenant: 'b' } })).status, 404, 'only the owner shares');
    const shared = await call(s.url, 'POST', '/api/models/a-model/shares', { key: a, body: { tenant: 'b' } });
    assert.equal(shared.status, 201);
    assert.deepEqual(shared.body.sharedWith, ['b']);
    assert.equal((await call(s.url, 'POST', '/v2/models/a-model/infer', { key: b, body: INFER })).status, 200);
    assert.deepEqual(names(await call(s.url, 'GET', '/api/models', { key: b })), ['a-model', 'b-model', 'public-model']);
    assert.equal((await call(s.url, 'DELETE', '/api/models/a-model', { key: bAdmin })).status, 403);
    assert.equal((await call(s.url, 'DELETE', '/api/models/a-model/shares/b', { key: a })).status, 200);
    assert.equal((await call(s.url, 'POST', '/v2/models/a-model/infer', { key: b, body: INFER })).status, 404);
  });

  it('keeps training jobs, and their event streams, to their tenant', async () => {
    const job = await call(s.url, 'POST', '/api/training-jobs', { key: a, body: tinyJob('a-trained') });
    assert.equal(job.status, 201, job.text);
    const id = job.body.id as string;
    for (const p of [`/api/training-jobs/${id}`, `/api/training-jobs/${id}/events`]) {
      const foreign = await call(s.url, 'GET', p, { key: b });
      assert.equal(foreign.status, 404, p);
      assert.match(foreign.text, /does not exist/);
    }
    assert.equal((await call(s.url, 'DELETE', `/api/training-jobs/${id}`, { key: b })).status, 404);
    assert.deepEqual((await call(s.url, 'GET', '/api/training-jobs', { key: b })).body.jobs, []);
    assert.deepEqual((await call(s.url, 'GET', '/api/training-jobs', { key: a })).body.jobs.map((j: { id: string }) => j.id), [id]);
    assert.equal((await call(s.url, 'GET', `/api/training-jobs/${id}`, { key: s.root })).status, 200, 'the admin tenant sees every job');
    // b may not train into a's model name, nor fine-tune from a's model
    assert.equal((await call(s.url, 'POST', '/api/training-jobs', { key: b, body: tinyJob('a-model') })).status, 404);
    assert.equal((await call(s.url, 'POST', '/api/training-jobs', { key: b, body: { ...tinyJob('b-ft'), from: 'a-model:1' } })).status, 404);
    // the name a job will register under is a's already
    assert.equal((await push(s, bAdmin, 'a-trained', MODEL)).status, 404);
    assert.ok([200, 202].includes((await call(s.url, 'DELETE', `/api/training-jobs/${id}`, { key: a })).status));
  });
});

describe('brute-force back-off', () => {
  it('answers 429 with Retry-After after repeated bad keys from one address, then lets a good key in', async () => {
    const clock = new FakeClock();
    const s = await keyedServer({}, { clock });
    try {
      const bad = 'fy_000000000000_' + 'A'.repeat(43);
      for (let i = 0; i < 5; i++) assert.equal((await call(s.url, 'GET', '/api/models', { key: bad })).status, 401);
      assert.equal((await call(s.url, 'GET', '/api/models', { key: bad })).status, 401, 'the sixth failure starts the wait');
      const blocked = await call(s.url, 'GET', '/api/models', { key: s.root });
      assert.equal(blocked.status, 429, 'while waiting, even a good key is turned away');
      assert.equal(blocked.headers.get('retry-after'), '1');
      await clock.advance(1000);
      assert.equal((await call(s.url, 'GET', '/api/models', { key: s.root })).status, 200);
    } finally {
      await s.close();
    }
  });

  it('doubles the wait per failure up to a cap, forgets quiet addresses, and bounds its memory', async () => {
    const clock = new FakeClock();
    const b = new FailureBackoff(clock, { freeFailures: 2, baseMs: 1000, maxMs: 4000, forgetMs: 60_000, maxAddresses: 2 });
    b.fail('x');
    b.fail('x');
    assert.equal(b.retryAfterMs('x'), 0);
    const waits = [1, 2, 3, 4].map(() => (b.fail('x'), b.retryAfterMs('x')));
    assert.deepEqual(waits, [1000, 2000, 4000, 4000]);
    await clock.advance(61_000);
    b.fail('x');
    assert.equal(b.retryAfterMs('x'), 0, 'forgotten after a quiet minute');
    for (let i = 0; i < 3; i++) b.fail('y');
    for (let i = 0; i < 3; i++) b.fail('z');
    assert.equal(b.retryAfterMs('x'), 0, 'the oldest address was dropped');
    assert.equal(b.retryAfterMs('z'), 1000);
  });
});

describe('owner column migration', () => {
  it('opens a data folder from before tenants: its models become public', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ferry-mig-')), 'ferry.db');
    const old = new Database(file);
    old.exec(`CREATE TABLE models (name TEXT PRIMARY KEY, created_at TEXT NOT NULL, next_version INTEGER NOT NULL DEFAULT 1);
      INSERT INTO models VALUES ('legacy', '2024-01-01T00:00:00Z', 2);`);
    old.close();
    const store = new SqliteMetadataStore(file);
    assert.deepEqual(await store.getAccess('legacy'), { owner: null, sharedWith: [] });
    assert.equal(await store.claim('legacy', 'someone'), null, 'an existing name keeps its owner');
    assert.equal(await store.claim('fresh', 't'), 't');
    await store.close();
  });
});
