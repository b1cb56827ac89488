// `ferry train` as a user runs it: a recipe or a spec file, overrides, progress on stderr, the
// registered version, and a last JSON line with --json; bad specs fail before any training.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openRegistry } from '../../src/ferry.js';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import { ferry, ROOT } from '../helpers/cli.js';
import { startServer } from '../helpers/server.js';

const temps: string[] = [];
const temp = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'ferry-train-cli-'));
  temps.push(d);
  return d;
};

describe('ferry train', () => {
  before(() => assert.ok(existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is missing: npm test builds it'));
  after(() => {
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  });

  it('trains a recipe, prints progress per epoch, registers the version and ends with one JSON line', async () => {
    const data = temp();
    const r = await ferry(['train', 'mnist-mlp', '--epochs', '2', '--seed', '3', '--data', data, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^epoch 1\/2 {2}loss \d\.\d{4} {2}acc \d\.\d{4} {2}test loss \d\.\d{4} {2}test acc \d\.\d{4} {2}[\d,]+ samples\/s/m);
    assert.match(r.stderr, /^epoch 2\/2 /m);
    assert.match(r.stderr, /registered mnist-mlp version 1: test accuracy 0\.\d{4}/);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(last.model, 'mnist-mlp');
    assert.equal(last.version, 1);
    assert.equal(last.epochs, 2);
    assert.ok(last.metrics.testAccuracy > 0.85, `test accuracy ${last.metrics.testAccuracy}`);
    assert.ok(last.seconds > 0);

    const registry = openRegistry({ ...DEFAULT_CONFIG, data });
    try {
      const v = await registry.resolve('mnist-mlp');
      const training = v.metadata.training as { seed: number; epochs: { testAccuracy: number }[]; spec: { batchSize: number }; ferryVersion: string; dataset: { split: string } };
      assert.equal(training.seed, 3, 'the --seed override is recorded');
      assert.equal(training.spec.batchSize, 64);
      assert.equal(training.epochs.length, 2);
      assert.equal(training.epochs[1]!.testAccuracy, last.metrics.testAccuracy);
      assert.match(training.dataset.split, /8000 train \/ 2000 test/);
      assert.equal(v.metadata.source, 'training');
      assert.deepEqual(v.signature.inputs.map((i) => [i.name, i.shape]), [['input', [-1, 784]]]);
    } finally {
      await registry.meta.close();
    }
  });

  it('trains a spec file whose dataset path is relative to the spec, under --name', async () => {
    const dir = temp();
    const rows = ['x1,x2,label'];
    for (let i = 0; i < 200; i++) {
      const a = ((i * 37) % 100) / 50 - 1, b = ((i * 61) % 100) / 50 - 1;
      rows.push(`${a},${b},${a + b > 0 ? 'pos' : 'neg'}`);
    }
    writeFileSync(path.join(dir, 'points.csv'), rows.join('\n'));
    writeFileSync(path.join(dir, 'spec.json'), JSON.stringify({
      name: 'points', dataset: { type: 'csv', path: 'points.csv', label: 'label' },
      model: [{ type: 'Linear', in: 2, out: 8 }, { type: 'Tanh' }, { type: 'Linear', in: 8, out: 2 }],
      loss: 'crossEntropy', optimizer: { type: 'sgd', lr: 0.5, momentum: 0.9 }, epochs: 20, batchSize: 16, seed: 1,
    }));
    const r = await ferry(['train', path.join(dir, 'spec.json'), '--name', 'halfplane', '--no-register', '--out', path.join(dir, 'm.onnx'), '--json'], { cwd: tmpdir() });
    assert.equal(r.code, 0, r.stderr);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.deepEqual([last.model, last.version], ['halfplane', null]);
    assert.ok(last.metrics.testAccuracy >= 0.9, `accuracy ${last.metrics.testAccuracy}`);
    assert.ok(existsSync(path.join(dir, 'm.onnx')));
  });

  it('--server runs the spec as a job on a running server, with the same progress and JSON line', async () => {
    const server = await startServer();
    try {
      const r = await ferry(['--url', server.url, 'train', 'mnist-mlp', '--server', '--epochs', '1', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^training job [0-9a-f-]{36} on http/m);
      assert.match(r.stderr, /^epoch 1\/1 {2}loss /m);
      const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      assert.deepEqual([last.model, last.version, last.epochs], ['mnist-mlp', 1, 1]);
      const v = await (await fetch(`${server.url}/api/models/mnist-mlp/versions/1`)).json() as { metadata: { trainingJob: string } };
      assert.equal(v.metadata.trainingJob, last.job, 'the server registered it');
      const bad = await ferry(['--url', server.url, 'train', 'mnist-mlp', '--server', '--name', 'a/b']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /model name/i);
    } finally {
      await server.close();
    }
  });

  it('refuses a bad spec before training, naming the problem, and registers nothing', async () => {
    const dir = temp();
    const data = temp();
    writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({
      name: 'bad', dataset: { type: 'mnist' }, model: [{ type: 'Linear', in: 784, out: 10 }, { type: 'Conv3d' }],
      loss: 'crossEntropy', optimizer: { type: 'adam', lr: 0.001 }, epochs: 1, batchSize: 64, seed: 0,
    }));
    const r = await ferry(['train', path.join(dir, 'bad.json'), '--data', data]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /model\[1\]\.type "Conv3d" is not a known layer; known layers: Linear, Conv2d/);

    const shapes = path.join(dir, 'shapes.json');
    writeFileSync(shapes, JSON.stringify({
      name: 'bad', dataset: { type: 'mnist' }, model: [{ type: 'Linear', in: 784, out: 128 }, { type: 'ReLU' }, { type: 'Linear', in: 100, out: 10 }],
      loss: 'crossEntropy', optimizer: { type: 'adam', lr: 0.001 }, epochs: 1, batchSize: 64, seed: 0,
    }));
    const s = await ferry(['train', shapes, '--data', data]);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /layer 2 \(Linear 100→10\) expects input \[N, 100\], got \[N, 128\]/);

    const unknown = await ferry(['train', 'mnist-gan', '--data', data]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no recipe named "mnist-gan"; recipes: mnist-mlp, mnist-cnn, word2vec, spam-transformer/);
    const badEpochs = await ferry(['train', 'mnist-mlp', '--epochs', 'three', '--data', data]);
    assert.match(badEpochs.stderr, /--epochs must be an integer ≥ 1, got "three"/);

    const registry = openRegistry({ ...DEFAULT_CONFIG, data });
    try {
      assert.deepEqual(await registry.list(), [], 'nothing half-written was registered');
    } finally {
      await registry.meta.close();
    }
  });
});
