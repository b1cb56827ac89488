// Small edits of a finished ONNX model: renaming a graph input and keeping only some outputs —
// what turning Ferry's own inference graph into a Hugging Face layout model needs
// (input_ids in, logits out).
import { decodeModel, encodeModel } from '../graph/onnx.js';

export function renameAndSelect(onnx: Uint8Array, opts: { inputs?: Readonly<Record<string, string>>; keepOutputs?: readonly string[] }): Uint8Array {
  const model = decodeModel(onnx);
  const g = model.graph!;
  const rename = opts.inputs ?? {};
  for (const v of g.input) if (v.name && rename[v.name]) v.name = rename[v.name];
  for (const n of g.node) n.input = n.input.map((i) => rename[i] ?? i);
  if (opts.keepOutputs) {
    const keep = new Set(opts.keepOutputs);
    const missing = opts.keepOutputs.filter((o) => !g.output.some((v) => v.name === o));
    if (missing.length > 0) throw new Error(`the model has no output ${missing.join(', ')}`);
    g.output = g.output.filter((v) => keep.has(v.name ?? ''));
    // drop the nodes only the removed outputs needed
    const needed = new Set(g.output.map((v) => v.name ?? ''));
    const live = [];
    for (let i = g.node.length - 1; i >= 0; i--) {
      const n = g.node[i]!;
      if (!n.output.some((o) => needed.has(o))) continue;
      live.push(n);
      for (const x of n.input) needed.add(x);
    }
    g.node = live.reverse();
    g.initializer = g.initializer.filter((t) => needed.has(t.name ?? ''));
  }
  return encodeModel(model);
}
