// Training jobs through the HTTP API on a real server: submit, follow the event stream, read the
// record, cancel, fine-tune from a registered version, and every kind of bad spec.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../../helpers/server.js';
import { readEvents } from './sse.js';

const mlp = (over: Record<string, unknown> = {}) => ({
  name: 'digits', dataset: { type: 'mnist', train: 2000, test: 500 },
  model: [{ type: 'Linear', in: 784, out: 32 }, { type: 'ReLU' }, { type: 'Linear', in: 32, out: 10 }],
  loss: 'crossEntropy', optimizer: { type: 'adam', lr: 0.002 }, epochs: 2, batchSize: 64, seed: 5, ...over,
});

describe('training jobs API', () => {
  let s: TestServer;
  const post = (body: unknown) => fetch(`${s.url}/api/training-jobs`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const get = async (p: string) => {
    const r = await fetch(`${s.url}${p}`);
    return { status: r.status, body: (await r.json()) as Record<string, any> };
  };
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  it('runs a job: 201 with an id, a live event stream with progress and epochs, then a registered version', async () => {
    const res = await post(mlp());
    assert.equal(res.status, 201, await res.clone().text());
    const job = (await res.json()) as { id: string; state: string };
    assert.equal(res.headers.get('location'), `/api/training-jobs/${job.id}`);
    assert.ok(['queued', 'running'].includes(job.state));

    const events = await readEvents(`${s.url}/api/training-jobs/${job.id}/events`);
    const kinds = events.map((e) => e.event);
    assert.equal(kinds[0], 'state');
    assert.equal(kinds.at(-1), 'done');
    const epochs = events.filter((e) => e.event === 'epoch').map((e) => e.data['metrics'] as { epoch: number; testAccuracy: number });
    assert.deepEqual(epochs.map((m) => m.epoch), [1, 2], 'one epoch event per epoch, none repeated');
    assert.ok(kinds.includes('progress'));
    const done = events.at(-1)!.data;
    assert.deepEqual(done, { type: 'done', state: 'succeeded', result: { model: 'digits', version: 1 } });

    const record = await get(`/api/training-jobs/${job.id}`);
    assert.equal(record.body['state'], 'succeeded');
    assert.deepEqual(record.body['epochs'].map((m: { testAccuracy: number }) => m.testAccuracy), epochs.map((m) => m.testAccuracy));
    assert.ok(record.body['epochs'][1].testAccuracy > 0.8, `accuracy ${record.body['epochs'][1].testAccuracy}`);

    const version = await get('/api/models/digits/versions/1');
    assert.equal(version.body['metadata'].trainingJob, job.id);
    assert.equal(version.body['metadata'].training.seed, 5);
    assert.deepEqual(version.body['metadata'].training.epochs.map((m: { testAccuracy: number }) => m.testAccuracy), epochs.map((m) => m.testAccuracy));
    assert.deepEqual(version.body['signature'].inputs[0].shape, [-1, 784]);

    // a finished job's stream replays its history and ends
    const replay = await readEvents(`${s.url}/api/training-jobs/${job.id}/events`);
    assert.deepEqual(replay.map((e) => e.event), ['state', 'epoch', 'epoch', 'done']);
    const list = await get('/api/training-jobs');
    assert.ok(list.body['jobs'].some((j: { id: string }) => j.id === job.id));
    assert.deepEqual(readdirSync(path.join(s.dataDir, 'jobs')), [], 'the checkpoint is removed once the version is registered');
  });

  it('the same spec and seed give the same metrics', async () => {
    const run = async () => {
      const job = (await (await post(mlp({ name: 'again', epochs: 1 }))).json()) as { id: string };
      const events = await readEvents(`${s.url}/api/training-jobs/${job.id}/events`);
      return events.filter((e) => e.event === 'epoch').map((e) => {
        const { seconds: _s, samplesPerSec: _r, ...m } = e.data['metrics'] as Record<string, number>;
        return m;
      });
    };
    assert.deepEqual(await run(), await run());
  });

  it('fine-tunes the last layer of a registered version, keeping the first layer as it was', async () => {
    const res = await post(mlp({ name: 'digits-ft', from: 'digits:1', freeze: ['0.'], epochs: 1, seed: 9 }));
    assert.equal(res.status, 201, await res.clone().text());
    const job = (await res.json()) as { id: string; parent: unknown };
    assert.deepEqual(job.parent, { model: 'digits', version: 1 });
    const events = await readEvents(`${s.url}/api/training-jobs/${job.id}/events`);
    assert.deepEqual(events.at(-1)!.data['result'], { model: 'digits-ft', version: 1 });
    const v = await get('/api/models/digits-ft/versions/1');
    assert.deepEqual(v.body['metadata'].training.parent, { model: 'digits', version: 1 });
    assert.deepEqual(v.body['metadata'].lineage, { parent: { model: 'digits', version: 1 }, transformation: 'fine-tune' });
  });

  it('cancels a queued job and a running one; a finished job cannot be cancelled', async () => {
    const long = (await (await post(mlp({ name: 'long', epochs: 50 }))).json()) as { id: string };
    const queued = (await (await post(mlp({ name: 'never' }))).json()) as { id: string; state: string };
    assert.equal(queued.state, 'queued', 'one job runs at a time');
    const del = await fetch(`${s.url}/api/training-jobs/${queued.id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal(((await del.json()) as { state: string }).state, 'cancelled');

    // wait for the long job to be running (its first progress event), then cancel it
    await readEvents(`${s.url}/api/training-jobs/${long.id}/events`, (e) => e.event === 'progress');
    const stop = await fetch(`${s.url}/api/training-jobs/${long.id}`, { method: 'DELETE' });
    assert.equal(stop.status, 202);
    const events = await readEvents(`${s.url}/api/training-jobs/${long.id}/events`);
    assert.equal(events.at(-1)!.data['state'], 'cancelled');
    assert.equal((await get(`/api/training-jobs/${long.id}`)).body['state'], 'cancelled');
    assert.equal((await get('/api/models/long')).status, 404, 'a cancelled job registers nothing');
    const again = await fetch(`${s.url}/api/training-jobs/${long.id}`, { method: 'DELETE' });
    assert.equal(again.status, 409);
    assert.match(((await again.json()) as { error: { message: string } }).error.message, /already cancelled/);
  });

  it('refuses bad specs with 400 naming the problem, before queueing anything', async () => {
    const cases: [unknown, RegExp][] = [
      [mlp({ model: [{ type: 'Linear', in: 784, out: 10 }, { type: 'Transformer' }] }), /model\[1\]\.type "Transformer" is not a known layer/],
      [mlp({ model: [{ type: 'Linear', in: 784, out: 128 }, { type: 'Linear', in: 100, out: 10 }] }), /layer 1 \(Linear 100→10\) expects input \[N, 100\], got \[N, 128\]/],
      [mlp({ optimizer: { type: 'adam', lr: -1 } }), /optimizer\.lr must be a positive number/],
      [mlp({ epochs: 0 }), /epochs must be a positive integer/],
      [mlp({ name: '../evil' }), /name/i],
      [mlp({ from: 'no-such-model:1' }), /from: model "no-such-model" does not exist/],
      [mlp({ dataset: { type: 'csv', path: '../../etc/passwd', label: 'x' } }), /dataset\.path .* relative to the server's datasets folder/],
      [mlp({ dataset: { type: 'csv', path: '/etc/passwd', label: 'x' } }), /dataset\.path/],
      [[1, 2], /training spec/],
      [mlp({ model: [{ type: 'Linear', in: 784, out: 100_000_000 }] }), /100,000,000 parameters|78,400,000,000 parameters|more than a training job takes/],
      [mlp({ model: [{ type: 'Linear', in: 784, out: 10 }, { type: 'Softmax', axis: 'x' }] }), /model\[1\]\.axis must be an integer/],
      [mlp({ freeze: ['9.'] }), /freeze: "9\." matches no parameter; parameters are 0\.weight, 0\.bias, 2\.weight, 2\.bias/],
    ];
    const before = ((await get('/api/training-jobs')).body['jobs'] as unknown[]).length;
    for (const [spec, message] of cases) {
      const r = await post(spec);
      const text = await r.text();
      assert.equal(r.status, 400, `${JSON.stringify(spec).slice(0, 120)} -> ${text}`);
      assert.match(JSON.parse(text).error.message, message);
    }
    assert.equal(((await get('/api/training-jobs')).body['jobs'] as unknown[]).length, before, 'nothing was queued');
    assert.equal((await get('/api/training-jobs/nope')).status, 404);
  });

  it('fails fast, registering nothing, when the data does not fit the model or the loss diverges', async () => {
    const dir = path.join(s.dataDir, 'datasets');
    mkdirSync(dir, { recursive: true });
    const rows = ['a,b,label', ...Array.from({ length: 40 }, (_, i) => `${i},${i % 7},${i % 5}`)];
    writeFileSync(path.join(dir, 'five.csv'), rows.join('\n'));
    const tooFew = mlp({ name: 'too-few', dataset: { type: 'csv', path: 'five.csv', label: 'label' },
      model: [{ type: 'Linear', in: 2, out: 3 }] });
    // regression with a squared loss and a step size far too large: the weights overflow within a few steps
    const huge = mlp({ name: 'diverges', dataset: { type: 'csv', path: 'five.csv', label: 'label', task: 'regression' }, epochs: 50,
      model: [{ type: 'Linear', in: 2, out: 1 }], loss: 'mse', optimizer: { type: 'sgd', lr: 1e6 } });
    for (const [spec, message] of [[tooFew, /label 3 .* out of range for a network with 3 outputs/], [huge, /loss became (NaN|Infinity).*lower optimizer\.lr/]] as const) {
      const job = (await (await post(spec)).json()) as { id: string };
      const events = await readEvents(`${s.url}/api/training-jobs/${job.id}/events`);
      const done = events.at(-1)!.data;
      assert.equal(done['state'], 'failed');
      assert.match(done['error'] as string, message);
      assert.equal((await get(`/api/models/${spec.name}`)).status, 404, 'no half-written version');
    }
  });
});

describe('training jobs on a server whose data folder is a relative path', () => {
  it('reads a dataset from <data>/datasets', async () => {
    const abs = mkdtempSync(path.join(tmpdir(), 'ferry-rel-'));
    const rel = path.relative(process.cwd(), abs);
    mkdirSync(path.join(abs, 'datasets'));
    const rows = ['x,label', ...Array.from({ length: 60 }, (_, i) => `${i / 60},${i % 2}`)];
    writeFileSync(path.join(abs, 'datasets', 'parity.csv'), rows.join('\n'));
    const s = await startServer({}, { dataDir: rel });
    try {
      const res = await fetch(`${s.url}/api/training-jobs`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'parity', dataset: { type: 'csv', path: 'parity.csv', label: 'label' }, model: [{ type: 'Linear', in: 1, out: 2 }],
          loss: 'crossEntropy', optimizer: { type: 'sgd', lr: 0.1 }, epochs: 1, batchSize: 8, seed: 0 }),
      });
      assert.equal(res.status, 201, await res.clone().text());
      const { id } = (await res.json()) as { id: string };
      const events = await readEvents(`${s.url}/api/training-jobs/${id}/events`);
      assert.equal(events.at(-1)!.data['state'], 'succeeded', JSON.stringify(events.at(-1)));
    } finally {
      await s.close();
      rmSync(abs, { recursive: true, force: true });
    }
  });
});
