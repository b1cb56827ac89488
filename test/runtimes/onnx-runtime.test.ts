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
// Threshold 0: the first run moves the model to a worker, so the contract covers both halves of auto.
runtimeContract('onnxruntime auto, moving at once', () => new OnnxRuntime({ isolation: 'auto', workerThresholdMs: 0 }));

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

  it('auto moves a model to a worker after a slow run, and never for fast ones', async () => {
    const file = slowFile();
    const moves = await new OnnxRuntime({ isolation: 'auto', workerThresholdMs: 0 }).load({ path: file, format: 'onnx' }, { intraOpThreads: 1 });
    const stays = await new OnnxRuntime({ isolation: 'auto', workerThresholdMs: 60_000 }).load({ path: file, format: 'onnx' }, { intraOpThreads: 1 });
    try {
      const first = await moves.infer(rows);
      assert.equal((moves as unknown as { inWorker: boolean }).inWorker, false, 'the first run is inline');
      let second: NamedTensors | undefined;
      // The move loads a worker in the background; runs keep being answered meanwhile.
      for (let i = 0; i < 200 && !(moves as unknown as { inWorker: boolean }).inWorker; i++) second = await moves.infer(rows);
      assert.equal((moves as unknown as { inWorker: boolean }).inWorker, true);
      second = await moves.infer(rows);
      assert.equal(await loopRanDuring(moves), true, 'after the move, runs leave the event loop free');
      assert.deepEqual(Array.from(second.y!.data as Float32Array), Array.from(first.y!.data as Float32Array), 'same answers before and after');
      await stays.infer(rows);
      await stays.infer(rows);
      assert.equal((stays as unknown as { inWorker: boolean }).inWorker, false);
    } finally {
      await Promise.all([moves.unload(), stays.unload()]);
    }
  });
});
