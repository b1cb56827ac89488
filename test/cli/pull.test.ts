// `ferry models pull hf://ORG/NAME` against a Hugging Face–style hub on loopback that serves a
// Ferry-trained spam classifier exported in the HF layout: the download survives a dropped connection
// by resuming, is checked against the hub's sha256, lands in a cache keyed by the commit the revision
// names, which a second pull reuses, and is registered and served. When the hub moves `main` to a new
// commit the next pull fetches that commit; a commit sha needs no request at all; with the hub down a
// branch pulled before is served from the cache; two pulls at once share the cache through a lock.
// Bad references, missing repos and files, refused tokens and corrupt files fail with messages that
// say what to do, and register nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lockFolder } from '../../src/cli/hub-cache.js';
import { advertised, inferTask, parseHubRef } from '../../src/cli/hub.js';
import { writeHfClassifier } from '../../src/text/hf-export.js';
import { runTraining } from '../../src/training/run.js';
import type { TrainSpec } from '../../src/training/spec.js';
import { BIN, envWith, ferry, freePort, ROOT, type CliResult } from '../helpers/cli.js';
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
const TEXTS = ['Meeting moved to Thursday, see the attached agenda', 'WIN a FREE vacation!!! Click here to claim your prize now'];

/** One ONNX metadata_props entry (ModelProto field 14), which appended to a model gives other bytes and the same graph. */
function metadataProp(key: string, value: string): Buffer {
  const str = (field: number, s: string) => Buffer.concat([Buffer.from([(field << 3) | 2, Buffer.byteLength(s)]), Buffer.from(s)]);
  const entry = Buffer.concat([str(1, key), str(2, value)]);
  return Buffer.concat([Buffer.from([(14 << 3) | 2, entry.length]), entry]);
}

/** Every file under `dir`, as paths relative to it. */
const listFiles = (dir: string): string[] =>
  (readdirSync(dir, { recursive: true }) as string[]).filter((f) => statSync(path.join(dir, f)).isFile()).map((f) => f.split(path.sep).join('/')).sort();

/** Like `ferry()`, but `onStderr` sees what the command has written so far as it writes it. */
function ferryWatched(args: string[], env: Record<string, string>, onStderr: (soFar: string) => void): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { env: envWith(env), cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => onStderr((stderr += c.toString())));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('ferry models pull', () => {
  const temps: string[] = [];
  const temp = (prefix: string) => {
    const d = mkdtempSync(path.join(tmpdir(), prefix));
    temps.push(d);
    return d;
  };
  // model2: the same network with its labels the other way round and other bytes, as a later commit
  let model: string, model2: string, noTokenizer: string, server: TestServer, hub: FakeHub;
  const cache = temp('ferry-pull-cache-');

  before(async () => {
    assert.ok(existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is missing: npm test builds it');
    model = temp('ferry-pull-model-');
    const result = await runTraining({ spec: SPEC, intraOpThreads: 1 });
    writeHfClassifier(model, { onnx: result.onnx, classes: result.record.classes!, tokenizer: result.tokenizer!, record: result.record });
    model2 = temp('ferry-pull-model2-');
    writeHfClassifier(model2, { onnx: result.onnx, classes: [...result.record.classes!].reverse(), tokenizer: result.tokenizer!, record: result.record });
    appendFileSync(path.join(model2, 'onnx', 'model.onnx'), metadataProp('test.commit', '2'));
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
  /** The served model's scores for TEXTS, by label. */
  const scores = async (model: string) => {
    const res = await fetch(`${server.url}/v1/classifications`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, input: TEXTS }) });
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as { data: { scores: Record<string, number> }[] }).data.map((d) => d.scores);
  };
  const sameFiles = (dir: string, from: string) => {
    for (const f of FILES) assert.ok(readFileSync(path.join(dir, f)).equals(readFileSync(path.join(from, f))), `${f} in ${dir} is ${from}'s`);
  };

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
    assert.equal(viaHub.length, 6, 'the revision, three small files and model.onnx twice');
    for (const q of viaHub) assert.equal(q.authorization, `Bearer ${TOKEN}`);
    for (const q of cdn) assert.equal(q.authorization, undefined);
    // main is resolved to its commit first, and every file is fetched at that commit
    const sha = hub.head('ferry/tiny-spam');
    assert.match(r.stderr, new RegExp(`^main is commit ${sha}$`, 'm'));
    assert.equal(viaHub[0]!.path, '/api/models/ferry/tiny-spam/revision/main');
    for (const q of viaHub.slice(1)) assert.ok(q.path.startsWith(`/ferry/tiny-spam/resolve/${sha}/`), q.path);

    const snapshot = path.join(cache, 'ferry', 'tiny-spam', sha);
    sameFiles(snapshot, model);
    assert.deepEqual(listFiles(snapshot), [...FILES].sort(), 'no .part or lock left behind');
    assert.equal(readFileSync(path.join(cache, 'ferry', 'tiny-spam', 'refs', 'main'), 'utf8').trim(), sha);

    const texts = TEXTS;
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
    assert.deepEqual(hub.requests.slice(before).map((q) => `${q.method} ${q.path}`), ['GET /api/models/ferry/tiny-spam/revision/main'], 'where main is now, and no request for a verified file');
    assert.equal(r.stderr.match(/ {2}cached$/gm)?.length, 4, r.stderr);
    assert.match(r.stdout, /registered pulled version 2 .* as text-classification$/m);
  });

  it('after the hub moves main to a new commit, a pull fetches that commit and registers its model', async () => {
    const old = hub.head('ferry/tiny-spam');
    const sha = hub.commit('ferry/tiny-spam', model2);
    const before = hub.requests.length;
    const r = await ferry(['--url', server.url, 'models', 'pull', 'hf://ferry/tiny-spam', '--endpoint', hub.url, '--cache', cache, '--name', 'pulled'], { env: { ...NO_TOKEN, HF_TOKEN: TOKEN } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /registered pulled version 3 .* from hf:\/\/ferry\/tiny-spam@main as text-classification$/m);
    assert.match(r.stderr, new RegExp(`^main is commit ${sha}$`, 'm'));
    assert.equal(r.stderr.match(/ {2}downloaded$/gm)?.length, 4, r.stderr);
    const files = hub.requests.slice(before).filter((q) => q.server === 'hub' && q.path.includes('/resolve/'));
    assert.deepEqual(files.map((q) => q.path), FILES.map((f) => `/ferry/tiny-spam/resolve/${sha}/${f}`), 'every file from the one new commit');

    const repo = path.join(cache, 'ferry', 'tiny-spam');
    sameFiles(path.join(repo, sha), model2);
    sameFiles(path.join(repo, old), model);
    assert.equal(readFileSync(path.join(repo, 'refs', 'main'), 'utf8').trim(), sha);
    // the new commit names the classes the other way round: version 3's ham is version 1's spam
    const [v1, v3] = [await scores('pulled:1'), await scores('pulled:3')];
    for (const [i, s] of v3.entries()) {
      assert.ok(Math.abs(s['ham']! - v1[i]!['spam']!) < 1e-5 && Math.abs(s['spam']! - v1[i]!['ham']!) < 1e-5, JSON.stringify({ v1, v3 }));
    }
    assert.ok(Math.abs(v3[0]!['ham']! - v1[0]!['ham']!) > 1e-3, 'the two commits really score differently');
    const version = (await (await fetch(`${server.url}/api/models/pulled/versions/3`)).json()) as { metadata: { description?: string } };
    assert.equal(version.metadata.description, `pulled from hf://ferry/tiny-spam@main (commit ${sha}) at ${hub.url}`);
  });

  it('a commit sha that is in the cache is pulled without a single request to the hub', async () => {
    const old = path.basename(readdirSync(path.join(cache, 'ferry', 'tiny-spam')).find((d) => /^[0-9a-f]{40}$/.test(d) && d !== hub.head('ferry/tiny-spam'))!);
    const before = hub.requests.length;
    const r = await ferry(['--url', server.url, 'models', 'pull', `hf://ferry/tiny-spam@${old}`, '--endpoint', hub.url, '--cache', cache, '--name', 'pulled'], { env: { ...NO_TOKEN, HF_TOKEN: TOKEN } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(hub.requests.length, before, JSON.stringify(hub.requests.slice(before)));
    assert.equal(r.stderr.match(/ {2}cached$/gm)?.length, 4, r.stderr);
    assert.match(r.stdout, new RegExp(`registered pulled version 4 .* from hf://ferry/tiny-spam@${old} as text-classification$`, 'm'));
    assert.deepEqual(await scores('pulled:4'), await scores('pulled:1'), 'the old commit, not the one main names now');
  });

  it('with the hub out of reach, a branch pulled before is served from the commit it named then, and says so', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const sha = hub.head('ferry/tiny-spam');
    const r = await ferry(['--url', server.url, 'models', 'pull', 'hf://ferry/tiny-spam@main', '--endpoint', down, '--cache', cache, '--name', 'pulled'], { env: NO_TOKEN });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.includes(`cannot reach the hub at ${down} (set --endpoint or HF_ENDPOINT): ECONNREFUSED; using commit ${sha} from the cache, which main named at its last pull (the hub may have moved main since)`), r.stderr);
    assert.equal(r.stderr.match(/ {2}cached$/gm)?.length, 4, r.stderr);
    assert.match(r.stdout, /registered pulled version 5 .* from hf:\/\/ferry\/tiny-spam@main as text-classification$/m);
    assert.deepEqual(await scores('pulled:5'), await scores('pulled:3'));

    // a revision never pulled into this cache cannot be served offline
    const v1 = await ferry(['--url', server.url, 'models', 'pull', 'hf://ferry/tiny-spam@v1', '--endpoint', down, '--cache', cache, '--name', 'pulled'], { env: NO_TOKEN });
    assert.equal(v1.code, 1);
    assert.ok(v1.stderr.includes(`cannot reach the hub at ${down}`), v1.stderr);
  });

  it('a hub without the revision API: the commit comes from X-Repo-Commit on config.json', async () => {
    const mirror = await startFakeHub({ repos: { 'ferry/tiny-spam': model }, revisionApi: false });
    try {
      const c = temp('ferry-pull-cache-');
      const r = await ferry(['--url', server.url, 'models', 'pull', 'hf://ferry/tiny-spam', '--endpoint', mirror.url, '--task', 'text-classification', '--cache', c, '--name', 'mirrored'], { env: NO_TOKEN });
      assert.equal(r.code, 0, r.stderr);
      const sha = mirror.head('ferry/tiny-spam');
      assert.match(r.stderr, new RegExp(`^main is commit ${sha}$`, 'm'));
      const hubSide = mirror.requests.filter((q) => q.server === 'hub').map((q) => `${q.method} ${q.path}`);
      assert.deepEqual(hubSide, [
        'GET /api/models/ferry/tiny-spam/revision/main', 'HEAD /ferry/tiny-spam/resolve/main/config.json',
        ...FILES.map((f) => `GET /ferry/tiny-spam/resolve/${sha}/${f}`),
      ]);
      sameFiles(path.join(c, 'ferry', 'tiny-spam', sha), model);
    } finally {
      await mirror.close();
    }
  });

  it('a hub that names no commit: every cached file is checked with a HEAD, and one that changed is fetched again', async () => {
    const plain = await startFakeHub({ repos: { 'ferry/tiny-spam': model }, revisionApi: false, repoCommit: false });
    try {
      const c = temp('ferry-pull-cache-');
      const pull = () => ferry(['--url', server.url, 'models', 'pull', 'hf://ferry/tiny-spam', '--endpoint', plain.url, '--task', 'text-classification', '--cache', c, '--name', 'unpinned'], { env: NO_TOKEN });
      const dir = path.join(c, 'ferry', 'tiny-spam', 'unpinned', 'main');
      const first = await pull();
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /names no commit for main; checking the cached files against the hub/);
      sameFiles(dir, model);
      assert.ok(!existsSync(path.join(c, 'ferry', 'tiny-spam', 'refs')), 'no commit to remember');

      let before = plain.requests.length;
      const second = await pull();
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stderr.match(/ {2}cached$/gm)?.length, 4, second.stderr);
      const checks = plain.requests.slice(before).filter((q) => q.path.includes('/resolve/'));
      assert.deepEqual(checks.map((q) => `${q.server} ${q.method} ${q.path}`), ['config.json', ...FILES].map((f) => `hub HEAD /ferry/tiny-spam/resolve/main/${f}`), 'HEADs only, no body');

      plain.commit('ferry/tiny-spam', model2);
      before = plain.requests.length;
      const third = await pull();
      assert.equal(third.code, 0, third.stderr);
      // config.json (the labels) and model.onnx differ in the new commit; the tokenizer files do not
      assert.match(third.stderr, /^config\.json: not the same at the hub as in the cache; downloading it again$/m);
      assert.match(third.stderr, /^onnx\/model\.onnx: not the same at the hub as in the cache; downloading it again$/m);
      assert.equal(third.stderr.match(/ {2}cached$/gm)?.length, 2, third.stderr);
      assert.equal(plain.requests.slice(before).filter((q) => q.method === 'GET' && q.path.includes('/resolve/')).length, 2);
      sameFiles(dir, model2);
    } finally {
      await plain.close();
    }
  });

  it('two pulls of one model at once: the second waits for the first, and the cache holds verified files', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const hubGets = () => shared.requests.filter((q) => q.server === 'hub' && q.method === 'GET' && q.path.endsWith('/onnx/model.onnx')).length;
    // model.onnx's body is held until the other pull says it waits; a second download of it (no
    // lock) lets the bodies go too, so a broken lock fails the assertions below instead of hanging
    const shared: FakeHub = await startFakeHub({
      repos: { 'ferry/tiny-spam': model },
      hold: (q) => (q.server === 'cdn' ? released : hubGets() > 1 ? (release(), undefined) : undefined),
    });
    try {
      const c = temp('ferry-pull-cache-');
      const watch = (soFar: string) => {
        if (soFar.includes('waiting for another pull of ferry/tiny-spam')) release();
      };
      const pull = (name: string) => ferryWatched(['--url', server.url, 'models', 'pull', 'hf://ferry/tiny-spam', '--endpoint', shared.url, '--cache', c, '--name', name], NO_TOKEN, watch);
      const [a, b] = await Promise.all([pull('twin-a'), pull('twin-b')]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const [waited, fetched] = a.stderr.includes('waiting for another pull') ? [a, b] : [b, a];
      assert.match(waited.stderr, /waiting for another pull of ferry\/tiny-spam \(process \d+@.*\) to finish with .*; if none is running, delete .*\.lock$/m);
      assert.equal(waited.stderr.match(/ {2}cached$/gm)?.length, 4, waited.stderr);
      assert.equal(fetched.stderr.match(/ {2}downloaded$/gm)?.length, 4, fetched.stderr);
      assert.equal(shared.requests.filter((q) => q.server === 'cdn').length, 1, 'model.onnx downloaded once');
      assert.match(a.stdout, /registered twin-a version 1 /);
      assert.match(b.stdout, /registered twin-b version 1 /);

      const sha = shared.head('ferry/tiny-spam');
      const snapshot = path.join(c, 'ferry', 'tiny-spam', sha);
      sameFiles(snapshot, model);
      assert.deepEqual(listFiles(path.join(c, 'ferry', 'tiny-spam')), ['refs/main', ...FILES.map((f) => `${sha}/${f}`)].sort(), 'no .part, lock or temporary file left');
      assert.deepEqual(await scores('twin-a'), await scores('twin-b'));
    } finally {
      await shared.close();
    }
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
      const snapshot = path.join(c, 'ferry', 'tiny-spam', bad.head('ferry/tiny-spam'));
      assert.deepEqual(listFiles(snapshot), ['config.json', 'tokenizer.json', 'tokenizer_config.json'], 'no model.onnx, .part or lock left');
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
    assert.deepEqual(listFiles(path.join(c, 'ferry', 'no-tokenizer')), [`${hub.head('ferry/no-tokenizer', 'v1')}/config.json`], 'stops before the big file, remembers no ref');

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

  it('a lock left by a pull that was killed is removed; a live one is waited for', async () => {
    const dir = temp('ferry-pull-lock-'), file = path.join(dir, '.lock');
    const gone = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) => gone.once('exit', () => resolve(gone.pid!)));
    writeFileSync(file, `${deadPid}@${hostname()}`);
    const waits: string[] = [];
    const lock = await lockFolder(dir, (holder) => waits.push(holder));
    assert.equal(waits.length, 0, 'a dead pid is not waited for');
    assert.equal(readFileSync(file, 'utf8'), `${process.pid}@${hostname()}`);
    lock.release();
    assert.deepEqual(readdirSync(dir), []);

    // held by a live process (this one's parent): waited for until it lets go
    writeFileSync(file, `${process.ppid}@${hostname()}`);
    const again = await lockFolder(dir, (holder, lockFile) => {
      waits.push(holder);
      rmSync(lockFile);
    });
    assert.deepEqual(waits, [`${process.ppid}@${hostname()}`]);
    again.release();
    assert.deepEqual(readdirSync(dir), []);
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
