// What the training API sends, as the dashboard reads it (src/training/jobs/job.ts, record.ts and
// trainer.ts on the server). A spec stays an open JSON object here: the server checks it and names
// the field when something is wrong, so the page never second-guesses it.
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const FINISHED: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export interface Spec {
  readonly name: string;
  readonly description?: string;
  readonly epochs: number;
  readonly dataset: { readonly type: string; readonly [field: string]: unknown };
  readonly [field: string]: unknown;
}

export interface EpochMetrics {
  /** 1-based */
  readonly epoch: number;
  readonly trainLoss: number;
  readonly trainAccuracy?: number;
  readonly testLoss: number;
  readonly testAccuracy?: number;
  readonly learningRate: number;
  readonly seconds: number;
  readonly samplesPerSec: number;
}

export interface StepProgress {
  /** 1-based */
  readonly epoch: number;
  readonly epochs: number;
  /** steps done in this epoch */
  readonly step: number;
  readonly stepsPerEpoch: number;
  /** running means over this epoch so far */
  readonly loss: number;
  readonly accuracy?: number;
  readonly samplesPerSec: number;
}

export interface ModelVersionRef {
  readonly model: string;
  readonly version: number;
}

export interface JobRecord {
  readonly id: string;
  readonly state: JobState;
  readonly spec: Spec;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly epochs: readonly EpochMetrics[];
  readonly progress?: StepProgress;
  readonly error?: string;
  /** the version the job registered, once succeeded */
  readonly result?: ModelVersionRef;
  readonly resumedFromEpoch?: number;
}

export type JobEvent =
  | { readonly type: 'state'; readonly state: JobState; readonly resumedFromEpoch?: number }
  | { readonly type: 'progress'; readonly progress: StepProgress }
  | { readonly type: 'epoch'; readonly metrics: EpochMetrics }
  | { readonly type: 'done'; readonly state: JobState; readonly result?: ModelVersionRef; readonly error?: string }
  | { readonly type: 'interrupted'; readonly message: string };

export interface Recipe {
  readonly name: string;
  readonly description: string;
  readonly spec: Spec;
}
