// A variational autoencoder (Kingma & Welling, 2014) over images, with ReLU MLPs on both sides
// (hidden sizes [h₁, h₂, …] for the encoder, mirrored for the decoder):
//
//   encoder   h = relu(…relu(x·W₁ + b₁)…),   μ = h·Wμ + bμ,   log σ² = h·Wσ + bσ
//   sample    z = μ + exp(log σ² / 2) ⊙ ε,   ε ~ N(0, I) drawn in JS (ForwardContext.normalNoise)
//   decoder   logits = relu(…relu(z·W'₁ + b'₁)…)·W'ₒ + b'ₒ,   image = sigmoid(logits)
//
// It trains on its own objective (Module.objective, `"loss": "elbo"`), the negative evidence lower
// bound per example — sums over pixels and latent dimensions, means over the batch:
//
//   reconstruction = Σ softplus(logits) − logits·x       binary cross-entropy with x in [0, 1]
//   kl             = −½ Σ (1 + log σ² − μ² − σ²)          KL(q(z|x) ‖ N(0, I)), in closed form
//   loss           = reconstruction + β·kl
//
// and registers its decoder alone (Module.serve): `z` [N, latent] → `image` [N, C, H, W] in [0, 1],
// tagged `ferry.task` = image-generation so /v1/images/generations serves it.
import * as F from '../autodiff/fn.js';
import { fmtShape, shapeError, type Value } from '../autodiff/tape.js';
import { Linear, ReLU, Sequential } from './layers.js';
import { Module, type ForwardContext, type Objective, type ServedInput } from './module.js';

export interface VAEOptions {
  readonly width: number;
  readonly height: number;
  /** default 1 (greyscale) */
  readonly channels?: number;
  /** the encoder's hidden widths, input side first; the decoder mirrors them */
  readonly hidden: number | readonly number[];
  readonly latent: number;
  /** the weight of the KL term (β-VAE); default 1, the true ELBO */
  readonly beta?: number;
}

/**
 * Images [N, C·H·W] or [N, C, H, W] in [0, 1] → their reconstruction through the mean code (forward);
 * trained on the negative ELBO, served as its decoder.
 *
 *   const vae = new VAE({ width: 28, height: 28, hidden: [512, 256], latent: 8 });
 */
export class VAE extends Module {
  readonly kind = 'VAE';
  /** x → the last hidden layer (ReLU after every Linear) */
  readonly encode: Sequential;
  readonly mu: Linear;
  readonly logvar: Linear;
  /** z → the decoder's last hidden layer */
  readonly decode: Sequential;
  readonly output: Linear;
  readonly hidden: readonly number[];
  readonly channels: number;
  readonly beta: number;
  /** values per image, C·H·W */
  readonly size: number;

  constructor(readonly o: VAEOptions) {
    super();
    for (const k of ['width', 'height', 'latent'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw shapeError(`VAE ${k} must be a positive integer, got ${o[k]}`);
    }
    this.hidden = typeof o.hidden === 'number' ? [o.hidden] : [...o.hidden];
    if (this.hidden.length === 0 || !this.hidden.every((h) => Number.isInteger(h) && h >= 1)) {
      throw shapeError(`VAE hidden must be a positive integer or a non-empty list of them, got ${JSON.stringify(o.hidden)}`);
    }
    this.channels = o.channels ?? 1;
    if (!Number.isInteger(this.channels) || this.channels < 1) throw shapeError(`VAE channels must be a positive integer, got ${this.channels}`);
    this.beta = o.beta ?? 1;
    if (!(this.beta > 0 && Number.isFinite(this.beta))) throw shapeError(`VAE beta must be a positive number, got ${this.beta}`);
    this.size = this.channels * o.height * o.width;
    const mlp = (widths: readonly number[]) => new Sequential(widths.slice(1).flatMap((w, i) => [new Linear(widths[i]!, w), new ReLU()]));
    const last = this.hidden.at(-1)!;
    this.encode = mlp([this.size, ...this.hidden]);
    this.mu = new Linear(last, o.latent);
    this.logvar = new Linear(last, o.latent);
    this.decode = mlp([o.latent, ...[...this.hidden].reverse()]);
    this.output = new Linear(this.hidden[0]!, this.size);
  }

  override children(): [string, Module][] {
    return [['encode', this.encode], ['mu', this.mu], ['logvar', this.logvar], ['decode', this.decode], ['output', this.output]];
  }

  override describe(): string {
    return `VAE ${[this.size, ...this.hidden, this.o.latent, ...[...this.hidden].reverse(), this.size].join('→')}`;
  }

  override exportMetadata(): Record<string, string> {
    const { width, height, latent } = this.o;
    return { 'ferry.task': 'image-generation', 'ferry.image': JSON.stringify({ width, height, channels: this.channels, latent }) };
  }

  /** [N, C·H·W] rows, whatever image shape the input was given in */
  private rows(x: Value): Value {
    const per = x.shape.slice(1).reduce((a, b) => a * b, 1);
    if (x.dtype !== 'FP32' || x.rank < 2 || per !== this.size) {
      throw shapeError(`expects images [N, ${this.channels}, ${this.o.height}, ${this.o.width}] or [N, ${this.size}] (FP32), got ${x.dtype} ${fmtShape(x.shape)}`);
    }
    return x.rank === 2 ? x : F.flatten(x, 1);
  }

  private encoder(x: Value, ctx: ForwardContext): { mu: Value; logvar: Value } {
    const h = this.encode.forward(x, ctx);
    return { mu: this.mu.forward(h, ctx), logvar: this.logvar.forward(h, ctx) };
  }

  private logits(z: Value, ctx: ForwardContext): Value {
    return this.output.forward(this.decode.forward(z, ctx), ctx);
  }

  private image(z: Value, ctx: ForwardContext): Value {
    return F.reshape(F.sigmoid(this.logits(z, ctx)), [-1, this.channels, this.o.height, this.o.width]);
  }

  /** The reconstruction through the mean code μ (no sampling): [N, C, H, W]. */
  forward(x: Value, ctx: ForwardContext): Value {
    return this.image(this.encoder(this.rows(x), ctx).mu, ctx);
  }

  override objective(input: Value, ctx: ForwardContext): Objective {
    const x = this.rows(input);
    const { mu, logvar } = this.encoder(x, ctx);
    const std = F.exp(F.mulScalar(logvar, 0.5));
    const z = F.add(mu, F.mul(std, ctx.normalNoise([-1, this.o.latent])));
    const logits = this.logits(z, ctx);
    const reconstruction = F.meanAll(F.reduceSum(F.sub(F.softplus(logits), F.mul(logits, x)), [1]));
    const inside = F.sub(F.sub(F.addScalar(logvar, 1), F.mul(mu, mu)), F.mul(std, std));
    const kl = F.mulScalar(F.meanAll(F.reduceSum(inside, [1])), -0.5);
    const loss = F.add(reconstruction, this.beta === 1 ? kl : F.mulScalar(kl, this.beta));
    return { loss, terms: { reconstruction, kl } };
  }

  override serve(input: ServedInput, ctx: ForwardContext): Record<string, Value> {
    return { image: this.image(input('z', [this.o.latent]), ctx) };
  }
}
