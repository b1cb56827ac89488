// Skip-gram training data with negative sampling (word2vec): words from a corpus, a vocabulary of
// the frequent ones, and for each (center, context) pair within a window, `negatives` words drawn
// from the unigram distribution raised to 3/4 (Mikolov et al.). One example is the ids
// [center, context, negative…] with targets [1, 0…]: the model scores each pair with a dot product
// and learns with binary cross-entropy.
import { FerryError } from '../core/errors.js';
import type { Dataset, Examples } from '../training/data/dataset.js';
import { Rng } from '../training/rng.js';

export interface SkipGramOptions {
  readonly window?: number;
  readonly negatives?: number;
  readonly minCount?: number;
  readonly vocabSize?: number;
  /** at most this many (center, context) pairs, drawn evenly from the corpus */
  readonly maxPairs?: number;
  /** subsampling threshold t for frequent words; 0 (default) keeps every word */
  readonly sample?: number;
  readonly seed?: number;
}

/** Lowercase words: letters (any script) with inner apostrophes; numbers and punctuation dropped. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/\p{L}+(?:'\p{L}+)*/gu) ?? [];
}

export interface SkipGramData extends Dataset {
  readonly vocabulary: readonly string[];
}

export function skipGramDataset(name: string, texts: readonly string[], o: SkipGramOptions = {}): SkipGramData {
  const window = o.window ?? 4;
  const k = o.negatives ?? 5;
  const minCount = o.minCount ?? 5;
  const docs = texts.map(words);
  const counts = new Map<string, number>();
  for (const d of docs) for (const w of d) counts.set(w, (counts.get(w) ?? 0) + 1);
  const vocabulary = [...counts].filter(([, c]) => c >= minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, o.vocabSize ?? 10_000).map(([w]) => w);
  if (vocabulary.length < 2) throw new FerryError('INVALID_ARGUMENT', `the corpus has ${vocabulary.length} words seen at least ${minCount} times; word2vec needs more text or a lower minCount`);
  const id = new Map(vocabulary.map((w, i) => [w, i]));
  // the unigram^0.75 table negatives are drawn from
  const weights = vocabulary.map((w) => counts.get(w)! ** 0.75);
  const cumulative = new Float64Array(weights.length);
  weights.reduce((acc, w, i) => (cumulative[i] = acc + w), 0);
  const total = cumulative[cumulative.length - 1]!;
  const rng = new Rng(o.seed ?? 0);
  const sample = (): number => {
    const r = rng.next() * total;
    let lo = 0, hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < r) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // frequent words ("the", "to") are dropped with probability 1 − √(t/f): they carry little meaning
  // and would otherwise make up most pairs (Mikolov et al.'s subsampling)
  const totalWords = [...counts.values()].reduce((a, b) => a + b, 0);
  const t = o.sample ?? 0;
  const keepProb = vocabulary.map((w) => (t > 0 ? Math.min(1, Math.sqrt(t / (counts.get(w)! / totalWords))) : 1));
  const pairs: [number, number][] = [];
  for (const d of docs) {
    const ids = d.map((w) => id.get(w)).filter((x): x is number => x !== undefined && rng.next() < keepProb[x]!);
    for (let i = 0; i < ids.length; i++) {
      for (let j = Math.max(0, i - window); j <= Math.min(ids.length - 1, i + window); j++) if (j !== i) pairs.push([ids[i]!, ids[j]!]);
    }
  }
  const keep = o.maxPairs && pairs.length > o.maxPairs ? rng.permutation(pairs.length).subarray(0, o.maxPairs) : undefined;
  const chosen = keep ? Array.from(keep, (i) => pairs[i]!) : pairs;
  const width = 2 + k;
  const make = (list: readonly [number, number][]): Examples => {
    const x = new Float32Array(list.length * width);
    const y = new Float32Array(list.length * (1 + k));
    list.forEach(([c, p], i) => {
      x[i * width] = c;
      x[i * width + 1] = p;
      for (let n = 0; n < k; n++) x[i * width + 2 + n] = sample();
      y[i * (1 + k)] = 1;
    });
    return { n: list.length, x, y };
  };
  // a small held-out slice reports the loss on pairs the model did not train on
  const cut = Math.max(1, Math.floor(chosen.length * 0.02));
  return {
    name, featureShape: [width], targetSize: 1 + k, vocabulary,
    train: make(chosen.slice(cut)), test: make(chosen.slice(0, cut)),
    record: { type: 'jsonl', source: name, trainSize: chosen.length - cut, testSize: cut, split: `skip-gram pairs (window ${window}, ${k} negatives, ${vocabulary.length} words seen ≥ ${minCount} times), 2% held out` },
  };
}
