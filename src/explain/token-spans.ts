// Where each token of a text came from: character offsets into the original string, so per-token
// attributions can be drawn over the text the user sent. The tokenizer library Ferry uses gives
// tokens without offsets, so they are recovered by aligning each token with the normalized text
// (lower-cased, accents stripped — whatever the tokenizer's own normalizer does), normalizing one
// character at a time so every normalized character remembers the original it came from.
//
//   tokenSpans('Free MONEY', hf, ids)
//   // [{ token: '[CLS]', start: null, end: null, special: true }, { token: 'free', start: 0, end: 4 }, …]
import { FerryError } from '../core/errors.js';
import type { HfTokenizer } from '../text/hf-tokenizers.js';

export interface TokenSpan {
  readonly token: string;
  /** UTF-16 offsets into the original text (JavaScript string indices); null for special tokens */
  readonly start: number | null;
  readonly end: number | null;
  /** added by the tokenizer ([CLS], [SEP]), not taken from the text */
  readonly special: boolean;
}

/** The text a token stands for, without the marks tokenizers put on pieces: WordPiece's
 *  continuation (##), byte-level BPE's space (Ġ) and SentencePiece's (▁). */
function pieceText(token: string): string {
  if (token.startsWith('##') && token.length > 2) return token.slice(2);
  if (token.startsWith('Ġ') || token.startsWith('▁')) return token.slice(1);
  return token;
}

/** The `count` tokens a model saw for `text` (fewer than the text has when it truncates), each with its span. */
export function tokenSpans(text: string, hf: HfTokenizer, count: number): TokenSpan[] {
  const withSpecials = (tokens: string[]) => (hf.post_processor ? hf.post_processor.post_process(tokens, null, true).tokens : tokens);
  let plain = hf.tokenize(text, { add_special_tokens: false });
  let full = withSpecials(plain);
  // a model that truncates saw only the first tokens (and its special tokens around them)
  if (full.length > count) {
    plain = plain.slice(0, Math.max(0, count - (full.length - plain.length)));
    full = withSpecials(plain);
  }
  if (full.length !== count) {
    throw new FerryError('INTERNAL', `the tokenizer gave ${full.length} tokens for a text the model saw as ${count}`);
  }
  let first = 0;
  while (first + plain.length <= full.length && !plain.every((t, j) => full[first + j] === t)) first++;

  // the normalized text, and for each of its UTF-16 units the original character's [start, end)
  let stream = '';
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < text.length;) {
    const ch = String.fromCodePoint(text.codePointAt(i)!);
    const n = hf.normalizer ? hf.normalizer.normalize(ch) : ch;
    for (let u = 0; u < n.length; u++) {
      from.push(i);
      to.push(i + ch.length);
    }
    stream += n;
    i += ch.length;
  }

  let cursor = 0;
  const skipSpace = () => {
    while (cursor < stream.length && /\s/.test(stream[cursor]!)) cursor++;
  };
  const aligned = plain.map((token): [number, number] | null => {
    const piece = pieceText(token);
    skipSpace();
    if (piece === '') return null;
    let at = stream.startsWith(piece, cursor) ? cursor : stream.indexOf(piece, cursor);
    // an unknown-word token ([UNK]) matches nothing: it stands for the next run of non-space text
    let end = at + piece.length;
    if (at < 0) {
      at = cursor;
      end = cursor;
      while (end < stream.length && !/\s/.test(stream[end]!)) end++;
      if (end === at) return null;
    }
    cursor = end;
    return [from[at]!, to[end - 1]!];
  });

  return full.map((token, i) => {
    const j = i - first;
    if (j < 0 || j >= plain.length) return { token, start: null, end: null, special: true };
    const span = aligned[j];
    return { token, start: span?.[0] ?? null, end: span?.[1] ?? null, special: false };
  });
}
