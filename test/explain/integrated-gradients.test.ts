// Integrated gradients: exact on a function whose integral the trapezoid rule gets right, refined
// by reusing the gradients it has when completeness is off, and — through Ferry's importer,
// autodiff and onnxruntime — complete within 1% on the built-in digit classifiers (the sum of the
// attributions equals logit(input) − logit(baseline)), for the predicted class and for any other.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { buildGradientModel, GRADIENT_OUTPUT, SCORES_OUTPUT, TARGET_INPUT } from '../../src/explain/gradient-model.js';
import { FerryError } from '../../src/core/errors.js';
import { integratedGradients, REFINE_LIMIT, type GradientRun } from '../../src/explain/integrated-gradients.js';
import { openGraphSession, type Session } from '../../src/runtimes/onnx/session.js';
import { mnistExamples } from '../../src/training/data/mnist.js';

/** F_c(x) = Σ_i a_ci · x_i² for 2 classes, in plain JS; `rows` counts the rows evaluated. */
function quadratic(a: number[][]) {
  const counter = { rows: 0 };
  const run: GradientRun = async (x, rows, target) => {
    counter.rows += rows;
    const n = a[0]!.length;
    const grad = new Float32Array(rows * n);
    const scores = new Float32Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < 2; c++) {
        for (let i = 0; i < n; i++) {
          const v = x[r * n + i]!;
          scores[r * 2 + c]! += a[c]![i]! * v * v;
          grad[r * n + i]! += target[r * 2 + c]! * 2 * a[c]![i]! * v;
        }
      }
    }
    return { grad, scores };
  };
  return { run, counter };
}

describe('integrated gradients', () => {
  it('is exact where the trapezoid rule is (a gradient linear along the path) and picks the predicted class', async () => {
    const a = [[1, -2, 0.5], [3, 1, 1]];
    const { run } = quadratic(a);
    const x = Float32Array.of(1, 2, -1);
    const baseline = Float32Array.of(0.5, 0, 0);
    const r = await integratedGradients(x, run, { steps: 4, baseline, classes: 2 });
    assert.equal(r.target, 1, 'class 1 scores 3·1 + 4 + 1 = 8 against 1 − 8 + 0.5');
    // attribution_i = a_i (x_i² − b_i²)
    [3 * 0.75, 1 * 4, 1 * 1].forEach((want, i) => assert.ok(Math.abs(r.attributions[i]! - want) < 1e-5, `${i}: ${r.attributions[i]} vs ${want}`));
    assert.ok(r.completeness.relativeError < 1e-6);
    assert.equal(r.steps, 4);
    const other = await integratedGradients(x, run, { steps: 4, baseline, classes: 2, target: 0 });
    assert.ok(Math.abs(other.completeness.sum - (a[0]![0]! * 0.75 - 8 + 0.5)) < 1e-5);
  });

  it('doubles the steps while completeness is off, reusing every gradient it already has', async () => {
    // F(x) = x⁴: the trapezoid rule overshoots, so refinement has work to do
    const counter = { rows: 0 };
    const run: GradientRun = async (x, rows, target) => {
      counter.rows += rows;
      return { grad: x.map((v, r) => 4 * v ** 3 * target[r]!), scores: x.map((v) => v ** 4) };
    };
    const r = await integratedGradients(Float32Array.of(1), run, { steps: 2, baseline: Float32Array.of(0), classes: 1, target: 0, tolerance: 0.01 });
    assert.ok(r.completeness.relativeError <= 0.01, `${r.completeness.relativeError}`);
    assert.equal(r.steps, 16);
    assert.equal(counter.rows, r.steps + 1, 'each α evaluated once: 3 rows, then 2, 4 and 8 midpoints');
    const fixed = await integratedGradients(Float32Array.of(1), run, { steps: 2, baseline: Float32Array.of(0), classes: 1, target: 0, tolerance: 0 });
    assert.equal(fixed.steps, 2, 'tolerance 0 keeps exactly the steps asked for');
    assert.ok(Math.abs(fixed.completeness.sum - 1.25) < 1e-6, 'trapezoid of 4α³ over 2 steps: (0 + 2·0.5 + 4) / 4');
  });

  it('judges completeness absolutely when F(x) ≈ F(baseline), instead of refining to the limit', async () => {
    // F(x) = x₀⁴ − x₁² from 0 to (1, 1): F(x) − F(0) = 0 exactly, so no relative error can be met.
    // The trapezoid rule is off by exactly 1/m² on x₀⁴ and exact on x₁², so the absolute floor
    // (tolerance · 0.1 · max(1, |F|) = 1e-3) is met at m = 32, where 1/32² ≈ 0.00098.
    let rows = 0;
    const run: GradientRun = async (x, n, target) => {
      rows += n;
      const grad = new Float32Array(2 * n);
      const scores = new Float32Array(n);
      for (let r = 0; r < n; r++) {
        const [a, b] = [x[2 * r]!, x[2 * r + 1]!];
        scores[r] = a ** 4 - b ** 2;
        grad[2 * r] = target[r]! * 4 * a ** 3;
        grad[2 * r + 1] = target[r]! * -2 * b;
      }
      return { grad, scores };
    };
    const r = await integratedGradients(Float32Array.of(1, 1), run, { steps: 2, baseline: new Float32Array(2), classes: 1, target: 0 });
    assert.equal(r.completeness.judged, 'absolute');
    assert.equal(r.completeness.outputDelta, 0);
    assert.ok(Math.abs(r.completeness.absoluteError - 1 / 32 ** 2) < 1e-6, `${r.completeness.absoluteError}`);
    assert.equal(r.steps, 32, `not ${REFINE_LIMIT}: refinement stops once the error is below the absolute floor`);
    assert.equal(rows, 33, 'each α evaluated once');
    // a delta well above the floor is still judged relatively
    const { run: quad } = quadratic([[1, -2, 0.5], [3, 1, 1]]);
    const rel = await integratedGradients(Float32Array.of(1, 2, -1), quad, { steps: 4, baseline: Float32Array.of(0.5, 0, 0), classes: 2 });
    assert.equal(rel.completeness.judged, 'relative');
  });

  it('stops between runs when its signal is aborted, and at its deadline with what to ask for instead', async () => {
    const counting = () => {
      const calls = { runs: 0 };
      const { run: inner } = quadratic([[1, 1, 1], [2, 0, 1]]);
      const run: GradientRun = async (b, rows, target) => {
        calls.runs++;
        return inner(b, rows, target);
      };
      return { calls, run };
    };
    const opts = { steps: 50, baseline: new Float32Array(3), classes: 2, target: 1, rowsPerRun: 4, tolerance: 0 };
    const x = Float32Array.of(1, 2, 3);

    // the client goes away during the second run: 13 runs of 4 rows would cover 51 points
    const gone = counting();
    const abort = new AbortController();
    const stopping: GradientRun = async (b, rows, t) => {
      if (gone.calls.runs === 1) abort.abort();
      return gone.run(b, rows, t);
    };
    await assert.rejects(integratedGradients(x, stopping, { ...opts, stop: { signal: abort.signal } }), (err: FerryError) => err.code === 'CANCELLED');
    assert.equal(gone.calls.runs, 2, 'no run starts after the abort');

    // each run takes 100 ms on an injected clock; the limit of 250 ms passes during the third
    const slow = counting();
    let now = 0;
    const timed: GradientRun = async (b, rows, t) => {
      now += 100;
      return slow.run(b, rows, t);
    };
    const deadline = { at: 250, now: () => now, limitMs: 250, source: 'request' as const };
    await assert.rejects(integratedGradients(x, timed, { ...opts, stop: { deadline } }), (err: FerryError) => {
      assert.equal(err.code, 'DEADLINE_EXCEEDED');
      assert.equal(err.status, 504);
      assert.match(err.message, /^the explanation did not finish within the request's "timeout" of 250 ms; ask for fewer "steps" \(this one had reached 50\), or "tolerance": 0 .*, or send a longer "timeout"$/);
      return true;
    });
    assert.equal(slow.calls.runs, 3);
  });

  it('refuses steps, targets and baselines that do not fit', async () => {
    const { run } = quadratic([[1], [1]]);
    const opts = { baseline: Float32Array.of(0), classes: 2 };
    await assert.rejects(integratedGradients(Float32Array.of(1), run, { ...opts, steps: 0 }), /"steps" must be an integer from 1 to 512; got 0/);
    await assert.rejects(integratedGradients(Float32Array.of(1), run, { ...opts, steps: 10, target: 2 }), /"target" must be a class index from 0 to 1; got 2/);
    await assert.rejects(integratedGradients(Float32Array.of(1, 2), run, { ...opts, steps: 10 }), /the baseline has 1 values but the input has 2/);
  });

  describe('on the built-in digit classifiers', () => {
    const sessions: Session[] = [];
    let digits: Float32Array;
    const DIGITS = 10;
    before(async () => {
      const { x, y } = await mnistExamples();
      // one of each digit, the 18th of its kind
      digits = new Float32Array(DIGITS * 784);
      for (let d = 0; d < DIGITS; d++) {
        const i = y.indexOf(d) + 17;
        digits.set(x.subarray(i * 784, (i + 1) * 784), d * 784);
      }
    });
    after(() => Promise.all(sessions.map((s) => s.release())));

    const runner = async (file: string, shape: number[]) => {
      const g = buildGradientModel(new Uint8Array(readFileSync(file)));
      const s = await openGraphSession(g.bytes, { intraOpThreads: 1 });
      sessions.push(s);
      const run: GradientRun = async (x, rows, target) => {
        const out = await s.run({ [g.wrt]: { dtype: 'FP32', shape: [rows, ...shape], data: x }, [TARGET_INPUT]: { dtype: 'FP32', shape: [rows, 10], data: target } });
        return { grad: out[GRADIENT_OUTPUT]!.data as Float32Array, scores: out[SCORES_OUTPUT]!.data as Float32Array };
      };
      return run;
    };

    for (const [name, shape] of [['mnist-mlp', [784]], ['mnist-cnn', [1, 28, 28]]] as const) {
      it(`${name}: Σ attributions = logit(digit) − logit(blank) within 1%, for the predicted class and another`, async (t) => {
        const run = await runner(`models/${name}.onnx`, [...shape]);
        let worst = 0;
        let correct = 0;
        for (let d = 0; d < DIGITS; d++) {
          const x = digits.subarray(d * 784, (d + 1) * 784);
          const r = await integratedGradients(x, run, { steps: 50, baseline: new Float32Array(784), classes: 10 });
          if (r.target === d) correct++;
          worst = Math.max(worst, r.completeness.relativeError);
          const sum = r.attributions.reduce((a, b) => a + b, 0);
          assert.ok(Math.abs(sum - r.completeness.sum) < 1e-3 * Math.max(1, Math.abs(sum)));
          const other = await integratedGradients(x, run, { steps: 50, baseline: new Float32Array(784), classes: 10, target: (d + 1) % 10 });
          worst = Math.max(worst, other.completeness.relativeError);
        }
        t.diagnostic(`${name}: worst completeness error ${(worst * 100).toFixed(3)}% over ${DIGITS} digits × 2 classes; ${correct}/${DIGITS} predicted right`);
        assert.ok(worst <= 0.01, `completeness off by ${(worst * 100).toFixed(2)}%`);
        assert.ok(correct >= 8, `${correct} of ${DIGITS} digits predicted right`);
      });
    }

    it('mnist-cnn: 50 steps without refinement, timed', async (t) => {
      const run = await runner('models/mnist-cnn.onnx', [1, 28, 28]);
      const x = digits.subarray(3 * 784, 4 * 784);
      await integratedGradients(x, run, { steps: 50, baseline: new Float32Array(784), classes: 10, tolerance: 0 }); // warm-up
      const started = performance.now();
      const r = await integratedGradients(x, run, { steps: 50, baseline: new Float32Array(784), classes: 10, tolerance: 0 });
      t.diagnostic(`mnist-cnn integrated gradients, 50 steps (one run of 1 row for the class, one of 51 rows): ${(performance.now() - started).toFixed(1)} ms, completeness error ${(r.completeness.relativeError * 100).toFixed(3)}%`);
      assert.equal(r.steps, 50);
    });
  });
});
