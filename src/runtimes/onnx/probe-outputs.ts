// Runs batches through an in-memory model and hands each batch's requested outputs to a callback:
// what static quantization's calibration needs (the caller declares the intermediate tensors it wants
// to watch as extra graph outputs). Lives here because this folder alone imports onnxruntime-node.
//
//   const batches = await probeOutputs(modelWithExtraOutputs, ['t3', 't8'], [{ input }], (values) => observe(values));
import { FerryError } from '../../core/errors.js';
import type { NamedTensors, Tensor } from '../../core/tensor.js';
import { openGraphSession, type Session } from './session.js';

/** Feeds `batches` one by one; returns how many ran. Only FP32 outputs are passed to `visit` (the
 *  tensors calibration watches are float activations). A batch the model cannot run is the
 *  caller's input, so it becomes INVALID_ARGUMENT naming the batch and the inputs the model takes. */
export async function probeOutputs(
  model: Uint8Array,
  outputs: readonly string[],
  batches: AsyncIterable<NamedTensors> | Iterable<NamedTensors>,
  visit: (values: Readonly<Record<string, Float32Array>>) => void,
  options: { intraOpThreads?: number } = {},
): Promise<number> {
  let session: Session;
  try {
    session = await openGraphSession(model, { intraOpThreads: options.intraOpThreads });
  } catch (err) {
    // openGraphSession calls a failure INTERNAL (its graphs are Ferry's own); here the model is the user's.
    throw new FerryError('INVALID_ARGUMENT', `onnxruntime could not load the model to calibrate: ${reason(err)}`, { cause: err });
  }
  const wanted = session.signature.inputs.map((i) => `${i.name} ${i.dtype} [${i.shape.join(', ')}]`).join(', ');
  let count = 0;
  try {
    for await (const batch of batches) {
      let values: NamedTensors;
      try {
        values = await session.run(batch, outputs);
      } catch (err) {
        throw new FerryError('INVALID_ARGUMENT', `calibration batch ${count} did not run (${reason(err)}); each batch must hold the model's inputs: ${wanted}`, { cause: err });
      }
      const floats: Record<string, Float32Array> = {};
      for (const [name, t] of Object.entries(values)) if (isFloat(t)) floats[name] = t.data;
      visit(floats);
      count++;
    }
  } finally {
    await session.release();
  }
  return count;
}

function isFloat(t: Tensor): t is Tensor & { data: Float32Array } {
  return t.dtype === 'FP32';
}

/** onnxruntime's own words, without the wrapper openGraphSession puts around them. */
function reason(err: unknown): string {
  const inner = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return inner instanceof Error ? inner.message : String(inner);
}
