// The one file that imports @huggingface/tokenizers. The package's .d.ts files re-export each other
// by extensionless paths ("./core/Tokenizer"), which NodeNext resolution cannot follow, so TypeScript
// types its `Tokenizer` as `any` and does not see BertNormalizer or BertPreTokenizer at all. This
// interface restores types for the part Ferry uses, copied from the package's
// types/core/Tokenizer.d.ts (0.2.0), so `any` stops here.
import { Tokenizer } from '@huggingface/tokenizers';

export interface HfTokenizer {
  /** the text's tokens, special tokens added by the post-processor only when asked */
  tokenize(text: string, options?: { add_special_tokens?: boolean }): string[];
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[]; tokens: string[]; attention_mask: number[] };
  /** throws on an empty array */
  decode(ids: number[], options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
  readonly normalizer: { normalize(text: string): string } | null;
  readonly pre_tokenizer: { pre_tokenize_text(text: string): string[] } | null;
  readonly post_processor: { post_process(tokens: string[], pair: string[] | null, addSpecialTokens: boolean): { tokens: string[] } } | null;
  readonly model: { readonly unk_token_id?: number } | null;
}

/** `new Tokenizer(tokenizer.json, tokenizer_config.json)`; throws what the library throws. */
export function createHfTokenizer(tokenizerJson: object, tokenizerConfig: object, opts: { libraryWordPiece?: boolean } = {}): HfTokenizer {
  const tokenizer: HfTokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  if (!opts.libraryWordPiece) fasterWordPiece(tokenizer.model as unknown as WordPieceModel | null);
  return tokenizer;
}

/** The library's WordPiece model, as far as fasterWordPiece needs it. */
interface WordPieceModel {
  readonly tokens_to_ids: Map<string, number>;
  readonly unk_token: string;
  readonly max_input_chars_per_word: number;
  readonly config: { readonly type?: string; readonly continuing_subword_prefix?: string };
  encode(words: string[]): string[];
}

/**
 * Replaces a WordPiece model's `encode` with one that gives the same tokens faster. The library's
 * greedy longest-match tries every end position from the word's end, joining a fresh substring each
 * time; serving spends about a seventh of its main-thread time there (profiled on the spam bench).
 * This one takes a word that is itself in the vocabulary at once, and never tries a piece longer
 * than the longest token, which cannot match anyway. test/text/tokenizer-fast-path.test.ts checks it
 * against the library on the whole spam corpus and on random strings.
 */
function fasterWordPiece(model: WordPieceModel | null): void {
  if (model?.config?.type !== 'WordPiece' || !(model.tokens_to_ids instanceof Map) || typeof model.encode !== 'function') return;
  const vocab = model.tokens_to_ids;
  const prefix = model.config.continuing_subword_prefix ?? '##';
  const maxChars = model.max_input_chars_per_word;
  let longest = 0;
  for (const token of vocab.keys()) longest = Math.max(longest, [...token].length);
  model.encode = (words: string[]): string[] => {
    const out: string[] = [];
    for (const word of words) {
      // code units ≥ characters, so a word this short is within max_input_chars_per_word
      if (word.length <= maxChars && vocab.has(word)) {
        out.push(word);
        continue;
      }
      const chars = [...word];
      if (chars.length > maxChars) {
        out.push(model.unk_token);
        continue;
      }
      const pieces: string[] = [];
      let start = 0;
      let unknown = false;
      while (start < chars.length) {
        let end = Math.min(chars.length, start + longest);
        let piece: string | undefined;
        for (; end > start; end--) {
          const s = (start > 0 ? prefix : '') + chars.slice(start, end).join('');
          if (vocab.has(s)) {
            piece = s;
            break;
          }
        }
        if (piece === undefined) {
          unknown = true;
          break;
        }
        pieces.push(piece);
        start = end;
      }
      if (unknown) out.push(model.unk_token);
      else out.push(...pieces);
    }
    return out;
  };
}
