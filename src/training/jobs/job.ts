// A training job as the API shows it, and the events its stream carries.
import type { EpochMetrics } from '../record.js';
import type { TrainSpec } from '../spec.js';
import type { StepProgress } from '../trainer.js';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const FINISHED: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export interface JobRecord {
  readonly id: string;
  readonly state: JobState;
  readonly spec: TrainSpec;
  /** fine-tuning parent, resolved once when the job was created so a resumed job uses the same one */
  readonly parent?: { readonly model: string; readonly version: number };
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  /** metrics of every finished epoch */
  readonly epochs: readonly EpochMetrics[];
  /** the latest step progress of the running epoch */
  readonly progress?: StepProgress;
  readonly error?: string;
  /** the registered version, once succeeded */
  readonly result?: { readonly model: string; readonly version: number };
  /** set when the job continued from a checkpoint after the server stopped */
  readonly resumedFromEpoch?: number;
}

export type JobEvent =
  | { readonly type: 'state'; readonly state: JobState; readonly resumedFromEpoch?: number }
  | { readonly type: 'progress'; readonly progress: StepProgress }
  | { readonly type: 'epoch'; readonly metrics: EpochMetrics }
  | { readonly type: 'done'; readonly state: JobState; readonly result?: JobRecord['result']; readonly error?: string }
  /** the server is stopping; the job continues from its last checkpoint when it starts again */
  | { readonly type: 'interrupted'; readonly message: string };
