// The worker thread a training job runs in: the dataset, the graphs and every onnxruntime step stay
// off the server's event loop, so serving latency does not move while a job trains. The worker
// writes its own checkpoints (atomically, after each epoch) and hands the trained model back to the
// main thread, which owns the registry.
import { parentPort, workerData } from 'node:worker_threads';
import { FerryError } from '../../core/errors.js';
import { rmSync } from 'node:fs';
import { CheckpointError, readCheckpoint, writeCheckpoint } from '../checkpoint.js';
import { runTraining } from '../run.js';
import type { TrainSpec } from '../spec.js';
import type { StepProgress } from '../trainer.js';
import type { EpochMetrics, TrainingRecord } from '../record.js';

export interface JobWorkerData {
  readonly spec: TrainSpec;
  readonly baseDir: string;
  readonly parent?: { model: string; version: number; onnx: Uint8Array; pruned?: readonly string[] };
  readonly checkpointFile: string;
  readonly threads: number;
}

export type JobWorkerMessage =
  | { type: 'started'; resumedFromEpoch?: number; history?: EpochMetrics[] }
  | { type: 'progress'; progress: StepProgress }
  | { type: 'epoch'; metrics: EpochMetrics }
  | { type: 'done'; onnx: Uint8Array; record: TrainingRecord }
  | { type: 'error'; code: string; message: string };

// Progress is sent at most this often; each epoch's end is always sent.
const PROGRESS_EVERY_MS = 250;

const port = parentPort!;
const data = workerData as JobWorkerData;
const post = (m: JobWorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
let cancelled = false;
port.on('message', (m: { type: string }) => {
  if (m.type === 'cancel') cancelled = true;
});

try {
  let resume;
  try {
    resume = readCheckpoint(data.checkpointFile);
  } catch (err) {
    // a checkpoint cut short by a crash of the machine: the job starts over rather than failing
    if (!(err instanceof CheckpointError)) throw err;
    rmSync(data.checkpointFile, { force: true });
  }
  post({ type: 'started', ...(resume ? { resumedFromEpoch: resume.epoch, history: [...resume.history] } : {}) });
  let lastProgress = 0;
  const result = await runTraining({
    spec: data.spec, baseDir: data.baseDir, parent: data.parent, resume, intraOpThreads: data.threads,
    hooks: {
      onProgress: (p) => {
        const now = performance.now();
        if (now - lastProgress < PROGRESS_EVERY_MS && p.step !== p.stepsPerEpoch) return;
        lastProgress = now;
        post({ type: 'progress', progress: p });
      },
      onEpoch: (metrics, checkpoint) => {
        writeCheckpoint(data.checkpointFile, checkpoint);
        post({ type: 'epoch', metrics });
      },
      isCancelled: () => cancelled,
    },
  });
  const onnx = result.onnx.slice(); // its own buffer, to transfer without copying
  post({ type: 'done', onnx, record: result.record }, [onnx.buffer as ArrayBuffer]);
} catch (err) {
  post({ type: 'error', code: err instanceof FerryError ? err.code : 'INTERNAL', message: (err as Error).message });
}
port.close();
