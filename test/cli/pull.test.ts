// `ferry models pull hf://ORG/NAME` against a Hugging Face–style hub on loopback that serves a
// Ferry-trained spam classifier exported in the HF layout: the download survives a dropped connection
// by resuming, is checked against the hub's sha256, lands in a cache a second pull reuses, and is
// registered and served; bad references, missing repos and files, refused tokens and corrupt files
// fail with messages that say what to do, and register nothing.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { advertised, inferTask, parseHubRef } from '../../src/cli/hub.js';
import { writeHfClassifier } from '../../src/text/hf-export.js';
import { runTraining } from '../../src/training/run.js';
import type { TrainSpec } from '../../src/training/spec.js';
import { ferry, freePort, ROOT } from '../helpers/cli.js';
import { startFakeHub, type FakeHub } from '../helpers/fake-hub.js';
import { startServer, type TestServer } from '../helpers/server.js';

// the tiny spam classifier of test/text/hf-export.test.ts: one epoch, a few seconds
const SPEC: TrainSpec = {
  name: 'tiny-spam', dataset: { type: 'spam-assassin', maxLength: 32, vocabSize: 600 },
  model: [{ type: 'TransformerEncoder', vocab: 600, maxLength: 32, dim: 16, heads: 2, layers: 1 }, { type: 'Linear', in: 16, out: 2 }],
  loss: 'crossEntropy', optimizer: { type: 'adamw', lr: 3e-3 }, epochs: 1, batchSize: 64, seed: 0,
};
const FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'];
const TOKEN = 'hf_test_Secret123';
// a token from the runner's shell must not change what these tests send
const NO_TOKEN = { HF_TOKEN: '', HUGGING_FACE_HUB_TOKEN: '', HF_ENDPOINT: '' };

describe('ferry models pull', () => {
  const temps: string[] = [];
  const temp = (prefix: string) => {
    const d = mkdtempSync(path.join(tmpdir(), prefix));
    temps.push(d);
    return d;
  };
  let model: string, noTokenizer: string, server: TestServer, hub: FakeHub;
  const cache = temp('ferry-pull-cache-');

  before(async () => {
    assert.ok(existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is missing: npm test builds it');
    model = temp('ferry-pull-model-');
    const result = await runTraining({ spec: SPEC, intraOpThreads: 1 });
    writeHfClassifier(model, { onnx: result.onnx, classes: result.record.classes!, tokenizer: result.tokenizer!, record: result.record });
    noTokenizer = temp('ferry-pull-broken-');
    cpSync(model, noTokenizer, { recursive: true });
    rmSync(path.join(noTokenizer, 'tokenizer.json'));
    server = await startServer();
    hub = await startFakeHub({ repos: { 'ferry/tiny-spam': model, 'ferry/no-tokenizer': noTokenizer }, revisions: ['main', 'v1'], token: TOKEN, dropFirst: 'onnx/model.onnx' });
  });
  after(async () => {
    await hub?.close();
    await server?.close();
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  });

  const models = async () => ((await (await fetch(`${server.url}/api/models`)).json()) as { models: { name: string; versions: number[] }[] }).models;

  it('downloads through a redirect, resumes a dropped connection, verifies and registers the model', async () => {
    const r = await ferry(['--url', server.url, 'models', 'pull', 'hf://ferry/tiny-spam', '--endpoint', hub.url, '--task', 'text-classification', '--cache', cache, '--name', 'pulled'], { env: { ...NO_TOKEN, HF_TOKEN: TOKEN } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^registered pulled version 1 \(\d+ bytes\) from hf:\/\/ferry\/tiny-spam@main as text-classification$/m);
    assert.ok(!`${r.stdout}${r.stderr}`.includes(TOKEN), 'the token is never printed');

    const onnx = readFileSync(path.join(model, 'onnx', 'model.onnx'));
    const cdn = hub.requests.filter((q) => q.server === 'cdn');
    assert.equal(cdn.length, 2, JSON.stringify(hub.requests));
    assert.equal(cdn[0]!.range, undefined);
    const from = Number(/^bytes=(\d+)-$/.exec(cdn[1]!.range ?? '')?.[1]);
    assert.ok(from > 0 && from <= onnx.length / 2, `the second request resumes where the first broke off, not from 0: ${cdn[1]!.range}`);
    assert.match(r.stderr, /onnx\/model\.onnx: connection dropped at .*; resuming/);
    assert.match(r.stderr, /onnx\/model\.onnx {2}[\d.]+ (kB|MB) {2}downloaded \(resumed at /);
    // the token goes to the hub on every request, never to the CDN it redirects to
    const viaHub = hub.requests.filter((q) => q.server === 'hub');
    assert.equal(viaHub.length, 5, 'three small files and model.onnx twice');
    for (const q of viaHub) assert.equal(q.authorization, `Bearer ${TOKEN}`);
    for (const q of cdn) assert.equal(q.authorization, undefined);

    const snapshot = path.join(cache, 'ferry', 'tiny-spam', 'main');
    for (const f of FILES) assert.ok(readFileSync(path.join(snapshot, f)).equals(readFileSync(path.join(model, f))), `${f} arrives byte for byte`);
    assert.ok(!existsSync(path.join(snapshot, 'onnx', 'model.onnx.part')));

    const texts = ['Meeting moved to Thursday, see the attached agenda', 'WIN a FREE vacation!!! Click here to claim your prize now'];
    const res = await fetch(`${server.url}/v1/classifications`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'pulled', input: texts }) });
    assert.equal(res.status, 200, await res.clone().text());
    const { data } = (await res.json()) as { data: { label: string; scores: Record<string, number> }[] };
    assert.equal(data.length, 2);
    for (const d of data) {
      assert.ok(['ham', 'spam'].includes(d.label), d.label);
      assert.ok(Math.abs(d.scores['ham']! + d.scores['spam']! - 1) < 1e-5);
    }
  });

  it('a second pull reads every file from the cache, and takes the task from config.json', async () => {
    const before = hub.requests.length;
    const r = await ferry(['--url', server.url, 'models', 'pull', 'hf://ferry/tiny-spam@main', '--endpoint', hub.url, '--cache', cache, '--name', 'pulled'], { env: { ...NO_TOKEN, HF_TOKEN: TOKEN } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(hub.requests.length, before, 'no request for a verified file');
    assert.equal(r.stderr.match(/ {2}cached$/gm)?.length, 4, r.stderr);
    assert.match(r.stdout, /registered pulled version 2 .* as text-classification$/m);
  });

  it('refuses a file whose sha256 is not the one the hub advertises, deletes it, and registers nothing', async () => {
    const bad = await startFakeHub({ repos: { 'ferry/tiny-spam': model }, wrongSha: 'onnx/model.onnx' });
    try {
      const c = temp('ferry-pull-cache-');
      const r = await ferry(['--url', server.url, 'models', 'pull', 'hf://ferry/tiny-spam', '--endpoint', bad.url, '--task', 'text-classification', '--cache', c, '--name', 'corrupt'], { env: NO_TOKEN });
      assert.equal(r.code, 1);
      const m = /integrity check failed for onnx\/model\.onnx: its sha256 is ([0-9a-f]{64}) but the hub says ([0-9a-f]{64}); the download was deleted/.exec(r.stderr);
      assert.ok(m, r.stderr);
      assert.notEqual(m[1], m[2]);
      const onnx = path.join(c, 'ferry', 'tiny-spam', 'main', 'onnx');
      assert.ok(!existsSync(path.join(onnx, 'model.onnx')) && !existsSync(path.join(onnx, 'model.onnx.part')));
      assert.ok(!(await models()).some((x) => x.name === 'corrupt'));
    } finally {
      await bad.close();
    }
  });

  it('says what is wrong with a missing repo, revision or file, a refused token, an unreachable hub or a bad reference', async () => {
    const c = temp('ferry-pull-cache-');
    const pull = (ref: string, env: Record<string, string> = {}, endpoint: string[] = ['--endpoint', hub.url]) =>
      ferry(['--url', server.url, 'models', 'pull', ref, ...endpoint, '--task', 'text-classification', '--cache', c, '--name', 'never'], { env: { ...NO_TOKEN, HF_TOKEN: TOKEN, ...env } });

    // HF_ENDPOINT stands in for --endpoint
    const repo = await pull('hf://ferry/nope', { HF_ENDPOINT: hub.url }, []);
    assert.equal(repo.code, 1);
    assert.match(repo.stderr, /repository ferry\/nope not found at http:\/\/127\.0\.0\.1:\d+ \(HTTP 404\)/);

    const rev = await pull('hf://ferry/tiny-spam@v9');
    assert.match(rev.stderr, /revision v9 not found in ferry\/tiny-spam/);

    const file = await pull('hf://ferry/no-tokenizer@v1');
    assert.equal(file.code, 1);
    assert.match(file.stderr, /ferry\/no-tokenizer@v1 has no tokenizer\.json at .*needs the Hugging Face ONNX layout \(config\.json, tokenizer\.json, tokenizer_config\.json and onnx\/model\.onnx\)/);
    assert.ok(!existsSync(path.join(c, 'ferry', 'no-tokenizer', 'v1', 'onnx')), 'stops before the big file');

    const noToken = await pull('hf://ferry/tiny-spam', { HF_TOKEN: '' });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /refused config\.json of ferry\/tiny-spam@main \(HTTP 401\); for a private or gated repository set HF_TOKEN/);

    const wrongToken = await pull('hf://ferry/tiny-spam', { HF_TOKEN: 'hf_wrong_Token' });
    assert.match(wrongToken.stderr, /HTTP 401\); the token in HF_TOKEN was sent/);
    assert.ok(!wrongToken.stderr.includes('hf_wrong_Token'));

    const down = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await pull('hf://ferry/tiny-spam', {}, ['--endpoint', down]);
    assert.equal(unreachable.code, 1);
    assert.ok(unreachable.stderr.includes(`cannot reach the hub at ${down} (set --endpoint or HF_ENDPOINT): ECONNREFUSED`), unreachable.stderr);

    for (const ref of ['hf://tiny-spam', 'ferry/tiny-spam', 'hf://ferry/../x', 'hf://ferry/tiny-spam@']) {
      const r = await pull(ref);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /expected hf:\/\/ORG\/NAME\[@REVISION\]/, ref);
    }
    assert.ok(!(await models()).some((x) => x.name === 'never'), 'nothing registered');
  });

  it('parses references, reads integrity headers and infers tasks', () => {
    assert.deepEqual(parseHubRef('hf://Xenova/bert-base-uncased'), { org: 'Xenova', name: 'bert-base-uncased', revision: 'main' });
    assert.deepEqual(parseHubRef('hf://a/b.c@refs/pr/1'), { org: 'a', name: 'b.c', revision: 'refs/pr/1' });
    assert.throws(() => parseHubRef('hf://a/b@../../etc'), /not a branch, tag or commit/);
    const sha = 'a'.repeat(64);
    // the redirect's linked headers win over the CDN's; a 206's size is the whole file's
    assert.deepEqual(advertised([new Headers({ 'x-linked-etag': `"${sha}"`, 'x-linked-size': '100' }), new Headers({ etag: '"abc-2"', 'content-length': '40' })]), { size: 100, sha256: sha });
    assert.deepEqual(advertised([new Headers({ etag: `W/"${sha.toUpperCase()}"`, 'content-length': '40', 'content-range': 'bytes 60-99/100' })]), { size: 100, sha256: sha });
    // a git blob ETag (sha1) is not a sha256: only the size is checked
    assert.deepEqual(advertised([new Headers({ etag: '"0123456789abcdef0123456789abcdef01234567"', 'content-length': '12' })]), { size: 12 });
    assert.equal(inferTask({ architectures: ['BertForSequenceClassification'] }), 'text-classification');
    assert.equal(inferTask({ architectures: ['XLMRobertaModel'] }), 'feature-extraction');
    assert.equal(inferTask({ architectures: ['BertForMaskedLM'] }), undefined);
    assert.equal(inferTask({}), undefined);
  });
});
