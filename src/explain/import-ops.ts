// One translation per ONNX operator: the node's inputs and attributes (with ONNX's defaults filled
// in, and older opsets' attribute forms turned into the inputs newer ones take) become the tape op
// that computes the same thing. Ops with no exact tape equivalent are rebuilt from ones that have
// one (Gemm, BatchNormalization, GlobalAveragePool, Squeeze); an attribute value whose meaning the
// tape op does not share (ceil_mode, auto_pad, steps ≠ 1 ...) is refused, naming the node, rather
// than imported with a different meaning.
import * as F from '../training/autodiff/fn.js';
import type { AttrMap } from '../training/autodiff/rules.js';
import type { Tape, Value, VType } from '../training/autodiff/tape.js';
import { OnnxDataType } from '../graph/dtypes.js';

export interface NodeContext {
  readonly tape: Tape;
  readonly opset: number;
  readonly label: string;
  fail(why: string): never;
  input(i: number): Value | undefined;
  need(i: number): Value;
  has(attr: string): boolean;
  int(attr: string, dflt: number): number;
  ints(attr: string, dflt: number[]): number[];
  float(attr: string, dflt: number): number;
  string(attr: string, dflt: string): string;
  tensorAttr(attr: string): Value | undefined;
  /** a constant int64 input's values */
  constInts(i: number): number[];
  constFloats(i: number): Float32Array;
}

type Translate = (n: NodeContext) => (Value | undefined)[];

const apply = (n: NodeContext, op: string, inputs: Value[], attrs: AttrMap = {}): Value[] => n.tape.apply(op, inputs, attrs);
/** ops whose ONNX form is the tape's, with no attributes */
const plain = (op: string): Translate => (n) => apply(n, op, allInputs(n));
const allInputs = (n: NodeContext): Value[] => {
  const out: Value[] = [];
  for (let i = 0; n.input(i) !== undefined; i++) out.push(n.input(i)!);
  return out;
};
const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

const CAST_TO: Readonly<Record<number, VType>> = { [OnnxDataType.FLOAT]: 'FP32', [OnnxDataType.INT64]: 'INT64', [OnnxDataType.BOOL]: 'BOOL' };

/** axes from the input (newer opsets) or the attribute (older ones); all axes when neither */
function axesOf(n: NodeContext, inputIndex: number, rank: number): number[] {
  if (n.input(inputIndex)) return n.constInts(inputIndex);
  return n.ints('axes', Array.from({ length: rank }, (_, i) => i));
}

function reduce(op: string): Translate {
  return (n) => {
    const x = n.need(0);
    const fromInput = n.input(1) !== undefined;
    if (!fromInput && !n.has('axes') && n.int('noop_with_empty_axes', 0) === 1) return [x];
    const axes = axesOf(n, 1, x.rank);
    return apply(n, op, [x, n.tape.ints(axes)], { keepdims: n.int('keepdims', 1) });
  };
}

function softmax(op: string): Translate {
  return (n) => {
    const x = n.need(0);
    const axis = n.int('axis', n.opset >= 13 ? -1 : 1);
    // before opset 13 Softmax flattened everything from `axis` on: the same only over the last axis
    if (n.opset < 13 && norm(axis, x.rank) !== x.rank - 1) n.fail(`uses opset ${n.opset} ${op} over axis ${axis}, which is not the last axis`);
    return apply(n, op, [x], { axis });
  };
}

function pool(op: 'MaxPool' | 'AveragePool'): Translate {
  return (n) => {
    const x = n.need(0);
    if (x.rank !== 4) n.fail(`pools a rank-${x.rank} tensor; only 2-D pooling [N, C, H, W] is imported`);
    if (n.string('auto_pad', 'NOTSET') !== 'NOTSET' && n.string('auto_pad', 'NOTSET') !== 'VALID') n.fail('uses auto_pad');
    if (n.int('ceil_mode', 0) !== 0) n.fail('uses ceil_mode');
    if (n.ints('dilations', [1, 1]).some((d) => d !== 1)) n.fail('uses dilations');
    const kernel = n.ints('kernel_shape', []);
    const attrs = { kernel_shape: kernel, strides: n.ints('strides', [1, 1]), pads: n.ints('pads', [0, 0, 0, 0]) };
    if (op === 'MaxPool') return [apply(n, op, [x], attrs)[0]];
    const include = n.int('count_include_pad', 0);
    // the tape's AveragePool gradient divides by k·k everywhere: exact when nothing is padded
    if (include === 0 && attrs.pads.some((p) => p !== 0)) n.fail('averages padded windows without counting the padding (count_include_pad = 0)');
    return apply(n, op, [x], { ...attrs, count_include_pad: 1 });
  };
}

export const OP_IMPORTERS: Readonly<Record<string, Translate>> = {
  ...Object.fromEntries(
    ['Add', 'Sub', 'Mul', 'Div', 'Neg', 'Exp', 'Log', 'Sqrt', 'Erf', 'Relu', 'Tanh', 'Sigmoid', 'Softplus', 'Identity', 'MatMul',
      'Equal', 'Greater', 'Not', 'Where', 'Size', 'Expand'].map((op) => [op, plain(op)]),
  ),
  Constant: (n) => {
    const t = n.tensorAttr('value');
    if (t) return [t];
    if (n.has('value_float')) return [n.tape.constant([n.float('value_float', 0)], [], 'FP32')];
    if (n.has('value_int')) return [n.tape.constant([n.int('value_int', 0)], [], 'INT64')];
    if (n.has('value_ints')) {
      const v = n.ints('value_ints', []);
      return [n.tape.constant(v, [v.length], 'INT64')];
    }
    return n.fail('holds a kind of constant the importer does not read (sparse, string or float list)');
  },
  Dropout: (n) => [n.need(0)], // inference: the identity; its mask output is refused if anything reads it
  Gelu: (n) => {
    if (n.string('approximate', 'none') !== 'none') n.fail('uses the tanh approximation; the gradient rule is for exact GELU');
    return [F.gelu(n.need(0))];
  },
  Pow: (n) => {
    const e = n.constFloats(1);
    if (e.length !== 1) n.fail('raises to a non-scalar exponent');
    const x = n.need(0);
    if (e[0] === 2) return [F.mul(x, x)];
    if (e[0] === 1) return [x];
    if (e[0] === 0.5) return [F.sqrt(x)];
    return n.fail(`raises to the power ${e[0]}; only 0.5, 1 and 2 are imported`);
  },
  Gemm: (n) => {
    const [a, b, c] = [n.need(0), n.need(1), n.input(2)];
    let y = F.gemm(a, b, n.int('transA', 0), n.int('transB', 0));
    const alpha = n.float('alpha', 1);
    const beta = n.float('beta', 1);
    if (alpha !== 1) y = F.mulScalar(y, alpha);
    if (c) y = F.add(y, beta === 1 ? c : F.mulScalar(c, beta));
    return [y];
  },
  Softmax: softmax('Softmax'),
  LogSoftmax: softmax('LogSoftmax'),
  ReduceSum: reduce('ReduceSum'),
  ReduceMean: reduce('ReduceMean'),
  ReduceMax: reduce('ReduceMax'),
  GlobalAveragePool: (n) => [F.reduceMean(n.need(0), [2, 3], true)],
  Reshape: (n) => {
    if (n.int('allowzero', 0) !== 0) n.fail('uses allowzero');
    return apply(n, 'Reshape', [n.need(0), n.need(1)]);
  },
  Flatten: (n) => [F.flatten(n.need(0), norm(n.int('axis', 1), n.need(0).rank))],
  Transpose: (n) => {
    const x = n.need(0);
    return [F.transpose(x, n.ints('perm', x.shape.map((_, i) => x.rank - 1 - i)))];
  },
  Unsqueeze: (n) => [F.unsqueeze(n.need(0), n.opset >= 13 ? n.constInts(1) : n.ints('axes', []))],
  Squeeze: (n) => {
    const x = n.need(0);
    const given = n.opset >= 13 ? (n.input(1) ? n.constInts(1) : undefined) : n.ints('axes', []);
    const axes = new Set((given && given.length > 0 ? given : x.shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => norm(a, x.rank)));
    const kept = x.shape.map((d, i) => [d, i] as const).filter(([, i]) => !axes.has(i));
    // a Reshape: 0 keeps a run-time size where it does not move, one −1 takes whatever is left
    let unknown = 0;
    const target = kept.map(([d, i], j) => (d >= 0 ? d : i === j ? 0 : (unknown++, -1)));
    if (unknown > 1) n.fail('squeezes a tensor with several run-time sizes that move');
    return [F.reshape(x, target)];
  },
  Concat: (n) => [F.concat(allInputs(n), n.int('axis', 0))],
  Split: (n) => {
    const x = n.need(0);
    const axis = norm(n.int('axis', 0), x.rank);
    let sizes = n.opset >= 13 ? (n.input(1) ? n.constInts(1) : undefined) : n.ints('split', []);
    if (!sizes || sizes.length === 0) {
      const parts = n.int('num_outputs', 0) || n.ints('split', []).length;
      const size = x.shape[axis]!;
      if (!parts || size < 0 || size % parts !== 0) n.fail('splits into parts whose sizes are not known when importing');
      sizes = Array.from({ length: parts }, () => size / parts);
    }
    return F.split(x, sizes, axis);
  },
  Slice: (n) => {
    const x = n.need(0);
    if (n.opset < 10) n.fail('uses the opset < 10 form of Slice');
    const starts = n.constInts(1);
    const axes = n.input(3) ? n.constInts(3) : starts.map((_, i) => i);
    if (n.input(4) && n.constInts(4).some((s) => s !== 1)) n.fail('slices with steps other than 1');
    return [F.slice(x, starts, n.constInts(2), axes.map((a) => norm(a, x.rank)))];
  },
  Pad: (n) => {
    if (n.string('mode', 'constant') !== 'constant') n.fail('pads by reflecting or repeating edges');
    if (n.opset < 11) n.fail('uses the opset < 11 form of Pad');
    if (n.input(3)) n.fail('pads only some axes');
    const value = n.input(2);
    if (value && n.constFloats(2)[0] !== 0) n.fail('pads with a value other than zero');
    return [F.pad(n.need(0), n.constInts(1))];
  },
  Cast: (n) => {
    const to = CAST_TO[n.int('to', 0)];
    if (!to) return n.fail(`casts to ONNX type ${n.int('to', 0)}; the tape has FLOAT, INT64 and BOOL`);
    return [F.cast(n.need(0), to)];
  },
  CumSum: (n) => {
    if (n.int('exclusive', 0) !== 0 || n.int('reverse', 0) !== 0) n.fail('uses exclusive or reverse');
    return [F.cumsum(n.need(0), n.constInts(1)[0]!)];
  },
  Shape: (n) => {
    const x = n.need(0);
    const start = norm(n.int('start', 0), x.rank);
    const end = n.has('end') ? norm(n.int('end', x.rank), x.rank) : x.rank;
    const s = F.shapeOf(x);
    return [start === 0 && end === x.rank ? s : F.slice(s, [start], [end], [0])];
  },
  ConstantOfShape: (n) => {
    const v = n.tensorAttr('value');
    const data = v && n.tape.constantData(v);
    if (data && !(data instanceof Float32Array && data[0] === 0)) n.fail('fills with a value other than float 0');
    return apply(n, 'ConstantOfShape', [n.need(0)]);
  },
  Gather: (n) => {
    if (n.int('axis', 0) !== 0) n.fail('gathers along an axis other than 0');
    return [F.gather(n.need(0), n.need(1))];
  },
  ArgMax: (n) => {
    const x = n.need(0);
    if (n.int('select_last_index', 0) !== 0) n.fail('uses select_last_index');
    const axis = norm(n.int('axis', 0), x.rank);
    const y = F.argmax(x, axis);
    return [n.int('keepdims', 1) ? F.unsqueeze(y, [axis]) : y];
  },
  Conv: (n) => {
    const [x, w, b] = [n.need(0), n.need(1), n.input(2)];
    if (x.rank !== 4) n.fail(`convolves a rank-${x.rank} tensor; only 2-D convolutions [N, C, H, W] are imported`);
    const pad = n.string('auto_pad', 'NOTSET');
    if (pad !== 'NOTSET' && pad !== 'VALID') n.fail('uses auto_pad SAME');
    return [F.conv(x, w, b, { strides: n.ints('strides', [1, 1]), pads: n.ints('pads', [0, 0, 0, 0]), dilations: n.ints('dilations', [1, 1]), group: n.int('group', 1) })];
  },
  ConvTranspose: (n) => {
    const [x, w] = [n.need(0), n.need(1)];
    if (n.input(2) || n.has('output_shape') || n.string('auto_pad', 'NOTSET') !== 'NOTSET') n.fail('uses a bias, output_shape or auto_pad');
    return [F.convTranspose(x, w, { strides: n.ints('strides', [1, 1]), pads: n.ints('pads', [0, 0, 0, 0]), dilations: n.ints('dilations', [1, 1]), group: n.int('group', 1), outputPadding: n.ints('output_padding', [0, 0]) })];
  },
  MaxPool: pool('MaxPool'),
  AveragePool: pool('AveragePool'),
  BatchNormalization: (n) => {
    // inference form: one affine map per channel, folded here from the four constant inputs
    if (n.int('training_mode', 0) !== 0) n.fail('is in training mode');
    const x = n.need(0);
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => n.constFloats(i));
    const eps = n.float('epsilon', 1e-5);
    const c = scale!.length;
    const a = new Float32Array(c);
    const b = new Float32Array(c);
    for (let i = 0; i < c; i++) {
      a[i] = scale![i]! / Math.sqrt(variance![i]! + eps);
      b[i] = bias![i]! - mean![i]! * a[i]!;
    }
    const shape = [c, ...Array.from({ length: Math.max(0, x.rank - 2) }, () => 1)];
    return [F.add(F.mul(x, n.tape.constant(a, shape)), n.tape.constant(b, shape))];
  },
  LayerNormalization: (n) => {
    const x = n.need(0);
    if (norm(n.int('axis', -1), x.rank) !== x.rank - 1) n.fail('normalizes over more than the last axis');
    const scale = n.need(1);
    const bias = n.input(2) ?? n.tape.constant(new Float32Array(x.shape.at(-1)!), [x.shape.at(-1)!]);
    return F.layerNorm(x, scale, bias, n.float('epsilon', 1e-5));
  },
};
