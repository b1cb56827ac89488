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
export function createHfTokenizer(tokenizerJson: object, tokenizerConfig: object): HfTokenizer {
  const tokenizer: HfTokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  return tokenizer;
}
