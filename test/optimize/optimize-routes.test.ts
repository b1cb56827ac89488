// POST /api/models/:name/versions/:version/optimize on a real server: 201 with the registered version
// and its report, the variant serves over V2, an alias moves only when asked and within tolerance,
// unversioned requests keep getting what they got, and bad requests get a 400 that says what to send.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { decodeModel, encodeModel } from '../../src/graph/onnx.js';
import { RECIPES } from '../../src/training/recipes.js';
import { runTraining } from '../../src/training/run.js';
import { mlpModel } from '../fixtures/models.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

const post = (s: TestServer, path: string, body: unknown) =>
  fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('POST /api/models/:name/versions/:version/optimize', () => {
  let s: TestServer;
  let digit: number[];

  before(async () => {
    s = await startServer();
    const spec = { ...RECIPES['mnist-mlp']!, dataset: { type: 'mnist', train: 400, test: 200 } as const, epochs: 3, batchSize: 32 };
    const trained = await runTraining({ spec });
    assert.equal((await pushModel(s.url, 'digits', trained.onnx)).status, 201);
    assert.equal((await pushModel(s.url, 'foreign', mlpModel({ inputs: 4, hidden: 3, outputs: 2 }))).status, 201);
    // An upload with external data is refused at push, so this stands in for a registry folder that
    // holds one anyway (written by hand, or by an older Ferry): the stored file is swapped after push.
    assert.equal((await pushModel(s.url, 'external', mlpModel({ inputs: 4, hidden: 3, outputs: 2 }))).status, 201);
    const external = decodeModel(mlpModel({ inputs: 4, hidden: 3, outputs: 2 }));
    const w1 = external.graph!.initializer.find((t) => t.name === 'w1')!;
    Object.assign(w1, { rawData: undefined, dataLocation: 1, externalData: [{ key: 'location', value: 'w1.bin' }] });
    const record = await s.ferry.registry.resolve('external', '1');
    writeFileSync(await s.ferry.registry.artifacts.localPath(record.artifactKey), encodeModel(external));
    digit = Array.from({ length: 784 }, (_, i) => ((i * 7) % 13) / 13);
  });
  after(() => s.close());

  it('answers 201 with the new version and its report, moves the alias asked for, and the variant serves', async () => {
    const r = await post(s, '/api/models/digits/versions/1/optimize', { int8: 'dynamic', deploy: 'canary', tolerance: 5 });
    const body = await r.json() as {
      version: { version: number; metadata: { lineage: unknown; optimization: { withinTolerance: boolean } }; artifactKey?: string };
      report: { size: { ratio: number }; accuracy: { measured: boolean; examples: number }; latency: { batches: { batch: number }[] } };
      deployed: unknown; pinned: unknown;
    };
    assert.equal(r.status, 201, JSON.stringify(body));
    assert.equal(r.headers.get('location'), '/api/models/digits/versions/2');
    assert.equal(body.version.version, 2);
    assert.equal(body.version.artifactKey, undefined, 'where the file sits stays private');
    assert.deepEqual(body.version.metadata.lineage, { parent: { model: 'digits', version: 1 }, transformation: 'int8-dynamic' });
    assert.ok(body.report.size.ratio > 3.5);
    assert.deepEqual([body.report.accuracy.measured, body.report.accuracy.examples], [true, 200]);
    assert.deepEqual(body.report.latency.batches.map((b) => b.batch), [1, 64]);
    assert.deepEqual(body.deployed, { alias: 'canary', version: 2 });
    assert.deepEqual(body.pinned, { alias: 'prod', version: 1 });

    const model = await (await fetch(`${s.url}/api/models/digits`)).json() as { aliases: Record<string, number> };
    assert.deepEqual(model.aliases, { prod: 1, canary: 2 });
    const infer = async (path: string) => {
      const res = await post(s, path, { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 784], data: digit }] });
      assert.equal(res.status, 200, await res.clone().text());
      const out = await res.json() as { model_version: string; outputs: { name: string; data: number[] }[] };
      return { version: out.model_version, probs: out.outputs.find((o) => o.name === 'probabilities')!.data };
    };
    const [orig, variant, unversioned] = [await infer('/v2/models/digits/versions/1/infer'), await infer('/v2/models/digits/versions/canary/infer'), await infer('/v2/models/digits/infer')];
    assert.equal(variant.version, '2');
    assert.equal(unversioned.version, '1', 'unversioned requests still go to what served them before');
    const top = (p: number[]) => p.indexOf(Math.max(...p));
    assert.equal(top(variant.probs), top(orig.probs));
  });

  it('refuses bad requests with 400 and a message that says what to send', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['/api/models/digits/versions/1/optimize', { int8: true }, /int8 must be "dynamic" or "static", got true/],
      ['/api/models/digits/versions/1/optimize', { quantize: 'int8' }, /body.quantize is not a known field; known fields: int8, fp16, prune/],
      ['/api/models/digits/versions/1/optimize', { int8: 'dynamic', evaluation: { dataset: { type: 'csv', path: '../../etc/passwd', label: 'y' } } },
        /evaluation.dataset path "..\/..\/etc\/passwd" must be a path relative to the server's datasets folder/],
      ['/api/models/foreign/versions/1/optimize', { int8: 'static' }, /static int8 quantization needs a calibration set, and foreign:1 records no training dataset/],
      ['/api/models/digits/versions/V1/optimize', { int8: 'dynamic' }, /version "V1" is neither a version number \(1, 2, ...\) nor an alias name/],
      ['/api/models/external/versions/1/optimize', { int8: 'dynamic' }, /tensor 'w1' keeps its data in an external file.*save_as_external_data=False/],
      ['/api/models/external/versions/1/optimize', { fp16: true }, /tensor 'w1' keeps its data in an external file/],
      ['/api/models/external/versions/1/optimize', { prune: { amount: 0.5 } }, /tensor 'w1' keeps its data in an external file/],
    ];
    for (const [path, body, message] of cases) {
      const r = await post(s, path, body);
      const e = await r.json() as { error: { code: string; message: string } };
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(e)}`);
      assert.equal(e.error.code, 'INVALID_ARGUMENT');
      assert.match(e.error.message, message);
    }
    const text = await fetch(`${s.url}/api/models/digits/versions/1/optimize`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'int8' });
    assert.equal(text.status, 400);
    assert.match((await text.json() as { error: { message: string } }).error.message, /send what to do as a JSON object \(content-type: application\/json\), e.g. \{"int8": "dynamic"\}/);
    const missing = await post(s, '/api/models/nope/versions/1/optimize', { int8: 'dynamic' });
    assert.equal(missing.status, 404);
    const model = await (await fetch(`${s.url}/api/models/digits`)).json() as { versions: { version: number }[] };
    assert.deepEqual(model.versions.map((v) => v.version), [1, 2], 'nothing else was registered');
  });
});
