// The KServe V2 REST surface apart from inference itself: health, server and model metadata,
// version addressing (number, alias, default policy), the model_repository and statistics
// extensions, Prometheus metrics and request ids. A real Ferry on loopback, real ONNX models.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FERRY_VERSION } from '../../src/version.js';
import { addModel, mlpModel, mlpParams, mlpReference, type MlpParams } from '../fixtures/models.js';
import { pushModel, startServer, type TestServer } from '../helpers/server.js';

const SHAPE = { inputs: 4, hidden: 8, outputs: 3 };
const V1 = mlpParams({ ...SHAPE, seed: 1 });
const V2 = mlpParams({ ...SHAPE, seed: 2 });
const ROW = Float32Array.from([0.5, -1.25, 2, 0.75]);

async function push(s: TestServer, name: string, bytes: Uint8Array, config?: object): Promise<void> {
  const res = await pushModel(s.url, name, bytes, config);
  assert.equal(res.status, 201, await res.text());
}

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers };
}

const post = (url: string, body?: unknown) => getJson(url, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });

/** A 404 (or other) with the V2 envelope: exactly {"error": "<message>"}. */
function assertV2Error(r: { status: number; body: unknown }, status: number, message: RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body as object), ['error']);
  const msg = (r.body as { error: unknown }).error;
  assert.equal(typeof msg, 'string');
  assert.match(msg as string, message);
}

function inferBody(x: Float32Array, rows: number) {
  return { inputs: [{ name: 'input', shape: [rows, SHAPE.inputs], datatype: 'FP32', data: Array.from(x) }] };
}

function assertClose(actual: readonly number[], expected: Float32Array, tol = 1e-4): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= tol, `element ${i}: got ${v}, expected ${expected[i]}`));
}

async function inferLogits(url: string, path: string, p: MlpParams): Promise<string> {
  const r = await post(`${url}${path}`, inferBody(ROW, 1));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const out = r.body as { model_version: string; outputs: { name: string; data: number[] }[] };
  assertClose(out.outputs[0]!.data, mlpReference(p, ROW, 1));
  return out.model_version;
}

/** The value of one Prometheus sample whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

describe('V2 health and server metadata', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  it('answers live and ready with 200 once listening', async () => {
    const live = await getJson(`${s.url}/v2/health/live`);
    assert.equal(live.status, 200);
    const ready = await getJson(`${s.url}/v2/health/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { ready: true });
  });

  it('GET /v2 names the server, its version and the extensions it implements', async () => {
    const r = await getJson(`${s.url}/v2`);
    assert.equal(r.status, 200);
    const body = r.body as { name: string; version: string; extensions: string[] };
    assert.equal(body.name, 'ferry');
    assert.equal(body.version, FERRY_VERSION);
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    for (const ext of ['binary_tensor_data', 'model_repository', 'statistics', 'schedule_policy']) {
      assert.ok(body.extensions.includes(ext), `extensions should list ${ext}: ${body.extensions.join(', ')}`);
    }
  });

  it('answers an unknown path under /v2 with 404 and the V2 envelope', async () => {
    assertV2Error(await getJson(`${s.url}/v2/models/mlp/explain`), 404, /no route GET \/v2\/models\/mlp\/explain/);
  });
});

describe('V2 model metadata, readiness and version addressing', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
    await push(s, 'mlp', mlpModel(V1));
    await push(s, 'mlp', mlpModel(V2));
  });
  after(() => s.close());

  const expectedTensors = {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 3] }],
  };

  it('describes a model: platform, versions, and tensors with -1 for the open batch dimension', async () => {
    const r = await getJson(`${s.url}/v2/models/mlp`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { name: 'mlp', versions: ['1', '2'], platform: 'onnx_onnxv1', ...expectedTensors });
  });

  it('describes one version under /versions/{v}', async () => {
    const r = await getJson(`${s.url}/v2/models/mlp/versions/1`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { name: 'mlp', versions: ['1', '2'], platform: 'onnx_onnxv1', version: '1', ...expectedTensors });
  });

  it('reports a model and a version ready (loading it if needed)', async () => {
    const r = await getJson(`${s.url}/v2/models/mlp/ready`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { name: 'mlp', version: '2', ready: true });
    const v1 = await getJson(`${s.url}/v2/models/mlp/versions/1/ready`);
    assert.equal(v1.status, 200);
    assert.deepEqual(v1.body, { name: 'mlp', version: '1', ready: true });
  });

  it('addresses versions by number, by alias, and by the default policy (prod alias, else the highest)', async () => {
    assert.equal(await inferLogits(s.url, '/v2/models/mlp/infer', V2), '2', 'without an alias the highest version serves');
    assert.equal(await inferLogits(s.url, '/v2/models/mlp/versions/1/infer', V1), '1');
    assert.equal(await inferLogits(s.url, '/v2/models/mlp/versions/2/infer', V2), '2');

    const put = await getJson(`${s.url}/api/models/mlp/aliases/canary`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: 1 }) });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(await inferLogits(s.url, '/v2/models/mlp/versions/canary/infer', V1), '1');
    const meta = await getJson(`${s.url}/v2/models/mlp/versions/canary`);
    assert.equal((meta.body as { version: string }).version, '1');
    const ready = await getJson(`${s.url}/v2/models/mlp/versions/canary/ready`);
    assert.deepEqual(ready.body, { name: 'mlp', version: '1', ready: true });

    const prod = await getJson(`${s.url}/api/models/mlp/aliases/prod`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: 1 }) });
    assert.equal(prod.status, 200, JSON.stringify(prod.body));
    assert.equal(await inferLogits(s.url, '/v2/models/mlp/infer', V1), '1', 'the prod alias decides unversioned requests');
    assert.equal(await inferLogits(s.url, '/v2/models/mlp/versions/latest/infer', V2), '2', '"latest" is always the highest version');
  });

  it('answers an unknown model, version or alias with 404 and {"error": ...} naming what is missing', async () => {
    assertV2Error(await getJson(`${s.url}/v2/models/nope`), 404, /model "nope" does not exist/);
    assertV2Error(await getJson(`${s.url}/v2/models/nope/ready`), 404, /model "nope" does not exist/);
    assertV2Error(await post(`${s.url}/v2/models/nope/infer`, inferBody(ROW, 1)), 404, /model "nope" does not exist/);
    assertV2Error(await getJson(`${s.url}/v2/models/mlp/versions/9`), 404, /model "mlp" has no version 9; its versions: 1, 2/);
    assertV2Error(await getJson(`${s.url}/v2/models/mlp/versions/9/ready`), 404, /no version 9/);
    assertV2Error(await post(`${s.url}/v2/models/mlp/versions/9/infer`, inferBody(ROW, 1)), 404, /no version 9/);
    assertV2Error(await getJson(`${s.url}/v2/models/mlp/versions/staging`), 404, /model "mlp" has no alias "staging"/);
    assertV2Error(await post(`${s.url}/v2/models/mlp/versions/staging/infer`, inferBody(ROW, 1)), 404, /no alias "staging"/);
    assertV2Error(await getJson(`${s.url}/v2/models/nope/stats`), 404, /model "nope" does not exist/);
  });

  it('answers a version that is neither a number nor an alias with 400', async () => {
    assertV2Error(await getJson(`${s.url}/v2/models/mlp/versions/0`), 400, /neither a version number .* nor an alias/);
    assertV2Error(await getJson(`${s.url}/v2/models/mlp/versions/Bad!`), 400, /neither a version number/);
  });
});

describe('V2 model repository extension', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
    await push(s, 'mlp', mlpModel(V1));
    await push(s, 'add', addModel());
  });
  after(() => s.close());

  type Row = { name: string; version: string; state: string; reason: string };
  const index = async (body?: unknown): Promise<Row[]> => {
    const r = await post(`${s.url}/v2/repository/index`, body);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as Row[];
  };
  const loaded = async () => sample(await (await fetch(`${s.url}/metrics`)).text(), 'ferry_models_loaded');

  it('lists models that are not loaded yet as UNAVAILABLE, with a reason', async () => {
    const rows = await index();
    assert.deepEqual(rows.map((r) => [r.name, r.version, r.state]), [['add', '1', 'UNAVAILABLE'], ['mlp', '1', 'UNAVAILABLE']]);
    for (const r of rows) assert.match(r.reason, /loads on first request/);
    assert.deepEqual(await index({ ready: true }), [], 'nothing is loaded yet');
    assert.deepEqual(await index({ ready: false }), rows, 'ready:false does not filter');
  });

  it('load makes a model READY, unload makes it UNAVAILABLE, and inference after unload loads it again', async () => {
    const load = await post(`${s.url}/v2/repository/models/mlp/load`);
    assert.equal(load.status, 200, JSON.stringify(load.body));
    assert.deepEqual(load.body, { name: 'mlp', version: '1', state: 'READY' });
    assert.deepEqual((await index()).map((r) => [r.name, r.state]), [['add', 'UNAVAILABLE'], ['mlp', 'READY']]);
    assert.deepEqual((await index({ ready: true })).map((r) => [r.name, r.version, r.state, r.reason]), [['mlp', '1', 'READY', '']]);
    assert.equal(await loaded(), 1);

    const unload = await post(`${s.url}/v2/repository/models/mlp/unload`);
    assert.equal(unload.status, 200, JSON.stringify(unload.body));
    assert.deepEqual(unload.body, { name: 'mlp', unloaded_versions: 1 });
    assert.deepEqual((await index()).map((r) => [r.name, r.state]), [['add', 'UNAVAILABLE'], ['mlp', 'UNAVAILABLE']]);
    assert.deepEqual(await index({ ready: true }), []);
    assert.equal(await loaded(), 0);

    assert.equal(await inferLogits(s.url, '/v2/models/mlp/infer', V1), '1');
    assert.deepEqual((await index({ ready: true })).map((r) => [r.name, r.state]), [['mlp', 'READY']]);
    assert.equal(await loaded(), 1);
  });

  it('rejects load and unload of an unknown model with 404, and a body that is not an object with 400', async () => {
    assertV2Error(await post(`${s.url}/v2/repository/models/nope/load`), 404, /model "nope" does not exist/);
    assertV2Error(await post(`${s.url}/v2/repository/models/nope/unload`), 404, /model "nope" does not exist/);
    assertV2Error(await getJson(`${s.url}/v2/repository/index`, { method: 'POST', body: '{"ready": tru' }), 400, /not valid JSON/);
    assertV2Error(await post(`${s.url}/v2/repository/index`, [1, 2]), 400, /must be a JSON object/);
  });
});

describe('V2 statistics extension and Prometheus metrics', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
    await push(s, 'mlp', mlpModel(V1));
    await push(s, 'add', addModel());
    const three = Float32Array.from({ length: 12 }, (_, i) => (i - 6) / 4);
    const r3 = await post(`${s.url}/v2/models/mlp/infer`, inferBody(three, 3));
    assert.equal(r3.status, 200);
    assertClose((r3.body as { outputs: { data: number[] }[] }).outputs[0]!.data, mlpReference(V1, three, 3));
    await inferLogits(s.url, '/v2/models/mlp/infer', V1);
  });
  after(() => s.close());

  interface Dur { count: number; ns: number }
  interface Stat {
    name: string; version: string; last_inference: number; inference_count: number; execution_count: number;
    inference_stats: Record<'success' | 'fail' | 'queue' | 'compute_input' | 'compute_infer' | 'compute_output', Dur>;
    batch_stats: { batch_size: number; compute_infer: Dur }[];
  }

  it('counts rows (inference_count) apart from executions, with cumulative nanoseconds per phase', async () => {
    const started = Date.now();
    const r = await getJson(`${s.url}/v2/models/mlp/stats`);
    assert.equal(r.status, 200);
    const [st, ...rest] = (r.body as { model_stats: Stat[] }).model_stats;
    assert.equal(rest.length, 0);
    assert.equal(st!.name, 'mlp');
    assert.equal(st!.version, '1');
    assert.equal(st!.inference_stats.success.count, 2);
    assert.equal(st!.inference_stats.fail.count, 0);
    assert.equal(st!.inference_count, 4, 'a request of 3 rows and one of 1 row');
    assert.equal(st!.execution_count, 2);
    for (const phase of ['success', 'queue', 'compute_infer'] as const) {
      assert.equal(st!.inference_stats[phase].count, 2);
      assert.ok(st!.inference_stats[phase].ns > 0, `${phase} ns should be > 0, got ${st!.inference_stats[phase].ns}`);
    }
    assert.ok(st!.inference_stats.success.ns >= st!.inference_stats.compute_infer.ns, 'a request takes at least its compute time');
    assert.deepEqual(st!.batch_stats.map((b) => [b.batch_size, b.compute_infer.count]), [[1, 1], [3, 1]]);
    assert.ok(st!.last_inference > started - 60_000 && st!.last_inference <= Date.now(), `last_inference ${st!.last_inference} is a recent ms timestamp`);
  });

  it('lists every model under /v2/models/stats, with zeros for one that has not served', async () => {
    const r = await getJson(`${s.url}/v2/models/stats`);
    assert.equal(r.status, 200);
    const stats = (r.body as { model_stats: Stat[] }).model_stats;
    assert.deepEqual(stats.map((x) => [x.name, x.version, x.inference_count, x.execution_count]).sort(), [['add', '1', 0, 0], ['mlp', '1', 4, 2]]);
    const add = stats.find((x) => x.name === 'add')!;
    assert.deepEqual(add.inference_stats.success, { count: 0, ns: 0 }, 'an idle model has the same fields as a busy one');
    assert.deepEqual(add.batch_stats, []);
    const one = await getJson(`${s.url}/v2/models/mlp/versions/1/stats`);
    assert.deepEqual((one.body as { model_stats: Stat[] }).model_stats.map((x) => x.inference_count), [4]);
  });

  it('exposes request counts, the batch size histogram, loaded models and process memory on /metrics', async () => {
    const res = await fetch(`${s.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    const mlp = { model: 'mlp', version: '1' };
    assert.equal(sample(text, 'ferry_inference_requests_total', { ...mlp, outcome: 'success' }), 2);
    assert.match(text, /# TYPE ferry_batch_size histogram/);
    assert.equal(sample(text, 'ferry_batch_size_count', mlp), 2);
    assert.equal(sample(text, 'ferry_batch_size_sum', mlp), 4);
    assert.equal(sample(text, 'ferry_batch_size_bucket', { ...mlp, le: '1' }), 1);
    assert.equal(sample(text, 'ferry_batch_size_bucket', { ...mlp, le: '2' }), 1);
    assert.equal(sample(text, 'ferry_batch_size_bucket', { ...mlp, le: '4' }), 2);
    assert.equal(sample(text, 'ferry_models_loaded'), 1);
    const rss = sample(text, 'ferry_process_resident_memory_bytes');
    assert.ok(rss !== undefined && rss > 10 * 1024 * 1024, `resident memory ${rss} should be a real number of bytes`);
    assert.ok((sample(text, 'ferry_nodejs_heap_size_used_bytes') ?? 0) > 0);
  });
});

describe('request ids', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
    await push(s, 'mlp', mlpModel(V1));
  });
  after(() => s.close());

  it('puts an x-request-id on every response, success or error, each one different', async () => {
    const calls: [string, RequestInit?][] = [
      ['/v2/health/live'], ['/v2/health/ready'], ['/v2'], ['/v2/models/mlp'], ['/v2/models/mlp/ready'], ['/v2/models/stats'], ['/metrics'],
      ['/v2/models/mlp/infer', { method: 'POST', body: JSON.stringify(inferBody(ROW, 1)) }],
      ['/v2/models/mlp/infer', { method: 'POST', body: '{"inputs": 1}' }],
      ['/v2/models/nope'], ['/no/such/route'], ['/api/models/nope'],
    ];
    const ids = new Set<string>();
    for (const [path, init] of calls) {
      const res = await fetch(`${s.url}${path}`, init);
      await res.arrayBuffer();
      const id = res.headers.get('x-request-id');
      assert.ok(id && /^[A-Za-z0-9._:-]+$/.test(id), `${path} (${res.status}) has no usable x-request-id: ${id}`);
      ids.add(id);
    }
    assert.equal(ids.size, calls.length, 'ids are unique');
  });

  it('echoes a client-supplied x-request-id, and replaces one that is not a safe token', async () => {
    const given = 'trace-7f3a.42:b_1';
    for (const [path, init] of [['/v2/health/ready', {}], ['/v2/models/mlp/infer', { method: 'POST', body: '{}' }]] as const) {
      const res = await fetch(`${s.url}${path}`, { ...init, headers: { 'x-request-id': given } });
      await res.arrayBuffer();
      assert.equal(res.headers.get('x-request-id'), given);
    }
    for (const bad of ['has space', 'x'.repeat(129), 'quote"d']) {
      const res = await fetch(`${s.url}/v2/health/live`, { headers: { 'x-request-id': bad } });
      await res.arrayBuffer();
      const id = res.headers.get('x-request-id');
      assert.ok(id && id !== bad && /^[A-Za-z0-9._:-]{1,128}$/.test(id), `got ${id}`);
    }
  });
});
