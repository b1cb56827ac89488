// The worker thread an optimization runs in (see pipeline.ts for why). The main thread owns the
// registry: it sends the parent's bytes and record in, and gets the variant and its report back.
import { parentPort, workerData } from 'node:worker_threads';
import { FerryError } from '../core/errors.js';
import { runPipeline, type PipelineInput } from './pipeline.js';
import type { OptimizationReport } from './report.js';

export type OptimizeWorkerMessage =
  | { type: 'phase'; phase: string }
  | { type: 'done'; onnx: Uint8Array; report: OptimizationReport }
  | { type: 'error'; code: string; message: string };

const port = parentPort!;
const post = (m: OptimizeWorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
let cancelled = false;
port.on('message', (m: { type: string }) => {
  if (m.type === 'cancel') cancelled = true;
});

try {
  const result = await runPipeline(workerData as PipelineInput, {
    isCancelled: () => cancelled,
    onPhase: (phase) => post({ type: 'phase', phase }),
  });
  const onnx = result.onnx.slice(); // its own buffer, to transfer without copying
  post({ type: 'done', onnx, report: result.report }, [onnx.buffer as ArrayBuffer]);
} catch (err) {
  post({ type: 'error', code: err instanceof FerryError ? err.code : 'INTERNAL', message: (err as Error).message });
}
port.close();
