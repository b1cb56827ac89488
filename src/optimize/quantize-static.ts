// Static int8 quantization in QDQ form: calibration batches run through the float model to find each
// activation's range, then QuantizeLinear/DequantizeLinear pairs are written around every Conv and
// MatMul/Gemm, with the weights stored as int8. onnxruntime's QDQ optimizer fuses each
// DQ → op → Q group into QLinearConv / QLinearMatMul, so activations stay uint8 between the fused
// kernels; a runtime without that optimizer still runs the graph (in float, with the same numbers).
//
//   const batches = [{ input: { dtype: 'FP32', shape: [64, 1, 28, 28], data: digits } }];
//   const { model, quantized } = await quantizeStatic(readFileSync('models/mnist-cnn.onnx'), batches);
//
// Activation ranges are the min/max seen over the calibration set (widened to include 0, so zero is
// exact, as padding and ReLU need). Min/max is what a few hundred in-distribution examples estimate
// well; a range stretched by one outlier costs resolution, so send typical inputs, not edge cases.
import { FerryError } from '../core/errors.js';
import type { NamedTensors } from '../core/tensor.js';
import { attr, type AttrValue } from '../graph/builder.js';
import { OnnxDataType, onnxTypeName } from '../graph/dtypes.js';
import { encodeModel, type NodeProto, type OnnxModel } from '../graph/onnx.js';
import { probeOutputs } from '../runtimes/onnx/probe-outputs.js';
import { GraphEdit } from './graph-edit.js';
import {
  emitGather, nothingToQuantize, planGather, planLinear, quantizeSymmetric, readQuantizable,
  type GatherPlan, type QuantizeResult, type SkippedNode,
} from './int8.js';

export interface StaticQuantizeOptions {
  /** per-output-channel weight scales (default): Conv per output channel, MatMul per column */
  perChannel?: boolean;
  /** onnxruntime threads for the calibration runs; default 1 */
  intraOpThreads?: number;
}

/** Calibration batches: each maps the model's input names to tensors, as an inference request does. */
export type CalibrationSet = AsyncIterable<NamedTensors> | Iterable<NamedTensors>;

interface Planned {
  node: NodeProto;
  /** the float node (Conv, or the MatMul a Gemm became) that will get QDQ around it */
  op: NodeProto;
  input: string;
  output: string;
  weight: { data: Float32Array; dims: number[]; axis: number };
  /** a Conv's float32 bias initializer */
  bias?: { name: string; data: Float32Array };
}

const INT32_MAX = 2 ** 31 - 1;

export async function quantizeStatic(bytes: Uint8Array, calibration: CalibrationSet, opts: StaticQuantizeOptions = {}): Promise<QuantizeResult> {
  const perChannel = opts.perChannel ?? true;
  const model = readQuantizable(bytes, 'static');
  const edit = new GraphEdit(model.graph!);
  const planned: Planned[] = [];
  const gathers: { node: NodeProto; plan: GatherPlan }[] = [];
  const skipped: SkippedNode[] = [];
  const notes: SkippedNode[] = [];
  for (const node of [...edit.graph.node]) {
    const op = node.opType ?? '';
    const name = node.name ?? op;
    let plan: Planned | string | null = null;
    if (op === 'Conv') plan = planConv(edit, node);
    else if (op === 'MatMul' || op === 'Gemm') plan = floatMatMul(edit, node);
    else if (op === 'Gather') {
      const g = planGather(edit, node);
      if (typeof g === 'string') plan = g;
      else if (g) gathers.push({ node, plan: g });
    }
    else if (op === 'ConvTranspose') plan = 'ConvTranspose has no int8 kernel in onnxruntime; left in float32';
    if (typeof plan === 'string') skipped.push({ node: name, op, reason: plan });
    else if (plan) planned.push(plan);
  }
  if (planned.length === 0 && gathers.length === 0) {
    throw nothingToQuantize(model.graph!, skipped, 'static int8 quantization rewrites Conv, MatMul and Gemm nodes whose weight is a float32 initializer');
  }

  const ranges = await calibrate(model, edit, planned, calibration, opts.intraOpThreads ?? 1);
  const qdq = new QdqWriter(edit, ranges);
  for (const p of planned) {
    const base = p.node.name ?? p.output;
    const { name: x, nodes: inputQdq } = qdq.dequantized(p.input);
    const [outer, channels, inner] = layoutOf(p.weight.dims, p.weight.axis);
    const { q, scale } = quantizeSymmetric(p.weight.data, perChannel ? { outer, channels, inner } : { outer: 1, channels: 1, inner: p.weight.data.length });
    const axisAttr: Record<string, AttrValue> = perChannel ? { axis: attr.int(p.weight.axis) } : {};
    const scaleDims = perChannel ? [channels] : [];
    const wq = edit.addInitializer(`${base}_weight_int8`, OnnxDataType.INT8, p.weight.dims, q);
    const ws = edit.addInitializer(`${base}_weight_scale`, OnnxDataType.FLOAT, scaleDims, scale);
    const wz = edit.addInitializer(`${base}_weight_zero_point`, OnnxDataType.INT8, scaleDims, new Int8Array(scale.length));
    const w = edit.fresh(`${base}_weight`);
    const nodes = [...inputQdq, edit.node('DequantizeLinear', [wq, ws, wz], [w], axisAttr, `${base}_dequantize_weight`)];
    const inputs = [x, w];
    const pre = edit.fresh(`${p.output}_float`);
    let floatBias: NodeProto | undefined;
    if (p.bias) {
      // Bias as int32 with scale x_scale·w_scale, the form QLinearConv takes; it keeps full precision
      // while it fits. Tiny input and weight scales (a layer that only sees values near 0) can put
      // bias / (x_scale·w_scale) past int32: Int32Array would wrap it into a wrong bias, and clamping
      // would change the outputs, so such a bias stays float32, exact.
      const xs = qdq.params(p.input).scale;
      const bs = p.bias.data.map((_, c) => xs * scale[perChannel ? c : 0]!);
      const steps = Array.from(p.bias.data, (v, c) => Math.round(v / bs[c]!));
      const worst = steps.reduce((m, v) => (Math.abs(v) <= m ? m : Math.abs(v)), 0); // NaN (0 / 0) counts as too large
      if (worst <= INT32_MAX) {
        const bq = Int32Array.from(steps);
        const b = edit.fresh(`${base}_bias`);
        nodes.push(edit.node('DequantizeLinear', [
          edit.addInitializer(`${base}_bias_int32`, OnnxDataType.INT32, [bq.length], bq),
          edit.addInitializer(`${base}_bias_scale`, OnnxDataType.FLOAT, [bs.length], bs),
        ], [b], { axis: attr.int(0) }, `${base}_dequantize_bias`));
        inputs.push(b);
      } else {
        // Added after the Conv, not given to it: onnxruntime's QDQ fusion (from the "basic" level up)
        // turns DQ → Conv(float bias) → Q into a QLinearConv that drops the bias (onnxruntime-node
        // 1.30: every output came out 0 instead of the bias). As [M, 1, 1] it broadcasts over N, H, W.
        const shaped = edit.addInitializer(`${base}_bias_float`, OnnxDataType.FLOAT, [p.bias.data.length, ...p.weight.dims.slice(2).map(() => 1)], p.bias.data);
        const conv = edit.fresh(`${p.output}_without_bias`);
        floatBias = edit.node('Add', [conv, shaped], [pre], {}, `${base}_bias`);
        notes.push({
          node: base, op: p.node.opType ?? 'Conv',
          reason: `bias '${p.bias.name}' kept in float32 and added after the Conv: in steps of input scale × weight scale it needs ${Number.isFinite(worst) ? worst.toExponential(2) : 'an unbounded number of'} steps, past int32's ${INT32_MAX}; the weights are int8, but onnxruntime runs this Conv in float`,
        });
      }
    }
    p.op.input = inputs;
    p.op.output = [floatBias ? floatBias.input[0]! : pre];
    edit.insertBefore(p.op, ...nodes);
    edit.graph.node.splice(edit.graph.node.indexOf(p.op) + 1, 0, ...(floatBias ? [floatBias] : []), ...qdq.pair(pre, p.output));
    if (p.node.name) p.op.name = p.node.name; // the report names the user's node
  }
  for (const { node, plan } of gathers) edit.replace(node, emitGather(edit, node, plan, perChannel));
  edit.pruneInitializers();
  return { model: encodeModel(model), quantized: [...planned.map((p) => p.node.name ?? p.output), ...gathers.map((g) => g.node.name ?? '')], skipped, notes };
}

// mnist-cnn's Conv 1→32 3×3 sums 9 products per output: as QLinearConv it ran 5x slower than float at
// batch 64 (1.64 ms against 0.32 ms, one thread; onnxruntime-node 1.30 on AVX-VNNI), because the int8
// kernel pads such short sums and adds NHWC transposes while the float kernel is already fast. The same
// measurement on 28×28 inputs with 4, 16 and 32 input channels (36 to 288 products) gave int8 2.0-2.7x
// faster than float, so the line is drawn between them.
const MIN_CONV_PRODUCTS = 32;

function planConv(edit: GraphEdit, node: NodeProto): Planned | string {
  const [x, wName, bName] = node.input;
  const stored = wName ? edit.initializer(wName) : undefined;
  if (stored && stored.dataType !== OnnxDataType.FLOAT && !edit.isOverridable(wName!)) {
    return `weight '${wName}' is ${onnxTypeName(stored.dataType ?? 0)}; int8 quantization reads FLOAT (float32) weights`;
  }
  const w = wName ? edit.floats(wName) : undefined;
  if (!x || !w) return 'the Conv weight is computed at run time (or is a graph input); int8 needs a constant weight';
  const products = w.data.length / w.dims[0]!;
  if (products < MIN_CONV_PRODUCTS) {
    return `each output sums only ${products} products (input channels × kernel); onnxruntime's int8 Conv is slower than float for so short a sum, and its ${w.data.length} weights are not worth it`;
  }
  const bias = bName ? edit.floats(bName) : undefined;
  if (bName && !bias) return `bias '${bName}' is not a float32 constant`;
  return { node, op: node, input: x, output: node.output[0]!, weight: { data: w.data, dims: w.dims, axis: 0 }, ...(bName && bias ? { bias: { name: bName, data: bias.data } } : {}) };
}

/** A MatMul, or a Gemm rewritten as MatMul (+ Add), with its weight as a [K, N] float initializer. */
function floatMatMul(edit: GraphEdit, node: NodeProto): Planned | string {
  const plan = planLinear(edit, node);
  if (typeof plan === 'string') return plan;
  const base = node.name ?? node.output[0]!;
  const w = edit.addInitializer(`${base}_weight`, OnnxDataType.FLOAT, [plan.k, plan.n], plan.weight);
  const product = plan.bias ? edit.fresh(`${base}_product`) : node.output[0]!;
  const matmul = edit.node('MatMul', [plan.a, w], [product], {}, `${base}_matmul`);
  const nodes = [matmul];
  if (plan.bias) nodes.push(edit.node('Add', [product, plan.bias], [node.output[0]!], {}, `${base}_bias`));
  edit.replace(node, nodes);
  return { node, op: matmul, input: plan.a, output: product, weight: { data: plan.weight, dims: [plan.k, plan.n], axis: 1 } };
}

/** [outer, channels, inner] for a per-`axis` quantization of a tensor with `dims`. */
function layoutOf(dims: number[], axis: number): [number, number, number] {
  const prod = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
  return [prod(dims.slice(0, axis)), dims[axis]!, prod(dims.slice(axis + 1))];
}

type Range = { min: number; max: number };

/** Runs the calibration set with every watched activation exposed as an extra graph output. */
async function calibrate(model: OnnxModel, edit: GraphEdit, planned: Planned[], calibration: CalibrationSet, intraOpThreads: number): Promise<Map<string, Range>> {
  const watched = [...new Set(planned.flatMap((p) => [p.input, p.output]))];
  const ranges = new Map<string, Range>(watched.map((n) => [n, { min: 0, max: 0 }]));
  const observe = (name: string, data: Float32Array): void => {
    const r = ranges.get(name);
    if (!r) return;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < r.min) r.min = v;
      else if (v > r.max) r.max = v;
    }
  };
  // Graph inputs cannot be fetched as outputs: their ranges come from the feeds themselves.
  const inputs = new Set(edit.graph.input.map((i) => i.name ?? ''));
  async function* feeds(): AsyncGenerator<NamedTensors> {
    for await (const batch of calibration) {
      for (const [name, t] of Object.entries(batch)) if (inputs.has(name) && t.data instanceof Float32Array) observe(name, t.data);
      yield batch;
    }
  }
  const fetched = watched.filter((n) => !inputs.has(n));
  const declared = new Set(edit.graph.output.map((o) => o.name));
  const extra = fetched.filter((n) => !declared.has(n));
  const outputs = edit.graph.output;
  edit.graph.output = [...outputs, ...extra.map((name) => ({ name, type: { tensorType: { elemType: OnnxDataType.FLOAT } } }))];
  const probe = encodeModel(model);
  edit.graph.output = outputs;
  const count = await probeOutputs(probe, fetched.length > 0 ? fetched : [outputs[0]!.name!], feeds(), (values) => {
    for (const [name, data] of Object.entries(values)) observe(name, data);
  }, { intraOpThreads });
  if (count === 0) {
    throw new FerryError('INVALID_ARGUMENT', 'a model without a calibration set cannot be statically quantized: send a few batches of typical inputs (a hundred or so examples, each batch mapping the model\'s input names to tensors), or use dynamic quantization, which needs none');
  }
  return ranges;
}

/** Writes QuantizeLinear → DequantizeLinear pairs (uint8, asymmetric) with the calibrated ranges. */
class QdqWriter {
  private readonly done = new Set<string>();
  private readonly cache = new Map<string, { scale: number; scaleName: string; zeroPointName: string }>();

  constructor(private readonly edit: GraphEdit, private readonly ranges: Map<string, Range>) {}

  /** Scale and zero point for a watched tensor, as initializers shared by every pair that uses them. */
  params(tensor: string): { scale: number; scaleName: string; zeroPointName: string } {
    let p = this.cache.get(tensor);
    if (!p) {
      const { scale, zeroPoint } = uint8Params(this.ranges.get(tensor)!);
      p = {
        scale,
        scaleName: this.edit.addInitializer(`${tensor}_scale`, OnnxDataType.FLOAT, [], new Float32Array([scale])),
        zeroPointName: this.edit.addInitializer(`${tensor}_zero_point`, OnnxDataType.UINT8, [], new Uint8Array([zeroPoint])),
      };
      this.cache.set(tensor, p);
    }
    return p;
  }

  /** The name to read `tensor` through a Q/DQ pair, and the nodes that make it (none if it exists). */
  dequantized(tensor: string): { name: string; nodes: NodeProto[] } {
    const name = `${tensor}_dequantized`;
    if (this.done.has(tensor)) return { name: tensor, nodes: [] };
    if (this.done.has(name)) return { name, nodes: [] };
    const fresh = this.edit.fresh(name);
    return { name: fresh, nodes: this.pair(tensor, fresh, tensor) };
  }

  /** Q(from) → DQ → to, with the range calibrated for `rangeOf` (default: `to`). */
  pair(from: string, to: string, rangeOf = to): NodeProto[] {
    const p = this.params(rangeOf);
    const q = this.edit.fresh(`${rangeOf}_quantized`);
    this.done.add(to);
    return [
      this.edit.node('QuantizeLinear', [from, p.scaleName, p.zeroPointName], [q], {}, `${rangeOf}_quantize`),
      this.edit.node('DequantizeLinear', [q, p.scaleName, p.zeroPointName], [to], {}, `${rangeOf}_dequantize`),
    ];
  }
}

/** uint8 scale and zero point for a range; the range is widened to hold 0 so zero maps exactly. */
export function uint8Params(range: Range): { scale: number; zeroPoint: number } {
  const min = Math.min(0, range.min);
  const max = Math.max(0, range.max);
  const scale = max > min ? (max - min) / 255 : 1;
  return { scale: Math.fround(scale), zeroPoint: Math.max(0, Math.min(255, Math.round(-min / scale))) };
}
