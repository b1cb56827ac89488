import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { FerryError } from '../../src/core/errors.js';
import { createHfTokenizer } from '../../src/text/hf-tokenizers.js';
import { trainWordPiece, type TokenizerFiles } from '../../src/text/tokenizer-trainer.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';

const CORPUS = ['The cat sat on the mat.', 'The dog sat on the log!', 'A cat and a dog met at the mat.', 'Cats and dogs: the best of friends?'];

describe('TextTokenizer', () => {
  let files: TokenizerFiles;
  let tok: TextTokenizer;
  let v: Readonly<Record<string, number>>;
  before(() => {
    files = trainWordPiece([...CORPUS, ...CORPUS], { vocabSize: 70, modelMaxLength: 8 });
    tok = TextTokenizer.fromFiles(files.tokenizerJson, files.tokenizerConfig);
    v = files.tokenizerJson.model.vocab;
  });

  it('reads pad id, vocabulary size and maximum length from the files', () => {
    assert.equal(tok.padId, 0);
    assert.equal(tok.vocabSize, Object.keys(v).length);
    assert.equal(tok.maxLength, 8);
    assert.equal(tok.specialCount, 2);
  });

  it('gives the same ids as @huggingface/tokenizers for texts within the limit', () => {
    const hf = createHfTokenizer(files.tokenizerJson, files.tokenizerConfig);
    for (const s of CORPUS.concat(['', 'Zebra!', 'mats and logs', '[CLS] the'])) {
      const e = tok.encode(s, { maxLength: 64 });
      assert.deepEqual(e.ids, hf.encode(s).ids, s);
      assert.deepEqual(e.attentionMask, e.ids.map(() => 1));
    }
  });

  it('encodes an empty string to [CLS] [SEP]', () => {
    assert.deepEqual(tok.encode('').ids, [2, 3]);
  });

  it('truncates the text, not the special tokens: the last id is still [SEP]', () => {
    const e = tok.encode('the cat sat on the mat and the dog sat on the log', { truncation: true });
    assert.deepEqual(e.ids, [2, v['the'], v['cat'], v['sat'], v['on'], v['the'], v['mat'], 3]);
    assert.deepEqual(tok.encode('the cat sat on the mat and more', { maxLength: 4, truncation: true }).ids, [2, v['the'], v['cat'], 3]);
  });

  it('refuses a text longer than the maximum unless asked to truncate, naming both lengths', () => {
    assert.throws(
      () => tok.encode('the cat sat on the mat and the dog'),
      (e: unknown) => e instanceof FerryError && e.code === 'INVALID_ARGUMENT' &&
        e.message === "text of 11 tokens is longer than the model's maximum of 8; send shorter text or ask for truncation",
    );
    // Exactly at the limit is fine.
    assert.equal(tok.encode('the cat sat on the mat').ids.length, 8);
  });

  it('pads a batch on the right to the longest text, with masks and lengths', () => {
    const b = tok.encodeBatch(['the cat', '', 'the dog sat'], { padding: 'longest' });
    assert.equal(b.rows, 3);
    assert.equal(b.width, 5);
    assert.deepEqual([...b.ids], [2, v['the'], v['cat'], 3, 0, 2, 3, 0, 0, 0, 2, v['the'], v['dog'], v['sat'], 3]);
    assert.deepEqual([...b.attentionMask], [1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1]);
    assert.deepEqual([...b.lengths], [4, 2, 5]);
  });

  it('pads every row to maxLength with max_length padding, truncating long texts', () => {
    const b = tok.encodeBatch(['the cat', 'the cat sat on the mat and the dog'], { padding: 'max_length', maxLength: 6, truncation: true });
    assert.equal(b.width, 6);
    assert.deepEqual([...b.ids.subarray(6)], [2, v['the'], v['cat'], v['sat'], v['on'], 3]);
    assert.deepEqual([...b.lengths], [4, 6]);
    assert.throws(() => tok.encodeBatch(['the cat sat on the mat and the dog'], { padding: 'longest' }), /longer than the model's maximum of 8/);
  });

  it('decodes ids, optionally without special tokens', () => {
    const ids = tok.encode('The cat sat.').ids;
    assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'the cat sat.');
    assert.equal(tok.decode(ids), '[CLS] the cat sat. [SEP]');
    assert.equal(tok.decode([]), '');
  });

  it('rejects files it cannot use with INVALID_ARGUMENT', () => {
    const { pad_token: _pad, ...noPad } = files.tokenizerConfig;
    assert.throws(() => TextTokenizer.fromFiles(files.tokenizerJson, noPad), /pad_token undefined is not a token of tokenizer.json/);
    assert.throws(() => TextTokenizer.fromFiles({}, files.tokenizerConfig), /must be an object with a "model" object/);
    assert.throws(() => TextTokenizer.fromFiles({ model: { type: 'Nope' } }, files.tokenizerConfig), (e: unknown) => e instanceof FerryError && e.code === 'INVALID_ARGUMENT');
    assert.throws(() => tok.encode('a', { maxLength: 2 }), /maxLength must be an integer of at least 3/);
  });

  it('leaves maxLength undefined when model_max_length is absent or the 1e30 placeholder', () => {
    const huge = TextTokenizer.fromFiles(files.tokenizerJson, { ...files.tokenizerConfig, model_max_length: 1e30 });
    assert.equal(huge.maxLength, undefined);
    assert.equal(huge.encode('the cat sat on the mat and the dog sat on the log').ids.length, 15);
    assert.throws(() => huge.encodeBatch(['a'], { padding: 'max_length' }), /needs a maxLength/);
  });
});
