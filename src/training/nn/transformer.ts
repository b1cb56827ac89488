// Transformer encoder building blocks: learned positions, multi-head self-attention with a padding
// mask, pre-LN blocks with a GELU feed-forward, masked mean pooling — and `TransformerEncoder`, the
// one layer a JSON spec names, which maps token ids [N, T] to one vector per text [N, D].
//
// Token id `padId` marks padding. The mask is derived from the ids inside the graph, so a served
// model needs no attention_mask input, and positions are computed inside the graph too (a Hugging
// Face runtime never supplies position_ids).
import * as F from '../autodiff/fn.js';
import { fmtShape, shapeError, type Value } from '../autodiff/tape.js';
import { LayerNorm, Linear } from './layers.js';
import { Module, normalInit, Parameter, type ForwardContext } from './module.js';

/** 1 for real tokens, 0 for padding, as floats [N, T]. */
export function paddingMask(ids: Value, padId: number): Value {
  const pad = ids.tape.constant([padId], [], 'INT64');
  return F.cast(F.not(F.equal(ids, pad)), 'FP32');
}

/** Positions 0..T-1 for every row of ids [N, T], as int64, whatever T is at run time. */
export function positions(ids: Value): Value {
  const ones = F.cast(F.equal(ids, ids), 'INT64');
  return F.sub(F.cumsum(ones, 1), ids.tape.constant([1], [], 'INT64'));
}

export class MultiHeadSelfAttention extends Module {
  readonly kind = 'MultiHeadSelfAttention';
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly out: Linear;
  readonly headDim: number;

  constructor(readonly dim: number, readonly heads: number) {
    super();
    if (dim % heads !== 0) throw shapeError(`attention width ${dim} must be a multiple of its ${heads} heads`);
    this.headDim = dim / heads;
    [this.q, this.k, this.v, this.out] = [0, 1, 2, 3].map(() => new Linear(dim, dim));
  }

  override children(): [string, Module][] {
    return [['q', this.q], ['k', this.k], ['v', this.v], ['out', this.out]];
  }

  forward(): Value {
    throw new Error('MultiHeadSelfAttention needs a padding mask: call attend(x, mask, ctx)');
  }

  /** x [N, T, D], mask [N, T] (1 = token, 0 = padding) → [N, T, D] */
  attend(x: Value, mask: Value, ctx: ForwardContext): Value {
    const { heads: h, headDim: d } = this;
    // [N, T, D] → [N, H, T, d]
    const split = (v: Value) => F.transpose(F.reshape(v, [0, 0, h, d]), [0, 2, 1, 3]);
    const q = split(this.q.forward(x, ctx));
    const kT = F.transpose(F.reshape(this.k.forward(x, ctx), [0, 0, h, d]), [0, 2, 3, 1]);
    const v = split(this.v.forward(x, ctx));
    // padding keys get −1e9 before the softmax, so every query ignores them
    const bias = F.unsqueeze(F.mulScalar(F.addScalar(mask, -1), 1e9), [1, 2]);
    const scores = F.add(F.mulScalar(F.matmul(q, kT), 1 / Math.sqrt(d)), bias);
    const attended = F.matmul(F.softmax(scores, -1), v);
    return this.out.forward(F.reshape(F.transpose(attended, [0, 2, 1, 3]), [0, 0, this.dim]), ctx);
  }
}

/** Pre-LN: x + Attention(LN(x)), then x + FFN(LN(x)) with a GELU in between. */
export class TransformerBlock extends Module {
  readonly kind = 'TransformerBlock';
  readonly norm1: LayerNorm;
  readonly attention: MultiHeadSelfAttention;
  readonly norm2: LayerNorm;
  readonly up: Linear;
  readonly down: Linear;

  constructor(readonly dim: number, heads: number, ffn: number, readonly dropout = 0) {
    super();
    this.norm1 = new LayerNorm(dim);
    this.attention = new MultiHeadSelfAttention(dim, heads);
    this.norm2 = new LayerNorm(dim);
    this.up = new Linear(dim, ffn);
    this.down = new Linear(ffn, dim);
  }

  override children(): [string, Module][] {
    return [['norm1', this.norm1], ['attention', this.attention], ['norm2', this.norm2], ['up', this.up], ['down', this.down]];
  }

  forward(): Value {
    throw new Error('TransformerBlock needs a padding mask: call block(x, mask, ctx)');
  }

  private drop(x: Value, ctx: ForwardContext): Value {
    return ctx.training && this.dropout > 0 ? F.mul(x, ctx.dropoutMask(x.shape, this.dropout)) : x;
  }

  block(x: Value, mask: Value, ctx: ForwardContext): Value {
    const a = F.add(x, this.drop(this.attention.attend(this.norm1.forward(x, ctx), mask, ctx), ctx));
    const hidden = F.gelu(this.up.forward(this.norm2.forward(a, ctx), ctx));
    return F.add(a, this.drop(this.down.forward(hidden, ctx), ctx));
  }
}

export interface TransformerEncoderOptions {
  readonly vocab: number;
  readonly maxLength: number;
  readonly dim: number;
  readonly heads: number;
  readonly layers: number;
  /** feed-forward width; default 4 × dim */
  readonly ffn?: number;
  readonly dropout?: number;
  /** the id that marks padding; default 0 */
  readonly padId?: number;
}

/** Token ids [N, T] → [N, D]: embeddings plus learned positions, pre-LN blocks, a final LayerNorm,
 *  and the mean over the real tokens. */
export class TransformerEncoder extends Module {
  readonly kind = 'TransformerEncoder';
  readonly tokens: Parameter;
  readonly positions: Parameter;
  readonly blocks: TransformerBlock[];
  readonly norm: LayerNorm;

  constructor(readonly o: TransformerEncoderOptions) {
    super();
    this.tokens = new Parameter([o.vocab, o.dim], normalInit(0.02));
    this.positions = new Parameter([o.maxLength, o.dim], normalInit(0.02));
    this.blocks = Array.from({ length: o.layers }, () => new TransformerBlock(o.dim, o.heads, o.ffn ?? 4 * o.dim, o.dropout ?? 0));
    this.norm = new LayerNorm(o.dim);
  }

  protected override ownParameters(): [string, Parameter][] {
    return [['tokens', this.tokens], ['positions', this.positions]];
  }

  override children(): [string, Module][] {
    return [...this.blocks.map((b, i) => [`blocks.${i}`, b] as [string, Module]), ['norm', this.norm]];
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
    return `TransformerEncoder ${this.o.layers}×(${this.o.dim}, ${this.o.heads} heads)`;
  }

  forward(ids: Value, ctx: ForwardContext): Value {
    if (ids.dtype !== 'INT64' || ids.rank !== 2) throw shapeError(`expects token ids [N, T] (INT64), got ${ids.dtype} ${fmtShape(ids.shape)}`);
    const t = ids.shape[1]!;
    if (t > this.o.maxLength) throw shapeError(`texts of ${t} tokens are longer than maxLength ${this.o.maxLength}`);
    const mask = paddingMask(ids, this.o.padId ?? 0);
    let x = F.add(F.gather(ctx.param(this.tokens), ids), F.gather(ctx.param(this.positions), positions(ids)));
    for (const b of this.blocks) x = b.block(x, mask, ctx);
    x = this.norm.forward(x, ctx);
    // mean over real tokens: Σ x·mask / Σ mask
    const m = F.unsqueeze(mask, [2]);
    return F.div(F.reduceSum(F.mul(x, m), [1]), F.reduceSum(m, [1]));
  }
}
