// The skip-gram model: ids [N, 2 + k] = [center, context, negatives…] → one logit per pair, the dot
// product of the center word's input vector with each other word's output vector.
import * as F from '../autodiff/fn.js';
import { fmtShape, shapeError, type Value } from '../autodiff/tape.js';
import { Module, Parameter, constantInit, type ForwardContext } from './module.js';

export class SkipGram extends Module {
  readonly kind = 'SkipGram';
  /** the word vectors that are kept */
  readonly input: Parameter;
  readonly output: Parameter;

  constructor(readonly vocab: number, readonly dim: number) {
    super();
    const bound = 0.5 / dim; // word2vec's initialization; output vectors start at zero
    this.input = new Parameter([vocab, dim], (rng, size) => Float32Array.from({ length: size }, () => rng.uniform(-bound, bound)));
    this.output = new Parameter([vocab, dim], constantInit(0));
  }

  protected override ownParameters(): [string, Parameter][] {
    return [['input', this.input], ['output', this.output]];
  }

  override get inputType(): 'INT64' {
    return 'INT64';
  }

  override get idTableSize(): number {
    return this.vocab;
  }

  forward(ids: Value, ctx: ForwardContext): Value {
    const w = ids.shape[1]!;
    if (ids.rank !== 2 || w < 2) throw shapeError(`expects ids [N, 2 + negatives], got ${fmtShape(ids.shape)}`);
    const center = F.gather(ctx.param(this.input), F.slice(ids, [0], [1], [1])); // [N, 1, D]
    const others = F.gather(ctx.param(this.output), F.slice(ids, [1], [w], [1])); // [N, w-1, D]
    return F.reduceSum(F.mul(others, center), [2]); // [N, w-1]
  }
}
