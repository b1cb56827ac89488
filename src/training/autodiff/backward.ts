// Reverse-mode differentiation over the tape: walks the recorded ops from the loss back to the
// parameters, asks each op's rule (rules.ts) for its input gradients, and sums gradients that reach
// one value along several paths. The gradient ops land on the same tape, so the forward pass, the
// backward pass and whatever consumes the gradients (an optimizer) become one graph.
import * as F from './fn.js';
import { RULES } from './rules.js';
import type { Value } from './tape.js';

/** Gradients of the scalar `loss` with respect to each of `wrt`, in the same order. A parameter the
 *  loss does not depend on gets a zero gradient. */
export function gradients(loss: Value, wrt: readonly Value[]): Value[] {
  const tape = loss.tape;
  if (loss.shape.length !== 0) throw new Error(`the loss must be a scalar, got shape [${loss.shape.join(', ')}]`);
  const recorded = tape.nodes.slice(); // gradient ops appended below are not walked again
  const requires = new Set(wrt.map((v) => v.id));
  for (const node of recorded) {
    if (RULES[node.op]!.grad && node.inputs.some((x) => requires.has(x.id))) {
      for (const y of node.outputs) requires.add(y.id);
    }
  }
  const grads = new Map<number, Value>([[loss.id, tape.scalar(1)]]);
  for (let n = recorded.length - 1; n >= 0; n--) {
    const node = recorded[n]!;
    const dy = node.outputs.map((y) => grads.get(y.id));
    if (dy.every((g) => g === undefined)) continue;
    const needs = node.inputs.map((x) => requires.has(x.id));
    if (!needs.some(Boolean)) continue;
    const rule = RULES[node.op]!;
    const dx = rule.grad!({ x: node.inputs, y: node.outputs, dy, needs, attrs: node.attrs });
    node.inputs.forEach((x, i) => {
      const g = dx[i];
      if (!needs[i] || g === undefined) return;
      const prev = grads.get(x.id);
      grads.set(x.id, prev ? F.add(prev, g) : g);
    });
  }
  return wrt.map((p) => grads.get(p.id) ?? tape.constant(new Float32Array(p.shape.reduce((a, b) => a * b, 1)), p.shape));
}
