// A trained decoder (the training engine's DecoderLM: an ONNX file with `logits` only, its weights as
// initializers named like its parameters, and ferry.decoder / ferry.vocab metadata) turned into the
// two files Ferry serves it as: ONNX with a KV cache for Ferry's generation loop, and GGUF for
// llama.cpp. Both carry exactly the trained weights.
import { FerryError } from '../core/errors.js';
import { inspectOnnx } from '../graph/onnx.js';
import { CharVocab } from '../text/char-vocab.js';
import { readFloatInitializers } from '../training/weights.js';
import { llamaGguf, type DecoderConfig } from './gguf/llama-export.js';
import { llamaOnnx } from './onnx-export.js';

interface Decoder {
  readonly params: Map<string, Float32Array>;
  readonly cfg: DecoderConfig;
  readonly vocab: CharVocab;
  readonly metadata: Record<string, string>;
}

/** A decoder's shape and vocabulary from its metadata_props (ferry.decoder, ferry.vocab). */
export function decoderMetadata(meta: Readonly<Record<string, string>>): { cfg: DecoderConfig; vocab: CharVocab } {
  try {
    const cfg = JSON.parse(meta['ferry.decoder'] ?? 'null') as DecoderConfig;
    if (![cfg?.heads, cfg?.dim, cfg?.layers, cfg?.context].every((n) => Number.isInteger(n) && n > 0)) throw new Error('bad decoder shape');
    return { cfg, vocab: CharVocab.fromJSON(JSON.parse(meta['ferry.vocab'] ?? 'null')) };
  } catch {
    throw new FerryError('INVALID_ARGUMENT', 'a text-generation model must carry ferry.decoder ({vocab, context, dim, heads, layers, ffn, eps, ropeBase}) and ferry.vocab (a Ferry character vocabulary); export it with Ferry');
  }
}

/** The decoder in a text-generation model Ferry trained (with its KV cache or without); undefined
 *  for any other model. */
function readDecoder(onnx: Uint8Array): (Decoder & { hasCache: boolean }) | undefined {
  const summary = inspectOnnx(onnx);
  const meta = summary.metadata;
  if (meta['ferry.task'] !== 'text-generation') return undefined;
  const params = new Map([...readFloatInitializers(onnx)].map(([name, t]) => [name, t.data]));
  const hasCache = summary.inputs.some((i) => i.name.startsWith('past_key.'));
  return { params, ...decoderMetadata(meta), metadata: meta, hasCache };
}

/** What a trained model is registered as: a decoder gets its KV cache; anything else is unchanged. */
export function servableOnnx(onnx: Uint8Array): Uint8Array {
  const d = readDecoder(onnx);
  return d && !d.hasCache ? llamaOnnx(d.params, d.cfg, d.metadata) : onnx;
}

/** The trained decoder as a GGUF file in the llama architecture, with its vocabulary. */
export function decoderGguf(onnx: Uint8Array, name: string): Uint8Array {
  const d = readDecoder(onnx);
  if (!d) throw new FerryError('INVALID_ARGUMENT', 'only a text-generation model Ferry trained can be written as GGUF');
  return llamaGguf(d.params, d.cfg, { tokens: d.vocab.tokens, scores: d.vocab.scores, types: d.vocab.types, bosId: CharVocab.BOS, eosId: CharVocab.EOS, unkId: CharVocab.UNK }, { name });
}
