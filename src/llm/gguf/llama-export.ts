// A Ferry-trained decoder (src/training/nn/decoder.ts, llama's math) written as a GGUF file in the
// `llama` architecture, with its SentencePiece-style vocabulary, so llama.cpp (node-llama-cpp)
// serves it and computes the same logits as Ferry's ONNX export.
//
// Ferry's Linear stores weights [in, out]; GGUF wants PyTorch's [out, in] with dims written reversed,
// so every projection is transposed on the way out. Norm weights stay F32 whatever `type` says
// (llama.cpp cannot use F16 norms).
import type { DecoderLMOptions } from '../../training/nn/decoder.js';
import { gv, type GgmlTypeName, type GgufValue } from './format.js';
import { writeGguf, type GgufTensorIn } from './write.js';

/** The decoder's hyper-parameters, as the trained model's `ferry.decoder` metadata states them. */
export type DecoderConfig = Required<DecoderLMOptions>;

/** A SentencePiece-style vocabulary: one entry per id. Types: 1 normal, 2 unknown, 3 control, 6 byte. */
export interface GgufVocab {
  readonly tokens: readonly string[];
  readonly scores: readonly number[];
  readonly types: readonly number[];
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
}

export interface LlamaExportOptions {
  readonly name: string;
  /** weights' storage type; F32 keeps llama.cpp's logits equal to Ferry's */
  readonly type?: GgmlTypeName;
  /** a Jinja chat template for /v1/chat/completions; default PLAIN_CHAT_TEMPLATE */
  readonly chatTemplate?: string;
}

/** "role: content" lines, then "assistant:": a template for models that were never tuned to chat. */
export const PLAIN_CHAT_TEMPLATE =
  "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}";

/** [rows, cols] row-major → [cols, rows] row-major */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  if (a.length !== rows * cols) throw new Error(`expected ${rows}×${cols} values, got ${a.length}`);
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

export function llamaGguf(params: ReadonlyMap<string, Float32Array>, cfg: DecoderConfig, vocab: GgufVocab, opts: LlamaExportOptions): Uint8Array {
  const { vocab: V, dim: D, ffn: F, heads, layers } = cfg;
  if (vocab.tokens.length !== V) throw new Error(`the vocabulary has ${vocab.tokens.length} tokens but the model ${V}`);
  const type = opts.type ?? 'F32';
  const get = (name: string, size: number): Float32Array => {
    const p = params.get(name);
    if (!p) throw new Error(`the decoder has no parameter ${name}`);
    if (p.length !== size) throw new Error(`parameter ${name} has ${p.length} values, expected ${size}`);
    return p;
  };
  /** a Ferry Linear [in, out] as a GGUF weight of PyTorch shape [out, in] */
  const linear = (gguf: string, ferry: string, inF: number, outF: number): GgufTensorIn =>
    ({ name: gguf, shape: [outF, inF], type, data: transpose(get(ferry, inF * outF), inF, outF) });
  const norm = (gguf: string, ferry: string): GgufTensorIn => ({ name: gguf, shape: [D], type: 'F32', data: get(ferry, D) });

  const tensors: GgufTensorIn[] = [
    { name: 'token_embd.weight', shape: [V, D], type, data: get('tokens', V * D) },
    norm('output_norm.weight', 'norm.weight'),
    linear('output.weight', 'output.weight', D, V),
  ];
  for (let i = 0; i < layers; i++) {
    const b = `blocks.${i}`;
    tensors.push(
      norm(`blk.${i}.attn_norm.weight`, `${b}.attnNorm.weight`),
      linear(`blk.${i}.attn_q.weight`, `${b}.attention.q.weight`, D, D),
      linear(`blk.${i}.attn_k.weight`, `${b}.attention.k.weight`, D, D),
      linear(`blk.${i}.attn_v.weight`, `${b}.attention.v.weight`, D, D),
      linear(`blk.${i}.attn_output.weight`, `${b}.attention.out.weight`, D, D),
      norm(`blk.${i}.ffn_norm.weight`, `${b}.ffnNorm.weight`),
      linear(`blk.${i}.ffn_gate.weight`, `${b}.gate.weight`, D, F),
      linear(`blk.${i}.ffn_up.weight`, `${b}.up.weight`, D, F),
      linear(`blk.${i}.ffn_down.weight`, `${b}.down.weight`, F, D),
    );
  }
  const metadata: [string, GgufValue][] = [
    ['general.architecture', gv.str('llama')],
    ['general.name', gv.str(opts.name)],
    ['general.file_type', gv.u32(type === 'F32' ? 0 : 1)],
    ['llama.context_length', gv.u32(cfg.context)],
    ['llama.embedding_length', gv.u32(D)],
    ['llama.block_count', gv.u32(layers)],
    ['llama.feed_forward_length', gv.u32(F)],
    ['llama.attention.head_count', gv.u32(heads)],
    ['llama.attention.head_count_kv', gv.u32(heads)],
    ['llama.attention.layer_norm_rms_epsilon', gv.f32(cfg.eps)],
    ['llama.rope.dimension_count', gv.u32(D / heads)],
    ['llama.rope.freq_base', gv.f32(cfg.ropeBase)],
    ['tokenizer.ggml.model', gv.str('llama')],
    ['tokenizer.ggml.tokens', gv.strings(vocab.tokens)],
    ['tokenizer.ggml.scores', gv.f32s(vocab.scores)],
    ['tokenizer.ggml.token_type', gv.i32s(vocab.types)],
    ['tokenizer.ggml.bos_token_id', gv.u32(vocab.bosId)],
    ['tokenizer.ggml.eos_token_id', gv.u32(vocab.eosId)],
    ['tokenizer.ggml.unknown_token_id', gv.u32(vocab.unkId)],
    // Ferry's vocabulary marks spaces itself; llama.cpp's default would add a '▁' before every text
    ['tokenizer.ggml.add_space_prefix', gv.bool(false)],
    ['tokenizer.ggml.add_bos_token', gv.bool(true)],
    ['tokenizer.chat_template', gv.str(opts.chatTemplate ?? PLAIN_CHAT_TEMPLATE)],
  ];
  return writeGguf(metadata, tensors);
}
