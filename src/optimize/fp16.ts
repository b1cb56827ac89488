// FP16 weight storage: float32 initializers are stored as FLOAT16 and turned back into float32 by a
// Cast where the graph reads them. The file's weights halve; the graph's inputs, outputs and every
// op still work in float32, so clients send and receive exactly what they did before.
//
//   const { model, converted } = toFp16Weights(readFileSync('models/mnist-mlp.onnx'));
//   // converted: ['0.weight', '0.bias', '2.weight', '2.bias']; model is ~2x smaller
//
// onnxruntime folds each Cast of a constant at load time, so a session holds float32 weights again
// and runs as fast as the original: this trades storage and transfer, not speed or memory.
import { attr } from '../graph/builder.js';
import { OnnxDataType } from '../graph/dtypes.js';
import { decodeModel, encodeModel, inspectOnnx } from '../graph/onnx.js';
import { toHalf } from '../llm/gguf/write.js';
import { floatsOf, GraphEdit } from './graph-edit.js';

export interface Fp16Result {
  model: Uint8Array;
  /** names of the initializers now stored as FLOAT16 */
  converted: string[];
}

// Below this many elements a tensor saves nothing worth a Cast node, and such tensors are usually
// constants (epsilons, masks of -1e9, attention scales) whose exact value matters more than bytes.
const MIN_ELEMENTS = 16;
const HALF_MAX = 65504;

export function toFp16Weights(bytes: Uint8Array): Fp16Result {
  inspectOnnx(bytes); // OnnxFormatError (INVALID_ARGUMENT) for anything that is not a usable model
  const model = decodeModel(bytes);
  const edit = new GraphEdit(model.graph!);
  const converted: string[] = [];
  const casts = [];
  for (const t of [...edit.graph.initializer]) {
    const name = t.name ?? '';
    if (t.dataType !== OnnxDataType.FLOAT || edit.isGraphInput(name)) continue;
    const data = floatsOf(t);
    // A value past FLOAT16's range would become infinity and change what the model computes.
    if (data.length < MIN_ELEMENTS || data.some((v) => Math.abs(v) > HALF_MAX)) continue;
    const half = edit.addInitializer(`${name}_fp16`, OnnxDataType.FLOAT16, t.dims.map(Number), Uint16Array.from(data, toHalf));
    // The Cast takes the original name, so every reader (subgraphs included) is left untouched.
    casts.push(edit.node('Cast', [half], [name], { to: attr.int(OnnxDataType.FLOAT) }, `${name}_to_float`));
    edit.graph.initializer.splice(edit.graph.initializer.indexOf(t), 1);
    converted.push(name);
  }
  edit.graph.node.unshift(...casts);
  return { model: encodeModel(model), converted };
}
