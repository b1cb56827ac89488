// The one interface every inference backend implements. A runtime knows nothing of HTTP, queues or
// the registry: it loads an artifact and runs named tensors through it.
import type { DType, NamedTensors } from '../core/tensor.js';

export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  /** -1 marks a dimension the model leaves open (symbolic or unknown) */
  readonly shape: readonly number[];
}

export interface Signature {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

export interface ModelArtifact {
  /** a local file the runtime can read; remote stores materialise one first */
  readonly path: string;
  readonly format: 'onnx';
}

export interface RuntimeOptions {
  /** threads one model may use for a single run; 1 suits small models on few cores */
  readonly intraOpThreads: number;
}

export interface LoadedModel {
  readonly signature: Signature;
  /**
   * Runs one (possibly merged) batch. `outputs` limits what is computed, when the runtime can.
   * Rejects with UNAVAILABLE when this loaded model can no longer run at all (its worker thread died);
   * the pool then forgets it and loads the version again on the next request.
   */
  infer(inputs: NamedTensors, outputs?: readonly string[]): Promise<NamedTensors>;
  /**
   * Refuses one request before it joins a batch (throws INVALID_ARGUMENT), for models whose inputs
   * carry more than shapes can say (text). A bad request must fail alone: once merged, an error in
   * the batch fails every request in it. `parameters` are the request's own (V2 `parameters`, or
   * what an OpenAI-style body adds), for models that take options per request.
   */
  check?(inputs: NamedTensors, parameters?: Readonly<Record<string, unknown>>): void;
  unload(): Promise<void>;
}

export interface Runtime {
  readonly name: string;
  load(artifact: ModelArtifact, options: RuntimeOptions): Promise<LoadedModel>;
}
