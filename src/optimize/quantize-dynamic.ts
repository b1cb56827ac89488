// Dynamic int8 quantization: weights stored as int8 with one scale per output channel, activations
// quantized at run time, so no calibration set is needed.
//
//   const { model, quantized, skipped } = quantizeDynamic(readFileSync('models/mnist-mlp.onnx'));
//   // quantized: ['MatMul_0', 'MatMul_3']; model is ~3.9x smaller and runs in onnxruntime as is
//
// Op form. A MatMul becomes DynamicQuantizeLinear + MatMulInteger + Cast + Mul (+ Add for a bias),
// all standard ONNX, instead of com.microsoft DynamicQuantizeMatMul / MatMulIntegerToFloat.
// Measured on this machine (onnxruntime-node 1.30, AMD EPYC with AVX-VNNI, MLP 784-128-10, 1 intra-op
// thread, best of 5): fp32 10.3 µs at batch 1 and 74.8 µs at batch 64; the standard form 8.2 / 29.3 µs,
// DynamicQuantizeMatMul 11.1 / 28.9 µs, MatMulIntegerToFloat 8.7 / 29.2 µs: the same, because
// onnxruntime's level-2 ("extended") optimizer rewrites all three into one DynamicQuantizeMatMul with
// the bias Add folded in (checked with optimizedModelFilePath). The standard form therefore costs
// nothing in onnxruntime and still loads in any ONNX runtime without Microsoft's contrib ops.
//
// Weights are symmetric int8 in [-127, 127] (zero point 0, so MatMulInteger needs no b_zero_point)
// and activations asymmetric uint8 (what DynamicQuantizeLinear produces): onnxruntime's fast U8S8
// kernels. On CPUs without VNNI, that kernel can saturate int16 sums (onnxruntime's own tool offers
// 7-bit weights, "reduce_range", for it); this machine has VNNI, so it is not done here.
import { FerryError } from '../core/errors.js';
import { attr, type AttrValue } from '../graph/builder.js';
import { OnnxDataType } from '../graph/dtypes.js';
import {
  decodeModel, encodeModel, inspectOnnx, type GraphProto, type NodeProto, type OnnxModel, type TensorProto,
} from '../graph/onnx.js';

export interface SkippedNode { node: string; op: string; reason: string }
export interface QuantizeResult {
  model: Uint8Array;
  /** names of the nodes whose weights are now int8 */
  quantized: string[];
  /** weighted nodes left in float32, with why */
  skipped: SkippedNode[];
}
export interface DynamicQuantizeOptions {
  /** one scale per output channel (default) instead of one per weight tensor: more accurate, same speed */
  perChannel?: boolean;
}

export function quantizeDynamic(bytes: Uint8Array, opts: DynamicQuantizeOptions = {}): QuantizeResult {
  const perChannel = opts.perChannel ?? true;
  const model = readQuantizable(bytes, 'dynamic');
  const edit = new GraphEdit(model.graph!);
  const quantized: string[] = [];
  const skipped: SkippedNode[] = [];
  for (const node of [...edit.graph.node]) {
    const op = node.opType ?? '';
    const name = node.name ?? op;
    const plan = op === 'Gather' ? planGather(edit, node) : op === 'MatMul' || op === 'Gemm' ? planLinear(edit, node) : null;
    if (plan === null) {
      if (op === 'Conv' || op === 'ConvTranspose') {
        skipped.push({ node: name, op, reason: `dynamic quantization covers MatMul, Gemm and Gather; ${op} needs static quantization with a calibration set` });
      }
      continue;
    }
    if (typeof plan === 'string') {
      skipped.push({ node: name, op, reason: plan });
      continue;
    }
    edit.replace(node, plan.kind === 'gather' ? emitGather(edit, node, plan, perChannel) : emitDynamicMatMul(edit, node, plan, perChannel));
    quantized.push(name);
  }
  if (quantized.length === 0) throw nothingToQuantize(model.graph!, skipped, 'dynamic int8 quantization rewrites MatMul and Gemm nodes (and Gather embedding tables) whose weight is a float32 initializer');
  edit.pruneInitializers();
  return { model: encodeModel(model), quantized, skipped };
}

// ---- shared with quantize-static.ts and fp16.ts --------------------------------------------------

/** Checks the bytes are an ONNX model int8 ops can be added to; throws FerryError INVALID_ARGUMENT if not. */
export function readQuantizable(bytes: Uint8Array, kind: string): OnnxModel {
  inspectOnnx(bytes); // OnnxFormatError (a FerryError) saying what the file is instead
  const model = decodeModel(bytes);
  const opset = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0;
  // DynamicQuantizeLinear and per-axis QuantizeLinear/DequantizeLinear arrived in opset 11 and 13.
  const needed = kind === 'static' ? 13 : 11;
  if (opset < needed) {
    throw new FerryError('INVALID_ARGUMENT', `the model imports ai.onnx opset ${opset}; ${kind} int8 quantization needs opset ${needed} or later: re-export it with a newer opset (torch.onnx.export(..., opset_version=17)) or convert it with onnx.version_converter`);
  }
  return model;
}

export function nothingToQuantize(graph: GraphProto, skipped: SkippedNode[], what: string): FerryError {
  const ops = [...new Set(graph.node.map((n) => n.opType ?? '?'))].join(', ');
  const why = skipped.length > 0 ? `; left as they are: ${skipped.map((s) => `${s.node} (${s.op}): ${s.reason}`).join('; ')}` : '';
  return new FerryError('INVALID_ARGUMENT', `nothing to quantize: ${what}, and this model has only ${ops}${why}`);
}

/** Weights quantized symmetrically to int8 in [-127, 127], one scale per channel. Element i of `data`
 *  belongs to channel floor(i / inner) % channels, i.e. data is [outer, channels, inner] row-major:
 *  a MatMul weight [K, N] per column is { outer: K, channels: N, inner: 1 }; a Conv weight
 *  [M, C, kh, kw] per output channel is { outer: 1, channels: M, inner: C·kh·kw }. */
export function quantizeSymmetric(data: Float32Array, layout: { outer: number; channels: number; inner: number }): { q: Int8Array; scale: Float32Array } {
  const { outer, channels, inner } = layout;
  if (outer * channels * inner !== data.length) throw new RangeError(`layout ${outer}×${channels}×${inner} does not match ${data.length} weights`);
  const absMax = new Float32Array(channels);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % channels;
    const v = Math.abs(data[i]!);
    if (v > absMax[c]!) absMax[c] = v;
  }
  // An all-zero channel gets scale 1: any scale represents zeros exactly, and 0 would divide by zero.
  const scale = absMax.map((m) => (m > 0 ? m / 127 : 1));
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const c = Math.floor(i / inner) % channels;
    q[i] = Math.max(-127, Math.min(127, Math.round(data[i]! / scale[c]!)));
  }
  return { q, scale };
}

export interface LinearPlan {
  kind: 'linear';
  /** the activation (left operand), already transposed when Gemm had transA */
  a: string;
  /** the weight as [K, N] row-major, alpha folded in */
  weight: Float32Array;
  k: number;
  n: number;
  /** key under which an identical weight is quantized once */
  weightKey: string;
  /** tensor added after the product (Gemm's C, scaled by beta), if any */
  bias?: string;
}

/** Reads a MatMul or Gemm whose right operand is a float32 initializer as y = a·W (+ bias); a string
 *  says why it cannot be. Adds the Transpose / scaled-bias nodes a Gemm needs. */
export function planLinear(edit: GraphEdit, node: NodeProto): LinearPlan | string {
  const [a, b, c] = node.input;
  if (!a || !b) return 'missing an input';
  if (edit.floats(a) && !edit.floats(b)) return 'the constant is the left operand (x·W expected with W constant); transpose the model\'s MatMul';
  const w = edit.floats(b);
  if (!w) return edit.isOverridable(b) ? `weight '${b}' is a graph input a client can override, so it cannot be baked in as int8` : 'both operands are computed at run time (activation × activation, e.g. attention scores); int8 needs a constant weight';
  if (w.dims.length !== 2) return `weight '${b}' has ${w.dims.length} dimensions; int8 MatMul takes a 2-D weight`;
  const gemm = node.opType === 'Gemm';
  const alpha = gemm ? attrFloat(node, 'alpha', 1) : 1;
  const beta = gemm ? attrFloat(node, 'beta', 1) : 1;
  const transA = gemm && attrInt(node, 'transA', 0) === 1;
  const transB = gemm && attrInt(node, 'transB', 0) === 1;
  const [rows, cols] = w.dims as [number, number];
  const [k, n] = transB ? [cols, rows] : [rows, cols];
  let weight = transB ? transpose(w.data, rows, cols) : w.data;
  if (alpha !== 1) weight = weight.map((v) => v * alpha);
  let input = a;
  if (transA) {
    input = edit.fresh(`${a}_T`);
    edit.insertBefore(node, edit.node('Transpose', [a], [input], { perm: attr.ints([1, 0]) }, `${node.name}_transA`));
  }
  let bias: string | undefined;
  if (gemm && c) {
    const cf = edit.floats(c);
    if (beta === 1) bias = c;
    else if (cf) bias = edit.addInitializer(`${c}_beta`, OnnxDataType.FLOAT, cf.dims, cf.data.map((v) => v * beta));
    else {
      bias = edit.fresh(`${c}_beta`);
      const betaName = edit.addInitializer(`${node.name}_beta`, OnnxDataType.FLOAT, [], new Float32Array([beta]));
      edit.insertBefore(node, edit.node('Mul', [c, betaName], [bias], {}, `${node.name}_beta`));
    }
  }
  return { kind: 'linear', a: input, weight, k, n, weightKey: `${b}|${transB}|${alpha}`, bias };
}

interface GatherPlan { kind: 'gather'; table: string; data: Float32Array; dims: number[]; indices: string }

function planGather(edit: GraphEdit, node: NodeProto): GatherPlan | string | null {
  const [table, indices] = node.input;
  const t = table ? edit.floats(table) : undefined;
  if (!t || !indices) return null; // a Gather over run-time data holds no weights: nothing to report
  if (attrInt(node, 'axis', 0) !== 0) return 'Gather along an axis other than 0 is not an embedding lookup';
  if (t.dims.length < 2) return `table '${table}' is 1-D (a lookup of single numbers, not embedding rows); left in float32`;
  return { kind: 'gather', table: table!, data: t.data, dims: t.dims, indices };
}

/** DynamicQuantizeLinear + MatMulInteger + Cast + Mul (+ Add): see the top of this file for why. */
function emitDynamicMatMul(edit: GraphEdit, node: NodeProto, p: LinearPlan, perChannel: boolean): NodeProto[] {
  const base = node.name ?? node.output[0]!;
  const w = edit.quantizedWeight(p.weightKey, () => {
    const { q, scale } = quantizeSymmetric(p.weight, perChannel ? { outer: p.k, channels: p.n, inner: 1 } : { outer: 1, channels: 1, inner: p.weight.length });
    return { q, scale, dims: [p.k, p.n], scaleDims: perChannel ? [p.n] : [] };
  });
  const [aq, as, az, acc, accf, s, prod] = ['_quant', '_scale', '_zero_point', '_int32', '_float', '_combined_scale', '_product'].map((x) => edit.fresh(`${base}${x}`)) as [string, string, string, string, string, string, string];
  const out = node.output[0]!;
  const nodes = [
    edit.node('DynamicQuantizeLinear', [p.a], [aq, as, az], {}, `${base}_quantize_input`),
    edit.node('MatMulInteger', [aq, w.q, az], [acc], {}, `${base}_int8`),
    edit.node('Cast', [acc], [accf], { to: attr.int(OnnxDataType.FLOAT) }, `${base}_cast`),
    edit.node('Mul', [as, w.scale], [s], {}, `${base}_scales`),
    edit.node('Mul', [accf, s], [p.bias ? prod : out], {}, `${base}_rescale`),
  ];
  if (p.bias) nodes.push(edit.node('Add', [prod, p.bias], [out], {}, `${base}_bias`));
  return nodes;
}

/** An int8 embedding table: rows are gathered as int8, then scaled back (one scale per row, gathered too). */
export function emitGather(edit: GraphEdit, node: NodeProto, p: GatherPlan, perChannel: boolean): NodeProto[] {
  const base = node.name ?? node.output[0]!;
  const rows = p.dims[0]!;
  const rowSize = p.data.length / rows;
  const w = edit.quantizedWeight(`${p.table}|gather`, () => {
    const { q, scale } = quantizeSymmetric(p.data, perChannel ? { outer: 1, channels: rows, inner: rowSize } : { outer: 1, channels: 1, inner: p.data.length });
    // scales as [rows, 1, ...] so the gathered scales broadcast over each row's values
    return { q, scale, dims: p.dims, scaleDims: perChannel ? [rows, ...p.dims.slice(1).map(() => 1)] : [] };
  });
  const out = node.output[0]!;
  const [gq, gf, gs] = ['_int8', '_float', '_scale'].map((x) => edit.fresh(`${base}${x}`)) as [string, string, string];
  if (!perChannel) {
    return [
      edit.node('Gather', [w.q, p.indices], [gq], { axis: attr.int(0) }, `${base}_int8`),
      edit.node('DequantizeLinear', [gq, w.scale], [out], {}, `${base}_dequantize`),
    ];
  }
  return [
    edit.node('Gather', [w.q, p.indices], [gq], { axis: attr.int(0) }, `${base}_int8`),
    edit.node('Cast', [gq], [gf], { to: attr.int(OnnxDataType.FLOAT) }, `${base}_cast`),
    edit.node('Gather', [w.scale, p.indices], [gs], { axis: attr.int(0) }, `${base}_row_scales`),
    edit.node('Mul', [gf, gs], [out], {}, `${base}_rescale`),
  ];
}

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = node.attribute.find((x) => x.name === name);
  return a?.i === undefined ? fallback : Number(a.i);
}
function attrFloat(node: NodeProto, name: string, fallback: number): number {
  return node.attribute.find((x) => x.name === name)?.f ?? fallback;
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** The float32 contents of a FLOAT tensor, copied (raw_data may be unaligned and shares the file's memory). */
export function floatsOf(t: TensorProto): Float32Array {
  if (t.rawData && t.rawData.length > 0) return new Float32Array(t.rawData.slice().buffer);
  return Float32Array.from(t.floatData);
}

export function tensorProto(name: string, dataType: number, dims: readonly number[], data: ArrayBufferView): TensorProto {
  return {
    name, dataType, dims: [...dims], floatData: [], int32Data: [], stringData: [], int64Data: [], externalData: [], doubleData: [], uint64Data: [],
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
  };
}

interface QuantizedWeight { q: string; scale: string }

/** Edits one graph in place: fresh names, initializer lookups, node replacement, unused-initializer pruning. */
export class GraphEdit {
  private readonly inits = new Map<string, TensorProto>();
  private readonly inputs: Set<string>;
  private readonly taken = new Set<string>();
  private readonly weights = new Map<string, QuantizedWeight>();

  constructor(readonly graph: GraphProto) {
    for (const t of graph.initializer) if (t.name) this.inits.set(t.name, t);
    this.inputs = new Set(graph.input.map((v) => v.name ?? ''));
    for (const name of namesIn(graph)) this.taken.add(name);
  }

  isGraphInput(name: string): boolean {
    return this.inputs.has(name);
  }

  /** An initializer that is also a graph input: a default a client may replace at run time. */
  isOverridable(name: string): boolean {
    return this.inits.has(name) && this.inputs.has(name);
  }

  /** A FLOAT initializer's contents, unless a client can override it as a graph input. */
  floats(name: string): { dims: number[]; data: Float32Array } | undefined {
    const t = this.inits.get(name);
    if (!t || t.dataType !== OnnxDataType.FLOAT || this.inputs.has(name)) return undefined;
    return { dims: t.dims.map(Number), data: floatsOf(t) };
  }

  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.taken.has(name); i++) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }

  addInitializer(base: string, dataType: number, dims: readonly number[], data: ArrayBufferView): string {
    const name = this.fresh(base);
    const t = tensorProto(name, dataType, dims, data);
    this.graph.initializer.push(t);
    this.inits.set(name, t);
    return name;
  }

  /** Quantizes a weight once per key, so a weight shared by several nodes is stored once. */
  quantizedWeight(key: string, make: () => { q: Int8Array; scale: Float32Array; dims: number[]; scaleDims: number[] }): QuantizedWeight {
    let w = this.weights.get(key);
    if (!w) {
      const m = make();
      const base = key.split('|')[0]!;
      w = {
        q: this.addInitializer(`${base}_int8`, OnnxDataType.INT8, m.dims, m.q),
        scale: this.addInitializer(`${base}_scale`, OnnxDataType.FLOAT, m.scaleDims, m.scale),
      };
      this.weights.set(key, w);
    }
    return w;
  }

  node(opType: string, input: string[], output: string[], attrs: Record<string, AttrValue> = {}, name?: string, domain?: string): NodeProto {
    return {
      opType, input, output, name: this.fresh(name ?? `${opType}_${output[0]}`),
      ...(domain ? { domain } : {}),
      attribute: Object.entries(attrs).map(([n, v]) => ({ ...v, name: n })),
    };
  }

  insertBefore(anchor: NodeProto, ...nodes: NodeProto[]): void {
    this.graph.node.splice(this.graph.node.indexOf(anchor), 0, ...nodes);
  }

  replace(old: NodeProto, nodes: NodeProto[]): void {
    this.graph.node.splice(this.graph.node.indexOf(old), 1, ...nodes);
  }

  /** Drops initializers nothing reads any more (the float32 weights that now live as int8). */
  pruneInitializers(): void {
    const used = new Set<string>(this.graph.output.map((o) => o.name ?? ''));
    const visit = (g: GraphProto): void => {
      for (const n of g.node) {
        for (const i of n.input) used.add(i);
        for (const a of n.attribute) for (const sub of [...(a.g ? [a.g] : []), ...a.graphs]) visit(sub);
      }
    };
    visit(this.graph);
    this.graph.initializer = this.graph.initializer.filter((t) => used.has(t.name ?? '') || this.inputs.has(t.name ?? ''));
  }
}

/** Every value and node name in the graph and its subgraphs, so fresh names never shadow one. */
function namesIn(g: GraphProto): string[] {
  const out: string[] = [];
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) out.push(v.name ?? '');
  for (const t of g.initializer) out.push(t.name ?? '');
  for (const n of g.node) {
    out.push(n.name ?? '', ...n.input, ...n.output);
    for (const a of n.attribute) for (const sub of [...(a.g ? [a.g] : []), ...a.graphs]) out.push(...namesIn(sub));
  }
  return out;
}
