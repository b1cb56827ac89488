// A text model's variant stores its tokenizer compactly: the JSON under 'ferry.tokenizer' moves,
// brotli-compressed and base64-encoded, to 'ferry.tokenizer.brotli', which the text runtime reads
// as well (src/tasks/text-model.ts, tokenizerText). The original is never rewritten.
//
//   const { model, bytes } = compactTokenizerOf(readFileSync('spam-transformer.onnx'));
//   // bytes: { original: 105091, variant: 45036 }
//
// Why. A text model carries its tokenizer in the file so the file serves on its own; for the spam
// transformer that is 105 KB beside 0.66 MB of int8 weights, which no weight transformation
// shrinks: int8 left the file 3.31× smaller while its weights were 3.74× smaller. Compact, the
// tokenizer is 45 KB and the file 3.59× smaller. Part of a text model's size ratio is therefore
// this step, and the report lists it as one.
import { decodeModel, encodeModel } from '../graph/onnx.js';
import { compactTokenizer, TEXT_TASK_KEYS } from '../tasks/text-model.js';

export interface CompactResult {
  model: Uint8Array;
  /** the tokenizer's metadata value in bytes, before and after; undefined when there was none */
  bytes?: { original: number; variant: number };
}

export function compactTokenizerOf(onnx: Uint8Array): CompactResult {
  const model = decodeModel(onnx);
  const entry = model.metadataProps.find((p) => p.key === TEXT_TASK_KEYS.tokenizer);
  if (entry?.value === undefined || entry.value === null) return { model: onnx };
  const packed = compactTokenizer(entry.value);
  const original = Buffer.byteLength(entry.value, 'utf8');
  // a tokenizer so small that base64 outweighs what brotli saves stays as it is
  if (packed.length >= original) return { model: onnx };
  model.metadataProps = [
    ...model.metadataProps.filter((p) => p.key !== TEXT_TASK_KEYS.tokenizer && p.key !== TEXT_TASK_KEYS.tokenizerBrotli),
    { key: TEXT_TASK_KEYS.tokenizerBrotli, value: packed },
  ];
  return { model: encodeModel(model), bytes: { original, variant: packed.length } };
}
