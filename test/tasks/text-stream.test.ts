// Streaming text a token at a time, with a real character vocabulary: what the client receives adds
// up to the decoded text, a character split over byte tokens arrives whole, and a stop string split
// over tokens is never partly sent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CharVocab } from '../../src/text/char-vocab.js';
import { TextStream } from '../../src/tasks/text-stream.js';

const vocab = CharVocab.fromJSON({ format: 'ferry-char-vocab/1', chars: [...'▁abcdefghijklmnopqrstuvwxyz.,!'] });
const model = { detokenize: (ids: readonly number[]) => vocab.decode(ids) };

function streamed(text: string, stop: string[] = []): { pieces: string[]; stream: TextStream } {
  const s = new TextStream(model, stop);
  const pieces: string[] = [];
  for (const id of vocab.encode(text)) {
    const p = s.push(id);
    if (p) pieces.push(p);
    if (s.stopped) break;
  }
  const rest = s.flush();
  if (rest) pieces.push(rest);
  return { pieces, stream: s };
}

describe('TextStream', () => {
  it('sends every character once, and a multi-byte character only when whole', () => {
    const text = 'hi 😀 ok, ñ!';
    const { pieces, stream } = streamed(text);
    assert.equal(pieces.join(''), text);
    assert.equal(stream.text, text);
    assert.ok(pieces.includes('😀'), `the emoji (4 byte tokens) arrives as one piece: ${JSON.stringify(pieces)}`);
    assert.ok(!pieces.some((p) => p.includes('\uFFFD')), 'never half a character');
  });

  it('sends what is still held back when generation ends: a broken byte sequence, a stop string\'s start', () => {
    const s = new TextStream(model, ['xyz']);
    const ids = [...vocab.encode('ab'), vocab.encode('😀')[0]!];
    const pieces = ids.map((id) => s.push(id));
    assert.deepEqual(pieces, ['a', 'b', ''], 'the lone first byte of an emoji waits');
    assert.equal(s.flush(), '\uFFFD', 'and is sent, broken, at the end');
    const t = new TextStream(model, ['xyz']);
    assert.equal(vocab.encode('axy').map((id) => t.push(id)).join(''), 'a');
    assert.equal(t.flush(), 'xy');
    assert.equal(t.text, 'axy');
  });

  it('cuts at the first stop string and never sends part of one', () => {
    const { pieces, stream } = streamed('one two. three', ['. th', 'zzz']);
    assert.equal(stream.text, 'one two');
    assert.equal(pieces.join(''), 'one two');
    assert.equal(stream.stopped, true);
    // a stop string's beginning is held back until it is clear it is not one
    const held = streamed('a.b.c', ['.x']);
    assert.equal(held.pieces.join(''), 'a.b.c');
    assert.equal(held.stream.stopped, false);
    assert.deepEqual(held.pieces, ['a', '.b', '.c'], 'each "." waits for the next character');
  });
});
