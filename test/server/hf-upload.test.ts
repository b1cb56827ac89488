// A Hugging Face model folder pushed over HTTP as a tar: packed on the server by the code the CLI
// runs, so it registers the same file `ferry models push DIR` would and serves the same scores; a
// sentence-transformers Pooling module picks the embedding; a bad archive registers nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeHfClassifier } from '../../src/text/hf-export.js';
import { packHfDirectory } from '../../src/text/hf-import.js';
import { runTraining } from '../../src/training/run.js';
import type { TrainSpec } from '../../src/training/spec.js';
import { clsVector, ENCODER_TEXTS, hfEncoder, poolingFiles, writeFolder } from '../fixtures/hf-encoder.js';
import { pushModel, startServer, tempDir, type TestServer } from '../helpers/server.js';

const SPEC: TrainSpec = {
  name: 'tiny-spam', dataset: { type: 'spam-assassin', maxLength: 32, vocabSize: 600 },
  model: [{ type: 'TransformerEncoder', vocab: 600, maxLength: 32, dim: 16, heads: 2, layers: 1 }, { type: 'Linear', in: 16, out: 2 }],
  loss: 'crossEntropy', optimizer: { type: 'adamw', lr: 3e-3 }, epochs: 1, batchSize: 64, seed: 0,
};
const TEXTS = ['Meeting moved to Thursday, see the attached agenda', 'WIN a FREE vacation!!! Click here to claim your prize now'];

interface Scored { data: { scores: Record<string, number> }[] }
interface ErrorBody { error: { code: string; message: string } }

describe('pushing a Hugging Face folder as a tar', () => {
  const dir = tempDir('ferry-hf-tar-');
  const spam = path.join(dir, 'spam-model');
  let s: TestServer;

  /** GNU tar's archive of `args` (relative to the temp folder) */
  const tar = (...args: string[]): Buffer => {
    const out = path.join(dir, `${Math.random().toString(36).slice(2)}.tar`);
    execFileSync('tar', ['-cf', out, ...args], { cwd: dir });
    return readFileSync(out);
  };
  const push = (name: string, body: Uint8Array, query: string, type = 'application/x-tar') =>
    fetch(`${s.url}/api/models/${name}/versions${query}`, { method: 'POST', body: Buffer.from(body), headers: { 'content-type': type } });
  const post = (p: string, body: unknown) => fetch(`${s.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  before(async () => {
    const result = await runTraining({ spec: SPEC, intraOpThreads: 1 });
    writeHfClassifier(spam, { onnx: result.onnx, classes: result.record.classes!, tokenizer: result.tokenizer! });
    s = await startServer();
  });
  after(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('registers the file `ferry models push DIR` registers, and serves its scores', async () => {
    const viaTar = await push('spam-tar', tar('spam-model'), '?task=text-classification');
    assert.equal(viaTar.status, 201, await viaTar.clone().text());
    const gz = path.join(dir, 'spam.tar.gz');
    execFileSync('tar', ['-czf', gz, '-C', spam, '.'], { cwd: dir });
    const viaGzip = await push('spam-gz', readFileSync(gz), '?task=text-classification', 'application/gzip');
    assert.equal(viaGzip.status, 201, await viaGzip.clone().text());
    const viaCli = await pushModel(s.url, 'spam-cli', packHfDirectory(spam, { task: 'text-classification' }));
    assert.equal(viaCli.status, 201);
    const [a, b, c] = (await Promise.all([viaTar, viaGzip, viaCli].map((r) => r.json()))) as { sha256: string }[];
    assert.equal(a!.sha256, c!.sha256, 'the same packed bytes');
    assert.equal(b!.sha256, c!.sha256);

    const scores = await Promise.all(['spam-tar', 'spam-gz', 'spam-cli'].map(async (model) => {
      const res = await post('/v1/classifications', { model, input: TEXTS });
      assert.equal(res.status, 200, await res.clone().text());
      return ((await res.json()) as Scored).data.map((d) => d.scores);
    }));
    assert.deepEqual(scores[0], scores[2]);
    assert.deepEqual(scores[1], scores[2]);
    assert.ok(scores[0]!.every((sc) => Math.abs(sc['ham']! + sc['spam']! - 1) < 1e-5));
  });

  it('applies the Pooling module of a sentence-transformers folder: cls gives the first token\'s vector', async () => {
    const encoder = hfEncoder();
    writeFolder(path.join(dir, 'encoder'), [...encoder.files, ...poolingFiles({ pooling_mode_cls_token: true })]);
    const res = await push('encoder', tar('encoder'), '?task=feature-extraction');
    assert.equal(res.status, 201, await res.clone().text());
    const emb = await post('/v1/embeddings', { model: 'encoder', input: ENCODER_TEXTS, encoding_format: 'float' });
    assert.equal(emb.status, 200, await emb.clone().text());
    const vectors = ((await emb.json()) as { data: { embedding: number[] }[] }).data.map((d) => d.embedding);
    ENCODER_TEXTS.forEach((text, i) => {
      const want = clsVector(encoder, text);
      vectors[i]!.forEach((v, k) => assert.ok(Math.abs(v - want[k]!) < 1e-5, `${text}[${k}]: ${v} served, ${want[k]} the [CLS] vector`));
    });
    assert.notDeepEqual(vectors[0], vectors[1], 'each text its own vector');
  });

  it('refuses bad archives with 400s that say what to send, and registers nothing', async () => {
    const before = ((await (await fetch(`${s.url}/api/models`)).json()) as { models: { name: string }[] }).models.length;
    const whole = tar('spam-model');
    symlinkSync('config.json', path.join(spam, 'linked.json'));
    const withLink = tar('spam-model');
    rmSync(path.join(spam, 'linked.json'));
    const escaping = tar('--transform', 's,^,../,', 'spam-model');
    rmSync(path.join(spam, 'tokenizer.json'));
    const noTokenizer = tar('spam-model');
    writeFileSync(path.join(dir, 'readme.txt'), 'not a model');
    const cases: [string, Uint8Array, string, RegExp, string?][] = [
      ['truncated', whole.subarray(0, 5000), '?task=text-classification', /the tar archive ends in the middle of a (file|header); the upload looks truncated/],
      ['symlink', withLink, '?task=text-classification', /holds a symbolic link, "spam-model\/linked\.json"; only regular files and folders/],
      ['traversal', escaping, '?task=text-classification', /'\.\.' component: "\.\.\/spam-model/],
      ['no tokenizer', noTokenizer, '?task=text-classification', /the archive has no tokenizer\.json; a Hugging Face model folder needs config\.json, tokenizer\.json/],
      ['no model', tar('readme.txt'), '?task=feature-extraction', /the archive has no config\.json/],
      ['no task', whole, '', /needs the query parameter "task"; send a tar of the folder with Content-Type: application\/x-tar and \?task=text-classification/],
      ['bad task', whole, '?task=translation', /"task" must be one of text-classification, feature-extraction; got "translation"/],
      ['bad truncation', whole, '?task=text-classification&truncation=yes', /"truncation" must be true or false/],
      ['not a tar', new TextEncoder().encode('{"hello": "world"}'.padEnd(700)), '?task=text-classification', /checksum does not match; it is not a tar file/],
      ['empty', new Uint8Array(0), '?task=text-classification', /the body is empty/],
      ['task for an .onnx body', whole, '?task=text-classification', /"task" and "truncation" apply to a Hugging Face model folder sent as a tar/, 'application/octet-stream'],
    ];
    for (const [what, body, query, message, type] of cases) {
      const res = await push('broken', body, query, type);
      assert.equal(res.status, 400, what);
      const err = (await res.json()) as ErrorBody;
      assert.equal(err.error.code, 'INVALID_ARGUMENT', what);
      assert.match(err.error.message, message, what);
    }
    assert.equal((await fetch(`${s.url}/api/models/broken`)).status, 404);
    const after = ((await (await fetch(`${s.url}/api/models`)).json()) as { models: unknown[] }).models.length;
    assert.equal(after, before, 'nothing registered');
  });

  it('holds a tar to maxUploadBytes, unpacked or not', async () => {
    const small = await startServer({ maxUploadBytes: 4096 });
    try {
      writeFileSync(path.join(dir, 'big.bin'), Buffer.alloc(20_000));
      const big = tar('big.bin');
      const gz = path.join(dir, 'big.tar.gz');
      execFileSync('tar', ['-czf', gz, 'big.bin'], { cwd: dir });
      for (const [body, type] of [[big, 'application/x-tar'], [readFileSync(gz), 'application/gzip']] as const) {
        const res = await fetch(`${small.url}/api/models/big/versions?task=text-classification`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': type } });
        assert.equal(res.status, 413, type);
        assert.match(((await res.json()) as ErrorBody).error.message, /limit of 4096 bytes; raise maxUploadBytes/);
      }
      assert.deepEqual(((await (await fetch(`${small.url}/api/models`)).json()) as { models: unknown[] }).models, []);
    } finally {
      await small.close();
    }
  });
});
