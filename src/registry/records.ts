// What the registry remembers about models, versions and aliases. A version is immutable once written.
import type { Signature } from '../runtimes/runtime.js';
import type { ModelConfig } from './model-config.js';

export type ModelFormat = 'onnx' | 'gguf';

export interface VersionRecord {
  readonly model: string;
  readonly version: number;
  /** onnx: tensors in, tensors out (V2 infer); gguf: a generative model (the OpenAI routes) */
  readonly format: ModelFormat;
  /** where the ArtifactStore keeps the file */
  readonly artifactKey: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  /** ISO-8601 */
  readonly createdAt: string;
  readonly signature: Signature;
  readonly config: ModelConfig;
  /** free-form facts: source, description, lineage (later: training record) */
  readonly metadata: Readonly<Record<string, unknown>>;
}

export type NewVersion = Omit<VersionRecord, 'version' | 'createdAt'> & {
  /** the tenant a new model belongs to; null or absent: no tenant (public, managed by the admin
   *  tenant). Ignored when the model already has live versions: a model's owner is set once. */
  readonly owner?: string | null;
};

/** Who may see a model: its owning tenant (null = public) and the tenants it is shared with. */
export interface ModelAccess {
  readonly owner: string | null;
  readonly sharedWith: readonly string[];
}

export interface ModelSummary {
  readonly name: string;
  readonly createdAt: string;
  readonly versions: readonly number[];
  readonly latestVersion: number;
  readonly aliases: Readonly<Record<string, number>>;
}
