// CharVocab: the SentencePiece-style layout llama.cpp reads (specials, 256 byte tokens, characters),
// ids of known strings, byte fallback for characters without a token, round trips of real e-mails,
// and agreement with a port of llama.cpp's SPM tokenizer (llm_tokenizer_spm_session in
// src/llama-vocab.cpp: split into UTF-8 characters, merge the best-scoring adjacent pair that is a
// token while one exists, then each symbol is its token or its bytes' <0xXX> tokens).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../../src/core/errors.js';
import { CharVocab, TOKEN_TYPE } from '../../src/text/char-vocab.js';
import { loadSpamAssassin } from '../../src/text/spam-assassin.js';

/** llama.cpp's SPM tokenization with add_space_prefix = false and no special tokens parsed. */
function llamaSpm(vocab: CharVocab, text: string): number[] {
  const idOf = new Map(vocab.tokens.map((t, i) => [t, i]));
  const symbols = [...text.replaceAll(' ', '▁')];
  for (;;) {
    let best = -1;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const id = idOf.get(symbols[i]! + symbols[i + 1]!);
      if (id !== undefined && (best < 0 || vocab.scores[id]! > vocab.scores[idOf.get(symbols[best]! + symbols[best + 1]!)!]!)) best = i;
    }
    if (best < 0) break;
    symbols.splice(best, 2, symbols[best]! + symbols[best + 1]!);
  }
  return symbols.flatMap((s) => {
    const id = idOf.get(s);
    return id !== undefined ? [id] : [...new TextEncoder().encode(s)].map((b) => idOf.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)!);
  });
}

describe('CharVocab', () => {
  const small = CharVocab.build(['aab b\nc', 'ba\tb'], { maxChars: 10 });

  it('lays tokens out as llama.cpp expects: <unk> <s> </s>, <0x00>…<0xFF>, then characters by frequency', () => {
    assert.deepEqual(small.tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
    assert.equal(small.tokens[3 + 0x0a], '<0x0A>');
    assert.equal(small.tokens[258], '<0xFF>');
    // b 4×, a 3×, ▁ (the space) 1×, c 1× — ties by code point; newline and tab are left to bytes
    assert.deepEqual(small.tokens.slice(259), ['b', 'a', 'c', '▁']);
    assert.equal(small.size, 263);
    assert.deepEqual(small.types.slice(0, 4), [TOKEN_TYPE.unknown, TOKEN_TYPE.control, TOKEN_TYPE.control, TOKEN_TYPE.byte]);
    assert.deepEqual(small.types.slice(258), [TOKEN_TYPE.byte, TOKEN_TYPE.normal, TOKEN_TYPE.normal, TOKEN_TYPE.normal, TOKEN_TYPE.normal]);
    assert.deepEqual(small.scores.slice(257), [0, 0, 0, -1, -2, -3]);
    assert.equal(new Set(small.tokens).size, small.size, 'no two tokens share a string');
  });

  it('gives known strings their ids, spaces as ▁, a newline as <0x0A>, with <s> and </s> on request', () => {
    assert.deepEqual(small.encode('ab a\n'), [260, 259, 262, 260, 13]);
    assert.deepEqual(small.encode('a', { bos: true, eos: true }), [1, 260, 2]);
    assert.deepEqual(small.encode(''), []);
    assert.equal(small.decode([1, 260, 259, 262, 260, 13, 2]), 'ab a\n');
  });

  it('sends characters without a token through their UTF-8 bytes, and back', () => {
    const text = 'a 😀 中文 é\tz';
    const ids = small.encode(text);
    // 😀 is F0 9F 98 80; 中 is E4 B8 AD
    const emoji = [0xf0, 0x9f, 0x98, 0x80].map((b) => 3 + b);
    assert.deepEqual(ids.slice(2, 6), emoji);
    assert.deepEqual(ids.slice(7, 10), [0xe4, 0xb8, 0xad].map((b) => 3 + b));
    assert.equal(small.decode(ids), text);
  });

  it('decodes without the special tokens; broken byte runs become U+FFFD', () => {
    assert.equal(small.decode([0, 1, 260, 2, 1, 259]), 'ab');
    assert.equal(small.decode([3 + 0xe4, 3 + 0xb8, 260]), '\uFFFDa');
    assert.throws(() => small.decode([263]), (e: unknown) => e instanceof FerryError && /263 is outside the vocabulary of 263/.test(e.message));
  });

  it('keeps at most maxChars characters and only those seen minCount times', () => {
    const v = CharVocab.build(['xxxyyz zz'], { maxChars: 2 });
    assert.deepEqual(v.chars, ['x', 'z']);
    assert.deepEqual(CharVocab.build(['xxxyyz zz'], { minCount: 2 }).chars, ['x', 'z', 'y']);
  });

  it('survives JSON (what the model file stores) and refuses a vocabulary llama.cpp would misread', () => {
    const back = CharVocab.fromJSON(JSON.parse(JSON.stringify(small)));
    assert.deepEqual(back.tokens, small.tokens);
    const refused = (chars: unknown[], pattern: RegExp) =>
      assert.throws(() => CharVocab.fromJSON({ format: 'ferry-char-vocab/1', chars }), (e: unknown) => e instanceof FerryError && pattern.test(e.message));
    refused(['a', 'a'], /lists "a" twice/);
    refused(['ab'], /not one printable character/);
    refused([' '], /not one printable character/);
    refused(['\n'], /not one printable character/);
    assert.throws(() => CharVocab.fromJSON({ chars: ['a'] }), /must be \{"format"/);
  });

  it('round-trips real e-mails and tokenizes them exactly as llama.cpp\'s SPM tokenizer does', async () => {
    const split = await loadSpamAssassin({});
    const vocab = CharVocab.build(split.train.texts, { maxChars: 128 });
    assert.equal(vocab.chars.length, 128);
    assert.equal(vocab.chars[0], '▁', 'the space is the most frequent character');
    let bytes = 0;
    for (const text of split.test.texts.slice(0, 400)) {
      const ids = vocab.encode(text);
      assert.equal(vocab.decode(ids), text);
      assert.deepEqual(ids, llamaSpm(vocab, text));
      bytes += ids.filter((id) => id >= 3 && id < 259).length;
    }
    assert.ok(bytes > 100, `the sample exercises byte fallback (${bytes} byte tokens)`);
    const odd = 'Re: ★ 50% off — 今日 only!! 🎉\n\nnaïve café';
    assert.deepEqual(vocab.encode(odd), llamaSpm(vocab, odd));
    assert.equal(vocab.decode(vocab.encode(odd)), odd);
  });
});
