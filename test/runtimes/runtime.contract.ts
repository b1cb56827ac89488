// What every Runtime must do with a real model: the contract a new backend (or a new way of running
// the same one) passes before it serves traffic.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FerryError } from '../../src/core/errors.js';
import type { Runtime } from '../../src/runtimes/runtime.js';
import { failingModel, identityModel, mlpModel, mlpParams, mlpReference } from '../fixtures/models.js';
import { tempDir } from '../helpers/server.js';

const OPTIONS = { intraOpThreads: 1 };

function file(bytes: Uint8Array): string {
  const p = path.join(tempDir('ferry-runtime-'), 'model.onnx');
  writeFileSync(p, bytes);
  return p;
}

export function runtimeContract(name: string, make: () => Runtime): void {
  describe(`Runtime contract: ${name}`, () => {
    it('reports the signature and computes what the model computes, batch after batch', async () => {
      const params = mlpParams({ inputs: 12, hidden: 6, outputs: 3, seed: 5 });
      const model = await make().load({ path: file(mlpModel(params)), format: 'onnx' }, OPTIONS);
      try {
        assert.deepEqual(model.signature.inputs, [{ name: 'input', dtype: 'FP32', shape: [-1, 12] }]);
        assert.deepEqual(model.signature.outputs, [{ name: 'logits', dtype: 'FP32', shape: [-1, 3] }]);
        for (const batch of [1, 4, 2]) {
          const x = Float32Array.from({ length: batch * 12 }, (_, i) => Math.cos(i * batch));
          const out = await model.infer({ input: { dtype: 'FP32', shape: [batch, 12], data: x } });
          assert.deepEqual(out.logits!.shape, [batch, 3]);
          const want = mlpReference(params, x, batch);
          (out.logits!.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-4, `row value ${i}: ${v} vs ${want[i]}`));
          assert.deepEqual(Array.from(x.slice(0, 2)), [Math.fround(Math.cos(0)), Math.fround(Math.cos(batch))], 'the caller keeps its inputs');
        }
      } finally {
        await model.unload();
      }
    });

    it('round-trips BYTES and INT64 exactly', async () => {
      const rt = make();
      const bytes = await rt.load({ path: file(identityModel('BYTES')), format: 'onnx' }, OPTIONS);
      const ints = await rt.load({ path: file(identityModel('INT64')), format: 'onnx' }, OPTIONS);
      try {
        const text = ['héllo', '', 'ok'].map((s) => new TextEncoder().encode(s));
        const y = (await bytes.infer({ x: { dtype: 'BYTES', shape: [1, 3], data: text } })).y!;
        assert.deepEqual((y.data as Uint8Array[]).map((b) => new TextDecoder().decode(b)), ['héllo', '', 'ok']);
        const big = BigInt64Array.from([2n ** 62n + 1n, -5n, 0n]);
        assert.deepEqual(Array.from((await ints.infer({ x: { dtype: 'INT64', shape: [1, 3], data: big } })).y!.data as BigInt64Array), Array.from(big));
      } finally {
        await Promise.all([bytes.unload(), ints.unload()]);
      }
    });

    it('fails a bad run with INVALID_ARGUMENT naming the problem, and keeps serving', async () => {
      const model = await make().load({ path: file(failingModel()), format: 'onnx' }, OPTIONS);
      try {
        const x = { dtype: 'FP32' as const, shape: [1, 4], data: Float32Array.from([1, 2, 3, 4]) };
        await assert.rejects(model.infer({ x, index: { dtype: 'INT64', shape: [1, 1], data: BigInt64Array.from([99n]) } }),
          (e: FerryError) => e.code === 'INVALID_ARGUMENT' && /failed to run/.test(e.message));
        const ok = await model.infer({ x, index: { dtype: 'INT64', shape: [1, 1], data: BigInt64Array.from([2n]) } });
        assert.deepEqual(Array.from(ok.picked!.data as Float32Array), [3]);
      } finally {
        await model.unload();
      }
    });

    it('refuses a file it cannot load with INVALID_ARGUMENT', async () => {
      await assert.rejects(make().load({ path: file(new Uint8Array([8, 1, 18, 3, 1, 2])), format: 'onnx' }, OPTIONS), (e: FerryError) => e.code === 'INVALID_ARGUMENT');
    });
  });
}
