// Reading trained weights back out of an ONNX model: fine-tuning starts from a registered version's
// initializers, matched to the new network's parameters by name.
import { decodeModel } from '../graph/onnx.js';
import { OnnxDataType } from '../graph/dtypes.js';

export function readFloatInitializers(onnx: Uint8Array): Map<string, { dims: number[]; data: Float32Array }> {
  const model = decodeModel(onnx);
  const out = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataType !== OnnxDataType.FLOAT || !t.name) continue;
    const dims = t.dims.map(Number);
    let data: Float32Array;
    if (t.rawData && t.rawData.length > 0) {
      data = new Float32Array(t.rawData.slice().buffer, 0, t.rawData.length / 4);
    } else {
      data = Float32Array.from(t.floatData);
    }
    out.set(t.name, { dims, data });
  }
  return out;
}

/** Key/value strings stored in the model (metadata_props). */
export function readMetadata(onnx: Uint8Array): Record<string, string> {
  const model = decodeModel(onnx);
  return Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
}
