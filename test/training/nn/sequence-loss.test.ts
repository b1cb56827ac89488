// crossEntropy over sequences — logits [N, T, V] against next-token ids [N, T] — is the mean over all
// N·T positions, with gradient (softmax − one-hot)/(N·T) and accuracy counted per position; checked
// through onnxruntime against plain JS in float64.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../../../src/core/errors.js';
import { gradients } from '../../../src/training/autodiff/backward.js';
import { Tape } from '../../../src/training/autodiff/tape.js';
import { correctCount, lossValue, servingOutputs } from '../../../src/training/nn/losses.js';
import { Rng } from '../../../src/training/rng.js';
import { assertClose, randn, runTape } from './support.js';

describe('crossEntropy over sequences', () => {
  it('is the mean next-token negative log-likelihood over every position, gradient (softmax − one-hot)/(N·T)', async () => {
    const [n, t, v] = [3, 4, 5];
    const logits = randn(new Rng(8), n * t * v, 2);
    const y = [0, 4, 2, 2, 1, 3, 3, 0, 4, 4, 1, 2];
    const r = await runTape({
      out: { shape: [n, t, v], recordShape: [-1, t, v], data: logits },
      target: { shape: [n, t], recordShape: [-1, t], data: BigInt64Array.from(y, BigInt) },
    }, (x) => {
      const loss = lossValue('crossEntropy', x['out']!, x['target']!);
      return { loss, grad: gradients(loss, [x['out']!])[0]!, correct: correctCount('crossEntropy', x['out']!, x['target']!)! };
    });
    let loss = 0;
    let correct = 0;
    const grad: number[] = [];
    for (let i = 0; i < n * t; i++) {
      const row = Array.from(logits.subarray(i * v, (i + 1) * v));
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, z) => s + Math.exp(z - m), 0));
      loss += (lse - row[y[i]!]!) / (n * t);
      row.forEach((z, k) => grad.push((Math.exp(z - lse) - (k === y[i] ? 1 : 0)) / (n * t)));
      if (row.indexOf(m) === y[i]) correct++;
    }
    assertClose(r['loss']!.data, [loss], 'loss');
    assertClose(r['grad']!.data, grad, 'd loss / d logits');
    assert.equal(r['correct']!.data[0], correct, 'positions whose next token is the argmax');
    assert.ok(correct > 0 && correct < n * t, 'the case has right and wrong predictions');
  });

  it('refuses targets that do not match the logits\' positions', () => {
    const tape = new Tape();
    assert.throws(() => lossValue('crossEntropy', tape.input('o', [-1, 4, 5]), tape.input('t', [-1, 3], 'INT64')),
      (e: unknown) => e instanceof FerryError && /targets \[N, T\].*got logits \[N, 4, 5\] and targets \[N, 3\]/.test(e.message));
  });

  it('serves a language model\'s logits alone, a classifier\'s with probabilities', () => {
    const tape = new Tape();
    assert.deepEqual(Object.keys(servingOutputs('crossEntropy', tape.input('lm', [-1, -1, 5]))), ['logits']);
    assert.deepEqual(Object.keys(servingOutputs('crossEntropy', tape.input('c', [-1, 5]))), ['logits', 'probabilities']);
  });
});
