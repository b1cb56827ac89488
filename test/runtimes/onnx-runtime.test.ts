import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { NamedTensors } from '../../src/core/tensor.js';
import { OnnxRuntime } from '../../src/runtimes/onnx/onnx-runtime.js';
import type { LoadedModel } from '../../src/runtimes/runtime.js';
import { slowModel } from '../fixtures/models.js';
import { tempDir } from '../helpers/server.js';
import { runtimeContract } from './runtime.contract.js';

runtimeContract('onnxruntime inline', () => new OnnxRuntime({ isolation: 'inline' }));
runtimeContract('onnxruntime in a worker thread', () => new OnnxRuntime({ isolation: 'worker' }));
// A threshold no run reaches: models start in a worker and move inline after three runs, so the
// contract covers both halves of auto.
runtimeContract('onnxruntime auto, moving inline', () => new OnnxRuntime({ isolation: 'auto', workerThresholdMs: 60_000 }));

const slowFile = () => {
  const p = path.join(tempDir('ferry-runtime-'), 'slow.onnx');
  writeFileSync(p, slowModel(64));
  return p;
};
const rows: NamedTensors = { x: { dtype: 'FP32', shape: [64, 256], data: new Float32Array(64 * 256).fill(0.5) } };

/** Whether a callback queued just after the call ran before the result came back. */
async function loopRanDuring(model: LoadedModel): Promise<boolean> {
  let ticked = false;
  const run = model.infer(rows);
  setImmediate(() => (ticked = true));
  await run;
  return ticked;
}

describe('where an ONNX model runs', () => {
  it('in a worker thread, the event loop keeps turning while a batch computes; inline, it does not', async () => {
    const file = slowFile();
    const worker = await new OnnxRuntime({ isolation: 'worker' }).load({ path: file, format: 'onnx' }, { intraOpThreads: 1 });
    const inline = await new OnnxRuntime({ isolation: 'inline' }).load({ path: file, format: 'onnx' }, { intraOpThreads: 1 });
    try {
      assert.equal(await loopRanDuring(worker), true);
      assert.equal(await loopRanDuring(inline), false);
    } finally {
      await Promise.all([worker.unload(), inline.unload()]);
    }
  });

  it('auto loads in a worker, moves a model whose runs are short inline, and keeps a slow one in the worker', async () => {
    const file = slowFile();
    const inWorker = (m: LoadedModel) => (m as unknown as { inWorker: boolean }).inWorker;
    const fast = await new OnnxRuntime({ isolation: 'auto', workerThresholdMs: 60_000 }).load({ path: file, format: 'onnx' }, { intraOpThreads: 1 });
    const slow = await new OnnxRuntime({ isolation: 'auto', workerThresholdMs: 0 }).load({ path: file, format: 'onnx' }, { intraOpThreads: 1 });
    try {
      assert.equal(inWorker(fast), true, 'loaded in a worker: loading never blocks the event loop');
      const first = await fast.infer(rows);
      // The move loads an inline session after the third short run; runs keep being answered meanwhile.
      let later: NamedTensors = first;
      for (let i = 0; i < 200 && inWorker(fast); i++) later = await fast.infer(rows);
      assert.equal(inWorker(fast), false, 'short runs moved it inline');
      later = await fast.infer(rows);
      assert.equal(await loopRanDuring(fast), false, 'inline now');
      assert.deepEqual(Array.from(later.y!.data as Float32Array), Array.from(first.y!.data as Float32Array), 'same answers before and after');
      for (let i = 0; i < 5; i++) await slow.infer(rows);
      assert.equal(inWorker(slow), true, 'a slow run keeps it in the worker');
      assert.equal(await loopRanDuring(slow), true);
    } finally {
      await Promise.all([fast.unload(), slow.unload()]);
    }
  });
});
