// Which playground fits a model version, read from what the registry knows about it: the file format,
// the task its file declares (metadata.task) and its tensor signature. Pure, so it is easy to test.

export interface TensorSpec {
  readonly name: string;
  readonly dtype: string;
  /** -1: a dimension the model leaves open */
  readonly shape: readonly number[];
}

export interface Signature {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/** A version as GET /api/models/:name lists it. */
export interface ModelVersion {
  readonly model: string;
  readonly version: number;
  readonly format: 'onnx' | 'gguf';
  readonly signature: Signature;
  readonly config: Readonly<Record<string, unknown>>;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly loaded?: boolean;
}

export interface ModelDetail {
  readonly name: string;
  readonly latestVersion: number;
  readonly aliases: Readonly<Record<string, number>>;
  readonly versions: readonly ModelVersion[];
}

export type PlaygroundKind = 'digits' | 'text-classifier' | 'chat' | 'images' | 'tensors';

export const KIND_LABELS: Record<PlaygroundKind, string> = {
  digits: 'Draw a digit',
  'text-classifier': 'Classify text',
  chat: 'Chat',
  images: 'Generate images',
  tensors: 'Tensors (JSON)',
};

/** The version a plain model name resolves to on the server: the "prod" alias, else the newest. */
export function servedVersion(m: ModelDetail): ModelVersion | undefined {
  const n = m.aliases['prod'] ?? m.latestVersion;
  return m.versions.find((v) => v.version === n) ?? m.versions.at(-1);
}

/** A 28×28 greyscale image in, ten scores out: [N, 784], [N, 1, 28, 28] or [N, 28, 28]. */
export function isDigitModel(sig: Signature): boolean {
  const input = sig.inputs.length === 1 ? sig.inputs[0]! : undefined;
  if (!input || input.dtype !== 'FP32' || input.shape.length < 2) return false;
  const rest = input.shape.slice(1);
  const image = rest.join(',') === '784' || rest.join(',') === '1,28,28' || rest.join(',') === '28,28';
  return image && digitScores(sig) !== undefined;
}

/** The output to read ten class scores from: probabilities when the model gives them, else the
 *  first [N, 10] output (logits, which the playground turns into probabilities). */
export function digitScores(sig: Signature): { readonly name: string; readonly probabilities: boolean } | undefined {
  const ten = sig.outputs.filter((o) => o.dtype === 'FP32' && o.shape.length === 2 && o.shape[1] === 10);
  const probs = ten.find((o) => o.name === 'probabilities');
  if (probs) return { name: probs.name, probabilities: true };
  return ten[0] ? { name: ten[0].name, probabilities: false } : undefined;
}

export function playgroundFor(v: ModelVersion): PlaygroundKind {
  const task = v.metadata['task'];
  if (v.format === 'gguf' || task === 'text-generation') return 'chat';
  if (task === 'text-classification') return 'text-classifier';
  if (task === 'image-generation') return 'images';
  if (isDigitModel(v.signature)) return 'digits';
  return 'tensors';
}

/** The playgrounds a version can use: its own first; any ONNX model can also take raw tensors. */
export function playgroundsFor(v: ModelVersion): PlaygroundKind[] {
  const own = playgroundFor(v);
  return own === 'tensors' || v.format === 'gguf' ? [own] : [own, 'tensors'];
}

/** The request shape with open dimensions set to 1 — what one example of this input looks like. */
export function concreteShape(shape: readonly number[]): number[] {
  return shape.map((d) => (d < 0 ? 1 : d));
}

/** Values in one tensor of this shape with open dimensions as 1 (a scalar, [], holds one). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * Math.max(1, d), 1);
}
