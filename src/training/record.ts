// What a registered version remembers about the training that made it.
import type { DatasetRecord } from './data/dataset.js';
import type { TrainSpec } from './spec.js';

export interface EpochMetrics {
  /** 1-based */
  readonly epoch: number;
  readonly trainLoss: number;
  readonly trainAccuracy?: number;
  readonly testLoss: number;
  readonly testAccuracy?: number;
  /** F1 of the second class (e.g. 'spam'), for two-class models */
  readonly testF1?: number;
  /** the terms of a self-scoring network's loss, means per example (a VAE's reconstruction and kl) */
  readonly trainTerms?: Readonly<Record<string, number>>;
  readonly testTerms?: Readonly<Record<string, number>>;
  readonly learningRate: number;
  readonly seconds: number;
  readonly samplesPerSec: number;
}

export interface TrainingRecord {
  readonly spec: TrainSpec;
  readonly dataset: DatasetRecord;
  readonly seed: number;
  readonly epochs: readonly EpochMetrics[];
  /** seconds spent training, summed over resumed runs */
  readonly wallSeconds: number;
  readonly ferryVersion: string;
  readonly inputShape: readonly number[];
  readonly classes?: readonly string[];
  /** the version fine-tuning started from */
  readonly parent?: { readonly model: string; readonly version: number };
  readonly resumedFromEpoch?: number;
  /** onnxruntime threads: results are bit-for-bit reproducible for a seed at one thread count;
   *  another count may change the last digits (sums are split differently) */
  readonly threads: number;
}
