// The DecoderLM's gradient end to end — embedding lookup, RMSNorm with its weight, rotary positions
// (a constant table gathered by position and a pair swap), causal multi-head attention, the SwiGLU
// feed-forward and the output projection — against finite differences through onnxruntime. Every op
// it records already has a checked rule in gradcheck.test.ts; this checks how they are put together.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Value } from '../../../src/training/autodiff/tape.js';
import { DecoderLM } from '../../../src/training/nn/decoder.js';
import type { ForwardContext, Parameter } from '../../../src/training/nn/module.js';
import { Rng } from '../../../src/training/rng.js';
import { gradCheck, type CheckInput } from './gradcheck.js';

describe('DecoderLM gradients', () => {
  it('match finite differences for every parameter kind', async () => {
    const lm = new DecoderLM({ vocab: 7, context: 6, dim: 8, heads: 2, layers: 1, ffn: 6, ropeBase: 50 });
    lm.initialize(new Rng(3));
    const named = lm.namedParameters();
    const rng = new Rng(5);
    // larger weights than the initialization, so every path carries a measurable gradient
    const inputs: CheckInput[] = named.map(([name, p]) => ({
      name, shape: p.shape, data: Float32Array.from({ length: p.size }, () => (name.endsWith('orm.weight') ? 1 : 0) + 0.5 * rng.normal()),
    }));
    inputs.push({ name: 'ids', shape: [2, 5], data: BigInt64Array.from([3, 1, 4, 1, 5, 2, 6, 5, 0, 0], BigInt), check: false });
    const byParam = new Map<Parameter, number>(named.map(([, p], i) => [p, i]));
    const worst = await gradCheck(inputs, (xs) => {
      const ctx: ForwardContext = {
        training: true,
        param: (p) => xs[byParam.get(p)!]!,
        dropoutMask: () => { throw new Error('no dropout here'); },
        normalNoise: () => { throw new Error('no noise here'); },
      };
      return lm.forward(xs.at(-1) as Value, ctx);
    }, { eps: 1e-2, tol: 3e-2, samples: 6 });
    assert.ok(worst < 3e-2);
  });
});
