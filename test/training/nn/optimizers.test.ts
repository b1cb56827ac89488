// Optimizer updates run through onnxruntime, step after step, against a plain-JS float64
// reimplementation of PyTorch's update rules (torch.optim.SGD / Adam / AdamW); learning-rate
// schedules at given steps; and one end-to-end check that train() feeds the step number and the
// scheduled rate the way those rules expect.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NamedTensors } from '../../../src/core/tensor.js';
import { openGraphSession } from '../../../src/runtimes/onnx/session.js';
import { emitModel } from '../../../src/training/autodiff/emit.js';
import { Tape, type Value } from '../../../src/training/autodiff/tape.js';
import { buildNetwork } from '../../../src/training/nn/build.js';
import { makeOptimizer, type OptimizerSpec } from '../../../src/training/nn/optimizers.js';
import { learningRate, type ScheduleSpec } from '../../../src/training/nn/schedules.js';
import { Rng } from '../../../src/training/rng.js';
import type { TrainSpec } from '../../../src/training/spec.js';
import { train } from '../../../src/training/trainer.js';
import { readFloatInitializers } from '../../../src/training/weights.js';
import { assertClose, memoryDataset, randn } from './support.js';

// ---- PyTorch's rules, in float64 ------------------------------------------------------------------

interface RefOptimizer {
  /** one update of `p` in place with gradient `g` at learning rate `lr` */
  step(p: Float64Array, g: ArrayLike<number>, lr: number): void;
}

/** torch.optim.SGD (dampening 0): d = g + wd·p; buf = d on the first step, μ·buf + d after;
 *  p −= lr · (nesterov ? d + μ·buf : buf) */
function refSgd(o: { momentum?: number; nesterov?: boolean; weightDecay?: number }): RefOptimizer {
  const mu = o.momentum ?? 0;
  const wd = o.weightDecay ?? 0;
  let buf: Float64Array | undefined;
  return {
    step(p, g, lr) {
      const d = Float64Array.from(p, (v, i) => g[i]! + wd * v);
      if (mu === 0) {
        p.forEach((v, i) => (p[i] = v - lr * d[i]!));
        return;
      }
      buf = buf ? buf.map((b, i) => mu * b + d[i]!) : d.slice();
      const dir = o.nesterov ? d.map((v, i) => v + mu * buf![i]!) : buf;
      p.forEach((v, i) => (p[i] = v - lr * dir[i]!));
    },
  };
}

/** torch.optim.Adam (weight decay added to the gradient) and AdamW (p ·= 1 − lr·wd first). */
function refAdam(o: { decoupled: boolean; betas?: [number, number]; eps?: number; weightDecay?: number }): RefOptimizer {
  const [b1, b2] = o.betas ?? [0.9, 0.999];
  const eps = o.eps ?? 1e-8;
  const wd = o.weightDecay ?? (o.decoupled ? 0.01 : 0);
  let m: Float64Array | undefined;
  let v: Float64Array | undefined;
  let t = 0;
  return {
    step(p, g0, lr) {
      t++;
      if (o.decoupled) p.forEach((x, i) => (p[i] = x * (1 - lr * wd)));
      const g = Float64Array.from(p, (x, i) => g0[i]! + (o.decoupled ? 0 : wd * x));
      m = (m ?? new Float64Array(p.length)).map((x, i) => b1 * x + (1 - b1) * g[i]!);
      v = (v ?? new Float64Array(p.length)).map((x, i) => b2 * x + (1 - b2) * g[i]! * g[i]!);
      const bc1 = 1 - b1 ** t;
      const bc2 = 1 - b2 ** t;
      p.forEach((x, i) => (p[i] = x - (lr / bc1) * m![i]! / (Math.sqrt(v![i]!) / Math.sqrt(bc2) + eps)));
    },
  };
}

function reference(spec: OptimizerSpec): RefOptimizer {
  if (spec.type === 'sgd') return refSgd(spec);
  return refAdam({ decoupled: spec.type === 'adamw', ...(spec.betas ? { betas: [spec.betas[0], spec.betas[1]] } : {}), eps: spec.eps, weightDecay: spec.weightDecay });
}

// ---- the optimizer's graph, one step per run -----------------------------------------------------

/** Runs the update graph for each (gradient, lr) in turn, carrying parameter and state between runs
 *  the way the trainer does; returns the parameter after every step. */
async function runUpdates(spec: OptimizerSpec, p0: Float32Array, steps: { g: Float32Array; lr: number }[]): Promise<Float32Array[]> {
  const opt = makeOptimizer(spec);
  const k = p0.length;
  const tape = new Tape();
  const p = tape.input('p', [k]);
  const g = tape.input('g', [k]);
  const state = opt.slots.map((s) => tape.input(`state_${s}`, [k]));
  const scalars: Record<string, Value> = Object.fromEntries(opt.scalars.map((s) => [s, tape.input(`opt_${s}`, [])]));
  const u = opt.update(p, g, state, scalars);
  const outputs: Record<string, Value> = { p_next: u.p };
  u.state.forEach((s, i) => (outputs[`state_${opt.slots[i]}_next`] = s));
  const session = await openGraphSession(emitModel(tape, { outputs }));
  const f32 = (data: Float32Array, shape: number[]) => ({ dtype: 'FP32' as const, shape, data });
  try {
    let param: Float32Array = p0;
    const st = new Map<string, Float32Array>(opt.slots.map((s) => [s, new Float32Array(k)]));
    const history: Float32Array[] = [];
    for (const [t, { g: grad, lr }] of steps.entries()) {
      const feeds: NamedTensors = { p: f32(param, [k]), g: f32(grad, [k]) };
      for (const [s, v] of st) feeds[`state_${s}`] = f32(v, [k]);
      for (const [s, v] of Object.entries(opt.scalarValues(t, lr))) feeds[`opt_${s}`] = f32(Float32Array.of(v), []);
      const out = await session.run(feeds);
      param = out['p_next']!.data as Float32Array;
      for (const s of opt.slots) st.set(s, out[`state_${s}_next`]!.data as Float32Array);
      history.push(param);
    }
    return history;
  } finally {
    await session.release();
  }
}

describe('optimizer updates match PyTorch', () => {
  const rng = new Rng(9);
  const p0 = randn(rng, 6);
  // gradients that change sign and size from step to step, and a rate that changes too (a schedule)
  const steps = Array.from({ length: 6 }, (_, t) => ({ g: randn(rng, 6, 1 + t / 2), lr: 0.1 * (1 - t / 10) }));

  const cases: [string, OptimizerSpec][] = [
    ['SGD', { type: 'sgd', lr: 0.1 }],
    ['SGD with momentum', { type: 'sgd', lr: 0.1, momentum: 0.9 }],
    ['SGD with Nesterov momentum', { type: 'sgd', lr: 0.1, momentum: 0.8, nesterov: true }],
    ['SGD with weight decay', { type: 'sgd', lr: 0.1, weightDecay: 0.05 }],
    ['SGD with momentum and weight decay', { type: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.05 }],
    ['Adam', { type: 'adam', lr: 0.1 }],
    ['Adam with betas, eps and (L2) weight decay', { type: 'adam', lr: 0.1, betas: [0.8, 0.99], eps: 1e-3, weightDecay: 0.1 }],
    ['AdamW with its default decay 0.01', { type: 'adamw', lr: 0.1 }],
    ['AdamW with decoupled decay 0.2', { type: 'adamw', lr: 0.1, weightDecay: 0.2 }],
  ];
  for (const [what, spec] of cases) {
    it(`${what}: six steps`, async () => {
      const got = await runUpdates(spec, p0, steps);
      const ref = reference(spec);
      const p = Float64Array.from(p0);
      for (const [t, s] of steps.entries()) {
        ref.step(p, s.g, s.lr);
        assertClose(got[t]!, p, `${what}, parameter after step ${t + 1}`, 1e-5, 1e-4);
      }
    });
  }

  it('Adam\'s first step moves every coordinate by about lr, whatever the gradient\'s scale (bias correction)', async () => {
    const g = Float32Array.from([1e-3, -5, 200, -0.02]);
    const [p1] = await runUpdates({ type: 'adam', lr: 0.01 }, new Float32Array(4), [{ g, lr: 0.01 }]);
    assertClose(p1!, [-0.01, 0.01, -0.01, 0.01], 'step 1', 1e-6, 1e-3);
  });

  it('AdamW decays a parameter whose gradient is zero; Adam with L2 decay moves it by about lr', async () => {
    const one = Float32Array.of(1);
    const zero = [{ g: Float32Array.of(0), lr: 0.1 }];
    const [w] = await runUpdates({ type: 'adamw', lr: 0.1, weightDecay: 0.5 }, one, zero);
    assertClose(w!, [1 - 0.1 * 0.5], 'AdamW: p·(1 − lr·wd)', 1e-7);
    const [a] = await runUpdates({ type: 'adam', lr: 0.1, weightDecay: 0.5 }, one, zero);
    assertClose(a!, [0.9], 'Adam: the decay goes through the normalized step', 1e-6);
  });
});

describe('learning-rate schedules', () => {
  const at = (spec: ScheduleSpec | undefined, step: number, epoch: number, totalSteps = 100) =>
    learningRate(0.1, spec, { step, epoch, totalSteps });
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12 + 1e-9 * Math.abs(b), `${what}: ${a}, expected ${b}`);

  it('constant (also the default)', () => {
    for (const s of [0, 7, 99]) {
      close(at(undefined, s, 3), 0.1, `no schedule, step ${s}`);
      close(at({ type: 'constant' }, s, 3), 0.1, `constant, step ${s}`);
    }
  });

  it('step: × gamma every `everyEpochs` epochs', () => {
    const spec: ScheduleSpec = { type: 'step', everyEpochs: 2, gamma: 0.1 };
    [[0, 0.1], [1, 0.1], [2, 0.01], [3, 0.01], [4, 0.001]].forEach(([epoch, lr]) => close(at(spec, epoch! * 10, epoch!), lr!, `epoch ${epoch}`));
  });

  it('exponential: × gamma after every epoch', () => {
    const spec: ScheduleSpec = { type: 'exponential', gamma: 0.5 };
    [0, 1, 2, 5].forEach((e) => close(at(spec, e * 10, e), 0.1 * 0.5 ** e, `epoch ${e}`));
  });

  it('cosine: from lr down to minLr over the run, and no lower after', () => {
    const spec: ScheduleSpec = { type: 'cosine', minLr: 0.001 };
    close(at(spec, 0, 0), 0.1, 'start');
    close(at(spec, 25, 0), 0.001 + 0.5 * 0.099 * (1 + Math.cos(Math.PI / 4)), 'a quarter through');
    close(at(spec, 50, 0), (0.1 + 0.001) / 2, 'half way');
    close(at(spec, 100, 0), 0.001, 'end');
    close(at(spec, 120, 0), 0.001, 'past the end');
    close(at({ type: 'cosine' }, 100, 0), 0, 'minLr defaults to 0');
  });

  it('warm-up rises linearly to lr over warmupSteps, then the schedule takes over', () => {
    const constant: ScheduleSpec = { type: 'constant', warmupSteps: 4 };
    [0.025, 0.05, 0.075, 0.1, 0.1].forEach((lr, s) => close(at(constant, s, 0), lr, `constant warm-up, step ${s}`));
    const cosine: ScheduleSpec = { type: 'cosine', warmupSteps: 10 };
    close(at(cosine, 0, 0), 0.01, 'cosine warm-up, step 0');
    close(at(cosine, 9, 0), 0.1, 'cosine warm-up, last warm-up step');
    close(at(cosine, 10, 0), 0.1, 'cosine starts its decay after the warm-up');
    close(at(cosine, 55, 0), 0.05, 'cosine half way through the 90 steps after warm-up');
    close(at(cosine, 100, 0), 0, 'cosine end');
  });
});

describe('train() drives the optimizer like PyTorch', () => {
  // Full-batch linear regression: one step per epoch, so the whole run is a handful of updates a
  // few lines of JS can repeat exactly — gradient, step count, schedule and state included.
  const rng = new Rng(21);
  const n = 24;
  const x = randn(rng, n * 3);
  const y = Float32Array.from({ length: n }, (_, i) => 1.5 * x[i * 3]! - 2 * x[i * 3 + 1]! + 0.5 * x[i * 3 + 2]! + 0.3);
  const dataset = memoryDataset({ featureShape: [3], targetSize: 1, train: { x, y }, test: { x: x.slice(0, 12), y: y.slice(0, 4) } });
  const model = [{ type: 'Linear' as const, in: 3, out: 1 }];

  const cases: [string, OptimizerSpec, ScheduleSpec | undefined][] = [
    ['Adam with a constant rate after 3 warm-up steps', { type: 'adam', lr: 0.05 }, { type: 'constant', warmupSteps: 3 }],
    ['AdamW with cosine decay', { type: 'adamw', lr: 0.05, weightDecay: 0.1 }, { type: 'cosine', minLr: 0.005 }],
    ['SGD with Nesterov momentum, weight decay and exponential decay', { type: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }, { type: 'exponential', gamma: 0.8 }],
  ];
  for (const [what, optimizer, schedule] of cases) {
    it(what, async () => {
      const epochs = 8;
      const spec: TrainSpec = {
        name: 'linreg', dataset: { type: 'jsonl', path: 'memory', features: 'x', label: 'y' }, model, loss: 'mse',
        optimizer, ...(schedule ? { schedule } : {}), epochs, batchSize: n, seed: 4,
      };
      const result = await train({ spec, dataset });

      const net = buildNetwork(model);
      net.initialize(new Rng(4));
      const [w0, b0] = net.namedParameters().map(([, p]) => p.data);
      const p = Float64Array.from([...w0!, ...b0!]); // [w1, w2, w3, b]
      const ref = reference(optimizer);
      for (let step = 0; step < epochs; step++) {
        const g = new Float64Array(4);
        for (let i = 0; i < n; i++) {
          const r = x[i * 3]! * p[0]! + x[i * 3 + 1]! * p[1]! + x[i * 3 + 2]! * p[2]! + p[3]! - y[i]!;
          for (let j = 0; j < 3; j++) g[j]! += (2 / n) * r * x[i * 3 + j]!;
          g[3]! += (2 / n) * r;
        }
        ref.step(p, g, learningRate(optimizer.lr, schedule, { step, epoch: step, totalSteps: epochs }));
      }
      const w = readFloatInitializers(result.onnx);
      assertClose([...w.get('0.weight')!.data, ...w.get('0.bias')!.data], p, `${what}: weights after ${epochs} steps`, 1e-5, 1e-4);
      assert.equal(result.metrics.learningRate, learningRate(optimizer.lr, schedule, { step: epochs - 1, epoch: epochs - 1, totalSteps: epochs }),
        'the record reports the last step\'s rate');
    });
  }
});
