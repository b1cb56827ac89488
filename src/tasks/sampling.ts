// Choosing the next token from logits, as llama.cpp's sampler chain does for the settings Ferry
// exposes: temperature 0 is greedy; otherwise top-k, then top-p over the tempered distribution, then a
// draw from a seeded generator, so the same seed and prompt give the same text.
import type { Sampling } from './generation.js';

export { seededRandom } from '../core/random.js';

export function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits, (v) => v - lse);
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

export function sample(logits: Float32Array, s: Sampling, random: () => number): number {
  if (s.temperature <= 0) return argmax(logits);
  let order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!);
  if (s.topK !== undefined && s.topK > 0) order = order.slice(0, s.topK);
  const max = logits[order[0]!]!;
  let weights = order.map((i) => Math.exp((logits[i]! - max) / s.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  weights = weights.map((w) => w / total);
  if (s.topP !== undefined && s.topP < 1) {
    let mass = 0;
    let keep = 0;
    while (keep < weights.length && (keep === 0 || mass < s.topP)) mass += weights[keep++]!;
    order = order.slice(0, keep);
    weights = weights.slice(0, keep).map((w) => w / mass);
  }
  let r = random();
  for (let i = 0; i < order.length; i++) {
    r -= weights[i]!;
    if (r <= 0) return order[i]!;
  }
  return order[order.length - 1]!;
}
