// A network written in TypeScript as modules — here a residual block — trains and exports like a
// JSON-defined one, through the public training API.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openGraphSession } from '../../src/runtimes/onnx/session.js';
import { F, GELU, Linear, Module, Sequential, train, type ForwardContext, type Value } from '../../src/training/index.js';
import { memoryDataset, twoBlobs } from './nn/support.js';

class Residual extends Module {
  readonly kind = 'Residual';
  constructor(readonly inner: Module) {
    super();
  }
  override children(): [string, Module][] {
    return [['inner', this.inner]];
  }
  forward(x: Value, ctx: ForwardContext): Value {
    return F.add(x, this.inner.forward(x, ctx));
  }
}

describe('networks written as TypeScript modules', () => {
  it('a residual network trains, names its parameters by path, and exports a model that predicts', async () => {
    const network = new Sequential([new Linear(2, 8), new Residual(new Sequential([new Linear(8, 8), new GELU()])), new Linear(8, 2)]);
    assert.deepEqual(network.namedParameters().map(([n]) => n), ['0.weight', '0.bias', '1.inner.0.weight', '1.inner.0.bias', '2.weight', '2.bias']);
    const dataset = memoryDataset({ name: 'blobs', featureShape: [2], classes: ['below', 'above'], train: twoBlobs(1, 200), test: twoBlobs(2, 100) });
    const spec = {
      name: 'residual', dataset: { type: 'jsonl' as const, path: 'memory.jsonl', features: 'x', label: 'y' }, model: [],
      loss: 'crossEntropy' as const, optimizer: { type: 'adam' as const, lr: 0.02 }, epochs: 5, batchSize: 16, seed: 3,
    };
    const result = await train({ spec, dataset, network });
    assert.ok(result.metrics.testAccuracy! >= 0.95, `test accuracy ${result.metrics.testAccuracy}`);

    const session = await openGraphSession(result.onnx);
    const out = await session.run({ input: { dtype: 'FP32', shape: [dataset.test.n, 2], data: dataset.test.x } });
    await session.release();
    const probs = out['probabilities']!.data as Float32Array;
    let right = 0;
    let [tp, fp, fn] = [0, 0, 0];
    for (let i = 0; i < dataset.test.n; i++) {
      const p = probs[2 * i + 1]! > probs[2 * i]! ? 1 : 0;
      const t = dataset.test.y[i]!;
      if (p === t) right++;
      if (p === 1 && t === 1) tp++;
      else if (p === 1) fp++;
      else if (t === 1) fn++;
    }
    assert.equal(right / dataset.test.n, result.metrics.testAccuracy, 'the exported model predicts what training measured');
    assert.equal(result.metrics.testF1, (2 * tp) / (2 * tp + fp + fn), 'F1 of the second class, as training reported it');
  });
});
