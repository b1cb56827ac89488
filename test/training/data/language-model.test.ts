// Language-model data: texts joined as <s> text </s> and cut into windows whose targets are the
// inputs shifted by one, and the spam-assassin e-mails loaded that way with a vocabulary from the
// training split only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../../../src/core/errors.js';
import { CharVocab } from '../../../src/text/char-vocab.js';
import { loadSpamAssassin } from '../../../src/text/spam-assassin.js';
import { joinTexts, loadSpamAssassinLm, windows } from '../../../src/training/data/language-model.js';
import { loadDataset } from '../../../src/training/data/load.js';

describe('language-model windows', () => {
  it('take context + 1 ids at a stride of context: input the first context, target the last', () => {
    const w = windows(Int32Array.of(1, 5, 6, 7, 2, 9), 2);
    assert.equal(w.n, 2);
    assert.deepEqual([...w.x], [1, 5, 6, 7]);
    assert.deepEqual([...w.y], [5, 6, 7, 2]);
    assert.equal(windows(Int32Array.of(1, 5, 6, 7, 2, 9), 2, 1).n, 1, 'at most max windows');
    assert.equal(windows(Int32Array.of(1, 5), 2).n, 0, 'a stream shorter than context + 1 has none');
  });

  it('join texts as <s> text </s> …, stopping at a limit', () => {
    const vocab = CharVocab.build(['ab']);
    const [a, b] = [vocab.encode('a')[0]!, vocab.encode('b')[0]!];
    assert.deepEqual([...joinTexts(vocab, ['ab', 'b'])], [1, a, b, 2, 1, b, 2]);
    assert.deepEqual([...joinTexts(vocab, ['ab', 'b'], 5)], [1, a, b, 2, 1]);
  });
});

describe('the spam-assassin-lm dataset', () => {
  it('holds windows of character ids with next-token targets and the training split\'s vocabulary', async () => {
    const ds = await loadDataset({ type: 'spam-assassin-lm', context: 32, vocabChars: 100, trainWindows: 200, testWindows: 50 });
    assert.deepEqual(ds.featureShape, [32]);
    assert.deepEqual(ds.labelShape, [32]);
    assert.equal(ds.train.n, 200);
    assert.equal(ds.test.n, 50);
    assert.equal(ds.train.y.length, 200 * 32);
    const vocab = CharVocab.fromJSON(ds.charVocab);
    assert.equal(vocab.size, 3 + 256 + 100);
    const split = await loadSpamAssassin({});
    assert.deepEqual(vocab.chars, CharVocab.build(split.train.texts, { maxChars: 100 }).chars, 'built from the training texts');
    // the stream starts with the first training mail; each target is the next window position's input
    assert.equal(ds.train.x[0], CharVocab.BOS);
    const start = vocab.decode(Array.from(ds.train.x.subarray(0, 32)));
    assert.ok(start.length > 0 && split.train.texts[0]!.startsWith(start), `"${start}" begins the first training mail`);
    for (let t = 0; t < 31; t++) assert.equal(ds.train.y[t], ds.train.x[t + 1]);
    assert.equal(ds.train.y[31], ds.train.x[32], 'windows overlap by one id');
    assert.equal(ds.test.x[0], CharVocab.BOS);
    assert.match(ds.record.split, /359 character tokens/);
  });

  it('names what to change when the corpus cannot fill the vocabulary or a field is wrong', async () => {
    await assert.rejects(loadSpamAssassinLm({ type: 'spam-assassin-lm', context: 8, vocabChars: 100, minCount: 1_000_000, trainWindows: 1 }),
      (e: unknown) => e instanceof FerryError && /characters occur 1000000 or more times.*lower vocabChars or minCount/.test(e.message));
    await assert.rejects(loadSpamAssassinLm({ type: 'spam-assassin-lm', context: 1 }),
      (e: unknown) => e instanceof FerryError && /context must be an integer ≥ 2, got 1/.test(e.message));
  });
});
