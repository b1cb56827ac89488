// Ferry's one wrapper around @huggingface/tokenizers: a tokenizer.json + tokenizer_config.json pair
// turned into ids, attention masks and padded batches. The library is the same code transformers.js
// bundles (0.2.0), so ids match what a transformers.js pipeline computes for the same files.
//
// Truncation differs on purpose. transformers.js (4.3.1) adds [CLS] and [SEP] first and then slices
// the finished ids to model_max_length, so a long text loses its final [SEP]; Python transformers
// truncates the text and then adds the special tokens. We do what Python does, so a model trained
// here always sees [CLS] … [SEP]. Texts within the limit get the same ids either way; for longer
// ones transformers.js feeds the model a sequence without [SEP], and its scores differ from Ferry's.
import { FerryError, invalid } from '../core/errors.js';
import { createHfTokenizer, type HfTokenizer } from './hf-tokenizers.js';

export interface EncodeOptions {
  /** overrides the model_max_length of tokenizer_config.json */
  readonly maxLength?: number;
  /** cut the text's tokens so that they and the special tokens fit maxLength; otherwise a longer text
   *  is an INVALID_ARGUMENT error. Default false */
  readonly truncation?: boolean;
}

export interface Encoded {
  /** token ids, special tokens included */
  readonly ids: number[];
  /** 1 for every id (nothing is padded) */
  readonly attentionMask: number[];
}

export interface BatchOptions extends EncodeOptions {
  /** 'longest': pad to the longest text in the batch; 'max_length': pad every row to maxLength */
  readonly padding: 'longest' | 'max_length';
}

/** A padded batch, row-major: row i is ids.subarray(i * width, (i + 1) * width). */
export interface EncodedBatch {
  readonly rows: number;
  readonly width: number;
  readonly ids: Int32Array;
  /** 1 for real tokens, 0 for padding (which is on the right) */
  readonly attentionMask: Int32Array;
  /** real tokens per row, special tokens included */
  readonly lengths: Int32Array;
}

/**
 * A Hugging Face tokenizer loaded from its two JSON files.
 *
 *   const tok = TextTokenizer.fromFiles(JSON.parse(tokenizerJson), JSON.parse(tokenizerConfigJson));
 *   tok.encode('Win a prize', { maxLength: 128, truncation: true });  // { ids: [2, …, 3], attentionMask: [1, …] }
 */
export class TextTokenizer {
  /** id of the pad_token named in tokenizer_config.json */
  readonly padId: number;
  /** one more than the largest id: the embedding table needs at least this many rows */
  readonly vocabSize: number;
  /** tokenizer_config.json's model_max_length; undefined when absent or a placeholder (transformers
   *  writes 1e30 when a model sets none) */
  readonly maxLength: number | undefined;
  /** how many special tokens encode() adds around a text ([CLS] and [SEP]: 2) */
  readonly specialCount: number;
  private readonly unkId: number | undefined;

  private constructor(private readonly hf: HfTokenizer, config: Record<string, unknown>) {
    const vocab = hf.get_vocab(true);
    let max = -1;
    for (const id of vocab.values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    const pad = config.pad_token;
    const padId = typeof pad === 'string' ? hf.token_to_id(pad) : undefined;
    if (padId === undefined) {
      throw invalid(`tokenizer_config.json's pad_token ${JSON.stringify(pad)} is not a token of tokenizer.json; add e.g. "pad_token": "[PAD]" (batches need it)`);
    }
    this.padId = padId;
    const limit = config.model_max_length;
    this.maxLength = typeof limit === 'number' && Number.isSafeInteger(limit) && limit > 0 && limit < 2 ** 31 ? limit : undefined;
    this.unkId = hf.model?.unk_token_id;
    this.specialCount = this.withSpecials([]).length;
  }

  /** Builds a tokenizer from parsed tokenizer.json and tokenizer_config.json. */
  static fromFiles(tokenizerJson: object, tokenizerConfig: object): TextTokenizer {
    const json = tokenizerJson as Record<string, unknown>;
    if (typeof json !== 'object' || json === null || typeof json.model !== 'object' || json.model === null) {
      throw invalid('tokenizer.json must be an object with a "model" object; send the file a Hugging Face tokenizer saves');
    }
    if (typeof tokenizerConfig !== 'object' || tokenizerConfig === null) {
      throw invalid('tokenizer_config.json must be an object; send e.g. {"tokenizer_class": "BertTokenizer", "pad_token": "[PAD]"}');
    }
    let hf: HfTokenizer;
    try {
      // The library reads added_tokens without checking for it; an empty list is what a tokenizer
      // without added tokens means.
      hf = createHfTokenizer({ added_tokens: [], ...json }, tokenizerConfig);
    } catch (e) {
      throw invalid(`tokenizer.json could not be loaded: ${(e as Error).message}`);
    }
    return new TextTokenizer(hf, tokenizerConfig as Record<string, unknown>);
  }

  /** The text's ids with [CLS] … [SEP] around them. An empty text gives just the special tokens. */
  encode(text: string, opts: EncodeOptions = {}): Encoded {
    const ids = this.encodeIds(text, opts);
    return { ids, attentionMask: new Array<number>(ids.length).fill(1) };
  }

  /** Encodes every text and pads the batch (on the right, with padId). */
  encodeBatch(texts: readonly string[], opts: BatchOptions): EncodedBatch {
    return this.pad(texts.map((t) => this.encodeIds(t, opts)), opts);
  }

  /** Pads ids that encode() made into one batch (on the right, with padId). */
  pad(encoded: readonly (readonly number[])[], opts: Pick<BatchOptions, 'padding' | 'maxLength'>): EncodedBatch {
    const limit = opts.maxLength ?? this.maxLength;
    if (opts.padding === 'max_length' && limit === undefined) {
      throw invalid("padding 'max_length' needs a maxLength, and tokenizer_config.json has no model_max_length; send maxLength");
    }
    const width = opts.padding === 'max_length' ? limit! : encoded.reduce((w, e) => Math.max(w, e.length), 0);
    const rows = encoded.length;
    const ids = new Int32Array(rows * width).fill(this.padId);
    const attentionMask = new Int32Array(rows * width);
    const lengths = new Int32Array(rows);
    encoded.forEach((e, i) => {
      if (e.length > width) throw invalid(`a text of ${e.length} tokens does not fit padding to ${width}`);
      ids.set(e, i * width);
      attentionMask.fill(1, i * width, i * width + e.length);
      lengths[i] = e.length;
    });
    return { rows, width, ids, attentionMask, lengths };
  }

  /** Text for ids; with skipSpecialTokens, [CLS], [SEP] and [PAD] are left out. */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /** The id of a token string, or undefined when it is not in the vocabulary. */
  tokenId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  private encodeIds(text: string, opts: EncodeOptions): number[] {
    if (typeof text !== 'string') throw invalid(`texts must be strings, got ${typeof text}`);
    const limit = opts.maxLength ?? this.maxLength;
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < this.specialCount + 1)) {
      throw invalid(`maxLength must be an integer of at least ${this.specialCount + 1} (room for the special tokens and one more), got ${JSON.stringify(limit)}`);
    }
    let tokens = this.hf.tokenize(text, { add_special_tokens: false });
    if (limit !== undefined && tokens.length + this.specialCount > limit) {
      if (!opts.truncation) {
        throw invalid(`text of ${tokens.length + this.specialCount} tokens is longer than the model's maximum of ${limit}; send shorter text or ask for truncation`);
      }
      tokens = tokens.slice(0, limit - this.specialCount);
    }
    return this.withSpecials(tokens).map((t) => {
      const id = this.hf.token_to_id(t) ?? this.unkId;
      if (id === undefined) throw new FerryError('INVALID_ARGUMENT', `token ${JSON.stringify(t)} has no id and the tokenizer has no unk_token; fix tokenizer.json`);
      return id;
    });
  }

  private withSpecials(tokens: string[]): string[] {
    return this.hf.post_processor ? this.hf.post_processor.post_process(tokens, null, true).tokens : tokens;
  }
}
