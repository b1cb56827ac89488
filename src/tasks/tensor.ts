// The raw-tensor task: requests arrive as named tensors and leave as named tensors. Its one job is to
// check a request against the model's signature before it reaches a queue, so a mistake gets a message
// naming the tensor and what was expected instead of an error from deep inside the runtime.
import { FerryError } from '../core/errors.js';
import type { NamedTensors } from '../core/tensor.js';
import type { Signature } from '../runtimes/runtime.js';

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;

export function checkInputs(sig: Signature, inputs: NamedTensors): void {
  const expected = new Map(sig.inputs.map((s) => [s.name, s]));
  for (const [name, t] of Object.entries(inputs)) {
    const spec = expected.get(name);
    if (!spec) {
      throw new FerryError('INVALID_ARGUMENT', `unknown input "${name.slice(0, 100)}"; this model's inputs are ${sig.inputs.map((s) => `"${s.name}"`).join(', ')}`);
    }
    if (t.dtype !== spec.dtype) throw new FerryError('INVALID_ARGUMENT', `input "${name}" has datatype ${t.dtype} but the model expects ${spec.dtype}`);
    const ok = t.shape.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === t.shape[i]);
    if (!ok) {
      throw new FerryError('INVALID_ARGUMENT', `input "${name}" has shape ${shapeText(t.shape)} but the model expects ${shapeText(spec.shape)} (-1 = any size)`);
    }
  }
  for (const spec of sig.inputs) {
    if (!(spec.name in inputs)) {
      throw new FerryError('INVALID_ARGUMENT', `missing input "${spec.name}" (${spec.dtype}, shape ${shapeText(spec.shape)})`);
    }
  }
}

export function checkOutputs(sig: Signature, names: readonly string[]): void {
  const known = new Set(sig.outputs.map((o) => o.name));
  const seen = new Set<string>();
  for (const n of names) {
    if (!known.has(n)) throw new FerryError('INVALID_ARGUMENT', `unknown output "${n.slice(0, 100)}"; this model's outputs are ${[...known].map((o) => `"${o}"`).join(', ')}`);
    if (seen.has(n)) throw new FerryError('INVALID_ARGUMENT', `output "${n}" is requested twice`);
    seen.add(n);
  }
}
