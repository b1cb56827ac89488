// Optimizers as plain ONNX ops inside the training step (the CPU build has no optimizer kernels).
// Per-step quantities that change with the step number — the learning rate from its schedule, Adam's
// bias corrections — are computed here in JS and fed as scalar inputs, so one graph serves every step.
import * as F from '../autodiff/fn.js';
import type { Value } from '../autodiff/tape.js';

export type OptimizerSpec =
  | { readonly type: 'sgd'; readonly lr: number; readonly momentum?: number; readonly nesterov?: boolean; readonly weightDecay?: number }
  | { readonly type: 'adam' | 'adamw'; readonly lr: number; readonly betas?: readonly [number, number]; readonly eps?: number; readonly weightDecay?: number };

export interface Optimizer {
  /** names of the state tensors kept per parameter, each the parameter's shape */
  readonly slots: readonly string[];
  /** names of the scalar inputs fed on every step */
  readonly scalars: readonly string[];
  /** scalar values for step `t` (0-based) at learning rate `lr` */
  scalarValues(t: number, lr: number): Record<string, number>;
  /** the parameter and state after one update */
  update(p: Value, g: Value, state: readonly Value[], s: Readonly<Record<string, Value>>): { p: Value; state: Value[] };
}

export function makeOptimizer(spec: OptimizerSpec): Optimizer {
  return spec.type === 'sgd' ? sgd(spec) : adam(spec);
}

function sgd(spec: Extract<OptimizerSpec, { type: 'sgd' }>): Optimizer {
  const mu = spec.momentum ?? 0;
  const wd = spec.weightDecay ?? 0;
  return {
    slots: mu > 0 ? ['momentum'] : [],
    scalars: ['lr'],
    scalarValues: (_t, lr) => ({ lr }),
    update(p, g0, state, s) {
      // PyTorch's SGD: g += wd·p;  buf = μ·buf + g;  step along buf (or g + μ·buf with Nesterov)
      const g = wd > 0 ? F.add(g0, F.mulScalar(p, wd)) : g0;
      if (mu === 0) return { p: F.sub(p, F.mul(s['lr']!, g)), state: [] };
      const buf = F.add(F.mulScalar(state[0]!, mu), g);
      const dir = spec.nesterov ? F.add(g, F.mulScalar(buf, mu)) : buf;
      return { p: F.sub(p, F.mul(s['lr']!, dir)), state: [buf] };
    },
  };
}

function adam(spec: Extract<OptimizerSpec, { type: 'adam' | 'adamw' }>): Optimizer {
  const [b1, b2] = spec.betas ?? [0.9, 0.999];
  const eps = spec.eps ?? 1e-8;
  const decoupled = spec.type === 'adamw';
  const wd = spec.weightDecay ?? (decoupled ? 0.01 : 0);
  return {
    slots: ['m', 'v'],
    scalars: ['step_size', 'v_scale', 'decay'],
    // PyTorch's update: p −= lr · m̂ / (√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)
    scalarValues: (t, lr) => ({
      step_size: lr / (1 - b1 ** (t + 1)),
      v_scale: 1 / Math.sqrt(1 - b2 ** (t + 1)),
      decay: decoupled ? 1 - lr * wd : 1,
    }),
    update(p0, g0, state, s) {
      const g = !decoupled && wd > 0 ? F.add(g0, F.mulScalar(p0, wd)) : g0;
      const p = decoupled && wd > 0 ? F.mul(p0, s['decay']!) : p0;
      const m = F.add(F.mulScalar(state[0]!, b1), F.mulScalar(g, 1 - b1));
      const v = F.add(F.mulScalar(state[1]!, b2), F.mulScalar(F.mul(g, g), 1 - b2));
      const denom = F.addScalar(F.mul(F.sqrt(v), s['v_scale']!), eps);
      return { p: F.sub(p, F.div(F.mul(m, s['step_size']!), denom)), state: [m, v] };
    },
  };
}
