// Modules: the building blocks a network is written with. A module owns its parameters (named like
// PyTorch's state dict: '0.weight', '2.bias') and records its forward pass on a tape.
import type { Value } from '../autodiff/tape.js';
import type { Rng } from '../rng.js';

export class Parameter {
  /** empty until `Module.initialize`: a network can be built and checked before any memory is
   *  committed to it (a spec may describe more parameters than the training job allows) */
  data: Float32Array = new Float32Array(0);
  readonly size: number;

  constructor(
    readonly shape: readonly number[],
    /** draws the initial values; called once per training run with the run's seeded generator */
    readonly init: (rng: Rng, size: number) => Float32Array,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }
}

/** What a forward pass may ask of the training step being built. */
export interface ForwardContext {
  /** true while building the training step; false for evaluation and the exported model */
  readonly training: boolean;
  /** the tape value that stands for a parameter in this graph */
  param(p: Parameter): Value;
  /** a keep-mask for dropout, scaled by 1/(1−p), fed from JS on every step so runs are reproducible
   *  (onnxruntime's random ops cannot be seeded per run) */
  dropoutMask(shape: readonly number[], p: number): Value;
  /** standard normal noise of `shape` (the batch is -1), drawn in JS from the run's seeded generator
   *  and fed on every step and evaluation, for the same reason as dropout masks (a VAE's ε) */
  normalNoise(shape: readonly number[]): Value;
}

/** What a network that scores itself returns (see Module.objective). */
export interface Objective {
  /** a scalar: the mean over the batch of what training minimizes */
  readonly loss: Value;
  /** scalars that make up the loss, means over the batch, reported per epoch as trainTerms and
   *  testTerms (a VAE's reconstruction and kl) */
  readonly terms: Readonly<Record<string, Value>>;
}

/** Declares a run-time input of the served graph: `shape` is one example's, the batch is prepended. */
export type ServedInput = (name: string, shape: readonly number[]) => Value;

export abstract class Module {
  /** the name a user wrote, for error messages: 'Linear', 'Conv2d', … */
  abstract readonly kind: string;

  abstract forward(x: Value, ctx: ForwardContext): Value;

  /**
   * For a network whose loss is not one output compared with a target: its own objective, computed
   * from the input alone; a spec trains it with `"loss": "elbo"`. A VAE needs this because its loss
   * reads three tensors of its own (the decoder's logits and the encoder's mean and log-variance) and
   * its target is its input. The alternative, a loss type that is handed a module's extra outputs,
   * would make every network return a bag of named tensors and every loss pick from it; keeping the
   * objective beside the layers that produce those tensors touches only the trainer's one
   * "network output → loss" step.
   */
  objective?(x: Value, ctx: ForwardContext): Objective;

  /** For a network whose served part differs from the one that trains (a VAE serves its decoder):
   *  records the model to register, its inputs declared with `input`, and returns its outputs. */
  serve?(input: ServedInput, ctx: ForwardContext): Record<string, Value>;

  /** what the network's input holds: float features, or integer ids (a network that starts with an
   *  Embedding); a custom module whose input is ids overrides this */
  get inputType(): 'FP32' | 'INT64' {
    return 'FP32';
  }

  /** true for a network that takes sequences of any length up to the one it trained on (a
   *  transformer over token ids): its exported model then has a run-time sequence dimension */
  get variableLength(): boolean {
    return false;
  }

  /** the size of the id table, for a module whose input is ids; checked against the data first */
  get idTableSize(): number | undefined {
    return undefined;
  }

  /** own parameters by local name */
  protected ownParameters(): [string, Parameter][] {
    return [];
  }

  /** child modules by local name */
  children(): [string, Module][] {
    return [];
  }

  /** every parameter of this module and its children, by dotted path */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = this.ownParameters().map(([n, p]) => [prefix + n, p]);
    for (const [n, m] of this.children()) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  /** Draws fresh initial values for every parameter, in a fixed order, from `rng`. */
  initialize(rng: Rng): void {
    for (const [, p] of this.namedParameters()) p.data = p.init(rng, p.size);
  }

  /** key/value strings the exported model carries about this module (its metadata_props), e.g. the
   *  hyper-parameters a converter to another format needs */
  exportMetadata(): Record<string, string> {
    return {};
  }

  /** a one-line description for summaries and errors */
  describe(): string {
    return this.kind;
  }
}

/** PyTorch's default for Linear and Conv: U(−1/√fan_in, 1/√fan_in) for weights and biases. */
export function uniformFanIn(fanIn: number): (rng: Rng, size: number) => Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  return (rng, size) => Float32Array.from({ length: size }, () => rng.uniform(-bound, bound));
}

export const constantInit = (value: number) => (_rng: Rng, size: number): Float32Array => new Float32Array(size).fill(value);

export const normalInit = (std: number) => (rng: Rng, size: number): Float32Array =>
  Float32Array.from({ length: size }, () => std * rng.normal());
