// Occlusion, and whether attributions point at what matters: patches tile the image edge to edge,
// a linear model's occlusion attributions are its terms exactly, and on mnist-cnn occluding the
// pixels integrated gradients (or occlusion) rank highest lowers the digit's logit far more than
// occluding as many random pixels of the digit's own ink.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { FerryError } from '../../src/core/errors.js';
import { seededRandom } from '../../src/core/random.js';
import { FLOATS_PER_RUN } from '../../src/explain/budget.js';
import { buildGradientModel, GRADIENT_OUTPUT, SCORES_OUTPUT, TARGET_INPUT } from '../../src/explain/gradient-model.js';
import { integratedGradients } from '../../src/explain/integrated-gradients.js';
import { defaultPatch, imageGeometry, occlusion, patches } from '../../src/explain/occlusion.js';
import { openGraphSession, type Session } from '../../src/runtimes/onnx/session.js';
import { mnistExamples } from '../../src/training/data/mnist.js';

describe('occlusion', () => {
  it('sees inputs as images and tiles them edge to edge', () => {
    assert.deepEqual(imageGeometry([784]), { channels: 1, height: 28, width: 28 });
    assert.deepEqual(imageGeometry([3, 32, 48]), { channels: 3, height: 32, width: 48 });
    assert.deepEqual(imageGeometry([10]), { channels: 1, height: 1, width: 10 });
    const geo = imageGeometry([1, 28, 28]);
    assert.deepEqual(defaultPatch(geo), { patch: 4, stride: 2 });
    const list = patches(geo, { patch: 4, stride: 2 });
    assert.equal(list.length, 13 * 13);
    const seen = new Uint8Array(784);
    for (const p of list) for (let r = p.top; r < p.top + p.height; r++) for (let c = p.left; c < p.left + p.width; c++) seen[r * 28 + c] = 1;
    assert.ok(seen.every((v) => v === 1), 'every pixel covered');
    // a stride that does not divide the free space still ends flush with the edge
    const odd = patches(geo, { patch: 5, stride: 4 });
    assert.deepEqual([...new Set(odd.map((p) => p.top))], [0, 4, 8, 12, 16, 20, 23]);
    assert.throws(() => patches(imageGeometry([1, 512, 512]), { patch: 1, stride: 1 }), /makes 262144 occluded copies of this 512×512 input; the limit is 4096: use a larger patch or stride/);
    assert.throws(() => patches(geo, { patch: 0, stride: 1 }), /"patch" must be a positive integer; got 0/);
  });

  it('gives a linear model its own terms, w_i·(x_i − baseline_i), with 1-pixel patches', async () => {
    const w = Float32Array.from({ length: 12 }, (_, i) => i - 5);
    const x = Float32Array.from({ length: 12 }, (_, i) => (i % 3) + 1);
    const baseline = new Float32Array(12).fill(0.5);
    const score = async (batch: Float32Array, rows: number) =>
      Float32Array.from({ length: rows }, (_, r) => batch.subarray(r * 12, (r + 1) * 12).reduce((s, v, i) => s + v * w[i]!, 0));
    const r = await occlusion(x, baseline, imageGeometry([3, 4]), score, { patch: 1, stride: 1 }, { rowsPerRun: 5 });
    assert.equal(r.patches, 12);
    r.attributions.forEach((a, i) => assert.ok(Math.abs(a - w[i]! * (x[i]! - 0.5)) < 1e-4, `${i}: ${a}`));
  });

  it('bounds a large input by floats: rows per run under FLOATS_PER_RUN, all copies under MAX_OCCLUDED_FLOATS', async () => {
    // a dynamic-shape model sent a 3×512×512 image: 64 rows a run would be 50 million floats
    const geo = imageGeometry([3, 512, 512]);
    const size = 3 * 512 * 512;
    const x = new Float32Array(size).fill(1);
    const sizes: number[] = [];
    const score = async (batch: Float32Array, rows: number) => {
      sizes.push(rows);
      assert.equal(batch.length, rows * size);
      return new Float32Array(rows);
    };
    const r = await occlusion(x, new Float32Array(size), geo, score, { patch: 128, stride: 128 }, { rowsPerRun: 64 });
    assert.equal(r.patches, 16);
    assert.equal(Math.floor(FLOATS_PER_RUN / size), 5);
    assert.deepEqual(sizes, [1, 5, 5, 5, 1], 'the input, then 16 copies at most 5 (15.7 M floats) a run');

    // the default patch of a 3×1024×1024 image would make 196 copies (617 M floats): the default
    // grows to fit, and a patch the client chose is refused naming what to raise
    const big = imageGeometry([3, 1024, 1024]);
    assert.throws(() => patches(big, { patch: 146, stride: 73 }), /patch 146 with stride 73 makes 196 occluded copies of this 3×1024×1024 input; an input this large allows at most 85: send a larger "patch" or "stride"/);
    assert.deepEqual(defaultPatch(big), { patch: 292, stride: 146 });
    assert.equal(patches(big, defaultPatch(big)).length, 49);
  });

  it('stops between runs when its signal is aborted, and at its deadline naming patch and stride', async () => {
    const geo = imageGeometry([1, 28, 28]);
    const x = new Float32Array(784).fill(1);
    let runs = 0;
    const abort = new AbortController();
    const score = async (_b: Float32Array, rows: number) => {
      if (++runs === 2) abort.abort();
      return new Float32Array(rows);
    };
    // 169 copies at 8 a run would be 22 runs after the input's
    await assert.rejects(occlusion(x, new Float32Array(784), geo, score, { patch: 4, stride: 2 }, { rowsPerRun: 8, stop: { signal: abort.signal } }), (err: FerryError) => err.code === 'CANCELLED');
    assert.equal(runs, 2, 'the input and one batch of copies, then nothing');

    runs = 0;
    let now = 0;
    const timed = async (_b: Float32Array, rows: number) => {
      runs++;
      now += 400;
      return new Float32Array(rows);
    };
    const deadline = { at: 1000, now: () => now, limitMs: 1000, source: 'server' as const };
    await assert.rejects(occlusion(x, new Float32Array(784), geo, timed, { patch: 4, stride: 2 }, { rowsPerRun: 8, stop: { deadline } }), (err: FerryError) => {
      assert.equal(err.code, 'DEADLINE_EXCEEDED');
      assert.match(err.message, /^the explanation did not finish within the server's limit of 1000 ms for an explanation; patch 4 with stride 2 makes 169 occluded copies \(16 were scored\): send a larger "patch" or "stride"$/);
      return true;
    });
    assert.equal(runs, 3);
  });

  describe('on mnist-cnn: the top-attributed pixels matter more than random ones', () => {
    let model: Session;
    let grads: Session;
    let gradGraph: ReturnType<typeof buildGradientModel>;
    const digits: Float32Array[] = [];
    before(async () => {
      const bytes = new Uint8Array(readFileSync('models/mnist-cnn.onnx'));
      model = await openGraphSession(bytes);
      gradGraph = buildGradientModel(bytes);
      grads = await openGraphSession(gradGraph.bytes);
      const { x, y } = await mnistExamples();
      for (let d = 0; d < 10; d++) {
        const i = y.indexOf(d) + 40;
        digits.push(x.slice(i * 784, (i + 1) * 784));
      }
    });
    after(() => Promise.all([model.release(), grads.release()]));

    const logits = async (batch: Float32Array, rows: number) =>
      (await model.run({ input: { dtype: 'FP32', shape: [rows, 1, 28, 28], data: batch } }, ['logits']))['logits']!.data as Float32Array;
    /** the target's logit after setting `pixels` to 0 */
    const after0 = async (x: Float32Array, pixels: readonly number[], target: number) => {
      const copy = x.slice();
      for (const p of pixels) copy[p] = 0;
      return (await logits(copy, 1))[target]!;
    };
    const topK = (a: Float32Array, k: number) => [...a.keys()].sort((i, j) => a[j]! - a[i]!).slice(0, k);

    for (const method of ['integrated gradients', 'occlusion'] as const) {
      it(`${method}: occluding the top 40 pixels drops the logit more than 40 random ink pixels, over 10 digits`, async (t) => {
        const random = seededRandom(7);
        let topDrop = 0, randomDrop = 0;
        for (const x of digits) {
          const base = await logits(x, 1);
          const target = [...base].indexOf(Math.max(...base));
          let attributions: Float32Array;
          if (method === 'occlusion') {
            const r = await occlusion(x, new Float32Array(784), imageGeometry([1, 28, 28]), async (b, rows) => {
              const s = await logits(b, rows);
              return Float32Array.from({ length: rows }, (_, i) => s[i * 10 + target]!);
            }, { patch: 4, stride: 2 });
            attributions = r.attributions;
          } else {
            attributions = (await integratedGradients(x, async (b, rows, onehot) => {
              const out = await grads.run({ [gradGraph.wrt]: { dtype: 'FP32', shape: [rows, 1, 28, 28], data: b }, [TARGET_INPUT]: { dtype: 'FP32', shape: [rows, 10], data: onehot } });
              return { grad: out[GRADIENT_OUTPUT]!.data as Float32Array, scores: out[SCORES_OUTPUT]!.data as Float32Array };
            }, { steps: 50, baseline: new Float32Array(784), classes: 10, target })).attributions;
          }
          topDrop += base[target]! - (await after0(x, topK(attributions, 40), target));
          // random pixels of the digit itself: occluding blank background would change nothing
          const ink = [...x.keys()].filter((i) => x[i]! > 0.1);
          for (let draw = 0; draw < 5; draw++) {
            const pick = [...ink].sort(() => random() - 0.5).slice(0, 40);
            randomDrop += (base[target]! - (await after0(x, pick, target))) / 5;
          }
        }
        t.diagnostic(`${method}: mean logit drop ${(topDrop / 10).toFixed(2)} occluding the top 40 pixels, ${(randomDrop / 10).toFixed(2)} occluding 40 random ink pixels`);
        assert.ok(topDrop > 1.5 * randomDrop, `top ${topDrop / 10} vs random ${randomDrop / 10}`);
      });
    }
  });
});
