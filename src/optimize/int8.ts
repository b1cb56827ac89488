// What both int8 transforms (quantize-dynamic.ts, quantize-static.ts) share: the model check, the
// symmetric int8 weight math, reading MatMul/Gemm as y = x·W (+ bias), and int8 embedding tables.
//
//   const { q, scale } = quantizeSymmetric(w, { outer: k, channels: n, inner: 1 }); // a [K, N] weight per column
import { FerryError } from '../core/errors.js';
import { attr } from '../graph/builder.js';
import { OnnxDataType, onnxTypeName } from '../graph/dtypes.js';
import { decodeModel, inspectOnnx, type GraphProto, type NodeProto, type OnnxModel } from '../graph/onnx.js';
import { attrFloat, attrInt, type GraphEdit } from './graph-edit.js';

export interface SkippedNode { node: string; op: string; reason: string }
export interface QuantizeResult {
  model: Uint8Array;
  /** names of the nodes whose weights are now int8 */
  quantized: string[];
  /** weighted nodes left in float32, with why */
  skipped: SkippedNode[];
  /** quantized nodes with a part left in float32 (e.g. a bias too large for int32), with why */
  notes: SkippedNode[];
}

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
  const stored = edit.initializer(b);
  if (stored && stored.dataType !== OnnxDataType.FLOAT && !edit.isOverridable(b)) {
    return `weight '${b}' is ${onnxTypeName(stored.dataType ?? 0)}; int8 quantization reads FLOAT (float32) weights`;
  }
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

export interface GatherPlan { kind: 'gather'; table: string; data: Float32Array; dims: number[]; indices: string }

/** Reads a Gather from a float32 table along axis 0 as an embedding lookup; a string says why it
 *  is not one; null: it reads run-time data, so there is nothing to report. */
export function planGather(edit: GraphEdit, node: NodeProto): GatherPlan | string | null {
  const [table, indices] = node.input;
  const t = table ? edit.floats(table) : undefined;
  if (!t || !indices) return null; // a Gather over run-time data holds no weights: nothing to report
  if (attrInt(node, 'axis', 0) !== 0) return 'Gather along an axis other than 0 is not an embedding lookup';
  if (t.dims.length < 2) return `table '${table}' is 1-D (a lookup of single numbers, not embedding rows); left in float32`;
  return { kind: 'gather', table: table!, data: t.data, dims: t.dims, indices };
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

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

