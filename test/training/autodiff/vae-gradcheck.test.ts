// The VAE's objective end to end — the encoder's mean and log-variance, the reparameterised sample
// z = μ + exp(log σ² / 2)·ε with ε fed as an input, the decoder, the pixel-summed binary
// cross-entropy and the closed-form KL term weighted by β — against finite differences through
// onnxruntime. It records no op without a checked rule in gradcheck.test.ts; this checks how they are
// put together, and that the gradient flows through the sample to the encoder.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Value } from '../../../src/training/autodiff/tape.js';
import type { ForwardContext, Parameter } from '../../../src/training/nn/module.js';
import { VAE } from '../../../src/training/nn/vae.js';
import { Rng } from '../../../src/training/rng.js';
import { gradCheck, type CheckInput } from './gradcheck.js';

describe('VAE gradients', () => {
  it('match finite differences for every parameter, through the sample and both loss terms', async () => {
    const vae = new VAE({ width: 3, height: 2, hidden: [5, 4], latent: 2, beta: 1.5 });
    vae.initialize(new Rng(3));
    const named = vae.namedParameters();
    const rng = new Rng(8);
    // larger weights than the initialization, so every path carries a measurable gradient
    const inputs: CheckInput[] = named.map(([name, p]) => ({ name, shape: p.shape, data: Float32Array.from({ length: p.size }, () => 0.6 * rng.normal()) }));
    inputs.push({ name: 'x', shape: [-1, 6], runShape: [3, 6], data: Float32Array.from({ length: 18 }, () => rng.next()), check: false });
    inputs.push({ name: 'eps', shape: [-1, 2], runShape: [3, 2], data: Float32Array.from({ length: 6 }, () => rng.normal()), check: false });
    const byParam = new Map<Parameter, number>(named.map(([, p], i) => [p, i]));
    const worst = await gradCheck(inputs, (xs) => {
      const ctx: ForwardContext = {
        training: true,
        param: (p) => xs[byParam.get(p)!]!,
        dropoutMask: () => { throw new Error('no dropout here'); },
        normalNoise: (shape) => {
          assert.deepEqual(shape, [-1, 2], 'one ε per example and latent dimension');
          return xs.at(-1) as Value;
        },
      };
      return vae.objective(xs.at(-2) as Value, ctx).loss;
    }, { eps: 1e-2, tol: 3e-2, samples: 8 });
    assert.ok(worst < 3e-2);
  });
});
