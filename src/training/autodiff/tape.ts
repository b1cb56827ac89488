// The tape: a record of tensor operations in the order they were applied, each one a standard
// `ai.onnx` operator. Layers, losses, gradients and optimizer updates all append to the same tape,
// so a whole training step (forward, loss, backward, update) becomes one ONNX graph (see emit.ts).
//
// Shapes are tracked while recording so that layers can check what they are given and gradient rules
// know which axes were broadcast. A -1 is a dimension known only at run time: the batch.
import { FerryError } from '../../core/errors.js';
import { RULES, type AttrMap } from './rules.js';

export type VType = 'FP32' | 'INT64' | 'BOOL';

export class Value {
  constructor(
    readonly tape: Tape,
    readonly id: number,
    readonly shape: readonly number[],
    readonly dtype: VType,
    /** set for graph inputs and when emit gives a value a public name */
    public name: string,
  ) {}

  get rank(): number {
    return this.shape.length;
  }
}

export interface TapeNode {
  readonly op: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: AttrMap;
}

export interface Constant {
  readonly value: Value;
  readonly data: Float32Array | BigInt64Array;
}

export class Tape {
  readonly nodes: TapeNode[] = [];
  readonly inputs: Value[] = [];
  readonly constants: Constant[] = [];
  /** which node produced each value id */
  readonly producer = new Map<number, TapeNode>();
  private nextId = 0;

  private value(shape: readonly number[], dtype: VType, name?: string): Value {
    const id = this.nextId++;
    return new Value(this, id, shape, dtype, name ?? `t${id}`);
  }

  /** A graph input: data fed on every run (a batch, a label, a parameter, an optimizer state). */
  input(name: string, shape: readonly number[], dtype: VType = 'FP32'): Value {
    if (this.inputs.some((v) => v.name === name)) throw new Error(`tape input '${name}' declared twice`);
    const v = this.value(shape, dtype, name);
    this.inputs.push(v);
    return v;
  }

  /** A constant baked into the graph. */
  constant(data: Float32Array | BigInt64Array | readonly number[], shape: readonly number[], dtype: 'FP32' | 'INT64' = 'FP32'): Value {
    const arr = data instanceof Float32Array || data instanceof BigInt64Array
      ? data
      : dtype === 'INT64' ? BigInt64Array.from(data, (n) => BigInt(n)) : Float32Array.from(data);
    const v = this.value(shape, dtype, `c${this.nextId}`);
    this.constants.push({ value: v, data: arr });
    return v;
  }

  scalar(x: number): Value {
    return this.constant([x], [], 'FP32');
  }

  ints(xs: readonly number[]): Value {
    return this.constant(xs, [xs.length], 'INT64');
  }

  /** Appends one operator; its output shapes come from the op's rule in the gradient table. */
  apply(op: string, inputs: readonly Value[], attrs: AttrMap = {}): Value[] {
    const rule = RULES[op];
    if (!rule) throw new Error(`no rule for ONNX op '${op}' in the gradient table`);
    for (const x of inputs) if (x.tape !== this) throw new Error(`op '${op}': an input belongs to another tape`);
    const outs = rule.infer(inputs, attrs, this).map((o) => this.value(o.shape, o.dtype));
    const node: TapeNode = { op, inputs: [...inputs], outputs: outs, attrs };
    this.nodes.push(node);
    for (const o of outs) this.producer.set(o.id, node);
    return outs;
  }

  /** The constant behind a value, when it is one (gradient rules read shape constants). */
  constantData(v: Value): Float32Array | BigInt64Array | undefined {
    return this.constants.find((c) => c.value === v)?.data;
  }
}

/** Shape mismatches found while recording become errors a user can act on. */
export function shapeError(message: string): FerryError {
  return new FerryError('INVALID_ARGUMENT', message);
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.map((d) => (d < 0 ? 'N' : String(d))).join(', ')}]`;
}
