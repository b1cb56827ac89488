import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { FerryError } from '../../src/core/errors.js';
import { Rng } from '../../src/training/rng.js';
import { createHfTokenizer, type HfTokenizer } from '../../src/text/hf-tokenizers.js';
import { loadSpamAssassin } from '../../src/text/spam-assassin.js';
import { SPECIAL_TOKENS } from '../../src/text/tokenizer-files.js';
import { learnVocabulary, trainWordPiece, type TokenizerFiles } from '../../src/text/tokenizer-trainer.js';

const CORPUS = ['The cat sat on the mat.', 'The dog sat on the log!', 'A cat and a dog met at the mat.', 'Cats and dogs: the best of friends?'];
const TEXTS = [...CORPUS, ...CORPUS, ...CORPUS];

/** The textbook algorithm: recount every pair before every merge. */
function referenceVocabulary(wordCounts: Map<string, number>, vocabSize: number, minFrequency: number): string[] {
  const words = [...wordCounts.keys()].sort();
  const alphabet = [...new Set(words.flatMap((w) => [...w]))].sort();
  const continuations = [...new Set(words.flatMap((w) => [...w].slice(1)))].sort().map((c) => `##${c}`);
  const symbols = [...SPECIAL_TOKENS, ...alphabet, ...continuations];
  const id = (s: string) => symbols.indexOf(s);
  const seqs = words.map((w) => [...w].map((c, i) => id(i === 0 ? c : `##${c}`)));
  while (symbols.length < vocabSize) {
    const counts = new Map<string, number>();
    seqs.forEach((s, w) => {
      for (let j = 0; j + 1 < s.length; j++) {
        const k = `${s[j]},${s[j + 1]}`;
        counts.set(k, (counts.get(k) ?? 0) + wordCounts.get(words[w]!)!);
      }
    });
    let best: [number, number] | undefined;
    let bestCount = 0;
    for (const [k, c] of counts) {
      const [a, b] = k.split(',').map(Number) as [number, number];
      if (c > bestCount || (c === bestCount && best && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestCount = c;
      }
    }
    if (!best || bestCount < minFrequency) break;
    const [a, b] = best;
    const merged = symbols[a]! + symbols[b]!.replace(/^##/, '');
    if (id(merged) < 0) symbols.push(merged);
    const m = id(merged);
    for (let w = 0; w < seqs.length; w++) {
      const s = seqs[w]!;
      const out: number[] = [];
      for (let j = 0; j < s.length; j++) {
        if (j + 1 < s.length && s[j] === a && s[j + 1] === b) {
          out.push(m);
          j++;
        } else out.push(s[j]!);
      }
      seqs[w] = out;
    }
  }
  return symbols;
}

describe('learnVocabulary', () => {
  it('merges exactly like recounting every pair before every merge', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 40; trial++) {
      // Few letters and repeated runs ("aaa") make ties and overlapping pairs common.
      const letters = 'aabbcde'.slice(0, 3 + (trial % 5));
      const counts = new Map<string, number>();
      for (let i = 0; i < 30; i++) {
        let w = '';
        const len = 1 + rng.int(7);
        for (let j = 0; j < len; j++) w += letters[rng.int(letters.length)];
        counts.set(w, (counts.get(w) ?? 0) + 1 + rng.int(4));
      }
      const vocabSize = 25 + rng.int(40);
      const minFrequency = 1 + (trial % 3);
      assert.deepEqual(learnVocabulary(counts, { vocabSize, minFrequency }), referenceVocabulary(counts, vocabSize, minFrequency), `trial ${trial}`);
    }
  });

  it('keeps the most frequent characters when the alphabet is limited', () => {
    const vocab = learnVocabulary(new Map([['aab', 5], ['ccc', 3]]), { vocabSize: 20, minFrequency: 99, limitAlphabet: 2 });
    assert.deepEqual(vocab, [...SPECIAL_TOKENS, 'a', 'c', '##a', '##c']);
  });
});

describe('trainWordPiece', () => {
  let files: TokenizerFiles;
  let tok: HfTokenizer;
  let vocab: Readonly<Record<string, number>>;
  before(() => {
    files = trainWordPiece(TEXTS, { vocabSize: 70 });
    tok = createHfTokenizer(files.tokenizerJson, files.tokenizerConfig);
    vocab = files.tokenizerJson.model.vocab;
  });

  it('numbers the special tokens 0-4 and lists them as special added tokens', () => {
    assert.deepEqual(SPECIAL_TOKENS.map((t) => vocab[t]), [0, 1, 2, 3, 4]);
    assert.deepEqual(files.tokenizerJson.added_tokens.map((t) => [t.id, t.content, t.special]), SPECIAL_TOKENS.map((t, i) => [i, t, true]));
    assert.deepEqual(files.tokenizerConfig, {
      tokenizer_class: 'BertTokenizer', do_lower_case: true, strip_accents: true, tokenize_chinese_chars: true,
      pad_token: '[PAD]', unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', mask_token: '[MASK]',
      model_max_length: 512, clean_up_tokenization_spaces: true,
    });
  });

  it('learns whole words for frequent words, with ids in learning order after the alphabet', () => {
    for (const w of ['the', 'cat', 'dog', 'sat', 'mat', 'friends']) assert.ok(w in vocab, `${w} is in the vocabulary`);
    assert.equal(vocab['##s'], vocab['##r']! + 1);
    assert.ok(vocab['the']! > vocab['##t']!);
    assert.ok(Object.keys(vocab).length <= 70);
  });

  it('loads in @huggingface/tokenizers and encodes with [CLS] … [SEP] to the vocabulary ids', () => {
    assert.deepEqual(tok.encode('The CAT sat.').ids, [2, vocab['the'], vocab['cat'], vocab['sat'], vocab['.'], 3]);
    // An unseen word in known pieces, an unseen letter, and an accent stripped by the normalizer.
    assert.deepEqual(tok.encode('mats').tokens, ['[CLS]', 'mat', '##s', '[SEP]']);
    assert.deepEqual(tok.encode('Zoo cat').ids, [2, 1, vocab['cat'], 3]);
    assert.deepEqual(tok.encode('Cát').tokens, tok.encode('cat').tokens);
    assert.deepEqual(tok.encode('').ids, [2, 3]);
  });

  it('decodes ids back to the lowercased text', () => {
    for (const s of ['the cat sat on the mat.', 'a dog and cats met at the log!']) {
      assert.equal(tok.decode(tok.encode(s).ids, { skip_special_tokens: true }), s);
    }
  });

  it('gives byte-identical files for the same texts in any order', () => {
    const again = trainWordPiece([...TEXTS].reverse(), { vocabSize: 70 });
    assert.equal(JSON.stringify(again), JSON.stringify(files));
  });

  it('can keep case', () => {
    const cased = trainWordPiece(TEXTS, { vocabSize: 70, lowercase: false });
    assert.equal(cased.tokenizerJson.normalizer.lowercase, false);
    assert.equal(cased.tokenizerConfig.do_lower_case, false);
    assert.ok('The' in cased.tokenizerJson.model.vocab);
    const t = createHfTokenizer(cased.tokenizerJson, cased.tokenizerConfig);
    assert.notDeepEqual(t.encode('The').ids, t.encode('the').ids);
  });

  it('refuses a vocabulary too small for the alphabet, naming the size needed', () => {
    assert.throws(() => trainWordPiece(TEXTS, { vocabSize: 20 }), (e: unknown) => e instanceof FerryError && e.code === 'INVALID_ARGUMENT' && /raise vocabSize to at least 37/.test(e.message));
    assert.throws(() => trainWordPiece(TEXTS, { vocabSize: 1.5 }), /vocabSize must be an integer/);
  });

  it('trains on e-mail deterministically, and the result tokenizes e-mail with few [UNK]', async () => {
    const split = await loadSpamAssassin();
    const texts = split.train.texts.slice(0, 1500);
    const a = trainWordPiece(texts, { vocabSize: 4000 });
    const b = trainWordPiece(texts, { vocabSize: 4000 });
    assert.equal(JSON.stringify(a), JSON.stringify(b));
    assert.equal(Object.keys(a.tokenizerJson.model.vocab).length, 4000);
    const t = createHfTokenizer(a.tokenizerJson, a.tokenizerConfig);
    let unk = 0;
    let total = 0;
    for (const text of split.test.texts.slice(0, 200)) {
      const ids = t.encode(text).ids;
      unk += ids.filter((id) => id === 1).length;
      total += ids.length;
    }
    assert.ok(unk / total < 0.01, `${unk} of ${total} tokens are [UNK]`);
  });
});
