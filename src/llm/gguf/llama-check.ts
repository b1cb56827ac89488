// Checks a GGUF header before llama.cpp sees the file. llama.cpp kills the process, instead of
// failing, on some malformed files (a missing feed_forward_length, duplicate token strings,
// missing byte tokens, F16 norm weights, an odd head size, a KV head count that does not divide the
// head count): each of those is refused here with a message. For the `llama` architecture every
// tensor's name and shape is checked too; other architectures get the general checks, and the
// upload path also loads them once in a child process (llama-probe) before they are registered.
import { GgufError, type GgufHeader } from './read.js';
import type { GgufValue } from './format.js';

export interface LlamaShape {
  readonly architecture: string;
  readonly contextLength: number;
  readonly embedding: number;
  readonly blocks: number;
  readonly heads: number;
  readonly headsKv: number;
  readonly feedForward: number;
  readonly vocab: number;
}

const num = (h: GgufHeader, key: string, type: GgufValue['type'], required: boolean, min = 1): number | undefined => {
  const v = h.metadata.get(key);
  if (v === undefined) {
    if (required) throw new GgufError(`the file has no "${key}"; llama.cpp needs it`);
    return undefined;
  }
  if (v.type !== type) throw new GgufError(`"${key}" is a ${v.type}; llama.cpp expects a ${type}`);
  const n = Number(v.value);
  if (!Number.isFinite(n) || (type !== 'float32' && (!Number.isInteger(n) || n < min))) throw new GgufError(`"${key}" is ${String(v.value)}, which is not a usable value`);
  return n;
};

/** General checks for any GGUF model with a vocabulary; returns the shape llama.cpp will build. */
export function checkGgufModel(h: GgufHeader): LlamaShape {
  const arch = h.metadata.get('general.architecture');
  if (arch?.type !== 'string' || arch.value === '') throw new GgufError('the file has no general.architecture; it is not a model llama.cpp can load');
  const a = arch.value;
  const embedding = num(h, `${a}.embedding_length`, 'uint32', true)!;
  const heads = num(h, `${a}.attention.head_count`, 'uint32', true)!;
  const headsKv = num(h, `${a}.attention.head_count_kv`, 'uint32', false) ?? heads;
  const shape: LlamaShape = {
    architecture: a,
    contextLength: num(h, `${a}.context_length`, 'uint32', true)!,
    embedding,
    blocks: num(h, `${a}.block_count`, 'uint32', true)!,
    heads,
    headsKv,
    feedForward: num(h, `${a}.feed_forward_length`, 'uint32', true)!,
    vocab: 0,
  };
  if (heads % headsKv !== 0) throw new GgufError(`${a}.attention.head_count_kv (${headsKv}) must divide head_count (${heads})`);
  if (embedding % heads !== 0 || (embedding / heads) % 2 !== 0) throw new GgufError(`embedding_length ${embedding} over ${heads} heads must give an even head size`);
  const tokens = h.metadata.get('tokenizer.ggml.tokens');
  if (tokens?.type !== 'array' || tokens.itemType !== 'string' || tokens.value.length === 0) throw new GgufError('the file has no tokenizer.ggml.tokens; Ferry serves models that carry their vocabulary');
  const list = tokens.value as string[];
  const seen = new Set<string>();
  for (const t of list) {
    if (seen.has(t)) throw new GgufError(`token ${JSON.stringify(t).slice(0, 40)} appears twice in tokenizer.ggml.tokens`);
    seen.add(t);
  }
  for (const key of ['tokenizer.ggml.scores', 'tokenizer.ggml.token_type']) {
    const v = h.metadata.get(key);
    if (v !== undefined && (v.type !== 'array' || v.value.length !== list.length)) throw new GgufError(`${key} must be an array with one entry per token (${list.length})`);
  }
  const model = h.metadata.get('tokenizer.ggml.model');
  if (model?.type !== 'string') throw new GgufError('the file has no tokenizer.ggml.model (llama or gpt2)');
  if (model.value === 'llama') {
    for (let b = 0; b < 256; b++) {
      const name = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      if (!seen.has(name)) throw new GgufError(`a SentencePiece vocabulary needs all 256 byte tokens; ${name} is missing`);
    }
  }
  for (const key of ['bos', 'eos', 'unknown', 'padding']) {
    const id = num(h, `tokenizer.ggml.${key}_token_id`, 'uint32', false, 0);
    if (id !== undefined && id >= list.length) throw new GgufError(`tokenizer.ggml.${key}_token_id ${id} is beyond the ${list.length} tokens`);
  }
  for (const t of h.tensors) {
    if (t.name.endsWith('norm.weight') && t.type !== 0) throw new GgufError(`${t.name} must be F32 (type 0); llama.cpp cannot use other types for norms`);
  }
  return { ...shape, vocab: list.length };
}

/** Every tensor the llama architecture needs, with its ggml dims (fastest-varying first). */
function llamaTensors(s: LlamaShape, withOutput: boolean): Map<string, number[]> {
  const hd = s.embedding / s.heads;
  const m = new Map<string, number[]>([['token_embd.weight', [s.embedding, s.vocab]], ['output_norm.weight', [s.embedding]]]);
  if (withOutput) m.set('output.weight', [s.embedding, s.vocab]);
  for (let i = 0; i < s.blocks; i++) {
    m.set(`blk.${i}.attn_norm.weight`, [s.embedding]);
    m.set(`blk.${i}.attn_q.weight`, [s.embedding, s.embedding]);
    m.set(`blk.${i}.attn_k.weight`, [s.embedding, hd * s.headsKv]);
    m.set(`blk.${i}.attn_v.weight`, [s.embedding, hd * s.headsKv]);
    m.set(`blk.${i}.attn_output.weight`, [s.embedding, s.embedding]);
    m.set(`blk.${i}.ffn_norm.weight`, [s.embedding]);
    m.set(`blk.${i}.ffn_gate.weight`, [s.embedding, s.feedForward]);
    m.set(`blk.${i}.ffn_up.weight`, [s.embedding, s.feedForward]);
    m.set(`blk.${i}.ffn_down.weight`, [s.feedForward, s.embedding]);
  }
  return m;
}

/** The general checks, then, for `llama`, the exact tensor set and shapes llama.cpp will demand. */
export function checkLlamaGguf(h: GgufHeader): LlamaShape {
  const s = checkGgufModel(h);
  if (s.architecture !== 'llama') return s;
  const rope = num(h, 'llama.rope.dimension_count', 'uint32', false);
  if (rope !== undefined && rope !== s.embedding / s.heads) throw new GgufError(`llama.rope.dimension_count ${rope} must equal the head size ${s.embedding / s.heads}`);
  num(h, 'llama.attention.layer_norm_rms_epsilon', 'float32', true);
  const want = llamaTensors(s, h.tensors.some((t) => t.name === 'output.weight'));
  const have = new Map(h.tensors.map((t) => [t.name, t]));
  for (const [name, dims] of want) {
    const t = have.get(name);
    if (!t) throw new GgufError(`the llama model has no tensor ${name}`);
    if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])) throw new GgufError(`tensor ${name} is [${t.dims}] but a llama model of this shape needs [${dims}]`);
  }
  const extra = h.tensors.find((t) => !want.has(t.name) && !t.name.startsWith('rope_'));
  if (extra) throw new GgufError(`tensor ${extra.name} is not part of a llama model`);
  return s;
}
