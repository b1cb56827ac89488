// A job as the page shows it: the record it was opened with, brought up to date by each event of
// its stream. Pure, so the order and repetition of events (a new stream replays the finished
// epochs and the latest progress) is handled in one place.
import { FINISHED, type EpochMetrics, type JobEvent, type JobRecord, type ModelVersionRef, type StepProgress } from './types';

export interface LiveJob {
  readonly job: JobRecord;
  /** one per finished epoch, in epoch order, none repeated */
  readonly epochs: readonly EpochMetrics[];
  readonly progress?: StepProgress;
  /** the running train loss seen since the page opened: x is in epochs (2.5 = half-way through the
   *  third), so it lines up with the per-epoch curves */
  readonly steps: { readonly x: readonly number[]; readonly loss: readonly number[] };
  readonly result?: ModelVersionRef;
  readonly error?: string;
  /** the server is stopping; the job resumes when it starts again */
  readonly interrupted?: string;
}

export function fromRecord(job: JobRecord): LiveJob {
  const live: LiveJob = { job, epochs: [], steps: { x: [], loss: [] }, result: job.result, error: job.error };
  const withEpochs = job.epochs.reduce((l, metrics) => applyEvent(l, { type: 'epoch', metrics }), live);
  return job.progress ? applyEvent(withEpochs, { type: 'progress', progress: job.progress }) : withEpochs;
}

export function applyEvent(live: LiveJob, e: JobEvent): LiveJob {
  switch (e.type) {
    case 'state':
      return { ...live, job: { ...live.job, state: e.state }, interrupted: undefined };
    case 'epoch': {
      const others = live.epochs.filter((m) => m.epoch !== e.metrics.epoch);
      return { ...live, epochs: [...others, e.metrics].sort((a, b) => a.epoch - b.epoch) };
    }
    case 'progress': {
      const p = e.progress;
      const x = p.epoch - 1 + p.step / p.stepsPerEpoch;
      const last = live.steps.x.at(-1);
      // a replayed progress (a reconnect) is already on the curve
      const steps = last !== undefined && x <= last ? live.steps : { x: [...live.steps.x, x], loss: [...live.steps.loss, p.loss] };
      return { ...live, progress: p, steps };
    }
    case 'done':
      return { ...live, job: { ...live.job, state: e.state }, progress: undefined, result: e.result, error: e.error };
    case 'interrupted':
      return { ...live, interrupted: e.message };
  }
}

export const isFinished = (live: LiveJob): boolean => FINISHED.includes(live.job.state);
