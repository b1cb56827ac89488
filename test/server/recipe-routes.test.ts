// GET /api/training/recipes over HTTP: the built-in recipes with their specs, behind the 'read'
// scope, and a listed spec is one POST /api/training-jobs takes as it is.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RECIPES } from '../../src/training/recipes.js';
import { call, keyedServer, makeKey, type KeyedServer } from '../security/support.js';

describe('GET /api/training/recipes', () => {
  let s: KeyedServer;
  before(async () => {
    s = await keyedServer();
  });
  after(() => s.close());

  it('lists every built-in recipe with its description and spec to any key that may read', async () => {
    const r = await call(s.url, 'GET', '/api/training/recipes', { key: await makeKey(s, 't1', ['infer']) });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.recipes.map((x: { name: string }) => x.name), Object.keys(RECIPES));
    const mlp = r.body.recipes.find((x: { name: string }) => x.name === 'mnist-mlp');
    assert.match(mlp.description, /MNIST digit classifier, MLP 784-128-10/);
    assert.deepEqual(mlp.spec, RECIPES['mnist-mlp']);
  });

  it('refuses a request without a key and a metrics-only key', async () => {
    assert.equal((await call(s.url, 'GET', '/api/training/recipes')).status, 401);
    const metrics = await call(s.url, 'GET', '/api/training/recipes', { key: await makeKey(s, 't1', ['metrics']) });
    assert.equal(metrics.status, 403);
    assert.match(metrics.body.error.message, /"read" scope/);
  });

  it('gives specs that POST /api/training-jobs accepts unchanged', async () => {
    const { body } = await call(s.url, 'GET', '/api/training/recipes', { key: s.root });
    const spec = body.recipes.find((x: { name: string }) => x.name === 'mnist-cnn').spec;
    const job = await call(s.url, 'POST', '/api/training-jobs', { key: s.root, body: spec });
    assert.equal(job.status, 201, job.text);
    assert.deepEqual(job.body.spec, RECIPES['mnist-cnn']);
    const cancelled = await call(s.url, 'DELETE', `/api/training-jobs/${job.body.id}`, { key: s.root });
    assert.ok([200, 202].includes(cancelled.status), cancelled.text);
  });
});
