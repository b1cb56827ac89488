// The layers a network is written with. Each checks the shape it is given and says, in the user's
// terms, what it expected: a mismatch names the layer and both shapes.
import * as F from '../autodiff/fn.js';
import { fmtShape, shapeError, type Value } from '../autodiff/tape.js';
import { constantInit, Module, normalInit, Parameter, uniformFanIn, type ForwardContext } from './module.js';

const positive = (what: string, n: number): number => {
  if (!Number.isInteger(n) || n < 1) throw shapeError(`${what} must be a positive integer, got ${n}`);
  return n;
};
const pair = (v: number | readonly [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

export class Linear extends Module {
  readonly kind = 'Linear';
  readonly weight: Parameter;
  readonly bias?: Parameter;

  constructor(readonly inFeatures: number, readonly outFeatures: number, bias = true) {
    super();
    positive('Linear in', inFeatures);
    positive('Linear out', outFeatures);
    // stored [in, out] so the forward pass is one MatMul without a transpose
    this.weight = new Parameter([inFeatures, outFeatures], uniformFanIn(inFeatures));
    if (bias) this.bias = new Parameter([outFeatures], uniformFanIn(inFeatures));
  }

  protected override ownParameters(): [string, Parameter][] {
    return this.bias ? [['weight', this.weight], ['bias', this.bias]] : [['weight', this.weight]];
  }

  forward(x: Value, ctx: ForwardContext): Value {
    const last = x.shape[x.rank - 1];
    if (x.rank < 2 || last !== this.inFeatures) {
      throw shapeError(`expects input [N, ${this.inFeatures}], got ${fmtShape(x.shape)}`);
    }
    const y = F.matmul(x, ctx.param(this.weight));
    return this.bias ? F.add(y, ctx.param(this.bias)) : y;
  }

  override describe(): string {
    return `Linear ${this.inFeatures}→${this.outFeatures}`;
  }
}

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  dilation?: number | [number, number];
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly kind = 'Conv2d';
  readonly weight: Parameter;
  readonly bias?: Parameter;
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];

  constructor(readonly inChannels: number, readonly outChannels: number, kernel: number | [number, number], o: Conv2dOptions = {}) {
    super();
    positive('Conv2d in channels', inChannels);
    positive('Conv2d out channels', outChannels);
    this.kernel = pair(kernel);
    this.stride = pair(o.stride ?? 1);
    this.padding = pair(o.padding ?? 0);
    this.dilation = pair(o.dilation ?? 1);
    this.kernel.forEach((k) => positive('Conv2d kernel size', k));
    this.stride.forEach((s) => positive('Conv2d stride', s));
    const fanIn = inChannels * this.kernel[0] * this.kernel[1];
    this.weight = new Parameter([outChannels, inChannels, ...this.kernel], uniformFanIn(fanIn));
    if (o.bias ?? true) this.bias = new Parameter([outChannels], uniformFanIn(fanIn));
  }

  protected override ownParameters(): [string, Parameter][] {
    return this.bias ? [['weight', this.weight], ['bias', this.bias]] : [['weight', this.weight]];
  }

  forward(x: Value, ctx: ForwardContext): Value {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw shapeError(`expects input [N, ${this.inChannels}, H, W], got ${fmtShape(x.shape)}`);
    }
    const [ph, pw] = this.padding;
    return F.conv(x, ctx.param(this.weight), this.bias && ctx.param(this.bias), {
      strides: this.stride, pads: [ph, pw, ph, pw], dilations: this.dilation,
    });
  }

  override describe(): string {
    return `Conv2d ${this.inChannels}→${this.outChannels} ${this.kernel[0]}×${this.kernel[1]}`;
  }
}

abstract class Pool2d extends Module {
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];

  constructor(kernel: number | [number, number], stride?: number | [number, number], padding: number | [number, number] = 0) {
    super();
    this.kernel = pair(kernel);
    this.stride = pair(stride ?? kernel);
    this.padding = pair(padding);
    this.kernel.forEach((k) => positive(`${this.constructor.name} kernel size`, k));
    this.stride.forEach((st) => positive(`${this.constructor.name} stride`, st));
    // PyTorch's rule (onnxruntime refuses pads ≥ kernel only when the session loads, as an internal error)
    this.padding.forEach((p, i) => {
      if (!Number.isInteger(p) || p < 0 || p > this.kernel[i]! / 2) {
        throw shapeError(`${this.constructor.name} padding ${p} must be an integer from 0 to half the kernel size ${this.kernel[i]}`);
      }
    });
  }

  protected attrs() {
    const [ph, pw] = this.padding;
    return { kernel: this.kernel, strides: this.stride, pads: [ph, pw, ph, pw] };
  }

  protected check(x: Value): void {
    if (x.rank !== 4) throw shapeError(`expects input [N, C, H, W], got ${fmtShape(x.shape)}`);
  }
}

export class MaxPool2d extends Pool2d {
  readonly kind = 'MaxPool2d';
  forward(x: Value, ctx: ForwardContext): Value {
    this.check(x);
    // Training keeps the argmax indices for the gradient (measured faster than recomputing which
    // input won); exported models use the plain, faster MaxPool.
    return ctx.training ? F.maxPoolWithIndices(x, this.attrs())[0] : F.maxPool(x, this.attrs());
  }
}

export class AvgPool2d extends Pool2d {
  readonly kind = 'AvgPool2d';
  forward(x: Value): Value {
    this.check(x);
    return F.averagePool(x, this.attrs());
  }
}

export class Flatten extends Module {
  readonly kind = 'Flatten';
  forward(x: Value): Value {
    return F.flatten(x, 1);
  }
}

export class ReLU extends Module {
  readonly kind = 'ReLU';
  forward = (x: Value): Value => F.relu(x);
}
export class Tanh extends Module {
  readonly kind = 'Tanh';
  forward = (x: Value): Value => F.tanh(x);
}
export class Sigmoid extends Module {
  readonly kind = 'Sigmoid';
  forward = (x: Value): Value => F.sigmoid(x);
}
export class GELU extends Module {
  readonly kind = 'GELU';
  forward = (x: Value): Value => F.gelu(x);
}

export class Softmax extends Module {
  readonly kind = 'Softmax';
  constructor(readonly axis = -1) {
    super();
  }
  forward(x: Value): Value {
    return F.softmax(x, this.axis);
  }
}

export class Dropout extends Module {
  readonly kind = 'Dropout';
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p < 1)) throw shapeError(`Dropout p must be in [0, 1), got ${p}`);
  }
  forward(x: Value, ctx: ForwardContext): Value {
    // identity at inference: the mask is scaled by 1/(1−p) during training instead
    if (!ctx.training || this.p === 0) return x;
    return F.mul(x, ctx.dropoutMask(x.shape, this.p));
  }
}

export class Embedding extends Module {
  readonly kind = 'Embedding';
  readonly weight: Parameter;
  constructor(readonly numEmbeddings: number, readonly dim: number) {
    super();
    positive('Embedding size', numEmbeddings);
    positive('Embedding dim', dim);
    this.weight = new Parameter([numEmbeddings, dim], normalInit(1));
  }
  protected override ownParameters(): [string, Parameter][] {
    return [['weight', this.weight]];
  }
  override get inputType(): 'INT64' {
    return 'INT64';
  }
  override get idTableSize(): number {
    return this.numEmbeddings;
  }
  forward(x: Value, ctx: ForwardContext): Value {
    if (x.dtype !== 'INT64') throw shapeError(`expects integer token ids (INT64), got ${x.dtype} ${fmtShape(x.shape)}`);
    return F.gather(ctx.param(this.weight), x);
  }
  override describe(): string {
    return `Embedding ${this.numEmbeddings}×${this.dim}`;
  }
}

export class LayerNorm extends Module {
  readonly kind = 'LayerNorm';
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    positive('LayerNorm dim', dim);
    this.weight = new Parameter([dim], constantInit(1));
    this.bias = new Parameter([dim], constantInit(0));
  }
  protected override ownParameters(): [string, Parameter][] {
    return [['weight', this.weight], ['bias', this.bias]];
  }
  forward(x: Value, ctx: ForwardContext): Value {
    if (x.shape[x.rank - 1] !== this.dim) throw shapeError(`expects input [..., ${this.dim}], got ${fmtShape(x.shape)}`);
    return F.layerNorm(x, ctx.param(this.weight), ctx.param(this.bias), this.eps)[0];
  }
}

export class Sequential extends Module {
  readonly kind = 'Sequential';
  readonly layers: readonly Module[];
  constructor(layers: readonly Module[]) {
    super();
    this.layers = [...layers];
  }
  override children(): [string, Module][] {
    return this.layers.map((m, i) => [String(i), m]);
  }
  override get inputType(): 'FP32' | 'INT64' {
    return this.layers[0]?.inputType ?? 'FP32';
  }
  override get idTableSize(): number | undefined {
    return this.layers[0]?.idTableSize;
  }
  override get variableLength(): boolean {
    return this.layers[0]?.variableLength ?? false;
  }
  override exportMetadata(): Record<string, string> {
    return Object.assign({}, ...this.layers.map((l) => l.exportMetadata()));
  }
  forward(x: Value, ctx: ForwardContext): Value {
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i]!;
      try {
        const next = this.layers[i + 1];
        if (layer instanceof ReLU && next instanceof MaxPool2d && h.rank === 4) {
          // ReLU then MaxPool equals MaxPool then ReLU (both are monotone), value and gradient alike,
          // and the swapped order runs the ReLU and its gradient on the pooled, k²-times smaller tensor.
          h = layer.forward(next.forward(h, ctx));
          i++;
        } else {
          h = layer.forward(h, ctx);
        }
      } catch (err) {
        if (err instanceof Error && 'code' in err) {
          // a nested Sequential already named its layer: make 'layer 1 (…)' 'layer 0.1 (…)', like parameter names
          err.message = err.message.startsWith('layer ') ? `layer ${i}.${err.message.slice('layer '.length)}` : `layer ${i} (${layer.describe()}) ${err.message}`;
        }
        throw err;
      }
    }
    return h;
  }
}
