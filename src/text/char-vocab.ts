// A character vocabulary laid out the way llama.cpp's SentencePiece ("llama") tokenizer reads one, so
// a model trained on these ids can be written to GGUF and tokenized by llama.cpp identically:
//
//   id 0 <unk> (type 2), 1 <s> and 2 </s> (type 3), 3…258 the byte tokens <0x00>…<0xFF> (type 6),
//   then one token per character (type 1), most frequent first.
//
// Spaces are written '▁' (U+2581) as SentencePiece does. A character without a token of its own — a
// newline, a tab, an emoji, a rare letter — becomes the byte tokens of its UTF-8 bytes. With no token
// longer than one character, llama.cpp's SPM merge loop finds nothing to merge and its byte fallback
// does what `encode` does, character by character. Two settings on the GGUF side must agree:
// `tokenizer.ggml.add_space_prefix = false` (llama.cpp otherwise puts a '▁' before the text) and
// BOS added or not the way `encode`'s `bos` flag says.
//
//   const vocab = CharVocab.build(texts, { maxChars: 128 });
//   vocab.encode('Hi there\n', { bos: true });  // [1, id('H'), id('i'), id('▁'), …, 13 (<0x0A>)]
//   vocab.decode(vocab.encode('Hi there\n'));    // 'Hi there\n'
import { invalid } from '../core/errors.js';

/** What `toJSON` writes and `fromJSON` reads: the characters in id order; every other token follows
 *  from the layout above. */
export interface CharVocabJson {
  readonly format: typeof FORMAT;
  readonly chars: readonly string[];
}

export interface CharVocabOptions {
  /** the most characters to give a token of their own; default 200 */
  readonly maxChars?: number;
  /** how often a character must occur in the texts to get a token; default 1 */
  readonly minCount?: number;
}

/** llama.cpp's token types (tokenizer.ggml.token_type) */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

const FORMAT = 'ferry-char-vocab/1';
const SPACE = '▁';
const SPECIALS = ['<unk>', '<s>', '</s>'] as const;
const BYTE_OFFSET = SPECIALS.length;
const CHAR_OFFSET = BYTE_OFFSET + 256;
const byteToken = (b: number): string => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
const utf8 = new TextEncoder();

/** A character that may have a token: one code point, not a control character and not the space
 *  (spaces are '▁' before lookup, so a ' ' token could never be produced). */
function tokenizable(c: string): boolean {
  const cp = c.codePointAt(0)!;
  return c.length === String.fromCodePoint(cp).length && cp >= 0x20 && cp !== 0x20 && !(cp >= 0x7f && cp <= 0x9f)
    && !(cp >= 0xd800 && cp <= 0xdfff);
}

export class CharVocab {
  static readonly UNK = 0;
  static readonly BOS = 1;
  static readonly EOS = 2;

  /** every token's string, by id (tokenizer.ggml.tokens) */
  readonly tokens: readonly string[];
  /** per token (tokenizer.ggml.scores): 0 for special and byte tokens, −rank for characters; no
   *  merges exist, so llama.cpp never compares them */
  readonly scores: readonly number[];
  /** per token (tokenizer.ggml.token_type), see TOKEN_TYPE */
  readonly types: readonly number[];
  private readonly ids: ReadonlyMap<string, number>;

  private constructor(readonly chars: readonly string[]) {
    const bytes = Array.from({ length: 256 }, (_, b) => byteToken(b));
    this.tokens = [...SPECIALS, ...bytes, ...chars];
    this.scores = this.tokens.map((_, i) => (i < CHAR_OFFSET ? 0 : CHAR_OFFSET - i));
    this.types = this.tokens.map((_, i) => (i === CharVocab.UNK ? TOKEN_TYPE.unknown : i < BYTE_OFFSET ? TOKEN_TYPE.control : i < CHAR_OFFSET ? TOKEN_TYPE.byte : TOKEN_TYPE.normal));
    this.ids = new Map(chars.map((c, i) => [c, CHAR_OFFSET + i]));
  }

  /** The most frequent characters of `texts` (spaces counted as '▁'), ties broken by code point. */
  static build(texts: Iterable<string>, opts: CharVocabOptions = {}): CharVocab {
    const maxChars = opts.maxChars ?? 200;
    const minCount = opts.minCount ?? 1;
    if (!Number.isSafeInteger(maxChars) || maxChars < 0) throw invalid(`maxChars must be an integer ≥ 0, got ${JSON.stringify(maxChars)}`);
    if (!Number.isSafeInteger(minCount) || minCount < 1) throw invalid(`minCount must be an integer ≥ 1, got ${JSON.stringify(minCount)}`);
    const counts = new Map<string, number>();
    for (const text of texts) {
      for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    const spaces = counts.get(' ') ?? 0;
    counts.delete(' ');
    if (spaces > 0) counts.set(SPACE, (counts.get(SPACE) ?? 0) + spaces);
    const chars = [...counts]
      .filter(([c, n]) => n >= minCount && tokenizable(c))
      .sort((a, b) => b[1] - a[1] || a[0].codePointAt(0)! - b[0].codePointAt(0)!)
      .slice(0, maxChars)
      .map(([c]) => c);
    return new CharVocab(chars);
  }

  static fromJSON(json: unknown): CharVocab {
    const o = json as Partial<CharVocabJson> | null;
    if (typeof o !== 'object' || o === null || o.format !== FORMAT || !Array.isArray(o.chars)) {
      throw invalid(`a character vocabulary must be {"format": "${FORMAT}", "chars": [...]}`);
    }
    const seen = new Set<string>();
    for (const c of o.chars as unknown[]) {
      if (typeof c !== 'string' || !tokenizable(c)) throw invalid(`character vocabulary entry ${JSON.stringify(c)} is not one printable character other than the space`);
      if (seen.has(c)) throw invalid(`character vocabulary lists ${JSON.stringify(c)} twice`);
      seen.add(c);
    }
    return new CharVocab([...(o.chars as string[])]);
  }

  toJSON(): CharVocabJson {
    return { format: FORMAT, chars: this.chars };
  }

  get size(): number {
    return this.tokens.length;
  }

  /** Token ids of `text`, optionally after <s> and before </s>. */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const out: number[] = opts.bos ? [CharVocab.BOS] : [];
    for (const ch of text) {
      const id = this.ids.get(ch === ' ' ? SPACE : ch);
      if (id !== undefined) out.push(id);
      else for (const b of utf8.encode(ch)) out.push(BYTE_OFFSET + b);
    }
    if (opts.eos) out.push(CharVocab.EOS);
    return out;
  }

  /** The text of `ids`: byte tokens reassembled as UTF-8 (a broken sequence becomes U+FFFD), '▁' as a
   *  space, <unk>, <s> and </s> left out. */
  decode(ids: Iterable<number>): string {
    let text = '';
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length > 0) text += new TextDecoder().decode(Uint8Array.from(bytes));
      bytes = [];
    };
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) throw invalid(`token id ${id} is outside the vocabulary of ${this.tokens.length}`);
      if (id >= BYTE_OFFSET && id < CHAR_OFFSET) {
        bytes.push(id - BYTE_OFFSET);
        continue;
      }
      flush();
      if (id >= CHAR_OFFSET) text += id === this.ids.get(SPACE) ? ' ' : this.tokens[id];
    }
    flush();
    return text;
  }
}
