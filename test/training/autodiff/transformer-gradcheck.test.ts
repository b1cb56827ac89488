// The transformer encoder's gradient end to end — embeddings, learned positions, masked multi-head
// attention, pre-LN blocks, masked mean pooling — against finite differences through onnxruntime,
// with padding in the batch so the mask is exercised.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Value } from '../../../src/training/autodiff/tape.js';
import type { ForwardContext, Parameter } from '../../../src/training/nn/module.js';
import { TransformerEncoder } from '../../../src/training/nn/transformer.js';
import { Rng } from '../../../src/training/rng.js';
import { gradCheck, type CheckInput } from './gradcheck.js';

describe('TransformerEncoder gradients', () => {
  it('match finite differences for every parameter kind, with padded rows', async () => {
    const enc = new TransformerEncoder({ vocab: 7, maxLength: 6, dim: 4, heads: 2, layers: 1, ffn: 8 });
    enc.initialize(new Rng(3));
    // larger weights than the 0.02 initialization, so every path carries a measurable gradient
    const named = enc.namedParameters();
    const rng = new Rng(5);
    const inputs: CheckInput[] = named.map(([name, p]) => ({
      name, shape: p.shape, data: Float32Array.from({ length: p.size }, () => (name.includes('norm') && name.endsWith('weight') ? 1 : 0) + 0.5 * rng.normal()),
    }));
    // row 0 is full; row 1 has two padding tokens (id 0) at the end
    inputs.push({ name: 'ids', shape: [2, 5], data: BigInt64Array.from([3, 1, 4, 1, 5, 2, 6, 5, 0, 0], BigInt), check: false });
    const byParam = new Map<Parameter, number>(named.map(([, p], i) => [p, i]));
    const worst = await gradCheck(inputs, (xs) => {
      const ctx: ForwardContext = {
        training: false,
        param: (p) => xs[byParam.get(p)!]!,
        dropoutMask: () => { throw new Error('no dropout here'); },
        normalNoise: () => { throw new Error('no noise here'); },
      };
      return enc.forward(xs.at(-1) as Value, ctx);
    }, { eps: 1e-2, tol: 3e-2, samples: 6 });
    assert.ok(worst < 3e-2);
  });

  it('ignores padding: a padded row encodes like the same row without padding', async () => {
    const { openGraphSession } = await import('../../../src/runtimes/onnx/session.js');
    const { emitModel } = await import('../../../src/training/autodiff/emit.js');
    const { Tape } = await import('../../../src/training/autodiff/tape.js');
    const enc = new TransformerEncoder({ vocab: 9, maxLength: 8, dim: 8, heads: 2, layers: 2 });
    enc.initialize(new Rng(1));
    const run = async (ids: number[], t: number) => {
      const tape = new Tape();
      const named = enc.namedParameters();
      const vals = new Map(named.map(([n, p]) => [p, tape.input(n, p.shape)]));
      const x = tape.input('ids', [-1, -1], 'INT64');
      const out = enc.forward(x, { training: false, param: (p) => vals.get(p)!, dropoutMask: () => { throw new Error(); }, normalNoise: () => { throw new Error(); } });
      const s = await openGraphSession(emitModel(tape, { outputs: { y: out } }));
      const feeds: Record<string, { dtype: 'FP32' | 'INT64'; shape: number[]; data: Float32Array | BigInt64Array }> = {};
      for (const [n, p] of named) feeds[n] = { dtype: 'FP32', shape: [...p.shape], data: p.data };
      feeds['ids'] = { dtype: 'INT64', shape: [1, t], data: BigInt64Array.from(ids, BigInt) };
      const r = await s.run(feeds);
      await s.release();
      return Array.from(r['y']!.data as Float32Array);
    };
    const short = await run([4, 2, 7], 3);
    const padded = await run([4, 2, 7, 0, 0, 0], 6);
    short.forEach((v, i) => assert.ok(Math.abs(v - padded[i]!) < 1e-5, `dim ${i}: ${v} vs ${padded[i]}`));
  });
});
