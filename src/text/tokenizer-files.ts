// The two files that make a WordPiece vocabulary a normal Hugging Face tokenizer: tokenizer.json (the
// `tokenizers` serialization, read by Python `tokenizers`, @huggingface/tokenizers and
// transformers.js) and tokenizer_config.json (which transformers.js refuses to run without, and whose
// pad_token it needs for batches). Field names and order follow what Python `tokenizers` writes for
// bert-base-uncased, so the files also load there.

/** [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4: the ids a BERT-style model and its exporter assume. */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
export const CONTINUING_SUBWORD_PREFIX = '##';
/** Longer words become a single [UNK]; the same limit as bert-base-uncased. */
export const MAX_INPUT_CHARS_PER_WORD = 100;
export const DEFAULT_MODEL_MAX_LENGTH = 512;

export interface AddedTokenJson {
  readonly id: number;
  readonly content: string;
  readonly single_word: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly normalized: boolean;
  readonly special: boolean;
}

export interface BertNormalizerJson {
  readonly type: 'BertNormalizer';
  readonly clean_text: boolean;
  readonly handle_chinese_chars: boolean;
  readonly strip_accents: boolean;
  readonly lowercase: boolean;
}

type TemplatePiece =
  | { readonly SpecialToken: { readonly id: string; readonly type_id: number } }
  | { readonly Sequence: { readonly id: 'A' | 'B'; readonly type_id: number } };

export interface WordPieceTokenizerJson {
  readonly version: '1.0';
  readonly truncation: null;
  readonly padding: null;
  readonly added_tokens: readonly AddedTokenJson[];
  readonly normalizer: BertNormalizerJson;
  readonly pre_tokenizer: { readonly type: 'BertPreTokenizer' };
  readonly post_processor: {
    readonly type: 'TemplateProcessing';
    readonly single: readonly TemplatePiece[];
    readonly pair: readonly TemplatePiece[];
    readonly special_tokens: Readonly<Record<string, { readonly id: string; readonly ids: readonly number[]; readonly tokens: readonly string[] }>>;
  };
  readonly decoder: { readonly type: 'WordPiece'; readonly prefix: string; readonly cleanup: boolean };
  readonly model: {
    readonly type: 'WordPiece';
    readonly unk_token: string;
    readonly continuing_subword_prefix: string;
    readonly max_input_chars_per_word: number;
    readonly vocab: Readonly<Record<string, number>>;
  };
}

export interface BertTokenizerConfigJson {
  readonly tokenizer_class: 'BertTokenizer';
  readonly do_lower_case: boolean;
  readonly strip_accents: boolean;
  readonly tokenize_chinese_chars: boolean;
  readonly pad_token: string;
  readonly unk_token: string;
  readonly cls_token: string;
  readonly sep_token: string;
  readonly mask_token: string;
  readonly model_max_length: number;
  readonly clean_up_tokenization_spaces: boolean;
}

export interface TokenizerFiles {
  /** the contents of tokenizer.json */
  readonly tokenizerJson: WordPieceTokenizerJson;
  /** the contents of tokenizer_config.json */
  readonly tokenizerConfig: BertTokenizerConfigJson;
}

export interface BertNormalization {
  readonly lowercase: boolean;
  readonly handleChineseChars: boolean;
}

/**
 * The BertNormalizer block for tokenizer.json. strip_accents is written as a boolean equal to
 * lowercase rather than null: null means "follow lowercase" in Python `tokenizers` and
 * @huggingface/tokenizers alike, but an explicit value leaves nothing to each reader's defaults, and
 * Python's BertTokenizerFast compares it with tokenizer_config.json's strip_accents.
 */
export function bertNormalizerJson(n: BertNormalization): BertNormalizerJson {
  return { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: n.handleChineseChars, strip_accents: n.lowercase, lowercase: n.lowercase };
}

/**
 * tokenizer.json and tokenizer_config.json for a vocabulary whose first entries are SPECIAL_TOKENS
 * and whose position is each token's id.
 *
 *   const files = wordPieceFiles(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', '##b'], { lowercase: true, handleChineseChars: true, modelMaxLength: 128 });
 *   files.tokenizerJson.model.vocab['##b'];  // 6
 */
export function wordPieceFiles(vocab: readonly string[], opts: BertNormalization & { readonly modelMaxLength: number }): TokenizerFiles {
  SPECIAL_TOKENS.forEach((t, id) => {
    if (vocab[id] !== t) throw new RangeError(`vocabulary entry ${id} must be ${t}, got ${vocab[id]}`);
  });
  // No prototype: a vocabulary learned from e-mail contains "constructor", and `in` would see Object's.
  const ids = Object.create(null) as Record<string, number>;
  vocab.forEach((token, id) => {
    if (Object.hasOwn(ids, token)) throw new RangeError(`token ${JSON.stringify(token)} appears twice in the vocabulary`);
    ids[token] = id;
  });
  const [pad, unk, cls, sep, mask] = SPECIAL_TOKENS;
  const special = (id: string, type_id: number): TemplatePiece => ({ SpecialToken: { id, type_id } });
  const sequence = (id: 'A' | 'B', type_id: number): TemplatePiece => ({ Sequence: { id, type_id } });
  const tokenizerJson: WordPieceTokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    // normalized: false so that "[CLS]" in the input is matched before lowercasing turns it into "[cls]".
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: bertNormalizerJson(opts),
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special(cls, 0), sequence('A', 0), special(sep, 0)],
      pair: [special(cls, 0), sequence('A', 0), special(sep, 0), sequence('B', 1), special(sep, 1)],
      special_tokens: {
        [cls]: { id: cls, ids: [ids[cls]!], tokens: [cls] },
        [sep]: { id: sep, ids: [ids[sep]!], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: CONTINUING_SUBWORD_PREFIX, cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: unk,
      continuing_subword_prefix: CONTINUING_SUBWORD_PREFIX,
      max_input_chars_per_word: MAX_INPUT_CHARS_PER_WORD,
      vocab: ids,
    },
  };
  const tokenizerConfig: BertTokenizerConfigJson = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: opts.lowercase,
    strip_accents: opts.lowercase,
    tokenize_chinese_chars: opts.handleChineseChars,
    pad_token: pad,
    unk_token: unk,
    cls_token: cls,
    sep_token: sep,
    mask_token: mask,
    model_max_length: opts.modelMaxLength,
    clean_up_tokenization_spaces: true,
  };
  return { tokenizerJson, tokenizerConfig };
}
