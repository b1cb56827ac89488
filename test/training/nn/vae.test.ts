// The VAE: its objective against a plain-JS float64 reference (the reparameterised sample, the
// pixel-summed cross-entropy, the closed-form KL, β), the decoder it registers, the checks on a VAE
// spec, and a small VAE trained end to end on MNIST digits — metrics per term, a seed that
// reproduces it whatever the steps per onnxruntime run, and an exported decoder that draws images.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../../../src/core/errors.js';
import { openGraphSession } from '../../../src/runtimes/onnx/session.js';
import { loadMnist } from '../../../src/training/data/mnist.js';
import { Tape, type Value } from '../../../src/training/autodiff/tape.js';
import { emitModel } from '../../../src/training/autodiff/emit.js';
import type { ForwardContext, Parameter } from '../../../src/training/nn/module.js';
import { VAE } from '../../../src/training/nn/vae.js';
import { Rng } from '../../../src/training/rng.js';
import { RECIPES } from '../../../src/training/recipes.js';
import { parseSpec, type TrainSpec } from '../../../src/training/spec.js';
import { train, type TrainResult } from '../../../src/training/trainer.js';
import { readFloatInitializers, readMetadata } from '../../../src/training/weights.js';

/** y = relu?(x·W + b) for row-major x [n, k], W [k, m] in float64 */
function dense(x: number[][], w: Float32Array, b: Float32Array, relu: boolean): number[][] {
  const m = b.length;
  return x.map((row) => Array.from({ length: m }, (_, j) => {
    const v = row.reduce((s, xi, i) => s + xi * w[i * m + j]!, b[j]!);
    return relu ? Math.max(0, v) : v;
  }));
}

/** loss, reconstruction and kl of the objective, computed with loops in float64 */
function reference(vae: VAE, x: number[][], eps: number[][]) {
  const p = new Map(vae.namedParameters().map(([n, q]) => [n, q.data]));
  const layer = (h: number[][], name: string, relu: boolean) => dense(h, p.get(`${name}.weight`)!, p.get(`${name}.bias`)!, relu);
  let h = x;
  vae.hidden.forEach((_, i) => (h = layer(h, `encode.${2 * i}`, true)));
  const mu = layer(h, 'mu', false);
  const logvar = layer(h, 'logvar', false);
  let d = mu.map((row, i) => row.map((m, j) => m + Math.exp(logvar[i]![j]! / 2) * eps[i]![j]!));
  vae.hidden.forEach((_, i) => (d = layer(d, `decode.${2 * i}`, true)));
  const logits = layer(d, 'output', false);
  const n = x.length;
  const rec = logits.reduce((s, row, i) => s + row.reduce((t, z, j) => t + Math.log1p(Math.exp(z)) - z * x[i]![j]!, 0), 0) / n;
  const kl = mu.reduce((s, row, i) => s + row.reduce((t, m, j) => t - 0.5 * (1 + logvar[i]![j]! - m * m - Math.exp(logvar[i]![j]!)), 0), 0) / n;
  return { loss: rec + vae.beta * kl, reconstruction: rec, kl };
}

describe('VAE objective', () => {
  it('equals the negative ELBO computed in float64: Σ BCE over pixels + β·KL, means over the batch', async () => {
    const vae = new VAE({ width: 4, height: 2, hidden: [6, 5], latent: 3, beta: 2.5 });
    vae.initialize(new Rng(1));
    const rng = new Rng(2);
    const n = 4;
    const x = Array.from({ length: n }, () => Array.from({ length: 8 }, () => rng.next()));
    const eps = Array.from({ length: n }, () => Array.from({ length: 3 }, () => rng.normal()));
    const tape = new Tape();
    const params = new Map<Parameter, Value>();
    const ctx: ForwardContext = {
      training: true,
      param: (q) => params.get(q) ?? params.set(q, tape.input(`p${params.size}`, q.shape)).get(q)!,
      dropoutMask: () => { throw new Error('no dropout'); },
      normalNoise: (shape) => tape.input('eps', shape),
    };
    const o = vae.objective(tape.input('x', [-1, 1, 2, 4]), ctx);
    assert.deepEqual(Object.keys(o.terms), ['reconstruction', 'kl']);
    const s = await openGraphSession(emitModel(tape, { outputs: { loss: o.loss, ...o.terms } }));
    try {
      const feeds: Record<string, { dtype: 'FP32'; shape: number[]; data: Float32Array }> = {
        x: { dtype: 'FP32', shape: [n, 1, 2, 4], data: Float32Array.from(x.flat()) },
        eps: { dtype: 'FP32', shape: [n, 3], data: Float32Array.from(eps.flat()) },
      };
      for (const [q, v] of params) feeds[v.name] = { dtype: 'FP32', shape: [...q.shape], data: q.data };
      const out = await s.run(feeds);
      const want = reference(vae, x, eps);
      for (const k of ['loss', 'reconstruction', 'kl'] as const) {
        const got = (out[k]!.data as Float32Array)[0]!;
        assert.ok(Math.abs(got - want[k]) < 1e-4 * Math.max(1, Math.abs(want[k])), `${k}: onnxruntime ${got}, float64 reference ${want[k]}`);
      }
      assert.ok(want.kl > 0, 'the KL of a non-standard posterior is positive');
    } finally {
      await s.release();
    }
  });

  it('refuses images of another size and a spec that mixes it with other layers or losses', () => {
    const vae = new VAE({ width: 28, height: 28, hidden: 16, latent: 2 });
    const tape = new Tape();
    const ctx: ForwardContext = { training: false, param: (q) => tape.input(`p${q.size}`, q.shape), dropoutMask: () => tape.input('m', []), normalNoise: (s) => tape.input('e', s) };
    assert.throws(() => vae.forward(tape.input('x', [-1, 1, 14, 14]), ctx), /expects images \[N, 1, 28, 28\] or \[N, 784\]/);
    const vaeSpec = RECIPES['mnist-vae']!;
    const refuse = (raw: unknown, re: RegExp) => assert.throws(() => parseSpec(raw), (e: unknown) => e instanceof FerryError && re.test(e.message));
    refuse({ ...vaeSpec, model: [...vaeSpec.model, { type: 'ReLU' }] }, /model\[0\].*VAE.*only layer/);
    refuse({ ...vaeSpec, model: [{ type: 'VAE', width: 28, height: 28, hidden: [], latent: 8 }] }, /hidden must be a positive integer or a non-empty list/);
    refuse({ ...vaeSpec, model: [{ type: 'VAE', width: 28, height: 28, hidden: [64, 0], latent: 8 }] }, /hidden\[1\] must be a positive integer/);
    refuse({ ...vaeSpec, model: [{ type: 'VAE', width: 28, height: 28, hidden: 64, latent: 8, beta: 0 }] }, /beta must be a positive number/);
  });
});

// ---- training ------------------------------------------------------------------------------------

const small = (patch: Partial<TrainSpec> = {}): TrainSpec => ({
  ...RECIPES['mnist-vae']!,
  dataset: { type: 'mnist', train: 2000, test: 200 },
  model: [{ type: 'VAE', width: 28, height: 28, hidden: [128], latent: 4, beta: 2 }],
  epochs: 4, batchSize: 50,
  ...patch,
});

describe('training a VAE', () => {
  let dataset: Awaited<ReturnType<typeof loadMnist>>;
  let run: TrainResult;
  const trained = async (): Promise<TrainResult> => {
    dataset ??= await loadMnist({ train: 2000, test: 200 });
    run ??= await train({ spec: small(), dataset });
    return run;
  };

  it('reports loss, reconstruction and KL per epoch and no accuracy; the loss falls and is reconstruction + β·KL', async () => {
    const r = await trained();
    const [first, last] = [r.record.epochs[0]!, r.record.epochs.at(-1)!];
    for (const m of r.record.epochs) {
      assert.equal(m.trainAccuracy, undefined);
      assert.equal(m.testAccuracy, undefined);
      assert.deepEqual(Object.keys(m.trainTerms!), ['reconstruction', 'kl']);
      for (const [loss, t] of [[m.trainLoss, m.trainTerms!], [m.testLoss, m.testTerms!]] as const) {
        assert.ok(Math.abs(loss - (t['reconstruction']! + 2 * t['kl']!)) < 1e-3 * loss, `loss ${loss} = reconstruction ${t['reconstruction']} + 2 · kl ${t['kl']}`);
        assert.ok(t['kl']! > 0);
      }
    }
    assert.ok(last.trainLoss < first.trainLoss && last.testLoss < first.testLoss, `the loss falls: train ${first.trainLoss} → ${last.trainLoss}, test ${first.testLoss} → ${last.testLoss}`);
    // 784 pixels of binary cross-entropy: ~543 nats at p = 0.5; a model that learned anything is far below
    assert.ok(last.testTerms!['reconstruction']! < 250, `test reconstruction ${last.testTerms!['reconstruction']}`);
    assert.equal(r.record.classes, undefined, 'a generator has no classes');
  });

  it('the seed reproduces the run bit for bit, whether its steps run one or sixteen per onnxruntime run', async () => {
    const r = await trained();
    const again = await train({ spec: small(), dataset, stepsPerRun: 1 });
    const strip = (m: typeof r.metrics) => ({ ...m, seconds: 0, samplesPerSec: 0 });
    assert.deepEqual(again.record.epochs.map(strip), r.record.epochs.map(strip), 'noise is drawn step by step');
    const weights = (t: TrainResult) => [...readFloatInitializers(t.onnx)].map(([n, w]) => [n, Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength).toString('base64')]);
    assert.deepEqual(weights(again), weights(r), 'the same decoder weights');
  });

  it('registers the decoder alone: z [N, latent] → image [N, 1, 28, 28] in [0, 1], tagged image-generation', async () => {
    const r = await trained();
    const meta = readMetadata(r.onnx);
    assert.equal(meta['ferry.task'], 'image-generation');
    assert.deepEqual(JSON.parse(meta['ferry.image']!), { width: 28, height: 28, channels: 1, latent: 4 });
    assert.equal(meta['ferry.classes'], undefined);
    assert.deepEqual([...readFloatInitializers(r.onnx).keys()].filter((n) => !n.startsWith('c')).sort(),
      ['decode.0.bias', 'decode.0.weight', 'output.bias', 'output.weight'], 'the decoder\'s weights and no encoder\'s');
    const s = await openGraphSession(r.onnx);
    try {
      assert.deepEqual(s.signature.inputs.map((i) => [i.name, i.dtype, i.shape]), [['z', 'FP32', [-1, 4]]]);
      assert.deepEqual(s.signature.outputs.map((o) => [o.name, o.dtype, o.shape]), [['image', 'FP32', [-1, 1, 28, 28]]]);
      const rng = new Rng(9);
      const out = (await s.run({ z: { dtype: 'FP32', shape: [8, 4], data: Float32Array.from({ length: 32 }, () => rng.normal()) } }))['image']!;
      assert.deepEqual(out.shape, [8, 1, 28, 28]);
      const px = out.data as Float32Array;
      assert.ok(px.every((v) => v >= 0 && v <= 1));
      const mean = px.reduce((a, b) => a + b, 0) / px.length;
      // MNIST's mean pixel is 0.13: a dark background with a bright stroke
      assert.ok(mean > 0.05 && mean < 0.3, `mean pixel ${mean}`);
    } finally {
      await s.release();
    }
  });

  it('loss "elbo" needs a network with its own objective, and a VAE needs "elbo"', async () => {
    dataset ??= await loadMnist({ train: 2000, test: 200 });
    await assert.rejects(train({ spec: small({ loss: 'mse' }), dataset }), /VAE .* trains on its own objective; set "loss": "elbo"/);
    await assert.rejects(train({ spec: small({ model: [{ type: 'Linear', in: 784, out: 10 }] }), dataset }), /"elbo" is the objective of a network that scores itself/);
  });
});
