// The built-in mnist-mlp and mnist-cnn: shipped as files in models/, produced by their recipes, and
// served out of the box, classifying real MNIST digits through the V2 API.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inspectOnnx } from '../../src/graph/onnx.js';
import { loadMnist } from '../../src/training/data/mnist.js';
import { RECIPES } from '../../src/training/recipes.js';
import { runTraining } from '../../src/training/run.js';
import { readFloatInitializers } from '../../src/training/weights.js';
import { startServer, type TestServer } from '../helpers/server.js';

const MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');
const shipped = (name: string) => new Uint8Array(readFileSync(path.join(MODELS, `${name}.onnx`)));

describe('built-in MNIST models', () => {
  for (const name of ['mnist-mlp', 'mnist-cnn']) {
    it(`${name}: the shipped file is what its recipe trains (same weights, bit for bit)`, async () => {
      const result = await runTraining({ spec: RECIPES[name]!, intraOpThreads: 2 });
      const mine = readFloatInitializers(result.onnx);
      const theirs = readFloatInitializers(shipped(name));
      assert.deepEqual([...mine.keys()].sort(), [...theirs.keys()].sort());
      for (const [k, v] of mine) assert.deepEqual(v.data, theirs.get(k)!.data, `parameter ${k}`);
      const min = name === 'mnist-mlp' ? 0.9 : 0.94;
      assert.ok(result.metrics.testAccuracy! >= min, `${name} test accuracy ${result.metrics.testAccuracy} < ${min} after 3 epochs of batch 64`);
    });
  }

  it('are inference-only graphs with a dynamic batch dimension', () => {
    for (const name of ['mnist-mlp', 'mnist-cnn']) {
      const s = inspectOnnx(shipped(name));
      assert.deepEqual(s.inputs.map((i) => [i.name, i.shape?.[0]]), [['input', 'batch']], `${name}: one input, parameters baked in`);
      assert.deepEqual(s.outputs.map((o) => o.name), ['logits', 'probabilities']);
      for (const op of ['ScatterElements', 'ConvTranspose', 'OneHot', 'LogSoftmax', 'Sub']) {
        assert.ok(!s.opTypes.includes(op), `${name} has no training op ${op}: ${s.opTypes.join(', ')}`);
      }
      const record = JSON.parse(s.metadata['ferry.training']!);
      assert.equal(record.spec.name, name);
      assert.deepEqual(record.dataset.trainSize, 8000);
      assert.equal(record.epochs.length, 3);
    }
  });

  describe('served out of the box', () => {
    let server: TestServer;
    before(async () => {
      server = await startServer({ builtinModels: true });
    });
    after(() => server.close());

    for (const [name, shape] of [['mnist-mlp', [784]], ['mnist-cnn', [1, 28, 28]]] as const) {
      it(`${name} classifies real held-out MNIST digits through V2 infer`, async () => {
        const mnist = await loadMnist();
        const n = 64; // the default maxBatchSize
        const body = {
          inputs: [{ name: 'input', datatype: 'FP32', shape: [n, ...shape], data: Array.from(mnist.test.x.subarray(0, n * 784)) }],
          outputs: [{ name: 'probabilities' }],
        };
        const res = await fetch(`${server.url}/v2/models/${name}/infer`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
        assert.equal(res.status, 200, await res.clone().text());
        const out = (await res.json()) as { model_version: string; outputs: { name: string; shape: number[]; data: number[] }[] };
        assert.equal(out.model_version, '1');
        assert.deepEqual(out.outputs[0]!.shape, [n, 10]);
        let correct = 0;
        for (let i = 0; i < n; i++) {
          const row = out.outputs[0]!.data.slice(i * 10, i * 10 + 10);
          assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'probabilities sum to 1');
          if (row.indexOf(Math.max(...row)) === mnist.test.y[i]) correct++;
        }
        assert.ok(correct / n >= 0.9, `${name}: ${correct}/${n} held-out digits right`);
      });
    }
  });
});
