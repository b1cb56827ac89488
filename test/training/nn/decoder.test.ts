// The DecoderLM against llama's arithmetic: the exported inference model (what gets registered)
// run in onnxruntime gives the logits that test/helpers/llama-reference.ts computes with loops in
// float64 from the same parameter map — at several run-time sequence lengths, with random norm
// weights, a non-default eps and rotary base — so a GGUF file written from these parameters makes
// llama.cpp compute what Ferry trained. Also: causality, the parameter-name contract, and the
// checks on a DecoderLM spec.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FerryError } from '../../../src/core/errors.js';
import { inspectOnnx } from '../../../src/graph/onnx.js';
import { openGraphSession } from '../../../src/runtimes/onnx/session.js';
import { buildInferenceModel, type NetworkShape } from '../../../src/training/graphs.js';
import { buildModel } from '../../../src/training/nn/build.js';
import { DecoderLM, ropeTables, type DecoderLMOptions } from '../../../src/training/nn/decoder.js';
import { Rng } from '../../../src/training/rng.js';
import { parseSpec } from '../../../src/training/spec.js';
import { readMetadata } from '../../../src/training/weights.js';
import { llamaForward } from '../../helpers/llama-reference.js';

/** A DecoderLM with every parameter drawn at a scale where each path moves the logits: norm
 *  weights around 1 (not all 1, so a norm weight applied to the wrong axis shows), the rest N(0, s). */
function randomModel(o: DecoderLMOptions, seed: number): { lm: DecoderLM; params: Map<string, Float32Array> } {
  const lm = new DecoderLM(o);
  lm.initialize(new Rng(seed));
  const rng = new Rng(seed + 100);
  const params = new Map<string, Float32Array>();
  for (const [name, p] of lm.namedParameters()) {
    const isNorm = name.endsWith('Norm.weight') || name === 'norm.weight';
    const scale = name === 'tokens' ? 1 : isNorm ? 0.3 : 0.6 / Math.sqrt(p.shape[0]!);
    p.data = Float32Array.from({ length: p.size }, () => (isNorm ? 1 : 0) + scale * rng.normal());
    params.set(name, p.data);
  }
  return { lm, params };
}

/** The exported inference model, as the trainer builds it for a language model. */
function exported(lm: DecoderLM, params: ReadonlyMap<string, Float32Array>): Uint8Array {
  const shape: NetworkShape = { net: lm, loss: 'crossEntropy', inputShape: [lm.o.context], inputType: 'INT64', targetShape: [lm.o.context] };
  return buildInferenceModel(shape, params, lm.exportMetadata());
}

async function logitsOf(onnx: Uint8Array, rows: readonly (readonly number[])[]): Promise<{ shape: number[]; data: Float32Array }> {
  const s = await openGraphSession(onnx);
  try {
    const t = rows[0]!.length;
    const out = await s.run({ input_ids: { dtype: 'INT64', shape: [rows.length, t], data: BigInt64Array.from(rows.flat(), BigInt) } });
    return { shape: out['logits']!.shape as number[], data: out['logits']!.data as Float32Array };
  } finally {
    await s.release();
  }
}

function assertNear(actual: Float32Array, expected: Float32Array, what: string, tol = 1e-4): void {
  assert.equal(actual.length, expected.length, `${what}: sizes`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!));
    worst = Math.max(worst, err);
    assert.ok(err <= tol, `${what}[${i}]: onnxruntime ${actual[i]}, llama reference ${expected[i]}`);
  }
}

const CONFIGS: [string, DecoderLMOptions][] = [
  ['defaults (eps 1e-5, rope base 10000), 2 heads of 8', { vocab: 23, context: 12, dim: 16, heads: 2, layers: 2, ffn: 24 }],
  // base 100 turns the slow pairs fast enough that every pair's angle matters within 12 positions;
  // eps 0.05 is large enough that leaving it out, or adding it outside the root, shows
  ['eps 0.05, rope base 100, 4 heads of 4, 3 blocks', { vocab: 17, context: 12, dim: 16, heads: 4, layers: 3, ffn: 20, eps: 0.05, ropeBase: 100 }],
];

describe('DecoderLM computes what llama computes', () => {
  for (const [what, o] of CONFIGS) {
    it(`${what}: onnxruntime logits = plain-JS llama forward, at run-time lengths 12, 7 and 1`, async () => {
      const { lm, params } = randomModel(o, 3);
      const onnx = exported(lm, params);
      const rng = new Rng(9);
      const cfg = lm.config;
      for (const t of [12, 7, 1]) {
        const rows = [0, 1].map(() => Array.from({ length: t }, () => rng.int(o.vocab)));
        const out = await logitsOf(onnx, rows);
        assert.deepEqual(out.shape, [2, t, o.vocab]);
        rows.forEach((ids, r) => {
          const ref = llamaForward(params, cfg, ids);
          assertNear(out.data.subarray(r * t * o.vocab, (r + 1) * t * o.vocab), ref, `T=${t} row ${r} logits`);
        });
        // the reference is not trivially satisfied: the positions' logits differ from each other
        if (t > 1) assert.ok(Math.abs(out.data[0]! - out.data[o.vocab]!) > 1e-3, 'logits vary with position');
      }
    });
  }

  it('depends on the order of tokens (rotary positions), not only on which tokens came before', async () => {
    const { lm, params } = randomModel(CONFIGS[0]![1], 5);
    const out = await logitsOf(exported(lm, params), [[3, 4, 5, 6], [4, 3, 5, 6]]);
    const v = 23;
    // the same multiset of earlier tokens, in another order: the last position's logits change
    const last = (r: number) => out.data.subarray(r * 4 * v + 3 * v, r * 4 * v + 4 * v);
    assert.ok(last(0).some((x, i) => Math.abs(x - last(1)[i]!) > 1e-3));
  });

  it('is causal: changing a later token leaves every earlier position\'s logits as they were', async () => {
    const { lm, params } = randomModel(CONFIGS[1]![1], 7);
    const onnx = exported(lm, params);
    const v = 17;
    const a = [1, 5, 9, 2, 14, 3, 8, 8, 0, 6];
    for (const k of [9, 4, 1]) {
      const b = [...a];
      b[k] = (a[k]! + 5) % v;
      const out = await logitsOf(onnx, [a, b]);
      const t = a.length;
      for (let p = 0; p < t; p++) {
        const rowA = out.data.subarray(p * v, (p + 1) * v);
        const rowB = out.data.subarray(t * v + p * v, t * v + (p + 1) * v);
        const diff = Math.max(...rowA.map((x, i) => Math.abs(x - rowB[i]!)));
        if (p < k) assert.ok(diff <= 1e-6, `token ${k} changed: position ${p} moved by ${diff}`);
        else assert.ok(diff > 1e-4, `token ${k} changed: position ${p} (at or after it) should move, moved ${diff}`);
      }
    }
  });

  it('exports input_ids [batch, sequence] → logits [batch, sequence, vocab] with its hyper-parameters', () => {
    const { lm, params } = randomModel(CONFIGS[0]![1], 1);
    const onnx = exported(lm, params);
    const s = inspectOnnx(onnx);
    assert.deepEqual(s.inputs.map((i) => [i.name, i.dtype, i.shape]), [['input_ids', 'INT64', ['batch', 'sequence']]]);
    assert.deepEqual(s.outputs.map((o) => [o.name, o.dtype, o.shape]), [['logits', 'FP32', ['batch', 'sequence', 23]]]);
    assert.deepEqual(JSON.parse(readMetadata(onnx)['ferry.decoder']!), { vocab: 23, context: 12, dim: 16, heads: 2, layers: 2, ffn: 24, eps: 1e-5, ropeBase: 10000 });
  });
});

describe('DecoderLM parameters', () => {
  it('carry the names and shapes a GGUF exporter maps, norms starting at 1', () => {
    const lm = new DecoderLM({ vocab: 50, context: 8, dim: 8, heads: 2, layers: 2, ffn: 12 });
    lm.initialize(new Rng(0));
    const block = (i: number) => [
      [`blocks.${i}.attnNorm.weight`, [8]],
      [`blocks.${i}.attention.q.weight`, [8, 8]], [`blocks.${i}.attention.k.weight`, [8, 8]],
      [`blocks.${i}.attention.v.weight`, [8, 8]], [`blocks.${i}.attention.out.weight`, [8, 8]],
      [`blocks.${i}.ffnNorm.weight`, [8]],
      [`blocks.${i}.gate.weight`, [8, 12]], [`blocks.${i}.up.weight`, [8, 12]], [`blocks.${i}.down.weight`, [12, 8]],
    ];
    const named = lm.namedParameters();
    assert.deepEqual(named.map(([n, p]) => [n, p.shape]), [['tokens', [50, 8]], ...block(0), ...block(1), ['norm.weight', [8]], ['output.weight', [8, 50]]]);
    for (const [n, p] of named) if (n.endsWith('orm.weight')) assert.ok(p.data.every((x) => x === 1), `${n} starts at 1`);
  });

  it('stand alone when a spec names a DecoderLM, without the Sequential\'s "0." prefix', () => {
    const net = buildModel([{ type: 'DecoderLM', vocab: 30, context: 8, dim: 8, heads: 2, layers: 1, ffn: 16 }]);
    assert.equal(net.namedParameters()[0]![0], 'tokens');
  });

  it('rotary tables turn adjacent pairs by p·base^(−2i/headDim)', () => {
    const { cos, sin, swap } = ropeTables(3, 8, 4, 100);
    // position 2, head 1, pair i = 1: columns 6 and 7, angle 2 · 100^(−1/2) = 0.2
    assert.ok(Math.abs(cos[2 * 8 + 6]! - Math.cos(0.2)) < 1e-7 && Math.abs(cos[2 * 8 + 7]! - Math.cos(0.2)) < 1e-7);
    assert.ok(Math.abs(sin[2 * 8 + 6]! + Math.sin(0.2)) < 1e-7 && Math.abs(sin[2 * 8 + 7]! - Math.sin(0.2)) < 1e-7);
    assert.equal(swap[7 * 8 + 6], 1);
    assert.equal(swap[6 * 8 + 7], 1);
    assert.equal(swap.reduce((a, b) => a + b, 0), 8);
  });
});

describe('a DecoderLM spec', () => {
  const base = {
    name: 'lm', dataset: { type: 'spam-assassin-lm', context: 8 }, loss: 'crossEntropy', optimizer: { type: 'adamw', lr: 1e-3 },
    epochs: 1, batchSize: 4, seed: 0,
  };
  const layer = { type: 'DecoderLM', vocab: 30, context: 8, dim: 8, heads: 2, layers: 1, ffn: 16 };
  const refused = (spec: unknown, pattern: RegExp) => assert.throws(() => parseSpec(spec), (e: unknown) => e instanceof FerryError && pattern.test(e.message));

  it('parses with its required fields, eps and ropeBase', () => {
    assert.equal(parseSpec({ ...base, model: [{ ...layer, eps: 1e-6, ropeBase: 500000 }] }).model[0]!.type, 'DecoderLM');
  });
  it('names a missing field, a bad number and a second layer', () => {
    const { ffn: _ffn, ...noFfn } = layer;
    refused({ ...base, model: [noFfn] }, /model\[0\]\.ffn is required for DecoderLM/);
    refused({ ...base, model: [{ ...layer, context: 0 }] }, /model\[0\]\.context must be a positive integer/);
    refused({ ...base, model: [{ ...layer, ropeBase: -1 }] }, /model\[0\]\.ropeBase must be a positive number/);
    refused({ ...base, model: [layer, { type: 'Linear', in: 30, out: 2 }] }, /whole language model: make it the only layer/);
  });
  it('refuses an odd head width, which rotary positions cannot pair up', () => {
    assert.throws(() => new DecoderLM({ vocab: 10, context: 4, dim: 6, heads: 2, layers: 1, ffn: 8 }), /head width 6\/2 = 3 must be even/);
  });
});
