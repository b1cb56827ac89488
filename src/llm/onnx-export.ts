// A Ferry decoder (llama's math, see src/training/nn/decoder.ts) as an ONNX model with a KV cache, for
// Ferry's own generation loop (src/tasks/onnx-generator.ts): the same weights llama-export.ts writes to
// GGUF, so both give the same greedy continuation.
//
//   inputs   input_ids [batch, seq] · past_key.i, past_value.i [batch, heads, past, head_dim] per block
//   outputs  logits [batch, seq, vocab] · present_key.i, present_value.i [batch, heads, past + seq, head_dim]
//
// New tokens take positions past … past+seq−1 (rotary angles from a table of `context` rows) and
// attend to every cached position and to the new ones before them. A first call passes past = 0.
import { attr, GraphBuilder } from '../graph/builder.js';
import { decodeModel, encodeModel } from '../graph/onnx.js';
import type { DecoderConfig } from './gguf/llama-export.js';

export const pastKey = (i: number) => `past_key.${i}`;
export const pastValue = (i: number) => `past_value.${i}`;
export const presentKey = (i: number) => `present_key.${i}`;
export const presentValue = (i: number) => `present_value.${i}`;

export function llamaOnnx(params: ReadonlyMap<string, Float32Array>, cfg: DecoderConfig, metadata: Record<string, string> = {}): Uint8Array {
  const { vocab: V, dim: D, heads: H, layers: L, ffn: F, context: C } = cfg;
  const hd = D / H;
  const half = hd / 2;
  const g = new GraphBuilder({ opset: 17 });
  const get = (name: string, size: number): Float32Array => {
    const p = params.get(name);
    if (!p || p.length !== size) throw new Error(`the decoder's ${name} should hold ${size} values`);
    return p;
  };
  let n = 0;
  const tmp = (hint: string) => `${hint}_${n++}`;
  const i64 = (name: string, values: number[], dims = [values.length]) => g.initializer(name, 'INT64', dims, BigInt64Array.from(values.map(BigInt)));
  const f32 = (name: string, values: number[], dims: number[] = []) => g.initializer(name, 'FP32', dims, Float32Array.from(values));
  const op = (type: string, inputs: string[], attrs: Record<string, ReturnType<typeof attr.int>> = {}, hint = type): string => {
    const out = tmp(hint);
    g.node(type, inputs, [out], attrs);
    return out;
  };

  g.input('input_ids', 'INT64', ['batch', 'seq']);
  for (let i = 0; i < L; i++) {
    g.input(pastKey(i), 'FP32', ['batch', H, 'past', hd]);
    g.input(pastValue(i), 'FP32', ['batch', H, 'past', hd]);
  }
  g.output('logits', 'FP32', ['batch', 'seq', V]);
  for (let i = 0; i < L; i++) {
    g.output(presentKey(i), 'FP32', ['batch', H, 'total', hd]);
    g.output(presentValue(i), 'FP32', ['batch', H, 'total', hd]);
  }

  // constants
  i64('c0', [0], []);
  i64('c1', [1], []);
  i64('idx2', [2]);
  i64('idx1', [1]);
  i64('idx_axes0', [0]);
  i64('shape_heads', [0, 0, H, hd]);
  i64('shape_pairs', [0, 0, H, half, 2]);
  i64('shape_merge', [0, 0, D]);
  i64('shape_col', [-1, 1]);
  i64('shape_row', [1, -1]);
  f32('eps', [cfg.eps]);
  f32('scale', [1 / Math.sqrt(hd)]);
  f32('neg', [-1e9]);
  f32('zero', [0]);
  const cos = new Float32Array(C * half);
  const sin = new Float32Array(C * half);
  for (let p = 0; p < C; p++) {
    for (let j = 0; j < half; j++) {
      const theta = p * Math.pow(cfg.ropeBase, (-2 * j) / hd);
      cos[p * half + j] = Math.cos(theta);
      sin[p * half + j] = Math.sin(theta);
    }
  }
  g.initializer('rope_cos', 'FP32', [C, half], cos);
  g.initializer('rope_sin', 'FP32', [C, half], sin);

  // positions past … past+seq−1, and every key position 0 … past+seq−1
  const past = op('Squeeze', [op('Gather', [op('Shape', [pastKey(0)]), 'idx2'], { axis: attr.int(0) }), 'idx_axes0']);
  const seq = op('Squeeze', [op('Gather', [op('Shape', ['input_ids']), 'idx1'], { axis: attr.int(0) }), 'idx_axes0']);
  const total = op('Add', [past, seq]);
  const qpos = op('Range', [past, total, 'c1']);
  const kpos = op('Range', ['c0', total, 'c1']);
  // rotary tables for the new positions, shaped to broadcast over [batch, seq, heads, half, 1]
  i64('shape_rope', [1, -1, 1, half, 1]);
  const ropeCos = op('Reshape', [op('Gather', ['rope_cos', qpos], { axis: attr.int(0) }), 'shape_rope']);
  const ropeSin = op('Reshape', [op('Gather', ['rope_sin', qpos], { axis: attr.int(0) }), 'shape_rope']);
  // causal mask [seq, total]: a key after the query's own position gets −1e9
  const future = op('Greater', [op('Reshape', [kpos, 'shape_row']), op('Reshape', [qpos, 'shape_col'])]);
  const mask = op('Where', [future, 'neg', 'zero']);

  const weight = (name: string, dims: number[]) => {
    const size = dims.reduce((a, b) => a * b, 1);
    g.initializer(name, 'FP32', dims, get(name, size));
    return name;
  };
  const rmsNorm = (x: string, w: string) => {
    const ms = op('ReduceMean', [op('Mul', [x, x])], { axes: attr.ints([-1]), keepdims: attr.int(1) });
    return op('Mul', [op('Div', [x, op('Sqrt', [op('Add', [ms, 'eps'])])]), w]);
  };
  /** [batch, seq, D] → heads [batch, seq, H, hd] with adjacent pairs rotated */
  const rope = (x: string) => {
    const pairs = op('Reshape', [x, 'shape_pairs']);
    const x0 = tmp('x0');
    const x1 = tmp('x1');
    g.node('Split', [pairs], [x0, x1], { axis: attr.int(-1) }); // two equal halves (opset 17 has no num_outputs)
    const y0 = op('Sub', [op('Mul', [x0, ropeCos]), op('Mul', [x1, ropeSin])]);
    const y1 = op('Add', [op('Mul', [x0, ropeSin]), op('Mul', [x1, ropeCos])]);
    return op('Reshape', [op('Concat', [y0, y1], { axis: attr.int(-1) }), 'shape_heads']);
  };
  const toHeads = (x: string) => op('Transpose', [x], { perm: attr.ints([0, 2, 1, 3]) });

  let x = op('Gather', [weight('tokens', [V, D]), 'input_ids'], { axis: attr.int(0) });
  for (let i = 0; i < L; i++) {
    const b = `blocks.${i}`;
    const n1 = rmsNorm(x, weight(`${b}.attnNorm.weight`, [D]));
    const q = toHeads(rope(op('MatMul', [n1, weight(`${b}.attention.q.weight`, [D, D])])));
    const k = toHeads(rope(op('MatMul', [n1, weight(`${b}.attention.k.weight`, [D, D])])));
    const v = toHeads(op('Reshape', [op('MatMul', [n1, weight(`${b}.attention.v.weight`, [D, D])]), 'shape_heads']));
    g.node('Concat', [pastKey(i), k], [presentKey(i)], { axis: attr.int(2) });
    g.node('Concat', [pastValue(i), v], [presentValue(i)], { axis: attr.int(2) });
    const kT = op('Transpose', [presentKey(i)], { perm: attr.ints([0, 1, 3, 2]) });
    const scores = op('Add', [op('Mul', [op('MatMul', [q, kT]), 'scale']), mask]);
    const attended = op('MatMul', [op('Softmax', [scores], { axis: attr.int(-1) }), presentValue(i)]);
    const merged = op('Reshape', [op('Transpose', [attended], { perm: attr.ints([0, 2, 1, 3]) }), 'shape_merge']);
    const h = op('Add', [x, op('MatMul', [merged, weight(`${b}.attention.out.weight`, [D, D])])]);
    const n2 = rmsNorm(h, weight(`${b}.ffnNorm.weight`, [D]));
    const gate = op('MatMul', [n2, weight(`${b}.gate.weight`, [D, F])]);
    const silu = op('Mul', [gate, op('Sigmoid', [gate])]);
    const up = op('MatMul', [n2, weight(`${b}.up.weight`, [D, F])]);
    x = op('Add', [h, op('MatMul', [op('Mul', [silu, up]), weight(`${b}.down.weight`, [F, D])])]);
  }
  const final = rmsNorm(x, weight('norm.weight', [D]));
  g.node('MatMul', [final, weight('output.weight', [D, V])], ['logits']);
  const model = decodeModel(g.build());
  model.metadataProps = Object.entries(metadata).map(([key, value]) => ({ key, value }));
  return encodeModel(model);
}
