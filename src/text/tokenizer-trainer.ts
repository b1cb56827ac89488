// A WordPiece vocabulary learned the way Hugging Face's WordPieceTrainer learns one: it runs BPE over
// word counts with a "##" prefix on every non-initial character, then keeps the BPE vocabulary and
// drops the merges (WordPiece inference is greedy longest-match and needs none). Text is normalized
// and split by the normalizer and pre-tokenizer of @huggingface/tokenizers itself, built from the
// same JSON blocks the result carries, so training sees exactly the words inference will see.
//
// Merging is incremental: pair counts live in a map, each pair remembers the words it occurs in, and
// a merge rewrites only those words; a max-heap with lazy re-checks finds the most frequent pair.
// Ties go to the pair with the smaller (left id, right id), like HF's trainer, and ids follow sorted
// order, so the same texts give byte-identical files.
import { invalid } from '../core/errors.js';
import { createHfTokenizer } from './hf-tokenizers.js';
import {
  CONTINUING_SUBWORD_PREFIX,
  DEFAULT_MODEL_MAX_LENGTH,
  MAX_INPUT_CHARS_PER_WORD,
  SPECIAL_TOKENS,
  wordPieceFiles,
  type TokenizerFiles,
} from './tokenizer-files.js';

export type { TokenizerFiles } from './tokenizer-files.js';

export interface WordPieceTrainOptions {
  /** tokens in the vocabulary, the five special tokens included; at most 2^21 */
  readonly vocabSize: number;
  /** a pair seen fewer times than this is never merged; default 2 (a merge seen once only spells
   *  out one word) */
  readonly minFrequency?: number;
  /** lowercase and strip accents; default true */
  readonly lowercase?: boolean;
  /** put spaces around CJK characters so each is its own word; default true */
  readonly handleChineseChars?: boolean;
  /** words longer than this many characters are not counted; default 100, the length beyond which
   *  inference turns a word into [UNK] anyway */
  readonly maxWordChars?: number;
  /** keep only this many of the most frequent characters; the rest become [UNK]. Default: all */
  readonly limitAlphabet?: number;
  /** model_max_length written to tokenizer_config.json; default 512 */
  readonly modelMaxLength?: number;
}

// Pair keys pack two ids into one safe integer: left × 2^21 + right.
const ID_LIMIT = 2 ** 21;

/**
 * Learns a WordPiece vocabulary from texts and returns tokenizer.json and tokenizer_config.json.
 *
 *   const { tokenizerJson, tokenizerConfig } = trainWordPiece(['the cat sat', 'the cats sat'], { vocabSize: 40 });
 *   tokenizerJson.model.vocab['[CLS]'];  // 2
 */
export function trainWordPiece(texts: Iterable<string>, opts: WordPieceTrainOptions): TokenizerFiles {
  const vocabSize = checkInt('vocabSize', opts.vocabSize, SPECIAL_TOKENS.length + 1, ID_LIMIT, 8000);
  const minFrequency = checkInt('minFrequency', opts.minFrequency ?? 2, 1, Number.MAX_SAFE_INTEGER, 2);
  const maxWordChars = checkInt('maxWordChars', opts.maxWordChars ?? MAX_INPUT_CHARS_PER_WORD, 1, MAX_INPUT_CHARS_PER_WORD, 100);
  const limitAlphabet = opts.limitAlphabet === undefined ? undefined : checkInt('limitAlphabet', opts.limitAlphabet, 1, ID_LIMIT, 1000);
  const modelMaxLength = checkInt('modelMaxLength', opts.modelMaxLength ?? DEFAULT_MODEL_MAX_LENGTH, 1, 2 ** 31 - 1, 512);
  const normalization = { lowercase: opts.lowercase ?? true, handleChineseChars: opts.handleChineseChars ?? true };

  const words = countWords(texts, normalization, maxWordChars);
  const vocab = learnVocabulary(words, { vocabSize, minFrequency, limitAlphabet });
  return wordPieceFiles(vocab, { ...normalization, modelMaxLength });
}

function countWords(texts: Iterable<string>, n: { lowercase: boolean; handleChineseChars: boolean }, maxWordChars: number): Map<string, number> {
  // A tokenizer with only the special tokens: its normalizer and pre-tokenizer are what matter here.
  const { tokenizerJson, tokenizerConfig } = wordPieceFiles(SPECIAL_TOKENS, { ...n, modelMaxLength: DEFAULT_MODEL_MAX_LENGTH });
  const { normalizer, pre_tokenizer: preTokenizer } = createHfTokenizer(tokenizerJson, tokenizerConfig);
  if (!normalizer || !preTokenizer) throw new Error('@huggingface/tokenizers built no BertNormalizer or BertPreTokenizer');
  const counts = new Map<string, number>();
  for (const text of texts) {
    if (typeof text !== 'string') throw invalid(`training texts must be strings, got ${typeof text}`);
    for (const word of preTokenizer.pre_tokenize_text(normalizer.normalize(text))) {
      // Code points, as the WordPiece model counts them; word.length would count UTF-16 units.
      if (word.length > maxWordChars && [...word].length > maxWordChars) continue;
      counts.set(word, (counts.get(word) ?? 0) + 1);
    }
  }
  return counts;
}

/** The vocabulary in id order: special tokens, alphabet, "##" continuations, then merges. */
export function learnVocabulary(wordCounts: ReadonlyMap<string, number>, o: { vocabSize: number; minFrequency: number; limitAlphabet?: number }): string[] {
  // Sorting makes the result independent of the order the texts came in.
  const words = [...wordCounts.keys()].sort();
  const charCounts = new Map<string, number>();
  for (const w of words) {
    const c = wordCounts.get(w)!;
    for (const ch of w) charCounts.set(ch, (charCounts.get(ch) ?? 0) + c);
  }
  let alphabet = [...charCounts.keys()];
  if (o.limitAlphabet !== undefined && alphabet.length > o.limitAlphabet) {
    alphabet = alphabet.sort((a, b) => charCounts.get(b)! - charCounts.get(a)! || compare(a, b)).slice(0, o.limitAlphabet);
  }
  alphabet.sort(compare);
  const kept = new Set(alphabet);
  const continuations = new Set<string>();
  for (const w of words) {
    let first = true;
    for (const ch of w) {
      // Like HF: a character outside the alphabet is dropped, but still counts as the word's first.
      if (!first && kept.has(ch)) continuations.add(ch);
      first = false;
    }
  }

  const symbols: string[] = [...SPECIAL_TOKENS, ...alphabet, ...[...continuations].sort(compare).map((ch) => CONTINUING_SUBWORD_PREFIX + ch)];
  if (symbols.length > o.vocabSize) {
    throw invalid(`vocabSize ${o.vocabSize} cannot hold the ${SPECIAL_TOKENS.length} special tokens and the ${symbols.length - SPECIAL_TOKENS.length} characters of this corpus; raise vocabSize to at least ${symbols.length} or set limitAlphabet`);
  }
  const ids = new Map(symbols.map((s, i) => [s, i]));

  const seqs: number[][] = [];
  const freq: number[] = [];
  for (const w of words) {
    const seq: number[] = [];
    let first = true;
    for (const ch of w) {
      if (kept.has(ch)) seq.push(ids.get(first ? ch : CONTINUING_SUBWORD_PREFIX + ch)!);
      first = false;
    }
    if (seq.length > 1) {
      seqs.push(seq);
      freq.push(wordCounts.get(w)!);
    }
  }

  const pairCount = new Map<number, number>();
  // Words each pair has occurred in; may hold stale entries, which a merge skips after one scan.
  const where = new Map<number, number[]>();
  const addWhere = (key: number, w: number) => {
    const list = where.get(key);
    if (!list) where.set(key, [w]);
    else if (list[list.length - 1] !== w) list.push(w);
  };
  seqs.forEach((seq, w) => {
    for (let j = 0; j + 1 < seq.length; j++) {
      const key = seq[j]! * ID_LIMIT + seq[j + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + freq[w]!);
      addWhere(key, w);
    }
  });
  const heap = new PairHeap();
  for (const [key, count] of pairCount) heap.push(count, key);

  const seen = new Int32Array(seqs.length);
  let round = 0;
  while (symbols.length < o.vocabSize && heap.size > 0) {
    const { count, key } = heap.pop();
    const current = pairCount.get(key) ?? 0;
    if (current !== count) {
      // A stale entry: the pair's count fell since it was pushed.
      if (current > 0) heap.push(current, key);
      continue;
    }
    if (count < o.minFrequency) break;
    const a = Math.floor(key / ID_LIMIT);
    const b = key % ID_LIMIT;
    const right = symbols[b]!;
    const merged = symbols[a]! + (right.startsWith(CONTINUING_SUBWORD_PREFIX) ? right.slice(CONTINUING_SUBWORD_PREFIX.length) : right);
    // Two merge paths can spell the same token ("a"+"##bc", "ab"+"##c"); they share one id.
    let id = ids.get(merged);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(merged);
      ids.set(merged, id);
    }
    round++;
    const grown = new Set<number>();
    for (const w of where.get(key) ?? []) {
      if (seen[w] === round) continue;
      seen[w] = round;
      const seq = seqs[w]!;
      let at = -1;
      for (let j = 0; j + 1 < seq.length; j++) {
        if (seq[j] === a && seq[j + 1] === b) {
          at = j;
          break;
        }
      }
      if (at < 0) continue;
      const c = freq[w]!;
      for (let j = 0; j + 1 < seq.length; j++) {
        const k = seq[j]! * ID_LIMIT + seq[j + 1]!;
        pairCount.set(k, pairCount.get(k)! - c);
      }
      const out = seq.slice(0, at);
      for (let j = at; j < seq.length; ) {
        if (j + 1 < seq.length && seq[j] === a && seq[j + 1] === b) {
          out.push(id);
          j += 2;
        } else {
          out.push(seq[j]!);
          j++;
        }
      }
      seqs[w] = out;
      for (let j = 0; j + 1 < out.length; j++) {
        const k = out[j]! * ID_LIMIT + out[j + 1]!;
        pairCount.set(k, (pairCount.get(k) ?? 0) + c);
        if (out[j] === id || out[j + 1] === id) {
          addWhere(k, w);
          grown.add(k);
        }
      }
    }
    pairCount.delete(key);
    where.delete(key);
    for (const k of grown) {
      const n = pairCount.get(k)!;
      if (n > 0) heap.push(n, k);
    }
  }
  return symbols;
}

/** Max-heap of (count, pair key): larger count first, then smaller key. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): { count: number; key: number } {
    const top = { count: this.counts[0]!, key: this.keys[0]! };
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < this.counts.length && this.before(l, best)) best = l;
        if (r < this.counts.length && this.before(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }

  private before(i: number, j: number): boolean {
    return this.counts[i]! > this.counts[j]! || (this.counts[i] === this.counts[j] && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkInt(name: string, value: unknown, min: number, max: number, example: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}; send e.g. "${name}": ${example}`);
  }
  return value;
}
