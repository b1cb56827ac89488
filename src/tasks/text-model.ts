// Text models served from strings: a model file that carries its tokenizer and labels
// (metadata_props 'ferry.task', 'ferry.tokenizer', 'ferry.classes') is wrapped so that it takes a
// BYTES tensor of texts and returns labels and scores, embeddings, and token counts. Ferry tokenizes
// on the server, pads each batch to its longest text, and feeds the graph whichever of input_ids /
// attention_mask / token_type_ids it declares (or `input`, for models Ferry trained).
import { brotliCompressSync, brotliDecompressSync, constants as zlib } from 'node:zlib';
import { FerryError } from '../core/errors.js';
import type { NamedTensors, Tensor } from '../core/tensor.js';
import type { LoadedModel, Signature } from '../runtimes/runtime.js';
import { TextTokenizer } from '../text/tokenizer.js';

export const TEXT_TASK_KEYS = {
  task: 'ferry.task', tokenizer: 'ferry.tokenizer', classes: 'ferry.classes', text: 'ferry.text',
  /** the same JSON as 'ferry.tokenizer', brotli-compressed and base64-encoded: what `ferry optimize` writes */
  tokenizerBrotli: 'ferry.tokenizer.brotli',
} as const;

// A decoded tokenizer is ~100 KB (an 8,000-word WordPiece vocabulary); the cap only stops a file
// whose few compressed bytes would inflate into gigabytes.
const MAX_TOKENIZER_BYTES = 64 * 1024 * 1024;

/**
 * The tokenizer's JSON text from a model's metadata_props, in either form: plain under
 * 'ferry.tokenizer' (training and `ferry models push DIR` write it), or compact under
 * 'ferry.tokenizer.brotli' (`ferry optimize` writes it, as its variants are measured by size).
 * undefined when the model has neither; FerryError INVALID_ARGUMENT when the compact form does not decode.
 *
 *   tokenizerText({ 'ferry.tokenizer.brotli': compactTokenizer('{"tokenizerJson":{}}') }) // '{"tokenizerJson":{}}'
 */
export function tokenizerText(meta: Readonly<Record<string, string>>): string | undefined {
  const plain = meta[TEXT_TASK_KEYS.tokenizer];
  const packed = meta[TEXT_TASK_KEYS.tokenizerBrotli];
  if (plain !== undefined || packed === undefined) return plain;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(brotliDecompressSync(Buffer.from(packed, 'base64'), { maxOutputLength: MAX_TOKENIZER_BYTES }));
  } catch {
    throw new FerryError('INVALID_ARGUMENT', `the model's ${TEXT_TASK_KEYS.tokenizerBrotli} is not a base64 brotli stream of UTF-8 text (at most ${MAX_TOKENIZER_BYTES} bytes); re-run \`ferry optimize\` on the original`);
  }
}

/** The compact form of a tokenizer's JSON text, for 'ferry.tokenizer.brotli'. Brotli at its best
 *  quality over the spam transformer's 105 KB tokenizer: 33.8 KB, 45 KB as base64 (deflate: 60 KB),
 *  decoded in about a millisecond when the model loads. */
export function compactTokenizer(json: string): string {
  return brotliCompressSync(Buffer.from(json, 'utf8'), {
    params: { [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY, [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT },
  }).toString('base64');
}

/** How texts become ids: from 'ferry.text'. */
export interface TextOptions {
  /** cut texts longer than the model takes instead of refusing them; default false */
  readonly truncation?: boolean;
  /** the longest input in tokens; default the tokenizer's model_max_length */
  readonly maxLength?: number;
  /** 'multi_label_classification' scores each label with a sigmoid instead of one softmax */
  readonly problemType?: 'single_label_classification' | 'multi_label_classification';
  /** scale embeddings to unit length (sentence-transformers' Normalize) */
  readonly normalize?: boolean;
  /** how last_hidden_state becomes one vector per text: the mean over real tokens (default), the
   *  first token ([CLS]), or the element-wise maximum over real tokens (sentence-transformers' Pooling) */
  readonly pooling?: 'mean' | 'cls' | 'max';
}

/** What one request may ask of a text model (V2 `parameters`, or the OpenAI-style body). */
export interface TextRequestOptions {
  /** cut texts longer than the model takes instead of refusing them; default the model's setting */
  readonly truncation?: boolean;
}

/** Request parameters as a text model reads them; anything else in them is not for the model. */
export function textRequestOptions(parameters: Readonly<Record<string, unknown>> | undefined): TextRequestOptions {
  const t = parameters?.['truncation'];
  if (t === undefined) return {};
  if (typeof t !== 'boolean') throw new FerryError('INVALID_ARGUMENT', `"truncation" must be true or false; got ${JSON.stringify(t)?.slice(0, 40)}`);
  return { truncation: t };
}

/** A ceiling for models whose tokenizer states no maximum: beyond it memory, not the model, gives out. */
export const MAX_TOKENS = 8192;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/** Texts from a BYTES tensor, refusing what is not text. */
export function textsOf(t: Tensor | undefined, name: string): string[] {
  if (!t || t.dtype !== 'BYTES') throw new FerryError('INVALID_ARGUMENT', `send the texts as a BYTES tensor named "${name}" with shape [n]`);
  return (t.data as Uint8Array[]).map((b, i) => {
    let s: string;
    try {
      s = utf8.decode(b);
    } catch {
      throw new FerryError('INVALID_ARGUMENT', `text ${i} is not valid UTF-8; send UTF-8 text`);
    }
    if (s.trim() === '') throw new FerryError('INVALID_ARGUMENT', `text ${i} is empty; send at least one word`);
    return s;
  });
}

/**
 * A text model served from strings. Its outputs depend on what the graph has:
 * - `label` and `scores` from `logits` (a classifier, with its labels);
 * - `embedding` from a pooled `embeddings` output, or from `last_hidden_state` averaged over the
 *   real tokens (the Hugging Face feature-extraction convention), normalized when the model says so;
 * - `tokens`: each text's length in tokens, for exact usage counts.
 */
export class TextModel implements LoadedModel {
  readonly signature: Signature;
  private readonly idsInput: string;
  private readonly embeddingOutput?: 'embeddings' | 'last_hidden_state';
  private readonly classify: boolean;

  constructor(
    private readonly inner: LoadedModel,
    private readonly tokenizer: TextTokenizer,
    readonly classes: readonly string[],
    private readonly opts: TextOptions,
  ) {
    const names = inner.signature.inputs.map((i) => i.name);
    const ids = ['input_ids', 'input'].find((n) => names.includes(n));
    if (!ids) throw new FerryError('INVALID_ARGUMENT', `a text model needs an int64 input named input_ids; this one has ${names.join(', ')}`);
    this.idsInput = ids;
    const outs = inner.signature.outputs;
    const logits = outs.find((o) => o.name === 'logits');
    this.classify = logits !== undefined && classes.length > 0;
    if (logits && this.classify) {
      const width = logits.shape.at(-1);
      if (width !== undefined && width > 0 && width !== classes.length) {
        throw new FerryError('INVALID_ARGUMENT', `id2label names ${classes.length} labels but the model outputs ${width} logits; make them match`);
      }
    }
    const emb = outs.find((o) => o.name === 'embeddings') ?? outs.find((o) => o.name === 'last_hidden_state');
    this.embeddingOutput = emb?.name as TextModel['embeddingOutput'];
    if (!this.classify && !emb) {
      throw new FerryError('INVALID_ARGUMENT', `a text model needs an output named logits (classification) or last_hidden_state / embeddings (feature extraction); this one has ${outs.map((o) => o.name).join(', ')}`);
    }
    const dim = emb?.shape.at(-1) ?? -1;
    this.signature = {
      inputs: [{ name: 'text', dtype: 'BYTES', shape: [-1] }],
      outputs: [
        ...(this.classify ? [{ name: 'label', dtype: 'BYTES' as const, shape: [-1] }, { name: 'scores', dtype: 'FP32' as const, shape: [-1, classes.length] }] : []),
        ...(emb ? [{ name: 'embedding', dtype: 'FP32' as const, shape: [-1, dim] }] : []),
        { name: 'tokens', dtype: 'INT64', shape: [-1] },
      ],
    };
  }

  /**
   * Tokenizes the request's texts now, so a text that is too long fails its own request, and
   * remembers the ids for infer(): each text is tokenized once, with the truncation its request
   * asked for, though it runs in a batch merged from many requests. The merged batch holds the
   * same byte arrays, which key the remembered ids.
   */
  check(inputs: NamedTensors, parameters?: Readonly<Record<string, unknown>>): void {
    const truncation = textRequestOptions(parameters).truncation ?? this.opts.truncation ?? false;
    const tensor = inputs['text'];
    const texts = textsOf(tensor, 'text');
    const bytes = tensor!.data as Uint8Array[];
    texts.forEach((t, i) => this.encoded.set(bytes[i]!, this.tokenizer.encode(t, { maxLength: this.maxLength, truncation }).ids));
  }

  private readonly encoded = new WeakMap<Uint8Array, readonly number[]>();

  private get maxLength(): number {
    return this.opts.maxLength ?? this.tokenizer.maxLength ?? MAX_TOKENS;
  }

  async infer(inputs: NamedTensors): Promise<NamedTensors> {
    const tensor = inputs['text'];
    const bytes = tensor?.dtype === 'BYTES' ? (tensor.data as Uint8Array[]) : [];
    // texts that did not come through check() (a caller that skips it) are tokenized here, with the model's setting
    const ids = bytes.every((b) => this.encoded.has(b))
      ? bytes.map((b) => this.encoded.get(b)!)
      : textsOf(tensor, 'text').map((t, i) => this.encoded.get(bytes[i]!) ?? this.tokenizer.encode(t, { maxLength: this.maxLength, truncation: this.opts.truncation ?? false }).ids);
    const batch = this.tokenizer.pad(ids, { padding: 'longest' });
    const n = batch.rows;
    const shape = [n, batch.width];
    const feeds: NamedTensors = { [this.idsInput]: { dtype: 'INT64', shape, data: BigInt64Array.from(batch.ids, BigInt) } };
    const names = this.inner.signature.inputs.map((i) => i.name);
    if (names.includes('attention_mask')) feeds['attention_mask'] = { dtype: 'INT64', shape, data: BigInt64Array.from(batch.attentionMask, BigInt) };
    if (names.includes('token_type_ids')) feeds['token_type_ids'] = { dtype: 'INT64', shape, data: new BigInt64Array(n * batch.width) };
    const wanted = [...(this.classify ? ['logits'] : []), ...(this.embeddingOutput ? [this.embeddingOutput] : [])];
    const out = await this.inner.infer(feeds, wanted);
    const result: NamedTensors = { tokens: { dtype: 'INT64', shape: [n], data: BigInt64Array.from(batch.lengths, BigInt) } };
    if (this.classify) Object.assign(result, this.scores(out['logits']!.data as Float32Array, n));
    if (this.embeddingOutput) result['embedding'] = this.embed(out[this.embeddingOutput]!, batch.attentionMask, batch.width);
    return result;
  }

  private scores(logits: Float32Array, n: number): NamedTensors {
    const c = this.classes.length;
    const scores = new Float32Array(n * c);
    const labels: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const row = logits.subarray(i * c, i * c + c);
      if (this.opts.problemType === 'multi_label_classification') {
        row.forEach((z, j) => (scores[i * c + j] = 1 / (1 + Math.exp(-z))));
      } else {
        const max = Math.max(...row);
        let sum = 0;
        row.forEach((z, j) => (sum += scores[i * c + j] = Math.exp(z - max)));
        for (let j = 0; j < c; j++) scores[i * c + j]! /= sum;
      }
      let best = 0;
      for (let j = 1; j < c; j++) if (scores[i * c + j]! > scores[i * c + best]!) best = j;
      labels.push(utf8Encoder.encode(this.classes[best]!));
    }
    return { label: { dtype: 'BYTES', shape: [n], data: labels }, scores: { dtype: 'FP32', shape: [n, c], data: scores } };
  }

  private embed(t: Tensor, mask: Int32Array, width: number): Tensor {
    const data = t.data as Float32Array;
    const n = t.shape[0]!;
    const d = t.shape.at(-1)!;
    let out: Float32Array;
    if (t.shape.length === 2) {
      out = data.slice();
    } else if (this.opts.pooling === 'cls') {
      out = new Float32Array(n * d);
      for (let i = 0; i < n; i++) out.set(data.subarray(i * width * d, i * width * d + d), i * d);
    } else {
      // mean (or max) over the real tokens of [n, width, d]
      const max = this.opts.pooling === 'max';
      out = new Float32Array(n * d).fill(max ? -Infinity : 0);
      for (let i = 0; i < n; i++) {
        let count = 0;
        for (let j = 0; j < width; j++) {
          if (!mask[i * width + j]) continue;
          count++;
          const row = (i * width + j) * d;
          if (max) for (let k = 0; k < d; k++) out[i * d + k] = Math.max(out[i * d + k]!, data[row + k]!);
          else for (let k = 0; k < d; k++) out[i * d + k]! += data[row + k]!;
        }
        if (!max) for (let k = 0; k < d; k++) out[i * d + k]! /= Math.max(1, count);
      }
    }
    if (this.opts.normalize) {
      for (let i = 0; i < n; i++) {
        let norm = 0;
        for (let k = 0; k < d; k++) norm += out[i * d + k]! ** 2;
        norm = Math.sqrt(norm) || 1;
        for (let k = 0; k < d; k++) out[i * d + k]! /= norm;
      }
    }
    return { dtype: 'FP32', shape: [n, d], data: out };
  }

  unload(): Promise<void> {
    return this.inner.unload();
  }
}
