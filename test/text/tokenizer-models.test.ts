// Server-side tokenization takes any tokenizer.json @huggingface/tokenizers reads — WordPiece (what
// Ferry trains), BPE and Unigram — with Ferry's padding and truncation on top.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TextTokenizer } from '../../src/text/tokenizer.js';

const added = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

const BPE = {
  version: '1.0', truncation: null, padding: null, added_tokens: [added('<pad>', 0), added('<unk>', 1)],
  normalizer: { type: 'Lowercase' }, pre_tokenizer: { type: 'Whitespace' }, post_processor: null, decoder: null,
  model: {
    type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false,
    vocab: { '<pad>': 0, '<unk>': 1, l: 2, o: 3, w: 4, e: 5, r: 6, lo: 7, low: 8, er: 9, lower: 10, s: 11, t: 12 },
    merges: ['l o', 'lo w', 'e r', 'low er'],
  },
};

const UNIGRAM = {
  version: '1.0', truncation: null, padding: null, added_tokens: [added('<pad>', 0), added('<unk>', 1)],
  normalizer: null, pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }, post_processor: null,
  decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
  model: {
    type: 'Unigram', unk_id: 1, byte_fallback: false,
    vocab: [['<pad>', 0], ['<unk>', 0], ['▁low', -1], ['er', -2], ['▁', -3], ['l', -4], ['o', -4], ['w', -4], ['e', -4], ['r', -4], ['est', -2], ['▁new', -1]],
  },
};

describe('tokenizer models', () => {
  it('BPE applies its merges in order', () => {
    const t = TextTokenizer.fromFiles(BPE, { pad_token: '<pad>', model_max_length: 8 });
    assert.deepEqual(t.encode('Lower low lo').ids, [10, 8, 7]);
    assert.deepEqual(t.encode('lows').ids, [8, 11], 'an unmerged letter stays a token');
    const batch = t.encodeBatch(['lower', 'low low low'], { padding: 'longest' });
    assert.deepEqual([batch.rows, batch.width], [2, 3]);
    assert.deepEqual(Array.from(batch.ids), [10, 0, 0, 8, 8, 8], 'padded with <pad> to the longest text');
    assert.deepEqual(Array.from(batch.attentionMask), [1, 0, 0, 1, 1, 1]);
  });

  it('Unigram picks the most likely segmentation', () => {
    const t = TextTokenizer.fromFiles(UNIGRAM, { pad_token: '<pad>', model_max_length: 4 });
    assert.deepEqual(t.encode('lower').ids, [2, 3], '▁low + er beats single letters');
    assert.deepEqual(t.encode('lowest new').ids, [2, 10, 11]);
    assert.throws(() => t.encode('lower lower lower'), /longer than the model's maximum of 4/);
    assert.deepEqual(t.encode('lower lower lower', { truncation: true }).ids, [2, 3, 2, 3], 'truncation keeps the first tokens');
  });
});
