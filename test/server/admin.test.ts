// The admin API as a user drives it over HTTP: uploads (including broken and malicious ones), listing,
// deleting and aliases, against a real Ferry on loopback with real ONNX models.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mlpModel, mlpParams, mlpReference, type MlpParams } from '../fixtures/models.js';
import { pushModel, startServer, tempDir, type TestServer } from '../helpers/server.js';

const SMALL = { inputs: 6, hidden: 16, outputs: 3 };
const P1 = mlpParams({ ...SMALL, seed: 11 });
const P2 = mlpParams({ ...SMALL, seed: 22 });
const MLP1 = mlpModel(P1);
const MLP2 = mlpModel(P2);

// `any`: parsed JSON from the wire, checked field by field by the assertions.
interface Reply { status: number; body: any; connection?: string | null }

async function call(s: TestServer, method: string, url: string, body?: unknown): Promise<Reply> {
  const res = await fetch(`${s.url}${url}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Uploads raw bytes the way curl --data-binary does, with whatever content type the caller names. */
async function upload(s: TestServer, name: string, bytes: Uint8Array, contentType?: string, query = ''): Promise<Reply> {
  const res = await fetch(`${s.url}/api/models/${name}/versions${query}`, {
    method: 'POST', body: new Uint8Array(bytes), headers: contentType ? { 'content-type': contentType } : {},
  });
  return { status: res.status, body: await res.json(), connection: res.headers.get('connection') };
}

const rowOf = (p: MlpParams, seed: number, batch = 1) => Float32Array.from({ length: batch * p.inputs }, (_, i) => Math.sin(seed * 7 + i));

async function infer(s: TestServer, route: string, x: Float32Array, batch: number, inputs: number): Promise<Reply> {
  return call(s, 'POST', route, { inputs: [{ name: 'input', datatype: 'FP32', shape: [batch, inputs], data: Array.from(x) }] });
}

function assertClose(actual: readonly number[], expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-4, `${what}[${i}]: got ${v}, want ${expected[i]}`));
}

/** Every file under the data folder, relative to it: what "nothing left behind" compares. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .filter((f) => !f.startsWith('ferry.db')) // SQLite's WAL files change on reads too
    .sort();
}
const stagingOf = (s: TestServer) => {
  const dir = path.join(s.dataDir, 'artifacts', '.staging');
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

/** Polls `cond` with a live-probe round trip between tries (no sleeps); fails after `tries`. */
async function until(s: TestServer, cond: () => boolean | Promise<boolean>, what: string, tries = 2000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return;
    await (await fetch(`${s.url}/v2/health/live`)).arrayBuffer();
  }
  assert.fail(`timed out waiting for ${what}`);
}

function assertEnvelope(r: Reply, status: number, code: string, mentions?: RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body), ['error'], 'the envelope is {"error": {...}}');
  assert.deepEqual(Object.keys(r.body.error).sort(), ['code', 'message']);
  assert.equal(r.body.error.code, code);
  assert.equal(typeof r.body.error.message, 'string');
  if (mentions) assert.match(r.body.error.message, mentions);
}

describe('admin API: uploads', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  it('registers an uploaded file as version 1 with signature, sha256 and size', async () => {
    const r = await upload(s, 'first', MLP1, 'application/octet-stream');
    assert.equal(r.status, 201);
    assert.equal(r.body.model, 'first');
    assert.equal(r.body.version, 1);
    assert.equal(r.body.sizeBytes, MLP1.length);
    assert.match(r.body.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(r.body.signature, {
      inputs: [{ name: 'input', dtype: 'FP32', shape: [-1, SMALL.inputs] }],
      outputs: [{ name: 'logits', dtype: 'FP32', shape: [-1, SMALL.outputs] }],
    });
    assert.equal(r.body.artifactKey, undefined, 'where the file sits is not part of the API');
  });

  it('numbers a second push of the same model 2, and serves both versions', async () => {
    const a = await pushModel(s.url, 'twice', MLP1);
    const b = await pushModel(s.url, 'twice', MLP1);
    assert.deepEqual([a.status, b.status], [201, 201]);
    const [va, vb] = [await a.json(), await b.json()];
    assert.deepEqual([va.version, vb.version], [1, 2]);
    assert.equal(va.sha256, vb.sha256, 'same bytes, same hash');
    const x = rowOf(P1, 1, 2);
    for (const v of [1, 2]) {
      const r = await infer(s, `/v2/models/twice/versions/${v}/infer`, x, 2, SMALL.inputs);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.model_version, String(v));
      assert.deepEqual(r.body.outputs[0].shape, [2, SMALL.outputs]);
      assertClose(r.body.outputs[0].data, mlpReference(P1, x, 2), `version ${v}`);
    }
    // Same bytes, but each version owns its file: deleting one leaves the other servable.
    assert.equal((await call(s, 'DELETE', '/api/models/twice/versions/1')).status, 200);
    const left = await infer(s, '/v2/models/twice/versions/2/infer', x, 2, SMALL.inputs);
    assert.equal(left.status, 200, JSON.stringify(left.body));
    assertClose(left.body.outputs[0].data, mlpReference(P1, x, 2), 'version 2 after deleting version 1');
  });

  it("accepts curl's default content type (application/x-www-form-urlencoded) and no content type at all", async () => {
    const form = await upload(s, 'curl', MLP2, 'application/x-www-form-urlencoded');
    assert.equal(form.status, 201, JSON.stringify(form.body));
    const none = await upload(s, 'curl', MLP2);
    assert.equal(none.status, 201, JSON.stringify(none.body));
    assert.equal(form.body.sizeBytes, MLP2.length, 'the form parser did not touch the bytes');
    const x = rowOf(P2, 3);
    const r = await infer(s, '/v2/models/curl/versions/1/infer', x, 1, SMALL.inputs);
    assertClose(r.body.outputs[0].data, mlpReference(P2, x, 1), 'form-encoded upload');
  });

  it('stores ?config={"maxBatchSize":4} and applies it to requests', async () => {
    const r = await upload(s, 'capped', MLP1, 'application/octet-stream', `?config=${encodeURIComponent('{"maxBatchSize":4}')}`);
    assert.equal(r.status, 201);
    assert.deepEqual(r.body.config, { maxBatchSize: 4 });
    assert.deepEqual((await call(s, 'GET', '/api/models/capped/versions/1')).body.config, { maxBatchSize: 4 });
    const four = await infer(s, '/v2/models/capped/infer', rowOf(P1, 2, 4), 4, SMALL.inputs);
    assert.equal(four.status, 200);
    const five = await infer(s, '/v2/models/capped/infer', rowOf(P1, 2, 5), 5, SMALL.inputs);
    assert.equal(five.status, 400);
    assert.match(five.body.error, /maxBatchSize is 4/);
  });

  it('rejects an unknown config key with 400 naming it, and a config that is not JSON', async () => {
    const before = filesUnder(s.dataDir);
    const r = await upload(s, 'badcfg', MLP1, 'application/octet-stream', `?config=${encodeURIComponent('{"maxBatchSzie":4}')}`);
    assertEnvelope(r, 400, 'INVALID_ARGUMENT', /"maxBatchSzie"/);
    const notJson = await upload(s, 'badcfg', MLP1, 'application/octet-stream', '?config=maxBatchSize%3D4');
    assertEnvelope(notJson, 400, 'INVALID_ARGUMENT', /JSON object/);
    assert.equal((await call(s, 'GET', '/api/models/badcfg')).status, 404);
    assert.deepEqual(filesUnder(s.dataDir), before);
  });

  const broken: [string, () => Uint8Array, RegExp][] = [
    ['a corrupt', () => new TextEncoder().encode('this is not an onnx model, just some text that was uploaded by mistake'), /not a valid ONNX model/],
    ['a truncated', () => MLP1.subarray(0, Math.floor(MLP1.length / 2)), /cut off|ends early/],
    ['an empty', () => new Uint8Array(0), /empty/],
  ];
  for (const [what, bytes, message] of broken) {
    const name = what.split(' ')[1]!;
    it(`rejects ${what} file with 400 and leaves nothing behind`, async () => {
      const before = filesUnder(s.dataDir);
      const r = await upload(s, name, bytes(), 'application/octet-stream');
      assertEnvelope(r, 400, 'INVALID_ARGUMENT', message);
      assertEnvelope(await call(s, 'GET', `/api/models/${name}`), 404, 'NOT_FOUND');
      assert.deepEqual(filesUnder(s.dataDir), before, 'no new files under the data folder');
      assert.deepEqual(stagingOf(s), [], 'artifacts/.staging is empty');
    });
  }

  // The timeout guards against refused uploads leaving half-read keep-alive connections, which held
  // up close() until the client's idle timeout (72 s).
  it('refuses an upload over maxUploadBytes with 413, leaves nothing behind, and still closes promptly', { timeout: 20_000 }, async () => {
    const small = await startServer({ maxUploadBytes: 4096 });
    const big = mlpModel(); // 784x128x10: about 400 kB
    const r = await upload(small, 'big', big, 'application/octet-stream');
    assertEnvelope(r, 413, 'PAYLOAD_TOO_LARGE', /limit of 4096 bytes; raise maxUploadBytes/);
    assert.equal(r.connection, 'close', 'the connection with the unread rest of the body is not kept');
    const badName = await upload(small, '..%2Fbig', big, 'application/octet-stream');
    assertEnvelope(badName, 400, 'INVALID_ARGUMENT', /model name/);
    assert.equal(badName.connection, 'close');
    assert.deepEqual(filesUnder(small.dataDir), []);
    assert.equal((await call(small, 'GET', '/api/models/big')).status, 404);
    await small.close();
  });

  it('cleans up after a connection cut mid-upload and keeps serving', async () => {
    const before = filesUnder(s.dataDir);
    const { port } = new URL(s.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write('POST /api/models/cut/versions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n');
    socket.write(Buffer.alloc(50_000, 7));
    // Cut only once the server is writing the upload to staging, so the clean-up is what is tested.
    await until(s, () => stagingOf(s).length > 0, 'the upload to reach artifacts/.staging');
    socket.destroy();
    await until(s, () => stagingOf(s).length === 0, 'the staged part file to be removed');
    assertEnvelope(await call(s, 'GET', '/api/models/cut'), 404, 'NOT_FOUND');
    assert.deepEqual(filesUnder(s.dataDir), before);
    const ok = await pushModel(s.url, 'cut', MLP2);
    assert.equal(ok.status, 201, 'the same name can be pushed afterwards');
    const x = rowOf(P2, 4);
    assertClose((await infer(s, '/v2/models/cut/infer', x, 1, SMALL.inputs)).body.outputs[0].data, mlpReference(P2, x, 1), 'after the cut');
  });
});

describe('admin API: model names that try to escape the data folder', () => {
  let root: string, s: TestServer;
  before(async () => {
    // The data folder sits inside a folder of its own, so "nothing written outside" can be checked exactly.
    root = tempDir();
    mkdirSync(path.join(root, 'data'));
    s = await startServer({}, { dataDir: path.join(root, 'data') });
  });
  after(async () => {
    await s.close();
    rmSync(root, { recursive: true, force: true });
  });

  for (const name of ['..%2F..%2Fetc', '..%2F..%2F..%2Ftmp%2Fpwned', 'a%2Fb', '.x', '.hidden', 'a..b', '-x', 'a%00b', 'a%5Cb']) {
    it(`answers 400 to ${name} and writes nothing`, async () => {
      const before = filesUnder(root);
      const r = await upload(s, name, MLP1, 'application/octet-stream');
      assertEnvelope(r, 400, 'INVALID_ARGUMENT', /model name .* is not allowed/);
      assert.deepEqual(filesUnder(root), before);
      assert.deepEqual(readdirSync(root), ['data']);
      assert.deepEqual((await call(s, 'GET', '/api/models')).body.models, []);
    });
  }

  it('answers 400 to a 200-character name and writes nothing', async () => {
    const before = filesUnder(root);
    const r = await upload(s, 'x'.repeat(200), MLP1, 'application/octet-stream');
    assertEnvelope(r, 400, 'INVALID_ARGUMENT', /model name .* is not allowed: use 1 to 128/);
    assert.deepEqual(filesUnder(root), before);
    assert.deepEqual((await call(s, 'GET', '/api/models')).body.models, []);
  });
});

describe('admin API: reading, deleting and aliases', () => {
  let s: TestServer;
  const metric = async (line: RegExp) => ((await (await fetch(`${s.url}/metrics`)).text()).match(line)?.[1]);

  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  it('lists models, shows one with its versions, and shows one version', async () => {
    await pushModel(s.url, 'reader', MLP1);
    await pushModel(s.url, 'reader', MLP2);
    await pushModel(s.url, 'other', MLP1);
    const list = await call(s, 'GET', '/api/models');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.models.map((m: { name: string; versions: number[]; latestVersion: number; aliases: object }) => [m.name, m.versions, m.latestVersion, m.aliases]), [
      ['other', [1], 1, {}],
      ['reader', [1, 2], 2, {}],
    ]);

    // one request for every model's default version (the dashboard's playground picker)
    const served = await call(s, 'GET', '/api/models?include=served');
    assert.deepEqual(served.body.models.map((m: { name: string; served: { version: number; signature: object; artifactKey?: string } }) => [m.name, m.served.version, typeof m.served.signature, m.served.artifactKey]), [
      ['other', 1, 'object', undefined],
      ['reader', 2, 'object', undefined],
    ]);
    assertEnvelope(await call(s, 'GET', '/api/models?include=everything'), 400, 'INVALID_ARGUMENT', /"include" may only be "served"/);

    const one = await call(s, 'GET', '/api/models/reader');
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.versions.map((v: { version: number; loaded: boolean; sizeBytes: number }) => [v.version, v.loaded, v.sizeBytes]), [[1, false, MLP1.length], [2, false, MLP2.length]]);

    await infer(s, '/v2/models/reader/versions/2/infer', rowOf(P2, 1), 1, SMALL.inputs);
    const v2 = await call(s, 'GET', '/api/models/reader/versions/2');
    assert.equal(v2.status, 200);
    assert.equal(v2.body.version, 2);
    assert.equal(v2.body.loaded, true, 'serving a request loaded it');
    assert.equal(v2.body.artifactKey, undefined);
    assert.equal((await call(s, 'GET', '/api/models/reader/versions/latest')).body.version, 2);

    assertEnvelope(await call(s, 'GET', '/api/models/nope'), 404, 'NOT_FOUND', /"nope" does not exist/);
    assertEnvelope(await call(s, 'GET', '/api/models/reader/versions/9'), 404, 'NOT_FOUND', /no version 9; its versions: 1, 2/);
    assertEnvelope(await call(s, 'GET', '/api/models/reader/versions/-1'), 400, 'INVALID_ARGUMENT');
    assertEnvelope(await call(s, 'GET', '/api/nothing-here'), 404, 'NOT_FOUND', /no admin route GET \/api\/nothing-here/);
  });

  it('points aliases at versions, moves them, and serves through them', async () => {
    await pushModel(s.url, 'al', MLP1);
    await pushModel(s.url, 'al', MLP2);
    const set = await call(s, 'PUT', '/api/models/al/aliases/prod', { version: 1 });
    assert.equal(set.status, 200);
    assert.deepEqual(set.body, { model: 'al', alias: 'prod', version: 1, previous: null });
    assert.equal((await call(s, 'GET', '/api/models/al/versions/1')).body.loaded, true, 'the alias target is loaded before the alias points at it');

    const x = rowOf(P1, 5);
    const viaProd = await infer(s, '/v2/models/al/infer', x, 1, SMALL.inputs);
    assert.equal(viaProd.body.model_version, '1', 'unversioned requests follow prod, not the highest version');
    assertClose(viaProd.body.outputs[0].data, mlpReference(P1, x, 1), 'via prod');

    const moved = await call(s, 'PUT', '/api/models/al/aliases/prod', { version: '2' });
    assert.deepEqual(moved.body, { model: 'al', alias: 'prod', version: 2, previous: 1 });
    await call(s, 'PUT', '/api/models/al/aliases/canary', { version: 1 });
    assert.deepEqual((await call(s, 'GET', '/api/models/al')).body.aliases, { canary: 1, prod: 2 });
    assert.equal((await infer(s, '/v2/models/al/versions/canary/infer', x, 1, SMALL.inputs)).body.model_version, '1');
    assert.equal((await infer(s, '/v2/models/al/infer', x, 1, SMALL.inputs)).body.model_version, '2');

    const del = await call(s, 'DELETE', '/api/models/al/aliases/canary');
    assert.deepEqual(del.body, { model: 'al', alias: 'canary', deleted: true });
    assert.deepEqual((await call(s, 'GET', '/api/models/al')).body.aliases, { prod: 2 });
    assertEnvelope(await call(s, 'DELETE', '/api/models/al/aliases/canary'), 404, 'NOT_FOUND', /no alias "canary"/);
  });

  it('refuses bad aliases and versions without loading anything', async () => {
    await pushModel(s.url, 'strict', MLP1);
    assertEnvelope(await call(s, 'PUT', '/api/models/strict/aliases/prod', { version: 7 }), 404, 'NOT_FOUND', /no version 7/);
    assertEnvelope(await call(s, 'PUT', '/api/models/strict/aliases/latest', { version: 1 }), 400, 'INVALID_ARGUMENT', /"latest" is reserved/);
    assertEnvelope(await call(s, 'PUT', '/api/models/strict/aliases/Prod', { version: 1 }), 400, 'INVALID_ARGUMENT', /alias "Prod" is not allowed/);
    assertEnvelope(await call(s, 'PUT', '/api/models/strict/aliases/9lives', { version: 1 }), 400, 'INVALID_ARGUMENT', /alias "9lives" is not allowed/);
    assertEnvelope(await call(s, 'PUT', '/api/models/strict/aliases/prod', { version: 'stable' }), 400, 'INVALID_ARGUMENT', /not a version number/);
    assertEnvelope(await call(s, 'PUT', '/api/models/strict/aliases/prod', {}), 400, 'INVALID_ARGUMENT', /\{"version": N\}/);
    assertEnvelope(await call(s, 'PUT', '/api/models/ghost/aliases/prod', { version: 1 }), 404, 'NOT_FOUND', /"ghost" does not exist/);
    const m = (await call(s, 'GET', '/api/models/strict')).body;
    assert.deepEqual(m.aliases, {});
    assert.equal(m.versions[0].loaded, false, 'a rejected alias did not load the version');
  });

  it('deletes a version: its alias, its loaded instance and its file go with it', async () => {
    await pushModel(s.url, 'gone', MLP1);
    await pushModel(s.url, 'gone', MLP2);
    await call(s, 'PUT', '/api/models/gone/aliases/prod', { version: 1 });
    const x = rowOf(P1, 6);
    assert.equal((await infer(s, '/v2/models/gone/infer', x, 1, SMALL.inputs)).body.model_version, '1');
    const dir = path.join(s.dataDir, 'artifacts', 'models', 'gone');
    assert.equal(readdirSync(dir).length, 2);

    const r = await call(s, 'DELETE', '/api/models/gone/versions/1');
    assert.equal(r.status, 200);
    assert.equal(r.body.deleted.version, 1);
    assert.equal(r.body.deleted.sizeBytes, MLP1.length);
    assert.equal(r.body.deleted.artifactKey, undefined);
    const m = (await call(s, 'GET', '/api/models/gone')).body;
    assert.deepEqual([m.versions.map((v: { version: number }) => v.version), m.aliases], [[2], {}]);
    assert.equal(readdirSync(dir).length, 1, "version 1's file is gone");
    assert.equal(await metric(/ferry_model_unloads_total\{model="gone",version="1",reason="deleted"\} (\d+)/), '1');
    assertEnvelope(await call(s, 'GET', '/api/models/gone/versions/1'), 404, 'NOT_FOUND');
    assert.equal((await infer(s, '/v2/models/gone/versions/1/infer', x, 1, SMALL.inputs)).status, 404);
    // Without prod, unversioned requests go to the highest version that is left.
    const now = await infer(s, '/v2/models/gone/infer', x, 1, SMALL.inputs);
    assert.equal(now.body.model_version, '2');
    assertClose(now.body.outputs[0].data, mlpReference(P2, x, 1), 'version 2 after the delete');

    assertEnvelope(await call(s, 'DELETE', '/api/models/gone/versions/1'), 404, 'NOT_FOUND');
    assertEnvelope(await call(s, 'DELETE', '/api/models/gone/versions/prod'), 400, 'INVALID_ARGUMENT', /not a version number/);
  });

  it('deletes a whole model with every version and file', async () => {
    await pushModel(s.url, 'whole', MLP1);
    await pushModel(s.url, 'whole', MLP2);
    await infer(s, '/v2/models/whole/infer', rowOf(P2, 1), 1, SMALL.inputs);
    const r = await call(s, 'DELETE', '/api/models/whole');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.deleted.map((v: { version: number }) => v.version), [1, 2]);
    assertEnvelope(await call(s, 'GET', '/api/models/whole'), 404, 'NOT_FOUND');
    assert.ok(!(await call(s, 'GET', '/api/models')).body.models.some((m: { name: string }) => m.name === 'whole'));
    assert.deepEqual(readdirSync(path.join(s.dataDir, 'artifacts', 'models', 'whole')), []);
    assert.equal(await metric(/ferry_model_unloads_total\{model="whole",version="2",reason="deleted"\} (\d+)/), '1');
    assert.equal((await infer(s, '/v2/models/whole/infer', rowOf(P2, 1), 1, SMALL.inputs)).status, 404);
    assertEnvelope(await call(s, 'DELETE', '/api/models/whole'), 404, 'NOT_FOUND');

    assert.equal((await pushModel(s.url, 'whole', MLP1)).status, 201, 'the name can be used again');
  });
});
