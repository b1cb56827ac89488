// A decoder-only transformer language model whose arithmetic is llama's, so its weights can be
// written to a GGUF file (general.architecture = llama) and llama.cpp computes the same logits:
//
//   x = tokens[ids]                                  no learned positions
//   per block:  h   = x + Wo · Attention(RMSNorm(x) ⊙ attnNorm)
//               out = h + Wdown · (silu(Wgate · n) ⊙ (Wup · n)),   n = RMSNorm(h) ⊙ ffnNorm
//   logits = Woutput · (RMSNorm(x) ⊙ norm)
//
// RMSNorm(x) = x / √(mean(x²) + eps). Attention has no biases; each head's q and k are rotated
// (RoPE) by adjacent pairs — (x[2i], x[2i+1]) by the angle p·θᵢ, θᵢ = ropeBase^(−2i/headDim) —
// which is llama.cpp's LLAMA_ROPE_TYPE_NORM, so an exporter writes Wq and Wk unpermuted. Scores
// are q·kᵀ/√headDim with a causal mask.
//
// Parameter names are a contract with the GGUF exporter (Linear weights are [in, out]):
//   tokens [V, D] · blocks.{i}.attnNorm.weight [D] · blocks.{i}.attention.{q,k,v,out}.weight [D, D]
//   · blocks.{i}.ffnNorm.weight [D] · blocks.{i}.gate.weight, blocks.{i}.up.weight [D, F]
//   · blocks.{i}.down.weight [F, D] · norm.weight [D] · output.weight [D, V]
import * as F from '../autodiff/fn.js';
import { fmtShape, shapeError, type Value } from '../autodiff/tape.js';
import { Linear } from './layers.js';
import { constantInit, Module, normalInit, Parameter, type ForwardContext } from './module.js';
import { positions } from './transformer.js';

export interface DecoderLMOptions {
  readonly vocab: number;
  /** the longest sequence the model takes: RoPE tables are built for this many positions */
  readonly context: number;
  readonly dim: number;
  readonly heads: number;
  readonly layers: number;
  /** the feed-forward (SwiGLU) width */
  readonly ffn: number;
  /** default 1e-5 */
  readonly eps?: number;
  /** default 10000 */
  readonly ropeBase?: number;
}

/** x / √(mean(x², last axis) + eps) · weight; the weight starts at 1. */
export class RMSNorm extends Module {
  readonly kind = 'RMSNorm';
  readonly weight: Parameter;

  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = new Parameter([dim], constantInit(1));
  }

  protected override ownParameters(): [string, Parameter][] {
    return [['weight', this.weight]];
  }

  forward(x: Value, ctx: ForwardContext): Value {
    if (x.shape.at(-1) !== this.dim) throw shapeError(`expects input [..., ${this.dim}], got ${fmtShape(x.shape)}`);
    const rms = F.sqrt(F.addScalar(F.reduceMean(F.mul(x, x), [-1], true), this.eps));
    return F.mul(F.div(x, rms), ctx.param(this.weight));
  }
}

/** The rotation tables for rotary positions, per position and model column, and the pair swap:
 *  rope(x) = x ⊙ cos + swap(x) ⊙ sin with swap(x)[2i] = x[2i+1], swap(x)[2i+1] = x[2i] and the
 *  sign of −sin folded into the even columns of `sin`. */
export function ropeTables(context: number, dim: number, headDim: number, base: number): { cos: Float32Array; sin: Float32Array; swap: Float32Array } {
  const cos = new Float32Array(context * dim);
  const sin = new Float32Array(context * dim);
  for (let p = 0; p < context; p++) {
    for (let c = 0; c < dim; c++) {
      const i = Math.floor((c % headDim) / 2);
      const angle = p * base ** ((-2 * i) / headDim);
      cos[p * dim + c] = Math.cos(angle);
      sin[p * dim + c] = (c % 2 === 0 ? -1 : 1) * Math.sin(angle);
    }
  }
  // a permutation matrix [D, D]: column c of x·swap is x's column c ^ 1; exact in float32
  const swap = new Float32Array(dim * dim);
  for (let c = 0; c < dim; c++) swap[(c ^ 1) * dim + c] = 1;
  return { cos, sin, swap };
}

/** What every block shares in one forward pass: the rotation for each position and the mask. */
interface Positional {
  readonly cos: Value;
  readonly sin: Value;
  readonly swap: Value;
  /** −1e9 where a key lies after the query, else 0: [N, 1, T, T] */
  readonly causal: Value;
}

export class CausalSelfAttention extends Module {
  readonly kind = 'CausalSelfAttention';
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly out: Linear;
  readonly headDim: number;

  constructor(readonly dim: number, readonly heads: number) {
    super();
    if (dim % heads !== 0) throw shapeError(`attention width ${dim} must be a multiple of its ${heads} heads`);
    this.headDim = dim / heads;
    if (this.headDim % 2 !== 0) throw shapeError(`rotary positions turn pairs of values: the head width ${dim}/${heads} = ${this.headDim} must be even`);
    [this.q, this.k, this.v, this.out] = [0, 1, 2, 3].map(() => new Linear(dim, dim, false));
  }

  override children(): [string, Module][] {
    return [['q', this.q], ['k', this.k], ['v', this.v], ['out', this.out]];
  }

  forward(): Value {
    throw new Error('CausalSelfAttention needs rotary tables and a mask: call attend(x, positional, ctx)');
  }

  /** x [N, T, D] → [N, T, D] */
  attend(x: Value, pos: Positional, ctx: ForwardContext): Value {
    const { heads: h, headDim: d } = this;
    const rope = (v: Value) => F.add(F.mul(v, pos.cos), F.mul(F.matmul(v, pos.swap), pos.sin));
    const q = F.transpose(F.reshape(rope(this.q.forward(x, ctx)), [0, 0, h, d]), [0, 2, 1, 3]);
    const kT = F.transpose(F.reshape(rope(this.k.forward(x, ctx)), [0, 0, h, d]), [0, 2, 3, 1]);
    const v = F.transpose(F.reshape(this.v.forward(x, ctx), [0, 0, h, d]), [0, 2, 1, 3]);
    const scores = F.add(F.mulScalar(F.matmul(q, kT), 1 / Math.sqrt(d)), pos.causal);
    const attended = F.matmul(F.softmax(scores, -1), v);
    return this.out.forward(F.reshape(F.transpose(attended, [0, 2, 1, 3]), [0, 0, this.dim]), ctx);
  }
}

/** Pre-norm block: attention, then a SwiGLU feed-forward, each added to the residual stream. */
export class DecoderBlock extends Module {
  readonly kind = 'DecoderBlock';
  readonly attnNorm: RMSNorm;
  readonly attention: CausalSelfAttention;
  readonly ffnNorm: RMSNorm;
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;

  constructor(dim: number, heads: number, ffn: number, eps: number) {
    super();
    this.attnNorm = new RMSNorm(dim, eps);
    this.attention = new CausalSelfAttention(dim, heads);
    this.ffnNorm = new RMSNorm(dim, eps);
    this.gate = new Linear(dim, ffn, false);
    this.up = new Linear(dim, ffn, false);
    this.down = new Linear(ffn, dim, false);
  }

  override children(): [string, Module][] {
    return [['attnNorm', this.attnNorm], ['attention', this.attention], ['ffnNorm', this.ffnNorm], ['gate', this.gate], ['up', this.up], ['down', this.down]];
  }

  forward(): Value {
    throw new Error('DecoderBlock needs rotary tables and a mask: call block(x, positional, ctx)');
  }

  block(x: Value, pos: Positional, ctx: ForwardContext): Value {
    const h = F.add(x, this.attention.attend(this.attnNorm.forward(x, ctx), pos, ctx));
    const n = this.ffnNorm.forward(h, ctx);
    const g = this.gate.forward(n, ctx);
    return F.add(h, this.down.forward(F.mul(F.mul(g, F.sigmoid(g)), this.up.forward(n, ctx)), ctx));
  }
}

/**
 * Token ids [N, T] (T ≤ context) → next-token logits [N, T, vocab]. The exported model takes any T up
 * to `context` at run time: positions, rotations and the mask are all derived from the ids.
 *
 *   const lm = new DecoderLM({ vocab: 387, context: 64, dim: 64, heads: 4, layers: 2, ffn: 192 });
 */
export class DecoderLM extends Module {
  readonly kind = 'DecoderLM';
  readonly tokens: Parameter;
  readonly blocks: DecoderBlock[];
  readonly norm: RMSNorm;
  readonly output: Linear;
  readonly eps: number;
  readonly ropeBase: number;

  constructor(readonly o: DecoderLMOptions) {
    super();
    for (const k of ['vocab', 'context', 'dim', 'heads', 'layers', 'ffn'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw shapeError(`DecoderLM ${k} must be a positive integer, got ${o[k]}`);
    }
    this.eps = o.eps ?? 1e-5;
    this.ropeBase = o.ropeBase ?? 10000;
    this.tokens = new Parameter([o.vocab, o.dim], normalInit(0.02));
    this.blocks = Array.from({ length: o.layers }, () => new DecoderBlock(o.dim, o.heads, o.ffn, this.eps));
    this.norm = new RMSNorm(o.dim, this.eps);
    this.output = new Linear(o.dim, o.vocab, false);
  }

  protected override ownParameters(): [string, Parameter][] {
    return [['tokens', this.tokens]];
  }

  override children(): [string, Module][] {
    return [...this.blocks.map((b, i) => [`blocks.${i}`, b] as [string, Module]), ['norm', this.norm], ['output', this.output]];
  }

  override get inputType(): 'INT64' {
    return 'INT64';
  }

  override get idTableSize(): number {
    return this.o.vocab;
  }

  override get variableLength(): boolean {
    return true;
  }

  override describe(): string {
    return `DecoderLM ${this.o.layers}×(${this.o.dim}, ${this.o.heads} heads, ffn ${this.o.ffn}), vocab ${this.o.vocab}, context ${this.o.context}`;
  }

  /** The hyper-parameters a GGUF writer needs, as the exported model's `ferry.decoder`. */
  get config(): Required<DecoderLMOptions> {
    const { vocab, context, dim, heads, layers, ffn } = this.o;
    return { vocab, context, dim, heads, layers, ffn, eps: this.eps, ropeBase: this.ropeBase };
  }

  override exportMetadata(): Record<string, string> {
    return { 'ferry.decoder': JSON.stringify(this.config) };
  }

  forward(ids: Value, ctx: ForwardContext): Value {
    if (ids.dtype !== 'INT64' || ids.rank !== 2) throw shapeError(`expects token ids [N, T] (INT64), got ${ids.dtype} ${fmtShape(ids.shape)}`);
    const t = ids.shape[1]!;
    if (t > this.o.context) throw shapeError(`sequences of ${t} tokens are longer than the context of ${this.o.context}`);
    const { dim, heads, context } = this.o;
    const tables = ropeTables(context, dim, dim / heads, this.ropeBase);
    const tape = ids.tape;
    const p = positions(ids);
    // future keys: key position > query position, [N, 1, T, T]
    const future = F.greater(F.unsqueeze(p, [1, 2]), F.unsqueeze(p, [1, 3]));
    const pos: Positional = {
      cos: F.gather(tape.constant(tables.cos, [context, dim]), p),
      sin: F.gather(tape.constant(tables.sin, [context, dim]), p),
      swap: tape.constant(tables.swap, [dim, dim]),
      causal: F.mulScalar(F.cast(future, 'FP32'), -1e9),
    };
    let x = F.gather(ctx.param(this.tokens), ids);
    for (const b of this.blocks) x = b.block(x, pos, ctx);
    return this.output.forward(this.norm.forward(x, ctx), ctx);
  }
}
